// A webhook/Slack send that meets a pooled keep-alive connection the receiver has just
// closed is made again on another connection, not failed: the receiver never saw it.
// An error on a connection of its own stays an error. The pools belong to the
// GuardedPost that made them: close() ends their connections.
import { test } from 'uvu';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import * as assert from 'uvu/assert';
import { createGuardedPost, type GuardedPost } from '../../../workers/alert/sending/channels/guarded-post.js';
import { waitFor } from '../../helpers/env.js';

const OK = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok';

interface StaleServer {
  url: string;
  connections: number;
  requests: number;
  /** Connections still open on the server's side. */
  open: number;
  close(): Promise<void>;
}

/**
 * Answers the first request of each connection and keeps the connection open; the next
 * request on it is dropped as a receiver closing an idle connection would (reset, no answer).
 * `every`: drop even the first request (a receiver that is down).
 */
async function startStaleServer(mode: 'first-only' | 'every'): Promise<StaleServer> {
  const state = { connections: 0, requests: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let served = 0;
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length: *(\d+)/i.exec(buffered.slice(0, end))?.[1] ?? 0);
      if (buffered.length < end + 4 + length) return;
      buffered = buffered.slice(end + 4 + length);
      if (mode === 'every' || served > 0) {
        socket.resetAndDestroy();
        return;
      }
      served++;
      state.requests++;
      socket.write(OK);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    get connections() {
      return state.connections;
    },
    get requests() {
      return state.requests;
    },
    get open() {
      return sockets.size;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const post = (http: GuardedPost, url: string) =>
  http.post(url, {
    body: '{"a":1}',
    headers: { 'content-type': 'application/json' },
    signal: AbortSignal.timeout(5000),
    allowPrivate: true,
  });

test('a send on a pooled connection the receiver closed goes again on a new connection and is answered', async () => {
  const server = await startStaleServer('first-only');
  const http = createGuardedPost();
  try {
    const first = await post(http, server.url);
    assert.is(first.status, 200);
    assert.is(server.connections, 1);
    // The pooled connection is reused and reset by the receiver: the send still succeeds.
    const second = await post(http, server.url);
    assert.is(second.status, 200);
    assert.is(await second.text(), 'ok');
    assert.is(server.connections, 2, 'the second send went again on a new connection');
    assert.is(server.requests, 2, 'each send answered once');
  } finally {
    http.close();
    await server.close();
  }
});

test('a reset on a connection of its own fails the send: only a reused connection is tried again', async () => {
  const server = await startStaleServer('every');
  const http = createGuardedPost();
  try {
    const err = await post(http, server.url).then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e,
    );
    assert.ok(err, 'the send failed');
    assert.is(err!.code, 'ECONNRESET');
    assert.is(server.connections, 1, 'a new connection that was reset is not tried again');
  } finally {
    http.close();
    await server.close();
  }
});

test('close() ends the pooled connections; each GuardedPost has pools of its own', async () => {
  const server = await startStaleServer('first-only');
  const one = createGuardedPost();
  const other = createGuardedPost();
  try {
    assert.is((await post(one, server.url)).status, 200);
    assert.is((await post(other, server.url)).status, 200);
    assert.is(server.connections, 2, "the second GuardedPost did not reuse the first one's connection");
    assert.is(server.open, 2, 'both idle connections kept alive');
    one.close();
    await waitFor(async () => (server.open === 1 ? true : undefined), "the closed pool's connection ended", 5000);
    other.close();
    await waitFor(async () => (server.open === 0 ? true : undefined), 'every pooled connection ended', 5000);
  } finally {
    one.close();
    other.close();
    await server.close();
  }
});

test.run();
