/**
 * The sweep: the safety net under group flushes and digests. A grouped row waits for
 * its group's flush job, a deferred row for its tenant's digest job; a member recorded
 * just after the flush read its group, or a job lost to something outside Bulwark,
 * would leave rows waiting for ever. Every minute (the scheduler's `alert-sweep`), rows
 * still grouped or deferred a minute past their time get a flush or digest of their
 * own. Alerts left undecided or still delivering after an hour are reported (log event
 * `alert_stale`), so nothing waits without a trace.
 */
import type pg from 'pg';
import type { Queue } from 'bullmq';
import type { Logger } from '../../lib/logger.js';
import { deliveryJobOpts } from './deliver-jobs.js';

export interface SweepDeps {
  pg: Pick<pg.Pool, 'query'>;
  deliveries: Queue;
  logger: Logger;
  clock: () => Date;
}

/** How long past its flush or digest time a row may wait before the sweep sends it. */
export const SWEEP_GRACE_MS = 60_000;
/** How long an alert may stay received or delivering before the sweep reports it. */
export const STALE_AFTER_MS = 3_600_000;
/** Most groups and tenants taken per sweep; the rest wait for the next minute. */
const LIMIT = 500;

export interface SweepResult {
  groups: number;
  digests: number;
  stale: { received: number; delivering: number };
}

export async function sweep(deps: SweepDeps): Promise<SweepResult> {
  const now = deps.clock();
  const due = new Date(now.getTime() - SWEEP_GRACE_MS);
  // One sweep job id per group or tenant per minute: a sweep run again in the same
  // minute adds nothing, the next minute's sweep tries again.
  const minute = Math.floor(now.getTime() / 60_000);
  const [groups, digests, stale] = await Promise.all([
    deps.pg.query<{ tenant_id: string; group_id: string }>(
      `SELECT tenant_id::text, group_id::text FROM alert_ledger
        WHERE outcome = 'grouped' AND defer_until < $1 AND group_id IS NOT NULL
        GROUP BY tenant_id, group_id LIMIT ${LIMIT}`,
      [due],
    ),
    deps.pg.query<{ tenant_id: string; until: Date }>(
      `SELECT tenant_id::text, max(defer_until) AS until FROM alert_ledger
        WHERE outcome = 'deferred' AND defer_until < $1
        GROUP BY tenant_id LIMIT ${LIMIT}`,
      [due],
    ),
    deps.pg.query<{ outcome: string; n: number }>(
      `SELECT outcome, count(*)::int AS n FROM alert_ledger
        WHERE outcome IN ('received', 'delivering') AND received_at < $1 GROUP BY outcome`,
      [new Date(now.getTime() - STALE_AFTER_MS)],
    ),
  ]);
  const jobs = [
    ...groups.rows.map((g) => ({ name: 'group-flush', data: { v: 1, tenantId: g.tenant_id, groupId: g.group_id }, opts: { ...deliveryJobOpts, jobId: `group-${g.group_id}-sweep-${minute}` } })),
    ...digests.rows.map((d) => ({ name: 'digest', data: { v: 1, tenantId: d.tenant_id, until: d.until.toISOString() }, opts: { ...deliveryJobOpts, jobId: `digest-${d.tenant_id}-${d.until.getTime()}-sweep-${minute}` } })),
  ];
  if (jobs.length > 0) {
    await deps.deliveries.addBulk(jobs);
    deps.logger.warn({ event: 'alert_sweep', groups: groups.rows.length, digests: digests.rows.length }, 'grouped or deferred alerts past their time: flush and digest queued again');
  }
  const count = (outcome: string) => stale.rows.find((r) => r.outcome === outcome)?.n ?? 0;
  const result = { groups: groups.rows.length, digests: digests.rows.length, stale: { received: count('received'), delivering: count('delivering') } };
  if (result.stale.received + result.stale.delivering > 0) {
    deps.logger.warn({ event: 'alert_stale', received: result.stale.received, delivering: result.stale.delivering, older_than_ms: STALE_AFTER_MS }, 'alerts undecided or still delivering after an hour');
  }
  return result;
}
