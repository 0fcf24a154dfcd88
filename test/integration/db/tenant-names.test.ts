// Tenant names are unique without regard to case ("acme" and "ACME" could both exist):
// a name differing only in case is refused like an exact duplicate, by the library,
// `bulwark tenant create` (exit 1) and POST /v1/tenants (409 conflict), naming the
// tenant that holds it, with nothing written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConflictError } from '../../../lib/errors.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { basic, OPERATOR, startApi, type ApiHarness } from '../../helpers/api.js';
import { runCli } from '../../helpers/cli.js';
import { superuserQuery } from '../../helpers/db.js';

let api: ApiHarness;
const operator = { authorization: basic(OPERATOR.username, OPERATOR.password) };

const cli = (args: string[]) => runCli(args, { DATABASE_URL: api.db.url, LOG_LEVEL: 'warn' });

const counts = async () =>
  (await superuserQuery(api.db.url, `SELECT (SELECT count(*) FROM tenants)::int AS tenants, (SELECT count(*) FROM api_keys)::int AS keys, (SELECT count(*) FROM audit_log)::int AS entries`)).rows[0];

async function conflictOf(name: string): Promise<string> {
  try {
    await createTenant(api.bulwark.ctx.prisma, { name });
  } catch (err) {
    assert.instance(err, ConflictError);
    return (err as Error).message;
  }
  throw new Error(`creating "${name}" should have failed`);
}

test.before(async () => {
  api = await startApi();
  await createTenant(api.bulwark.ctx.prisma, { name: 'Acme Corp' });
});
test.after(async () => api.close());

test('the library refuses a name differing only in case, naming the holder, and writes nothing', async () => {
  const before = await counts();
  assert.is(await conflictOf('Acme Corp'), 'a tenant named "Acme Corp" already exists');
  assert.is(await conflictOf('ACME CORP'), 'a tenant named "Acme Corp" already exists; tenant names are compared without regard to case, so "ACME CORP" is taken too');
  assert.equal(await counts(), before, 'no tenant, key or audit entry left behind');
  // Other names, and names that only look alike, are still free.
  await createTenant(api.bulwark.ctx.prisma, { name: 'Acme Corp 2' });
  await createTenant(api.bulwark.ctx.prisma, { name: 'Acme-Corp' });
});

test('two creations racing with names differing in case: one wins, the other is the conflict', async () => {
  const results = await Promise.allSettled(['race-x', 'RACE-X', 'Race-X'].map((name) => createTenant(api.bulwark.ctx.prisma, { name })));
  assert.is(results.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of results) if (r.status === 'rejected') assert.instance(r.reason, ConflictError);
  const rows = await superuserQuery(api.db.url, `SELECT name FROM tenants WHERE lower(name) = 'race-x'`);
  assert.is(rows.rowCount, 1);
});

test('bulwark tenant create: exit 1 with the same message for an exact or a case-only duplicate', async () => {
  const exact = await cli(['tenant', 'create', '--name', 'Acme Corp']);
  assert.equal([exact.code, exact.out, exact.err], [1, '', 'bulwark: a tenant named "Acme Corp" already exists']);
  const cased = await cli(['tenant', 'create', '--name', 'acme corp']);
  assert.is(cased.code, 1);
  assert.is(cased.out, '', 'no id or key printed');
  assert.is(cased.err, 'bulwark: a tenant named "Acme Corp" already exists; tenant names are compared without regard to case, so "acme corp" is taken too');
});

test('POST /v1/tenants: 409 conflict in the API\'s shape for an exact or a case-only duplicate', async () => {
  for (const [name, message] of [
    ['Acme Corp', 'a tenant named "Acme Corp" already exists'],
    ['aCME cORP', 'a tenant named "Acme Corp" already exists; tenant names are compared without regard to case, so "aCME cORP" is taken too'],
  ] as const) {
    const res = await api.call('POST', '/v1/tenants', { body: { name }, headers: operator });
    assert.is(res.status, 409, name);
    assert.equal(await res.json(), { error: { code: 'conflict', message } });
  }
});

test.run();
