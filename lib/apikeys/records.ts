/**
 * API key records: creating a key (audited in the same transaction) and listing a
 * tenant's keys. A key is valid while it is not expired and not revoked (a rotated key
 * carries a revocation time in the future: the grace period; lifecycle.ts).
 *
 * A name is unique among a tenant's keys that are not revoked (a partial unique index,
 * migration 20261127020000), so an operator can tell the keys listed apart by name. Not
 * among all keys: rotation hands the name on to the new key, and a revoked key's name
 * is free for a new one. A key in its rotation grace period has its revocation time
 * set, so its replacement holds the name while both are valid (`apikey list` tells
 * them apart by state). An expired key that was never revoked still holds its name
 * (the index cannot ask what time it is): revoke it to reuse the name.
 */
import { z } from 'zod';
import { actorFields, recordAuditInTx, type AuditActor } from '../audit/record.js';
import type { PrismaClient, TransactionClient } from '../clients/prisma.js';
import { ConflictError, ValidationError, problemsFromZod } from '../errors.js';
import { API_KEY_MAX_DAYS, SCOPES, newKey, type Scope } from './keys.js';

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
    scopes: z
      .array(z.enum(SCOPES, { error: `must be among ${SCOPES.join(', ')}` }))
      .min(1, 'must name at least one scope'),
    /** Days until expiry. Default: 90. */
    expiresInDays: z
      .number()
      .int()
      .min(1, 'must be at least 1')
      .max(API_KEY_MAX_DAYS, `must be at most ${API_KEY_MAX_DAYS}`)
      .default(90),
  })
  .strict();

export type ApiKeyInput = z.input<typeof apiKeyInputSchema>;

export function toRecord(row: {
  id: string;
  tenantId: string;
  name: string;
  displayPrefix: string;
  scopes: string[];
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}): ApiKeyRecord {
  return { ...row, scopes: row.scopes as Scope[] };
}

/** Create a key inside a transaction; returns the key (shown once) and its record. */
export async function createApiKeyInTx(
  tx: TransactionClient,
  input: ApiKeyInput,
  actor: AuditActor,
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
      ...actorFields(actor),
      action: 'apikey:created',
      resourceType: 'api_key',
      resourceId: row.id,
      after: {
        name: row.name,
        display_prefix: displayPrefix,
        scopes: row.scopes,
        expires_at: row.expiresAt.toISOString(),
      },
    },
    now,
  );
  return { key, record: toRecord(row) };
}

export async function createApiKey(prisma: PrismaClient, input: ApiKeyInput, actor: AuditActor, now?: () => Date) {
  try {
    return await prisma.$transaction((tx) => createApiKeyInTx(tx, input, actor, now));
  } catch (err) {
    // A creation that raced ours took the name between our check and our insert.
    const taken =
      (err as { code?: string }).code === 'P2002'
        ? await nameTaken(prisma, input.tenantId, input.name, now?.() ?? new Date())
        : undefined;
    throw taken ?? err;
  }
}

/** The conflict when a key of the tenant that is not revoked already has this name, naming that key. */
async function nameTaken(
  client: TransactionClient | PrismaClient,
  tenantId: string,
  name: string,
  at: Date,
): Promise<ConflictError | undefined> {
  const holder = await client.apiKey.findFirst({
    where: { tenantId, name, revokedAt: null },
    select: { displayPrefix: true, expiresAt: true },
  });
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
