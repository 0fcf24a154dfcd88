// redactSecrets: secret-looking keys are replaced at any depth, look-alike keys are
// kept, URL credentials are masked in any string, cycles and Errors are handled.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isSecretKey, maskUrlCredentials, redactJson, redactSecrets, REDACTED } from '../../lib/redact.js';

test('every secret-bearing key name is redacted, in any case', () => {
  const keys = [
    'password',
    'Password',
    'PASSWORD',
    'passwd',
    'db_password',
    'userPassword',
    'pass',
    'token',
    'accessToken',
    'refresh_token',
    'X-Csrf-Token',
    'secret',
    'client_secret',
    'webhookSecret',
    'apiKey',
    'api_key',
    'API-KEY',
    'apikey',
    'x-api-key',
    'authorization',
    'Authorization',
    'proxy-authorization',
    'cookie',
    'Cookie',
    'set-cookie',
    'cookies',
  ];
  for (const k of keys) {
    assert.ok(isSecretKey(k), `${k} should be secret`);
    assert.equal(redactSecrets({ [k]: 'v4lue' }), { [k]: REDACTED }, k);
  }
});

test('look-alike keys are left alone', () => {
  const input = {
    passenger: 'Ann',
    bypass: true,
    compass: 'N',
    passage: 3,
    author: 'Bo',
    keyboard: 'us',
    apiVersion: 2,
  };
  for (const k of [
    'passenger',
    'bypass',
    'compass',
    'passage',
    'author',
    'keyboard',
    'apiVersion',
    'email',
    'name',
    'status',
  ]) {
    assert.not.ok(isSecretKey(k), `${k} should not be secret`);
  }
  const out = redactSecrets(input);
  assert.is(out.passenger, 'Ann');
  assert.is(out.bypass, true);
  assert.is(out.compass, 'N');
  assert.is(out.passage, 3);
  assert.is(out.author, 'Bo');
  assert.is(out.keyboard, 'us');
  assert.is(out.apiVersion, 2);
});

test('secrets are redacted at any depth, inside objects and arrays', () => {
  const input = {
    user: { name: 'ann', credentials: { password: 'p1' }, profile: { settings: { apiKey: 'k1', theme: 'dark' } } },
    requests: [
      { headers: { authorization: 'Bearer t1', cookie: 'sid=s1', accept: 'json' } },
      [{ token: 't2' }, { nested: [{ secret: 's2', keep: 1 }] }],
    ],
    deep: { a: { b: { c: { d: { e: { f: { api_key: 'k2', g: 'ok' } } } } } } },
  };
  const out = redactSecrets(input);
  assert.equal(out, {
    user: { name: 'ann', credentials: REDACTED, profile: { settings: { apiKey: REDACTED, theme: 'dark' } } },
    requests: [
      { headers: { authorization: REDACTED, cookie: REDACTED, accept: 'json' } },
      [{ token: REDACTED }, { nested: [{ secret: REDACTED, keep: 1 }] }],
    ],
    deep: { a: { b: { c: { d: { e: { f: { api_key: REDACTED, g: 'ok' } } } } } } },
  });
  const text = JSON.stringify(out);
  for (const s of ['p1', 'k1', 't1', 's1', 't2', 's2', 'k2']) assert.not.match(text, `"${s}`);
});

test('a secret key holding an object or array is replaced whole', () => {
  assert.equal(redactSecrets({ secret: { a: 1, b: [2] }, tokens: ['x', 'y'] }), { secret: REDACTED, tokens: REDACTED });
});

test('null and undefined secret values stay as they are (nothing to hide)', () => {
  assert.equal(redactSecrets({ password: null, token: undefined }), { password: null, token: undefined });
});

test('the input is not modified; primitives and Dates pass through', () => {
  const input = { password: 'p', list: [{ token: 't' }] };
  const copy = structuredClone(input);
  redactSecrets(input);
  assert.equal(input, copy);
  assert.is(redactSecrets(42), 42);
  assert.is(redactSecrets(true), true);
  assert.is(redactSecrets(null), null);
  assert.is(redactSecrets(undefined), undefined);
  const d = new Date('2026-01-01T00:00:00Z');
  assert.equal(redactSecrets({ at: d }).at, d);
});

test('URL credentials are masked in any string, at any depth', () => {
  assert.is(maskUrlCredentials('postgresql://bulwark:pw-123@db:5432/x'), `postgresql://bulwark:${REDACTED}@db:5432/x`);
  assert.is(maskUrlCredentials('redis://:r3dis@cache:6379/0'), `redis://:${REDACTED}@cache:6379/0`);
  assert.is(
    maskUrlCredentials('a https://u:one@h1/p and amqp://v:two@h2 end'),
    `a https://u:${REDACTED}@h1/p and amqp://v:${REDACTED}@h2 end`,
  );
  assert.is(maskUrlCredentials('https://example.com/path?q=1'), 'https://example.com/path?q=1');
  assert.is(maskUrlCredentials('user@example.com'), 'user@example.com');
  const out = redactSecrets({ note: 'dsn postgres://app:hunter2@db/app', list: ['redis://:pw9@r:6379'] });
  assert.equal(out, { note: `dsn postgres://app:${REDACTED}@db/app`, list: [`redis://:${REDACTED}@r:6379`] });
});

