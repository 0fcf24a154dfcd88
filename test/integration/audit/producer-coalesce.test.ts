// audit.write calls of one event-loop turn share a job; a bad entry fails alone and
// nothing of it is enqueued; coalescing can be turned off.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { AUDIT_MAX_JOB_BYTES, AUDIT_WRITE_QUEUE } from '../../../lib/contracts/audit.js';
import { ValidationError } from '../../../lib/errors.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { randomPrefix, REDIS_URL } from '../../helpers/env.js';
import { entry } from '../../helpers/fixtures.js';
import { obliterateQueues } from '../../helpers/queues.js';

const tenant = '6f1c2a4e-0000-4000-8000-0000000000aa';
const prefixes: string[] = [];
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });

/** The audit jobs added: fair dispatch gives a tenant's jobs after its first a priority (prioritized, not waiting). */
async function jobsOf(prefix: string) {
  const q = new Queue(AUDIT_WRITE_QUEUE, { connection: redis, prefix });
  try {
    return await q.getJobs(['waiting', 'prioritized']);
  } finally {
    await q.close();
  }
}

test.after(async () => {
  for (const p of prefixes) await obliterateQueues(p);
  await redis.quit();
});

/** A producer on a fresh queue prefix (removed after the file), closed after fn. */
async function withProducer(
  fn: (producer: Producer, prefix: string) => Promise<void>,
  options: { coalesceWrites?: boolean; fair?: boolean } = {},
): Promise<void> {
  const prefix = randomPrefix('coalesce');
  prefixes.push(prefix);
  const producer = createProducer({ queuePrefix: prefix, ...options });
  try {
    await fn(producer, prefix);
  } finally {
    await producer.close();
  }
}

test('writes made together share one job; each gets its own eventId', async () => {
  await withProducer(async (producer, prefix) => {
    const results = await Promise.all(Array.from({ length: 50 }, () => producer.audit.write(entry(tenant))));
    assert.is(new Set(results.map((r) => r.jobId)).size, 1);
    assert.is(new Set(results.map((r) => r.eventId)).size, 50);
    const jobs = await jobsOf(prefix);
    assert.is(jobs.length, 1);
    assert.is(jobs[0]!.data.entries.length, 50);
  });
});

test('a bad entry among coalesced writes fails alone', async () => {
  await withProducer(async (producer, prefix) => {
    const outcomes = await Promise.allSettled([
      producer.audit.write(entry(tenant)),
      producer.audit.write({ ...entry(tenant), actorType: 'robot' as never }),
      producer.audit.write(entry(tenant)),
    ]);
    assert.equal(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.instance((outcomes[1] as PromiseRejectedResult).reason, ValidationError);
    const jobs = await jobsOf(prefix);
    assert.is(
      jobs.reduce((n, j) => n + j.data.entries.length, 0),
      2,
    );
  });
});

test('with coalesceWrites false every write is its own job', async () => {
  await withProducer(
    async (producer) => {
      const results = await Promise.all(Array.from({ length: 5 }, () => producer.audit.write(entry(tenant))));
      assert.is(new Set(results.map((r) => r.jobId)).size, 5);
    },
    { coalesceWrites: false },
  );
});

/** An entry of about 100 KB of JSON (two 50 KB states, within their 64 KB limits). */
const bulky = () => entry(tenant, { before: { blob: 'b'.repeat(50_000) }, after: { blob: 'a'.repeat(50_000) } });

test('coalesced writes are split so that no job carries more than AUDIT_MAX_JOB_BYTES', async () => {
  // Without fair dispatch every job goes straight to the wait list, where this reads them
  // all; with it (below) the tenant's later jobs are parked or prioritized.
  await withProducer(
    async (producer, prefix) => {
      const results = await Promise.all(Array.from({ length: 100 }, () => producer.audit.write(bulky())));
      assert.is(new Set(results.map((r) => r.eventId)).size, 100);
      const jobs = await jobsOf(prefix);
      assert.ok(jobs.length >= 3, `100 entries of ~100 KB need at least 3 jobs of 4 MiB, got ${jobs.length}`);
      assert.is(
        jobs.reduce((n, j) => n + j.data.entries.length, 0),
        100,
        'every entry is in a job',
      );
      for (const j of jobs)
        assert.ok(Buffer.byteLength(JSON.stringify(j.data.entries)) <= AUDIT_MAX_JOB_BYTES, `job ${j.id} is too large`);
    },
    { fair: false },
  );
});

test('with fair dispatch, coalesced writes are split the same way', async () => {
  await withProducer(async (producer) => {
    const results = await Promise.all(Array.from({ length: 100 }, () => producer.audit.write(bulky())));
    assert.is(new Set(results.map((r) => r.eventId)).size, 100);
    const jobs = new Set(results.map((r) => r.jobId)).size;
    assert.ok(jobs >= 3, `100 entries of ~100 KB need at least 3 jobs of 4 MiB, got ${jobs}`);
  });
});

test('writeMany over AUDIT_MAX_JOB_BYTES is refused whole, naming the size and the limit', async () => {
  await withProducer(async (producer, prefix) => {
    const err = await producer.audit.writeMany(Array.from({ length: 50 }, bulky)).catch((e: unknown) => e);
    assert.instance(err, ValidationError);
    assert.match(
      (err as ValidationError).message,
      new RegExp(`more than the ${AUDIT_MAX_JOB_BYTES} one job may carry`),
    );
    assert.is((await jobsOf(prefix)).length, 0, 'nothing is enqueued');
    const ok = await producer.audit.writeMany(Array.from({ length: 30 }, bulky));
    assert.is(ok.eventIds.length, 30, '30 such entries (about 3 MB) fit');
  });
});

test.run();
