/**
 * Bull Board answers its own failures (a read-only queue, an unknown queue or job, a
 * bad query, anything its handlers throw) with `{ error: { key, options? }, ...details }`,
 * a translation key for its UI. Through our server every error has one shape, so this
 * rewrites those bodies to `{ error: { code, message, key, options? } }`: the API's
 * code and an English message, with `key`/`options` kept because the dashboard's page
 * builds its error toast from them. A 5xx never carries the thrown message (it may
 * describe internals); it is logged with the request id instead.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ErrorBody } from './errors.js';

/** What Bull Board's errorResponse() builds (@bull-board/api dist/errors.js). */
interface BoardErrorBody {
  error: { key: string; options?: Record<string, unknown> };
  message?: unknown;
}

export type BoardErrorReply = ErrorBody & { error: { key: string; options?: Record<string, unknown> } };

const CODES: Readonly<Record<number, string>> = {
  400: 'bad_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
};

export function isBoardErrorBody(payload: unknown): payload is BoardErrorBody {
  if (typeof payload !== 'object' || payload === null || !('error' in payload)) return false;
  const error: unknown = payload.error;
  return typeof error === 'object' && error !== null && 'key' in error && typeof error.key === 'string' && !('code' in error);
}

/**
 * Bull Board's own English text for its keys (the en-US locale its UI ships), read once.
 * The UI package is Bull Board's dependency, not ours, so it is resolved from the adapter.
 */
let english: Readonly<Record<string, string>> | undefined;
function englishMessages(): Readonly<Record<string, string>> {
  if (english) return english;
  english = {};
  try {
    const fromAdapter = createRequire(createRequire(import.meta.url).resolve('@bull-board/fastify'));
    const file = join(dirname(fromAdapter.resolve('@bull-board/ui/package.json')), 'dist/static/locales/en-US/messages.json');
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    const errors = typeof parsed === 'object' && parsed !== null && 'ERRORS' in parsed ? parsed.ERRORS : undefined;
    if (typeof errors === 'object' && errors !== null) {
      english = Object.fromEntries(Object.entries(errors).filter((e): e is [string, string] => typeof e[1] === 'string'));
    }
  } catch {
    // A Bull Board release that moved its locales: the key itself is still a fair message.
  }
  return english;
}

/**
 * A 4xx that Bull Board's error handler labelled INTERNAL_SERVER_ERROR (it gives that key to
 * whatever it catches): its own text would say "Internal server error" for a refusal. The 403
 * is @fastify/static refusing a path that climbs out of the dashboard's files ("..", also
 * written with a backslash); 404 and 400 are a missing file and a malformed path.
 */
const REFUSALS: Readonly<Record<number, string>> = {
  400: 'the path is not valid',
  403: 'the path is refused: it leads outside the dashboard\'s files (".." is not allowed)',
  404: 'no such file',
};

function messageFor(body: BoardErrorBody, status: number): string {
  if (status < 500 && body.error.key === 'ERRORS.INTERNAL_SERVER_ERROR') {
    if (status === 403) return REFUSALS[403]!;
    return typeof body.message === 'string' && body.message ? body.message : (REFUSALS[status] ?? `refused (${status})`);
  }
  const text = englishMessages()[body.error.key.replace(/^ERRORS\./, '')];
  if (text) return text.replace(/\{\{(\w+)\}\}/g, (_, name: string) => String(body.error.options?.[name] ?? ''));
  // A 4xx thrown before Bull Board's handler (Fastify refusing the body) phrased itself.
  if (status < 500 && typeof body.message === 'string' && body.message) return body.message;
  return body.error.key;
}

/** The API-shaped body for a Bull Board error answered with `status`. */
export function toApiShape(body: BoardErrorBody, status: number, requestId: string): BoardErrorReply {
  const { key, options } = body.error;
  const internal = status >= 500;
  return {
    error: {
      code: internal ? 'internal' : (CODES[status] ?? 'bad_request'),
      message: internal ? `internal error; quote request id ${requestId}` : messageFor(body, status),
      key,
      ...(options ? { options } : {}),
    },
  };
}