test('cycles are cut, not followed', () => {
  const a: Record<string, unknown> = { name: 'a', password: 'p' };
  a.self = a;
  const arr: unknown[] = [1];
  arr.push(arr);
  const out = redactSecrets({ a, arr }) as { a: Record<string, unknown>; arr: unknown[] };
  assert.is(out.a.name, 'a');
  assert.is(out.a.password, REDACTED);
  assert.is(out.a.self, '[Circular]');
  assert.equal(out.arr, [1, '[Circular]']);
  assert.not.throws(() => JSON.stringify(out));
});

test('Errors become plain objects with masked message and stack and redacted own fields', () => {
  const err = new Error('connect to postgresql://u:pg-secret@db/x failed') as Error & Record<string, unknown>;
  err.code = 'ECONNREFUSED';
  err.password = 'own-field-secret';
  err.details = { token: 'nested-token', host: 'db' };
  const out = redactSecrets({ err }).err as unknown as Record<string, unknown>;
  assert.is(out.type, 'Error');
  assert.is(out.message, `connect to postgresql://u:${REDACTED}@db/x failed`);
  assert.type(out.stack, 'string');
  assert.is(out.code, 'ECONNREFUSED');
  assert.is(out.password, REDACTED);
  assert.equal(out.details, { token: REDACTED, host: 'db' });
  const text = JSON.stringify(out);
  for (const s of ['pg-secret', 'own-field-secret', 'nested-token']) assert.not.match(text, s);

  class DbError extends Error {
    override name = 'DbError';
  }
  const top = redactSecrets(new DbError('redis://:rpw@r')) as unknown as Record<string, unknown>;
  assert.is(top.type, 'DbError');
  assert.not.match(JSON.stringify(top), 'rpw');
});

test('an object reached twice without a cycle is copied twice, not marked circular', () => {
  const shared = { plan: 'pro', token: 't0k' };
  const out = redactSecrets({ a: shared, b: shared, list: [shared, shared] });
  assert.equal(out.a, { plan: 'pro', token: REDACTED });
  assert.equal(out.b, out.a);
  assert.equal(out.list, [out.a, out.a]);
});

test('a password holding "@" is masked whole', () => {
  const masked = maskUrlCredentials('redis://default:p@ss@w0rd@cache:6379/0 and more');
  assert.is(masked, `redis://default:${REDACTED}@cache:6379/0 and more`);
  assert.not.match(masked, /ss@w0rd|w0rd/);
});

test("an Error's cause and an AggregateError's errors are kept, redacted", () => {
  const inner = Object.assign(new Error('postgresql://app:hunter2@db/x refused'), { password: 'hunter2' });
  const out = redactSecrets(new AggregateError([inner], 'all failed', { cause: inner })) as unknown as Record<
    string,
    Record<string, unknown>[] & Record<string, unknown>
  >;
  assert.is(out.type as unknown, 'AggregateError');
  assert.is(out.cause!.password, REDACTED);
  assert.is(
    (out.errors as unknown as Array<Record<string, unknown>>)[0]!.message,
    `postgresql://app:${REDACTED}@db/x refused`,
  );
  assert.not.match(JSON.stringify(out), /hunter2/);
});

test('redactJson gives what redactSecrets gives for JSON, and returns a value with nothing to redact as it is', () => {
  const clean = {
    status: 'open',
    tags: ['a', { b: 1, c: [null, true, 2.5] }],
    nested: { deep: { x: 'https://example.com/no-credentials' } },
  };
  assert.is(redactJson(clean), clean, 'nothing to redact: the same object, not a copy');
  const dirty = {
    status: 'open',
    apiKey: 'k-123',
    list: [{ token: 't' }, 'plain', 'postgresql://app:hunter2@db/x'],
    keep: { same: [1, 2] },
    nulled: { password: null },
    already: { secret: REDACTED },
  };
  const out = redactJson(dirty);
  assert.equal(out, redactSecrets(dirty));
  assert.equal(JSON.parse(JSON.stringify(out)), out, 'still plain JSON');
  assert.is.not(out, dirty);
  assert.is(out.keep, dirty.keep, 'an untouched branch is shared, not copied');
  assert.is(out.already, dirty.already, 'a value already redacted needs no copy');
  assert.equal(dirty.apiKey, 'k-123', 'the input is not changed');
  assert.equal(Object.keys(out), Object.keys(dirty), 'key order kept');
});

test('redactJson keeps an own "__proto__" key of parsed JSON as a plain field, redacted, and never as a prototype', () => {
  const parsed = JSON.parse('{"__proto__": {"token": "t-1", "x": 1}, "a": 1}') as Record<string, unknown>;
  const out = redactJson(parsed);
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.ok(Object.hasOwn(out, '__proto__'));
  assert.equal(JSON.parse(JSON.stringify(out)), JSON.parse('{"__proto__": {"token": "[REDACTED]", "x": 1}, "a": 1}'));
});

test.run();
