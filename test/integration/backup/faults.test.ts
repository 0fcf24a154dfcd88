// Faults on the real services: the object store cut in the middle of an upload (the
// attempt fails, nothing is listed as restorable, the retry removes the orphan parts
// and completes), Postgres unreachable (a clear error, nothing uploaded), a backup
// process SIGKILLed mid-upload (the job's retry leaves exactly one whole backup), and
// one database backup at a time (a second one is refused while the first runs).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createBackup, listBackups } from '../../../lib/backup/index.js';
import { backupPrefix } from '../../../lib/backup/layout.js';
import { BackupBusyError } from '../../../lib/backup/lock.js';
import { listAll } from '../../../lib/backup/store.js';
import type { BackupProgress } from '../../../lib/contracts/backup.js';
import { processBackup } from '../../../workers/backup/processor.js';
import { startBackupHarness, type BackupHarness } from '../../helpers/backup.js';
import { waitFor } from '../../helpers/env.js';
import { setup, cleanup } from '../../helpers/lifecycle.js';
import { startTcpProxy, viaProxy, type TcpProxy } from '../../helpers/tcp-proxy.js';

let h: BackupHarness;
let s3Proxy: TcpProxy;
let pgProxy: TcpProxy;

test.before(setup(async () => {
  h = await startBackupHarness({ tenants: 2, entries: 600 });
  const s3 = new URL(h.env.S3_ENDPOINT!);
  s3Proxy = await startTcpProxy(s3.hostname, Number(s3.port));
  pgProxy = await startTcpProxy('127.0.0.1', 5432);
}));
test.after(cleanup([
  ['close proxies', () => Promise.all([s3Proxy?.close(), pgProxy?.close()])],
  ['close harness', () => h?.close()],
]));

const small = (ctx = h.ctx) => ({ ...ctx, config: { ...ctx.config, backupPartSizeBytes: 32 * 1024 } });
/** A stand-in for a BullMQ job: what processBackup reads and writes of it. */
const job = () => {
  const j = { id: "j1", progress: {} as object, updateProgress: async (p: object) => void (j.progress = p) };
  return j;
};
const objectsUnder = async (id: string, under = '') => {
  let n = 0;
  for await (const _ of listAll(h.ctx.storage, `${backupPrefix(h.config.env, id)}${under}`)) n++;
  return n;
};
const restorable = async () => (await listBackups(h.ctx)).filter((b) => b.status === 'restorable').map((b) => b.id);

test('store cut mid-upload: the attempt fails, nothing restorable; the retry removes the orphan and completes', async () => {
  const before = await restorable();
  const viaCut = small(h.withConfig({ S3_ENDPOINT: `http://127.0.0.1:${s3Proxy.port}` }));
  const j = job();
  let parts = 0;
  const first = await createBackup(viaCut, {
    kind: 'database',
    onId: (id) => j.updateProgress({ backupId: id, phase: 'starting', bytes: 0, parts: 0 }),
    onProgress: (e) => void (e.part && ++parts === 2 && s3Proxy.block()),
  }).then(() => undefined, (e: Error) => e);
  assert.ok(first, 'the backup succeeded with the store cut');
  assert.match(first!.message, 'object store');
  s3Proxy.unblock();
  const orphan = (j.progress as BackupProgress).backupId;
  assert.ok((await objectsUnder(orphan, 'database/')) >= 1, 'the cut attempt left no parts (the test did not cut mid-upload)');
  assert.equal(await restorable(), before);
  const all = await listBackups(h.ctx);
  const listed = all.find((b) => b.id === orphan);
  assert.is(listed?.status, 'incomplete');
  const result = await processBackup({ v: 1, kind: 'database' }, viaCut, j);
  assert.is.not(result.backupId, orphan);
  assert.is(await objectsUnder(orphan), 0, 'the orphan parts were not removed');
  assert.equal(await restorable(), [...before, result.backupId]);
});

test('Postgres unreachable: a clear error, nothing uploaded, nothing listed', async () => {
  const before = (await listBackups(h.ctx)).length;
  pgProxy.block();
  try {
    const ctx = h.withConfig({ DATABASE_URL: viaProxy(h.db.url, pgProxy) });
    const err = await createBackup(ctx, { kind: 'database' }).then(() => undefined, (e: Error) => e);
    assert.ok(err);
    assert.match(err!.message, /connect|terminat|ECONN|timeout/i);
  } finally {
    pgProxy.unblock();
  }
  assert.is((await listBackups(h.ctx)).length, before);
});

test('one database backup at a time: a second is refused while the first runs', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let seconds: unknown;
  const first = createBackup(small(), {
    kind: 'database',
    onProgress: async () => {
      if (seconds === undefined) {
        seconds = await createBackup(h.ctx, { kind: 'database' }).then(() => 'ran', (e: Error) => e);
        release();
      }
    },
  });
  await gate;
  await first;
  assert.instance(seconds, BackupBusyError);
});

test('SIGKILL mid-backup: the retry leaves exactly one whole backup and no orphan', async () => {
  const before = await restorable();
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../../helpers/backup-child.ts', import.meta.url))], {
    env: { ...process.env, ...h.env, LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((r) => child.on('exit', r));
  let id = '';
  const killed = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('id ')) id = line.slice(3);
      if (line === 'part 1') {
        child.kill('SIGKILL');
        resolve();
      }
      if (line === 'done') reject(new Error('the backup finished before it could be killed'));
    });
  });
  await Promise.race([killed, exited.then(() => killed)]);
  await exited;
  assert.ok(id);
  assert.ok((await objectsUnder(id, 'database/')) >= 1);
  const j = job();
  j.progress = { backupId: id, phase: 'uploading', bytes: 0, parts: 1 };
  // The killed holder's lock expires within LOCK_TTL_MS; until then the job is busy and retries.
  const result = await waitFor(
    () => processBackup({ v: 1, kind: 'database' }, h.ctx, j).catch((e: unknown) => {
      if (e instanceof BackupBusyError) return undefined;
      throw e;
    }),
    'the lock of the killed backup to expire',
    40_000,
    1000,
  );
  assert.is(await objectsUnder(id), 0, 'the killed backup left an orphan');
  assert.equal(await restorable(), [...before, result.backupId]);
  // Processing the same job again (a duplicate delivery) returns the finished backup, not a second one.
  const again = await processBackup({ v: 1, kind: 'database' }, h.ctx, j);
  assert.is(again.backupId, result.backupId);
  assert.equal(await restorable(), [...before, result.backupId]);
});

test.run();
