/**
 * API key material: 32 random bytes behind a recognisable `bwk_` prefix, the scopes a
 * key can hold, and what is derived from a key (its SHA-256 hash, the only form
 * stored, and a short display prefix, safe to show and log). The key itself is shown
 * once. No database here: the request path (api/authenticator.ts) needs
 * only this.
 */
import { hash, randomBytes } from 'node:crypto';

export const API_KEY_PREFIX = 'bwk_';
export const SCOPES = ['audit:write', 'audit:read', 'alert:write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];
/** Longest life of a key, in days; the CLI's --expires-days is held to it too. */
export const API_KEY_MAX_DAYS = 730;
const KEY_FORMAT = /^bwk_[A-Za-z0-9_-]{43}$/;

export function hashApiKey(key: string): string {
  // One-shot crypto.hash: a third of createHash's cost, and it runs for every request.
  return hash('sha256', key, 'hex');
}

/** True when `key` has our shape; checked before any lookup. */
export function looksLikeApiKey(key: string): boolean {
  return KEY_FORMAT.test(key);
}

/** The part of a key that is safe to show and log: `bwk_` plus 8 characters. */
export function displayPrefixOf(key: string): string {
  return key.slice(0, API_KEY_PREFIX.length + 8);
}

/** A fresh key with its hash and display prefix. */
export function newKey(): { key: string; hash: string; displayPrefix: string } {
  const key = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { key, hash: hashApiKey(key), displayPrefix: displayPrefixOf(key) };
}
