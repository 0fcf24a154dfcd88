// Issue 15 defects 6, 7, 8: refusals that must be answered, and answered honestly.
// A 10 MiB body is a 413 the client can read (it was a reset: the server closed the
// socket while the client was still sending), a query string whose percent-encoding
// does not decode to UTF-8 is a 400 (it was a 200), and Bull Board's refusal of a path
// that climbs out of its files says so (its 403 said "Internal server error").
import http from 'node:http';
import net from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { basic, OPERATOR, startApi, type ApiHarness } from '../../helpers/api.js';
import { withTimeout } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';

let api: ApiHarness;
let key: string;

test.before(
  setup(async () => {
    api = await startApi();
    key = (await api.tenant('refusals')).adminKey;
  }),
);

test.after(cleanup([['close api', () => api?.close()]]));

/** Write the request and its whole body before reading, as most clients do; what came back, or the socket error. */
function rawExchange(head: string, body: Buffer): Promise<{ text: string; error?: string }> {
  const u = new URL(api.url);
  return withTimeout(
    new Promise((resolve) => {
      let text = '';
      const socket = net.connect(Number(u.port), u.hostname, () => {
        socket.write(head);
        socket.end(body);
      });
      socket.on('data', (d) => (text += d));
      socket.on('error', (err) => resolve({ text, error: err.message }));
      socket.on('close', () => resolve({ text }));
    }),
    30_000,
    'a raw exchange',
  );
}

test('a 10 MiB body declared in Content-Length is answered 413, which the client can read', async () => {
  const size = 10 * 1024 * 1024;
  const head = `POST /v1/audit HTTP/1.1\r\nhost: bulwark\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: ${size}\r\n\r\n`;
  const r = await rawExchange(head, Buffer.alloc(size, 'a'));
  assert.is(r.error, undefined, `the connection failed before the answer was read: ${r.error}; read: ${JSON.stringify(r.text.slice(0, 200))}`);
  assert.match(r.text, /^HTTP\/1\.1 413 /);
  const body = JSON.parse(r.text.slice(r.text.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };
  assert.is(body.error.code, 'payload_too_large');
  assert.match(body.error.message, '1048576-byte limit of POST /v1/audit');
  // The server is fine afterwards.
  assert.is((await api.call('GET', '/healthz')).status, 200);
});

test('a query value whose percent-encoding is not UTF-8 is a 400 naming the parameter; valid encoding still works', async () => {
  const bad = await api.call('GET', '/v1/audit?actorId=%ff%fe', { key });
  assert.is(bad.status, 400);
  const body = (await bad.json()) as { error: { code: string; message: string } };
  assert.is(body.error.code, 'bad_request');
  assert.match(body.error.message, 'actorId');
  assert.match(body.error.message, 'UTF-8');
  assert.is((await api.call('GET', '/v1/audit?actorId=x&action=%ZZ', { key })).status, 400);
  // Before authentication too, like a malformed path.
  assert.is((await api.call('GET', '/v1/audit?actorId=%ff')).status, 400);
  const good = await api.call('GET', '/v1/audit?actorId=caf%C3%A9+noir', { key });
  assert.is(good.status, 200);
});

test('Bull Board refuses a path leaving its files with a 403 that says so, not "Internal server error"', async () => {
  // Raw, so the client does not normalise the path; the backslash is what reaches the file server as "..\".
  const res = await withTimeout(
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${api.url}/admin/queues/static/..%5c..%5cpackage.json`, { headers: { authorization: basic(OPERATOR.username, OPERATOR.password) } }, (r) => {
        let body = '';
        r.on('data', (d) => (body += d));
        r.on('end', () => resolve({ status: r.statusCode!, body }));
      });
      req.on('error', reject);
      req.end();
    }),
    15_000,
    'GET a traversal path',
  );
  assert.is(res.status, 403);
  const body = JSON.parse(res.body) as { error: { code: string; message: string } };
  assert.is(body.error.code, 'forbidden');
  assert.not.match(body.error.message, /internal/i);
  assert.match(body.error.message, '..');
});

test.run();
