/**
 * POST /v1/subjects/erase (scope `admin`, the key's own tenant): subject erasure
 * (lib/privacy/erase.ts), body `{ subject, reason, dryRun? }`. 200 with the counts;
 * 409 naming each legal hold that covers the subject's data; 503 when
 * ERASURE_SIGNING_KEY is not set on the API process (nothing can be signed), and 503
 * `object_store_unavailable` with Retry-After when the object store does not answer
 * (the subject's objects are found and deleted first: the database is then untouched).
 */
import type { FastifyInstance } from 'fastify';
import type { PrismaClient } from '../../lib/clients/prisma.js';
import { StorageUnavailableError, type Storage } from '../../lib/clients/storage.js';
import type { CheckpointSigner } from '../../lib/checkpoints/keys.js';
import { eraseSubject } from '../../lib/privacy/erase.js';
import { ApiError } from '../api-error.js';
import { RETRY_AFTER_SECONDS } from '../unavailable.js';
import { requestActor, type Guards } from '../auth.js';
import { withKeyTenant } from './audit.js';

export function registerSubjectRoutes(
  app: FastifyInstance,
  deps: { prisma: PrismaClient; guards: Guards; storage?: Storage; signer?: CheckpointSigner },
): void {
  app.post('/v1/subjects/erase', { preHandler: deps.guards.requireScope('admin') }, async (request) => {
    // The request id goes on the closing audit entry (through the actor).
    const { requestId: _set, ...body } = withKeyTenant(request, request.body, { what: 'subject erasure' });
    if (!deps.signer || !deps.storage)
      throw new ApiError(503, 'erasure_unavailable', 'subject erasure needs ERASURE_SIGNING_KEY and the object store');
    return eraseSubject(
      { prisma: deps.prisma, storage: deps.storage, signer: deps.signer },
      body as never,
      requestActor(request),
    ).catch((err: unknown) => {
      if (err instanceof StorageUnavailableError)
        throw new ApiError(
          503,
          'object_store_unavailable',
          'the object store did not answer; the erasure stopped before changing the database (objects it deleted stay deleted), retry later: the next run completes it',
          undefined,
          { 'Retry-After': String(RETRY_AFTER_SECONDS) },
        );
      throw err;
    });
  });
}
