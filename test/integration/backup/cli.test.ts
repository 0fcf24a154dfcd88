// `bulwark backup create|list|verify|restore` in-process on the real services: the id
// on stdout, a progress bar on a terminal, exit 1 naming the bad part, exit 2 for a
// live restore without --confirm, no key material in any output.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { partKey } from '../../../lib/backup/layout.js';
import { dropDatabase } from '../../../lib/backup/target.js';
import { startBackupHarness, type BackupHarness } from '../../helpers/backup.js';
import { runCli, type CliResult } from '../../helpers/cli.js';
import { urlFor } from '../../helpers/db.js';
import { setup, cleanup } from '../../helpers/lifecycle.js';

let h: BackupHarness;
const target = `bulwark_cli_rs_${Date.now().toString(36)}`;
const outputs: CliResult[] = [];
const run = async (args: string[], env: Record<string, string> = {}, isTTY = false) => {
  const r = await runCli(['backup', ...args], { ...h.env, LOG_LEVEL: 'warn', ...env }, { isTTY });
  outputs.push(r);
  return r;
};

test.before(setup(async () => {
  h = await startBackupHarness({ tenants: 1, entries: 100 });
}));
test.after(cleanup([
  ['drop target', () => dropDatabase(urlFor(target))],
  ['close harness', () => h?.close()],
]));

let id = '';

test('create prints the id and draws progress on a terminal; list shows it', async () => {
  const r = await run(['create'], {}, true);
  assert.is(r.code, 0, r.err);
  id = r.out.trim();
  assert.match(id, /^\d{8}T\d{6}Z$/);
  assert.match(r.err, `backup ${id} (database) complete`);
  assert.match(r.progress, 'backup uploading');
  const list = await run(['list']);
  assert.is(list.code, 0, list.err);
  assert.match(list.out, new RegExp(`^${id}\\tdatabase\\trestorable`, 'm'));
});

test('verify checks every part; restore into a new database passes its checks', async () => {
  const v = await run(['verify', id]);
  assert.is(v.code, 0, v.err);
  assert.match(v.out, `backup ${id} verified`);
  const r = await run(['restore', id, '--into', target]);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, 'audit chains: 2 verified');
  assert.match(r.out, `restored into ${target}`);
  const again = await run(['restore', id, '--into', target]);
  assert.is(again.code, 1);
  assert.match(again.err, '--force');
});

test('a live restore without --confirm is refused with exit 2 and touches nothing', async () => {
  const r = await run(['restore', id, '--into', 'bulwark_never_made'], { BULWARK_ENV: 'live', S3_ACCESS_KEY: 'live-access', S3_SECRET_KEY: 'live-secret-key' });
  assert.is(r.code, 2, r.err);
  assert.match(r.err, '--confirm bulwark_never_made');
});

test('a missing part fails verify with exit 1 naming it; usage errors exit 2', async () => {
  const key = partKey(h.config.env, id, 'database', 1);
  const keep = await h.ctx.storage.client.statObject(h.config.storage.backupBucket, key);
  assert.ok(keep.size > 0);
  await h.ctx.storage.client.copyObject(h.config.storage.backupBucket, `${key}.keep`, `/${h.config.storage.backupBucket}/${key}`);
  await h.ctx.storage.client.removeObject(h.config.storage.backupBucket, key);
  const r = await run(['verify', id]);
  await h.ctx.storage.client.copyObject(h.config.storage.backupBucket, key, `/${h.config.storage.backupBucket}/${key}.keep`);
  assert.is(r.code, 1);
  assert.match(r.err, key);
  assert.is((await run(['verify'])).code, 2);
  assert.is((await run(['verify', 'not-an-id'])).code, 2);
  assert.is((await run(['create', '--kind', 'tenant'])).code, 2);
});

test('make backup / make restore with ENV choosing the env file', async () => {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const envFile = join(await mkdtemp(join(tmpdir(), 'bulwark-make-')), '.env.mk');
  await writeFile(envFile, Object.entries({ ...h.env, LOG_LEVEL: 'warn' }).map(([k, v]) => `${k}='${v}'`).join('\n'));
  const make = (...args: string[]) => spawnSync('make', ['--no-print-directory', '-C', root, ...args, 'ENV=dev', `ENV_FILE=${envFile}`], { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 120_000 });
  const backup = make('backup');
  assert.is(backup.status, 0, backup.stderr);
  const made = backup.stdout.trim();
  assert.match(made, /^\d{8}T\d{6}Z$/);
  const into = `${target}_mk`;
  const restore = make('restore', `BACKUP=${made}`, `INTO=${into}`);
  await dropDatabase(urlFor(into));
  assert.is(restore.status, 0, restore.stderr);
  assert.match(restore.stdout, `restored into ${into}`);
  const missing = make('restore');
  assert.is(missing.status, 2);
  assert.match(missing.stderr, 'BACKUP=<id> is required');
  await rm(dirname(envFile), { recursive: true, force: true });
});

test('no key material in any output or log line', async () => {
  const text = outputs.map((o) => `${o.out}\n${o.err}\n${o.progress}`).join('\n') + h.logs.text();
  assert.not.match(text, h.env.BACKUP_KEYS!);
  assert.not.match(text, 'AGE-SECRET-KEY');
  assert.not.match(text, h.env.BACKUP_SIGNING_KEY!);
});

test.run();
