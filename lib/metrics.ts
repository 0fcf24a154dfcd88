/**
 * Prometheus metrics. One registry per process, built by createMetrics (never the
 * global default registry, so importing this file registers nothing). Names start
 * with `bulwark_`; tenant ids are never labels (unbounded cardinality, and they are
 * identifying data).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { registerFairGauges } from './fair/metrics.js';

// No "paused" state: since BullMQ 5 the jobs of a paused queue stay "waiting" and the
// pause is a flag on the queue, reported by bulwark_queue_paused instead.
export const JOB_STATES = [
  'waiting',
  'active',
  'delayed',
  'completed',
  'failed',
  'prioritized',
  'waiting-children',
] as const;

/** Reports job counts per state, and the pause flag, per queue; registered by the worker runtime. */
export type QueueCountSource = () => Promise<Array<{ queue: string; counts: Record<string, number>; paused: boolean }>>;

/** The drill gauges' values (Unix seconds or seconds; 0 when there is no such drill). */
export interface DrillGaugeValues {
  lastSuccess: number;
  lastRun: number;
  durationSeconds: number;
  backupAgeSeconds: number;
}

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'bulwark_' });
  // prom-client's `*_total` gauges break the naming rule `_total` is for counters
  // (`promtool check metrics` flags them); each is the sum of its per-type gauge.
  for (const name of ['handles', 'requests', 'resources'])
    registry.removeSingleMetric(`bulwark_nodejs_active_${name}_total`);
  let countSource: QueueCountSource | undefined;
  let readinessSource: (() => Promise<Record<string, boolean>>) | undefined;
  let stuckAlertsSource: (() => Promise<Record<string, number>>) | undefined;
  let drillSource: (() => Promise<DrillGaugeValues>) | undefined;
  // The drill gauges are collected concurrently in one scrape; they share one read.
  let drillReading: Promise<DrillGaugeValues | undefined> | undefined;
  function readDrills(): Promise<DrillGaugeValues | undefined> {
    if (!drillSource) return Promise.resolve(undefined);
    if (!drillReading) {
      // A database that cannot answer leaves the gauges empty for this scrape (bulwark_ready says why).
      drillReading = drillSource().catch(() => undefined);
      void drillReading.then(() => setTimeout(() => (drillReading = undefined), 0));
    }
    return drillReading;
  }
  /** A gauge set at scrape time from the newest restore drills (lib/backup/drill-record.ts). */
  const drillGauge = (name: string, help: string, pick: (v: DrillGaugeValues) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const v = await readDrills();
        this.reset();
        if (v) this.set(pick(v));
      },
    });
  let objectStoreSource: (() => Promise<boolean>) | undefined;
  const fairGauges = registerFairGauges(registry);
  let schedulerLeaderSource: (() => boolean) | undefined;
  // Both queue gauges are collected concurrently in one scrape; they share one read.
  let reading: ReturnType<QueueCountSource> | undefined;
  function readQueues(): ReturnType<QueueCountSource> | Promise<undefined> {
    if (!countSource) return Promise.resolve(undefined);
    if (!reading) {
      reading = countSource();
      const clear = () => setTimeout(() => (reading = undefined), 0);
      reading.then(clear, clear);
    }
    return reading;
  }

  const metrics = {
    registry,
    queueJobs: new Gauge({
      name: 'bulwark_queue_jobs',
      help: 'Jobs in each queue by state, read from Redis at scrape time',
      labelNames: ['queue', 'state'] as const,
      registers: [registry],
      async collect() {
        // Redis not answering leaves the queue gauges out of this scrape (bulwark_ready says why).
        const read = await readQueues().catch(() => undefined);
        if (!read) return;
        this.reset();
        for (const { queue, counts } of read)
          for (const state of JOB_STATES) this.set({ queue, state }, counts[state] ?? 0);
      },
    }),
    queuePaused: new Gauge({
      name: 'bulwark_queue_paused',
      help: '1 when the queue is paused (its jobs wait, nothing takes them), read at scrape time',
      labelNames: ['queue'] as const,
      registers: [registry],
      async collect() {
        // Redis not answering leaves the queue gauges out of this scrape (bulwark_ready says why).
        const read = await readQueues().catch(() => undefined);
        if (!read) return;
        this.reset();
        for (const { queue, paused } of read) this.set({ queue }, paused ? 1 : 0);
      },
    }),
    jobsCompleted: new Counter({
      name: 'bulwark_jobs_completed_total',
      help: 'Jobs completed by this process',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    jobsFailed: new Counter({
      name: 'bulwark_jobs_failed_total',
      help: 'Job attempts that failed in this process; final="true" when no retry is left',
      labelNames: ['queue', 'final'] as const,
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: 'bulwark_job_duration_seconds',
      help: 'Time from a job starting to finishing, by queue',
      labelNames: ['queue'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    auditEntriesWritten: new Counter({
      name: 'bulwark_audit_entries_written_total',
      help: 'Audit entries committed to the chain',
      registers: [registry],
    }),
    auditDuplicates: new Counter({
      name: 'bulwark_audit_duplicates_total',
      help: 'Audit entries skipped because their eventId was already stored (retries, double sends)',
      registers: [registry],
    }),
    auditBatchSize: new Histogram({
      name: 'bulwark_audit_batch_entries',
      help: 'Entries per group-commit transaction',
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
      registers: [registry],
    }),
    auditVerifyRuns: new Counter({
      name: 'bulwark_audit_verify_runs_total',
      help: 'Audit chain verifications by result (ok or broken)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    auditBrokenChains: new Gauge({
      name: 'bulwark_audit_verify_broken_chains',
      help: 'Tenants whose chain failed the last verification',
      registers: [registry],
    }),
    auditVerifyLastRun: new Gauge({
      name: 'bulwark_audit_verify_last_run_timestamp_seconds',
      help: 'Unix time the last verification finished',
      registers: [registry],
    }),
    // Audit checkpoints (workers/audit/checkpoint-worker.ts, docs/audit-checkpoints.md).
    auditCheckpoints: new Counter({
      name: 'bulwark_audit_checkpoints_total',
      help: 'Audit checkpoints by result: written, exists (already there), failed (not written, no retry left)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    auditCheckpointLastSuccess: new Gauge({
      name: 'bulwark_audit_checkpoint_last_success_timestamp_seconds',
      help: 'Unix time a checkpoint job of this process last wrote (or found) all its checkpoints',
      registers: [registry],
    }),
    auditCheckpointWebhook: new Counter({
      name: 'bulwark_audit_checkpoint_webhook_total',
      help: 'Checkpoint webhook posts (AUDIT_CHECKPOINT_WEBHOOK_URL) by result: sent, or failed after its retries',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    auditCheckpointsEnabled: new Gauge({
      name: 'bulwark_audit_checkpoints_enabled',
      help: '1 when AUDIT_CHECKPOINT_KEY is set in this process (checkpoints are written), else 0',
      registers: [registry],
    }),
    retentionDeleted: new Counter({
      name: 'bulwark_retention_deleted_total',
      help: 'Rows and objects deleted by retention, by class (audit, audit:security, alerts, apikeys, secret-rotations, objects:*)',
      labelNames: ['class'] as const,
      registers: [registry],
    }),
    retentionRuns: new Counter({
      name: 'bulwark_retention_tenant_runs_total',
      help: 'Retention tenant jobs by result (ok, or failed once no retry is left)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    retentionLastSuccess: new Gauge({
      name: 'bulwark_retention_last_success_timestamp_seconds',
      help: 'Unix time a retention tenant job last finished every class',
      registers: [registry],
    }),
    // Backups (workers/backup/index.ts). Set by the process that ran the backup; a
    // rule over them takes max() across processes (docs/jobs/backup.md).
    backupLastSuccess: new Gauge({
      name: 'bulwark_backup_last_success_timestamp_seconds',
      help: 'Unix time the last backup of this kind finished with its manifest written',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    backupBytes: new Gauge({
      name: 'bulwark_backup_bytes',
      help: 'Encrypted bytes of the last successful backup of this kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    backupDuration: new Gauge({
      name: 'bulwark_backup_duration_seconds',
      help: 'Seconds the last successful backup of this kind took, start to manifest',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    backupFailures: new Counter({
      name: 'bulwark_backup_failures_total',
      help: 'Backup attempts that failed (each retry counts)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    abuseOutcomes: new Counter({
      name: 'bulwark_abuse_outcomes_total',
      help: 'API requests checked by the per-key sliding-window limit, by outcome (allow or deny)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    apiKeyDenials: new Counter({
      name: 'bulwark_api_key_denials_total',
      help: 'API requests refused for their key, by reason (missing, malformed, unknown, expired, revoked, wrong_scope)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    apiUnavailable: new Counter({
      name: 'bulwark_api_unavailable_total',
      help: 'API requests answered 503 because a dependency was out, by dependency (redis, postgres) and reason (unreachable, timeout, out_of_memory)',
      labelNames: ['dependency', 'reason'] as const,
      registers: [registry],
    }),
    apiStoredAfterRefusal: new Counter({
      name: 'bulwark_api_stored_after_refusal_total',
      help: 'Writes answered 503 (Redis did not answer within API_REDIS_TIMEOUT_MS) that were stored all the same: the answer came back later than half the bound after the deadline (docs/api.md, Outages); should stay 0',
      registers: [registry],
    }),
    redisOutOfMemory: new Counter({
      name: 'bulwark_redis_oom_total',
      help: 'Redis writes refused with OOM (maxmemory reached), by who met it (api: a request answered 503; readiness: the /readyz write probe)',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    alertDeliveryJobsLost: new Counter({
      name: 'bulwark_alert_delivery_jobs_lost_total',
      help: 'alert-delivery jobs that failed for good without their outcome in the ledger (database or Redis down through every attempt, a worker that kept dying, an invalid payload), by kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    alertsTotal: new Counter({
      name: 'bulwark_alerts_total',
      help: 'Alert decisions and deliveries by outcome, reason and channel type',
      labelNames: ['outcome', 'reason', 'channel'] as const,
      registers: [registry],
    }),
    ready: new Gauge({
      name: 'bulwark_ready',
      help: 'Readiness checks at scrape time, 1 when passing (redis, postgres, migrations, accepting), as /readyz reports them',
      labelNames: ['check'] as const,
      registers: [registry],
      async collect() {
        if (!readinessSource) return;
        this.reset();
        for (const [check, ok] of Object.entries(await readinessSource())) this.set({ check }, ok ? 1 : 0);
      },
    }),
    objectStoreUp: new Gauge({
      name: 'bulwark_object_store_up',
      help: 'Whether the object store answered and has its tenant bucket at scrape time (1) or not (0); not a readiness check, audit and alerts work without it',
      registers: [registry],
      async collect() {
        if (!objectStoreSource) return;
        this.set((await objectStoreSource()) ? 1 : 0);
      },
    }),
    alertsStuck: new Gauge({
      name: 'bulwark_alerts_stuck',
      help: 'Alerts in the ledger waiting longer than they should, by state (received or delivering unchanged for an hour; grouped or deferred five minutes past their time), read at scrape time',
      labelNames: ['state'] as const,
      registers: [registry],
      async collect() {
        if (!stuckAlertsSource) return;
        this.reset();
        // A database that cannot answer leaves the gauge empty for this scrape (bulwark_ready says why).
        const counts = await stuckAlertsSource().catch(() => undefined);
        if (counts) for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    }),
    restoreDrillLastSuccess: drillGauge(
      'bulwark_restore_drill_last_success_timestamp_seconds',
      'Unix time the newest passed restore drill finished, 0 when none ever passed (read from restore_drills at scrape time)',
      (v) => v.lastSuccess,
    ),
    restoreDrillLastRun: drillGauge(
      'bulwark_restore_drill_last_run_timestamp_seconds',
      'Unix time the newest restore drill finished, passed or failed, 0 when none ran',
      (v) => v.lastRun,
    ),
    restoreDrillDuration: drillGauge(
      'bulwark_restore_drill_duration_seconds',
      'Measured restore time of the newest passed restore drill (restore and its checks), 0 without one',
      (v) => v.durationSeconds,
    ),
    restoreDrillBackupAge: drillGauge(
      'bulwark_restore_drill_backup_age_seconds',
      'Age of the backup the newest passed restore drill restored, when it started: the data a restore would have lost',
      (v) => v.backupAgeSeconds,
    ),
    restoreDrillFailures: new Counter({
      name: 'bulwark_restore_drill_failures_total',
      help: 'Restore drills run by this process that failed (recorded in restore_drills with passed = false)',
      registers: [registry],
    }),
    schedulerLeader: new Gauge({
      name: 'bulwark_scheduler_leader',
      help: 'Whether this process is the active scheduler (holds the scheduler lease): 1 or 0; summed over every process it should be 1',
      registers: [registry],
      collect() {
        this.set(schedulerLeaderSource?.() ? 1 : 0);
      },
    }),
    schedulerUpserts: new Counter({
      name: 'bulwark_scheduler_upserts_total',
      help: 'Repeatable job schedules the active scheduler wrote, by reason: new, changed (its configuration), repaired (its next run was missing)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    /** Where the bulwark_fair_* gauges read each fair queue's stats (lib/fair/status.ts). */
    setFairSource: fairGauges.setFairSource,
    setQueueCountSource(source: QueueCountSource) {
      countSource = source;
    },
    /** Where bulwark_ready reads its checks (check name → passing). */
    setReadinessSource(source: () => Promise<Record<string, boolean>>) {
      readinessSource = source;
    },
    /** Where the bulwark_restore_drill_* gauges read the newest drills. */
    setDrillSource(source: () => Promise<DrillGaugeValues>) {
      drillSource = source;
    },
    /** Where bulwark_object_store_up reads whether the store answers (a source that never rejects). */
    setObjectStoreSource(source: () => Promise<boolean>) {
      objectStoreSource = source;
    },
    /** Where bulwark_scheduler_leader reads whether this process is the active scheduler. */
    setSchedulerLeaderSource(source: () => boolean) {
      schedulerLeaderSource = source;
    },
    /** Where bulwark_alerts_stuck reads its counts (state → alerts). */
    setStuckAlertsSource(source: () => Promise<Record<string, number>>) {
      stuckAlertsSource = source;
    },
  };
  // Reported from start-up, so a rule matching on result="failed" sees a series (at 0).
  for (const result of ['ok', 'failed']) metrics.retentionRuns.inc({ result }, 0);
  for (const result of ['written', 'exists', 'failed']) metrics.auditCheckpoints.inc({ result }, 0);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
