/**
 * API key checks served from memory: a lookup by the key's SHA-256 is cached for at
 * most `cacheMs` (≤ 5 s), so a revocation bites within that time and a request costs
 * no Postgres query while its key is cached. During a database outage a key verified
 * within `outageGraceMs` is still accepted (verified-keys.ts). Each use is noted in memory; key-use.ts
 * writes last-used times in batches and audits the hours a key was used in.
 */
import { timingSafeEqual } from 'node:crypto';
import type { PrismaClient } from '../lib/clients/prisma.js';
import { displayPrefixOf, hashApiKey, looksLikeApiKey, type Scope } from '../lib/apikeys/keys.js';
import { isTransientDbError } from '../lib/db/errors.js';
import { createKeyUseRecorder, type KeyUseOptions } from './key-use.js';
import { createVerifiedKeys } from './verified-keys.js';

export type DenialReason = 'missing' | 'malformed' | 'unknown' | 'expired' | 'revoked' | 'wrong_scope';

export interface AuthenticatedKey {
  id: string;
  tenantId: string;
  displayPrefix: string;
  scopes: Scope[];
}

export type AuthResult =
  { ok: true; key: AuthenticatedKey } | { ok: false; reason: DenialReason; displayPrefix?: string; tenantId?: string };

interface CachedRow {
  id: string;
  tenantId: string;
  displayPrefix: string;
  name: string;
  hash: string;
  scopes: Scope[];
  expiresAt: Date;
  revokedAt: Date | null;
}

export interface Authenticator {
  authenticate(rawKey: string | undefined): Promise<AuthResult>;
  /**
   * True when the database confirmed this key valid within KNOWN_GOOD_MS: the per-source
   * throttle lets it through (a client behind the same address as an attacker keeps
   * working; an attacker cannot present a key it does not have).
   */
  knownGood(rawKey: string | undefined): boolean;
  /** Write pending last-used times and `apikey:used` entries now (also runs on a timer). */
  flushLastUsed(): Promise<void>;
  close(): Promise<void>;
}

export interface AuthenticatorOptions extends Pick<KeyUseOptions, 'writeAudit' | 'onError'> {
  /** How long a key lookup is answered from memory; at most 5000 ms (API_KEY_CACHE_MS). */
  cacheMs: number;
  /** Default: the system clock. */
  clock?: () => Date;
  /**
   * While the database cannot be reached, keys verified within this many ms are still
   * accepted from memory (API_KEY_OUTAGE_GRACE_MS). Default: 0 (off).
   */
  outageGraceMs?: number;
  /** Called when a key was accepted from memory because the database could not be asked. */
  onServedFromMemory?: (err: unknown) => void;
}

/** How long a key the database confirmed counts as known good to the throttle: 10 minutes. */
export const KNOWN_GOOD_MS = 600_000;

export function createAuthenticator(prisma: PrismaClient, options: AuthenticatorOptions): Authenticator {
  const clock = options.clock ?? (() => new Date());
  const cache = new Map<string, { row: CachedRow | null; fetchedAt: number }>();
  const keyUse = createKeyUseRecorder(prisma, { writeAudit: options.writeAudit, onError: options.onError });

  const outageGraceMs = options.outageGraceMs ?? 0;
  const verified = createVerifiedKeys<CachedRow>(Math.max(outageGraceMs, KNOWN_GOOD_MS));

  async function lookup(hash: string): Promise<CachedRow | null> {
    const now = Date.now();
    const hit = cache.get(hash);
    if (hit && now - hit.fetchedAt < options.cacheMs) return hit.row;
    let row;
    try {
      row = await prisma.apiKey.findUnique({
        where: { hash },
        select: {
          id: true,
          tenantId: true,
          displayPrefix: true,
          name: true,
          hash: true,
          scopes: true,
          expiresAt: true,
          revokedAt: true,
        },
      });
    } catch (err) {
      // The database is out: a key verified shortly before is still accepted (ingest needs
      // only Redis); any other key is a 503 (the error goes on), never a 401 or a 500.
      const remembered = isTransientDbError(err) ? verified.recall(hash, now, outageGraceMs) : undefined;
      if (!remembered) throw err;
      options.onServedFromMemory?.(err);
      return remembered;
    }
    const cached = row ? { ...row, scopes: row.scopes as Scope[] } : null;
    if (cache.size > 10_000) cache.clear(); // bound memory under a flood of random keys
    cache.set(hash, { row: cached, fetchedAt: now });
    verified.remember(hash, cached, now);
    return cached;
  }

  return {
    async authenticate(rawKey) {
      if (!rawKey) return { ok: false, reason: 'missing' };
      const displayPrefix = rawKey.startsWith('bwk_') ? displayPrefixOf(rawKey) : undefined;
      if (!looksLikeApiKey(rawKey)) return { ok: false, reason: 'malformed', displayPrefix };
      const hash = hashApiKey(rawKey);
      const row = await lookup(hash);
      if (!row || !timingSafeEqual(Buffer.from(row.hash, 'hex'), Buffer.from(hash, 'hex'))) {
        return { ok: false, reason: 'unknown', displayPrefix };
      }
      const now = clock();
      const denied = { displayPrefix: row.displayPrefix, tenantId: row.tenantId };
      if (row.revokedAt && row.revokedAt <= now) return { ok: false, reason: 'revoked', ...denied };
      if (row.expiresAt <= now) return { ok: false, reason: 'expired', ...denied };
      keyUse.used(row, now);
      return {
        ok: true,
        key: { id: row.id, tenantId: row.tenantId, displayPrefix: row.displayPrefix, scopes: row.scopes },
      };
    },
    knownGood(rawKey) {
      if (!rawKey || !looksLikeApiKey(rawKey)) return false;
      const row = verified.recall(hashApiKey(rawKey), Date.now(), KNOWN_GOOD_MS);
      const now = clock();
      return !!row && !(row.revokedAt && row.revokedAt <= now) && row.expiresAt > now;
    },
    flushLastUsed: () => keyUse.flush(),
    close: () => keyUse.close(),
  };
}

/** admin implies every scope. */
export function hasScope(key: AuthenticatedKey, scope: Scope): boolean {
  return key.scopes.includes('admin') || key.scopes.includes(scope);
}
