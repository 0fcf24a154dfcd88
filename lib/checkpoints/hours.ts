/**
 * Which hours must have a checkpoint: those in which the verification schedule
 * (AUDIT_VERIFY_CRON, UTC) fires, once they are more than CHECKPOINT_GRACE_MS past,
 * and runs of consecutive missing hours for the report.
 */
import { CronExpressionParser } from 'cron-parser';
import { hourOf, hourStart } from './format.js';

/**
 * How long after a scheduled verification its checkpoints may still be missing without
 * being reported: the walk of a large log, and the checkpoint job's retries while the
 * store is away (about 25 minutes, lib/contracts/checkpoint.ts), fit in it.
 */
export const CHECKPOINT_GRACE_MS = 60 * 60 * 1000;

const HOUR_MS = 3_600_000;

/** The hours (`YYYY-MM-DDTHH`, ascending) in which `cron` fires at a time in [from, to]. */
export function scheduledHours(cron: string, from: Date, to: Date): string[] {
  const hours: string[] = [];
  let cursor = from.getTime();
  while (cursor <= to.getTime()) {
    // next() is strictly after currentDate: start 1 ms early so a fire at `cursor` counts.
    const it = CronExpressionParser.parse(cron, { tz: 'UTC', currentDate: new Date(cursor - 1) });
    const fire = it.next().toDate();
    if (fire.getTime() > to.getTime()) break;
    const hour = hourOf(fire);
    hours.push(hour);
    // Other fires in the same hour add nothing: go on from the next hour.
    cursor = hourStart(hour).getTime() + HOUR_MS;
  }
  return hours;
}

export interface HourRun {
  from: string;
  to: string;
  count: number;
}

/** `expected` hours absent from `have`, as runs of hours consecutive in `expected`. */
export function missingRuns(expected: readonly string[], have: ReadonlySet<string>): HourRun[] {
  const runs: HourRun[] = [];
  let open: HourRun | undefined;
  for (const hour of expected) {
    if (have.has(hour)) {
      open = undefined;
      continue;
    }
    if (open) {
      open.to = hour;
      open.count++;
    } else {
      open = { from: hour, to: hour, count: 1 };
      runs.push(open);
    }
  }
  return runs;
}
