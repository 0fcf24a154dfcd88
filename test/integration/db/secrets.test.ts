// The secrets store against the real Postgres: values encrypted under the current
// master key, references resolved at use, rotation with history, master key
// rotation in resumable batches, failures reported by name, and no plaintext in the
// database, the audit log, logs or error messages.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createPrisma, type PrismaClient } from '../../../lib/clients/prisma.js';
import { Fernet, generateFernetKey } from '../../../lib/crypto/fernet.js';
import { parseMasterKeys } from '../../../lib/crypto/master-keys.js';
import { NotFoundError, ValidationError } from '../../../lib/errors.js';
import { rotateMasterKey } from '../../../lib/secrets/rotation.js';
import { listSecrets, resolveSecretRef, rotateSecret, secretHistory, setSecret } from '../../../lib/secrets/secrets.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { verifyChains } from '../../../lib/audit/verify.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';

let db: TestDatabase;
let prisma: PrismaClient;
let tenant: string;
const actor = { type: 'user' as const, id: 'test' };
const k1 = generateFernetKey();
const k2 = generateFernetKey();
const oldKeys = parseMasterKeys(`k1:${k1}`);
const newKeys = parseMasterKeys(`k2:${k2},k1:${k1}`);
const VALUE = 'xoxb-very-secret-value-42';

test.before(async () => {
  db = await createTestDatabase();
  prisma = createPrisma({ databaseUrl: db.url }, { max: 3 });
  tenant = (await createTenant(prisma, { name: 'secrets-tenant' })).id;
});
test.after(async () => {
  await prisma.$disconnect();
  await db.drop();
});

const dump = async () => JSON.stringify((await superuserQuery(db.url, `SELECT (SELECT json_agg(s) FROM secrets s) AS s, (SELECT json_agg(a) FROM audit_log a) AS a, (SELECT json_agg(r) FROM secret_rotations r) AS r`)).rows);

test('a secret is stored as a Fernet token under the current key and resolved by reference', async () => {
  const created = await setSecret(prisma, oldKeys, { tenantId: tenant, name: 'slack.token', value: VALUE }, actor);
  assert.equal([created.version, created.keyId, created.rotated], [1, 'k1', false]);
  const row = (await superuserQuery(db.url, `SELECT encrypted_value FROM secrets WHERE name = 'slack.token'`)).rows[0];
  assert.ok(row.encrypted_value.startsWith('gAAAAA'), 'a Fernet token (version byte 0x80)');
  assert.is(new Fernet(k1).decrypt(row.encrypted_value).toString(), VALUE);
  assert.is(await resolveSecretRef(prisma, oldKeys, tenant, 'secret://slack.token'), VALUE);
  assert.not.match(await dump(), VALUE, 'no plaintext in secrets, rotations or the audit log');
});

test('rotation replaces the value and keeps the history of when', async () => {
  await rotateSecret(prisma, oldKeys, { tenantId: tenant, name: 'slack.token', value: `${VALUE}-v2` }, actor);
  const r = await rotateSecret(prisma, oldKeys, { tenantId: tenant, name: 'slack.token', value: `${VALUE}-v3` }, actor);
  assert.is(r.version, 3);
  const h = await secretHistory(prisma, tenant, 'slack.token');
  assert.equal(h.rotations.map((x) => [x.fromVersion, x.toVersion]), [[1, 2], [2, 3]]);
  assert.is(await resolveSecretRef(prisma, oldKeys, tenant, 'secret://slack.token'), `${VALUE}-v3`);
  const actions = (await superuserQuery(db.url, `SELECT action, resource_id FROM audit_log WHERE tenant_id = $1 AND action LIKE 'secret:%' ORDER BY seq`, [tenant])).rows;
  assert.equal(actions.map((a) => a.action), ['secret:created', 'secret:rotated', 'secret:rotated']);
  assert.ok(actions.every((a) => a.resource_id === 'slack.token'));
  assert.not.match(await dump(), VALUE);
});

test('bad names, empty values, unknown secrets and bad references are clear errors without the value', async () => {
  for (const input of [{ name: '../x', value: VALUE }, { name: 'ok', value: '' }]) {
    try {
      await setSecret(prisma, oldKeys, { tenantId: tenant, ...input }, actor);
      assert.unreachable();
    } catch (err) {
      assert.instance(err, ValidationError);
      assert.not.match((err as Error).message, VALUE);
    }
  }
  try {
    await rotateSecret(prisma, oldKeys, { tenantId: tenant, name: 'missing', value: VALUE }, actor);
    assert.unreachable();
  } catch (err) {
    assert.instance(err, NotFoundError);
    assert.not.match((err as Error).message, VALUE);
  }
  for (const ref of ['slack.token', 'secret://', 'secret://a/b']) {
    try {
      await resolveSecretRef(prisma, oldKeys, tenant, ref);
      assert.unreachable(ref);
    } catch (err) {
      assert.instance(err, ValidationError);
    }
  }
});

test('master key rotation re-encrypts in batches, resumes, and reports an undecryptable secret by name', async () => {
  for (let i = 0; i < 25; i++) await setSecret(prisma, oldKeys, { tenantId: tenant, name: `bulk-${i}`, value: `v-${i}` }, actor);
  // One secret written under a key nobody has any more.
  const lost = new Fernet(generateFernetKey()).encrypt('gone');
  await superuserQuery(db.url, `INSERT INTO secrets (id, tenant_id, name, encrypted_value, key_id) VALUES (gen_random_uuid(), $1, 'orphaned', $2, 'k0')`, [tenant, lost]);
  // A first run that stops after one batch (as a crash would).
  const progress: number[] = [];
  let batches = 0;
  try {
    await rotateMasterKey(prisma, newKeys, {
      batchSize: 10,
      onProgress: (done) => {
        progress.push(done);
        if (done > 0 && ++batches === 1) throw new Error('crash after the first batch');
      },
    });
  } catch (err) {
    assert.match((err as Error).message, 'crash after the first batch');
  }
  const count = async (keyId: string) => (await superuserQuery(db.url, `SELECT count(*)::int AS n FROM secrets WHERE key_id = $1`, [keyId])).rows[0].n as number;
  const doneFirst = await count('k2');
  assert.ok(doneFirst === 9 || doneFirst === 10, `one batch of 10 committed before the crash (got ${doneFirst})`);
  assert.is(await count('k1'), 26 - doneFirst);
  const report = await rotateMasterKey(prisma, newKeys, { batchSize: 10 });
  assert.is(report.reencrypted, 26 - doneFirst, 'the re-run does only what is left');
  assert.equal(report.failed.map((f) => f.name), ['orphaned']);
  const after = (await listSecrets(prisma, tenant)).filter((s) => s.name !== 'orphaned');
  assert.ok(after.every((s) => s.keyId === 'k2'));
  assert.is(await resolveSecretRef(prisma, newKeys, tenant, 'secret://bulk-7'), 'v-7');
  assert.is(await resolveSecretRef(prisma, newKeys, tenant, 'secret://slack.token'), `${VALUE}-v3`);
  const orphanError = await resolveSecretRef(prisma, parseMasterKeys(`k2:${k2}`), tenant, 'secret://orphaned').then(
    () => undefined,
    (err: unknown) => err as Error,
  );
  assert.ok(orphanError, 'a secret no configured key decrypts must not resolve');
  assert.match(orphanError.message, 'orphaned');
  assert.not.match(orphanError.message, k2);
  assert.ok((await verifyChains(prisma, { tenantId: tenant })).ok, 'every rotation was audited in the chain');
});

test.run();
