// Fair dispatch (lib/fair/) against the shared Redis, without workers: a job is added
// at once while there is room and nobody is parked, parked otherwise; parked jobs are
// released by deficit round robin over the tenants (by cost: entries for audit-write),
// within each tenant's maxRunning and rate and the queue's window; finishing frees the
// slot; a claim never acked is handed out again; nothing is lost or added twice.
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { AUDIT_WRITE_QUEUE, auditWriteQueue } from '../../../lib/contracts/audit.js';
import { createFairDispatcher, type FairDispatcher } from '../../../lib/fair/dispatcher.js';
import { fairKindOf } from '../../../lib/fair/kinds.js';
import { fairScript } from '../../../lib/fair/script.js';
import { REDIS_URL, randomPrefix, waitFor } from '../../helpers/env.js';
import { cleanup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';

const A = randomUUID();
const B = randomUUID();
const C = randomUUID();
let redis: Redis;
let prefix: string;
let queue: Queue;
let fair: FairDispatcher;

const job = (entries: number) => ({
  name: 'write',
  data: { v: 1, n: entries },
  opts: { jobId: randomUUID(), attempts: 1, removeOnComplete: { count: 10 }, removeOnFail: { count: 10 } },
});
const part = (tenant: string, entries: number) => ({
  queue: AUDIT_WRITE_QUEUE,
  tenant,
  job: job(entries),
  cost: entries,
});
const meta = () => fair.script(AUDIT_WRITE_QUEUE).keys[6]!;
const limits = () => fair.script(AUDIT_WRITE_QUEUE).keys[7]!;
/** Tenants of the jobs waiting in BullMQ, in the order workers take them: wait list, then prioritized. */
async function waiting(): Promise<string[]> {
  const wait = await queue.getJobs(['wait'], 0, -1, true);
  const prioritized = await queue.getJobs(['prioritized'], 0, -1, true);
  return [...wait, ...prioritized].map((j) => (j.data as { t: string }).t);
}
/** The ids of the jobs waiting in BullMQ (wait list and prioritized). */
const waitingIds = async () => (await queue.getJobs(['waiting', 'prioritized'], 0, -1)).map((j) => String(j.id));

test.before.each(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  prefix = randomPrefix('fair');
  queue = new Queue(AUDIT_WRITE_QUEUE, { connection: redis, prefix });
  fair = createFairDispatcher({ redis, queuePrefix: prefix, queues: new Map([[auditWriteQueue, queue]]) });
});

test.after.each(
  cleanup([
    ['settle', () => fair?.settle()],
    ['close queue', () => queue?.close()],
    ['obliterate', () => obliterateQueues(prefix)],
    ['quit', () => redis?.quit()],
  ]),
);

const tagged = (tenant: string, entries: number) => {
  const p = part(tenant, entries);
  (p.job.data as Record<string, unknown>).t = tenant;
  return p;
};

test('with room and nobody parked a job is added at once; past the window it is parked, then released as slots free', async () => {
  await redis.hset(meta(), 'window', 2000);
  assert.is(await fair.enqueue(tagged(A, 1000)), 'added');
  assert.is(await fair.enqueue(tagged(A, 1000)), 'added');
  assert.is(await fair.enqueue(tagged(A, 1000)), 'parked');
  await fair.settle();
  assert.is(await queue.count(), 2);
  fair.finished(AUDIT_WRITE_QUEUE, (await waitingIds())[0]!);
  await fair.settle();
  await waitFor(async () => (await queue.count()) === 3, 'the parked job to be released');
  const stats = await fair.script(AUDIT_WRITE_QUEUE).stats();
  assert.is(stats.parkedJobs, 0);
  assert.is(stats.inFlight, 2000);
});

test("a tenant's backlog does not hold back another's: releases alternate by cost (deficit round robin)", async () => {
  await redis.hset(meta(), 'window', 1);
  // The window holds one job: everything after the first is parked.
  assert.is(await fair.enqueue(tagged(A, 1000)), 'added');
  for (let i = 0; i < 5; i++) await fair.enqueue(tagged(A, 1000));
  for (let i = 0; i < 3; i++) await fair.enqueue(tagged(B, 1));
  await fair.enqueue(tagged(C, 500));
  await fair.settle();
  assert.equal(await waiting(), [A]);
  // Free each released job in turn and see who goes next.
  const order: string[] = [];
  for (let i = 0; i < 9; i++) {
    const ids = await waitingIds();
    for (const id of ids) fair.finished(AUDIT_WRITE_QUEUE, id);
    await fair.settle();
    await queue.drain(true);
    const stats = await fair.script(AUDIT_WRITE_QUEUE).stats();
    if (stats.parkedJobs === 0 && ids.length === 0) break;
    order.push(...(await waiting()));
  }
  // B's three 1-entry jobs fit in one turn's quantum; C goes in its turn; A's never block them.
  assert.ok(order.indexOf(B) < 3, order.join(','));
  assert.ok(order.indexOf(C) < 4, order.join(','));
});

