/** GET/PATCH /v1/settings (admin): the key's tenant's settings. */
import type { FastifyInstance } from 'fastify';
import type { PrismaClient } from '../../lib/clients/prisma.js';
import { getTenantSettings, updateTenantSettings } from '../../lib/tenants/settings-store.js';
import { requestActor, type Guards } from '../auth.js';

export function registerSettingsRoutes(app: FastifyInstance, deps: { prisma: PrismaClient; guards: Guards }): void {
  const { prisma, guards } = deps;

  app.get('/v1/settings', { preHandler: guards.requireScope('admin') }, async (request) => ({
    settings: await getTenantSettings(prisma, request.apiKey!.tenantId),
  }));

  app.patch('/v1/settings', { preHandler: guards.requireScope('admin') }, async (request) => ({
    settings: await updateTenantSettings(prisma, request.apiKey!.tenantId, request.body, requestActor(request)),
  }));
}
