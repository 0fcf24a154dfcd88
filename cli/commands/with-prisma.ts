/** A Prisma client for one CLI command: pool of one, always disconnected afterwards. */
import { createPrisma, type PrismaClient } from '../../lib/clients/prisma.js';
import type { Config } from '../../lib/config.js';
import { NotFoundError } from '../../lib/errors.js';

export async function withPrisma<T>(config: Config, fn: (prisma: PrismaClient) => Promise<T>): Promise<T> {
  const prisma = createPrisma(config, { max: 1 });
  try {
    return await fn(prisma);
  } finally {
    await prisma.$disconnect();
  }
}

/**
 * Fails with NotFoundError (exit 1) naming the id and the flag when no tenant has it.
 * Every command taking --tenant checks this first: otherwise an unknown id surfaced as
 * whatever the command hit next (a foreign-key error from a write, an empty list from
 * a read), none of which says what was wrong. `audit verify` has its own check
 * (runAuditVerify): an id with entries or a chain head but no tenants row is verified,
 * and reported broken, instead of not found.
 */
export async function requireTenant(prisma: PrismaClient, tenantId: string): Promise<void> {
  const found = await prisma.tenant.findUnique({ where: { id: tenantId }, select: { id: true } });
  if (!found) throw new NotFoundError(`no tenant with id ${tenantId} (--tenant)`);
}

/** withPrisma for a command scoped to one tenant: the tenant is checked before fn runs. */
export function withTenant<T>(config: Config, tenantId: string, fn: (prisma: PrismaClient) => Promise<T>): Promise<T> {
  return withPrisma(config, async (prisma) => {
    await requireTenant(prisma, tenantId);
    return fn(prisma);
  });
}
