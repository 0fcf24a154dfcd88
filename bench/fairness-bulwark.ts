/**
 * bench:fairness's Bulwark lanes: Bulwark's workers in a child process (the compiled
 * build), tenants A and B sending through the real producer, with fair dispatch or
 * without it (plain BullMQ FIFO). Done: an audit row committed, an alert decided.
 */
import type { ChildProcess } from 'node:child_process';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ALERT_QUEUE } from '../lib/contracts/alert.js';
import { AUDIT_WRITE_QUEUE } from '../lib/contracts/audit.js';
import type pg from 'pg';
import { createProducer } from '../producers/index.js';
import { startChild, stopChild } from './bulwark.js';
import type { BStages, FairLanes, FairPhaseOptions } from './fairness-phase.js';

/** B's stages from the completed BullMQ jobs still kept (FairLanes.stagesB). */
async function stagesOf(o: FairPhaseOptions, prefix: string, sentAt: Map<string, number>): Promise<BStages> {
  const connection = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(o.kind === 'audit' ? AUDIT_WRITE_QUEUE : ALERT_QUEUE, { connection, prefix });
  try {
    const stages: BStages = { parked: [], waiting: [], running: [] };
    for (const job of await queue.getJobs(['completed'], 0, 999)) {
      const data = job.data as { entries?: Array<{ eventId?: string }>; alert?: { id?: string } };
      const sent = sentAt.get(data.entries?.[0]?.eventId ?? data.alert?.id ?? '');
      if (sent === undefined || !job.processedOn || !job.finishedOn) continue;
      stages.parked.push(job.timestamp - sent);
      stages.waiting.push(job.processedOn - job.timestamp);
      stages.running.push(job.finishedOn - job.processedOn);
    }
    return stages;
  } finally {
    await queue.close();
    await connection.quit();
  }
}

export const benchAuditEntry = (tenantId: string, eventId: string) => ({
  tenantId,
  eventId,
  actorType: 'service' as const,
  actorId: 'bench',
  action: 'bench:write',
  resourceType: 'bench',
  resourceId: eventId,
  metadata: { note: 'fairness bench' },
});

async function doneIds(db: pg.Client, kind: 'audit' | 'alert', tenant: string): Promise<string[]> {
  const sql =
    kind === 'audit'
      ? `SELECT event_id AS id FROM audit_log WHERE tenant_id = $1 AND action = 'bench:write'`
      : `SELECT id::text AS id FROM alert_ledger WHERE tenant_id = $1 AND outcome <> 'received'`;
  return (await db.query<{ id: string }>(sql, [tenant])).rows.map((r) => r.id);
}

async function doneCount(db: pg.Client, kind: 'audit' | 'alert', tenant: string): Promise<number> {
  const sql =
    kind === 'audit'
      ? `SELECT last_seq AS n FROM audit_chain_heads WHERE tenant_id = $1`
      : `SELECT count(*)::int AS n FROM alert_ledger WHERE tenant_id = $1 AND outcome <> 'received'`;
  return Number((await db.query<{ n: number }>(sql, [tenant])).rows[0]?.n ?? 0);
}

export async function startBulwarkLanes(o: FairPhaseOptions, prefix: string): Promise<FairLanes> {
  const producer = createProducer({ redisUrl: o.redisUrl, queuePrefix: prefix, fair: o.system === 'fair' });
  let child: ChildProcess | undefined;
  try {
    const started = await startChild({ ...o, cpuProfDir: undefined }, prefix);
    child = started.child;
    await started.started;
  } catch (err) {
    if (child) await stopChild(child);
    await producer.close();
    throw err;
  }
  const worker = child;
  return {
    sendA: (j, entries) =>
      o.kind === 'audit'
        ? producer.audit.writeMany(
            Array.from({ length: entries }, (_x, k) => benchAuditEntry(o.a, `${o.label}-a-${j}-${k}`)),
          )
        : producer.alert.send({ tenantId: o.a, type: 'bench.load', severity: 'warning', title: `A ${o.label} ${j}` }),
    sendB: async (i) => {
      const id = `${o.label}-b-${i}`;
      if (o.kind === 'audit') {
        await producer.audit.write(benchAuditEntry(o.b, id));
        return id;
      }
      const sent = await producer.alert.send({ tenantId: o.b, type: `bench.b${i}`, severity: 'warning', title: id });
      return sent.alertId;
    },
    doneIdsB: () => doneIds(o.db, o.kind, o.b),
    doneCountA: () => doneCount(o.db, o.kind, o.a),
    stagesB: (sentAt) => stagesOf(o, prefix, sentAt),
    close: async () => {
      await stopChild(worker);
      await producer.close();
    },
  };
}
