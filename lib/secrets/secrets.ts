/**
 * The secrets store: per-tenant named values kept as Fernet tokens under the current
 * master key (MASTER_KEYS, first entry). Settings and channel configs hold
 * `secret://NAME` references; workers resolve them at the moment of use. Every
 * operation writes an audit entry naming the secret, never its value.
 */
import { z } from 'zod';
import { recordAuditInTx } from '../audit/record.js';
import type { PrismaClient } from '../clients/prisma.js';
import { InvalidToken } from '../crypto/fernet.js';
import { decryptWithKeyId, type MasterKeys } from '../crypto/master-keys.js';
import { NotFoundError, ValidationError, problemsFromZod } from '../errors.js';

export const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
/** SECRET_NAME in words, for every message that refuses a name. */
export const SECRET_NAME_RULE = 'must be 1-255 letters, digits, ".", "_" or "-", starting with a letter or digit';
const SECRET_REF = /^secret:\/\/([A-Za-z0-9][A-Za-z0-9._-]{0,254})$/;

type Actor = { type: 'user' | 'service' | 'system'; id: string };

const setSchema = z
  .object({
    tenantId: z.uuid({ error: 'must be a UUID' }),
    name: z.string().regex(SECRET_NAME, SECRET_NAME_RULE),
    value: z.string().min(1, 'must not be empty').max(65536, 'must be at most 65536 characters'),
  })
  .strict();

export function isSecretRef(value: string): boolean {
  return SECRET_REF.test(value);
}

export function secretNameOf(ref: string): string {
  const m = SECRET_REF.exec(ref);
  if (!m) throw new ValidationError('secret reference', [{ path: 'ref', message: 'must look like secret://NAME' }]);
  return m[1]!;
}

function parseSet(input: unknown) {
  const parsed = setSchema.safeParse(input);
  // Problems name fields only; zod messages here never quote the value.
  if (!parsed.success) throw new ValidationError('secret', problemsFromZod(parsed.error.issues));
  return parsed.data;
}

export interface SecretInfo {
  name: string;
  version: number;
  keyId: string;
  createdAt: Date;
  updatedAt: Date;
  rotatedAt: Date | null;
}

const info = (r: SecretInfo): SecretInfo => ({
  name: r.name,
  version: r.version,
  keyId: r.keyId,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
  rotatedAt: r.rotatedAt,
});

/** Create a secret, or replace its value (a rotation) when it exists. */
export async function setSecret(
  prisma: PrismaClient,
  keys: MasterKeys,
  input: { tenantId: string; name: string; value: string },
  actor: Actor,
): Promise<SecretInfo & { rotated: boolean }> {
  const { tenantId, name, value } = parseSet(input);
  const token = keys.current.fernet.encrypt(value);
  return prisma.$transaction(async (tx) => {
    const existing = await tx.secret.findUnique({ where: { tenantId_name: { tenantId, name } } });
    if (!existing) {
      const row = await tx.secret.create({ data: { tenantId, name, encryptedValue: token, keyId: keys.current.id } });
      await recordAuditInTx(tx, {
        tenantId,
        actorType: actor.type,
        actorId: actor.id,
        action: 'secret:created',
        resourceType: 'secret',
        resourceId: name,
        after: { name, version: 1, key_id: keys.current.id },
      });
      return { ...info(row), rotated: false };
    }
    const now = new Date();
    const row = await tx.secret.update({
      where: { id: existing.id },
      data: { encryptedValue: token, keyId: keys.current.id, version: existing.version + 1, rotatedAt: now },
    });
    await tx.secretRotation.create({
      data: {
        secretId: existing.id,
        tenantId,
        fromVersion: existing.version,
        toVersion: row.version,
        rotatedAt: now,
      },
    });
    await recordAuditInTx(tx, {
      tenantId,
      actorType: actor.type,
      actorId: actor.id,
      action: 'secret:rotated',
      resourceType: 'secret',
      resourceId: name,
      before: { version: existing.version },
      after: { version: row.version, key_id: keys.current.id },
    });
    return { ...info(row), rotated: true };
  });
}

/** Fails with NotFoundError unless the tenant has a secret of this name. */
export async function requireSecret(prisma: PrismaClient, tenantId: string, name: string): Promise<void> {
  const exists = await prisma.secret.findUnique({ where: { tenantId_name: { tenantId, name } }, select: { id: true } });
  if (!exists) throw new NotFoundError(`no secret "${name}" for tenant ${tenantId}`);
}

/** Replace the value of an existing secret (refuses to create one). */
export async function rotateSecret(
  prisma: PrismaClient,
  keys: MasterKeys,
  input: { tenantId: string; name: string; value: string },
  actor: Actor,
) {
  const { tenantId, name } = parseSet(input);
  await requireSecret(prisma, tenantId, name);
  return setSecret(prisma, keys, input, actor);
}

export async function listSecrets(prisma: PrismaClient, tenantId: string): Promise<SecretInfo[]> {
  const rows = await prisma.secret.findMany({ where: { tenantId }, orderBy: { name: 'asc' } });
  return rows.map(info);
}

export async function secretHistory(prisma: PrismaClient, tenantId: string, name: string) {
  const row = await prisma.secret.findUnique({
    where: { tenantId_name: { tenantId, name } },
    include: { rotations: { orderBy: { rotatedAt: 'asc' } } },
  });
  if (!row) throw new NotFoundError(`no secret "${name}" for tenant ${tenantId}`);
  return {
    createdAt: row.createdAt,
    rotations: row.rotations.map((r) => ({
      fromVersion: r.fromVersion,
      toVersion: r.toVersion,
      rotatedAt: r.rotatedAt,
    })),
  };
}

/**
 * Resolve `secret://NAME` for a tenant at the moment of use. The value is returned to
 * the caller only; it is never logged, stored elsewhere or put in a job.
 */
export async function resolveSecretRef(
  prisma: PrismaClient,
  keys: MasterKeys,
  tenantId: string,
  ref: string,
): Promise<string> {
  const name = secretNameOf(ref);
  const row = await prisma.secret.findUnique({ where: { tenantId_name: { tenantId, name } } });
  return resolveSecretFromRow(keys, tenantId, ref, row);
}

/**
 * The same resolution for a caller that already read the secret row (the alert hot
 * path reads it in one statement with the channel): same checks, same errors.
 */
export function resolveSecretFromRow(
  keys: MasterKeys,
  tenantId: string,
  ref: string,
  row: { encryptedValue: string; keyId: string } | null,
): string {
  const name = secretNameOf(ref);
  if (!row) throw new NotFoundError(`secret reference secret://${name} names no secret of tenant ${tenantId}`);
  try {
    return decryptWithKeyId(keys, row.encryptedValue, row.keyId).toString('utf8');
  } catch (err) {
    // Name the secret (names are not secret) so an operator knows which one to set again.
    if (err instanceof InvalidToken)
      throw new InvalidToken(`secret://${name} of tenant ${tenantId}: ${err.message}`, { cause: err });
    throw err;
  }
}
