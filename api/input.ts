/**
 * Input checks every /v1 route shares, before any route code sees the input: the JSON
 * body parser (with the prototype-poisoning guard) and the query string and path
 * parameters (each given once, each text Postgres can store, each one the route reads).
 * Refusing them here keeps a NUL byte from reaching a query, where Postgres answers
 * with an error (22021) that would surface as a 500.
 */
import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { isStorableText } from '../lib/contracts/common.js';
import { ValidationError, type FieldProblem } from '../lib/errors.js';
import { ApiError } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The query parameters a /v1 route reads; any other is refused (400 naming it), so a
     * misspelt filter is not silently ignored. None given: the route takes no query.
     */
    query?: readonly string[];
  }
}

/** Largest declared body still received (and discarded) after a 413, so the client can read the answer. */
export const DRAIN_MAX_BYTES = 64 * 1024 * 1024;

const UNSTORABLE = 'must not contain NUL characters or unpaired surrogates';
const POISON = 'is a key name that is not accepted (__proto__, or constructor holding prototype: they could change object prototypes)';

/**
 * The first key that could poison a prototype where the value is later merged or
 * copied: `__proto__` anywhere, or `constructor` holding `prototype` (the rule
 * Fastify's own parser applies, which refuses such a body as "not valid JSON").
 */
function poisonedKey(root: unknown): string | undefined {
  // An explicit stack, not recursion: a body nested thousands deep (a few KB) would
  // otherwise overflow the call stack, a 500 to anyone, before authentication.
  const stack: Array<[value: unknown, path: string]> = [[root, '']];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    const node = value as Record<string, unknown>;
    if (Object.hasOwn(node, '__proto__')) return `${path}__proto__`;
    const ctor = Object.hasOwn(node, 'constructor') ? node.constructor : undefined;
    if (ctor !== null && typeof ctor === 'object' && Object.hasOwn(ctor, 'prototype')) return `${path}constructor`;
    const entries = Object.entries(node);
    for (let i = entries.length - 1; i >= 0; i--) stack.push([entries[i]![1], `${path}${entries[i]![0]}.`]);
  }
  return undefined;
}

export function parseJsonBody(text: string): unknown {
  if (text.length === 0) throw new ApiError(400, 'invalid_json', 'the body is empty but the content type is JSON');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError(400, 'invalid_json', 'the body is not valid JSON');
  }
  // JSON.parse makes "__proto__" an own data property, harmless here; the walk runs
  // only when the text could hold such a key (directly or \u-escaped), as most bodies don't.
  if (text.includes('__proto__') || text.includes('constructor') || text.includes('\\u')) {
    const key = poisonedKey(parsed);
    // An ApiError, not a ValidationError: it carries its status (statusCode) to error
    // handlers other than ours too, such as Bull Board's on its routes.
    if (key) throw new ApiError(400, 'validation_failed', `invalid body: ${key}: ${POISON}`, [{ path: key, message: POISON }]);
  }
  return parsed;
}

/**
 * Query values and path parameters: one string each, storable as Postgres text, and
 * only the query parameters in `accepted` (when given). One problem per parameter.
 */
export function inputProblems(request: Pick<FastifyRequest, 'query' | 'params'>, accepted?: ReadonlySet<string>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const name = (key: string) => (isStorableText(key) ? key : '(a query parameter name)');
  for (const [key, value] of Object.entries((request.query ?? {}) as Record<string, unknown>)) {
    if (Array.isArray(value)) problems.push({ path: name(key), message: 'is given more than once; give it once' });
    else if (!isStorableText(key) || (typeof value === 'string' && !isStorableText(value))) problems.push({ path: name(key), message: UNSTORABLE });
    // The message the routes' own strict query schemas give, so a caller sees one wording.
    else if (accepted && !accepted.has(key)) problems.push({ path: key, message: accepted.size === 0 ? 'is not a known field (this route takes no query parameters)' : 'is not a known field' });
  }
  for (const [key, value] of Object.entries((request.params ?? {}) as Record<string, unknown>)) {
    if (typeof value === 'string' && !isStorableText(value)) problems.push({ path: key, message: UNSTORABLE });
  }
  return problems;
}

/**
 * The query string's percent-encoding must decode to UTF-8 text. Fastify's parser
 * decodes leniently: `?actorId=%ff%fe` reached the route as other text and was
 * answered 200 (api.md promises 400, as for the same fault in the path). Returns the
 * first parameter whose name or value does not decode, by its name when that decodes.
 */
export function badlyEncodedQueryParameter(url: string): string | undefined {
  const at = url.indexOf('?');
  if (at < 0) return undefined;
  for (const pair of url.slice(at + 1).split('&')) {
    if (!pair.includes('%')) continue;
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    let name: string;
    try {
      name = decode(rawName);
    } catch {
      return '(a query parameter name)';
    }
    try {
      if (eq >= 0) decode(pair.slice(eq + 1));
    } catch {
      return isStorableText(name) ? name.slice(0, 100) : '(a query parameter name)';
    }
  }
  return undefined;
}

function checkInput(accepted: ReadonlySet<string>): preHandlerAsyncHookHandler {
  return async (request) => {
    const problems = inputProblems(request, accepted);
    if (problems.length > 0) throw new ValidationError('request', problems);
  };
}

/**
 * Registers the JSON parser, and the query and parameter check on every /v1 route
 * added after this call (its query parameters are those of its `config.query`). The
 * check runs after the route's own preHandlers (the key and scope guard), so an
 * unauthenticated caller learns nothing about the input rules.
 */
export function registerInputChecks(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  // As bytes: decoded as a string, invalid UTF-8 became U+FFFD without a word, so a
  // corrupted body was accepted and stored altered. JSON text is UTF-8 (RFC 8259).
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      const bytes = body as Buffer;
      if (!isUtf8(bytes)) throw new ApiError(400, 'invalid_json', 'the body is not valid UTF-8 (JSON text must be UTF-8)');
      done(null, parseJsonBody(bytes.toString('utf8')));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  // A body declared larger than the route takes is refused before a byte of it is read
  // or the key is looked up. Fastify refused it too, but with `Connection: close`: the
  // socket was closed while the client was still sending, and a client that writes its
  // whole body before reading (most do) got a reset instead of the 413. Without that
  // header the connection stays open and Node discards the rest of the body, so the
  // client finishes sending and reads the answer. Past DRAIN_MAX_BYTES it is not worth
  // receiving: the connection is closed.
  app.addHook('onRequest', async (request, reply) => {
    const declared = Number(request.headers['content-length']);
    const limit = request.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit ?? 1_048_576;
    if (!(declared > limit)) return;
    if (declared > DRAIN_MAX_BYTES) reply.header('connection', 'close');
    throw new ApiError(413, 'payload_too_large', `the request body is larger than the ${limit}-byte limit of ${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`);
  });
  // Before authentication, as for a malformed path (frameworkErrors in errors.ts).
  app.addHook('onRequest', async (request) => {
    const bad = badlyEncodedQueryParameter(request.url);
    if (bad !== undefined) throw new ApiError(400, 'bad_request', `the query string is not valid: the percent-encoding of ${bad} does not decode to UTF-8 text`);
  });
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/v1/')) return;
    const own = route.preHandler === undefined ? [] : Array.isArray(route.preHandler) ? route.preHandler : [route.preHandler];
    route.preHandler = [...own, checkInput(new Set(route.config?.query ?? []))];
  });
}
