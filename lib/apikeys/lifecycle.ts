/**
 * Revoking and rotating API keys, each audited in the same transaction. Revocation
 * takes effect at once; rotation issues a new key with the same name and scopes and
 * leaves the old one valid for a grace period (its revocation time in the future).
 */
import { z } from 'zod';
import { recordAuditInTx } from '../audit/record.js';
import type { PrismaClient, TransactionClient } from '../clients/prisma.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { ROTATION_GRACE_DEFAULT_SECONDS, ROTATION_GRACE_MAX_SECONDS } from '../limits.js';
import { API_KEY_MAX_DAYS, type Scope } from './keys.js';
import { createApiKeyInTx, toRecord, type ApiKeyRecord } from './records.js';

// The grace limits live in lib/limits.ts (the CLI's help reads them without this module's imports).
export { ROTATION_GRACE_DEFAULT_SECONDS, ROTATION_GRACE_MAX_SECONDS };

/** The tenant's key with this display prefix or id; a key of another tenant is not found. */
async function findKey(tx: TransactionClient, tenantId: string, idOrPrefix: string) {
  const row = await tx.apiKey.findFirst({
    where: { tenantId, OR: [{ displayPrefix: idOrPrefix }, ...(z.uuid().safeParse(idOrPrefix).success ? [{ id: idOrPrefix }] : [])] },
  });
  if (!row) throw new NotFoundError(`no API key "${idOrPrefix}" for tenant ${tenantId}`);
  return row;
}

/** Revoke a key at once (or at `at`, for rotation's grace period). */
export async function revokeApiKey(
  prisma: PrismaClient,
  tenantId: string,
  idOrPrefix: string,
  actor: { type: 'user' | 'service' | 'system'; id: string },
  reason = 'revoked',
  now: () => Date = () => new Date(),
): Promise<ApiKeyRecord> {
  return prisma.$transaction(async (tx) => {
    const row = await findKey(tx, tenantId, idOrPrefix);
    // A key in its rotation grace period is revoked now too, not when the grace ends:
    // revocation is what an operator reaches for when a key has leaked.
    const at = now();
    const revokedAt = row.revokedAt && row.revokedAt <= at ? row.revokedAt : at;
    const updated = await tx.apiKey.update({ where: { id: row.id }, data: { revokedAt, revokedReason: reason } });
    await recordAuditInTx(tx, { tenantId, actorType: actor.type, actorId: actor.id, action: 'apikey:revoked', resourceType: 'api_key', resourceId: row.id, metadata: { display_prefix: row.displayPrefix, reason } }, now);
    return toRecord(updated);
  });
}

/**
 * Issue a new key with the same name and scopes; the old one stays valid for
 * `graceMs` (default ROTATION_GRACE_DEFAULT_SECONDS, at most ROTATION_GRACE_MAX_SECONDS)
 * and is then revoked. Every caller gets the same bound here, whichever flag or field
 * the grace came from. A key already rotated (in its grace period) is refused: its
 * replacement holds the name, and is the key to rotate.
 */
export async function rotateApiKey(
  prisma: PrismaClient,
  tenantId: string,
  idOrPrefix: string,
  actor: { type: 'user' | 'service' | 'system'; id: string },
  graceMs = ROTATION_GRACE_DEFAULT_SECONDS * 1000,
  now: () => Date = () => new Date(),
): Promise<{ key: string; record: ApiKeyRecord; oldRevokedAt: Date }> {
  if (!Number.isSafeInteger(graceMs) || graceMs < 0 || graceMs > ROTATION_GRACE_MAX_SECONDS * 1000) {
    throw new ValidationError('API key rotation', [{ path: 'graceMs', message: `must be a whole number of milliseconds from 0 to ${ROTATION_GRACE_MAX_SECONDS * 1000} (${ROTATION_GRACE_MAX_SECONDS / 3600} hours)` }]);
  }
  return prisma.$transaction(async (tx) => {
    const old = await findKey(tx, tenantId, idOrPrefix);
    if (old.revokedAt && old.revokedAt <= now()) throw new ValidationError('API key', [{ path: 'key', message: 'is already revoked' }]);
    if (old.revokedAt) throw await alreadyRotated(tx, old.revokedAt, old.replacedById);
    const days = Math.max(1, Math.round((old.expiresAt.getTime() - old.createdAt.getTime()) / 86_400_000));
    const oldRevokedAt = new Date(now().getTime() + graceMs);
    // The old key's revocation time first: until it is set, the old key holds the name
    // the new one is given.
    await tx.apiKey.update({ where: { id: old.id }, data: { revokedAt: oldRevokedAt, revokedReason: 'rotated' } });
    const created = await createApiKeyInTx(tx, { tenantId, name: old.name, scopes: old.scopes as Scope[], expiresInDays: Math.min(days, API_KEY_MAX_DAYS) }, actor, now);
    await tx.apiKey.update({ where: { id: old.id }, data: { replacedById: created.record.id } });
    await recordAuditInTx(tx, { tenantId, actorType: actor.type, actorId: actor.id, action: 'apikey:rotated', resourceType: 'api_key', resourceId: old.id, metadata: { display_prefix: old.displayPrefix, replaced_by: created.record.displayPrefix, grace_ms: graceMs } }, now);
    return { ...created, oldRevokedAt };
  });
}

async function alreadyRotated(tx: TransactionClient, until: Date, replacedById: string | null): Promise<ValidationError> {
  const replacement = replacedById ? await tx.apiKey.findUnique({ where: { id: replacedById }, select: { displayPrefix: true } }) : null;
  const next = replacement ? `rotate its replacement ${replacement.displayPrefix} instead` : 'create a new key instead';
  return new ValidationError('API key', [{ path: 'key', message: `is already rotated and stays valid only until ${until.toISOString()}; ${next}` }]);
}
