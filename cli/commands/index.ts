/**
 * The command groups, in the order `bulwark --help` lists them. Each entry names the
 * words its commands start with and loads its module only when asked: running a command
 * loads its group's module alone, and only help loads them all (their declarations are
 * light; a command's work is imported when it runs).
 *
 * A new group is one module under cli/commands/ (see apikey.ts for the shape: flags,
 * about text and run for each command) and one line here.
 */
import type { CommandGroup } from '../command.js';

export interface GroupEntry {
  /** The words before a command's own (`apikey`, `tenant settings`); '' for `migrate` and `start`. */
  group: string;
  load: () => Promise<{ default: CommandGroup }>;
}

export const GROUPS: readonly GroupEntry[] = [
  { group: '', load: () => import('./setup.js') },
  { group: 'tenant', load: () => import('./tenant.js') },
  { group: 'tenant settings', load: () => import('./settings.js') },
  { group: 'apikey', load: () => import('./apikey.js') },
  { group: 'secret', load: () => import('./secret.js') },
  { group: 'keys', load: () => import('./keys.js') },
  { group: 'channel', load: () => import('./channel.js') },
  { group: 'alerts', load: () => import('./alerts.js') },
  { group: 'retention', load: () => import('./retention.js') },
  { group: 'hold', load: () => import('./hold.js') },
  { group: 'subject', load: () => import('./subject.js') },
  { group: 'audit', load: () => import('./audit.js') },
  { group: 'audit checkpoints', load: () => import('./checkpoints.js') },
  { group: 'backup', load: () => import('./backup.js') },
  { group: 'fair', load: () => import('./fair.js') },
];

/** A group's declaration with the words its commands start with. */
export type LoadedGroup = CommandGroup & { group: string };

export async function loadGroup(entry: GroupEntry): Promise<LoadedGroup> {
  return { ...(await entry.load()).default, group: entry.group };
}

/** Every group's declaration, in GROUPS' order: for help, and for an error naming commands. */
export function loadAllGroups(): Promise<LoadedGroup[]> {
  return Promise.all(GROUPS.map(loadGroup));
}
