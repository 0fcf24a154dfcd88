/**
 * Route guards: `requireScope(scope)` authenticates the API key (Authorization:
 * Bearer or X-API-Key), checks its scope, records every denial, and applies the
 * tenant's per-key sliding-window limit. `requireOperator()` checks the operator's
 * HTTP Basic credentials from config (an API key, even an admin one, is not enough). Comparisons of
 * secrets are timing-safe.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { displayPrefixOf, type Scope } from '../lib/apikeys/keys.js';
import type { AuditActor } from '../lib/audit/record.js';
import type { Logger } from '../lib/logger.js';
import { auditAddress, type AuditAddress } from '../lib/net-address.js';
import type { SlidingWindowLimiter } from '../lib/ratelimit/sliding-window.js';
import type { TenantSettings } from '../lib/tenants/settings.js';
import { hasScope, type AuthenticatedKey, type Authenticator } from './authenticator.js';
import type { DenialRecorder } from './denials.js';
import type { OperatorDenials, OperatorOutcome } from './operator-denials.js';
import { ApiError, routeOf } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: AuthenticatedKey;
  }
}

export interface GuardDeps {
  authenticator: Authenticator;
  recordDenial: DenialRecorder;
  limiter: SlidingWindowLimiter;
  settingsOf: (tenantId: string) => Promise<TenantSettings>;
  operator: { username: string; password: string } | undefined;
  /** Failed operator sign-ins: recorded, and an address locked out after a burst. */
  operatorDenials?: OperatorDenials;
  logger: Logger;
  onThrottle: (outcome: 'allow' | 'deny') => void;
}

/**
 * The one place a request's address becomes audit fields (lib/net-address.ts): a zone
 * id dropped, IPv4-mapped IPv6 unwrapped, a non-address (X-Forwarded-For from a
 * trusted proxy can hold anything) kept apart, so the entries about this request
 * pass the contract. `request.ip` is undefined once the socket is gone.
 */
export function clientAddress(request: FastifyRequest): AuditAddress {
  return auditAddress(request.ip as string | undefined);
}

/**
 * The actor of a change made over HTTP: an API key (by its display prefix) or the
 * operator, with the request's id, address and client for the entry recording it.
 */
export function requestActor(request: FastifyRequest): AuditActor {
  const { ip } = clientAddress(request);
  const userAgent = request.headers['user-agent']?.slice(0, 512);
  const who = request.apiKey
    ? { type: 'service' as const, id: request.apiKey.displayPrefix }
    : { type: 'user' as const, id: 'operator' };
  return { ...who, requestId: request.id, ...(ip === undefined ? {} : { ip }), ...(userAgent ? { userAgent } : {}) };
}

/** Whether an Authorization value uses `scheme` (lower case): schemes are case-insensitive (RFC 9110 §11.1). */
export function hasScheme(authorization: string, scheme: 'bearer' | 'basic'): boolean {
  return (
    authorization.length > scheme.length &&
    authorization[scheme.length] === ' ' &&
    authorization.slice(0, scheme.length).toLowerCase() === scheme
  );
}

/** The display prefix of a presented key that looks like one of ours (never the key). */
function keyPrefixOf(raw: string | undefined): string | undefined {
  return raw?.startsWith('bwk_') ? displayPrefixOf(raw) : undefined;
}

export function presentedKey(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (typeof auth === 'string' && hasScheme(auth, 'bearer')) return auth.slice(7).trim();
  const header = request.headers['x-api-key'];
  return typeof header === 'string' ? header.trim() : undefined;
}

const digest = (s: string) => createHash('sha256').update(s).digest();
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

