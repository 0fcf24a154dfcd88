/** `bulwark apikey create|list|revoke|rotate`: a tenant's API keys. */
import { API_KEY_MAX_DAYS, SCOPES, type Scope } from '../../lib/apikeys/keys.js';
import { ValidationError } from '../../lib/errors.js';
import { ROTATION_GRACE_DEFAULT_SECONDS as GRACE, ROTATION_GRACE_MAX_SECONDS } from '../../lib/limits.js';
import { command, defineGroup, TENANT } from '../command.js';

const CLI_ACTOR = { type: 'user' as const, id: 'bulwark-cli' };
const KEY = { type: 'string', value: 'PREFIX|ID', required: true } as const;

function parseScopes(text: string): Scope[] {
  const scopes = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (bad.length > 0 || scopes.length === 0) {
    throw new ValidationError('API key', [
      {
        path: 'scopes',
        message: `must be a comma-separated list of ${SCOPES.join(', ')}${bad.length ? ` (not: ${bad.join(', ')})` : ''}`,
      },
    ]);
  }
  return scopes as Scope[];
}

export default defineGroup({
  section: 'API keys',
  commands: {
    create: command({
      flags: {
        tenant: TENANT,
        name: { type: 'string', value: 'N', required: true },
        scopes: { type: 'string', value: 'S', required: true },
        'expires-days': { type: 'int', value: 'D', min: 1, max: API_KEY_MAX_DAYS },
      },
      about: [
        'create a key and print it (shown once);',
        'N: unique among the keys not revoked',
        `S: ${SCOPES.join(',')}`,
        `D: 1-${API_KEY_MAX_DAYS} days (default 90)`,
      ],
      async run(f, { config, io }) {
        const c = await config();
        const scopes = parseScopes(f.scopes);
        const [{ createApiKey }, { withTenant }] = await Promise.all([
          import('../../lib/apikeys/records.js'),
          import('./with-prisma.js'),
        ]);
        const { key, record } = await withTenant(c, f.tenant, (p) =>
          createApiKey(p, { tenantId: f.tenant, name: f.name, scopes, expiresInDays: f['expires-days'] }, CLI_ACTOR),
        );
        io.out(key);
        io.err(
          `created ${record.displayPrefix} (${record.scopes.join(',')}), expires ${record.expiresAt.toISOString()}; the key is shown once`,
        );
        return 0;
      },
    }),
    list: command({
      flags: { tenant: TENANT },
      about: ['prefix, name, scopes, state, expiry, last use'],
      async run(f, { config, io }) {
        const c = await config();
        const [{ listApiKeys }, { withTenant }] = await Promise.all([
          import('../../lib/apikeys/records.js'),
          import('./with-prisma.js'),
        ]);
        const now = Date.now();
        const rows = await withTenant(c, f.tenant, (p) => listApiKeys(p, f.tenant));
        for (const k of rows) {
          const state =
            k.revokedAt && k.revokedAt.getTime() <= now
              ? 'revoked'
              : k.expiresAt.getTime() <= now
                ? 'expired'
                : k.revokedAt
                  ? `valid until ${k.revokedAt.toISOString()} (rotated)`
                  : 'valid';
          io.out(
            `${k.displayPrefix}\t${k.name}\t${k.scopes.join(',')}\t${state}\texpires ${k.expiresAt.toISOString()}\tlast used ${k.lastUsedAt?.toISOString() ?? 'never'}`,
          );
        }
        io.out(`${rows.length} key(s)`);
        return 0;
      },
    }),
    revoke: command({
      flags: { tenant: TENANT, key: KEY },
      about: ['revoke a key at once'],
      async run(f, { config, io }) {
        const c = await config();
        const [{ revokeApiKey }, { withTenant }] = await Promise.all([
          import('../../lib/apikeys/lifecycle.js'),
          import('./with-prisma.js'),
        ]);
        const r = await withTenant(c, f.tenant, (p) => revokeApiKey(p, f.tenant, f.key, CLI_ACTOR));
        io.out(`revoked ${r.displayPrefix}`);
        return 0;
      },
    }),
    rotate: command({
      flags: {
        tenant: TENANT,
        key: KEY,
        'grace-seconds': { type: 'int', min: 0, max: ROTATION_GRACE_MAX_SECONDS, default: GRACE },
      },
      about: [
        'print a new key; the old one stays valid for the grace',
        `(0-${ROTATION_GRACE_MAX_SECONDS} seconds, default ${GRACE})`,
      ],
      async run(f, { config, io }) {
        const c = await config();
        const [{ rotateApiKey }, { withTenant }] = await Promise.all([
          import('../../lib/apikeys/lifecycle.js'),
          import('./with-prisma.js'),
        ]);
        const r = await withTenant(c, f.tenant, (p) =>
          rotateApiKey(p, f.tenant, f.key, CLI_ACTOR, f['grace-seconds'] * 1000),
        );
        io.out(r.key);
        io.err(`new key ${r.record.displayPrefix}; the old one stays valid until ${r.oldRevokedAt.toISOString()}`);
        return 0;
      },
    }),
  },
});
