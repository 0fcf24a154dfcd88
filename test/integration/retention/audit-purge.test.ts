// Audit purges through audit_purge(): expired entries go, young, security and held
// ones stay, the receipt accounts for every deleted entry, and the chain still verifies.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { addHold, releaseHold } from '../../../lib/retention/holds.js';
import { runTenantRetention } from '../../../lib/retention/run.js';
import { foldDigest, EMPTY_DIGEST } from '../../../lib/retention/digest.js';
import { verifyChains } from '../../../lib/audit/verify.js';
import { createTestDatabaseWithPrisma, databaseTeardown, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { createRole, daysAgo, entryAt, seedEntries } from '../../helpers/retention.js';
import type { PrismaClient } from '../../../lib/clients/prisma.js';

let db: TestDatabase;
let prisma: PrismaClient;
let tenant: string;
const ADMIN = { type: 'user' as const, id: 'compliance' };
const AUDIT = ['audit', 'audit:security'] as const;

async function attempt(url: string, sql: string, params: unknown[] = []): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql, params);
    return 'succeeded';
  } catch (err) {
    return (err as Error).message;
  } finally {
    await c.end();
  }
}

test.before(
  setup(async () => {
    ({ db, prisma } = await createTestDatabaseWithPrisma(2));
    tenant = (await createTenant(prisma, { name: 'purge' })).id; // seqs 1-2: bootstrap entries, now
    // seq 3..102: 200 days old; every 10th a security entry, every 7th by the held actor.
    await seedEntries(prisma, 100, (i) =>
      entryAt(
        tenant,
        daysAgo(200),
        i % 10 === 0
          ? { action: 'security:login-failed', severity: 'low' }
          : i % 7 === 0
            ? { actorId: 'held-user' }
            : {},
      ),
    );
    await seedEntries(prisma, 10, () => entryAt(tenant, daysAgo(1))); // 103..112: young
  }),
);
test.after(cleanup(databaseTeardown(() => ({ db, prisma }))));

const remaining = async () =>
  (await superuserQuery(db.url, 'SELECT seq::int FROM audit_log WHERE tenant_id = $1 ORDER BY seq', [tenant])).rows.map(
    (r) => r.seq as number,
  );

test('a dry run counts what would go and what the hold keeps, and deletes nothing', async () => {
  const hold = await addHold(
    prisma,
    { tenantId: tenant, scope: 'actor', actorId: 'held-user', reason: 'litigation 2026-17' },
    ADMIN,
  );
  const before = await remaining();
  const out = await runTenantRetention(prisma, tenant, { dryRun: true, classes: AUDIT });
  const audit = out.find((o) => o.class === 'audit')!;
  // 100 old: 10 security, of the other 90 those with i % 7 === 0 and i % 10 !== 0 are held.
  const heldN = Array.from({ length: 100 }, (_, i) => i).filter((i) => i % 10 !== 0 && i % 7 === 0).length;
  assert.is(audit.count, 90 - heldN);
  assert.is(audit.held, heldN);
  assert.equal(audit.holds, [{ id: hold.id, kept: heldN }]);
  assert.is(out.find((o) => o.class === 'audit:security')!.count, 0, 'security entries are kept 365 days');
  assert.equal(await remaining(), before);
});

test('a real run deletes exactly those, leaves a receipt and an audit entry, and the chain verifies', async () => {
  const before = await remaining();
  const out = await runTenantRetention(prisma, tenant, { classes: AUDIT, batchSize: 17, runId: 'run-1' });
  const audit = out.find((o) => o.class === 'audit')!;
  const after = await remaining();
  const gone = before.filter((s) => !after.includes(s));
  assert.is(audit.deleted, gone.length);
  assert.ok(gone.length > 50);
  assert.ok(
    gone.every((s) => s >= 3 && s <= 102),
    'only the old entries went',
  );
  const receipt = await prisma.retentionReceipt.findUniqueOrThrow({ where: { id: audit.receiptId! } });
  assert.is(receipt.status, 'done');
  assert.is(Number(receipt.deleted), gone.length);
  assert.is(Number(receipt.firstSeq), Math.min(...gone));
  assert.is(Number(receipt.lastSeq), Math.max(...gone));
  assert.ok(Number(receipt.held) > 0);
  const entry = await superuserQuery(
    db.url,
    `SELECT metadata FROM audit_entries WHERE tenant_id = $1 AND action = 'retention:purged' AND resource_id = $2`,
    [tenant, receipt.id],
  );
  assert.is(entry.rows.length, 1);
  assert.is(entry.rows[0].metadata.deleted, gone.length);
  assert.is(entry.rows[0].metadata.digest, receipt.digest);
  const report = await verifyChains(prisma, { tenantId: tenant });
  assert.ok(report.ok, JSON.stringify(report));
  assert.is(report.tenants[0]!.purged, gone.length);
});

test("the receipt's digest is the chain of SHA-256 over the deleted entries' hashes in the order deleted", async () => {
  const r = await prisma.retentionReceipt.findFirstOrThrow({
    where: { tenantId: tenant, class: 'audit', runId: 'run-1' },
  });
  const gaps = await prisma.auditChainGap.findMany({ where: { tenantId: tenant }, orderBy: { firstSeq: 'asc' } });
  assert.is(
    gaps.reduce((n, g) => n + g.entries, 0),
    Number(r.deleted),
  );
  assert.is.not(r.digest, EMPTY_DIGEST);
  assert.is(foldDigest(EMPTY_DIGEST, []), EMPTY_DIGEST);
});

