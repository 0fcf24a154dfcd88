// The CLI's flag rules against the real Postgres: whole-number flags state their range
// (limits shared with the library, so a flag and the library cannot disagree), a
// repeated flag is refused before anything is done, `keys generate --id` accepts only
// ids MASTER_KEYS accepts, and the library holds the same bounds for every caller.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createApiKey, listApiKeys } from '../../../lib/apikeys/records.js';
import { rotateApiKey } from '../../../lib/apikeys/lifecycle.js';
import type { PrismaClient } from '../../../lib/clients/prisma.js';
import { parseMasterKeys } from '../../../lib/crypto/master-keys.js';
import { ValidationError } from '../../../lib/errors.js';
import { rotateMasterKey } from '../../../lib/secrets/rotation.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { makeCliRunner, runBin } from '../../helpers/cli.js';
import { createTestDatabaseWithPrisma, databaseTeardown, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';

const actor = { type: 'system' as const, id: 'test' };
let db: TestDatabase;
let prisma: PrismaClient;
let tenantA: string;
let tenantB: string;
let keyA: string;

test.before(
  setup(async () => {
    ({ db, prisma } = await createTestDatabaseWithPrisma());
    tenantA = (await createTenant(prisma, { name: 'flags-a' })).id;
    tenantB = (await createTenant(prisma, { name: 'flags-b' })).id;
    keyA = (await createApiKey(prisma, { tenantId: tenantA, name: 'svc', scopes: ['audit:write'] }, actor)).record.displayPrefix;
  }),
);
test.after(cleanup(databaseTeardown(() => ({ db, prisma }))));

const run = makeCliRunner(() => ({ DATABASE_URL: db.url, LOG_LEVEL: 'warn', MASTER_KEYS: 'k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' }));

test('a whole-number flag outside its range is a usage error stating the range', async () => {
  const cases: Array<[string[], string]> = [
    [['keys', 'rotate-master', '--batch-size', '0'], '--batch-size must be a whole number from 1 to 10000, got "0"'],
    [['keys', 'rotate-master', '--batch-size=-5'], '--batch-size must be a whole number from 1 to 10000, got "-5"'],
    [['keys', 'rotate-master', '--batch-size', '10001'], '--batch-size must be a whole number from 1 to 10000, got "10001"'],
    [['keys', 'rotate-master', '--batch-size', 'lots'], '--batch-size must be a whole number from 1 to 10000, got "lots"'],
    [['apikey', 'rotate', '--tenant', tenantA, '--key', keyA, '--grace-seconds', '99999999'], '--grace-seconds must be a whole number from 0 to 86400, got "99999999"'],
    // Not "argument is ambiguous": a negative number cannot be a flag.
    [['apikey', 'rotate', '--tenant', tenantA, '--key', keyA, '--grace-seconds', '-1'], '--grace-seconds must be a whole number from 0 to 86400, got "-1"'],
    [['apikey', 'create', '--tenant', tenantA, '--name', 'n', '--scopes', 'admin', '--expires-days', '731'], '--expires-days must be a whole number from 1 to 730, got "731"'],
    [['alerts', 'log', '--tenant', tenantA, '--limit', '501'], '--limit must be a whole number from 1 to 500, got "501"'],
  ];
  for (const [args, message] of cases) {
    const r = await run(args);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.is(r.err.split('\n')[0], `bulwark: ${message}`);
  }
  const keys = await listApiKeys(prisma, tenantA);
  assert.equal(keys.map((k) => [k.name, k.revokedAt]), [['bootstrap admin', null], ['svc', null]], 'no key created, rotated or revoked');
});

test('--tenant in upper case names the tenant in lower case, as every other output does', async () => {
  const r = await run(['audit', 'verify', '--tenant', tenantA.toUpperCase()]);
  assert.is(r.code, 0, r.err);
  assert.ok(r.out.includes(`tenant ${tenantA}:`), r.out);
  assert.not.ok(r.out.includes(tenantA.toUpperCase()), r.out);
});

test('a repeated flag is a usage error naming it, and nothing is done', async () => {
  const revoke = await run(['apikey', 'revoke', '--tenant', tenantB, '--tenant', tenantA, '--key', keyA]);
  assert.is(revoke.code, 2);
  assert.is(revoke.err.split('\n')[0], 'bulwark: --tenant was given more than once; give it once');
  assert.is((await listApiKeys(prisma, tenantA)).find((k) => k.displayPrefix === keyA)!.revokedAt, null, 'the key is not revoked');
  const log = await run(['alerts', 'log', '--tenant', tenantA, '--tenant=' + tenantB]);
  assert.is(log.code, 2);
  assert.match(log.err, '--tenant was given more than once');
  const flag = await run(['apikey', 'rotate', '--tenant', tenantA, '--key', keyA, '--grace-seconds', '1', '--grace-seconds', '2']);
  assert.match(flag.err, '--grace-seconds was given more than once');
});

test('keys generate --id takes only an id MASTER_KEYS accepts', async () => {
  for (const id of ['bad id:x', '', 'x'.repeat(33)]) {
    const r = await run(['keys', 'generate', '--id', id]);
    assert.is(r.code, 2, `--id "${id}"`);
    assert.is(r.out, '', 'no entry printed');
    assert.is(r.err.split('\n')[0], 'bulwark: --id must be 1-32 letters, digits, "_" or "-" (the ids MASTER_KEYS accepts)');
  }
  const ok = await run(['keys', 'generate', '--id', 'k_2-b']);
  assert.is(ok.code, 0, ok.err);
  assert.is(parseMasterKeys(ok.out).current.id, 'k_2-b', 'the printed entry is a valid MASTER_KEYS value');
  // Through the real process: the hint on stderr ends its line.
  const bin = runBin(['keys', 'generate', '--id', 'k3']);
  assert.is(bin.status, 0, bin.stderr);
  assert.match(bin.stderr, /rotate-master`\n$/);
});

test('tenant create --name "" says so once', async () => {
  const r = await run(['tenant', 'create', '--name', '']);
  assert.is(r.code, 2);
  assert.is(r.err, 'bulwark: invalid tenant: name: must not be empty');
});

test('the library holds the same bounds for every caller', async () => {
  const before = await superuserQuery(db.url, 'SELECT count(*)::int AS n FROM api_keys');
  for (const graceMs of [-1, 86_400_001, 1.5]) {
    const err = await rotateApiKey(prisma, tenantA, keyA, actor, graceMs).catch((e: unknown) => e);
    assert.instance(err, ValidationError, `graceMs ${graceMs}`);
    assert.match((err as Error).message, 'graceMs: must be a whole number of milliseconds from 0 to 86400000 (24 hours)');
  }
  assert.equal((await superuserQuery(db.url, 'SELECT count(*)::int AS n FROM api_keys')).rows, before.rows, 'no key issued');
  const keys = parseMasterKeys('k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=');
  for (const batchSize of [0, -5, 10_001]) {
    const err = await rotateMasterKey(prisma, keys, { batchSize }).catch((e: unknown) => e);
    assert.instance(err, ValidationError, `batchSize ${batchSize}`);
    assert.match((err as Error).message, 'batchSize: must be a whole number from 1 to 10000');
  }
});

test.run();
