/**
 * Failed operator sign-ins (HTTP Basic, for tenant creation and Bull Board). The
 * operator credential opens every tenant's jobs and creates tenants, so its failures
 * get what API key denials get, and more: each wrong attempt is logged and audited
 * (`security:operator-auth-denied`, system tenant, never the values tried); at most
 * OPERATOR_DENIAL_LIMIT wrong attempts an hour from one address are judged, and the
 * next raises one high-severity `security:operator-auth-denial-burst` entry (and so
 * an alert) and locks that address out of operator routes for an hour, correct
 * password or not, so that guessing stops there.
 *
 * An address already locked is refused first, before its credentials are compared:
 * nothing it sends is tried against the operator's. Otherwise the count and the lock
 * are one atomic step in Redis (lib/ratelimit/lockout.ts) taken after the comparison,
 * with its outcome: that is what makes the limit exact under concurrency. The first
 * check alone let every request in flight when the limit was reached be judged, and
 * its password tried. The second refuses a request whose address was locked while it
 * was compared, whatever the comparison said, so no more than the limit of guesses is
 * ever answered, and a correct password sent after them is refused too.
 *
 * A request with no credentials at all is not a guess: it is how a browser starts, and
 * a browser loading Bull Board sends one for the page and for each of its assets before
 * it answers the challenge (25 lines for two page loads). Such a request is logged once
 * per address per MISSING_LOG_WINDOW_MS; the next line counts those left out
 * (`unlogged_since_last`). Wrong credentials are logged and audited every time.
 *
 * "Address" is the counting group of lib/net-address.ts: an IPv6 client's whole /64,
 * an IPv4 address on its own. Logs and audit entries keep the real address, or what
 * arrived instead of one (`metadata.ipUnparsed`, `ip_unparsed` in logs).
 */
import type { RedisClient } from '../lib/clients/redis.js';
import { SYSTEM_TENANT_ID } from '../lib/audit/record.js';
import type { Logger } from '../lib/logger.js';
import { systemClock, type Clock } from '../lib/time.js';
import { auditAddressGroup, type AuditAddress } from '../lib/net-address.js';
import { createLockout } from '../lib/ratelimit/lockout.js';
import type { Producer } from '../producers/index.js';
import { unparsed } from './denials.js';

export const OPERATOR_DENIAL_LIMIT = 10;
export const OPERATOR_DENIAL_WINDOW_MS = 3_600_000;
/** After a request without credentials is logged, further ones from its address within this are counted, not logged. */
export const MISSING_LOG_WINDOW_MS = 10_000;
/** Addresses remembered for that; the oldest is forgotten first (it is then logged again at its next request). */
const MISSING_LOG_ADDRESSES = 10_000;

/**
 * Whether a request without credentials from `group` is logged now, and how many from it
 * were left unlogged since the last line. In memory, per process: a log line is at stake,
 * not a security decision.
 */
function createMissingLogGate(clock: Clock) {
  const last = new Map<string, { at: number; unlogged: number }>();
  return (group: string): { log: boolean; unlogged: number } => {
    const now = clock().getTime();
    const seen = last.get(group);
    if (seen && now - seen.at < MISSING_LOG_WINDOW_MS && now >= seen.at) {
      seen.unlogged++;
      return { log: false, unlogged: seen.unlogged };
    }
    last.delete(group);
    if (last.size >= MISSING_LOG_ADDRESSES) last.delete(last.keys().next().value!);
    last.set(group, { at: now, unlogged: 0 });
    return { log: true, unlogged: seen?.unlogged ?? 0 };
  };
}

export interface OperatorAttempt {
  /** The client address, as clientAddress (auth.ts) made it fit for an entry. */
  address: AuditAddress;
  route: string;
  requestId: string;
  userAgent?: string;
}

/**
 * What comparing the credentials found: `ok`, `wrong` (Basic credentials that are not
 * the operator's: counted), or `missing` (none at all, as on a browser's first
 * request: logged only).
 */
export type OperatorOutcome = 'ok' | 'wrong' | 'missing';

