/**
 * Repeatable jobs: every registered job whose definition has a schedule
 * (lib/contracts/, e.g. audit-verify on AUDIT_VERIFY_CRON, the alert sweep every
 * minute). BullMQ job schedulers are upserted by id, so every process may call this at
 * start-up without creating duplicates.
 */
import type { Queue } from 'bullmq';
import type { AppContext } from '../../lib/context.js';
import type { QueueDefinition } from '../../lib/contracts/job.js';
import type { Registration } from '../../workers/registration.js';

export interface Scheduler {
  close(): Promise<void>;
}

export async function startScheduler(ctx: AppContext, registry: readonly Registration[], queueOf: (def: QueueDefinition) => Queue): Promise<Scheduler> {
  const scheduled = registry.flatMap(({ job }) => (job.schedule ? [{ job, schedule: job.schedule }] : []));
  const repeats = [];
  for (const { job, schedule } of scheduled) {
    const repeat = schedule.repeat(ctx.config);
    await queueOf(job.queue).upsertJobScheduler(schedule.id, repeat, { name: job.name, data: schedule.data, opts: job.opts });
    repeats.push({ id: schedule.id, repeat });
  }
  for (const { id, repeat } of repeats) {
    const when = 'every' in repeat ? { every_ms: repeat.every } : { cron: repeat.pattern, tz: repeat.tz };
    ctx.logger.info({ event: 'scheduler_started', scheduler: id, ...when }, 'repeatable jobs scheduled');
  }
  // The queue handles are the process's (app/workers.ts), closed with the others.
  return { close: async () => undefined };
}
