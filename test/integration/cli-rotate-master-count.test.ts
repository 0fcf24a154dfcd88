// `bulwark keys rotate-master` succeeds only when it re-encrypted every secret it
// counted: SECURITY.md tells the operator to remove the old key after a clean run, so
// "2 of 3, 0 failed" must not exit 0. Here another writer moves one secret to the new
// key between the count and the first batch (as a concurrent run would); the command
// exits 1 and says to run it again, and the re-run, with nothing left, exits 0.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { main } from '../../cli/main.js';
import type { CliIO } from '../../cli/output.js';
import { createPrisma, type PrismaClient } from '../../lib/clients/prisma.js';
import { generateFernetKey } from '../../lib/crypto/fernet.js';
import { parseMasterKeys } from '../../lib/crypto/master-keys.js';
import { resolveSecretRef, setSecret } from '../../lib/secrets.js';
import { createTenant } from '../../lib/tenants.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { cleanup, setup } from '../helpers/lifecycle.js';

const K1 = `k1:${generateFernetKey()}`;
const K2 = `k2:${generateFernetKey()}`;
const actor = { type: 'system' as const, id: 'test' };

let db: TestDatabase;
let prisma: PrismaClient;
let tenant: string;

test.before(
  setup(async () => {
    db = await createTestDatabase();
    prisma = createPrisma({ databaseUrl: db.url }, { max: 1 });
    tenant = (await createTenant(prisma, { name: 'rotate-count' })).id;
    const keys = parseMasterKeys(K1);
    for (const i of [0, 1, 2]) await setSecret(prisma, keys, { tenantId: tenant, name: `s-${i}`, value: `value-${i}` }, actor);
  }),
);
test.after(
  cleanup([
    ['disconnect prisma', () => prisma?.$disconnect()],
    ['drop database', () => db?.drop()],
  ]),
);

async function run(onProgress: () => void = () => {}) {
  const out: string[] = [];
  const err: string[] = [];
  // A terminal, so the progress bar reports 0 of N right after the count and before the
  // first batch is read: the one moment to change the table in between.
  const io: CliIO = { out: (l) => out.push(l), err: (l) => err.push(l), isTTY: true, progress: onProgress };
  const code = await main(['keys', 'rotate-master'], io, { DATABASE_URL: db.url, LOG_LEVEL: 'warn', MASTER_KEYS: `${K2},${K1}` });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('fewer re-encrypted than counted, without a failure, exits 1 and asks for a re-run', async () => {
  const token = parseMasterKeys(K2).current.fernet.encrypt('value-1');
  let moved = false;
  const r = await run(() => {
    if (moved) return;
    moved = true;
    // Synchronous on purpose: the command must not read its first batch until the row
    // is under k2. psql as the test database's owner, a writer outside the command.
    const psql = spawnSync('psql', [db.url, '-v', 'ON_ERROR_STOP=1', '-c', `UPDATE secrets SET encrypted_value = '${token}', key_id = 'k2' WHERE name = 's-1'`], { encoding: 'utf8' });
    if (psql.status !== 0) throw new Error(`psql failed: ${psql.stderr}`);
  });
  assert.ok(moved, 'the progress bar was drawn');
  assert.is(r.out, 're-encrypted 2 of 3 secret(s) under key k2; 0 failed');
  assert.is(r.code, 1, 'not every counted secret was re-encrypted by this run');
  assert.match(r.err, '1 secret(s) were not re-encrypted by this run; run it again and remove the old key only when it reports N of N, 0 failed');

  const again = await run();
  assert.is(again.out, 're-encrypted 0 of 0 secret(s) under key k2; 0 failed');
  assert.is(again.code, 0, again.err);
  for (const i of [0, 1, 2]) assert.is(await resolveSecretRef(prisma, parseMasterKeys(K2), tenant, `secret://s-${i}`), `value-${i}`, 'readable under k2 alone');
});

test.run();
