/**
 * Every API key denial is accounted for in `security:api-key-denied` audit entries
 * (reason and display prefix, never the key; per source, key prefix and reason, a few
 * entries a minute and then one with the count of the rest: denial-digest.ts) and counts towards a burst detector: more than 10
 * denials within an hour for one key prefix or one source address raise one
 * high-severity `security:api-key-denial-burst` entry, which the audit path turns
 * into an alert. "Source address" is the counting group of lib/net-address.ts (an
 * IPv6 client's whole /64, an IPv4 address on its own); entries and logs keep the
 * real address, or what arrived instead of one in `metadata.ipUnparsed` (`ip_unparsed`
 * in logs), so that every denial is recorded.
 */
import type { RedisClient } from '../lib/clients/redis.js';
import { SYSTEM_TENANT_ID } from '../lib/audit/record.js';
import type { Logger } from '../lib/logger.js';
import { auditAddressGroup, type AuditAddress } from '../lib/net-address.js';
import { createSlidingWindowLimiter } from '../lib/ratelimit/sliding-window.js';
import type { Producer } from '../producers/index.js';
import type { DenialReason } from './authenticator.js';
import {
  type DigestWindow,
  createDenialDigest,
  createSourceThrottle,
  DIGEST_WINDOW_MS,
  SOURCE_WRITTEN_PER_WINDOW,
} from './denial-digest.js';

export const DENIAL_BURST_LIMIT = 10;
export const DENIAL_BURST_WINDOW_MS = 3_600_000;

export interface Denial {
  reason: DenialReason;
  displayPrefix?: string;
  tenantId?: string;
  /** The client address, as clientAddress (auth.ts) made it fit for an entry. */
  address: AuditAddress;
  route: string;
  requestId: string;
  userAgent?: string;
}

/** `{ ipUnparsed }` for an entry's metadata when the address was not one, else nothing. */
export function unparsed(address: AuditAddress): { ipUnparsed?: string } {
  return address.unparsed === undefined ? {} : { ipUnparsed: address.unparsed };
}

/** Records denials (a call per denial) and throttles the sources that pile them up (denial-digest.ts). */
export interface DenialRecorder {
  (denial: Denial): Promise<void>;
  /** Milliseconds the source of `address` must wait (too many denials this window), or 0. */
  retryAfterMs(address: AuditAddress): number;
  /** A request refused by that throttle, before authentication: counted with its source's denials. */
  throttled(denial: Omit<Denial, 'reason'>): Promise<void>;
  /** Write the open windows' counts now (shutdown). */
  close(): Promise<void>;
}

