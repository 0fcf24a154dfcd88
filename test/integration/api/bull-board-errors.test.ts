// Every error that comes out of Bull Board's mount answers in the API's error shape,
// `{ error: { code, message } }` (plus Bull Board's own `key` for its UI), with the
// security headers: its own refusals (a read-only queue: 405; an unknown queue or job:
// 404; a bad query: 400), a body Fastify refuses inside its routes, a method it does not
// serve on its paths, and the operator check in front of it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AUDIT_VERIFY_QUEUE, AUDIT_WRITE_QUEUE } from '../../../lib/contracts/audit.js';
import { basic, OPERATOR, startApi, type ApiHarness } from '../../helpers/api.js';

let api: ApiHarness;
const operator = { authorization: basic(OPERATOR.username, OPERATOR.password) };

test.before(async () => {
  api = await startApi();
});

test.after(async () => {
  await api?.close();
});

/** The body, asserted to be exactly the API's error shape; `key` only when Bull Board answered. */
async function apiError(res: Response, status: number, code: string): Promise<{ code: string; message: string; key?: string; options?: unknown }> {
  const text = await res.text();
  assert.is(res.status, status, text);
  assert.match(res.headers.get('content-type') ?? '', 'application/json');
  assert.is(res.headers.get('x-content-type-options'), 'nosniff');
  assert.is(res.headers.get('x-frame-options'), 'DENY');
  assert.ok(res.headers.get('content-security-policy'), 'a CSP header');
  assert.ok(res.headers.get('x-request-id'), 'the request id');
  const body = JSON.parse(text) as { error: { code: string; message: string; key?: string } };
  assert.equal(Object.keys(body), ['error'], `nothing beside "error": ${text}`);
  assert.is(body.error.code, code, text);
  assert.type(body.error.message, 'string');
  assert.ok(body.error.message.length > 0, 'a message');
  for (const k of Object.keys(body.error)) assert.ok(['code', 'message', 'key', 'options'].includes(k), `unexpected error.${k}: ${text}`);
  return body.error;
}

test('a mutation on a read-only queue is a 405 in the API shape, Bull Board\'s key kept for its UI', async () => {
  const res = await api.call('PUT', `/admin/queues/api/queues/${AUDIT_VERIFY_QUEUE}/pause`, { headers: operator });
  const error = await apiError(res, 405, 'method_not_allowed');
  assert.is(error.message, 'Method not allowed on read only queue');
  assert.is(error.key, 'ERRORS.QUEUE_READ_ONLY');
});

test('an unknown queue or job is a 404 not_found in the API shape', async () => {
  const queue = await apiError(await api.call('GET', '/admin/queues/api/queues/no-such-queue/1', { headers: operator }), 404, 'not_found');
  assert.is(queue.message, 'Queue not found');
  const job = await apiError(await api.call('GET', `/admin/queues/api/queues/${AUDIT_WRITE_QUEUE}/no-such-job`, { headers: operator }), 404, 'not_found');
  assert.is(job.message, 'Job not found');
});

test('a query Bull Board refuses is a 400 bad_request naming the parameter', async () => {
  const error = await apiError(await api.call('GET', '/admin/queues/api/queues?page=abc', { headers: operator }), 400, 'bad_request');
  assert.match(error.message, '"page"');
});

test('a body Fastify refuses inside a Bull Board route is a 400 bad_request, not Bull Board\'s shape', async () => {
  const res = await api.call('PUT', `/admin/queues/api/queues/${AUDIT_VERIFY_QUEUE}/pause`, { headers: { ...operator, 'content-type': 'application/json' }, body: '{not json' });
  await apiError(res, 400, 'bad_request');
});

test('a method Bull Board does not serve on its paths is a 404 not_found in the API shape', async () => {
  for (const [method, path] of [['DELETE', '/admin/queues'], ['PUT', '/admin/queues/queue/x'], ['POST', '/admin/queues/api/queues'], ['DELETE', '/admin/queues/static/nope.js']]) {
    const error = await apiError(await api.call(method!, path!, { headers: operator }), 404, 'not_found');
    assert.is(error.key, undefined);
  }
});

test('without operator credentials the board\'s paths answer 401 in the API shape', async () => {
  const res = await api.call('PUT', `/admin/queues/api/queues/${AUDIT_VERIFY_QUEUE}/pause`);
  assert.match(res.headers.get('www-authenticate') ?? '', 'Basic');
  await apiError(res, 401, 'unauthenticated');
});

test.run();
