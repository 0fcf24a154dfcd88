// Issue 19: the data paths that paths.test.ts does not take, through a PgBouncer in
// transaction pooling mode (2 server connections), as an operator runs them: the CLI
// with DATABASE_URL on PgBouncer and DATABASE_POOLER=pgbouncer. Subject export and
// erasure (the erasure's SECURITY DEFINER function and signed record), a retention run
// (audit_purge() and the receipt), signed checkpoints written by the job's code and
// verified by `audit verify --checkpoints`, a tenant backup (its snapshot goes to
// DIRECT_DATABASE_URL, the rest of the command through PgBouncer), a secret rotated and
// the master key rotated. Each must exit 0, and PgBouncer's counters show it served them.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createContext } from '../../../app/main.js';
import { generateSigningKey, parseSigningKey } from '../../../lib/checkpoints/keys.js';
import { readChainHeads, writeCheckpoints } from '../../../lib/checkpoints/write.js';
import { createPrisma, type PrismaClient } from '../../../lib/clients/prisma.js';
import type { AppContext } from '../../../lib/context.js';
import { generateFernetKey } from '../../../lib/crypto/fernet.js';
import { newBackupKey } from '../../helpers/backup.js';
import { createCliTenant, runCli, type CliResult } from '../../helpers/cli.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { testConfig } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { pgbouncerMissing, startPgBouncer, type OwnPgBouncer } from '../../helpers/pgbouncer.js';
import { seedSubject, SUBJECT } from '../../helpers/privacy.js';
import { startRetentionStore, type RetentionStore } from '../../helpers/retention-store.js';

const missing = pgbouncerMissing();
let bouncer: OwnPgBouncer;
let db: TestDatabase;
let store: RetentionStore;
let prisma: PrismaClient;
let ctx: AppContext | undefined;
let tenant = '';
const K1 = `k1:${generateFernetKey()}`;
const K2 = `k2:${generateFernetKey()}`;
const CHECKPOINT_KEY = generateSigningKey();
let env: Record<string, string> = {};

const run = (args: string[], extra: Record<string, string> = {}, stdin?: string): Promise<CliResult> =>
  runCli(args, { ...env, ...extra }, stdin === undefined ? {} : { stdin: Readable.from([stdin]) });
const ok = (r: CliResult, what: string) => assert.is(r.code, 0, `${what}: ${r.err}\n${r.out}`);

test.before(
  setup(async () => {
    if (missing) return;
    bouncer = await startPgBouncer({ poolSize: 2 });
    db = await createTestDatabase('bulwark_pgbd');
    store = await startRetentionStore();
    env = {
      ...store.env,
      DATABASE_URL: bouncer.url(db.name),
      DATABASE_POOLER: 'pgbouncer',
      DIRECT_DATABASE_URL: db.url,
      MASTER_KEYS: K1,
      LOG_LEVEL: 'warn',
      AUDIT_CHECKPOINT_KEY: CHECKPOINT_KEY,
      ERASURE_SIGNING_KEY: generateSigningKey(),
      BACKUP_KEYS: await newBackupKey(),
      BACKUP_SIGNING_KEY: randomBytes(32).toString('base64'),
    };
    tenant = await createCliTenant((args) => run(args), 'pgbouncer-data');
    // Seeded directly (setup, not under test): the subject's entries, alerts and objects.
    prisma = createPrisma({ databaseUrl: db.url }, { max: 2 });
    await seedSubject(prisma, store.storage, tenant, db.url);
  }),
);
test.after(
  cleanup([
    [
      'close context',
      async () => {
        await ctx?.prisma.$disconnect();
        await ctx?.pg.end();
        ctx?.redis.disconnect();
      },
    ],
    ['disconnect prisma', () => prisma?.$disconnect()],
    ['stop store', () => store?.stop()],
    ['drop database', () => db?.drop()],
    ['pgbouncer', () => bouncer?.stop()],
  ]),
);

if (missing) {
  console.log(`SKIP test/integration/pgbouncer/data-paths.test.ts: ${missing}`);
  test.skip('data paths through PgBouncer', () => undefined);
} else {
  test('subject export and erasure through PgBouncer; the chains verify after', async () => {
    ok(await run(['subject', 'export', '--tenant', tenant, '--subject', SUBJECT]), 'subject export');
    ok(
      await run(['subject', 'erase', '--tenant', tenant, '--subject', SUBJECT, '--reason', 'art. 17 request #19']),
      'subject erase',
    );
    ok(await run(['audit', 'verify']), 'audit verify');
    const left = await superuserQuery(
      db.url,
      `SELECT count(*)::int AS n FROM audit_personal_data WHERE tenant_id = $1 AND actor_id = $2`,
      [tenant, SUBJECT],
    );
    assert.is(left.rows[0].n, 0, 'the subject is erased');
  });

  test('a retention run (audit_purge, its receipt) through PgBouncer', async () => {
    // Two entries 400 days old: past every TTL, so the purge deletes them.
    await superuserQuery(
      db.url,
      `SET session_replication_role = replica;
       UPDATE audit_log SET occurred_at = now() - interval '400 days'
        WHERE tenant_id = '${tenant}' AND seq IN (1, 2)`,
    );
    const r = await run(['retention', 'run', '--tenant', tenant]);
    ok(r, 'retention run');
    const receipts = await superuserQuery(
      db.url,
      `SELECT class, deleted::int AS n FROM retention_receipts WHERE tenant_id = $1 AND status = 'done' AND class = 'audit'`,
      [tenant],
    );
    assert.ok(receipts.rows.length >= 1 && receipts.rows[0].n >= 1, JSON.stringify(receipts.rows));
    ok(await run(['audit', 'verify']), 'audit verify after the purge');
  });

  test('signed checkpoints written through PgBouncer verify with audit verify --checkpoints', async () => {
    ctx = createContext(testConfig(env.DATABASE_URL!, env));
    const heads = await readChainHeads(ctx.prisma);
    const written = await writeCheckpoints(
      { storage: ctx.storage, pool: ctx.pg, signer: parseSigningKey(CHECKPOINT_KEY) },
      { at: new Date().toISOString(), heads },
    );
    assert.ok(written.written >= 1, JSON.stringify(written));
    const r = await run(['audit', 'verify', '--checkpoints']);
    ok(r, 'audit verify --checkpoints');
    assert.match(r.out, `checkpoints of tenant ${tenant}: 1 checkpoint(s), 1 verified`);
  });

  test('a tenant backup through PgBouncer, verified', async () => {
    const r = await run(['backup', 'create', '--kind', 'tenant', '--tenant', tenant]);
    ok(r, 'backup create --kind tenant');
    ok(await run(['backup', 'verify', r.outLines.at(-1)!]), 'backup verify');
  });

  test('a secret rotated and the master key rotated through PgBouncer', async () => {
    ok(await run(['secret', 'set', '--tenant', tenant, '--name', 'webhook'], {}, 'first-value-1234'), 'secret set');
    ok(await run(['secret', 'rotate', '--tenant', tenant, '--name', 'webhook'], {}, 'second-value-5678'), 'rotate');
    const r = await run(['keys', 'rotate-master'], { MASTER_KEYS: `${K2},${K1}` });
    ok(r, 'keys rotate-master');
    assert.match(r.out + r.err, '0 failed');
  });

  test('PgBouncer served them: its counters show transactions for the database', async () => {
    const stats = await bouncer.show('STATS');
    const mine = stats.find((s) => s.database === db.name);
    assert.ok(mine && Number(mine.total_xact_count) > 20, JSON.stringify(mine));
  });
}

test.run();
