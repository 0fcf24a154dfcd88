// Objects backups when the store goes away mid-copy (a TCP proxy in front of s3rver,
// cut after the second index part): the attempt fails naming the store, the backup is
// listed as incomplete and never restorable, and the job's retry resumes the same
// backup from its checkpoint (not from the first key) and completes it, every object
// verified byte for byte. A tenant backup, which does not resume, is removed instead.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createBackup, listBackups, verifyBackup } from '../../../lib/backup/index.js';
import { backupPrefix, checkpointKey } from '../../../lib/backup/layout.js';
import { getBytes, listAll } from '../../../lib/backup/store.js';
import type { BackupProgress } from '../../../lib/contracts/backup.js';
import { processBackup } from '../../../workers/backup/processor.js';
import { putTenantObjects, startBackupHarness, type BackupHarness } from '../../helpers/backup.js';
import { setup, cleanup } from '../../helpers/lifecycle.js';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.js';

let h: BackupHarness;
let proxy: TcpProxy;
let count = 0;

test.before(
  setup(async () => {
    h = await startBackupHarness({ tenants: 2, entries: 5 });
    for (const t of h.tenants) count += (await putTenantObjects(h.ctx, t, 30, [10, 2000])).size;
    const s3 = new URL(h.env.S3_ENDPOINT!);
    proxy = await startTcpProxy(s3.hostname, Number(s3.port));
  }),
);
test.after(
  cleanup([
    ['close proxy', () => proxy?.close()],
    ['close harness', () => h?.close()],
  ]),
);

/** A stand-in for a BullMQ job on its first of several attempts. */
const job = () => {
  const j = {
    id: 'j1',
    progress: {} as object,
    attemptsMade: 0,
    opts: { attempts: 10 },
    updateProgress: async (p: object) => void (j.progress = p),
  };
  return j;
};
const viaProxy = () => h.withConfig({ S3_ENDPOINT: `http://127.0.0.1:${proxy.port}`, LOG_LEVEL: 'info' });
const objectsUnder = async (prefix: string) => {
  let n = 0;
  for await (const _ of listAll(h.ctx.storage, prefix)) n++;
  return n;
};

test('store cut mid-copy: incomplete, never restorable; the retry resumes the same backup and completes it', async () => {
  const ctx = viaProxy();
  const j = job();
  let parts = 0;
  const first = await createBackup(ctx, {
    kind: 'objects',
    objectsPerPart: 8,
    keepOnFailure: true,
    onId: (id) => j.updateProgress({ backupId: id, phase: 'starting', bytes: 0, parts: 0 }),
    onProgress: (e) => void (e.part && ++parts === 2 && proxy.block()),
  }).then(
    () => undefined,
    (e: Error) => e,
  );
  proxy.unblock();
  assert.ok(first, 'the backup succeeded with the store cut');
  assert.match(first!.message, 'object store');
  const id = (j.progress as BackupProgress).backupId;
  const listed = (await listBackups(h.ctx)).find((b) => b.id === id);
  assert.is(listed?.status, 'incomplete');
  const checkpoint = JSON.parse((await getBytes(h.ctx.storage, checkpointKey(h.config.env, id)))!.toString()) as {
    count: number;
    parts: unknown[];
  };
  assert.is(checkpoint.parts.length, 2);
  assert.is(checkpoint.count, 16);

  const result = await processBackup({ v: 1, kind: 'objects' }, ctx, j);
  assert.is(result.backupId, id, 'the retry started a new backup instead of resuming');
  assert.match(h.logs.text(), 'objects backup resumed from its checkpoint');
  const m = (await listBackups(h.ctx)).find((b) => b.id === id)!;
  assert.is(m.status, 'restorable');
  assert.is(m.manifest!.objects!.count, count);
  const index = m.manifest!.parts.filter((p) => p.stream === 'objects-index');
  assert.equal(
    index.map((p) => p.index),
    index.map((_, i) => i + 1),
  );
  const v = await verifyBackup(h.ctx, id);
  assert.match(v.checks.join('\n'), `objects: ${count} object(s)`);
});

test('a tenant backup cut mid-copy is removed, not resumed; the retry takes a whole new one', async () => {
  const ctx = viaProxy();
  const j = job();
  let parts = 0;
  const err = await createBackup(ctx, {
    kind: 'tenant',
    tenantId: h.tenants[0]!,
    objectsPerPart: 4,
    keepOnFailure: true,
    onId: (id) => j.updateProgress({ backupId: id, phase: 'starting', bytes: 0, parts: 0 }),
    onProgress: (e) => void (e.phase === 'copying objects' && ++parts === 1 && proxy.block()),
  }).then(
    () => undefined,
    (e: Error) => e,
  );
  proxy.unblock();
  assert.ok(err);
  const id = (j.progress as BackupProgress).backupId;
  const result = await processBackup({ v: 1, kind: 'tenant', tenantId: h.tenants[0]! }, ctx, j);
  assert.is.not(result.backupId, id);
  assert.is(await objectsUnder(backupPrefix(h.config.env, id)), 0, 'the cut tenant backup was left behind');
  await verifyBackup(h.ctx, result.backupId);
});

test.run();
