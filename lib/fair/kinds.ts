/**
 * The fair kinds (docs/decisions/0010): the queues whose definitions declare `fair`
 * (lib/contracts/job.ts), each with its policy: the tenant settings that limit it, what
 * one job costs, the quantum (the cost a tenant may send per turn of the round robin),
 * the default window and the window the workers set. Derived from the queue definitions
 * a process holds (the worker registry's, or the producer's), never listed here.
 */
import type { FairPolicy, QueueDefinition } from '../contracts/job.js';
import { defaultTenantSettings } from '../tenants/settings.js';

export type FairSetting = FairPolicy['setting'];

/** A fair queue: its name and its definition's fair policy. */
export interface FairKind extends FairPolicy {
  queue: string;
}

/** The fair kind of `def`, if its tenant jobs are dispatched fairly. */
export function fairKindOf(def: QueueDefinition): FairKind | undefined {
  return def.fair ? { queue: def.name, ...def.fair } : undefined;
}

/** The fair kinds among `defs`, in their order. */
export function fairKindsOf(defs: Iterable<QueueDefinition>): FairKind[] {
  return [...defs].flatMap((d) => fairKindOf(d) ?? []);
}

/** The limits a tenant has before its settings are read: the settings' defaults. */
export function defaultLimits(kind: FairKind): { maxRunning: number; perSecond: number } {
  return defaultTenantSettings().jobs[kind.setting];
}

/** The eleven keys of fair.lua for `queue`, under the BullMQ prefix (braced on a cluster: one slot). */
export function fairKeys(queuePrefix: string, queue: string): string[] {
  const base = `${queuePrefix}:fair:${queue}`;
  return ['parked', 'items', 'ring', 'tenants', 'running', 'jobs', 'meta', 'limits', 'buckets', 'seen', 'claimed'].map(
    (part) => `${base}:${part}`,
  );
}
