/**
 * Child-process entry of bench:fairness's floor: perfect isolation with the raw parts.
 * Each tenant has a BullMQ queue of its own (`floor-a`, `floor-b` under QUEUE_PREFIX), a
 * plain Worker of its own and Postgres connections of its own, so no dispatch decides
 * anything: what B still loses while A's backlog runs is what sharing the machine,
 * Redis and Postgres costs. A job's work is one INSERT of its entries (or one alert row)
 * into FLOOR_TABLE, as plain rows with no chain, hash or ledger logic, and its tenant's
 * done count in FLOOR_TABLE_done raised in the same statement (as Bulwark's chain head).
 * Sends {event:'started'} once both workers are ready; on {cmd:'stop'} closes and exits.
 */
import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';

if (!process.send) throw new Error('bench/fairness-floor-child.ts must be started with an IPC channel (fork)');
const send = (msg: object) => new Promise<void>((resolve) => process.send!(msg, undefined, {}, () => resolve()));

const env = (name: string) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};
const table = env('FLOOR_TABLE');
if (!/^[a-z_][a-z0-9_]*$/.test(table)) throw new Error(`FLOOR_TABLE is not a plain identifier: ${table}`);
const prefix = env('QUEUE_PREFIX');
// As Bulwark's queues: audit writes hold up to AUDIT_ENTRIES_IN_FLIGHT (4,000) entries,
// so 4 jobs of 1,000; alerts run 20 at once.
const concurrency = Number(process.env.FLOOR_CONCURRENCY ?? 4);

interface FloorJob {
  tenant: string;
  entries: Array<{ id: string; entry: unknown }>;
}

const insert = (db: pg.Pool) => async (job: Job<FloorJob>) => {
  const { tenant, entries } = job.data;
  await db.query(
    `WITH rows AS (INSERT INTO ${table} (tenant, id, entry)
       SELECT $1, e->>'id', e->'entry' FROM jsonb_array_elements($2::jsonb) AS e RETURNING 1)
     INSERT INTO ${table}_done (tenant, n) SELECT $1, count(*) FROM rows
     ON CONFLICT (tenant) DO UPDATE SET n = ${table}_done.n + EXCLUDED.n`,
    [tenant, JSON.stringify(entries)],
  );
};

const lanes = ['a', 'b'].map((lane) => {
  const connection = new Redis(env('REDIS_URL'), { maxRetriesPerRequest: null });
  const db = new pg.Pool({ connectionString: env('DATABASE_URL'), max: lane === 'a' ? concurrency : 2 });
  const worker = new Worker<FloorJob>(`floor-${lane}`, insert(db), { connection, prefix, concurrency });
  return { connection, db, worker };
});
await Promise.all(lanes.map((l) => l.worker.waitUntilReady()));
await send({ event: 'started', t0: Date.now(), pid: process.pid });

async function stop(): Promise<void> {
  for (const l of lanes) {
    await l.worker.close();
    await l.db.end();
    await l.connection.quit().catch(() => l.connection.disconnect());
  }
  process.exit(0);
}
process.on('message', (msg: unknown) => {
  if (typeof msg === 'object' && msg !== null && (msg as { cmd?: unknown }).cmd === 'stop') void stop();
});
process.on('disconnect', () => void stop());
