/**
 * Reading and changing a tenant's settings. A change is a partial document merged
 * into the current one, validated whole (unknown keys are refused), saved together
 * with a `settings:updated` audit entry holding the before and after state.
 */
import { actorFields, recordAuditInTx, type AuditActor } from '../audit/record.js';
import type { PrismaClient } from '../clients/prisma.js';
import { isUuid } from '../contracts/common.js';
import { NotFoundError, ValidationError, problemsFromZod } from '../errors.js';
import { isTransientDbError } from '../db/errors.js';
import { tenantSettingsSchema, type TenantSettings } from './settings.js';

type JsonObject = { [key: string]: unknown };
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Objects merge key by key; anything else in the patch replaces what was there. */
export function deepMerge(base: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    // Own members only, and defined, not assigned: a patch member named `__proto__`
    // (JSON.parse makes one) assigned would replace out's prototype and vanish; defined,
    // it stays a member, which the strict settings schema then refuses by name.
    const own = Object.hasOwn(base, k) ? base[k] : undefined;
    Object.defineProperty(out, k, { value: isObject(v) && isObject(own) ? deepMerge(own as JsonObject, v) : v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** A settings key's parts are names (`alerts`, `maxPerWindow`): nothing else can name a field. */
const KEY_PART = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** Parse `a.b.c=value` pairs into a patch; values are JSON when they parse, else strings. */
export function patchFromPairs(pairs: string[]): JsonObject {
  const patch: JsonObject = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ValidationError('settings', [{ path: pair, message: 'must look like KEY=VALUE, e.g. alerts.maxPerWindow=50' }]);
    const path = pair.slice(0, eq).split('.');
    // Checked before anything is built: `__proto__.x=1` walked into Object.prototype.
    if (!path.every((part) => KEY_PART.test(part))) {
      throw new ValidationError('settings', [{ path: pair.slice(0, Math.min(eq, 200)), message: 'must be a dotted settings key of names, e.g. alerts.maxPerWindow' }]);
    }
    const raw = pair.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    let node = patch;
    path.slice(0, -1).forEach((p) => {
      node[p] = isObject(node[p]) ? node[p] : {};
      node = node[p] as JsonObject;
    });
    node[path[path.length - 1]!] = value;
  }
  return patch;
}

export async function getTenantSettings(prisma: PrismaClient, tenantId: string): Promise<TenantSettings> {
  const row = await prisma.tenantSettings.findUnique({ where: { tenantId } });
  if (!row) throw new NotFoundError(`no tenant ${tenantId}`);
  // Stored documents gain defaults for fields added since they were written.
  return tenantSettingsSchema.parse(row.settings);
}

export async function updateTenantSettings(
  prisma: PrismaClient,
  tenantId: string,
  patch: unknown,
  actor: AuditActor,
): Promise<TenantSettings> {
  if (!isObject(patch)) throw new ValidationError('settings', [{ path: '', message: 'must be a JSON object' }]);
  return prisma.$transaction(async (tx) => {
    // The row is locked first: two changes at once were both merged into what both had
    // read, and the later write dropped the other change (its settings:updated entry's
    // before state was stale too). Now the second waits and merges into the first.
    if (isUuid(tenantId)) await tx.$queryRaw`SELECT 1 FROM tenant_settings WHERE tenant_id = ${tenantId}::uuid FOR UPDATE`;
    const row = await tx.tenantSettings.findUnique({ where: { tenantId } });
    if (!row) throw new NotFoundError(`no tenant ${tenantId}`);
    const before = tenantSettingsSchema.parse(row.settings);
    const parsed = tenantSettingsSchema.safeParse(deepMerge(before as JsonObject, patch));
    if (!parsed.success) throw new ValidationError('settings', problemsFromZod(parsed.error.issues));
    // A patch that changes nothing ({} or the values already set) is not a change: no
    // write, and no settings:updated entry claiming one.
    if (JSON.stringify(parsed.data) === JSON.stringify(before)) return before;
    await tx.tenantSettings.update({ where: { tenantId }, data: { settings: parsed.data } });
    await recordAuditInTx(tx, {
      tenantId,
      ...actorFields(actor),
      action: 'settings:updated',
      resourceType: 'tenant_settings',
      resourceId: tenantId,
      before: before as JsonObject as Record<string, never>,
      after: parsed.data as JsonObject as Record<string, never>,
    });
    return parsed.data;
  });
}

/** Settings read live but at most once per `ttlMs` per tenant (the hot path reads them per request). */
export function createSettingsCache(prisma: PrismaClient, ttlMs: number) {
  const cache = new Map<string, { value: TenantSettings; at: number }>();
  return async function settingsOf(tenantId: string): Promise<TenantSettings> {
    const hit = cache.get(tenantId);
    if (hit && Date.now() - hit.at < ttlMs) return hit.value;
    let value: TenantSettings;
    try {
      value = await getTenantSettings(prisma, tenantId);
    } catch (err) {
      // The database is out: the last settings read still apply (they limit requests;
      // a change cannot be written during the outage anyway).
      if (hit && isTransientDbError(err)) return hit.value;
      throw err;
    }
    cache.set(tenantId, { value, at: Date.now() });
    return value;
  };
}
