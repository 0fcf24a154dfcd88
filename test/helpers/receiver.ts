/**
 * A recording HTTP receiver on loopback for delivery tests. Every request is kept
 * (method, path, headers, raw body). Answers come from a queue of one-shot replies
 * (`next`) and then from a persistent reply (`always`, default 200). A 'hang' reply
 * never answers; close() destroys such sockets so the test process can exit.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { withTimeout } from '../../lib/time.js';

export interface RecordedRequest {
  method: string;
  /** Path and query string, as sent. */
  path: string;
  /** Header names in lower case, as Node parses them. */
  headers: IncomingHttpHeaders;
  /** The raw body, UTF-8 decoded, byte for byte as received. */
  body: string;
  receivedAt: Date;
}

/** How to answer one request: a status with optional headers and body, or never. */
export type Reply = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

/** Ready-made replies for the cases delivery code must classify. */
export const replies = {
  ok: { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' },
  badRequest: { status: 400, headers: { 'content-type': 'text/plain' }, body: 'invalid payload' },
  /** 429 with Retry-After as given (seconds like "7", or an HTTP date); omit for none. */
  tooMany: (retryAfter?: string): Reply => ({
    status: 429,
    headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter },
    body: 'slow down',
  }),
  serverError: { status: 500, headers: { 'content-type': 'text/plain' }, body: 'internal error' },
  hang: 'hang',
} as const satisfies Record<string, Reply | ((...args: never[]) => Reply)>;

export interface Receiver {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  /** Every request received so far, in arrival order. */
  requests: RecordedRequest[];
  /** Queue one-shot replies for the next requests, in order; they go before the persistent reply. */
  next(...replies: Reply[]): void;
  /** Set the reply used once the one-shot queue is empty. */
  always(reply: Reply): void;
  /** Resolve with the requests once at least `count` arrived; reject after `ms` (default 5000). */
  waitForRequests(count: number, ms?: number): Promise<RecordedRequest[]>;
  /** Forget recorded requests and queued replies; the persistent reply goes back to 200. */
  reset(): void;
  /** Stop listening and destroy every open socket, hung ones included. */
  close(): Promise<void>;
}

export interface ReceiverOptions {
  /** Persistent reply at start. Default: `replies.ok` (200). */
  reply?: Reply;
  /**
   * Answer 413 to a body of more bytes than this (recorded all the same, taking no
   * queued reply), as Slack and most proxies do. Default: no limit.
   */
  maxBodyBytes?: number;
}

export async function startReceiver(options: ReceiverOptions = {}): Promise<Receiver> {
  const requests: RecordedRequest[] = [];
  const queue: Reply[] = [];
  let persistent: Reply = options.reply ?? replies.ok;
  const sockets = new Set<Socket>();
  const waiters = new Set<() => void>();

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: body.toString('utf8'),
        receivedAt: new Date(),
      });
      for (const wake of waiters) wake();
      const tooLarge = options.maxBodyBytes !== undefined && body.length > options.maxBodyBytes;
      const reply = tooLarge ? { status: 413, body: 'request entity too large' } : (queue.shift() ?? persistent);
      if (reply === 'hang') return; // never answer; close() destroys the socket
      res.writeHead(reply.status, reply.headers).end(reply.body ?? '');
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    next: (...r) => void queue.push(...r),
    always: (r) => void (persistent = r),
    waitForRequests(count, ms = 5000) {
      let wake: () => void = () => {};
      const arrived = new Promise<RecordedRequest[]>((resolve) => {
        wake = () => {
          if (requests.length < count) return;
          waiters.delete(wake);
          resolve(requests.slice());
        };
        waiters.add(wake);
        wake();
      });
      return withTimeout(arrived, ms, `${count} request(s) at the receiver`).finally(() => waiters.delete(wake));
    },
    reset() {
      requests.length = 0;
      queue.length = 0;
      persistent = replies.ok;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        for (const s of sockets) s.destroy();
        sockets.clear();
      }),
  };
}

/** A loopback URL nothing listens on (the port was just freed): for connection-refused cases. */
export async function refusedUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
