/**
 * bench:fairness's floor: the fairness that the required parts alone reach here. Each
 * tenant gets perfect isolation, as no dispatch in one shared queue can: a BullMQ queue,
 * a plain Worker and Postgres connections of its own (fairness-floor-child.ts), and a
 * job's work is one INSERT of plain rows. What B's p99 and A's throughput still lose
 * beside each other is what sharing two cores, one Redis and one Postgres costs; a target
 * that this floor misses is out of reach for any scheduler on this machine.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type pg from 'pg';
import { ensureBuilt } from '../scripts/build.mjs';
import { stopChild } from './bulwark.js';
import { benchAuditEntry } from './fairness-bulwark.js';
import type { FairLanes, FairPhaseOptions } from './fairness-phase.js';

const CHILD = fileURLToPath(new URL('../dist/bench/fairness-floor-child.js', import.meta.url));

/** The floor's rows and, like Bulwark's chain heads, a done count per tenant kept with them. */
export async function createFloorTable(db: pg.Client, table: string): Promise<void> {
  await db.query(`CREATE TABLE ${table} (tenant text NOT NULL, id text NOT NULL, entry jsonb NOT NULL)`);
  await db.query(`CREATE INDEX ON ${table} (tenant)`);
  await db.query(`CREATE TABLE ${table}_done (tenant text PRIMARY KEY, n bigint NOT NULL)`);
}

async function startFloorChild(o: FairPhaseOptions, prefix: string): Promise<ChildProcess> {
  await ensureBuilt();
  const child = fork(CHILD, [], {
    env: {
      ...process.env,
      NODE_NO_WARNINGS: '1',
      DATABASE_URL: o.databaseUrl,
      REDIS_URL: o.redisUrl,
      QUEUE_PREFIX: prefix,
      FLOOR_TABLE: o.floorTable,
      FLOOR_CONCURRENCY: o.kind === 'audit' ? '4' : '20',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`floor child exited early (${code ?? signal})`)));
    child.on('message', (m: unknown) => (m as { event?: unknown }).event === 'started' && resolve());
  });
  return child;
}

export async function startFloorLanes(o: FairPhaseOptions, prefix: string): Promise<FairLanes> {
  const child = await startFloorChild(o, prefix);
  const connection = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
  const queues = { a: new Queue('floor-a', { connection, prefix }), b: new Queue('floor-b', { connection, prefix }) };
  const add = (lane: 'a' | 'b', tenant: string, ids: string[]) =>
    queues[lane].add(
      'floor',
      { tenant, entries: ids.map((id) => ({ id, entry: benchAuditEntry(tenant, id) })) },
      { removeOnComplete: true, removeOnFail: 1000 },
    );
  const count = async (tenant: string) =>
    Number(
      (await o.db.query<{ n: string }>(`SELECT n::text FROM ${o.floorTable}_done WHERE tenant = $1`, [tenant])).rows[0]
        ?.n ?? 0,
    );
  return {
    sendA: (j, entries) =>
      add(
        'a',
        o.a,
        Array.from({ length: entries }, (_x, k) => `${o.label}-a-${j}-${k}`),
      ),
    sendB: async (i) => {
      const id = `${o.label}-b-${i}`;
      await add('b', o.b, [id]);
      return id;
    },
    doneIdsB: async () =>
      (await o.db.query<{ id: string }>(`SELECT id FROM ${o.floorTable} WHERE tenant = $1`, [o.b])).rows.map(
        (r) => r.id,
      ),
    doneCountA: () => count(o.a),
    close: async () => {
      await stopChild(child);
      await Promise.all([queues.a.close(), queues.b.close()]);
      await connection.quit();
    },
  };
}
