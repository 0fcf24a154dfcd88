// Issue 15 defect 5: a flood of bad keys from one client no longer grows the audit log
// by one entry per request. 100 requests with the same unknown key from one address:
// the first 30 are refused 401, the rest 429 with Retry-After before any key lookup;
// the first few `security:api-key-denied` entries are written at once, the rest are counted
// and written as one entry with the count when the window closes (here: at shutdown), so
// the counts add up to every request; the burst alert is raised once, as before. A key
// the database confirmed shortly before (a client behind the same address) still passes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { AUDIT_WRITE_QUEUE, type AuditWriteJob } from '../../../lib/contracts/audit.js';
import { startApi, type ApiHarness } from '../../helpers/api.js';
import { REDIS_URL, waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { superuserQuery } from '../../helpers/db.js';
import { SOURCE_DENIAL_LIMIT, WRITTEN_PER_WINDOW } from '../../../api/denial-digest.js';

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
  ).rows as Array<{ reason: string; metadata: { count: number; aggregated?: boolean } }>;

test('100 bad-key requests from one address: 30 refused 401, then 429 before authentication; entries bounded, counts complete', async () => {
  const key = `bwk_FLOOD${'z'.repeat(38)}`;
  const { adminKey: neighbourKey } = await api.tenant('flood-neighbour');
  assert.is((await api.call('GET', '/v1/audit', { key: neighbourKey })).status, 200, 'the neighbour, before the flood');
  const statuses: number[] = [];
  for (let i = 0; i < 100; i++) {
    const res = await api.call('GET', '/v1/audit', { key });
    statuses.push(res.status);
    if (res.status === 429) assert.ok(Number(res.headers.get('retry-after')) > 0, 'Retry-After');
    await res.arrayBuffer();
  }
  assert.equal(statuses.slice(0, SOURCE_DENIAL_LIMIT), Array(SOURCE_DENIAL_LIMIT).fill(401));
  assert.equal(statuses.slice(SOURCE_DENIAL_LIMIT), Array(100 - SOURCE_DENIAL_LIMIT).fill(429));
  // A valid key the database has not confirmed lately waits: the throttle comes before
  // authentication (each new key would cost a lookup)...
  const { adminKey } = await api.tenant('flood-victim');
  assert.is((await api.call('GET', '/v1/audit', { key: adminKey })).status, 429);
  // ...but one it confirmed shortly before passes, without a denial.
  const neighbour = await api.call('GET', '/v1/audit', { key: neighbourKey });
  assert.is(neighbour.status, 200, 'a known good key from the throttled address');

  const bursts = await waitFor(async () => {
    const r = await superuserQuery(
      api.db.url,
      `SELECT metadata->>'subject' AS subject FROM audit_entries WHERE action = 'security:api-key-denial-burst' ORDER BY subject`,
    );
    return r.rows.length >= 2 ? r.rows.map((x) => x.subject as string) : undefined;
  }, 'the burst entries');
  assert.equal(
    bursts,
    ['ip', 'key'],
    'the burst alert is raised once per subject (the address, the key prefix), as before',
  );
  const written = 2 * WRITTEN_PER_WINDOW + 1;
  await waitFor(async () => (await deniedEntries()).length >= written || undefined, 'the first entries of the window');
  const during = await deniedEntries();
  // The first few at once per key prefix and reason: the flood's key (unknown, then throttled), the valid key (throttled).
  assert.is(during.length, written, 'the first few of each subject, one by one');
  assert.ok(during.every((e) => e.metadata.count === 1));
  assert.equal([...new Set(during.map((e) => e.reason))].sort(), ['throttled', 'unknown']);

  // Shutdown closes the windows: one more entry per reason, with the count of the rest.
  await api.bulwark.stop();
  const queue = new Queue<AuditWriteJob>(AUDIT_WRITE_QUEUE, {
    connection: redis,
    prefix: api.bulwark.ctx.config.queuePrefix,
  });
  try {
    const jobs = await queue.getJobs(['waiting', 'prioritized', 'delayed']);
    const counted = jobs.flatMap((j) => j.data.entries).filter((e) => e.action === 'security:api-key-denied');
    const totals = new Map<string, number>();
    for (const e of [
      ...during.map((d) => ({ reason: d.reason, count: d.metadata.count })),
      ...counted.map((e) => ({ reason: e.reason!, count: (e.metadata as { count: number }).count })),
    ]) {
      totals.set(e.reason, (totals.get(e.reason) ?? 0) + e.count);
    }
    assert.equal(
      Object.fromEntries(totals),
      { unknown: SOURCE_DENIAL_LIMIT, throttled: 100 - SOURCE_DENIAL_LIMIT + 1 },
      'every denial accounted for',
    );
    assert.ok(counted.every((e) => (e.metadata as { aggregated?: boolean }).aggregated === true));
    assert.is(
      counted.length,
      2,
      'one more entry for each subject denied more than once (the flood key: unknown, then throttled)',
    );
  } finally {
    await queue.close();
  }
});

test.run();
