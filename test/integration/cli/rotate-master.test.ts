// `bulwark keys rotate-master` end to end against Postgres: each re-encrypted batch is
// audited per tenant with the secrets' names and never a value; on a terminal the
// command draws a progress bar on stderr up to the final count; a secret that does
// not decrypt is named on stderr and makes the exit code 1, it is not skipped silently.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { PrismaClient } from '../../../lib/clients/prisma.js';
import { Fernet, generateFernetKey } from '../../../lib/crypto/fernet.js';
import { parseMasterKeys } from '../../../lib/crypto/master-keys.js';
import { resolveSecretRef, setSecret } from '../../../lib/secrets/secrets.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { verifyChains } from '../../../lib/audit/verify.js';
import { makeCliRunner } from '../../helpers/cli.js';
import { createTestDatabaseWithPrisma, databaseTeardown, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';

const K1 = `k1:${generateFernetKey()}`;
const K2 = `k2:${generateFernetKey()}`;
const actor = { type: 'system' as const, id: 'test' };
/** Every plaintext value stored, to look for in audit rows and output. */
const VALUES = { a: ['alpha-s3cret-0', 'alpha-s3cret-1', 'alpha-s3cret-2'], b: ['bravo-s3cret-0', 'bravo-s3cret-1'] };

let db: TestDatabase;
let prisma: PrismaClient;
let tenantA: string;
let tenantB: string;

test.before(
  setup(async () => {
    ({ db, prisma } = await createTestDatabaseWithPrisma());
    tenantA = (await createTenant(prisma, { name: 'rotate-a' })).id;
    tenantB = (await createTenant(prisma, { name: 'rotate-b' })).id;
    const keys = parseMasterKeys(K1);
    for (const [i, value] of VALUES.a.entries())
      await setSecret(prisma, keys, { tenantId: tenantA, name: `a.secret-${i}`, value }, actor);
    for (const [i, value] of VALUES.b.entries())
      await setSecret(prisma, keys, { tenantId: tenantB, name: `b.secret-${i}`, value }, actor);
    // Two that cannot be decrypted: one says k1 but was sealed under a key nobody has,
    // the other names a key id that is not configured at all.
    const lostKey = new Fernet(generateFernetKey());
    const insert = `INSERT INTO secrets (id, tenant_id, name, encrypted_value, key_id) VALUES (gen_random_uuid(), $1, $2, $3, $4)`;
    await superuserQuery(db.url, insert, [tenantB, 'b.corrupt', lostKey.encrypt('lost-s3cret-x'), 'k1']);
    await superuserQuery(db.url, insert, [tenantA, 'a.orphaned', lostKey.encrypt('lost-s3cret-y'), 'k0']);
  }),
);
test.after(cleanup(databaseTeardown(() => ({ db, prisma }))));

/** Run the CLI, its progress bar's raw stderr text caught too (`progress`). */
const cli = makeCliRunner(() => ({ DATABASE_URL: db.url, LOG_LEVEL: 'warn', MASTER_KEYS: `${K2},${K1}` }));
const run = (args: string[], isTTY: boolean) => cli(args, { isTTY });

const bar = (pct: number, done: number, total: number) => {
  const filled = Math.round((pct / 100) * 30);
  return `\rre-encrypting [${'#'.repeat(filled)}${'.'.repeat(30 - filled)}] ${pct}% (${done}/${total})`;
};

interface RotationEntry {
  tenant_id: string;
  actor_type: string;
  actor_id: string;
  resource_type: string;
  metadata: { names: string[]; from_key_ids: string[]; to_key_id: string };
}

/** What re-encryption must not touch: the value is the same, so it is no rotation of it. */
const valueHistory = async () => ({
  secrets: (await superuserQuery(db.url, 'SELECT name, version, rotated_at FROM secrets ORDER BY name')).rows,
  rotations: (await superuserQuery(db.url, 'SELECT count(*)::int AS n FROM secret_rotations')).rows[0].n as number,
});

test('rotate-master on a terminal: progress bar to the final count, undecryptable secrets named, exit 1, batches audited by name', async () => {
  const history = await valueHistory();
  const r = await run(['keys', 'rotate-master', '--batch-size', '3'], true);
  assert.equal(
    await valueHistory(),
    history,
    "versions, rotated_at and secret_rotations are the value's history: left alone",
  );
  assert.is(r.code, 1, 'a secret that did not decrypt fails the command');
  assert.is(r.out, 're-encrypted 5 of 7 secret(s) under key k2; 2 failed');
  const failed = r.err.split('\n');
  assert.is(failed.length, 2, r.err);
  const because = ': the value does not decrypt under any configured master key';
  assert.ok(
    failed.some((l) => l.startsWith(`FAILED  tenant ${tenantA} secret a.orphaned (key k0)${because}`)),
    r.err,
  );
  assert.ok(
    failed.some((l) => l.startsWith(`FAILED  tenant ${tenantB} secret b.corrupt (key k1)${because}`)),
    r.err,
  );

  // 7 rows in batches of 3: progress after each batch, failures counted as done.
  assert.is(r.progress, `${bar(0, 0, 7)}${bar(42, 3, 7)}${bar(85, 6, 7)}${bar(100, 7, 7)}\n`);

  const keyIds = (await superuserQuery(db.url, 'SELECT name, key_id FROM secrets ORDER BY name')).rows;
  assert.equal(keyIds, [
    { name: 'a.orphaned', key_id: 'k0' },
    { name: 'a.secret-0', key_id: 'k2' },
    { name: 'a.secret-1', key_id: 'k2' },
    { name: 'a.secret-2', key_id: 'k2' },
    { name: 'b.corrupt', key_id: 'k1' },
    { name: 'b.secret-0', key_id: 'k2' },
    { name: 'b.secret-1', key_id: 'k2' },
  ]);
  assert.is(await resolveSecretRef(prisma, parseMasterKeys(K2), tenantB, 'secret://b.secret-1'), VALUES.b[1]);

  const rows = (
    await superuserQuery(
      db.url,
      `SELECT * FROM audit_entries WHERE action = 'secret:master-key-rotated' ORDER BY tenant_id, seq`,
    )
  ).rows as RotationEntry[];
  for (const e of rows) {
    assert.equal([e.actor_type, e.actor_id, e.resource_type], ['system', 'bulwark-cli', 'secret']);
    assert.equal([e.metadata.from_key_ids, e.metadata.to_key_id], [['k1'], 'k2']);
  }
  // The rotation walks the rows in id order, 3 at a time, and audits each batch once per
  // tenant with the names it re-encrypted: rebuild that from the ids.
  const byId = (await superuserQuery(db.url, 'SELECT tenant_id, name FROM secrets ORDER BY id')).rows as Array<{
    tenant_id: string;
    name: string;
  }>;
  const expected = (t: string) => {
    const batches: string[][] = [];
    for (let i = 0; i < byId.length; i += 3) {
      const names = byId
        .slice(i, i + 3)
        .filter((row) => row.tenant_id === t && row.name.includes('.secret-'))
        .map((row) => row.name);
      if (names.length > 0) batches.push(names);
    }
    return batches;
  };
  for (const t of [tenantA, tenantB]) {
    assert.equal(
      rows.filter((e) => e.tenant_id === t).map((e) => e.metadata.names),
      expected(t),
      `entries of tenant ${t}`,
    );
  }
  const namesOf = (t: string) =>
    rows
      .filter((e) => e.tenant_id === t)
      .flatMap((e) => e.metadata.names)
      .sort();
  assert.equal(namesOf(tenantA), ['a.secret-0', 'a.secret-1', 'a.secret-2']);
  assert.equal(namesOf(tenantB), ['b.secret-0', 'b.secret-1']);
  // No value in any audit row (nor in what the command printed).
  const everything = `${JSON.stringify((await superuserQuery(db.url, 'SELECT * FROM audit_entries')).rows)}\n${r.out}\n${r.err}\n${r.progress}`;
  for (const v of [...VALUES.a, ...VALUES.b, 'lost-s3cret-x', 'lost-s3cret-y']) assert.not.match(everything, v);
  for (const t of [tenantA, tenantB]) assert.ok((await verifyChains(prisma, { tenantId: t })).ok, `chain of ${t}`);
});

test('a re-run does only what is left, reports the same failures, and draws nothing without a terminal', async () => {
  const before = (
    await superuserQuery(db.url, `SELECT count(*)::int AS n FROM audit_log WHERE action = 'secret:master-key-rotated'`)
  ).rows[0].n as number;
  const r = await run(['keys', 'rotate-master'], false);
  assert.is(r.code, 1);
  assert.is(r.out, 're-encrypted 0 of 2 secret(s) under key k2; 2 failed');
  assert.match(r.err, 'secret a.orphaned (key k0)');
  assert.match(r.err, 'secret b.corrupt (key k1)');
  assert.is(r.progress, '', 'no progress bar when stderr is not a terminal');
  const after = (
    await superuserQuery(db.url, `SELECT count(*)::int AS n FROM audit_log WHERE action = 'secret:master-key-rotated'`)
  ).rows[0].n as number;
  assert.is(after, before, 'nothing re-encrypted, nothing audited');
});

test.run();
