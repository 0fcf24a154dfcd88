// The commit path sends every column as a Postgres array literal it writes itself
// (lib/audit/encode.ts). Values that are hard for that format (quotes, backslashes,
// braces, commas, the text NULL, empty strings, non-ASCII, JSON with all of those)
// must come back from the database exactly as given, and the chain must verify. The
// transaction runs under a time limit, and the pool's sessions under an idle-in-
// transaction limit, so a stuck writer cannot hold the chain heads for ever.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { commitEntries } from '../../../lib/audit/store.js';
import { encodeEntry } from '../../../lib/audit/encode.js';
import { prepareEntry } from '../../../lib/audit/entry.js';
import { createPgPool, createPrisma } from '../../../lib/clients/prisma.js';
import { isTransientDbError } from '../../../lib/db/errors.js';
import pg from 'pg';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { verifyChains } from '../../../lib/audit/verify.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { testConfig } from '../../helpers/env.js';

let db: TestDatabase;
let pool: ReturnType<typeof createPgPool>;
let prisma: ReturnType<typeof createPrisma>;
let tenantId: string;

const HARD = [
  'say "hi"',
  'tab\there\nnew line\r\u0001',
  'back\\slash',
  '{braces}',
  'a,b',
  'NULL',
  'null',
  '',
  ' padded ',
  'é😀\u2028',
  '\\"',
  '"{,}"',
];

test.before(async () => {
  db = await createTestDatabase();
  const config = testConfig(db.url);
  pool = createPgPool(config, 2);
  prisma = createPrisma(config, { pool });
  tenantId = (await createTenant(prisma, { name: 'encoding' })).id;
});
test.after(async () => {
  await prisma.$disconnect();
  await pool.end();
  await db.drop();
});

test('hard strings in every text and JSON column are stored exactly and the chain verifies', async () => {
  const entries = HARD.map((s, i) =>
    prepareEntry({
      tenantId,
      eventId: `evt-${i}-${s}`.slice(0, 128) || `evt-${i}`,
      occurredAt: '2026-11-26T10:00:00.000Z',
      actorType: 'ai',
      actorId: s,
      action: 'task:completed',
      resourceType: 'task',
      resourceId: s,
      before: { [s || 'k']: s, list: [s, null, 1.5] },
      after: { nested: { q: s } },
      metadata: { s },
      reason: s || 'r',
      confidence: 0.5,
      requestId: s,
      userAgent: s,
    }),
  );
  const outcomes = await commitEntries(
    pool,
    entries.map((e) => encodeEntry(e, { format: 1 })),
  );
  assert.equal(
    outcomes.map((o) => o.status),
    HARD.map(() => 'written'),
  );
  const { rows } = await superuserQuery(
    db.url,
    `SELECT actor_id, resource_id, reason, request_id, user_agent, before_state, after_state, metadata, confidence::text AS confidence
       FROM audit_entries WHERE tenant_id = $1 AND action = 'task:completed' ORDER BY seq`,
    [tenantId],
  );
  rows.forEach((r: Record<string, unknown>, i: number) => {
    const s = HARD[i]!;
    assert.equal([r.actor_id, r.resource_id, r.request_id, r.user_agent], [s, s, s, s], `text columns of entry ${i}`);
    assert.is(r.reason, s || 'r');
    assert.equal(r.before_state, { [s || 'k']: s, list: [s, null, 1.5] }, `before_state of entry ${i}`);
    assert.equal(r.after_state, { nested: { q: s } });
    assert.equal(r.metadata, { s });
    assert.is(r.confidence, '0.5000');
  });
  const report = await verifyChains(prisma, { tenantId });
  assert.ok(report.ok, JSON.stringify(report));
});

