/** `bulwark apikey create|list|revoke|rotate` and `bulwark tenant settings get|set`. */
import { SCOPES, type Scope } from '../../lib/apikeys/keys.js';
import { createApiKey, listApiKeys } from '../../lib/apikeys/records.js';
import { revokeApiKey, rotateApiKey } from '../../lib/apikeys/lifecycle.js';
import type { Config } from '../../lib/config.js';
import { ValidationError } from '../../lib/errors.js';
import { getTenantSettings, patchFromPairs, updateTenantSettings } from '../../lib/tenants/settings-store.js';
import type { CliIO } from '../output.js';
import { withTenant } from './with-prisma.js';

const CLI_ACTOR = { type: 'user' as const, id: 'bulwark-cli' };

export function parseScopes(text: string): Scope[] {
  const scopes = text.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (bad.length > 0 || scopes.length === 0) {
    throw new ValidationError('API key', [{ path: 'scopes', message: `must be a comma-separated list of ${SCOPES.join(', ')}${bad.length ? ` (not: ${bad.join(', ')})` : ''}` }]);
  }
  return scopes as Scope[];
}

export async function runApiKeyCreate(config: Config, io: CliIO, a: { tenantId: string; name: string; scopes: string; expiresInDays?: number }): Promise<number> {
  const scopes = parseScopes(a.scopes);
  const { key, record } = await withTenant(config, a.tenantId, (p) => createApiKey(p, { tenantId: a.tenantId, name: a.name, scopes, expiresInDays: a.expiresInDays }, CLI_ACTOR));
  io.out(key);
  io.err(`created ${record.displayPrefix} (${record.scopes.join(',')}), expires ${record.expiresAt.toISOString()}; the key is shown once`);
  return 0;
}

export async function runApiKeyList(config: Config, io: CliIO, tenantId: string): Promise<number> {
  const now = Date.now();
  const rows = await withTenant(config, tenantId, (p) => listApiKeys(p, tenantId));
  for (const k of rows) {
    const state = k.revokedAt && k.revokedAt.getTime() <= now ? 'revoked' : k.expiresAt.getTime() <= now ? 'expired' : k.revokedAt ? `valid until ${k.revokedAt.toISOString()} (rotated)` : 'valid';
    io.out(`${k.displayPrefix}\t${k.name}\t${k.scopes.join(',')}\t${state}\texpires ${k.expiresAt.toISOString()}\tlast used ${k.lastUsedAt?.toISOString() ?? 'never'}`);
  }
  io.out(`${rows.length} key(s)`);
  return 0;
}

export async function runApiKeyRevoke(config: Config, io: CliIO, tenantId: string, key: string): Promise<number> {
  const r = await withTenant(config, tenantId, (p) => revokeApiKey(p, tenantId, key, CLI_ACTOR));
  io.out(`revoked ${r.displayPrefix}`);
  return 0;
}

export async function runApiKeyRotate(config: Config, io: CliIO, tenantId: string, key: string, graceSeconds: number): Promise<number> {
  const r = await withTenant(config, tenantId, (p) => rotateApiKey(p, tenantId, key, CLI_ACTOR, graceSeconds * 1000));
  io.out(r.key);
  io.err(`new key ${r.record.displayPrefix}; the old one stays valid until ${r.oldRevokedAt.toISOString()}`);
  return 0;
}

export async function runSettingsGet(config: Config, io: CliIO, tenantId: string): Promise<number> {
  io.out(JSON.stringify(await withTenant(config, tenantId, (p) => getTenantSettings(p, tenantId)), null, 2));
  return 0;
}

export async function runSettingsSet(config: Config, io: CliIO, tenantId: string, pairs: string[]): Promise<number> {
  if (pairs.length === 0) throw new ValidationError('settings', [{ path: '', message: 'give at least one KEY=VALUE' }]);
  const patch = patchFromPairs(pairs);
  io.out(JSON.stringify(await withTenant(config, tenantId, (p) => updateTenantSettings(p, tenantId, patch, CLI_ACTOR)), null, 2));
  return 0;
}
