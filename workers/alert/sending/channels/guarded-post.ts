/**
 * The POST to a tenant-chosen URL (webhook, Slack), made so it cannot reach an
 * internal host (SSRF; lib/alerts/target-address.ts). fetch resolves the host itself, so a
 * check before it could be answered by DNS with a public address and fetch's own
 * lookup then with 127.0.0.1 (DNS rebinding). Here the request goes through
 * node:http(s) with a `lookup` of our own: the addresses it connects to are the ones
 * just checked, while the Host header and TLS SNI still carry the URL's host name.
 * Redirects are never followed (node:http does not): a 3xx is an answer like any other.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { blockedAddress, isLocalhostName, literalTargetProblem } from '../../../../lib/alerts/target-address.js';

/** A send refused for its target: never retried, never a request. */
export class TargetRefusedError extends Error {
  override readonly name = 'TargetRefusedError';
}

/** Most bytes of an answer kept: only its first 200 characters are ever reported. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Resolves every address of the host and refuses them all if any is not public: a
 * name with one public and one internal address could otherwise be connected to the
 * internal one (Node tries them in turn).
 */
const checkedLookup: LookupFunction = (hostname, options, callback) => {
  if (isLocalhostName(hostname)) {
    callback(new TargetRefusedError(`its host ${hostname} is a loopback name`), '', 4);
    return;
  }
  const all: LookupAllOptions = { family: options.family ?? 0, hints: options.hints, all: true };
  dnsLookup(hostname, all, (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => {
    if (err) return callback(err, '', 4);
    const bad = addresses.map((a) => ({ a, why: blockedAddress(a.address) })).find((x) => x.why);
    if (bad)
      return callback(new TargetRefusedError(`its host ${hostname} resolves to ${bad.a.address}, ${bad.why}`), '', 4);
    // net asks for every address when it tries them in turn (autoSelectFamily), else for one.
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    const first = addresses[0];
    if (!first) return callback(new TargetRefusedError(`its host ${hostname} has no address`), '', 4);
    callback(null, first.address, first.family);
  });
};

/**
 * What a send reads of an answer: the part of fetch's Response it uses, so Telegram's
 * fetch and this POST answer alike. A real Response was built here before, and its
 * Headers and body stream cost about a twentieth of a delivery's CPU.
 */
export interface HttpAnswer {
  ok: boolean;
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/**
 * Keep-alive pools, one per protocol and guard setting, made on first use. A pooled
 * socket stays connected to the address the guard checked when it was opened, so
 * reusing it cannot reach anything the check refused; keeping the two settings apart
 * means a socket opened without the check is never lent to a guarded send. Without a
 * pool every send paid a new connection (a TLS handshake for https). An idle socket is
 * closed after FREE_SOCKET_MS, before common servers' own keep-alive limit (Node's 5 s),
 * so a send rarely meets one the receiver is closing.
 */
const FREE_SOCKET_MS = 4000;

/**
 * The guarded POST with its keep-alive pools: one per process, made by the alert
 * worker's dependencies (createAlertDeps) and closed when they stop.
 */
export interface GuardedPost {
  post(url: string, init: GuardedInit): Promise<HttpAnswer>;
  /** Destroys the pools and their sockets, idle or not. A later post makes new pools. */
  close(): void;
}

export function createGuardedPost(): GuardedPost {
  const pools = new Map<string, HttpAgent>();
  function poolFor(https: boolean, allowPrivate: boolean): HttpAgent {
    const key = `${https ? 'https' : 'http'}:${allowPrivate}`;
    let agent = pools.get(key);
    if (!agent) {
      const options = { keepAlive: true, timeout: FREE_SOCKET_MS, scheduling: 'lifo' as const };
      agent = https ? new HttpsAgent(options) : new HttpAgent(options);
      pools.set(key, agent);
    }
    return agent;
  }
  return {
    post: (url, init) => guardedPost(url, init, poolFor),
    close() {
      for (const agent of pools.values()) agent.destroy();
      pools.clear();
    },
  };
}

export interface GuardedInit {
  body: string;
  headers: Record<string, string>;
  signal: AbortSignal;
  /** ALERT_TARGETS_ALLOW_PRIVATE: connect wherever the URL points. */
  allowPrivate: boolean;
}

/**
 * Times a send goes again on another connection when a pooled connection turns out to
 * be closed by the receiver (see guardedPost): each time takes a socket from the pool,
 * which holds only as many as were busy at once, and the last try opens a new one.
 */
const MAX_STALE_RETRIES = 2;

/** The errors of a request written to a connection the other end had already closed. */
const STALE_CODES = new Set(['ECONNRESET', 'EPIPE']);

/**
 * POST `body` to `url` and read the answer (at most MAX_ANSWER_BYTES of it). Rejects with a
 * TargetRefusedError, before any connection, when the host is not public (unless
 * allowed); with the signal's reason when it aborts.
 *
 * A receiver may close an idle keep-alive connection just as a send reuses it: the send
 * then fails with ECONNRESET (or EPIPE) before any answer, and the receiver never saw
 * the request. Such a send is made again at once on another connection (Node's
 * documented `reusedSocket` check) instead of failing the attempt and waiting for the
 * retry backoff. An error on a new connection, or after an answer began, is reported
 * as before.
 */
function guardedPost(
  url: string,
  init: GuardedInit,
  poolFor: (https: boolean, allowPrivate: boolean) => HttpAgent,
): Promise<HttpAnswer> {
  const literal = init.allowPrivate ? undefined : literalTargetProblem(url);
  if (literal) return Promise.reject(new TargetRefusedError(literal));
  const u = new URL(url);
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  const agent = poolFor(u.protocol === 'https:', init.allowPrivate);
  return new Promise<HttpAnswer>((resolve, reject) => {
    let settled = false;
    let req: ClientRequest;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      init.signal.removeEventListener('abort', abort);
      fn();
    };
    // The signal's reason (a TimeoutError), not the socket's error, is what the caller reports.
    function abort() {
      settle(() => reject(init.signal.reason));
      req.destroy();
    }
    function attempt(staleRetriesLeft: number): void {
      let answered = false;
      req = send(u, {
        method: 'POST',
        headers: { ...init.headers, 'content-length': String(Buffer.byteLength(init.body)) },
        ...(init.allowPrivate ? {} : { lookup: checkedLookup }),
        // The last try skips the pools, Node's global one too (a socket there may never
        // have been checked): a connection of its own cannot be a stale one.
        agent: staleRetriesLeft > 0 ? agent : false,
      });
      const current = req;
      current.on('error', (err: NodeJS.ErrnoException) => {
        if (!settled && !answered && current.reusedSocket && STALE_CODES.has(err.code ?? '') && !init.signal.aborted) {
          attempt(staleRetriesLeft - 1);
          return;
        }
        settle(() => reject(err));
      });
      current.on('response', (res) => {
        answered = true;
        readAnswer(res).then(
          (body) =>
            settle(() => {
              try {
                resolve(toAnswer(res, body));
              } catch (err) {
                reject(err);
              }
            }),
          (err: unknown) => settle(() => reject(err)),
        );
      });
      current.end(init.body);
    }
    attempt(MAX_STALE_RETRIES);
    if (init.signal.aborted) abort();
    else init.signal.addEventListener('abort', abort, { once: true });
  });
}

/** The answer's first MAX_ANSWER_BYTES; a longer one is cut off there and the socket dropped. */
function readAnswer(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= MAX_ANSWER_BYTES) {
        res.destroy();
        resolve(Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES));
      }
    });
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
    res.on('close', () => {
      if (!res.complete) reject(new Error('the receiver closed the connection mid-answer'));
    });
  });
}

function toAnswer(res: IncomingMessage, body: Buffer): HttpAnswer {
  const status = res.statusCode ?? 0;
  // A 1xx as the final answer is a broken receiver: a network error, as fetch has it.
  if (status < 200 || status > 599) throw new Error(`unexpected HTTP status ${status}`);
  const text = body.toString('utf8');
  return {
    ok: status >= 200 && status <= 299,
    status,
    headers: {
      get(name: string): string | null {
        const value = res.headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      },
    },
    text: () => Promise.resolve(text),
  };
}
