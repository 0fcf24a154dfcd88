// `bulwark keys rotate-master` with batches that take long: the largest --batch-size
// commits in one transaction (a statement per row once took about 9 s for 10,000 rows,
// past Prisma's default 5 s transaction limit, and one tenant's names overflowed the
// audit entry's 16 KiB metadata), a batch kept waiting on a row lock past 5 s still
// commits, and a batch past its statement limit is rolled back and named, not reported
// as a Prisma stack, with what came before it kept and a re-run finishing the rest.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import type { PrismaClient } from '../../../lib/clients/prisma.js';
import { AUDIT_METADATA_MAX_BYTES } from '../../../lib/contracts/audit.js';
import { generateFernetKey } from '../../../lib/crypto/fernet.js';
import { parseMasterKeys } from '../../../lib/crypto/master-keys.js';
import { ROTATION_BATCH_MAX, RotationBatchError, rotateMasterKey } from '../../../lib/secrets/rotation.js';
import { resolveSecretRef } from '../../../lib/secrets/secrets.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { verifyChains } from '../../../lib/audit/verify.js';
import { runCli } from '../../helpers/cli.js';
import { createTestDatabaseWithPrisma, databaseTeardown, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { waitFor, withTimeout } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';

const K1 = `k1:${generateFernetKey()}`;
const K2 = `k2:${generateFernetKey()}`;

let db: TestDatabase;
let prisma: PrismaClient;

test.before(
  setup(async () => {
    ({ db, prisma } = await createTestDatabaseWithPrisma());
  }),
);
test.after(cleanup(databaseTeardown(() => ({ db, prisma }))));

const run = (args: string[] = []) =>
  runCli(['keys', 'rotate-master', ...args], { DATABASE_URL: db.url, LOG_LEVEL: 'warn', MASTER_KEYS: `${K2},${K1}` });

/** A tenant with `n` secrets under k1, written in one statement (setSecret one by one would take minutes). */
async function tenantWithSecrets(name: string, n: number) {
  const id = (await createTenant(prisma, { name })).id;
  const k1 = parseMasterKeys(K1).current.fernet;
  const names = Array.from({ length: n }, (_, i) => `${name}.secret-${String(i).padStart(5, '0')}`);
  const insert = `INSERT INTO secrets (id, tenant_id, name, encrypted_value, key_id) SELECT gen_random_uuid(), $1, n, t, 'k1' FROM unnest($2::text[], $3::text[]) AS u(n, t)`;
  await superuserQuery(db.url, insert, [id, names, names.map((s) => k1.encrypt(`${s}-value`))]);
  return { id, names };
}

/** Lock the `offset`-th k1 secret (in id order) in a transaction of the test's, until release(). */
async function lockSecret(offset: number) {
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  await holder.query('BEGIN');
  const { id, name } = (
    await holder.query(`SELECT id, name FROM secrets WHERE key_id = 'k1' ORDER BY id OFFSET $1 LIMIT 1`, [offset])
  ).rows[0] as { id: string; name: string };
  // Locked by id: FOR UPDATE with OFFSET would lock the rows skipped over too.
  await holder.query('SELECT 1 FROM secrets WHERE id = $1 FOR UPDATE', [id]);
  return {
    id,
    name,
    holder,
    waiting: () =>
      waitFor(
        async () =>
          (
            await superuserQuery(
              db.url,
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
            )
          ).rows[0].n === 1,
        'the run waiting on the held row',
      ),
    release: async () => {
      await holder.query('COMMIT').catch(() => undefined);
      await holder.end();
    },
  };
}

const keyIdsOf = async (tenantId: string) =>
  Object.fromEntries(
    (
      (await superuserQuery(db.url, 'SELECT name, key_id FROM secrets WHERE tenant_id = $1', [tenantId]))
        .rows as Array<{ name: string; key_id: string }>
    ).map((r) => [r.name, r.key_id]),
  );

test(`the largest batch (--batch-size ${ROTATION_BATCH_MAX}) of one tenant's ${ROTATION_BATCH_MAX} secrets commits, audited in entries under the metadata limit`, async () => {
  const t = await tenantWithSecrets('bulk', ROTATION_BATCH_MAX);
  const r = await run(['--batch-size', String(ROTATION_BATCH_MAX)]);
  assert.equal(
    [r.code, r.out, r.err],
    [0, `re-encrypted ${ROTATION_BATCH_MAX} of ${ROTATION_BATCH_MAX} secret(s) under key k2; 0 failed`, ''],
  );
  assert.equal(new Set(Object.values(await keyIdsOf(t.id))), new Set(['k2']));
  const entries = (
    await superuserQuery(
      db.url,
      `SELECT metadata FROM audit_entries WHERE tenant_id = $1 AND action = 'secret:master-key-rotated' ORDER BY seq`,
      [t.id],
    )
  ).rows as Array<{ metadata: { names: string[] } }>;
  assert.ok(entries.length > 1, 'one batch of one tenant, split to stay under the limit');
  // Measured as the audit contract measures it.
  for (const e of entries)
    assert.ok(
      Buffer.byteLength(JSON.stringify(e.metadata)) <= AUDIT_METADATA_MAX_BYTES,
      `metadata of ${Buffer.byteLength(JSON.stringify(e.metadata))} bytes`,
    );
  assert.equal(entries.flatMap((e) => e.metadata.names).sort(), t.names, 'each secret audited once');
  assert.ok((await verifyChains(prisma, { tenantId: t.id })).ok);
  assert.is(
    await resolveSecretRef(prisma, parseMasterKeys(K2), t.id, `secret://${t.names[4321]}`),
    `${t.names[4321]}-value`,
  );
});

test("a batch kept waiting on a row lock past Prisma's 5 s default still commits", async () => {
  const t = await tenantWithSecrets('slow', 3);
  const lock = await lockSecret(0);
  const started = Date.now();
  let running: ReturnType<typeof run> | undefined;
  try {
    running = run();
    await lock.waiting();
    // The holder stays in its transaction a while longer, the batch waiting on it.
    await lock.holder.query('SELECT pg_sleep(6)');
  } finally {
    await lock.release();
  }
  const r = await withTimeout(running, 60_000, 'the run');
  assert.ok(Date.now() - started >= 6000, 'the batch waited');
  assert.equal([r.code, r.out, r.err], [0, 're-encrypted 3 of 3 secret(s) under key k2; 0 failed', '']);
  assert.equal(new Set(Object.values(await keyIdsOf(t.id))), new Set(['k2']));
});

test('a batch past its statement limit is rolled back and named; the batches before it stay, a re-run does the rest', async () => {
  const t = await tenantWithSecrets('stuck', 6);
  const lock = await lockSecret(2); // the first row of the second batch of 2
  let err: unknown;
  try {
    // Bounded, so a rotation that waited for ever (no statement limit) fails here, not the file.
    err = await withTimeout(
      rotateMasterKey(prisma, parseMasterKeys(`${K2},${K1}`), { batchSize: 2, statementTimeoutMs: 500 }),
      20_000,
      'the rotation',
    ).catch((e: unknown) => e);
  } finally {
    await lock.release();
  }
  assert.instance(err, RotationBatchError);
  const e = err as RotationBatchError;
  assert.match(
    e.message,
    /^master key rotation: batch 2 \(secrets 3-4 of the 6 counted, tenant [0-9a-f-]{36} secret stuck\.secret-\d{5} to tenant [0-9a-f-]{36} secret stuck\.secret-\d{5}\) was rolled back, none of it re-encrypted: a statement ran past its 500 ms limit \(statement_timeout\)/,
  );
  assert.match(e.message, `secret ${lock.name} to`, 'the held secret opens the batch named');
  assert.not.match(e.message, /prisma|invocation|-value/i);
  assert.equal([e.report.total, e.report.reencrypted, e.report.failed.length], [6, 2, 0]);
  const keyIds = await keyIdsOf(t.id);
  assert.equal(
    Object.values(keyIds).sort(),
    ['k1', 'k1', 'k1', 'k1', 'k2', 'k2'],
    'batch 1 committed, nothing of batch 2 or later',
  );
  assert.is(keyIds[lock.name], 'k1');

  const again = await run();
  assert.equal([again.code, again.out], [0, 're-encrypted 4 of 4 secret(s) under key k2; 0 failed'], again.err);
  assert.ok((await verifyChains(prisma, { tenantId: t.id })).ok);
});

test('on the command line a failed batch is one line naming it, after the count so far: no stack, exit 1', async () => {
  const t = await tenantWithSecrets('locked', 4);
  // A lock wait that gives up at once stands in for the 30 s statement limit.
  await superuserQuery(db.url, `ALTER DATABASE ${db.name} SET lock_timeout = '300ms'`);
  const lock = await lockSecret(0);
  let r: Awaited<ReturnType<typeof run>>;
  try {
    r = await run(['--batch-size', '2']);
  } finally {
    await lock.release();
    await superuserQuery(db.url, `ALTER DATABASE ${db.name} RESET lock_timeout`);
  }
  assert.is(r.code, 1);
  assert.is(r.out, 're-encrypted 0 of 4 secret(s) under key k2; 0 failed');
  const lines = r.err.split('\n');
  assert.is(lines.length, 2, r.err);
  assert.match(
    lines[0]!,
    new RegExp(
      `^bulwark: master key rotation: batch 1 \\(secrets 1-2 of the 4 counted, tenant ${t.id} secret ${lock.name.replace('.', '\\.')} to tenant ${t.id} secret locked\\.secret-\\d{5}\\) was rolled back, none of it re-encrypted: a row lock was not granted in time \\(lock_timeout\\)`,
    ),
  );
  assert.is(
    lines[1],
    `run it again: it continues with what is left (a smaller --batch-size, 1-${ROTATION_BATCH_MAX}, makes each transaction shorter)`,
  );
  assert.not.match(r.err, /prisma|invocation|\n\s+at |-value/i);

  const again = await run();
  assert.equal([again.code, again.out], [0, 're-encrypted 4 of 4 secret(s) under key k2; 0 failed'], again.err);
});

test.run();
