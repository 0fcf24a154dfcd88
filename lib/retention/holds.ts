/**
 * Legal holds. While a hold is active (not released, its `until` not passed) retention
 * leaves alone whatever it covers: a tenant's everything (`all`), the entries of one
 * actor (`actor`), of one resource (`resource`, TYPE:ID), or the objects under a key
 * prefix (`prefix`, relative to the tenant's `tenant/{id}/`). Adding and releasing are
 * audited in the same transaction; a released hold keeps its row as history.
 */
import { z } from 'zod';
import { actorFields, recordAuditInTx, type AuditActor } from '../audit/record.js';
import type { PrismaClient } from '../clients/prisma.js';
import { TENANT_ID, TEXT } from '../contracts/common.js';
import { ConflictError, NotFoundError, ValidationError, problemsFromZod } from '../errors.js';
import type { LegalHold } from '../../generated/prisma/client.js';

export type { LegalHold } from '../../generated/prisma/client.js';

const REASON = TEXT(500).pipe(z.string().trim().min(3, 'must say why, in at least 3 characters'));

export const holdInputSchema = z
  .object({
    tenantId: TENANT_ID,
    scope: z.enum(['all', 'actor', 'resource', 'prefix'], {
      error: 'must be one of --all, --actor, --resource, --prefix',
    }),
    actorId: TEXT(255).pipe(z.string().min(1, 'must not be empty')).optional(),
    /** TYPE:ID, e.g. `alert:6b1…` or `invoice:42`. */
    resource: z
      .string()
      .max(356)
      .regex(/^[^:\s]{1,100}:\S{1,255}$/, 'must look like TYPE:ID, e.g. invoice:42')
      .optional(),
    /** Relative to the tenant's objects, e.g. `snapshots/raw/2026-11-02/`; no `..`, no leading `/`. */
    keyPrefix: z
      .string()
      .min(1, 'must not be empty')
      .max(900, 'must be at most 900 characters')
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9._\-/]*$/,
        'must be a key prefix of letters, digits, ".", "_", "-" and "/", e.g. snapshots/raw/2026-11-02/',
      )
      .refine((p) => !p.split('/').includes('..'), 'must not contain ".."')
      .optional(),
    reason: REASON,
    until: z.coerce
      .date({ error: 'must be a date, e.g. 2027-06-30 or 2027-06-30T00:00:00Z' })
      .refine((d) => d.getTime() > Date.now(), 'must be in the future')
      .optional(),
  })
  .strict()
  .superRefine((h, ctx) => {
    const need = { all: null, actor: 'actorId', resource: 'resource', prefix: 'keyPrefix' }[h.scope];
    for (const f of ['actorId', 'resource', 'keyPrefix'] as const) {
      if (f === need && h[f] === undefined)
        ctx.addIssue({ code: 'custom', path: [f], message: `is required for a ${h.scope} hold` });
      if (f !== need && h[f] !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: [f],
          message: `does not go with a ${h.scope} hold (give exactly one of --all, --actor, --resource, --prefix)`,
        });
    }
  });

export type HoldInput = z.input<typeof holdInputSchema>;

export async function addHold(prisma: PrismaClient, input: HoldInput, actor: AuditActor): Promise<LegalHold> {
  const parsed = holdInputSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError('legal hold', problemsFromZod(parsed.error.issues));
  const h = parsed.data;
  const [resourceType, ...rest] = h.resource?.split(':') ?? [];
  return prisma.$transaction(async (tx) => {
    const tenant = await tx.tenant.findUnique({ where: { id: h.tenantId }, select: { id: true } });
    if (!tenant) throw new NotFoundError(`no tenant with id ${h.tenantId} (tenantId)`);
    const hold = await tx.legalHold.create({
      data: {
        tenantId: h.tenantId,
        scope: h.scope,
        actorId: h.actorId ?? null,
        resourceType: resourceType ?? null,
        resourceId: rest.length ? rest.join(':') : null,
        keyPrefix: h.keyPrefix ?? null,
        reason: h.reason,
        until: h.until ?? null,
        createdBy: `${actor.type}:${actor.id}`,
      },
    });
    await recordAuditInTx(tx, {
      tenantId: h.tenantId,
      ...actorFields(actor),
      action: 'hold:added',
      resourceType: 'legal_hold',
      resourceId: hold.id,
      after: holdState(hold),
      reason: h.reason,
    });
    return hold;
  });
}

