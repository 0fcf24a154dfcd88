/**
 * Data subject rights over HTTP, scope `admin`, always the key's own tenant:
 * POST /v1/subjects/export writes everything the tenant holds about one subject as a
 * bundle in the object store (lib/privacy/export.ts) and answers 201 with a presigned
 * link that expires soon. The subject travels in the body, never in the URL (URLs end
 * up in access logs). The store down is a 503 with Retry-After, nothing written.
 * (`/v1/subjects/erase` goes beside it.)
 */
import type { FastifyInstance } from 'fastify';
import type { PrismaClient } from '../../lib/clients/prisma.js';
import { StorageUnavailableError, type Storage } from '../../lib/clients/storage.js';
import type { Config } from '../../lib/config.js';
import { ValidationError } from '../../lib/errors.js';
import { exportSubject, type SubjectExport } from '../../lib/privacy/export.js';
import { checkSubject } from '../../lib/privacy/subject-match.js';
import { ApiError } from '../api-error.js';
import { requestActor, type Guards } from '../auth.js';
import { RETRY_AFTER_SECONDS } from '../unavailable.js';
import { withKeyTenant } from './audit.js';

export const exportView = (e: SubjectExport) => ({
  id: e.exportId,
  key: e.key,
  url: e.url,
  expiresAt: e.expiresAt.toISOString(),
  bytes: e.bytes,
  sha256: e.sha256,
  empty: e.empty,
  counts: e.counts,
});

/** The store failed: 503 with Retry-After (the export was aborted, nothing of it is visible). */
export function storeDown(err: unknown): never {
  if (err instanceof StorageUnavailableError)
    throw new ApiError(
      503,
      'object_store_unavailable',
      'the object store did not answer; nothing was exported, retry later',
      undefined,
      { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    );
  throw err;
}

export function registerPrivacyRoutes(
  app: FastifyInstance,
  deps: { prisma: PrismaClient; guards: Guards; config: Config; storage?: Storage; clock?: () => Date },
): void {
  const admin = { preHandler: deps.guards.requireScope('admin') };

  app.post('/v1/subjects/export', admin, async (request, reply) => {
    // The fields as sent: withKeyTenant completes the body in place (tenantId, requestId).
    const raw = request.body;
    const sent = raw && typeof raw === 'object' && !Array.isArray(raw) ? Object.keys(raw) : [];
    const body = withKeyTenant(request, raw, { what: 'subject export' });
    const extra = sent.filter((k) => k !== 'subject' && k !== 'tenantId');
    if (extra.length)
      throw new ValidationError(
        'subject export',
        extra.map((k) => ({ path: k, message: 'is not a known field' })),
      );
    const subject = checkSubject(body.subject);
    if (!deps.storage) storeDown(new StorageUnavailableError('no object store configured'));
    const result = await exportSubject(
      {
        prisma: deps.prisma,
        storage: deps.storage!,
        databaseUrl: deps.config.databaseUrl,
        linkSeconds: deps.config.privacyExportLinkSeconds,
        clock: deps.clock,
      },
      { tenantId: request.apiKey!.tenantId, subject, actor: requestActor(request) },
    ).catch(storeDown);
    return reply.code(201).send({ export: exportView(result) });
  });
}
