// isTransientDbError: a passing failure (retry the job later) told apart from one that
// will never succeed, wherever Prisma or node-postgres put the code.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isTransientDbError } from '../../lib/db/errors.js';

function nodeError(code: string, message = 'network failure'): Error {
  return Object.assign(new Error(message), { code, errno: -111, syscall: 'connect' });
}

function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR' });
}

test('Node network errors are transient', () => {
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']) {
    assert.ok(isTransientDbError(nodeError(code, 'boom')), code);
    assert.ok(isTransientDbError({ code }), `${code} as a plain object`);
  }
});

test('a transient code nested in cause, meta or driverAdapterError is found', () => {
  const wrapped = new Error('query failed', { cause: nodeError('ECONNREFUSED', 'boom') });
  assert.ok(isTransientDbError(wrapped));
  const twice = new Error('outer', { cause: new Error('middle', { cause: { code: '57P01' } }) });
  assert.ok(isTransientDbError(twice));
  assert.ok(isTransientDbError({ name: 'DriverAdapterError', driverAdapterError: { cause: { code: '08006' } } }));
  assert.ok(isTransientDbError({ code: 'P2010', meta: { driverAdapterError: { cause: { code: '53300' } } } }));
});

test("Prisma's connection codes are transient", () => {
  for (const code of ['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028']) {
    assert.ok(isTransientDbError({ code }), code);
    assert.ok(
      isTransientDbError(Object.assign(new Error('prisma error'), { code, clientVersion: '7' })),
      `${code} on an Error`,
    );
  }
});

test('SQLSTATE in meta.code: connection, resources, shutdown, deadlock are transient', () => {
  for (const code of ['08006', '08001', '08003', '40P01', '40001', '53300', '57P01', '57P03', '58000']) {
    assert.ok(isTransientDbError({ code: 'P2010', meta: { code } }), `meta.code ${code}`);
    assert.ok(isTransientDbError(pgError(code, 'server said no')), `code ${code}`);
  }
});

test('constraint and data errors are not transient', () => {
  assert.not.ok(
    isTransientDbError(
      pgError('23505', 'duplicate key value violates unique constraint "audit_log_tenant_id_event_id_key"'),
    ),
  );
  assert.not.ok(isTransientDbError(pgError('22001', 'value too long for type character varying(255)')));
  assert.not.ok(isTransientDbError({ code: 'P2010', meta: { code: '23505' } }));
  assert.not.ok(isTransientDbError({ code: 'P2010', meta: { code: '22001' } }));
  assert.not.ok(
    isTransientDbError(
      new Error('wrapped', { cause: pgError('23503', 'insert or update violates foreign key constraint') }),
    ),
  );
  assert.not.ok(isTransientDbError(pgError('42P01', 'relation "audit_log" does not exist')));
  assert.not.ok(isTransientDbError({ code: 'P2002' }));
});

test('a message about the connection is transient when no code says otherwise', () => {
  assert.ok(isTransientDbError(new Error('Connection terminated unexpectedly')));
  assert.ok(isTransientDbError(new Error('timeout exceeded when trying to connect')));
  assert.ok(isTransientDbError(new Error('Client has encountered a connection error and is not queryable')));
  assert.not.ok(isTransientDbError(new Error('invalid input syntax for type uuid: "x"')));
});

test('values that are not errors are not transient', () => {
  for (const v of [undefined, null, 0, 'ECONNREFUSED', {}, [], { code: 42 }])
    assert.not.ok(isTransientDbError(v), String(v));
});

test('a deep or cyclic cause chain does not hang', () => {
  const a: Record<string, unknown> = { code: '23505' };
  a.cause = a;
  assert.not.ok(isTransientDbError(a));
  const wrapped = (levels: number) => {
    let e: Record<string, unknown> = { code: 'ECONNREFUSED' };
    for (let i = 0; i < levels; i++) e = { cause: e };
    return e;
  };
  // The search stops at a fixed depth: deeper than any driver wraps its errors.
  assert.ok(isTransientDbError(wrapped(3)), 'found within the searched depth');
  assert.not.ok(isTransientDbError(wrapped(10)), 'not searched that deep');
});

test('a permanent SQLSTATE wins over a message that mentions connections', () => {
  assert.is(
    isTransientDbError(pgError('23505', 'duplicate key value violates unique constraint "user_connections_pkey"')),
    false,
  );
  assert.is(isTransientDbError(new Error('Connection terminated unexpectedly')), true);
});

test.run();