export type OperatorVerdict = { status: 'allowed' } | { status: 'denied' } | { status: 'locked'; retryAfterMs: number };

export function createOperatorDenials(deps: {
  producer: Producer;
  redis: RedisClient;
  prefix: string;
  logger: Logger;
  /** Default: the system clock. */ clock?: Clock;
}) {
  // Keys `${prefix}:operator-denials:locked:<group>` (the runbook names it) and `…:failures:<group>`.
  const lockout = createLockout(deps.redis, {
    keyPrefix: `${deps.prefix}:operator-denials`,
    limit: OPERATOR_DENIAL_LIMIT,
    windowMs: OPERATOR_DENIAL_WINDOW_MS,
  });
  const entry = {
    tenantId: SYSTEM_TENANT_ID,
    actorType: 'system' as const,
    actorId: 'bulwark-api',
    resourceType: 'operator',
  };
  const windowSeconds = OPERATOR_DENIAL_WINDOW_MS / 1000;
  const missingLog = createMissingLogGate(deps.clock ?? systemClock);

  return {
    /**
     * The verdict on one attempt at an operator route, recorded, logged and audited.
     * `compare` checks the credentials; it is not called for an address already locked.
     */
    async judge(a: OperatorAttempt, compare: () => OperatorOutcome): Promise<OperatorVerdict> {
      const group = auditAddressGroup(a.address);
      const log = {
        ip: a.address.ip,
        ip_unparsed: a.address.unparsed,
        address_group: group,
        route: a.route,
        request_id: a.requestId,
      };
      const before = await lockout.check(group);
      if (before.state === 'locked') {
        deps.logger.warn(
          { event: 'operator_locked_request', ...log, retry_after_ms: before.retryAfterMs },
          'operator route refused: address locked out',
        );
        return { status: 'locked', retryAfterMs: before.retryAfterMs };
      }
      const outcome = compare();
      const verdict = outcome === 'wrong' ? await lockout.fail(group) : await lockout.check(group);
      const context = {
        requestId: a.requestId,
        ip: a.address.ip,
        userAgent: a.userAgent?.slice(0, 512),
        metadata: { route: a.route, ...unparsed(a.address) },
      };
      if (verdict.state === 'locked') {
        if (!verdict.lockedNow) {
          deps.logger.warn(
            { event: 'operator_locked_request', ...log, retry_after_ms: verdict.retryAfterMs },
            'operator route refused: address locked out',
          );
          return { status: 'locked', retryAfterMs: verdict.retryAfterMs };
        }
        // The one attempt past the limit: one burst entry (one alert) per lockout, however long the guessing goes on.
        deps.logger.warn(
          { event: 'operator_locked_out', ...log, failures: verdict.failures, window_seconds: windowSeconds },
          'address locked out of operator routes',
        );
        await deps.producer.audit.write({
          ...entry,
          action: 'security:operator-auth-denial-burst',
          severity: 'high',
          ...context,
          metadata: {
            ...context.metadata,
            threshold: OPERATOR_DENIAL_LIMIT,
            window_seconds: windowSeconds,
            address_group: group,
          },
        });
        return { status: 'locked', retryAfterMs: verdict.retryAfterMs };
      }
      if (outcome === 'ok') return { status: 'allowed' };
      if (outcome === 'missing') {
        const gate = missingLog(group);
        if (gate.log)
          deps.logger.warn(
            {
              event: 'operator_auth_denied',
              reason: 'missing',
              ...log,
              ...(gate.unlogged > 0 ? { unlogged_since_last: gate.unlogged } : {}),
            },
            'operator credentials refused',
          );
        return { status: 'denied' };
      }
      deps.logger.warn(
        { event: 'operator_auth_denied', reason: 'wrong_credentials', ...log },
        'operator credentials refused',
      );
      await deps.producer.audit.write({
        ...entry,
        action: 'security:operator-auth-denied',
        severity: 'medium',
        reason: 'wrong_credentials',
        ...context,
      });
      return { status: 'denied' };
    },
  };
}

export type OperatorDenials = ReturnType<typeof createOperatorDenials>;
