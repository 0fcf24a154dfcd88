/** POST /v1/tenants (operator): a new tenant and its first admin key. */
import type { FastifyInstance } from 'fastify';
import type { PrismaClient } from '../../lib/clients/prisma.js';
import { createTenant } from '../../lib/tenants/tenants.js';
import { requestActor, type Guards } from '../auth.js';

export function registerTenantRoutes(app: FastifyInstance, deps: { prisma: PrismaClient; guards: Guards }): void {
  const { prisma, guards } = deps;

  app.post('/v1/tenants', { preHandler: guards.requireOperator() }, async (request, reply) => {
    const tenant = await createTenant(prisma, request.body as never, { actor: requestActor(request) });
    return reply.code(201).send({
      tenant: { id: tenant.id, name: tenant.name, timezone: tenant.timezone, createdAt: tenant.createdAt.toISOString() },
      adminKey: { key: tenant.adminKey.key, displayPrefix: tenant.adminKey.displayPrefix, scopes: tenant.adminKey.scopes, expiresAt: tenant.adminKey.expiresAt.toISOString() },
    });
  });
}
