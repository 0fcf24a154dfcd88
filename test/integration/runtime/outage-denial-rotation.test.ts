// Issue 15 defect 5, found again by the chaos harness's auth attack: a client that sends
// a new unknown key with every request opened a new digest subject (address, key
// prefix, reason) each time, so every request still wrote an entry (279 for 360). Entries
// are now bounded per source address group too: SOURCE_WRITTEN_PER_WINDOW one by one, then
// counted; the counts of all entries still add up to every refused request.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { AUDIT_WRITE_QUEUE, type AuditWriteJob } from '../../../lib/contracts/audit.js';
import { startApi, type ApiHarness } from '../../helpers/api.js';
import { REDIS_URL, waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { superuserQuery } from '../../helpers/db.js';
import { SOURCE_DENIAL_LIMIT, SOURCE_WRITTEN_PER_WINDOW } from '../../../api/denial-digest.js';

const REQUESTS = 60;
let api: ApiHarness;
let redis: Redis;

test.before(
  setup(async () => {
    api = await startApi();
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  }),
);

test.after(
  cleanup([
    ['close api', () => api?.close()],
    ['quit redis', () => redis?.quit()],
  ]),
);

const deniedEntries = async () =>
  (
    await superuserQuery(
      api.db.url,
      `SELECT reason, metadata FROM audit_entries WHERE action = 'security:api-key-denied' ORDER BY seq`,
    )
  ).rows as Array<{ reason: string; metadata: { count: number; aggregated?: boolean; aggregated_by?: string } }>;

test(`${REQUESTS} requests from one address, each with a new unknown key: entries bounded per source, counts complete`, async () => {
  const statuses: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const key = `bwk_ROT${String(i).padStart(4, '0')}${'q'.repeat(36)}`;
    const res = await api.call('GET', '/v1/audit', { key });
    statuses.push(res.status);
    await res.arrayBuffer();
  }
  assert.equal(statuses.slice(0, SOURCE_DENIAL_LIMIT), Array(SOURCE_DENIAL_LIMIT).fill(401));
  assert.equal(statuses.slice(SOURCE_DENIAL_LIMIT), Array(REQUESTS - SOURCE_DENIAL_LIMIT).fill(429));

  await waitFor(
    async () => (await deniedEntries()).length >= SOURCE_WRITTEN_PER_WINDOW || undefined,
    'the first entries of the source',
  );
  await new Promise((r) => setTimeout(r, 500));
  const during = await deniedEntries();
  assert.is(during.length, SOURCE_WRITTEN_PER_WINDOW, 'one by one up to the source budget, no more');
  assert.ok(during.every((e) => e.metadata.count === 1));

  // Shutdown closes the windows: the source's count of the rest (and nothing else: no
  // subject past the budget was denied twice).
  await api.bulwark.stop();
  const queue = new Queue<AuditWriteJob>(AUDIT_WRITE_QUEUE, {
    connection: redis,
    prefix: api.bulwark.ctx.config.queuePrefix,
  });
  try {
    const jobs = await queue.getJobs(['waiting', 'prioritized', 'delayed']);
    const counted = jobs.flatMap((j) => j.data.entries).filter((e) => e.action === 'security:api-key-denied');
    const total = [
      ...during.map((d) => d.metadata.count),
      ...counted.map((e) => (e.metadata as { count: number }).count),
    ];
    assert.is(
      total.reduce((a, b) => a + b, 0),
      REQUESTS,
      'every refused request accounted for',
    );
    assert.ok(counted.length >= 1, 'the rest counted');
    assert.ok(
      counted.some((e) => (e.metadata as { aggregated_by?: string }).aggregated_by === 'source'),
      'one entry counts what the source sent past its budget',
    );
  } finally {
    await queue.close();
  }
});

test.run();
