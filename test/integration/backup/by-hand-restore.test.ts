// docs/DATA_MANAGEMENT.md's "Restoring by hand, without Bulwark", followed as written:
// the backup's folder downloaded (step 1, any S3 client: here the minio client), the
// key in key.txt, then the doc's shell block run by bash with age, python3, pg_restore
// and psql. The restored database must equal the original table by table, and the
// doc's one-line signature check must accept the manifest.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createBackup } from '../../../lib/backup/index.js';
import { backupPrefix } from '../../../lib/backup/layout.js';
import { pgEnv } from '../../../lib/backup/pg-tools.js';
import { listAll, getBytes } from '../../../lib/backup/store.js';
import { createDatabase, dropDatabase } from '../../../lib/backup/target.js';
import { startBackupHarness, tableChecksums, type BackupHarness } from '../../helpers/backup.js';
import { urlFor } from '../../helpers/db.js';
import { setup, cleanup } from '../../helpers/lifecycle.js';

const DOC = new URL('../../../docs/DATA_MANAGEMENT.md', import.meta.url);
let h: BackupHarness;
let dir = '';
const target = `bulwark_byhand_${Date.now().toString(36)}`;

test.before(setup(async () => {
  h = await startBackupHarness({ tenants: 2, entries: 200 });
  dir = await mkdtemp(join(tmpdir(), 'bulwark-byhand-'));
}));
test.after(cleanup([
  ['drop target', () => dropDatabase(urlFor(target))],
  ['remove folder', () => dir && rm(dir, { recursive: true, force: true })],
  ['close harness', () => h?.close()],
]));

test("the doc's by-hand restore rebuilds the database with standard tools only", async () => {
  const doc = await readFile(DOC, 'utf8');
  const block = /<!-- by-hand-restore:start -->\n```sh\n([\s\S]*?)```\n<!-- by-hand-restore:end -->/.exec(doc)?.[1];
  assert.ok(block, 'the doc lost its by-hand-restore block');
  const manifest = await createBackup({ ...h.ctx, config: { ...h.config, backupPartSizeBytes: 16 * 1024 } }, { kind: 'database' });
  assert.ok(manifest.parts.length >= 2, `parts: ${manifest.parts.length}`);
  const before = await tableChecksums(h.db.url);
  // Step 1: download {env}/{id}/ into ./backup.
  const prefix = backupPrefix(h.config.env, manifest.id);
  for await (const item of listAll(h.ctx.storage, prefix)) {
    const path = join(dir, 'backup', item.name!.slice(prefix.length));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, (await getBytes(h.ctx.storage, item.name!))!);
  }
  // Step 2: the key.
  await writeFile(join(dir, 'key.txt'), `${h.env.BACKUP_KEYS}\n`, { mode: 0o600 });
  // Step 3: the doc's block, as written.
  await createDatabase(urlFor(target));
  const run = spawnSync('bash', ['-c', block!], { cwd: dir, env: { ...pgEnv(urlFor(target)), TARGET: target }, encoding: 'utf8', timeout: 120_000 });
  assert.is(run.status, 0, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, `${manifest.parts.length} parts match the manifest`);
  assert.match(run.stdout, 'audit_log:');
  assert.equal(await tableChecksums(urlFor(target)), before);
  // The signature check of the doc, with python3's json and hmac.
  const oneLiner = /\(`(python3 -c '[^`]+' "\$SIGNING_KEY")`\)/.exec(doc)?.[1];
  assert.ok(oneLiner, 'the doc lost its signature one-liner');
  const sig = spawnSync('bash', ['-c', oneLiner!], { cwd: join(dir, 'backup'), env: { PATH: process.env.PATH, SIGNING_KEY: h.env.BACKUP_SIGNING_KEY }, encoding: 'utf8' });
  assert.is(sig.stdout.trim(), 'True', sig.stderr);
});

test.run();
