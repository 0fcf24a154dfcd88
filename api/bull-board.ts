/**
 * Bull Board at /admin/queues, showing every Bulwark queue, for the operator only
 * (HTTP Basic credentials; a tenant's admin key does not open it). Read-only unless
 * BULL_BOARD_READ_ONLY=false, and always read-only in live. Its errors answer in the
 * API's error shape (bull-board-errors.ts). Without an operator credential configured it
 * is closed (every request gets the 401 a wrong password gets), which start-up logs once
 * (`bull_board_closed`), since nothing else would tell the operator why.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from '../lib/logger.js';
import { isBoardErrorBody, toApiShape } from './bull-board-errors.js';
import { ApiError } from './errors.js';
import { outageOf, unavailableError } from './unavailable.js';

export const BULL_BOARD_PATH = '/admin/queues';

/** The dashboard's page needs its own scripts, styles and fonts; nothing else. */
export const BULL_BOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline' https://fonts.googleapis.com",
  "font-src 'self' https://fonts.gstatic.com data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join('; ');

export function bullBoardCsp(url: string): string | undefined {
  return url.startsWith(BULL_BOARD_PATH) ? BULL_BOARD_CSP : undefined;
}

export interface BullBoardOptions {
  queues: Queue[];
  readOnly: boolean;
  /**
   * Throws an ApiError (401, or 429 for an address locked out) unless the request is the
   * operator's. Operator credentials only: the board shows and acts on every tenant's
   * jobs, so a tenant's admin key (whose reach is its own tenant) does not open it.
   */
  verifyOperator: (request: FastifyRequest, refusal?: string) => Promise<void>;
  /** Whether OPERATOR_USERNAME and OPERATOR_PASSWORD are set; when not, `bull_board_closed` is logged once. */
  operatorSet: boolean;
  logger: Logger;
}

export async function registerBullBoard(app: FastifyInstance, options: BullBoardOptions): Promise<void> {
  if (!options.operatorSet) {
    options.logger.info(
      { event: 'bull_board_closed', path: BULL_BOARD_PATH },
      'Bull Board is closed: no operator credential is set (set OPERATOR_USERNAME and OPERATOR_PASSWORD to open it); every request to it gets 401',
    );
  }
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: options.queues.map(
      (q) => new BullMQAdapter(q, { readOnlyMode: options.readOnly, allowRetries: !options.readOnly }),
    ),
    serverAdapter,
    options: { uiConfig: { boardTitle: options.readOnly ? 'Bulwark (read-only)' : 'Bulwark' } },
  });
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      try {
        await options.verifyOperator(request, "Bull Board needs operator credentials (it shows every tenant's jobs)");
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        // Answered here, in the API's shape: the 401's Basic challenge lets a browser ask
        // the operator for credentials.
        await reply
          .code(err.status)
          .headers(err.headers ?? {})
          .send({ error: { code: err.code, message: err.message } });
      }
    });
    // Bull Board's own error bodies (its handlers and its error handler) in the API's shape.
    scope.addHook('preSerialization', async (request, reply, payload) => {
      if (reply.statusCode < 400 || !isBoardErrorBody(payload)) return payload;
      // Redis away (its handles are on the API's connection, which refuses rather than
      // waits): the same 503 + Retry-After as the rest of the API, not a 500.
      const outage =
        reply.statusCode >= 500 && typeof payload.message === 'string'
          ? outageOf(
              Object.assign(new Error(payload.message), {
                name: /^[A-Z]+ /.test(payload.message) ? 'ReplyError' : 'Error',
              }),
            )
          : undefined;
      if (outage) {
        const refusal = unavailableError(outage);
        void reply.code(refusal.status).headers(refusal.headers ?? {});
        return { error: { code: refusal.code, message: refusal.message, key: payload.error.key } };
      }
      if (reply.statusCode >= 500) {
        request.log.error(
          { event: 'bull_board_error', status: reply.statusCode, key: payload.error.key, detail: payload.message },
          'Bull Board request failed',
        );
      }
      return toApiShape(payload, reply.statusCode, request.id);
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
  });
}