export function createGuards(deps: GuardDeps) {
  async function deny(
    request: FastifyRequest,
    reason: Parameters<DenialRecorder>[0]['reason'],
    displayPrefix?: string,
    tenantId?: string,
    scope?: Scope,
  ): Promise<never> {
    await deps.recordDenial({
      reason,
      displayPrefix,
      tenantId,
      address: clientAddress(request),
      route: routeOf(request),
      requestId: request.id,
      userAgent: request.headers['user-agent'],
    });
    // Naming the scope tells the caller which key to use or ask for; scopes are public (docs/api.md).
    if (reason === 'wrong_scope')
      throw new ApiError(
        403,
        'forbidden',
        `this API key lacks the ${scope ?? 'needed'} scope${scope === 'admin' ? '' : ' (or admin)'} that ${routeOf(request)} needs`,
      );
    throw new ApiError(
      401,
      'unauthenticated',
      reason === 'missing'
        ? 'send an API key as "Authorization: Bearer <key>" or "X-API-Key"'
        : 'the API key is not valid',
      undefined,
      { 'www-authenticate': 'Bearer' },
    );
  }

  async function throttle(request: FastifyRequest, reply: FastifyReply, key: AuthenticatedKey): Promise<void> {
    const { api } = await deps.settingsOf(key.tenantId);
    const hit = await deps.limiter.hit(`key:${key.id}`, api.requestsPerWindow, api.windowSeconds * 1000);
    reply.header('ratelimit-limit', String(hit.limit));
    reply.header('ratelimit-remaining', String(hit.remaining));
    deps.onThrottle(hit.allowed ? 'allow' : 'deny');
    if (hit.allowed) return;
    const retryAfter = String(Math.max(1, Math.ceil(hit.retryAfterMs / 1000)));
    deps.logger.warn(
      {
        event: 'abuse_throttle_deny',
        tenant_id: key.tenantId,
        key_prefix: key.displayPrefix,
        route: routeOf(request),
        window_seconds: api.windowSeconds,
        limit: api.requestsPerWindow,
        request_id: request.id,
      },
      'request throttled',
    );
    throw new ApiError(
      429,
      'rate_limited',
      `more than ${api.requestsPerWindow} requests in ${api.windowSeconds} s for this key; retry later`,
      undefined,
      { 'retry-after': retryAfter },
    );
  }

  /**
   * Before the key is looked up: a source that piled up refused keys this minute gets
   * 429 (denial-digest.ts), so a flood of bad keys costs neither lookups nor entries. A key
   * the database confirmed within KNOWN_GOOD_MS passes: clients sharing the address (a
   * NAT, a proxy) keep working, and it costs at most a lookup per API_KEY_CACHE_MS.
   */
  async function refuseThrottledSource(request: FastifyRequest): Promise<void> {
    const address = clientAddress(request);
    const waitMs = deps.recordDenial.retryAfterMs(address);
    if (waitMs <= 0 || deps.authenticator.knownGood(presentedKey(request))) return;
    await deps.recordDenial.throttled({
      address,
      displayPrefix: keyPrefixOf(presentedKey(request)),
      route: routeOf(request),
      requestId: request.id,
      userAgent: request.headers['user-agent'],
    });
    throw new ApiError(429, 'rate_limited', 'too many refused API keys from this address; retry later', undefined, {
      'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))),
    });
  }

  function requireScope(scope: Scope): preHandlerAsyncHookHandler {
    return async function guard(request, reply) {
      await refuseThrottledSource(request);
      const result = await deps.authenticator.authenticate(presentedKey(request));
      if (!result.ok) return deny(request, result.reason, result.displayPrefix, result.tenantId);
      if (!hasScope(result.key, scope))
        return deny(request, 'wrong_scope', result.key.displayPrefix, result.key.tenantId, scope);
      request.apiKey = result.key;
      request.log = request.log.child({ tenant_id: result.key.tenantId, key_prefix: result.key.displayPrefix });
      await throttle(request, reply, result.key);
    };
  }

  /** True when the request carries the operator's Basic credentials. */
  function isOperator(request: FastifyRequest): boolean {
    const auth = request.headers.authorization;
    if (!deps.operator || typeof auth !== 'string' || !hasScheme(auth, 'basic')) return false;
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    const sep = decoded.indexOf(':');
    if (sep < 0) return false;
    const userOk = safeEqual(decoded.slice(0, sep), deps.operator.username);
    const passOk = safeEqual(decoded.slice(sep + 1), deps.operator.password);
    return userOk && passOk;
  }

  /**
   * Throws unless the request carries the operator's credentials: 429 from an address
   * locked out by failed attempts (a correct password too), else 401, each failure
   * recorded (operator-denials.ts). An address already locked is refused before the
   * credentials are compared; otherwise the outcome of the comparison goes to the
   * lockout, which decides in one atomic step: a lock taken by attempts in flight at
   * the same time still refuses this one, whatever its comparison found.
   */
  async function verifyOperator(
    request: FastifyRequest,
    refusal = 'operator credentials required (HTTP Basic)',
  ): Promise<void> {
    const compare = (): OperatorOutcome => {
      const presented =
        typeof request.headers.authorization === 'string' && hasScheme(request.headers.authorization, 'basic');
      return isOperator(request) ? 'ok' : presented ? 'wrong' : 'missing';
    };
    const verdict = deps.operatorDenials
      ? await deps.operatorDenials.judge(
          {
            address: clientAddress(request),
            route: routeOf(request),
            requestId: request.id,
            userAgent: request.headers['user-agent'],
          },
          compare,
        )
      : { status: compare() === 'ok' ? ('allowed' as const) : ('denied' as const) };
    if (verdict.status === 'allowed') return;
    if (verdict.status === 'locked') {
      throw new ApiError(
        429,
        'rate_limited',
        'too many failed operator sign-ins from this address; retry later',
        undefined,
        { 'retry-after': String(Math.max(1, Math.ceil(verdict.retryAfterMs / 1000))) },
      );
    }
    throw new ApiError(401, 'unauthenticated', refusal, undefined, { 'www-authenticate': 'Basic realm="bulwark"' });
  }

  function requireOperator(): preHandlerAsyncHookHandler {
    return async function guard(request) {
      await verifyOperator(request);
    };
  }

  return { requireScope, requireOperator, verifyOperator };
}

export type Guards = ReturnType<typeof createGuards>;
