/**
 * Channel pauses. A receiver that answers 429 asks the channel to slow down, not one
 * message: until its Retry-After has passed, nothing is sent to that channel by any
 * worker process. The inline send hands over to a `deliver` job delayed until the
 * pause ends, and a queued `deliver` job moves itself to delayed; neither spends an
 * attempt. The pause lives in Redis (one key per channel, expiring with the pause) so
 * every process sees it. BullMQ's own rate limit (`worker.rateLimit`) would stop the
 * whole alert-delivery queue, every tenant's channels with it; this pauses one channel.
 */
import type { RedisClient } from '../../../lib/clients/redis.js';

export interface ChannelPauses {
  /** When each paused channel may be sent to again (epoch ms); channels not paused are absent. */
  pausedUntil(tenantId: string, channelIds: string[]): Promise<Map<string, number>>;
  /** The Redis key of a channel's pause, for a caller reading its TTL in a script of its own. */
  keyOf(tenantId: string, channelId: string): string;
  /** The same answer as pausedUntil, from the keys' PTTLs as read elsewhere (in channelIds' order). */
  fromTtls(channelIds: string[], ttlMs: number[]): Map<string, number>;
  /** Pause a channel until `untilMs` (the receiver's latest answer wins). */
  pause(tenantId: string, channelId: string, untilMs: number): Promise<void>;
}

/** In the tenant's hash slot, like the decision keys (lib/alerts/decide.ts). */
export function channelPauseKey(keyPrefix: string, tenantId: string, channelId: string): string {
  return `${keyPrefix}:alert:{${tenantId}}:channel:${channelId}:paused-until`;
}

export function createChannelPauses(
  redis: RedisClient,
  options: { keyPrefix: string; clock: () => Date },
): ChannelPauses {
  const key = (tenantId: string, channelId: string) => channelPauseKey(options.keyPrefix, tenantId, channelId);
  // The time left is Redis's (the key's TTL), not a time another process wrote by its
  // own clock: clocks that differ, or a test's frozen one, cannot stretch a pause.
  function fromTtls(channelIds: string[], ttlMs: number[]): Map<string, number> {
    const paused = new Map<string, number>();
    const now = options.clock().getTime();
    ttlMs.forEach((ms, i) => {
      if (ms > 0 && i < channelIds.length) paused.set(channelIds[i]!, now + ms);
    });
    return paused;
  }
  return {
    keyOf: key,
    fromTtls,
    async pausedUntil(tenantId, channelIds) {
      if (channelIds.length === 0) return new Map();
      return fromTtls(channelIds, await Promise.all(channelIds.map((id) => redis.pttl(key(tenantId, id)))));
    },
    async pause(tenantId, channelId, untilMs) {
      const ms = Math.ceil(untilMs - options.clock().getTime());
      // The value is for people reading Redis; the TTL is what counts.
      if (ms > 0) await redis.set(key(tenantId, channelId), new Date(untilMs).toISOString(), 'PX', ms);
    },
  };
}
