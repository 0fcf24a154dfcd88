// The error classes carry their HTTP status as `statusCode`, which error handlers other
// than the API's read (Bull Board's answered a ValidationError thrown in its routes
// with 500), and the getter adds nothing to what a log line of the error shows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.js';

test('ValidationError is 400, NotFoundError 404, ConflictError 409', () => {
  assert.is(new ValidationError('entry', [{ path: 'x', message: 'is required' }]).statusCode, 400);
  assert.is(new NotFoundError('no tenant').statusCode, 404);
  assert.is(new ConflictError('taken').statusCode, 409);
});

test('statusCode is not an own field: JSON and object spreads of the error are unchanged', () => {
  const e = new ValidationError('entry', [{ path: 'x', message: 'is required' }]);
  assert.not.ok(Object.keys(e).includes('statusCode'));
  assert.not.match(JSON.stringify(e), 'statusCode');
});

test.run();
