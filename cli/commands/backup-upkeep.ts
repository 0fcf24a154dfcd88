/**
 * `bulwark backup drill`, `bulwark backup drills` and `bulwark backup prune [--dry-run]`:
 * the restore drill run now (with the same evidence as the weekly one), the evidence
 * listed, and backup retention applied by hand.
 */
import type { Config } from '../../lib/config.js';
import { listDrills, type DrillRecord } from '../../lib/backup/drill-record.js';
import type { CliIO } from '../output.js';
import { withPrisma } from './with-prisma.js';

/** `1h 5m`, `3.2 s`: durations as an operator reads them. */
export function humanSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return [d && `${d}d`, (d || h) && `${h}h`, `${m}m`].filter(Boolean).join(' ');
}

/** One drill as lines: the summary, then each check (only failed ones unless `checks`). */
export function drillLines(d: DrillRecord, checks = false): string[] {
  const lines = [
    [
      d.startedAt.toISOString(),
      d.passed ? 'PASSED' : 'FAILED',
      d.backupId ?? '(no backup)',
      d.durationMs === undefined ? 'restore -' : `restore ${humanSeconds(d.durationMs / 1000)}`,
      d.backupAgeSeconds === undefined ? 'backup age -' : `backup age ${humanSeconds(d.backupAgeSeconds)}`,
      d.trigger,
      d.id,
    ].join('\t'),
  ];
  for (const c of d.checks) {
    if (checks || !c.ok) lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.ms === undefined ? '' : ` (${c.ms} ms)`}${c.detail ? `: ${c.detail}` : ''}`);
  }
  return lines;
}

export async function runBackupDrills(config: Config, io: CliIO, options: { limit?: number }): Promise<number> {
  const drills = await withPrisma(config, (p) => listDrills(p, options.limit ?? 20));
  for (const d of drills) for (const line of drillLines(d)) io.out(line);
  io.out(`${drills.length} drill(s)${drills[0] ? `; newest ${drills[0].passed ? 'passed' : 'FAILED'}` : '; none yet: run `bulwark backup drill`'}`);
  return 0;
}