export async function releaseHold(
  prisma: PrismaClient,
  holdId: string,
  reason: string,
  actor: AuditActor,
  tenantId?: string,
): Promise<LegalHold> {
  const parsed = z
    .object({ id: z.uuid({ error: 'must be a UUID' }), reason: REASON })
    .safeParse({ id: holdId, reason });
  if (!parsed.success) throw new ValidationError('hold release', problemsFromZod(parsed.error.issues));
  return prisma.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<
      Array<{ id: string }>
    >`SELECT id::text FROM legal_holds WHERE id = ${parsed.data.id}::uuid FOR UPDATE`;
    const before = rows.length ? await tx.legalHold.findUnique({ where: { id: parsed.data.id } }) : null;
    if (!before || (tenantId !== undefined && before.tenantId !== tenantId))
      throw new NotFoundError(`no legal hold with id ${holdId}`);
    if (before.releasedAt)
      throw new ConflictError(`legal hold ${holdId} was already released at ${before.releasedAt.toISOString()}`);
    const after = await tx.legalHold.update({
      where: { id: before.id },
      data: { releasedAt: new Date(), releasedBy: `${actor.type}:${actor.id}`, releaseReason: parsed.data.reason },
    });
    await recordAuditInTx(tx, {
      tenantId: before.tenantId,
      ...actorFields(actor),
      action: 'hold:released',
      resourceType: 'legal_hold',
      resourceId: before.id,
      before: holdState(before),
      after: holdState(after),
      reason: parsed.data.reason,
    });
    return after;
  });
}

/** A tenant's holds (or every tenant's), newest first; released ones too when `released`. */
export function listHolds(
  prisma: PrismaClient,
  options: { tenantId?: string; released?: boolean } = {},
): Promise<LegalHold[]> {
  return prisma.legalHold.findMany({
    where: {
      ...(options.tenantId ? { tenantId: options.tenantId } : {}),
      ...(options.released ? {} : { releasedAt: null }),
    },
    orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
  });
}

/** The holds in force now for a tenant. */
export function activeHolds(prisma: PrismaClient, tenantId: string, now = new Date()): Promise<LegalHold[]> {
  return prisma.legalHold.findMany({
    where: { tenantId, releasedAt: null, OR: [{ until: null }, { until: { gt: now } }] },
    orderBy: { createdAt: 'asc' },
  });
}

export function isActive(h: LegalHold, now = new Date()): boolean {
  return h.releasedAt === null && (h.until === null || h.until.getTime() > now.getTime());
}

export function holdState(h: LegalHold): Record<string, string | null> {
  return {
    scope: h.scope,
    actorId: h.actorId,
    resource: h.resourceType ? `${h.resourceType}:${h.resourceId}` : null,
    keyPrefix: h.keyPrefix,
    reason: h.reason,
    until: h.until?.toISOString() ?? null,
    releasedAt: h.releasedAt?.toISOString() ?? null,
    releasedBy: h.releasedBy,
    releaseReason: h.releaseReason,
  };
}

/** What a hold covers, as the CLI prints it. */
export function holdTarget(h: LegalHold): string {
  if (h.scope === 'all') return 'all';
  if (h.scope === 'actor') return `actor ${h.actorId}`;
  if (h.scope === 'resource') return `resource ${h.resourceType}:${h.resourceId}`;
  return `prefix ${h.keyPrefix}`;
}

/** Whether an active hold keeps the object at `key` (a key of tenant `tenantId`). */
export function holdsObject(holds: LegalHold[], tenantId: string, key: string): LegalHold | undefined {
  const rel = key.startsWith(`tenant/${tenantId}/`) ? key.slice(`tenant/${tenantId}/`.length) : key;
  return holds.find(
    (h) => h.scope === 'all' || (h.scope === 'prefix' && h.keyPrefix !== null && rel.startsWith(h.keyPrefix)),
  );
}
