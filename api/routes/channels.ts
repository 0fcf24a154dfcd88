/** GET/POST /v1/channels, DELETE /v1/channels/:name and GET /v1/alerts (the ledger); scope admin. */
import type { FastifyInstance } from 'fastify';
import { ledgerQuerySchema, queryLedger } from '../../lib/alerts/ledger-query.js';
import { addChannel, listChannels, removeChannel, type TargetPolicy } from '../../lib/alerts/channels.js';
import type { PrismaClient } from '../../lib/clients/prisma.js';
import { requestActor, type Guards } from '../auth.js';
import { withKeyTenant } from './audit.js';

/** The ledger query's fields but the tenant, which is the key's: `?tenantId=` is refused, not overridden. */
const LEDGER_QUERY = Object.keys(ledgerQuerySchema.shape).filter((k) => k !== 'tenantId');

export function registerChannelRoutes(app: FastifyInstance, deps: { prisma: PrismaClient; guards: Guards; targets: TargetPolicy }): void {
  const { prisma, guards, targets } = deps;

  app.get('/v1/alerts', { preHandler: guards.requireScope('admin'), config: { query: LEDGER_QUERY } }, async (request) =>
    queryLedger(prisma, { ...(request.query as Record<string, string>), tenantId: request.apiKey!.tenantId }),
  );

  app.get('/v1/channels', { preHandler: guards.requireScope('admin') }, async (request) => ({
    channels: await listChannels(prisma, request.apiKey!.tenantId),
  }));

  app.post('/v1/channels', { preHandler: guards.requireScope('admin') }, async (request, reply) => {
    // withKeyTenant adds the request id, which a channel does not take; one the caller
    // sent stays, for the channel's strict schema to refuse like any unknown field.
    const sent = typeof request.body === 'object' && request.body !== null && Object.hasOwn(request.body, 'requestId');
    const { requestId, ...body } = withKeyTenant(request, request.body, { what: 'channel' });
    const channel = await addChannel(prisma, (sent ? { ...body, requestId } : body) as never, requestActor(request), targets);
    return reply.code(201).send({ channel });
  });

  app.delete<{ Params: { name: string } }>('/v1/channels/:name', { preHandler: guards.requireScope('admin') }, async (request) => ({
    channel: await removeChannel(prisma, request.apiKey!.tenantId, request.params.name, requestActor(request)),
  }));
}
