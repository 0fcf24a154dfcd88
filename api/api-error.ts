/** The error a route throws to answer with a given status, code and message (api/errors.ts renders it). */
import type { FieldProblem } from '../lib/errors.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields?: FieldProblem[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }

  /** Fastify's name for the status: error handlers other than ours (Bull Board's) read it. */
  get statusCode(): number {
    return this.status;
  }
}
