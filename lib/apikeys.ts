/**
 * API keys: 32 random bytes behind a recognisable `bwk_` prefix. Only the SHA-256
 * hash and a short display prefix are stored; the key itself is shown once. A key is
 * valid while it is not expired and not revoked (a rotated key carries a revocation
 * time in the future: the grace period). Every change is audited in the same
 * transaction.
 *
 * A name is unique among a tenant's keys that are not revoked (a partial unique index,
 * migration 20261127020000), so an operator can tell the keys listed apart by name. Not
 * among all keys: rotation hands the name on to the new key, and a revoked key's name
 * is free for a new one. A key in its rotation grace period has its revocation time
 * set, so its replacement holds the name while both are valid (`apikey list` tells
 * them apart by state). An expired key that was never revoked still holds its name
 * (the index cannot ask what time it is): revoke it to reuse the name.
 */
import { hash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { recordAuditInTx } from './audit/record.js';
import type { PrismaClient, TransactionClient } from './clients/prisma.js';
import { ConflictError, NotFoundError, ValidationError, problemsFromZod } from './errors.js';

export const API_KEY_PREFIX = 'bwk_';
export const SCOPES = ['audit:write', 'audit:read', 'alert:write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];
/** Longest life of a key, in days; the CLI's --expires-days is held to it too. */
export const API_KEY_MAX_DAYS = 730;
/**
 * Longest time a rotated key stays valid, in seconds: a day is enough to roll a new
 * key out, and a longer grace would leave a key meant to be retired usable for months.
 */
export const ROTATION_GRACE_MAX_SECONDS = 86_400;
/** How long a rotated key stays valid when no grace is given (the CLI's --grace-seconds default too). */
export const ROTATION_GRACE_DEFAULT_SECONDS = 300;
const KEY_FORMAT = /^bwk_[A-Za-z0-9_-]{43}$/;

export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  name: string;
  displayPrefix: string;
  scopes: Scope[];
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

export const apiKeyInputSchema = z
  .object({
    tenantId: z.uuid({ error: 'must be a UUID' }),
    name: z.string().min(1, 'must not be empty').max(100, 'must be at most 100 characters'),
    scopes: z.array(z.enum(SCOPES, { error: `must be among ${SCOPES.join(', ')}` })).min(1, 'must name at least one scope'),
    /** Days until expiry. Default: 90. */
    expiresInDays: z.number().int().min(1, 'must be at least 1').max(API_KEY_MAX_DAYS, `must be at most ${API_KEY_MAX_DAYS}`).default(90),
  })
  .strict();

export type ApiKeyInput = z.input<typeof apiKeyInputSchema>;

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

function newKey(): { key: string; hash: string; displayPrefix: string } {
  const key = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { key, hash: hashApiKey(key), displayPrefix: displayPrefixOf(key) };
}

function toRecord(row: { id: string; tenantId: string; name: string; displayPrefix: string; scopes: string[]; createdAt: Date; expiresAt: Date; revokedAt: Date | null; lastUsedAt: Date | null }): ApiKeyRecord {
  return { ...row, scopes: row.scopes as Scope[] };
}

/** Create a key inside a transaction; returns the key (shown once) and its record. */
export async function createApiKeyInTx(
  tx: TransactionClient,
  input: ApiKeyInput,
  actor: { type: 'user' | 'service' | 'system'; id: string },
  now: () => Date = () => new Date(),
): Promise<{ key: string; record: ApiKeyRecord }> {
  const parsed = apiKeyInputSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError('API key', problemsFromZod(parsed.error.issues));
  // Asked first for the message; the index is the check when two creations race (createApiKey).
  const taken = await nameTaken(tx, parsed.data.tenantId, parsed.data.name, now());
  if (taken) throw taken;
  const { key, hash, displayPrefix } = newKey();
  const created = now();
  const row = await tx.apiKey.create({
    data: {
      tenantId: parsed.data.tenantId,
      name: parsed.data.name,
      displayPrefix,
      hash,
      scopes: [...new Set(parsed.data.scopes)],
      createdAt: created,
      expiresAt: new Date(created.getTime() + parsed.data.expiresInDays * 86_400_000),
    },
  });
  await recordAuditInTx(
    tx,
    {
      tenantId: row.tenantId,
      actorType: actor.type,
      actorId: actor.id,
      action: 'apikey:created',
      resourceType: 'api_key',
      resourceId: row.id,
      after: { name: row.name, display_prefix: displayPrefix, scopes: row.scopes, expires_at: row.expiresAt.toISOString() },
    },
    now,
  );
  return { key, record: toRecord(row) };
}

export async function createApiKey(prisma: PrismaClient, input: ApiKeyInput, actor: { type: 'user' | 'service' | 'system'; id: string }, now?: () => Date) {
  try {
    return await prisma.$transaction((tx) => createApiKeyInTx(tx, input, actor, now));
  } catch (err) {
    // A creation that raced ours took the name between our check and our insert.
    const taken = (err as { code?: string }).code === 'P2002' ? await nameTaken(prisma, input.tenantId, input.name, now?.() ?? new Date()) : undefined;
    throw taken ?? err;
  }
}

/** The conflict when a key of the tenant that is not revoked already has this name, naming that key. */
async function nameTaken(client: TransactionClient | PrismaClient, tenantId: string, name: string, at: Date): Promise<ConflictError | undefined> {
  const holder = await client.apiKey.findFirst({ where: { tenantId, name, revokedAt: null }, select: { displayPrefix: true, expiresAt: true } });
  if (!holder) return undefined;
  const expired = holder.expiresAt <= at ? `, expired ${holder.expiresAt.toISOString()}` : '';
  return new ConflictError(
    `an API key named "${name}" already exists for this tenant (${holder.displayPrefix}${expired}); names are unique among keys that are not revoked: choose another name, or revoke or rotate that key`,
  );
}

export async function listApiKeys(prisma: PrismaClient, tenantId: string): Promise<ApiKeyRecord[]> {
  const rows = await prisma.apiKey.findMany({ where: { tenantId }, orderBy: { createdAt: 'asc' } });
  return rows.map(toRecord);
}

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
