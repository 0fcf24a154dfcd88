// A purge killed with SIGKILL half-way is finished by the next run under the same
// receipt, with nothing deleted twice; a purge running while the same tenant's audit
// writes go on keeps every young entry and leaves a chain that verifies.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { recordAuditEntriesInTx } from '../../../lib/audit/record.js';
import { runTenantRetention } from '../../../lib/retention/run.js';
import { verifyChains } from '../../../lib/audit/verify.js';
import type { PrismaClient } from '../../../lib/clients/prisma.js';
import { createTestDatabaseWithPrisma, databaseTeardown, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { withTimeout } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { daysAgo, entryAt, seedEntries } from '../../helpers/retention.js';

let db: TestDatabase;
let prisma: PrismaClient;
const CHILD = fileURLToPath(new URL('../../helpers/retention-child.ts', import.meta.url));
const OLD = 6000;

test.before(
  setup(async () => {
    ({ db, prisma } = await createTestDatabaseWithPrisma(4));
  }),
);
test.after(cleanup(databaseTeardown(() => ({ db, prisma }))));

const q = async (sql: string, params: unknown[] = []) => (await superuserQuery(db.url, sql, params)).rows;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('SIGKILL in the middle of a purge: the next run finishes the same receipt, nothing is deleted twice', async () => {
  const tenant = (await createTenant(prisma, { name: 'killed' })).id;
  await seedEntries(prisma, OLD, () => entryAt(tenant, daysAgo(120)));
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, db.url, tenant], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Killed once it has committed some batches, but long before it is done.
  await withTimeout(
    (async () => {
      for (;;) {
        const [r] = await q(
          `SELECT deleted::int AS n FROM retention_receipts WHERE tenant_id = $1 AND class = 'audit'`,
          [tenant],
        );
        if (r && r.n >= 500) return;
        if (child.exitCode !== null) throw new Error(`the child finished before it could be killed: ${stderr}`);
        await sleep(20);
      }
    })(),
    60_000,
    'the child purging some batches',
  );
  child.kill('SIGKILL');
  await exited;
  const [mid] = await q(
    `SELECT id, status, deleted::int AS n FROM retention_receipts WHERE tenant_id = $1 AND class = 'audit'`,
    [tenant],
  );
  assert.is(mid.status, 'running');
  assert.ok(mid.n < OLD, `killed with ${mid.n} of ${OLD} deleted`);
  const [gone] = await q(
    `SELECT ${OLD} - count(*)::int AS n FROM audit_log WHERE tenant_id = $1 AND action = 'task:done'`,
    [tenant],
  );
  assert.is(gone.n, mid.n, 'the receipt accounts for exactly the rows gone when the process died');
  const out = (await runTenantRetention(prisma, tenant, { classes: ['audit'], runId: 'next-run' }))[0]!;
  assert.ok(out.resumed);
  assert.is(out.receiptId, mid.id, 'the same receipt is finished');
  assert.is(out.deleted, OLD - mid.n, 'the next run deletes only what was left');
  const receipts = await q(
    `SELECT status, deleted::int AS n, run_id FROM retention_receipts WHERE tenant_id = $1 AND class = 'audit'`,
    [tenant],
  );
  assert.equal(receipts, [{ status: 'done', n: OLD, run_id: 'killed-run' }]);
  const gaps = await q(`SELECT sum(entries)::int AS n FROM audit_chain_gaps WHERE tenant_id = $1`, [tenant]);
  assert.is(gaps[0].n, OLD);
  const report = await verifyChains(prisma, { tenantId: tenant });
  assert.ok(report.ok, JSON.stringify(report));
});

test('purging while the same tenant writes at full speed: every young entry stays, the chain verifies', async () => {
  const tenant = (await createTenant(prisma, { name: 'busy' })).id;
  await seedEntries(prisma, 3000, (i) => entryAt(tenant, daysAgo(100), { eventId: `old-${i}` }));
  let writing = true;
  let written = 0;
  const writer = (async () => {
    while (writing) {
      const batch = Array.from({ length: 50 }, (_, i) =>
        entryAt(tenant, new Date().toISOString(), { eventId: `young-${written + i}` }),
      );
      await prisma.$transaction((tx) => recordAuditEntriesInTx(tx, batch));
      written += batch.length;
    }
  })();
  const out = (await runTenantRetention(prisma, tenant, { classes: ['audit'], batchSize: 100 }))[0]!;
  writing = false;
  await withTimeout(writer, 30_000, 'the writer stopping');
  assert.ok(written > 0);
  assert.is(out.deleted, 3000);
  const [young] = await q(`SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1 AND event_id LIKE 'young-%'`, [
    tenant,
  ]);
  assert.is(young.n, written, 'no entry younger than the cutoff went');
  const [old] = await q(`SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1 AND event_id LIKE 'old-%'`, [
    tenant,
  ]);
  assert.is(old.n, 0);
  const report = await verifyChains(prisma, { tenantId: tenant });
  assert.ok(report.ok, JSON.stringify(report));
});

test.run();
