// audit.write calls of one event-loop turn share a job; a bad entry fails alone and
// nothing of it is enqueued; coalescing can be turned off.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { AUDIT_WRITE_QUEUE } from '../../lib/contracts/audit.js';
import { ValidationError } from '../../lib/errors.js';
import { createProducer } from '../../producers/index.js';
import { randomPrefix, REDIS_URL } from '../helpers/env.js';
import { entry } from '../helpers/fixtures.js';
import { obliterateQueues } from '../helpers/queues.js';

const tenant = '6f1c2a4e-0000-4000-8000-0000000000aa';
const prefixes: string[] = [];
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });

async function jobsOf(prefix: string) {
  const q = new Queue(AUDIT_WRITE_QUEUE, { connection: redis, prefix });
  try {
    return await q.getJobs(['waiting']);
  } finally {
    await q.close();
  }
}

test.after(async () => {
  for (const p of prefixes) await obliterateQueues(p);
  await redis.quit();
});

test('writes made together share one job; each gets its own eventId', async () => {
  const prefix = randomPrefix('coalesce');
  prefixes.push(prefix);
  const producer = createProducer({ queuePrefix: prefix });
  try {
    const results = await Promise.all(Array.from({ length: 50 }, () => producer.audit.write(entry(tenant))));
    assert.is(new Set(results.map((r) => r.jobId)).size, 1);
    assert.is(new Set(results.map((r) => r.eventId)).size, 50);
    const jobs = await jobsOf(prefix);
    assert.is(jobs.length, 1);
    assert.is(jobs[0]!.data.entries.length, 50);
  } finally {
    await producer.close();
  }
});

test('a bad entry among coalesced writes fails alone', async () => {
  const prefix = randomPrefix('coalesce');
  prefixes.push(prefix);
  const producer = createProducer({ queuePrefix: prefix });
  try {
    const outcomes = await Promise.allSettled([producer.audit.write(entry(tenant)), producer.audit.write({ ...entry(tenant), actorType: 'robot' as never }), producer.audit.write(entry(tenant))]);
    assert.equal(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.instance((outcomes[1] as PromiseRejectedResult).reason, ValidationError);
    const jobs = await jobsOf(prefix);
    assert.is(jobs.reduce((n, j) => n + j.data.entries.length, 0), 2);
  } finally {
    await producer.close();
  }
});

test('with coalesceWrites false every write is its own job', async () => {
  const prefix = randomPrefix('coalesce');
  prefixes.push(prefix);
  const producer = createProducer({ queuePrefix: prefix, coalesceWrites: false });
  try {
    const results = await Promise.all(Array.from({ length: 5 }, () => producer.audit.write(entry(tenant))));
    assert.is(new Set(results.map((r) => r.jobId)).size, 5);
  } finally {
    await producer.close();
  }
});

test.run();
