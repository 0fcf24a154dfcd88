/**
 * bench:privacy-export: one subject's export from a tenant of BENCH_ENTRIES audit entries
 * (default 200,000), BENCH_SUBJECT_PCT (50) percent of them naming the subject (half as
 * actor, half inside metadata), on the real Postgres and an s3rver of its own. Rows are
 * seeded by SQL (fake hashes, the chain head moved past them): the export reads, it
 * does not verify. Each of BENCH_ROUNDS rounds (2) times, alternating:
 *   - raw: the same rows by the same condition through a cursor as row_to_json lines,
 *     gzipped in memory, one PUT (what a hand-written export would do);
 *   - Bulwark: exportSubject (counts, NDJSON members, tar, gzip, multipart, manifest,
 *     audit entry, presigned link).
 * Reports entries/s of each, their ratio, and the largest heap growth seen while each
 * ran (sampled every 20 ms): the raw export holds the whole bundle, Bulwark one part.
 */
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { createPrisma } from '../lib/clients/prisma.js';
import { createStorage, ensureBuckets } from '../lib/clients/storage.js';
import { loadConfig } from '../lib/config.js';
import { exportSubject } from '../lib/privacy/export.js';
import { BUILT_IN_PERSONAL_FIELDS } from '../lib/privacy/fields.js';
import { auditSubjectCondition, subjectParams } from '../lib/privacy/subject-match.js';

// The raw export selects by the same rule as Bulwark's (the built-in personal-data fields).
const AUDIT_SUBJECT_CONDITION = auditSubjectCondition(BUILT_IN_PERSONAL_FIELDS);
import { createTenant } from '../lib/tenants/tenants.js';
import { createTestDatabase } from '../test/helpers/db.js';
import { startS3Server } from '../test/helpers/s3.js';
import { envInt, fmtInt, log } from './util.js';

const ENTRIES = envInt('BENCH_ENTRIES', 200_000);
const SUBJECT_PCT = envInt('BENCH_SUBJECT_PCT', 50);
const ROUNDS = envInt('BENCH_ROUNDS', 2);
const SUBJECT = 'jane.doe@example.com';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Run fn, sampling heapUsed; returns seconds and the largest growth over the start, in MB. */
async function measured(fn: () => Promise<void>): Promise<{ s: number; heapMb: number }> {
  global.gc?.();
  const base = process.memoryUsage().heapUsed;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 20);
  const t0 = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  return { s: (performance.now() - t0) / 1000, heapMb: (peak - base) / 1e6 };
}

async function seed(url: string, tenantId: string): Promise<number> {
  const every = Math.max(1, Math.round(100 / SUBJECT_PCT));
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const head = Number(
      (await c.query('SELECT last_seq FROM audit_chain_heads WHERE tenant_id = $1', [tenantId])).rows[0].last_seq,
    );
    await c.query(
      `INSERT INTO audit_log (tenant_id, seq, event_id, occurred_at, recorded_at, actor_type, actor_id, action,
                              resource_type, resource_id, metadata, ip, user_agent, prev_hash, hash)
       SELECT $1, $2 + i, 'bench-' || i, now(), now(), 'user',
              CASE WHEN i % $4 = 0 AND i % 2 = 0 THEN $3 ELSE 'user-' || (i % 997) END, 'task:updated', 'task', 'task-' || i,
              jsonb_build_object('note', 'entry ' || i, 'to', CASE WHEN i % $4 = 0 AND i % 2 = 1 THEN $3 ELSE 'someone' END),
              '198.51.100.7', 'bench', repeat('0', 64), repeat('0', 64)
         FROM generate_series(1, $5) i`,
      [tenantId, head, SUBJECT, every, ENTRIES],
    );
    await c.query('UPDATE audit_chain_heads SET last_seq = $2 WHERE tenant_id = $1', [tenantId, head + ENTRIES]);
    await c.query('ANALYZE audit_log');
    const p = subjectParams('audit', tenantId, SUBJECT);
    return Number(
      (await c.query(`SELECT count(*) FROM audit_entries r WHERE ${AUDIT_SUBJECT_CONDITION}`, p)).rows[0].count,
    );
  } finally {
    await c.end();
  }
}

async function rawExport(url: string, tenantId: string, put: (key: string, body: Buffer) => Promise<unknown>) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    await c.query(
      `DECLARE raw NO SCROLL CURSOR FOR SELECT row_to_json(r)::text AS j FROM audit_entries r WHERE ${AUDIT_SUBJECT_CONDITION} ORDER BY r.seq`,
      subjectParams('audit', tenantId, SUBJECT),
    );
    const lines: string[] = [];
    for (;;) {
      const { rows } = await c.query<{ j: string }>('FETCH 1000 FROM raw');
      if (!rows.length) break;
      for (const r of rows) lines.push(r.j);
    }
    await c.query('COMMIT');
    await put(`raw/${Date.now()}.ndjson.gz`, gzipSync(`${lines.join('\n')}\n`));
  } finally {
    await c.end();
  }
}

async function main(): Promise<void> {
  const s3 = await startS3Server();
  const storage = createStorage(loadConfig(s3.env).storage);
  const db = await createTestDatabase('bench_privacy');
  const prisma = createPrisma({ databaseUrl: db.url }, { max: 2 });
  try {
    await ensureBuckets(storage);
    const tenantId = (await createTenant(prisma, { name: 'bench-privacy' })).id;
    const matching = await seed(db.url, tenantId);
    log(`${fmtInt(ENTRIES).trim()} entries, ${fmtInt(matching).trim()} naming the subject; ${ROUNDS} rounds`);
    const raw: number[] = [];
    const mine: number[] = [];
    const rawHeap: number[] = [];
    const mineHeap: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const r = await measured(() =>
        rawExport(db.url, tenantId, (key, body) => storage.client.putObject(storage.bucket, key, body, body.length)),
      );
      raw.push(matching / r.s);
      rawHeap.push(r.heapMb);
      let bytes = 0;
      const m = await measured(async () => {
        const e = await exportSubject(
          { prisma, storage, databaseUrl: db.url },
          { tenantId, subject: SUBJECT, actor: { type: 'user', id: 'bench' } },
        );
        if (e.counts.auditEntries !== matching) throw new Error(`exported ${e.counts.auditEntries} of ${matching}`);
        bytes = e.bytes;
      });
      mine.push(matching / m.s);
      mineHeap.push(m.heapMb);
      log(
        `round ${round + 1}: raw ${fmtInt(raw.at(-1)!)} entries/s (heap +${r.heapMb.toFixed(0)} MB), Bulwark ${fmtInt(mine.at(-1)!)} entries/s (heap +${m.heapMb.toFixed(0)} MB, bundle ${(bytes / 1e6).toFixed(1)} MB)`,
      );
    }
    log(
      `median: raw ${fmtInt(median(raw))} entries/s, Bulwark ${fmtInt(median(mine))} entries/s, ratio ${(median(mine) / median(raw)).toFixed(2)}; ` +
        `largest heap growth: raw +${Math.max(...rawHeap).toFixed(0)} MB, Bulwark +${Math.max(...mineHeap).toFixed(0)} MB`,
    );
  } finally {
    await prisma.$disconnect();
    await db.drop();
    await s3.stop();
  }
}

await main();
