/**
 * The scheduler: repeatable jobs, every registered job whose definition has a schedule
 * (lib/contracts/, e.g. audit-verify on AUDIT_VERIFY_CRON, the alert sweep every
 * minute). One process across every host is active: it holds a lease in Redis
 * (lease.ts, SCHEDULER_LEASE_MS), renews it every third of that, and the others stand
 * by, trying to take it as often; when the holder dies its lease expires and a standby
 * takes over. A process that stops gives the lease up at once.
 *
 * The active scheduler writes each schedule with BullMQ's upsertJobScheduler when it is
 * new, when its configuration changed (a fingerprint kept beside the lease), or when its
 * next run is missing (the chain broke: a worker failed to add it, or a Redis failover
 * lost it), and checks that again at every renewal (a few reads per schedule). A
 * schedule already in place is left alone:
 * upserting a cron schedule whose run is due and waiting for a worker would drop that
 * run. BullMQ's workers add each next run as they take the current one, so runs go on
 * while no scheduler is active; upserts are by id and runs have deterministic ids
 * (`repeat:<id>:<time>`), so even two active schedulers could not double a run.
 */
import type { Queue } from 'bullmq';
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { AppContext } from '../../lib/context.js';
import type { QueueDefinition } from '../../lib/contracts/job.js';
import type { Registration } from '../../workers/registration.js';
import { createLease } from './lease.js';

/** A run in one of these states is still to come (or under way): the schedule's chain holds. */
const PENDING = new Set(['delayed', 'waiting', 'active', 'prioritized', 'waiting-children']);

export type UpsertReason = 'new' | 'changed' | 'repaired';

export interface Scheduler {
  /** This process's lease token (host, pid, random part). */
  readonly holder: string;
  /** Whether this process is the active scheduler now. */
  isLeader(): boolean;
  /** Stops trying, and gives the lease up when held. */
  close(): Promise<void>;
}

/** The Redis keys of the scheduler, beside the queues' (QUEUE_PREFIX). */
export const schedulerKeys = (prefix: string) => ({
  lease: `${prefix}:scheduler:lease`,
  fingerprints: `${prefix}:scheduler:schedules`,
});

/**
 * Start the scheduler: one attempt at the lease now (as the active scheduler, its first
 * writes are awaited and a failure fails the start), then one every third of the lease.
 */
export async function startScheduler(
  ctx: AppContext,
  registry: readonly Registration[],
  queueOf: (def: QueueDefinition) => Queue,
): Promise<Scheduler> {
  const { config, logger, metrics, redis } = ctx;
  const leaseMs = config.schedulerLeaseMs;
  const keys = schedulerKeys(config.queuePrefix);
  const lease = createLease(
    redis,
    keys.lease,
    `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    leaseMs,
  );
  const log = logger.child({ component: 'scheduler', holder: lease.holder });
  const scheduled = registry.flatMap(({ job }) => (job.schedule ? [{ job, schedule: job.schedule }] : []));
  let leader = false;
  let lastRenewed = 0;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let lastError: string | undefined;
  metrics.setSchedulerLeaderSource(() => leader);

  async function needsUpsert(queue: Queue, id: string, fingerprint: string): Promise<UpsertReason | undefined> {
    const [existing, stored] = await Promise.all([queue.getJobScheduler(id), redis.hget(keys.fingerprints, id)]);
    if (!existing) return 'new';
    if (stored !== fingerprint) return 'changed';
    if (existing.next === undefined || existing.next === null) return 'repaired';
    return PENDING.has(await queue.getJobState(`repeat:${id}:${existing.next}`)) ? undefined : 'repaired';
  }

  async function reconcile(): Promise<void> {
    for (const { job, schedule } of scheduled) {
      if (!leader || closed) return;
      const queue = queueOf(job.queue);
      const repeat = schedule.repeat(config);
      const template = { name: job.name, data: schedule.data, opts: job.opts };
      const fingerprint = createHash('sha256')
        .update(JSON.stringify({ queue: job.queue.name, repeat, template }))
        .digest('hex');
      const reason = await needsUpsert(queue, schedule.id, fingerprint);
      if (!reason) continue;
      await queue.upsertJobScheduler(schedule.id, repeat, template);
      await redis.hset(keys.fingerprints, schedule.id, fingerprint);
      metrics.schedulerUpserts.inc({ reason });
      const when = 'every' in repeat ? { every_ms: repeat.every } : { cron: repeat.pattern, tz: repeat.tz };
      log.info({ event: 'scheduler_started', scheduler: schedule.id, reason, ...when }, 'repeatable job scheduled');
    }
  }

  async function tick(): Promise<void> {
    if (leader) {
      const held = await lease.renew().catch((err: unknown) => {
        warnOnce(err);
        return undefined;
      });
      if (held === true) lastRenewed = performance.now();
      else if (held === false || performance.now() - lastRenewed >= leaseMs) {
        leader = false;
        log.warn(
          { event: 'scheduler_lease_lost', reason: held === false ? 'taken' : 'redis_unreachable' },
          'scheduler lease lost: standing by',
        );
        return;
      } else return; // Redis briefly away, the lease still ours: try again next time.
      await reconcile();
      return;
    }
    if (!(await lease.tryAcquire())) return;
    leader = true;
    lastRenewed = performance.now();
    log.info({ event: 'scheduler_leader', lease_ms: leaseMs }, 'this process is the active scheduler');
    await reconcile();
  }

  function warnOnce(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    if (message === lastError) return;
    lastError = message;
    log.warn({ event: 'scheduler_error', err }, 'scheduler could not reach Redis or write a schedule; retrying');
  }

  function loop(): void {
    if (closed) return;
    timer = setTimeout(() => {
      running = tick()
        .then(() => void (lastError = undefined))
        .catch(warnOnce)
        .finally(loop);
    }, leaseMs / 3);
  }

  try {
    await tick();
  } catch (err) {
    // The start fails: a lease taken for it is given up, not left to expire.
    if (leader) await lease.release().catch(() => undefined);
    throw err;
  }
  if (!leader)
    log.info(
      { event: 'scheduler_standby', active: await lease.holderNow().catch(() => null) },
      'another process is the active scheduler: standing by',
    );
  loop();

  return {
    holder: lease.holder,
    isLeader: () => leader,
    async close() {
      closed = true;
      clearTimeout(timer);
      await running;
      if (leader) await lease.release().catch(() => undefined);
      leader = false;
    },
  };
}
