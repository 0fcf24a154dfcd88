/**
 * Every API key denial becomes a `security:api-key-denied` audit entry (reason and
 * display prefix, never the key) and counts towards a burst detector: more than 10
 * denials within an hour for one key prefix or one source address raise one
 * high-severity `security:api-key-denial-burst` entry, which the audit path turns
 * into an alert. "Source address" is the counting group of lib/net-address.ts (an
 * IPv6 client's whole /64, an IPv4 address on its own); entries and logs keep the
 * real address, or what arrived instead of one in `metadata.ipUnparsed` (`ip_unparsed`
 * in logs), so that every denial is recorded.
 */
import type { Redis } from 'ioredis';
import { SYSTEM_TENANT_ID } from '../lib/audit/record.js';
import type { Logger } from '../lib/logger.js';
import { auditAddressGroup, type AuditAddress } from '../lib/net-address.js';
import { createSlidingWindowLimiter } from '../lib/ratelimit/sliding-window.js';
import type { Producer } from '../producers/index.js';
import type { DenialReason } from './authenticator.js';

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

export function createDenialRecorder(deps: { producer: Producer; redis: Redis; prefix: string; logger: Logger; onDenial?: (reason: DenialReason) => void }) {
  const limiter = createSlidingWindowLimiter(deps.redis, { keyPrefix: `${deps.prefix}:denials` });

  async function burst(kind: 'ip' | 'key', value: string, denial: Denial, tenantId: string): Promise<void> {
    const subject = `${kind}:${value}`;
    const hit = await limiter.hit(subject, DENIAL_BURST_LIMIT, DENIAL_BURST_WINDOW_MS);
    if (hit.allowed) return;
    // One alert per subject per window, however long the burst goes on.
    const first = await deps.redis.set(`${deps.prefix}:denials:alerted:${subject}`, '1', 'PX', DENIAL_BURST_WINDOW_MS, 'NX');
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
      metadata: { subject: kind, threshold: DENIAL_BURST_LIMIT, window_seconds: DENIAL_BURST_WINDOW_MS / 1000, ...(kind === 'ip' ? { address_group: value } : {}), ...unparsed(denial.address) },
    });
  }

  return async function recordDenial(denial: Denial): Promise<void> {
    deps.onDenial?.(denial.reason);
    const tenantId = denial.tenantId ?? SYSTEM_TENANT_ID;
    deps.logger.warn(
      { event: 'api_key_denied', reason: denial.reason, key_prefix: denial.displayPrefix, tenant_id: tenantId, ip: denial.address.ip, ip_unparsed: denial.address.unparsed, route: denial.route, request_id: denial.requestId },
      'API key denied',
    );
    if (denial.reason === 'missing') return; // no key, nothing to attribute
    await deps.producer.audit.write({
      tenantId,
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
      metadata: { reason: denial.reason, route: denial.route, ...unparsed(denial.address) },
    });
    await burst('ip', auditAddressGroup(denial.address), denial, tenantId);
    if (denial.displayPrefix) await burst('key', denial.displayPrefix, denial, tenantId);
  };
}

export type DenialRecorder = ReturnType<typeof createDenialRecorder>;
