// API key names are unique among a tenant's keys that are not revoked, so `apikey list`
// never shows two live keys of one name; rotation hands the name on to the new key (the
// old one, in its grace period, no longer holds it). Revoking a key in its grace period
// revokes it now, and the grace default is one constant for the library and the CLI.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createApiKey, listApiKeys } from '../../../lib/apikeys/records.js';
import { revokeApiKey, rotateApiKey, ROTATION_GRACE_DEFAULT_SECONDS } from '../../../lib/apikeys/lifecycle.js';
import type { AuditEntryInput } from '../../../lib/contracts/audit.js';
import type { PrismaClient } from '../../../lib/clients/prisma.js';
import { ConflictError, ValidationError } from '../../../lib/errors.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createAuthenticator } from '../../../api/authenticator.js';
import { runCli } from '../../helpers/cli.js';
import { createTestDatabaseWithPrisma, databaseTeardown, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';

const actor = { type: 'user' as const, id: 'test' };
/** Where the authenticators hand `apikey:used` entries (their storage is audit/apikey-use.test.ts's subject). */
const recordUse = async (_entry: AuditEntryInput) => undefined;
let db: TestDatabase;
let prisma: PrismaClient;

test.before(
  setup(async () => {
    ({ db, prisma } = await createTestDatabaseWithPrisma(4));
  }),
);
test.after(cleanup(databaseTeardown(() => ({ db, prisma }))));

const cli = (args: string[]) => runCli(args, { DATABASE_URL: db.url, LOG_LEVEL: 'warn' });

const create = (tenantId: string, name: string, expiresInDays?: number) => createApiKey(prisma, { tenantId, name, scopes: ['audit:write'], expiresInDays }, actor);
const keyCount = async () => (await superuserQuery(db.url, 'SELECT count(*)::int AS n FROM api_keys')).rows[0].n as number;
const taken = (name: string, prefix: string) =>
  `an API key named "${name}" already exists for this tenant (${prefix}); names are unique among keys that are not revoked: choose another name, or revoke or rotate that key`;

async function refusal<T extends Error>(work: Promise<unknown>, type: new (...a: never[]) => T): Promise<string> {
  const err = await work.then(() => undefined, (e: unknown) => e);
  assert.instance(err, type);
  return (err as Error).message;
}

test('a second key of the same name is a conflict naming the first, with nothing written; other tenants and revoked keys do not count', async () => {
  const a = (await createTenant(prisma, { name: 'names-a' })).id;
  const b = (await createTenant(prisma, { name: 'names-b' })).id;
  const first = await create(a, 'ingest');
  const before = await keyCount();
  assert.is(await refusal(create(a, 'ingest'), ConflictError), taken('ingest', first.record.displayPrefix));
  assert.is(await keyCount(), before, 'no key written');
  await create(a, 'Ingest'); // names are compared exactly
  await create(b, 'ingest');
  await revokeApiKey(prisma, a, first.record.displayPrefix, actor);
  const again = await create(a, 'ingest');
  assert.equal((await listApiKeys(prisma, a)).filter((k) => k.name === 'ingest').map((k) => k.displayPrefix), [first.record.displayPrefix, again.record.displayPrefix]);
});

test('an expired key that was never revoked still holds its name, and the message says it expired', async () => {
  const t = (await createTenant(prisma, { name: 'names-expired' })).id;
  const old = await createApiKey(prisma, { tenantId: t, name: 'old', scopes: ['audit:read'], expiresInDays: 1 }, actor, () => new Date(Date.now() - 3 * 86_400_000));
  const message = await refusal(create(t, 'old'), ConflictError);
  assert.match(message, `(${old.record.displayPrefix}, expired ${old.record.expiresAt.toISOString()})`);
  await revokeApiKey(prisma, t, old.record.displayPrefix, actor);
  await create(t, 'old');
});

test('creations racing for one name: one wins, the others are the conflict', async () => {
  const t = (await createTenant(prisma, { name: 'names-race' })).id;
  const results = await Promise.allSettled([1, 2, 3, 4].map(() => create(t, 'racer')));
  assert.is(results.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of results) if (r.status === 'rejected') assert.instance(r.reason, ConflictError, String(r.reason));
});

test('rotation hands the name on: both keys work during the grace, the name is taken by the new one, and rotating the old one again is refused', async () => {
  const t = (await createTenant(prisma, { name: 'names-rotate' })).id;
  const old = await create(t, 'svc');
  const rotated = await rotateApiKey(prisma, t, old.record.displayPrefix, actor, 60_000);
  assert.is(rotated.record.name, 'svc');
  const auth = createAuthenticator(prisma, { cacheMs: 0, writeAudit: recordUse });
  try {
    assert.ok((await auth.authenticate(old.key)).ok, 'the old key works during its grace');
    assert.ok((await auth.authenticate(rotated.key)).ok);
  } finally {
    await auth.close();
  }
  assert.is(await refusal(create(t, 'svc'), ConflictError), taken('svc', rotated.record.displayPrefix));
  const again = await refusal(rotateApiKey(prisma, t, old.record.displayPrefix, actor), ValidationError);
  assert.match(again, `key: is already rotated and stays valid only until ${rotated.oldRevokedAt.toISOString()}; rotate its replacement ${rotated.record.displayPrefix} instead`);
  // The replacement rotates in turn, with no grace: the name moves on once more.
  const third = await rotateApiKey(prisma, t, rotated.record.displayPrefix, actor, 0);
  const live = (await listApiKeys(prisma, t)).filter((k) => k.name === 'svc' && k.revokedAt === null);
  assert.equal(live.map((k) => k.displayPrefix), [third.record.displayPrefix]);
  const old2 = (await superuserQuery(db.url, 'SELECT replaced_by_id FROM api_keys WHERE display_prefix = $1', [old.record.displayPrefix])).rows[0];
  assert.is(old2.replaced_by_id, rotated.record.id, 'the old key still names its replacement');
});

test('revoking a key in its rotation grace period revokes it now, not when the grace ends', async () => {
  const t = (await createTenant(prisma, { name: 'names-leak' })).id;
  const old = await create(t, 'leaked');
  await rotateApiKey(prisma, t, old.record.displayPrefix, actor, 3_600_000);
  const revoked = await revokeApiKey(prisma, t, old.record.displayPrefix, actor);
  assert.ok(revoked.revokedAt!.getTime() <= Date.now(), `revoked at ${revoked.revokedAt?.toISOString()}`);
  const auth = createAuthenticator(prisma, { cacheMs: 0, writeAudit: recordUse });
  try {
    assert.equal(await auth.authenticate(old.key), { ok: false, reason: 'revoked', displayPrefix: old.record.displayPrefix, tenantId: t });
  } finally {
    await auth.close();
  }
});

test('bulwark apikey create: a taken name is exit 1 with the conflict; apikey list shows one live key per name', async () => {
  const t = (await createTenant(prisma, { name: 'names-cli' })).id;
  const created = await cli(['apikey', 'create', '--tenant', t, '--name', 'ingest', '--scopes', 'audit:write']);
  assert.is(created.code, 0, created.err);
  const dup = await cli(['apikey', 'create', '--tenant', t, '--name', 'ingest', '--scopes', 'audit:read']);
  assert.equal([dup.code, dup.out, dup.err], [1, '', `bulwark: ${taken('ingest', created.out.slice(0, 12))}`]);
  const rotated = await cli(['apikey', 'rotate', '--tenant', t, '--key', created.out.slice(0, 12)]);
  assert.is(rotated.code, 0, rotated.err);
  const again = await cli(['apikey', 'rotate', '--tenant', t, '--key', created.out.slice(0, 12)]);
  assert.is(again.code, 2);
  assert.match(again.err, `is already rotated and stays valid only until`);
  const list = (await cli(['apikey', 'list', '--tenant', t])).out.split('\n').filter((l) => l.includes('\tingest\t'));
  assert.equal(list.map((l) => l.split('\t')[3]!.replace(/\d{4}-.*Z/, 'T')), ['valid until T (rotated)', 'valid']);
});

test('the rotation grace defaults to ROTATION_GRACE_DEFAULT_SECONDS, from the library and from the CLI alike', async () => {
  assert.is(ROTATION_GRACE_DEFAULT_SECONDS, 300);
  const t = (await createTenant(prisma, { name: 'names-grace' })).id;
  const lib = await create(t, 'lib');
  const start = new Date();
  const r = await rotateApiKey(prisma, t, lib.record.displayPrefix, actor, undefined, () => start);
  assert.is(r.oldRevokedAt.getTime() - start.getTime(), ROTATION_GRACE_DEFAULT_SECONDS * 1000);
  const viaCli = await create(t, 'cli');
  const before = Date.now();
  assert.is((await cli(['apikey', 'rotate', '--tenant', t, '--key', viaCli.record.displayPrefix])).code, 0);
  const until = (await listApiKeys(prisma, t)).find((k) => k.displayPrefix === viaCli.record.displayPrefix)!.revokedAt!.getTime();
  assert.ok(until - before >= ROTATION_GRACE_DEFAULT_SECONDS * 1000 && until - Date.now() <= ROTATION_GRACE_DEFAULT_SECONDS * 1000, `grace ${until - before} ms`);
});

test.run();