test('absent optional fields are stored as NULL, not as the text "NULL"', async () => {
  const [outcome] = await commitEntries(pool, [
    encodeEntry(
      prepareEntry({
        tenantId,
        eventId: 'evt-absent',
        occurredAt: '2026-11-26T10:00:00.000Z',
        actorType: 'system',
        action: 'task:noted',
        resourceType: 'task',
      }),
    ),
  ]);
  assert.is(outcome!.status, 'written');
  const { rows } = await superuserQuery(
    db.url,
    `SELECT actor_id IS NULL AS a, before_state IS NULL AS b, confidence IS NULL AS c, severity IS NULL AS d FROM audit_entries WHERE event_id = 'evt-absent'`,
  );
  assert.equal(rows[0], { a: true, b: true, c: true, d: true });
  assert.ok((await verifyChains(prisma, { tenantId })).ok);
});

test('stored duplicates found by the unique index: the batch is redone with the lookup, new entries still written once', async () => {
  const make = (id: string) =>
    encodeEntry(
      prepareEntry({
        tenantId,
        eventId: id,
        occurredAt: '2026-11-26T11:00:00.000Z',
        actorType: 'system',
        action: 'task:noted',
        resourceType: 'task',
      }),
    );
  const first = await commitEntries(pool, [make('dup-a'), make('dup-b')]);
  assert.equal(
    first.map((o) => o.status),
    ['written', 'written'],
  );
  const again = await commitEntries(pool, [
    make('dup-new-1'),
    make('dup-a'),
    make('dup-new-2'),
    make('dup-new-1'),
    make('dup-b'),
  ]);
  assert.equal(
    again.map((o) => o.status),
    ['written', 'duplicate', 'written', 'duplicate', 'duplicate'],
  );
  assert.equal(again[1], { status: 'duplicate', seq: (first[0] as { seq: string }).seq }, 'the stored seq is reported');
  assert.equal(
    again[3],
    { status: 'duplicate', seq: (again[0] as { seq: string }).seq },
    'a repeat within the batch points at its first copy',
  );
  const { rows } = await superuserQuery(
    db.url,
    `SELECT event_id, count(*)::int AS n FROM audit_log WHERE event_id LIKE 'dup-%' GROUP BY event_id ORDER BY event_id`,
  );
  assert.equal(rows, [
    { event_id: 'dup-a', n: 1 },
    { event_id: 'dup-b', n: 1 },
    { event_id: 'dup-new-1', n: 1 },
    { event_id: 'dup-new-2', n: 1 },
  ]);
  assert.ok((await verifyChains(prisma, { tenantId })).ok, 'no gap in the chain from the rolled-back attempt');
});

test('a commit blocked on a chain head past its time limit fails as transient (the jobs retry) and writes nothing', async () => {
  const entry = encodeEntry(
    prepareEntry({
      tenantId,
      eventId: 'evt-blocked',
      occurredAt: '2026-11-26T10:00:00.000Z',
      actorType: 'user',
      action: 'task:completed',
      resourceType: 'task',
    }),
  );
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM audit_chain_heads WHERE tenant_id = $1 FOR UPDATE', [tenantId]);
    const err = await commitEntries(pool, [entry], () => new Date(), 300).then(
      () => undefined,
      (e: unknown) => e as { code?: string },
    );
    assert.is(err?.code, '57014', 'canceled by statement_timeout');
    assert.ok(isTransientDbError(err));
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
  const rows = await superuserQuery(db.url, `SELECT count(*)::int AS n FROM audit_log WHERE event_id = 'evt-blocked'`);
  assert.is(rows.rows[0].n, 0);
  // Once the lock is gone the same entry commits.
  assert.equal(
    (await commitEntries(pool, [entry])).map((o) => o.status),
    ['written'],
  );
});

test('pooled sessions end an idle transaction after 30 s', async () => {
  const client = await pool.connect();
  try {
    assert.is(
      (await client.query('SHOW idle_in_transaction_session_timeout')).rows[0].idle_in_transaction_session_timeout,
      '30s',
    );
  } finally {
    client.release();
  }
});

test.run();
