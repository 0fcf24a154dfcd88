// `bulwark keys rotate-master` succeeds only when it re-encrypted every secret it
// counted: SECURITY.md tells the operator to remove the old key after a clean run, so
// "2 of 3, 0 failed" must not exit 0. Here another writer moves one secret to the new
// key between the count and the first batch (as a concurrent run would); the command
// exits 1 and says to run it again, and the re-run, with nothing left, exits 0. Two
// runs that overlap count only the rows each one changed: their counts add up to the
// secrets re-encrypted, and each secret is audited once. A value replaced while a run
// holds the old one is not overwritten by it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import type { PrismaClient } from '../../../lib/clients/prisma.js';
import { generateFernetKey } from '../../../lib/crypto/fernet.js';
import { parseMasterKeys } from '../../../lib/crypto/master-keys.js';
import { resolveSecretRef, setSecret } from '../../../lib/secrets/secrets.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { verifyChains } from '../../../lib/audit/verify.js';
import { runCli } from '../../helpers/cli.js';
import { createTestDatabaseWithPrisma, databaseTeardown, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { waitFor, withTimeout } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';

const K1 = `k1:${generateFernetKey()}`;
const K2 = `k2:${generateFernetKey()}`;
const actor = { type: 'system' as const, id: 'test' };

let db: TestDatabase;
let prisma: PrismaClient;
let tenant: string;

test.before(
  setup(async () => {
    ({ db, prisma } = await createTestDatabaseWithPrisma());
    tenant = (await createTenant(prisma, { name: 'rotate-count' })).id;
    const keys = parseMasterKeys(K1);
    for (const i of [0, 1, 2])
      await setSecret(prisma, keys, { tenantId: tenant, name: `s-${i}`, value: `value-${i}` }, actor);
  }),
);
test.after(cleanup(databaseTeardown(() => ({ db, prisma }))));

function run(onProgress: () => void = () => {}, args: string[] = []) {
  // A terminal, so the progress bar reports 0 of N right after the count and before the
  // first batch is read: the one moment to change the table in between.
  return runCli(
    ['keys', 'rotate-master', ...args],
    { DATABASE_URL: db.url, LOG_LEVEL: 'warn', MASTER_KEYS: `${K2},${K1}` },
    { isTTY: true, onProgress },
  );
}

test('fewer re-encrypted than counted, without a failure, exits 1 and asks for a re-run', async () => {
  const token = parseMasterKeys(K2).current.fernet.encrypt('value-1');
  let moved = false;
  const r = await run(() => {
    if (moved) return;
    moved = true;
    // Synchronous on purpose: the command must not read its first batch until the row
    // is under k2. psql as the test database's owner, a writer outside the command.
    const psql = spawnSync(
      'psql',
      [
        db.url,
        '-v',
        'ON_ERROR_STOP=1',
        '-c',
        `UPDATE secrets SET encrypted_value = '${token}', key_id = 'k2' WHERE name = 's-1'`,
      ],
      { encoding: 'utf8' },
    );
    if (psql.status !== 0) throw new Error(`psql failed: ${psql.stderr}`);
  });
  assert.ok(moved, 'the progress bar was drawn');
  assert.is(r.out, 're-encrypted 2 of 3 secret(s) under key k2; 0 failed');
  assert.is(r.code, 1, 'not every counted secret was re-encrypted by this run');
  assert.match(
    r.err,
    '1 secret(s) were not re-encrypted by this run; run it again and remove the old key only when it reports N of N, 0 failed',
  );

  const again = await run();
  assert.is(again.out, 're-encrypted 0 of 0 secret(s) under key k2; 0 failed');
  assert.is(again.code, 0, again.err);
  for (const i of [0, 1, 2])
    assert.is(
      await resolveSecretRef(prisma, parseMasterKeys(K2), tenant, `secret://s-${i}`),
      `value-${i}`,
      'readable under k2 alone',
    );
});

const COUNT_LINE = /^re-encrypted (\d+) of (\d+) secret\(s\) under key k2; 0 failed$/;
const countsOf = (r: { out: string; code: number; err: string }) => {
  const m = COUNT_LINE.exec(r.out);
  assert.ok(m, r.out);
  return { done: Number(m[1]), total: Number(m[2]), code: r.code, err: r.err };
};

/** A new tenant with `n` secrets under k1. */
async function tenantWithSecrets(name: string, n: number) {
  const id = (await createTenant(prisma, { name })).id;
  const names = Array.from({ length: n }, (_, i) => `${name}-${String(i).padStart(2, '0')}`);
  for (const [i, secret] of names.entries())
    await setSecret(prisma, parseMasterKeys(K1), { tenantId: id, name: secret, value: `${name}-value-${i}` }, actor);
  return { id, names, value: (i: number) => `${name}-value-${i}` };
}

/**
 * Starts `runs` while the first row any run will update is locked by a transaction of
 * the test's, waits until `waiters` sessions wait on it (each run has counted and read
 * the same first batch by then), does `meanwhile` in that transaction and commits: the
 * overlap is certain, not a matter of luck.
 */
async function holdingFirstRow<T>(
  runs: () => Promise<T>,
  waiters: number,
  meanwhile: (holder: pg.Client, id: string) => Promise<unknown> = async () => {},
): Promise<T> {
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  let running: Promise<T> | undefined;
  let committed = false;
  try {
    await holder.query('BEGIN');
    const { id } = (await holder.query(`SELECT id FROM secrets WHERE key_id = 'k1' ORDER BY id LIMIT 1 FOR UPDATE`))
      .rows[0] as { id: string };
    running = runs();
    const waiting = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`;
    // Asked on a connection of its own: inside the holder's transaction the view is a snapshot.
    await waitFor(
      async () => (await superuserQuery(db.url, waiting)).rows[0].n === waiters,
      `${waiters} run(s) waiting on the held row`,
    );
    await meanwhile(holder, id);
    await holder.query('COMMIT');
    committed = true;
  } finally {
    if (!committed) await holder.query('ROLLBACK').catch(() => undefined);
    await holder.end();
  }
  return withTimeout(running, 60_000, 'the runs');
}

test('two overlapping runs: their counts add up to exactly the secrets re-encrypted, each secret audited once', async () => {
  const t = await tenantWithSecrets('overlap', 12);
  const results = await holdingFirstRow(
    () => Promise.all([run(undefined, ['--batch-size', '4']), run(undefined, ['--batch-size', '4'])]),
    2,
  );

  const counts = results.map(countsOf);
  assert.equal(
    counts.map((c) => c.total),
    [12, 12],
    'both counted every secret before either changed one',
  );
  assert.is(counts[0]!.done + counts[1]!.done, 12, JSON.stringify(counts));
  for (const c of counts) {
    if (c.done === c.total) assert.equal([c.code, c.err], [0, ''], 'the run that did everything');
    else {
      assert.is(c.code, 1);
      assert.match(c.err, `${c.total - c.done} secret(s) were not re-encrypted by this run; run it again`);
    }
  }

  const audited = (
    await superuserQuery(
      db.url,
      `SELECT metadata FROM audit_entries WHERE tenant_id = $1 AND action = 'secret:master-key-rotated'`,
      [t.id],
    )
  ).rows as Array<{ metadata: { names: string[] } }>;
  assert.equal(
    audited.flatMap((e) => e.metadata.names).sort(),
    t.names,
    'each secret audited once, by the run that re-encrypted it',
  );
  assert.ok((await verifyChains(prisma, { tenantId: t.id })).ok);
  for (const [i, name] of t.names.entries())
    assert.is(await resolveSecretRef(prisma, parseMasterKeys(K2), t.id, `secret://${name}`), t.value(i));

  const again = await run();
  assert.equal([again.out, again.code], ['re-encrypted 0 of 0 secret(s) under key k2; 0 failed', 0], again.err);
});

test('a value replaced (under the old key) while a run holds the old one is kept, not overwritten, and left to the re-run', async () => {
  const t = await tenantWithSecrets('replaced', 3);
  let replaced = '';
  const r = await holdingFirstRow(
    () => run(),
    1,
    async (holder, id) => {
      // A writer whose MASTER_KEYS still starts with k1 sets a new value meanwhile.
      const token = parseMasterKeys(K1).current.fernet.encrypt('replaced-new-value');
      replaced = (
        await holder.query(
          `UPDATE secrets SET encrypted_value = $1, version = version + 1 WHERE id = $2 RETURNING name`,
          [token, id],
        )
      ).rows[0].name as string;
    },
  );
  assert.equal(countsOf(r), { done: 2, total: 3, code: 1, err: r.err });
  assert.match(r.err, '1 secret(s) were not re-encrypted by this run; run it again');

  const again = await run();
  assert.equal([again.out, again.code], ['re-encrypted 1 of 1 secret(s) under key k2; 0 failed', 0], again.err);
  for (const [i, name] of t.names.entries()) {
    const expected = name === replaced ? 'replaced-new-value' : t.value(i);
    assert.is(await resolveSecretRef(prisma, parseMasterKeys(K2), t.id, `secret://${name}`), expected, name);
  }
});

test.run();
