/**
 * The sweep: the safety net under group flushes and digests. A grouped row waits for
 * its group's flush job, a deferred row for its tenant's digest job; a member recorded
 * just after the flush read its group, or a job lost to something outside Bulwark,
 * would leave rows waiting for ever. Every minute (the scheduler's `alert-sweep`), rows
 * still grouped or deferred a minute past their time get a flush or digest of their
 * own. Alerts received or delivering with no change for an hour are reported (log
 * event `alert_stale`, per outcome: count, tenants, the oldest ids), so nothing waits
 * without a trace; an alert sent on its own whose channel has waited that long gets
 * its `deliver` job queued again under the same job id, which recreates a job that
 * was lost and adds nothing while the job still exists (delayed, running or failed). An alert left delivering although every channel has finished (two
 * worker processes recording its channels' results at the same moment each saw the
 * other still delivering) is settled: failed if a channel failed, else delivered.
 */
import type pg from 'pg';
import type { AlertDeps } from '../deps.js';
import { digestJob, groupFlushJob } from '../../../lib/contracts/alert-delivery.js';
import { jobOf } from '../../../lib/contracts/enqueue.js';
import { deliverJob, enqueueDeliveries } from './deliver-jobs.js';
import { settleFromChannelsSql } from '../stores/ledger-sql.js';

/** How long past its flush or digest time a row may wait before the sweep sends it. */
export const SWEEP_GRACE_MS = 60_000;
/** How long an alert may stay received or delivering with no change before the sweep reports it. */
export const STALE_AFTER_MS = 3_600_000;
/** Most groups and tenants taken per sweep; the rest wait for the next minute. */
const LIMIT = 500;

export interface SweepResult {
  /** Groups flushed again. */
  groups: string[];
  /** Tenants whose deferred rows got a digest again. */
  digests: string[];
  stale: { received: number; delivering: number };
  /** Alerts settled from their channels' rows. */
  settled: number;
  /** Sends (alert and channel) whose deliver job was gone and was queued again. */
  requeued: number;
}

export async function sweep(deps: Pick<AlertDeps, 'pg' | 'deliveries' | 'logger' | 'clock'>): Promise<SweepResult> {
  const now = deps.clock();
  const due = new Date(now.getTime() - SWEEP_GRACE_MS);
  // One sweep job id per group or tenant per minute: a sweep run again in the same
  // minute adds nothing, the next minute's sweep tries again.
  const minute = Math.floor(now.getTime() / 60_000);
  const staleBefore = new Date(now.getTime() - STALE_AFTER_MS);
  const [groups, digests, stuck, settled, requeued] = await Promise.all([
    // Oldest first, so a backlog larger than LIMIT is worked off rather than starved.
    deps.pg.query<{ tenant_id: string; group_id: string }>(
      `SELECT tenant_id::text, group_id::text FROM alert_ledger
        WHERE outcome = 'grouped' AND defer_until < $1 AND group_id IS NOT NULL
        GROUP BY tenant_id, group_id ORDER BY min(defer_until) LIMIT ${LIMIT}`,
      [due],
    ),
    deps.pg.query<{ tenant_id: string; until: Date }>(
      `SELECT tenant_id::text, max(defer_until) AS until FROM alert_ledger
        WHERE outcome = 'deferred' AND defer_until < $1
        GROUP BY tenant_id ORDER BY min(defer_until) LIMIT ${LIMIT}`,
      [due],
    ),
    countStuckAlerts(deps.pg, now),
    settleFinished(deps, due),
    requeueWaitingSends(deps, staleBefore),
  ]);
  const jobs = [
    ...groups.rows.map((g) =>
      jobOf(
        groupFlushJob,
        { v: 1, tenantId: g.tenant_id, groupId: g.group_id },
        { jobId: `group-${g.group_id}-sweep-${minute}` },
      ),
    ),
    ...digests.rows.map((d) =>
      jobOf(
        digestJob,
        { v: 1, tenantId: d.tenant_id, until: d.until.toISOString() },
        { jobId: `digest-${d.tenant_id}-${d.until.getTime()}-sweep-${minute}` },
      ),
    ),
  ];
  if (jobs.length > 0) {
    await deps.deliveries.addBulk(jobs);
    deps.logger.warn(
      { event: 'alert_sweep', groups: groups.rows.length, digests: digests.rows.length },
      'grouped or deferred alerts past their time: flush and digest queued again',
    );
  }
  const result = {
    groups: groups.rows.map((g) => g.group_id),
    digests: digests.rows.map((d) => d.tenant_id),
    stale: { received: stuck.received, delivering: stuck.delivering },
    settled,
    requeued,
  };
  for (const outcome of ['received', 'delivering'] as const) {
    if (stuck[outcome] === 0) continue;
    // The 50 oldest say where to look, however large the backlog.
    const oldest = await deps.pg.query<{ tenant_id: string; id: string }>(
      `SELECT tenant_id::text, id::text FROM alert_ledger WHERE outcome = $1 AND updated_at < $2 ORDER BY updated_at LIMIT 50`,
      [outcome, staleBefore],
    );
    deps.logger.warn(
      {
        event: 'alert_stale',
        outcome,
        count: stuck[outcome],
        tenants: [...new Set(oldest.rows.map((r) => r.tenant_id))].slice(0, 10),
        alert_ids: oldest.rows.slice(0, 5).map((r) => r.id),
        unchanged_for_ms: STALE_AFTER_MS,
      },
      `alerts ${outcome} with no change for an hour`,
    );
  }
  return result;
}

/**
 * Alerts still delivering, unchanged since `before`, whose channels have all finished:
 * each gets the outcome its last channel's result would have given it.
 */
