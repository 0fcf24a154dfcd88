/**
 * `npm run bench:privacy`: erasable audit entries, each figure against its baseline in
 * the same run.
 *
 * 1. Write throughput: entries encoded and committed through the group commit's store
 *    path (encodeEntry + commitEntries, BENCH_BATCH entries per transaction, the size
 *    the group committer reaches under load) in format 1 and format 2, alternating
 *    rounds on the same database, BENCH_WRITE_ENTRIES per format. Target: format 2
 *    ≥ 0.9 × format 1 (personal data goes to a second table in the same transaction).
 * 2. Erasure: one tenant with BENCH_ROWS format-2 entries (default 1,000,000), of which
 *    BENCH_SUBJECT_ROWS (default 10,000) name the subject (as actor and inside
 *    metadata); eraseSubject end to end (find, hold check, signed records, deletion,
 *    closing entry). Target: under 10 s. Then the chain is verified.
 * The machine is shared: compare the ratio, rerun before relying on absolute figures.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { encodeEntry } from '../lib/audit/encode.js';
import { prepareEntry } from '../lib/audit/entry.js';
import { commitEntries } from '../lib/audit/store.js';
import { verifyTenantChain } from '../lib/audit/verify.js';
import { generateSigningKey } from '../lib/checkpoints/keys.js';
import { createPrisma } from '../lib/clients/prisma.js';
import { createStorage, ensureBuckets } from '../lib/clients/storage.js';
import { loadConfig } from '../lib/config.js';
import { auditEntrySchema, type AuditEntry } from '../lib/contracts/audit.js';
import { eraseSubject } from '../lib/privacy/erase.js';
import { erasureKeys, requireErasureSigner } from '../lib/privacy/erasure-record.js';
import { createTenant } from '../lib/tenants/tenants.js';
import { createTestDatabase } from '../test/helpers/db.js';
import { startS3Server, type S3Server } from '../test/helpers/s3.js';
import { envInt, fmtInt, log } from './util.js';

const BATCH = envInt('BENCH_BATCH', 2000);
const WRITE_ENTRIES = envInt('BENCH_WRITE_ENTRIES', 100_000);
const ROUNDS = envInt('BENCH_ROUNDS', 5);
const ROWS = envInt('BENCH_ROWS', 1_000_000);
const SUBJECT_ROWS = envInt('BENCH_SUBJECT_ROWS', 10_000);

function entry(tenantId: string, i: number, actorId: string, subject?: string): AuditEntry {
  return auditEntrySchema.parse({
    tenantId,
    eventId: randomUUID(),
    occurredAt: new Date().toISOString(),
    actorType: 'user',
    actorId,
    action: 'task:updated',
    resourceType: 'task',
    resourceId: `t-${i % 997}`,
    before: { status: 'open', n: i, tags: ['a', 'b'] },
    after: { status: 'done', n: i + 1, tags: ['a', 'b', 'c'], by: subject ?? actorId },
    metadata: { source: 'bench', requestedBy: subject ?? `user-${i % 5000}` },
    ip: '10.0.0.1',
    userAgent: 'bench/1.0',
  });
}

async function writeRound(pool: pg.Pool, tenantId: string, format: 1 | 2, n: number): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, n - i) }, (_, j) =>
      encodeEntry(prepareEntry(entry(tenantId, i + j, `user-${(i + j) % 5000}`)), { format }),
    );
    await commitEntries(pool, batch);
  }
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function main(): Promise<void> {
  const db = await createTestDatabase('bulwark_bench_privacy');
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const prisma = createPrisma({ databaseUrl: db.url }, { max: 2 });
  let s3: S3Server | undefined;
  try {
    // 1. Write throughput, format 1 against format 2, alternating.
    const writer = (await createTenant(prisma, { name: 'bench-write' })).id;
    const per = Math.ceil(WRITE_ENTRIES / ROUNDS);
    const secs = { 1: 0, 2: 0 };
    await writeRound(pool, writer, 2, BATCH); // warm-up
    for (let r = 0; r < ROUNDS; r++)
      for (const f of r % 2 ? ([2, 1] as const) : ([1, 2] as const)) secs[f] += await writeRound(pool, writer, f, per);
    const rate1 = (per * ROUNDS) / secs[1];
    const rate2 = (per * ROUNDS) / secs[2];
    log(`write format 1: ${fmtInt(rate1)} entries/s; format 2: ${fmtInt(rate2)} entries/s`);
    log(`write ratio format 2 / format 1: ${(rate2 / rate1).toFixed(2)} (target >= 0.9)`);

    // 2. Erasure of one subject among ROWS entries.
    const tenantId = (await createTenant(prisma, { name: 'bench-erase' })).id;
    const subject = `subject-${randomUUID()}@example.com`;
    const every = Math.max(1, Math.floor(ROWS / SUBJECT_ROWS));
    const seedStart = Date.now();
    for (let i = 0; i < ROWS; i += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, ROWS - i) }, (_, j) => {
        const k = i + j;
        const named = k % every === 0 && k / every < SUBJECT_ROWS;
        return encodeEntry(
          prepareEntry(entry(tenantId, k, named ? subject : `user-${k % 5000}`, named ? subject : undefined)),
        );
      });
      await commitEntries(pool, batch);
      if (i % 100_000 === 0) log(`seeded ${fmtInt(i)} of ${fmtInt(ROWS)}`);
    }
    await pool.query('ANALYZE');
    log(`seeded ${fmtInt(ROWS)} entries in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);
    const signer = requireErasureSigner(
      erasureKeys({ erasureSigningKey: generateSigningKey(), erasurePublicKeys: undefined }),
    );
    if (process.env.BENCH_KEEP) return;
    // An s3rver of its own, empty: erasure lists the tenant's objects and export bundles.
    s3 = await startS3Server();
    const storage = createStorage(loadConfig(s3.env).storage);
    await ensureBuckets(storage);
    const t0 = Date.now();
    const r = await eraseSubject(
      { prisma, storage, signer },
      { tenantId, subject, reason: 'bench' },
      { type: 'system', id: 'bench' },
    );
    const took = (Date.now() - t0) / 1000;
    const erased = r.entries.format1 + r.entries.format2;
    log(`erasure: ${fmtInt(erased)} entries among ${fmtInt(ROWS)} in ${took.toFixed(2)} s (target < 10 s)`);
    const v = await verifyTenantChain(prisma, tenantId, 5000, undefined, [signer.publicKey]);
    log(
      `chain after erasure: ${v.ok ? 'intact' : `BROKEN ${JSON.stringify(v.firstBad)}`} (${fmtInt(v.erased ?? 0)} erased)`,
    );
  } finally {
    await pool.end();
    await prisma.$disconnect();
    await s3?.stop();
    if (!process.env.BENCH_KEEP) await db.drop();
    else log(`kept ${db.url}`);
  }
}

await main();
