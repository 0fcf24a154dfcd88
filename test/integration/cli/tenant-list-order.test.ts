// `tenant list` orders tenants the same way whatever the database's collation: by name
// without regard to case, character by character in code-point order, then by id. The
// names below sort differently under C (upper case first), ICU (punctuation in its own
// order, `_` first) and the rule; the column's collation is switched between runs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Readable } from 'node:stream';
import { main } from '../../../cli/main.js';
import type { CliIO } from '../../../cli/output.js';
import { createPrisma, type PrismaClient } from '../../../lib/clients/prisma.js';
import { generateFernetKey } from '../../../lib/crypto/fernet.js';
import { createTenant, listTenants } from '../../../lib/tenants/tenants.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { testConfig } from '../../helpers/env.js';

let db: TestDatabase;
let prisma: PrismaClient;
test.before(async () => {
  db = await createTestDatabase();
  prisma = createPrisma(testConfig(db.url));
});
test.after(async () => {
  await prisma?.$disconnect();
  await db?.drop();
});

// Created in this order; the system tenant `__system__` is there from the migrations.
const CREATED = ['b', 'A', 'a_d', 'Z', 'ab', 'a-c', '1x', 'a.c', 'a c'];
const EXPECTED = ['1x', '__system__', 'A', 'a c', 'a-c', 'a.c', 'a_d', 'ab', 'b', 'Z'];

async function cliList(): Promise<string[]> {
  const out: string[] = [];
  const io: CliIO = { out: (l) => out.push(l), err: () => undefined, isTTY: false };
  const code = await main(['tenant', 'list'], io, { DATABASE_URL: db.url, MASTER_KEYS: `k1:${generateFernetKey()}`, LOG_LEVEL: 'warn' }, Readable.from([]));
  assert.is(code, 0);
  assert.is(out.at(-1), `${EXPECTED.length} tenant(s)`);
  return out.slice(0, -1).map((l) => l.split('\t')[1]!);
}

test('tenant list: by name without regard to case, in code-point order, whatever the column collation', async () => {
  for (const name of CREATED) await createTenant(prisma, { name });
  for (const collation of ['C', 'und-x-icu', 'en-US-x-icu', 'C']) {
    await superuserQuery(db.url, `ALTER TABLE tenants ALTER COLUMN name TYPE varchar(100) COLLATE "${collation}"`);
    assert.equal((await listTenants(prisma)).map((t) => t.name), EXPECTED, `listTenants under ${collation}`);
    assert.equal(await cliList(), EXPECTED, `bulwark tenant list under ${collation}`);
  }
  const [first] = await listTenants(prisma);
  assert.match(first!.id, /^[0-9a-f-]{36}$/);
  assert.ok(first!.createdAt instanceof Date);
  assert.is(first!.timezone, 'UTC');
});

test.run();
