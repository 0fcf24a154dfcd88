// Bull Board's error bodies rewritten to the API's shape: the code follows the status,
// the message is Bull Board's English text, and a 5xx never carries the thrown message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isBoardErrorBody, toApiShape } from '../../api/bull-board-errors.js';

test('only Bull Board\'s own error bodies are recognised', () => {
  assert.ok(isBoardErrorBody({ error: { key: 'ERRORS.QUEUE_NOT_FOUND' } }));
  assert.not.ok(isBoardErrorBody({ error: { code: 'not_found', message: 'no route' } }), 'already the API shape');
  assert.not.ok(isBoardErrorBody({ queues: [] }));
  assert.not.ok(isBoardErrorBody('text'));
  assert.not.ok(isBoardErrorBody(null));
});

test('a 5xx answers a generic message with the request id, never what was thrown', () => {
  const thrown = 'connect ECONNREFUSED 10.1.2.3:6379 (internal detail)';
  const body = toApiShape({ error: { key: 'ERRORS.INTERNAL_SERVER_ERROR' }, message: thrown }, 500, 'req-42');
  assert.equal(body, { error: { code: 'internal', message: 'internal error; quote request id req-42', key: 'ERRORS.INTERNAL_SERVER_ERROR' } });
});

test('options fill Bull Board\'s message and are kept for its UI', () => {
  const body = toApiShape({ error: { key: 'ERRORS.INVALID_QUERY_PARAM', options: { field: 'page' } } }, 400, 'r');
  assert.equal(body.error, { code: 'bad_request', message: 'The "page" query parameter is not valid.', key: 'ERRORS.INVALID_QUERY_PARAM', options: { field: 'page' } });
});

test('an unknown key falls back to a 4xx\'s own message, then to the key', () => {
  assert.is(toApiShape({ error: { key: 'ERRORS.SOMETHING_NEW' }, message: 'Body is not valid JSON' }, 400, 'r').error.message, 'Body is not valid JSON');
  assert.is(toApiShape({ error: { key: 'ERRORS.SOMETHING_NEW' } }, 418, 'r').error.message, 'ERRORS.SOMETHING_NEW');
  assert.is(toApiShape({ error: { key: 'ERRORS.SOMETHING_NEW' } }, 418, 'r').error.code, 'bad_request');
});

test.run();