export function createDenialRecorder(deps: {
  producer: Producer;
  redis: RedisClient;
  prefix: string;
  logger: Logger;
  onDenial?: (reason: DenialReason | 'throttled') => void;
  clock?: () => number;
}): DenialRecorder {
  const limiter = createSlidingWindowLimiter(deps.redis, { keyPrefix: `${deps.prefix}:denials` });
  const throttle = createSourceThrottle(deps.clock);
  const pending = new Set<Promise<unknown>>();
  type Recorded = Omit<Denial, 'reason'> & { reason: DenialReason | 'throttled' };
  const flush = (scope: 'subject' | 'source') => (w: DigestWindow<Recorded>) => {
    const write = writeEntry(w.last, w.more, scope).catch((err: unknown) =>
      deps.logger.warn({ event: 'denial_count_lost', err, count: w.more }, 'could not record a count of denials'),
    );
    pending.add(write);
    void write.finally(() => pending.delete(write));
  };
  const digest = createDenialDigest<Recorded>(flush('subject'), deps.clock);
  // A source that sends a new key with every request opens a new subject each time: its
  // budget of entries written one by one is bounded per source too, or it writes one
  // entry per request again (the chaos harness's auth attack found 279 for 360).
  const sourceDigest = createDenialDigest<Recorded>(
    flush('source'),
    deps.clock,
    DIGEST_WINDOW_MS,
    SOURCE_WRITTEN_PER_WINDOW,
  );
  const sweeper = setInterval(() => {
    sourceDigest.sweep();
    digest.sweep();
  }, DIGEST_WINDOW_MS / 4);
  sweeper.unref();

  async function burst(kind: 'ip' | 'key', value: string, denial: Denial, tenantId: string): Promise<void> {
    const subject = `${kind}:${value}`;
    const hit = await limiter.hit(subject, DENIAL_BURST_LIMIT, DENIAL_BURST_WINDOW_MS);
    if (hit.allowed) return;
    // One alert per subject per window, however long the burst goes on.
    const first = await deps.redis.set(
      `${deps.prefix}:denials:alerted:${subject}`,
      '1',
      'PX',
      DENIAL_BURST_WINDOW_MS,
      'NX',
    );
    if (first !== 'OK') return;
    await deps.producer.audit.write({
      tenantId,
      actorType: 'system',
      actorId: 'bulwark-api',
      action: 'security:api-key-denial-burst',
      severity: 'high',
      resourceType: 'api_key',
      resourceId: denial.displayPrefix,
      requestId: denial.requestId,
      ip: denial.address.ip,
      metadata: {
        subject: kind,
        threshold: DENIAL_BURST_LIMIT,
        window_seconds: DENIAL_BURST_WINDOW_MS / 1000,
        ...(kind === 'ip' ? { address_group: value } : {}),
        ...unparsed(denial.address),
      },
    });
  }

  /**
   * One `security:api-key-denied` entry standing for `count` denials (the latest is
   * `denial`); `aggregated` says whose window's rest it counts: one key prefix and reason
   * (`subject`), or everything else from the source address group (`source`).
   */
  function writeEntry(denial: Recorded, count: number, aggregated?: 'subject' | 'source') {
    return deps.producer.audit.write({
      tenantId: denial.tenantId ?? SYSTEM_TENANT_ID,
      actorType: 'service',
      actorId: denial.displayPrefix ?? 'unknown-key',
      action: 'security:api-key-denied',
      severity: 'medium',
      resourceType: 'api_key',
      resourceId: denial.displayPrefix,
      reason: denial.reason,
      requestId: denial.requestId,
      ip: denial.address.ip,
      userAgent: denial.userAgent?.slice(0, 512),
      metadata: {
        reason: denial.reason,
        route: denial.route,
        count,
        ...(aggregated ? { aggregated: true, window_seconds: DIGEST_WINDOW_MS / 1000 } : {}),
        ...(aggregated === 'source' ? { aggregated_by: 'source' } : {}),
        ...unparsed(denial.address),
      },
    });
  }

  /** Counted in its window; written (and logged) when it opens the window. */
  async function note(denial: Recorded, group: string): Promise<void> {
    const tenantId = denial.tenantId ?? SYSTEM_TENANT_ID;
    if (!digest.note([group, denial.displayPrefix ?? '', denial.reason, tenantId].join('\u0000'), denial)) return;
    // Asked only for what its subject would write: a denial the source refuses is counted
    // in the source's window alone (its subject's window counts only what it held back).
    if (!sourceDigest.note([group, tenantId].join('\u0000'), denial)) return;
    deps.logger.warn(
      {
        event: 'api_key_denied',
        reason: denial.reason,
        key_prefix: denial.displayPrefix,
        tenant_id: tenantId,
        ip: denial.address.ip,
        ip_unparsed: denial.address.unparsed,
        route: denial.route,
        request_id: denial.requestId,
      },
      'API key denied',
    );
    await writeEntry(denial, 1);
  }

  async function recordDenial(denial: Denial): Promise<void> {
    deps.onDenial?.(denial.reason);
    if (denial.reason === 'missing') {
      // No key, nothing to attribute: logged only.
      deps.logger.warn(
        {
          event: 'api_key_denied',
          reason: denial.reason,
          ip: denial.address.ip,
          ip_unparsed: denial.address.unparsed,
          route: denial.route,
          request_id: denial.requestId,
        },
        'API key denied',
      );
      return;
    }
    const group = auditAddressGroup(denial.address);
    throttle.denied(group);
    const tenantId = denial.tenantId ?? SYSTEM_TENANT_ID;
    await note(denial, group);
    await burst('ip', group, denial, tenantId);
    if (denial.displayPrefix) await burst('key', denial.displayPrefix, denial, tenantId);
  }

  return Object.assign(recordDenial, {
    retryAfterMs: (address: AuditAddress) => throttle.retryAfterMs(auditAddressGroup(address)),
    async throttled(denial: Omit<Denial, 'reason'>) {
      deps.onDenial?.('throttled');
      await note({ ...denial, reason: 'throttled' }, auditAddressGroup(denial.address));
    },
    async close() {
      clearInterval(sweeper);
      sourceDigest.sweep(true);
      digest.sweep(true);
      await Promise.all([...pending]);
    },
  });
}
