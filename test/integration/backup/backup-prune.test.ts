// Backup prune on the real services (s3rver, Postgres, pg_dump, age): a dry run deletes
// nothing; a prune keeps what retention keeps (verifying the newest backup itself when no
// drill passed on any), deletes the rest manifest first and then every part, removes a
// backup that never finished once it is old, keeps one whose manifest does not verify,
// a prune stopped between manifest and parts leaves a
// backup that is no longer listed as restorable; `bulwark backup prune` prints the plan.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createBackup } from '../../../lib/backup/create.js';
import { backupPrefix, manifestKey } from '../../../lib/backup/layout.js';
import { listBackups } from '../../../lib/backup/list.js';
import { pruneBackups } from '../../../lib/backup/prune.js';
import { listAll } from '../../../lib/backup/store.js';
import { pruneBackupsOf } from '../../../lib/backup/upkeep-adapters.js';
import { createPgPool, createPrisma, type PrismaClient } from '../../../lib/clients/prisma.js';
import { prune } from '../../../workers/backup/prune.js';
import { startBackupHarness, type BackupHarness } from '../../helpers/backup.js';
import { runCli } from '../../helpers/cli.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';

let h: BackupHarness;
let prisma: PrismaClient;
let pool: ReturnType<typeof createPgPool>;
/** Backup ids, oldest first: three database backups, all made now. */
const db: string[] = [];
const OLD_INCOMPLETE = '20261001T010000Z';
const OLD_INVALID = '20261002T010000Z';

const keys = async (prefix: string) => {
  const out: string[] = [];
  for await (const o of listAll(h.ctx.storage, prefix)) if (o.name) out.push(o.name);
  return out;
};
const put = (key: string, body: string) =>
  h.ctx.storage.client.putObject(h.ctx.storage.backupBucket, key, Buffer.from(body));
const status = async () => Object.fromEntries((await listBackups(h.ctx)).map((b) => [b.id, b.status]));
const deps = () => ({
  config: { backupKeep: { daily: 1, weekly: 0, monthly: 0 } },
  prisma,
  pg: pool,
  clock: () => new Date(),
  logger: h.ctx.logger,
  backup: h.ctx,
});

test.before(
  setup(async () => {
    h = await startBackupHarness({ tenants: 1, entries: 20 });
    prisma = createPrisma({ databaseUrl: h.db.url }, { max: 1 });
    pool = createPgPool({ databaseUrl: h.db.url }, 2);
    for (let i = 0; i < 3; i++) db.push((await createBackup(h.ctx, { kind: 'database' })).id);
    // A backup that never finished (a part, no manifest) and one whose manifest is garbage,
    // both long ago. The part sits right under the id: s3rver's listing leaves out a folder
    // whose objects are all two levels down (real S3 and MinIO list it).
    await put(`${backupPrefix(h.config.env, OLD_INCOMPLETE)}part-00001.age`, 'half a backup');
    await put(manifestKey(h.config.env, OLD_INVALID), '{"not":"a manifest"}');
  }),
);
test.after(
  cleanup([
    ['prisma', () => prisma?.$disconnect()],
    ['pool', () => pool?.end()],
    ['harness', () => h?.close()],
  ]),
);

test('backup prune: a dry run plans per history and deletes nothing', async () => {
  const before = await keys(`${h.config.env}/`);
  const report = await prune(deps(), true);
  assert.equal(await keys(`${h.config.env}/`), before, 'not one object deleted');
  const database = report.histories.find((x) => x.history === 'database')!;
  assert.equal(
    database.keep.map((k) => k.id),
    [db[2]],
  );
  assert.equal(database.keep[0]!.reasons.sort(), [
    `daily ${db[2]!.slice(0, 4)}-${db[2]!.slice(4, 6)}-${db[2]!.slice(6, 8)}`,
    'newest verified',
  ]);
  assert.equal([...database.prune].sort(), [db[0], db[1]].sort());
  assert.equal(database.verifiedNow, [db[2]], 'no drill passed: the prune verified the newest backup itself');
  assert.equal(
    report.histories.map((x) => x.history),
    ['database'],
  );
  assert.equal(report.incomplete, [OLD_INCOMPLETE]);
  assert.equal(report.invalid, [OLD_INVALID]);
  assert.equal(report.deleted, []);
});

