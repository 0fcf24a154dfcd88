/**
 * Tenant bootstrap: the tenant, its default settings and its audit chain head are
 * created in one transaction, so a tenant either exists whole or not at all.
 */
import { z } from 'zod';
import type { PrismaClient } from './clients/prisma.js';
import { ConflictError, ValidationError, problemsFromZod } from './errors.js';
import { defaultTenantSettings } from './settings.js';

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export const tenantInputSchema = z
  .object({
    name: z
      .string()
      .min(1, 'must not be empty')
      .max(100, 'must be at most 100 characters')
      .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, 'must start with a letter or digit and hold only letters, digits, space, ".", "_" or "-"'),
    timezone: z.string().refine(isTimeZone, 'must be an IANA time zone, e.g. Europe/Berlin').default('UTC'),
  })
  .strict();

export type TenantInput = z.input<typeof tenantInputSchema>;

export interface CreatedTenant {
  id: string;
  name: string;
  timezone: string;
  createdAt: Date;
}

export async function createTenant(prisma: PrismaClient, input: TenantInput): Promise<CreatedTenant> {
  const parsed = tenantInputSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError('tenant', problemsFromZod(parsed.error.issues));
  try {
    const tenant = await prisma.tenant.create({
      data: {
        name: parsed.data.name,
        timezone: parsed.data.timezone,
        settings: { create: { settings: defaultTenantSettings() } },
        chainHead: { create: {} },
      },
    });
    return { id: tenant.id, name: tenant.name, timezone: tenant.timezone, createdAt: tenant.createdAt };
  } catch (err) {
    if ((err as { code?: string }).code === 'P2002') {
      throw new ConflictError(`a tenant named "${parsed.data.name}" already exists`);
    }
    throw err;
  }
}
