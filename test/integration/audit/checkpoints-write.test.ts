// Writing audit checkpoints against the real Postgres, Redis and s3rver: one signed
// object per tenant and hour, never overwritten (a later run, and writers racing for
// the same key, leave the first object as it was), only intact chains signed, and an
// unreachable store: the attempt fails naming S3_ENDPOINT, BullMQ retries it, the hour
// is written once the store is back; with no retry left it is counted and logged.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { StorageUnavailableError } from '../../../lib/clients/storage.js';
import { auditVerifyJob } from '../../../lib/contracts/audit.js';
import { SYSTEM_TENANT_ID } from '../../../lib/audit/record.js';
import { auditCheckpointJob } from '../../../lib/contracts/checkpoint.js';
import {
  checkSignature,
  checkpointKey,
  decodeCheckpoint,
  encodeCheckpoint,
  hourOf,
} from '../../../lib/checkpoints/format.js';
import { putCheckpointOnce } from '../../../lib/checkpoints/store.js';
import { readChainHeads } from '../../../lib/checkpoints/write.js';
import { runAuditCheckpoint } from '../../../workers/audit/checkpoint-worker.js';
import { addJob } from '../../../lib/contracts/enqueue.js';
import { superuserQuery } from '../../helpers/db.js';
import { REDIS_URL, waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { obliterateQueues, promoteDelayedJobs } from '../../helpers/queues.js';
import {
  objectBytes,
  startCheckpointHarness,
  storedCheckpointKeys,
  type CheckpointHarness,
} from '../../helpers/checkpoints.js';

let h: CheckpointHarness;
let bulwark: RunningBulwark | undefined;

test.before(
  setup(async () => {
    h = await startCheckpointHarness({ tenants: 3, entries: 30 });
  }),
);
test.after(
  cleanup([
    ['stop bulwark', () => bulwark?.stop()],
    ['obliterate queues', () => h && obliterateQueues(h.ctx.config.queuePrefix)],
    ['close harness', () => h?.close()],
  ]),
);

// Ten minutes into the current hour, so the hours the tests name do not move while they run.
const BASE = Math.floor(Date.now() / 3_600_000) * 3_600_000 + 600_000;
const at = (hoursAgo: number) => new Date(BASE - hoursAgo * 3_600_000).toISOString();
/** The tenants with a chain: the test's and the system tenant (security events without a tenant). */
const chains = () => [SYSTEM_TENANT_ID, ...h.tenants].sort();

test('one signed object per tenant and hour, holding the head as read', async () => {
  const heads = await readChainHeads(h.ctx.prisma);
  assert.equal(
    heads.map((x) => x.tenantId),
    chains(),
  );
  const when = at(5);
  const result = await runAuditCheckpoint({ v: 1, at: when, heads }, h.ctx);
  assert.equal(result, { hour: hourOf(new Date(when)), written: 4, exists: 0 });
  for (const head of heads) {
    const key = checkpointKey(head.tenantId, hourOf(new Date(when)));
    const decoded = decodeCheckpoint(await objectBytes(h.ctx.storage, key));
    assert.ok(decoded.ok);
    if (!decoded.ok) continue;
    assert.equal(
      { tenant: decoded.doc.tenant, seq: decoded.doc.seq, hash: decoded.doc.hash, at: decoded.doc.at },
      { tenant: head.tenantId, seq: head.seq, hash: head.hash, at: when },
    );
    assert.is(checkSignature(decoded.doc, [h.signer.publicKey]), 'ok');
  }
  assert.is((await h.ctx.metrics.auditCheckpoints.get()).values.find((v) => v.labels.result === 'written')?.value, 4);
});

test('a second run in the same hour leaves every object as it was, though the heads moved', async () => {
  const when = at(5);
  const key = checkpointKey(h.tenants[0]!, hourOf(new Date(when)));
  const before = await objectBytes(h.ctx.storage, key);
  await h.addEntries(h.tenants[0]!, 5);
  const heads = await readChainHeads(h.ctx.prisma);
  const later = new Date(new Date(when).getTime() + 60_000).toISOString();
  assert.is(hourOf(new Date(later)), hourOf(new Date(when)), 'the same hour');
  const result = await runAuditCheckpoint({ v: 1, at: later, heads }, h.ctx);
  assert.equal([result.written, result.exists], [0, 4]);
  assert.equal(await objectBytes(h.ctx.storage, key), before);
});

test('writers racing for one key (two pools, as two processes): one writes, the others find it, nothing is overwritten', async () => {
  const other = h.context();
  const heads = await readChainHeads(h.ctx.prisma);
  const hour = hourOf(new Date(at(4)));
  const key = checkpointKey(h.tenants[1]!, hour);
  // Eight different bodies (different times in the hour) for the same key, at once.
  const bodies = Array.from({ length: 8 }, (_, i) =>
    encodeCheckpoint({ ...heads[1]!, hour, at: `${hour}:0${i}:00.000Z` }, h.signer),
  );
  const results = await Promise.all(
    bodies.map((b, i) => putCheckpointOnce(h.ctx.storage, (i % 2 ? other : h.ctx).pg, key, b)),
  );
  assert.is(results.filter((r) => r === 'written').length, 1, JSON.stringify(results));
  const stored = await objectBytes(h.ctx.storage, key);
  assert.equal(stored, bodies[results.indexOf('written')]);
});

test('an unreachable store fails the attempt naming S3_ENDPOINT and writes nothing; once back, the retry writes', async () => {
  const cut = h.context({ viaProxy: true });
  h.proxy.block();
  const heads = await readChainHeads(h.ctx.prisma);
  const when = at(3);
  const before = await storedCheckpointKeys(h.ctx.storage);
  try {
    await runAuditCheckpoint({ v: 1, at: when, heads }, cut);
    assert.unreachable('the checkpoint job succeeded with the store unreachable');
  } catch (err) {
    assert.instance(err, StorageUnavailableError);
    assert.match((err as Error).message, /S3_ENDPOINT/);
    assert.not.match((err as Error).message, /S3RVER/);
  }
  assert.equal(await storedCheckpointKeys(h.ctx.storage), before);
  h.proxy.unblock();
  const result = await runAuditCheckpoint({ v: 1, at: when, heads }, cut);
  assert.is(result.written, 4);
});

test('end to end: the verify job enqueues checkpoints of intact chains only; an unreachable store is retried by BullMQ', async () => {
  // Tenant 2's chain is broken: its head is not signed.
  await superuserQuery(
    h.db.url,
    `SET session_replication_role = replica; UPDATE audit_log SET actor_id = 'mallory' WHERE tenant_id = '${h.tenants[2]}' AND seq = 5`,
  );
  h.proxy.block();
  bulwark = await startBulwark(
    { ...h.context({ viaProxy: true }).config },
    { http: false, scheduler: false, logDestination: h.logs.stream },
  );
  assert.is((await bulwark.ctx.metrics.auditCheckpointsEnabled.get()).values[0]?.value, 1);
  const queue = new Queue(auditVerifyJob.queue.name, {
    connection: { url: REDIS_URL },
    prefix: bulwark.ctx.config.queuePrefix,
  });
  try {
    const before = new Set(await storedCheckpointKeys(h.ctx.storage));
    await addJob(queue, auditVerifyJob, { v: 1 });
    // The checkpoint job's first attempt fails (store cut) and waits for its retry.
    const failedOnce = await waitFor(async () => {
      const jobs = await queue.getJobs(['delayed', 'failed']);
      return jobs.find((j) => j.name === auditCheckpointJob.name && j.attemptsMade >= 1);
    }, 'the checkpoint job to fail its first attempt');
    assert.equal(
      (failedOnce.data as { heads: Array<{ tenantId: string }> }).heads.map((x) => x.tenantId).sort(),
      chains().filter((t) => t !== h.tenants[2]),
      'only the intact chains are enqueued',
    );
    assert.match(failedOnce.failedReason, /S3_ENDPOINT/);
    h.proxy.unblock();
    await promoteDelayedJobs(bulwark.ctx.config.queuePrefix);
    const added = await waitFor(async () => {
      const now = (await storedCheckpointKeys(h.ctx.storage)).filter((k) => !before.has(k));
      return now.length >= 3 ? now : undefined;
    }, 'the retried checkpoint job to write');
    assert.equal(
      added.map((k) => k.split('/')[1]).sort(),
      chains().filter((t) => t !== h.tenants[2]),
      'one new object per intact tenant, none for the broken chain',
    );
  } finally {
    await queue.close();
  }
});

test('no retry left: the tenants are counted failed and audit_checkpoints_failed is logged', async () => {
  assert.ok(bulwark, 'the previous test started Bulwark');
  h.proxy.block();
  const queue = new Queue(auditVerifyJob.queue.name, {
    connection: { url: REDIS_URL },
    prefix: bulwark!.ctx.config.queuePrefix,
  });
  try {
    const heads = await readChainHeads(h.ctx.prisma, h.tenants[0]);
    await addJob(queue, auditCheckpointJob, { v: 1, at: at(2), heads }, { attempts: 1 });
    await waitFor(
      async () => h.logs.events().find((e) => e.event === 'audit_checkpoints_failed'),
      'the final failure to be logged',
    );
    const failed = (await bulwark!.ctx.metrics.auditCheckpoints.get()).values.find((v) => v.labels.result === 'failed');
    assert.is(failed?.value, 1);
  } finally {
    h.proxy.unblock();
    await queue.close();
  }
});

test.run();