test("a tenant's maxRunning holds its own jobs only, and a change in Redis applies to the next dispatch", async () => {
  await redis.hset(limits(), A, '2|0');
  for (let i = 0; i < 4; i++) await fair.enqueue(tagged(A, 1));
  // A small job of a tenant with nothing parked goes at once, past A's held ones.
  assert.is(await fair.enqueue(tagged(B, 1)), 'added');
  assert.is(await fair.enqueue(tagged(C, 500)), 'parked', 'a large job does not pass the parked');
  await fair.settle();
  const tenants = await waiting();
  assert.is(tenants.filter((t) => t === A).length, 2);
  assert.is(tenants.filter((t) => t === B).length, 1);
  assert.is(tenants.filter((t) => t === C).length, 1, 'released by the dispatch');
  const stats = await fair.script(AUDIT_WRITE_QUEUE).stats();
  assert.equal(
    stats.tenants.map((t) => [t.tenant, t.jobs, t.held]),
    [[A, 2, true]],
  );
  assert.is(stats.starvedWaitMs, 0, 'a tenant held by its own cap is not starved');
  await redis.hset(limits(), A, '10|0');
  await fair.kick(AUDIT_WRITE_QUEUE);
  assert.is((await waiting()).filter((t) => t === A).length, 4);
});

test("a light tenant's small job is admitted beside a window that large jobs keep full, up to a quarter above it", async () => {
  await redis.hset(meta(), 'window', 2000);
  assert.is(await fair.enqueue(tagged(A, 1000)), 'added');
  assert.is(await fair.enqueue(tagged(A, 1000)), 'added');
  assert.is(await fair.enqueue(tagged(A, 1000)), 'parked', 'the window is full for large jobs');
  // B: small jobs, nothing of B's parked: admitted past A's parked job, within 500 above the window.
  for (let i = 0; i < 50; i++) assert.is(await fair.enqueue(tagged(B, 10)), 'added');
  assert.is(await fair.enqueue(tagged(B, 10)), 'parked', "the small jobs' room (a quarter of the window) is full");
  assert.is(await fair.enqueue(tagged(B, 11)), 'parked');
  await fair.settle();
  const stats = await fair.script(AUDIT_WRITE_QUEUE).stats();
  assert.is(stats.inFlight, 2500);
});

test('a rate admits a burst of one second, then the rest as tokens refill', async () => {
  await redis.hset(limits(), A, '100|20');
  for (let i = 0; i < 25; i++) await fair.enqueue(tagged(A, 1));
  await fair.settle();
  const first = (await waiting()).length;
  assert.ok(first >= 20 && first < 25, String(first));
  await new Promise((r) => setTimeout(r, 300));
  await fair.kick(AUDIT_WRITE_QUEUE);
  assert.is((await waiting()).length, 25);
});

test('a claim never acked (its dispatcher died after claiming) is handed out again, and added once', async () => {
  await redis.hset(meta(), 'window', 1);
  await fair.enqueue(tagged(A, 1));
  await fair.enqueue(tagged(B, 1));
  await fair.settle();
  const first = (await waitingIds())[0];
  // A dispatcher that claims and dies: the script alone, no add, no ack.
  const script = fairScript(redis, prefix, fairKindOf(auditWriteQueue)!);
  await script.finish([first!]);
  const claimed = await script.dispatch();
  assert.is(claimed.length, 1);
  assert.is(await queue.count(), 1, 'not added yet');
  // Made stale at once (the script hands out claims older than CLAIM_STALE_MS).
  await redis.zadd(script.keys[10]!, 0, claimed[0]!.member);
  await fair.kick(AUDIT_WRITE_QUEUE);
  assert.is(await queue.count(), 2);
  await redis.zadd(script.keys[10]!, 0, claimed[0]!.member);
  await fair.kick(AUDIT_WRITE_QUEUE);
  assert.is(await queue.count(), 2, 'added once (by job id)');
});

test('an admitted job whose add fails (Redis gone after the script) is stored claimed and added later by any dispatcher', async () => {
  // This process's queue handle is on a Redis that is not there: the script call (on the
  // live connection) admits and claims the job, the add then fails.
  const dead = new Redis('redis://127.0.0.1:1', {
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    lazyConnect: true,
  });
  dead.on('error', () => undefined);
  const deadQueue = new Queue(AUDIT_WRITE_QUEUE, { connection: dead, prefix });
  deadQueue.on('error', () => undefined);
  const errors: Error[] = [];
  const broken = createFairDispatcher({
    redis,
    queuePrefix: prefix,
    queues: new Map([[auditWriteQueue, deadQueue]]),
    onError: (err) => errors.push(err),
  });
  try {
    const p = tagged(A, 1);
    assert.is(await broken.enqueue(p), 'added', 'stored: the caller may be told so');
    await broken.settle();
    assert.ok(errors.length > 0, 'the failed add is reported');
    assert.is(await queue.count(), 0, 'not in BullMQ yet');
    const script = fairScript(redis, prefix, fairKindOf(auditWriteQueue)!);
    const members = await redis.zrange(script.keys[10]!, 0, -1);
    assert.is(members.length, 1, 'held as a claim');
    // Stale at once (as after CLAIM_STALE_MS): a healthy dispatcher adds it.
    await redis.zadd(script.keys[10]!, 0, members[0]!);
    await fair.kick(AUDIT_WRITE_QUEUE);
    assert.equal(await waitingIds(), [p.job.opts.jobId]);
    assert.is(await redis.zcard(script.keys[10]!), 0, 'acked');
  } finally {
    await deadQueue.close().catch(() => undefined);
    dead.disconnect();
  }
});

test("a tenant's only job in flight goes to the wait list, ahead of a busier tenant's (prioritized)", async () => {
  for (let i = 0; i < 3; i++) await fair.enqueue(tagged(A, 1));
  await fair.enqueue(tagged(B, 1));
  assert.equal(await waiting(), [A, B, A, A]);
});

test('a job and its companions parked together: all or none, each released to its own queue', async () => {
  await fair.parkTogether([tagged(A, 3), tagged(B, 1)]);
  await fair.settle();
  assert.equal((await waiting()).sort(), [A, B].sort());
});

test.run();