test('backup prune: a prune stopped between the manifest and the parts leaves nothing listed as restorable', async () => {
  const store = pruneBackupsOf(h.ctx);
  // The store side as it is, but the parts' deletion fails (the process died there).
  const stopped = { ...store, removeParts: async () => Promise.reject(new Error('killed before the parts')) };
  // Only db[0] goes: db[1] passed a drill (the newest verified), db[2] is today's newest.
  const report = await pruneBackups({
    backups: stopped,
    drilled: new Set([db[1]!]),
    policy: { daily: 1, weekly: 0, monthly: 0 },
    dryRun: false,
    clock: () => new Date(),
    logger: h.ctx.logger,
  });
  assert.equal(report.deleted, []);
  assert.equal(report.errors.map((e) => e.slice(0, 16)).sort(), [db[0], OLD_INCOMPLETE].sort());
  const s = await status();
  // s3rver lists the folder of its remaining parts not at all, real S3 as incomplete: never restorable.
  assert.ok(s[db[0]!] !== 'restorable', `its manifest went first: no longer restorable (${s[db[0]!]})`);
  assert.ok((await keys(backupPrefix(h.config.env, db[0]!))).length > 0, 'its parts are still there');
  assert.is(s[db[1]!], 'restorable');
  assert.is(s[db[2]!], 'restorable');
});

test('backup prune: deletes manifest and parts of what retention drops and old incomplete backups; keeps the invalid one', async () => {
  const report = await prune(deps(), false);
  const database = report.histories.find((x) => x.history === 'database')!;
  assert.equal(database.verifiedNow, [db[2]]);
  assert.equal(
    database.keep.map((k) => k.id),
    [db[2]],
  );
  assert.equal(report.deleted.sort(), [db[1], OLD_INCOMPLETE].sort());
  assert.equal(report.errors, []);
  for (const id of [db[1]!, OLD_INCOMPLETE])
    assert.equal(await keys(backupPrefix(h.config.env, id)), [], `${id}: no object left`);
  const s = await status();
  assert.equal(
    Object.keys(s)
      .filter((id) => s[id] !== 'incomplete')
      .sort(),
    [OLD_INVALID, db[2]].sort(),
  );
  assert.is(s[OLD_INVALID], 'invalid', 'a manifest that does not verify is kept for a person to look at');
  // The half-pruned db[0] of the test before has no manifest: an unfinished backup, removed once 48 h old.
  assert.ok(s[db[0]!] !== 'restorable');
});

test('backup prune: `bulwark backup prune --dry-run` prints what it keeps and why, and deletes nothing', async () => {
  const env = { ...h.env, BACKUP_KEEP_DAILY: '1', BACKUP_KEEP_WEEKLY: '0', BACKUP_KEEP_MONTHLY: '0' };
  const before = await keys(`${h.config.env}/`);
  const r = await runCli(['backup', 'prune', '--dry-run'], env);
  assert.is(r.code, 0, r.err);
  // One backup left, none drilled: nothing to prune, and the plan says no backup is verified.
  assert.ok(
    r.outLines.includes('database: keep 1, would prune 0 (nothing pruned: no backup of it is verified)'),
    r.out,
  );
  assert.ok(r.outLines.includes(`  keep\t${db[2]}\tno verified backup`), r.out);
  assert.ok(r.outLines.includes(`invalid\t${OLD_INVALID}\tmanifest does not verify: kept for inspection`), r.out);
  assert.is(r.outLines.at(-1), 'dry run: 0 backup(s) would be deleted, nothing was');
  assert.equal(await keys(`${h.config.env}/`), before);
  assert.not.match(r.out + r.err, h.env.BACKUP_KEYS!, 'no key in the output');
});

test.run();
