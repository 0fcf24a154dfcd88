/**
 * The backup's helper processes (pg_dump compressing the dump, age encrypting it) run at
 * a lower CPU priority: on a machine that also serves audit writes, a backup takes the
 * CPU they leave rather than theirs. Best effort: where the priority cannot be set (not
 * permitted, the process already gone), it stays as it was.
 */
import type { ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';

/** The niceness of a backup's helpers (0 is normal, 19 the lowest). */
export const BACKUP_NICENESS = 10;

export function atBackupPriority<C extends ChildProcess>(child: C): C {
  if (child.pid !== undefined) {
    try {
      setPriority(child.pid, BACKUP_NICENESS);
    } catch {
      // Not permitted (a parent already niced further) or gone: left as it is.
    }
  }
  return child;
}
