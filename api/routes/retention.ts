/**
 * Legal holds and retention over HTTP, scope `admin`, always the key's own tenant:
 * GET/POST /v1/holds, POST /v1/holds/:id/release, GET /v1/retention/receipts and
 * GET /v1/retention/preview (a dry run, object classes included; 503 with Retry-After
 * when the object store does not answer). Every hold change is audited with the request.
 */
import type { FastifyInstance } from 'fastify';
import type { PrismaClient } from '../../lib/clients/prisma.js';
import { ValidationError } from '../../lib/errors.js';
import { addHold, holdState, listHolds, releaseHold, type LegalHold } from '../../lib/retention/holds.js';
import { listReceipts, receiptSummary } from '../../lib/retention/receipts.js';
import { runTenantRetention } from '../../lib/retention/run.js';
import type { ObjectStore } from '../../lib/retention/object-store.js';
import { ApiError } from '../api-error.js';
import { requestActor, type Guards } from '../auth.js';
import { RETRY_AFTER_SECONDS } from '../unavailable.js';
import { withKeyTenant } from './audit.js';

const view = (h: LegalHold) => ({
  id: h.id,
  ...holdState(h),
  createdAt: h.createdAt.toISOString(),
  createdBy: h.createdBy,
});

function flag(query: unknown, name: string): boolean {
  const v = (query as Record<string, unknown> | undefined)?.[name];
  if (v === undefined || v === 'false') return false;
  if (v === 'true') return true;
  throw new ValidationError('query', [{ path: name, message: 'must be true or false' }]);
}

export function registerRetentionRoutes(
  app: FastifyInstance,
  deps: { prisma: PrismaClient; guards: Guards; store?: ObjectStore },
): void {
  const { prisma, guards } = deps;
  const admin = { preHandler: guards.requireScope('admin') };

  app.get('/v1/holds', { ...admin, config: { query: ['released'] } }, async (request) => ({
    holds: (
      await listHolds(prisma, { tenantId: request.apiKey!.tenantId, released: flag(request.query, 'released') })
    ).map(view),
  }));

  app.post('/v1/holds', admin, async (request, reply) => {
    // The request id goes on the audit entry (through the actor), not into the hold.
    const { requestId: _set, ...body } = withKeyTenant(request, request.body, { what: 'legal hold' });
    const hold = await addHold(prisma, body as never, requestActor(request));
    return reply.code(201).send({ hold: view(hold) });
  });

  app.post<{ Params: { id: string } }>('/v1/holds/:id/release', admin, async (request) => {
    const body = (request.body ?? {}) as { reason?: unknown };
    if (typeof body !== 'object' || Array.isArray(body))
      throw new ValidationError('hold release', [{ path: '', message: 'must be a JSON object' }]);
    const extra = Object.keys(body).filter((k) => k !== 'reason');
    if (extra.length)
      throw new ValidationError(
        'hold release',
        extra.map((k) => ({ path: k, message: 'is not a known field' })),
      );
    const hold = await releaseHold(
      prisma,
      request.params.id,
      typeof body.reason === 'string' ? body.reason : '',
      requestActor(request),
      request.apiKey!.tenantId,
    );
    return { hold: view(hold) };
  });

  app.get('/v1/retention/receipts', { ...admin, config: { query: ['limit'] } }, async (request) => {
    const raw = (request.query as Record<string, unknown> | undefined)?.limit;
    const limit = raw === undefined ? 100 : Number(raw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new ValidationError('query', [{ path: 'limit', message: 'must be a whole number from 1 to 1000' }]);
    return {
      receipts: (await listReceipts(prisma, { tenantId: request.apiKey!.tenantId, limit })).map((r) =>
        receiptSummary(r),
      ),
    };
  });

  app.get('/v1/retention/preview', admin, async (request) => {
    const classes = await runTenantRetention(prisma, request.apiKey!.tenantId, { dryRun: true, store: deps.store });
    const failed = classes.find((c) => c.error);
    if (failed)
      throw new ApiError(
        503,
        'object_store_unavailable',
        `the object store did not answer for ${failed.class}; retry later`,
        undefined,
        { 'Retry-After': String(RETRY_AFTER_SECONDS) },
      );
    return {
      classes: classes.map((c) => ({
        class: c.class,
        ttlDays: c.ttlDays,
        cutoff: c.cutoff.toISOString(),
        count: c.count,
        oldest: c.oldest?.toISOString() ?? null,
        newest: c.newest?.toISOString() ?? null,
        ...(c.bytes === undefined ? {} : { bytes: c.bytes }),
        held: c.held,
        holds: c.holds,
      })),
    };
  });
}
