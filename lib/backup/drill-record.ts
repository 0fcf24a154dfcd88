/**
 * The evidence of restore drills: a `restore_drills` row and a `backup:drill-passed` /
 * `backup:drill-failed` audit entry (system tenant, system actor), written in ONE
 * transaction, so there is never a drill row without its tamper-evident audit entry nor
 * an entry without its row. Also what `bulwark backup drills` lists and what the drill
 * gauges report at scrape time (read from here, so every process reports the same
 * newest drill, whichever process ran it, and a restart forgets nothing).
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { PrismaClient } from '../clients/prisma.js';
import { recordAuditInTx, SYSTEM_TENANT_ID } from '../audit/record.js';
import { DRILL_LIST_MAX } from '../limits.js';
import type { DrillGaugeValues } from '../metrics.js';
import type { DrillCheck, DrillResult } from './drill.js';

export type DrillTrigger = 'schedule' | 'cli';

export interface DrillRecord extends Omit<DrillResult, 'scratchDatabase'> {
  id: string;
  trigger: DrillTrigger;
}

/** Most drills `listDrills` returns at once. */
export { DRILL_LIST_MAX };

/** Write a drill's row and its audit entry together; returns the row's id (also the audit entry's `resourceId` detail). */
export async function recordDrill(
  prisma: PrismaClient,
  result: DrillResult,
  trigger: DrillTrigger,
): Promise<DrillRecord> {
  const id = randomUUID();
  const failed = result.checks.filter((c) => !c.ok).map((c) => c.name);
  await prisma.$transaction(async (tx) => {
    await tx.restoreDrill.create({
      data: {
        id,
        backupId: result.backupId ?? null,
        startedAt: result.startedAt,
        finishedAt: result.finishedAt,
        durationMs: result.durationMs ?? null,
        backupAgeSeconds: result.backupAgeSeconds ?? null,
        checks: result.checks as unknown as object[],
        passed: result.passed,
        error: result.error?.slice(0, 1000) ?? null,
        trigger,
      },
    });
    await recordAuditInTx(
      tx,
      {
        tenantId: SYSTEM_TENANT_ID,
        // Derived from the row: the entry is that drill's, once.
        eventId: `restore-drill-${id}`,
        occurredAt: result.finishedAt.toISOString(),
        actorType: 'system',
        actorId: trigger === 'cli' ? 'bulwark-cli' : 'bulwark-scheduler',
        action: result.passed ? 'backup:drill-passed' : 'backup:drill-failed',
        resourceType: 'backup',
        resourceId: result.backupId,
        ...(result.error ? { reason: result.error.slice(0, 4000) } : {}),
        metadata: {
          drill_id: id,
          duration_ms: result.durationMs ?? null,
          backup_age_seconds: result.backupAgeSeconds ?? null,
          checks: result.checks.length,
          failed_checks: failed,
        },
      },
      () => result.finishedAt,
    );
  });
  return { id, trigger, ...withoutScratch(result) };
}

function withoutScratch({ scratchDatabase: _, ...rest }: DrillResult): Omit<DrillResult, 'scratchDatabase'> {
  return rest;
}

/** The newest drills first. */
export async function listDrills(prisma: PrismaClient, limit = 20): Promise<DrillRecord[]> {
  const rows = await prisma.restoreDrill.findMany({
    orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
    take: Math.min(Math.max(1, limit), DRILL_LIST_MAX),
  });
  return rows.map((r) => ({
    id: r.id,
    trigger: r.trigger as DrillTrigger,
    backupId: r.backupId ?? undefined,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    durationMs: r.durationMs ?? undefined,
    backupAgeSeconds: r.backupAgeSeconds ?? undefined,
    checks: r.checks as unknown as DrillCheck[],
    passed: r.passed,
    error: r.error ?? undefined,
  }));
}

/** The backup ids a drill has restored and checked (for retention's "verified"). */
export async function drilledBackupIds(prisma: PrismaClient): Promise<Set<string>> {
  const rows = await prisma.restoreDrill.findMany({
    where: { passed: true, backupId: { not: null } },
    select: { backupId: true },
    distinct: ['backupId'],
  });
  return new Set(rows.map((r) => r.backupId!));
}

/** What the drill gauges report, one indexed read per scrape (restore_drills_started_at_idx); 0 for a drill there is not. */
export async function readDrillGauges(pool: pg.Pool): Promise<DrillGaugeValues> {
  const { rows } = await pool.query<{
    last_run: Date | null;
    last_pass: Date | null;
    duration_ms: number | null;
    age: number | null;
  }>(
    `SELECT (SELECT max(finished_at) FROM restore_drills) AS last_run,
            p.finished_at AS last_pass, p.duration_ms, p.backup_age_seconds AS age
       FROM (SELECT 1) AS one
       LEFT JOIN LATERAL (SELECT finished_at, duration_ms, backup_age_seconds FROM restore_drills
                           WHERE passed ORDER BY started_at DESC LIMIT 1) AS p ON true`,
  );
  const r = rows[0]!;
  const seconds = (d: Date | null) => (d ? d.getTime() / 1000 : 0);
  return {
    lastRun: seconds(r.last_run),
    lastSuccess: seconds(r.last_pass),
    durationSeconds: (r.duration_ms ?? 0) / 1000,
    backupAgeSeconds: r.age ?? 0,
  };
}
