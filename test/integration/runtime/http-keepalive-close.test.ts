// Stopping Bulwark while a client holds a keep-alive connection with a request in
// flight on it: the request gets its whole response, and stop() then ends without
// waiting for the connection's keep-alive timeout. Node closes idle connections once,
// when the close starts; this one is busy then, and becomes idle only after its
// response, so without the preClose sweep (app/runtime/http.ts) the close waited
// for Fastify's 72 s keep-alive timeout, the client's agent keeping the socket forever.
//
// The request is held in flight by its client: headers and half the body are sent
// before the stop, the rest only once the server has stopped accepting connections.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { OPERATOR, basic, startApi, type ApiHarness } from '../../helpers/api.js';
import { waitFor, withTimeout } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';

let api: ApiHarness;
// No `timeout`: the agent keeps an idle socket open for as long as the server does.
const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 60_000, maxSockets: 1 });

test.before(setup(async () => void (api = await startApi())));
test.after(
  cleanup([
    ['destroy agent', () => agent.destroy()],
    ['close api', () => api?.close()],
  ]),
);

interface Answer {
  status: number;
  body: string;
  reusedSocket: boolean;
}

/** A request on the agent; the caller writes and ends its body. */
function open(method: string, path: string, headers: Record<string, string> = {}) {
  const url = new URL(api.url);
  const req = http.request({ host: url.hostname, port: url.port, method, path, agent, headers });
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body, reusedSocket: req.reusedSocket }));
      // A connection cut mid-response ends the stream without 'end'.
      res.on('close', () => res.complete || reject(new Error(`${method} ${path}: response cut short`)));
    });
  });
  const socket = new Promise<net.Socket>((resolve) => req.once('socket', resolve));
  return { req, answer, socket };
}

/** Resolves once a fresh connection to the server is refused: its close has begun. */
function refused(): Promise<boolean> {
  const url = new URL(api.url);
  return new Promise((resolve) => {
    const probe = net.connect(Number(url.port), url.hostname);
    probe.once('connect', () => (probe.destroy(), resolve(false)));
    probe.once('error', () => resolve(true));
  });
}

test('a request in flight on a keep-alive connection when the stop begins is answered in full, and stop() ends', async () => {
  const first = open('GET', '/healthz');
  first.req.end();
  assert.equal(await first.answer, { status: 200, body: '{"status":"ok"}', reusedSocket: false });
  const socket = await first.socket;
  const second = open('GET', '/healthz');
  second.req.end();
  assert.equal(await second.answer, { status: 200, body: '{"status":"ok"}', reusedSocket: true });

  const requestId = randomUUID();
  const body = JSON.stringify({ name: 'keep-alive-close' });
  const held = open('POST', '/v1/tenants', {
    authorization: basic(OPERATOR.username, OPERATOR.password),
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'x-request-id': requestId,
  });
  held.req.write(body.slice(0, 10));
  assert.is(await held.socket, socket, 'the held request shares the keep-alive connection');
  // The server has the request (it logs its arrival), so its connection is not idle.
  await waitFor(async () => api.logs.events().some((e) => e.request_id === requestId), 'the server receiving the held request');

  let socketClosed = false;
  socket.once('close', () => (socketClosed = true));
  assert.not.ok(socket.destroyed, 'the client still holds the connection as the stop begins');
  const stopping = api.bulwark.stop('test');
  await waitFor(refused, 'the server to stop accepting connections');
  assert.not.ok(socketClosed, 'the busy connection was not cut when the close began');
  held.req.end(body.slice(10));

  const answer = await withTimeout(held.answer, 20_000, 'the held request');
  assert.is(answer.status, 201, answer.body);
  assert.is((JSON.parse(answer.body) as { tenant: { name: string } }).tenant.name, 'keep-alive-close');
  // A hang guard only: without the sweep this waited for the keep-alive timeout (72 s).
  await withTimeout(stopping, 30_000, 'stop() with an idle keep-alive connection open');
  await waitFor(async () => socketClosed, 'the server to close the now idle connection');
});

test.run();
