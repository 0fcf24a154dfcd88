/**
 * Failed operator sign-ins (HTTP Basic, for tenant creation and Bull Board). The
 * operator credential opens every tenant's jobs and creates tenants, so its failures
 * get what API key denials get, and more: each wrong attempt is logged and audited
 * (`security:operator-auth-denied`, system tenant, never the values tried); more than
 * OPERATOR_DENIAL_LIMIT in an hour from one address raise one high-severity
 * `security:operator-auth-denial-burst` entry (and so an alert) and lock that address
 * out of operator routes for the rest of the hour, correct password or not, so that
 * guessing stops there.
 */
import type { Redis } from 'ioredis';
import { SYSTEM_TENANT_ID } from '../../lib/audit/record.js';
import type { Logger } from '../../lib/logger.js';
import { createSlidingWindowLimiter } from '../../lib/ratelimit/sliding-window.js';
import type { Producer } from '../index.js';

export const OPERATOR_DENIAL_LIMIT = 10;
export const OPERATOR_DENIAL_WINDOW_MS = 3_600_000;

export interface OperatorDenial {
  ip: string;
  route: string;
  requestId: string;
  userAgent?: string;
  /** False when no Basic credentials came at all (a browser's first request): logged only. */
  presented: boolean;
}

export function createOperatorDenials(deps: { producer: Producer; redis: Redis; prefix: string; logger: Logger }) {
  const limiter = createSlidingWindowLimiter(deps.redis, { keyPrefix: `${deps.prefix}:operator-denials` });
  const lockKey = (ip: string) => `${deps.prefix}:operator-denials:locked:${ip}`;
  const entry = { tenantId: SYSTEM_TENANT_ID, actorType: 'system' as const, actorId: 'bulwark-api', resourceType: 'operator' };

  return {
    /** Milliseconds this address stays locked out of operator routes; 0 when it is not. */
    async lockedFor(ip: string): Promise<number> {
      return Math.max(0, await deps.redis.pttl(lockKey(ip)));
    },
    async record(d: OperatorDenial): Promise<void> {
      deps.logger.warn({ event: 'operator_auth_denied', reason: d.presented ? 'wrong_credentials' : 'missing', ip: d.ip, route: d.route, request_id: d.requestId }, 'operator credentials refused');
      if (!d.presented) return;
      const context = { requestId: d.requestId, ip: d.ip, userAgent: d.userAgent?.slice(0, 512), metadata: { route: d.route } };
      await deps.producer.audit.write({ ...entry, action: 'security:operator-auth-denied', severity: 'medium', reason: 'wrong_credentials', ...context });
      const hit = await limiter.hit(`ip:${d.ip}`, OPERATOR_DENIAL_LIMIT, OPERATOR_DENIAL_WINDOW_MS);
      if (hit.allowed) return;
      // One burst entry (one alert) per address per lockout, however long the guessing goes on.
      if ((await deps.redis.set(lockKey(d.ip), '1', 'PX', OPERATOR_DENIAL_WINDOW_MS, 'NX')) !== 'OK') return;
      deps.logger.warn({ event: 'operator_locked_out', ip: d.ip, failures: hit.count + 1, window_seconds: OPERATOR_DENIAL_WINDOW_MS / 1000 }, 'address locked out of operator routes');
      await deps.producer.audit.write({
        ...entry,
        action: 'security:operator-auth-denial-burst',
        severity: 'high',
        ...context,
        metadata: { route: d.route, threshold: OPERATOR_DENIAL_LIMIT, window_seconds: OPERATOR_DENIAL_WINDOW_MS / 1000 },
      });
    },
  };
}

export type OperatorDenials = ReturnType<typeof createOperatorDenials>;
