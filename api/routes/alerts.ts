/** POST /v1/alerts (alert:write): an alert for the key's tenant, queued for its decision. */
import type { FastifyInstance } from 'fastify';
import type { PrismaClient } from '../../lib/clients/prisma.js';
import { isUuid } from '../../lib/contracts/common.js';
import { ConflictError } from '../../lib/errors.js';
import type { Producer } from '../../producers/index.js';
import type { Guards } from '../auth.js';
import { withKeyTenant } from './audit.js';

export function registerAlertRoutes(app: FastifyInstance, deps: { producer: Producer; prisma: PrismaClient; guards: Guards }): void {
  const { producer, prisma, guards } = deps;

  app.post('/v1/alerts', { preHandler: guards.requireScope('alert:write') }, async (request, reply) => {
    // The request's own id goes into the job, as for audit writes; a requestId in the
    // body is not the caller's to set here (docs/api.md).
    const { requestId: _ignored, ...sent } = withKeyTenant(request, request.body, { what: 'alert' });
    const alert: Record<string, unknown> = { ...sent, requestId: request.id };
    // An id another tenant's alert already holds would be refused by the worker (it is
    // the ledger's key); said here, at once, for the common case. Not which tenant.
    if (typeof alert.id === 'string' && isUuid(alert.id)) {
      const holder = await prisma.alertRecord.findUnique({ where: { id: alert.id }, select: { tenantId: true } });
      if (holder && holder.tenantId !== request.apiKey!.tenantId) throw new ConflictError(`alert id ${alert.id} is already in use; send the alert with another id, or none`);
    }
    const result = await producer.alert.send(alert as never);
    return reply.code(202).send({ alertId: result.alertId, jobId: result.jobId, requestId: request.id });
  });
}
