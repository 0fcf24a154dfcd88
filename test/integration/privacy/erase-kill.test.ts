// Subject erasure killed with SIGKILL in the middle (a `bulwark subject erase` process,
// after some batches committed): every committed batch is whole (records and deletions
// together), the chain verifies at once, and the next run completes the erasure,
// resuming the same run (its counts accumulate) with one closing audit entry.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { encodeEntry } from '../../../lib/audit/encode.js';
import { prepareEntry } from '../../../lib/audit/entry.js';
import { commitEntries } from '../../../lib/audit/store.js';
import { verifyChains } from '../../../lib/audit/verify.js';
import { generateSigningKey } from '../../../lib/checkpoints/keys.js';
import type { PrismaClient } from '../../../lib/clients/prisma.js';
import { auditEntrySchema } from '../../../lib/contracts/audit.js';
import { eraseSubject } from '../../../lib/privacy/erase.js';
import { erasureKeys, requireErasureSigner } from '../../../lib/privacy/erasure-record.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createTestDatabaseWithPrisma, databaseTeardown, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { startRetentionStore, type RetentionStore } from '../../helpers/retention-store.js';

const BIN = fileURLToPath(new URL('../../../bin/bulwark.js', import.meta.url));
const KEY = generateSigningKey();
const keys = erasureKeys({ erasureSigningKey: KEY, erasurePublicKeys: undefined });
const N = 20_000;

let db: TestDatabase;
let prisma: PrismaClient;
let pool: pg.Pool;
let store: RetentionStore;
let tenantId: string;
const subject = `carol-${randomBytes(4).toString('hex')}`;

test.before(
  setup(async () => {
    ({ db, prisma } = await createTestDatabaseWithPrisma(2));
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    store = await startRetentionStore();
    tenantId = (await createTenant(prisma, { name: `erase-kill-${randomBytes(3).toString('hex')}` })).id;
    for (let i = 0; i < N; i += 2000) {
      const entries = Array.from({ length: 2000 }, (_, j) =>
        encodeEntry(
          prepareEntry(
            auditEntrySchema.parse({
              tenantId,
              eventId: randomUUID(),
              occurredAt: new Date().toISOString(),
              actorType: 'user',
              actorId: (i + j) % 2 ? subject : `someone-${j}`,
              action: 'task:updated',
              resourceType: 'task',
              metadata: { by: subject },
            }),
          ),
        ),
      );
      await commitEntries(pool, entries);
    }
  }),
);

test.after(
  cleanup([
    ['close pool', () => pool?.end()],
    ['stop store', () => store?.stop()],
    ...databaseTeardown(() => ({ db, prisma })),
  ]),
);

const progress = async () =>
  (
    await superuserQuery(
      db.url,
      `SELECT status, (counts->>'format2')::int AS n FROM subject_erasures WHERE tenant_id = $1`,
      [tenantId],
    )
  ).rows[0] as { status: string; n: number | null } | undefined;

test('SIGKILL mid-erasure: the chain verifies, the next run completes it', async () => {
  const child = spawn(
    process.execPath,
    [BIN, 'subject', 'erase', '--tenant', tenantId, '--subject', subject, '--reason', 'art. 17 request #99'],
    {
      env: { ...process.env, ...store.env, DATABASE_URL: db.url, ERASURE_SIGNING_KEY: KEY, LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    },
  );
  const exited = new Promise((r) => child.on('exit', r));
  await waitFor(async () => ((await progress())?.n ?? 0) > 0, 'a first committed batch', 120_000, 10);
  child.kill('SIGKILL');
  await exited;
  const mid = await progress();
  assert.is(mid?.status, 'running');
  assert.ok(mid!.n! > 0 && mid!.n! < N, `killed after ${mid?.n} of ${N}`);
  const erasedRows = (
    await superuserQuery(db.url, 'SELECT count(*)::int AS n FROM audit_erasures WHERE tenant_id = $1', [tenantId])
  ).rows[0].n;
  assert.is(erasedRows, mid!.n, 'every committed batch is whole: records = counts');
  assert.ok((await verifyChains(prisma, { erasureKeys: keys.verifiers })).ok, 'verifies right after the kill');

  const r = await eraseSubject(
    { prisma, storage: store.storage, signer: requireErasureSigner(keys) },
    { tenantId, subject, reason: 'art. 17 request #99' },
    { type: 'user', id: 'dpo' },
  );
  assert.is(r.entries.format2, N, 'the counts add up across both runs');
  const report = await verifyChains(prisma, { erasureKeys: keys.verifiers });
  assert.ok(report.ok, JSON.stringify(report.tenants));
  assert.is(report.tenants.find((t) => t.tenantId === tenantId)?.erased, N);
  const closing = await superuserQuery(
    db.url,
    `SELECT metadata FROM audit_entries WHERE tenant_id = $1 AND action = 'privacy:subject-erased'`,
    [tenantId],
  );
  assert.is(closing.rows.length, 1);
  assert.is(closing.rows[0].metadata.resumed, true);
  assert.is((await progress())?.status, 'done');
});

test.run();