async function settleFinished(
  deps: Pick<AlertDeps, 'pg' | 'deliveries' | 'logger' | 'clock'>,
  before: Date,
): Promise<number> {
  const res = await deps.pg.query<{ id: string; tenant_id: string; outcome: string }>(
    settleFromChannelsSql('l.updated_at < $1', LIMIT),
    [before],
  );
  if (res.rows.length > 0) {
    deps.logger.warn(
      {
        event: 'alert_settled',
        count: res.rows.length,
        tenants: [...new Set(res.rows.map((r) => r.tenant_id))].slice(0, 10),
        alert_ids: res.rows.slice(0, 5).map((r) => r.id),
      },
      'alerts left delivering after every channel finished: settled from their channels',
    );
  }
  return res.rows.length;
}

/**
 * Sends still delivering with no change since `before`: their deliver job is queued
 * again under its own id (deliver-<key>-<channel>). A single alert's key is its id; a
 * group's or digest's part's is kept on its rows (job_key), and all its waiting alerts
 * go back in the one job. BullMQ adds nothing when that job still exists, so only a job
 * lost outside Bulwark (removed by hand, a Redis restored without it) comes back.
 */
async function requeueWaitingSends(
  deps: Pick<AlertDeps, 'pg' | 'deliveries' | 'logger' | 'clock'>,
  before: Date,
): Promise<number> {
  const res = await deps.pg.query<{
    tenant_id: string;
    channel_id: string;
    key: string;
    kind: 'single' | 'group' | 'digest';
    alert_ids: string[];
  }>(
    `WITH waiting AS (
       SELECT l.tenant_id, l.id, l.updated_at, d.channel_id, COALESCE(d.job_key, l.id::text) AS key,
         -- As the flush chose: a group of one member went out as a single alert's message.
         -- quiet_hours first: a group held by quiet hours at its flush keeps its group_id
         -- but went out in the digest.
         CASE WHEN l.reason = 'quiet_hours' THEN 'digest'
              WHEN l.group_id IS NULL THEN 'single'
              ELSE CASE WHEN (SELECT count(*) FROM alert_ledger g WHERE g.group_id = l.group_id) = 1 THEN 'single' ELSE 'group' END
              END AS kind
         FROM alert_ledger l JOIN alert_deliveries d ON d.alert_id = l.id
        WHERE l.outcome = 'delivering' AND d.outcome = 'delivering'
          -- A part's rows from before job_key was kept cannot name their job (runbook alerts-stuck).
          AND (d.job_key IS NOT NULL OR (l.group_id IS NULL AND l.reason IS DISTINCT FROM 'quiet_hours'))
     ), jobs AS (
       -- A job is due when any of its alerts has waited that long. In no fixed order:
       -- sends whose job still exists (a long pause, a failed job kept) would otherwise
       -- fill every look, and a lost one behind them never come back.
       SELECT key, channel_id FROM (SELECT DISTINCT key, channel_id FROM waiting WHERE updated_at < $1) k ORDER BY random() LIMIT ${LIMIT}
     )
     -- Every alert of a due job still waiting on that channel goes back in it, however
     -- recently its row changed (another channel's result): the job id is the key's,
     -- and a job queued with only some of them would be found later and never refilled.
     SELECT w.tenant_id::text, w.channel_id::text, w.key, min(w.kind) AS kind, array_agg(w.id::text ORDER BY w.id) AS alert_ids
       FROM waiting w JOIN jobs j ON j.key = w.key AND j.channel_id = w.channel_id
      GROUP BY w.tenant_id, w.channel_id, w.key`,
    [before],
  );
  const requests = res.rows.map((r) => ({
    tenantId: r.tenant_id,
    channelId: r.channel_id,
    kind: r.kind,
    alertIds: r.alert_ids,
    key: r.key,
  }));
  // Looked up first so that a send still waiting on its job (a long Retry-After) is not
  // reported every minute; adding would keep that job as it is anyway.
  const existing = await Promise.all(requests.map((r) => deps.deliveries.getJob(deliverJob(r).opts.jobId!)));
  const lost = requests.filter((_r, i) => !existing[i]);
  if (lost.length === 0) return 0;
  await enqueueDeliveries(deps.deliveries, lost);
  deps.logger.warn(
    { event: 'alert_requeued', count: lost.length, alert_ids: lost.flatMap((r) => r.alertIds).slice(0, 5) },
    'sends waiting for an hour whose deliver job was gone: queued again',
  );
  return lost.length;
}

/** How far past its flush or digest time a grouped or deferred row counts as stuck (the sweep has had several turns). */
export const OVERDUE_AFTER_MS = 5 * 60_000;

/** Alerts waiting longer than they should, by state: what bulwark_alerts_stuck reports. */
export async function countStuckAlerts(
  db: Pick<pg.Pool, 'query'>,
  now: Date,
): Promise<Record<'received' | 'delivering' | 'grouped' | 'deferred', number>> {
  const res = await db.query<{ received: number; delivering: number; grouped: number; deferred: number }>(
    `SELECT
       (SELECT count(*)::int FROM alert_ledger WHERE outcome = 'received' AND updated_at < $1) AS received,
       (SELECT count(*)::int FROM alert_ledger WHERE outcome = 'delivering' AND updated_at < $1) AS delivering,
       (SELECT count(*)::int FROM alert_ledger WHERE outcome = 'grouped' AND defer_until < $2) AS grouped,
       (SELECT count(*)::int FROM alert_ledger WHERE outcome = 'deferred' AND defer_until < $2) AS deferred`,
    [new Date(now.getTime() - STALE_AFTER_MS), new Date(now.getTime() - OVERDUE_AFTER_MS)],
  );
  return res.rows[0]!;
}