test('a second run deletes nothing more; releasing the hold lets the held entries go, chain still verifies', async () => {
  const again = (await runTenantRetention(prisma, tenant, { classes: ['audit'], runId: 'run-2' }))[0]!;
  assert.is(again.deleted, 0);
  const hold = await prisma.legalHold.findFirstOrThrow({ where: { tenantId: tenant } });
  await releaseHold(prisma, hold.id, 'case closed', ADMIN);
  const third = (await runTenantRetention(prisma, tenant, { classes: ['audit'], runId: 'run-3' }))[0]!;
  assert.ok(third.deleted > 0);
  assert.is(third.held, 0);
  const left = await superuserQuery(
    db.url,
    `SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1 AND occurred_at < now() - interval '100 days' AND action NOT LIKE 'security:%'`,
    [tenant],
  );
  assert.is(left.rows[0].n, 0);
  const report = await verifyChains(prisma, { tenantId: tenant });
  assert.ok(report.ok, JSON.stringify(report));
  const released = await prisma.legalHold.findUniqueOrThrow({ where: { id: hold.id } });
  assert.ok(released.releasedAt, 'a released hold keeps its row');
});

const SCRIPT = fileURLToPath(new URL('../../../scripts/verify-audit-chain.py', import.meta.url));
const python = (args: string[]) =>
  new Promise<{ code: number; out: string }>((resolve) =>
    execFile(
      'python3',
      [SCRIPT, ...args],
      { env: { ...process.env, DATABASE_URL: db.url }, encoding: 'utf8' },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    ),
  );

test('the Python verifier walks the purged chain from its gap records and proves every remaining entry', async () => {
  const r = await python(['--tenant', tenant]);
  assert.is(r.code, 0, r.out);
  const purged = (await prisma.auditChainGap.findMany({ where: { tenantId: tenant } })).reduce(
    (n, g) => n + g.entries,
    0,
  );
  assert.match(r.out, `(${purged} purged by retention), chain intact`);
});

test('tampering across a gap is still found: a forged gap record cannot be written, a removed row breaks the walk', async () => {
  const forged = await attempt(
    db.url,
    `INSERT INTO audit_chain_gaps (tenant_id, first_seq, last_seq, prev_hash, last_hash, entries, receipt_id) VALUES ($1, 500, 500, repeat('0',64), repeat('0',64), 1, gen_random_uuid())`,
    [tenant],
  );
  assert.match(forged, 'audit_chain_gaps is written only by audit_purge()');
  await superuserQuery(
    db.url,
    `SET session_replication_role = replica; DELETE FROM audit_log WHERE tenant_id = '${tenant}' AND seq = 105`,
  );
  const report = await verifyChains(prisma, { tenantId: tenant });
  assert.not.ok(report.ok);
  assert.is(report.tenants[0]!.firstBad!.seq, '105');
  const py = await python(['--tenant', tenant]);
  assert.is(py.code, 1, py.out);
  assert.match(py.out, 'seq 105');
});

test('the purge path refuses: a direct DELETE, a young cutoff, no running receipt, and a role without bw_retention', async () => {
  assert.match(
    await attempt(db.url, `DELETE FROM audit_log WHERE tenant_id = $1 AND seq = 110`, [tenant]),
    'audit_log is append-only: DELETE is not allowed',
  );
  const receipt = await prisma.retentionReceipt.create({
    data: {
      runId: 'manual',
      tenantId: tenant,
      class: 'audit',
      status: 'running',
      ttlDays: 90,
      cutoff: new Date(),
      policy: {},
    },
  });
  const young = await attempt(db.url, 'SELECT * FROM audit_purge($1, $2, false, $3, 10)', [
    tenant,
    receipt.id,
    receipt.cutoff,
  ]);
  assert.match(young, 'is younger than tenant');
  const other = await attempt(db.url, 'SELECT * FROM audit_purge($1, gen_random_uuid(), false, $2, 10)', [
    tenant,
    new Date(Date.now() - 100 * 86_400_000),
  ]);
  assert.match(other, 'running audit receipt');
  const plain = await createRole(db.url);
  const member = await createRole(db.url, '');
  await superuserQuery(db.url, `GRANT bw_retention TO ${member.name}`);
  try {
    assert.match(
      await attempt(plain.url, 'SELECT * FROM audit_purge($1, $2, false, $3, 10)', [
        tenant,
        receipt.id,
        new Date(Date.now() - 100 * 86_400_000),
      ]),
      'permission denied for function audit_purge',
    );
    assert.match(await attempt(plain.url, 'DELETE FROM audit_log WHERE tenant_id = $1', [tenant]), 'append-only');
    assert.match(
      await attempt(member.url, 'SELECT * FROM audit_purge($1, $2, false, $3, 10)', [
        tenant,
        receipt.id,
        receipt.cutoff,
      ]),
      'is younger than tenant',
    );
    assert.match(
      await attempt(member.url, 'DELETE FROM audit_log WHERE tenant_id = $1', [tenant]),
      'append-only',
      'membership allows the function, never a DELETE',
    );
    assert.match(await attempt(member.url, 'SET ROLE bw_audit_purger'), 'permission denied to set role');
  } finally {
    await superuserQuery(db.url, `DELETE FROM retention_receipts WHERE id = $1`, [receipt.id]);
    await plain.drop();
    await member.drop();
  }
});

test.run();
