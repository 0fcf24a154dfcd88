/**
 * Tenant bootstrap: the tenant, its default settings and its audit chain head are
 * created in one transaction, so a tenant either exists whole or not at all.
 */
import { z } from 'zod';
import type { PrismaClient } from '../clients/prisma.js';
import { ConflictError, ValidationError, problemsFromZod } from '../errors.js';
import { createApiKeyInTx } from '../apikeys/records.js';
import { actorFields, recordAuditInTx, type AuditActor } from '../audit/record.js';
import { defaultTenantSettings, TIME_ZONE } from './settings.js';

export const tenantInputSchema = z
  .object({
    name: z
      .string()
      // abort: an empty name fails the pattern too, and one message says it better than two.
      .min(1, { error: 'must not be empty', abort: true })
      .max(100, 'must be at most 100 characters')
      .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, 'must start with a letter or digit and hold only letters, digits, space, ".", "_" or "-"'),
    timezone: TIME_ZONE.default('UTC'),
  })
  .strict();

export type TenantInput = z.input<typeof tenantInputSchema>;

export interface CreatedTenant {
  id: string;
  name: string;
  timezone: string;
  createdAt: Date;
  /** The first admin API key, shown once and never again. */
  adminKey: { key: string; displayPrefix: string; scopes: string[]; expiresAt: Date };
}

export const BOOTSTRAP_STEPS = ['tenant', 'settings', 'chain_head', 'admin_key', 'audit_entry'] as const;
export type BootstrapStep = (typeof BOOTSTRAP_STEPS)[number];

export interface CreateTenantOptions {
  /** Who creates it (default: the CLI), with the request when it comes over HTTP. */
  actor?: AuditActor;
  now?: () => Date;
  /** Called after each step inside the transaction; a throw rolls everything back (tests use it). */
  afterStep?: (step: BootstrapStep) => void | Promise<void>;
}

/**
 * Create a tenant whole, in one transaction: the tenant, its default settings, its
 * audit chain head, its first admin API key and the audit entry recording all that.
 */
export async function createTenant(prisma: PrismaClient, input: TenantInput, options: CreateTenantOptions = {}): Promise<CreatedTenant> {
  const parsed = tenantInputSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError('tenant', problemsFromZod(parsed.error.issues));
  const actor = options.actor ?? { type: 'system' as const, id: 'bulwark-cli' };
  const step = async (s: BootstrapStep) => options.afterStep?.(s);
  try {
    return await prisma.$transaction(async (tx) => {
      const tenant = await tx.tenant.create({ data: { name: parsed.data.name, timezone: parsed.data.timezone } });
      await step('tenant');
      await tx.tenantSettings.create({ data: { tenantId: tenant.id, settings: defaultTenantSettings() } });
      await step('settings');
      await tx.auditChainHead.create({ data: { tenantId: tenant.id } });
      await step('chain_head');
      const admin = await createApiKeyInTx(tx, { tenantId: tenant.id, name: 'bootstrap admin', scopes: ['admin'] }, actor, options.now);
      await step('admin_key');
      await recordAuditInTx(
        tx,
        {
          tenantId: tenant.id,
          ...actorFields(actor),
          action: 'tenant:created',
          resourceType: 'tenant',
          resourceId: tenant.id,
          after: { name: tenant.name, timezone: tenant.timezone },
        },
        options.now,
      );
      await step('audit_entry');
      return {
        id: tenant.id,
        name: tenant.name,
        timezone: tenant.timezone,
        createdAt: tenant.createdAt,
        adminKey: { key: admin.key, displayPrefix: admin.record.displayPrefix, scopes: admin.record.scopes, expiresAt: admin.record.expiresAt },
      };
    });
  } catch (err) {
    // The unique indexes (the exact name and lower(name), migration 20261127010000) are
    // the check, so two creations racing cannot both pass it.
    const taken = (err as { code?: string }).code === 'P2002' ? await nameTaken(prisma, parsed.data.name) : undefined;
    throw taken ?? err;
  }
}

/** The conflict for a taken name, naming the tenant that holds it when only the case differs. */
async function nameTaken(prisma: PrismaClient, name: string): Promise<ConflictError | undefined> {
  const rows = await prisma.$queryRaw<Array<{ name: string }>>`SELECT "name" FROM "tenants" WHERE lower("name") = lower(${name}) LIMIT 1`;
  const holder = rows[0]?.name;
  if (holder === undefined) return undefined;
  if (holder === name) return new ConflictError(`a tenant named "${name}" already exists`);
  return new ConflictError(`a tenant named "${holder}" already exists; tenant names are compared without regard to case, so "${name}" is taken too`);
}

export interface TenantSummary {
  id: string;
  name: string;
  timezone: string;
  createdAt: Date;
}

/**
 * Every tenant, by name without regard to case, compared character by character in
 * code-point order (space, `-`, `.` and digits before `_`, `_` before letters), then
 * by id. Not `ORDER BY name`: that follows the database's collation, so `A`, `Z`,
 * `a`… under C and `a`, `A`, `Z`… under en_US, and punctuation counted or skipped,
 * and the same command listed differently on two servers. `COLLATE "C"` inside
 * lower() lowers ASCII letters only, whatever the database's locale (names are ASCII
 * anyway). Names are unique even ignoring case, so the id only settles what cannot tie.
 */
export async function listTenants(prisma: PrismaClient): Promise<TenantSummary[]> {
  return prisma.$queryRaw<TenantSummary[]>`
    SELECT "id"::text AS "id", "name", "timezone", "created_at" AS "createdAt"
    FROM "tenants" ORDER BY lower("name" COLLATE "C"), "id"`;
}
