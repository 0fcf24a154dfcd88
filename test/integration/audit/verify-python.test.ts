// An outside auditor's check of the chain: scripts/verify-audit-chain.py recomputes
// every hash from docs/jobs/audit-write.md alone (Python standard library, psql). Here
// Bulwark writes entries with hard content through its real path (producer → BullMQ →
// worker → Postgres), and the Python verifier must find every chain intact, then name
// the same tenant, seq and check as `bulwark audit verify` after a superuser tampers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { main } from '../../../cli/main.js';
import type { CliIO } from '../../../cli/output.js';
import type { AuditEntryInput } from '../../../lib/contracts/audit.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { testConfig, waitFor } from '../../helpers/env.js';
import { bulwarkTeardown, cleanup, setup } from '../../helpers/lifecycle.js';

const SCRIPT = fileURLToPath(new URL('../../../scripts/verify-audit-chain.py', import.meta.url));
const SYSTEM_TENANT = '00000000-0000-4000-8000-000000000001';

let db: TestDatabase;
let bulwark: RunningBulwark;
let producer: Producer;
const tenants: Record<'alpha' | 'beta' | 'gamma' | 'delta' | 'epsilon', string> = {
  alpha: '',
  beta: '',
  gamma: '',
  delta: '',
  epsilon: '',
};

interface Run {
  code: number;
  out: string;
  err: string;
}

function python(args: string[] = [], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      'python3',
      [SCRIPT, ...args],
      { env: { ...process.env, DATABASE_URL: db.url, ...env }, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, out: stdout.trimEnd(), err: stderr.trimEnd() });
      },
    );
  });
}

async function bulwarkVerify(args: string[] = []): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const sink: CliIO = { out: (l) => out.push(l), err: (l) => err.push(l), isTTY: false };
  const code = await main(['audit', 'verify', ...args], sink, { DATABASE_URL: db.url, LOG_LEVEL: 'warn' });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Both verifiers, which must print the same lines and exit with the same code. */
async function bothVerify(args: string[] = []): Promise<Run> {
  const [py, bw] = await Promise.all([python(args), bulwarkVerify(args)]);
  assert.is(py.err, '', `python stderr: ${py.err}`);
  assert.is(
    py.out,
    bw.out,
    `python and bulwark disagree:\n--- python (exit ${py.code})\n${py.out}\n--- bulwark (exit ${bw.code})\n${bw.out}`,
  );
  assert.is(py.code, bw.code, 'exit codes');
  return py;
}

/** As the superuser, with ordinary triggers off: the tampering the chain exists to detect. */
async function tamper(sql: string, params: unknown[]): Promise<void> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query('SET session_replication_role = replica');
    const r = await client.query(sql, params);
    assert.is(r.rowCount, 1, `tampering must touch exactly one row: ${sql}`);
  } finally {
    await client.end();
  }
}

async function seqOf(eventId: string, tenantId: string): Promise<number> {
  const r = await superuserQuery(
    db.url,
    'SELECT seq::int AS seq FROM audit_log WHERE tenant_id = $1 AND event_id = $2',
    [tenantId, eventId],
  );
  assert.is(r.rowCount, 1, `entry ${eventId}`);
  return r.rows[0].seq as number;
}

// ---------------------------------------------------------------------------------
// Hard content: every rule of the canonical form gets something to get wrong.

/** Keys whose order differs between UTF-16 code units and code points, and other odd keys. */
const ODD_KEYS = {
  '\u{1F600}': 'grin (U+1F600, a surrogate pair D83D DE00)',
  '\uFB01': 'ligature (U+FB01: after the pair in UTF-16, before it by code point)',
  '\uE000': 'private use U+E000',
  '\uFFFD': 'replacement character',
  'a\u{10FFFF}': 'the last code point',
  '\u{1D11E}clef': 'U+1D11E',
  Z: 'upper case sorts first',
  a: 'lower case',
  é: 'U+00E9',
  '': 'the empty key',
  ' ': 'a space',
  '\u0001ctl': 'a control character in a key',
  '\u2028': 'U+2028 as a key',
  'quote"back\\slash': 'escapes in a key',
};

const NUMBERS = {
  big: 1e21,
  belowBig: 999999999999999900000,
  tenth: 0.1,
  sum: 0.1 + 0.2,
  negZero: -0,
  tiny: 1e-7,
  micro: 1e-6,
  small: 0.000001234,
  largeInt: 12345678901234567890,
  unsafeInt: 9007199254740993,
  maxSafe: Number.MAX_SAFE_INTEGER,
  minValue: 5e-324,
  maxValue: Number.MAX_VALUE,
  negTiny: -1.5e-300,
  huge: 1e300,
  hundred: 100,
  negInt: -42,
  scaled: 123.456e5,
  third: 1 / 3,
  list: [1e21, -0, 1e-7, 0.5, -1e-7, 2 ** 63, 1e16, 1e20],
};

const STRINGS = {
  lineSep: 'line\u2028sep\u2029end',
  controls: '\u0001\u001f\u007f\u0080\u009f',
  shortEscapes: '\b\f\n\r\t',
  quoting: 'quote" back\\slash /solidus </script>',
  beyondBmp: '😀 𝄞 \u{10FFFF} 🏳️‍🌈',
  combining: 'e\u0301 vs é',
  bom: '\uFEFFbom',
  nullText: 'null',
  arrayLiteralHard: '{"a","b"}\\,NULL',
};

function nastyEntries(tenantId: string, tag: string): AuditEntryInput[] {
  const e = (n: string, rest: Partial<AuditEntryInput>): AuditEntryInput => ({
    tenantId,
    eventId: `${tag}-${n}`,
    actorType: 'user',
    actorId: `user-${tag}`,
    action: 'record:changed',
    resourceType: 'record',
    ...rest,
  });
  return [
    e('keys', {
      before: { ...ODD_KEYS, nested: { ...ODD_KEYS, deeper: [{ ...ODD_KEYS }] } },
      after: { '\u{1F600}': { '\uFB01': { '\u{1F601}': 1, '\uFFFF': 2 } } },
    }),
    e('numbers', {
      before: { n: NUMBERS },
      after: { n: { ...NUMBERS, tenth: 0.2 } },
      metadata: { count: 3, ratio: 0.75 },
    }),
    e('strings', {
      before: STRINGS,
      after: { s: Object.values(STRINGS) },
      resourceId: STRINGS.beyondBmp,
      actorId: STRINGS.quoting,
    }),
    e('empties', {
      before: {},
      after: { emptyObject: {}, emptyArray: [], nestedEmpty: [[], [{}], { '': {} }], nil: null, f: false, t: true },
      metadata: {},
    }),
    e('nulls', { before: null, after: null, metadata: null, actorId: undefined, resourceId: undefined }),
    e('deep', { after: { l1: { l2: { l3: { l4: { l5: { l6: [1, [2, [3, [4, { deepest: 'ü' }]]]] } } } } } } }),
    e('ai-095', {
      actorType: 'ai',
      actorId: 'triage-bot',
      reason: 'Bob owns the billing queue 😀\nsecond line',
      confidence: 0.95,
    }),
    e('ai-00015', { actorType: 'ai', reason: 'binary 0.00015 is just below the half', confidence: 0.00015 }),
    e('ai-99995', { actorType: 'ai', reason: 'rounds up to one', confidence: 0.99995 }),
    e('ai-tiny', { actorType: 'ai', reason: 'rounds to zero', confidence: 1e-7 }),
    e('ai-0', { actorType: 'ai', reason: 'zero', confidence: 0 }),
    e('ai-1', { actorType: 'ai', reason: 'one', confidence: 1 }),
    e('ai-third', { actorType: 'ai', reason: 'a third', confidence: 1 / 3 }),
    e('sec-low', {
      action: 'security:auth-failed',
      severity: 'low',
      ip: '203.0.113.9',
      userAgent: 'curl/8.5.0',
      requestId: 'req-1',
    }),
    e('sec-medium', {
      action: 'security:auth-failed',
      severity: 'medium',
      ip: '2001:DB8::1',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64) "quoted" \\ ünïcödé 😀',
    }),
    e('sec-high', {
      action: 'security:key-leaked',
      severity: 'high',
      ip: '::ffff:192.0.2.1',
      requestId: 'req-ä-😀',
      metadata: { where: 'github' },
    }),
    e('sec-critical', {
      action: 'security:admin-escalation',
      severity: 'critical',
      ip: 'fe80::1',
      actorType: 'service',
      actorId: 'svc',
    }),
    e('redacted', {
      before: {
        password: 'hunter2',
        nested: [{ apiKey: 'k-1' }, { Authorization: 'Bearer x' }, { 'X-Api-Key': { deep: 'v' } }],
        session_id: null,
        tokenizer: 'bpe',
        clientSecret: { deep: 1 },
        url: 'https://user:pa55@example.com/path?q=1',
        fine: 'kept',
      },
      metadata: { cookie: ['a', 'b'], privateKey: '-----BEGIN-----', note: 'postgres://app:s3cret@db:5432/x' },
    }),
    e('offset-time', { occurredAt: '2026-03-01T00:30:00.5+05:30' }),
    e('micro-time', { occurredAt: '2026-03-01T12:00:00.123999Z' }),
    e('old-time', { occurredAt: new Date(Date.UTC(500, 0, 1, 0, 0, 0, 7)) }),
    e('epoch', { occurredAt: '1970-01-01T00:00:00Z', actorType: 'system' }),
  ];
}

test.before(
  setup(async () => {
    db = await createTestDatabase();
    // Format 1: these tampering checks change audit_log columns (format 2 is tested in privacy/).
    const config = testConfig(db.url, { AUDIT_CHAIN_FORMAT: '1' });
    bulwark = await startBulwark(config, { http: false, scheduler: false });
    for (const name of Object.keys(tenants) as Array<keyof typeof tenants>) {
      tenants[name] = (await createTenant(bulwark.ctx.prisma, { name: `py-verify-${name}` })).id;
    }
    producer = createProducer({ redisUrl: config.redisUrl, queuePrefix: config.queuePrefix });
  }),
);

test.after(cleanup(bulwarkTeardown(() => ({ producer, bulwark, db }))));

test('entries with hard content, written through the real path, verify in Python exactly as in Bulwark', async () => {
  const eventIds: string[] = [];
  // alpha and beta through writeMany (one job each), gamma, delta and epsilon through single
  // coalesced writes, interleaved so jobs hold several tenants.
  for (const name of ['alpha', 'beta'] as const) {
    const { eventIds: ids } = await producer.audit.writeMany(nastyEntries(tenants[name], name));
    eventIds.push(...ids);
  }
  const singles = [
    ...nastyEntries(tenants.gamma, 'gamma'),
    ...nastyEntries(tenants.delta, 'delta'),
    ...nastyEntries(tenants.epsilon, 'epsilon'),
  ];
  const written = await Promise.all(singles.map((e) => producer.audit.write(e)));
  eventIds.push(...written.map((w) => w.eventId));

  await waitFor(
    async () =>
      (await superuserQuery(db.url, 'SELECT count(*)::int AS n FROM audit_log WHERE event_id = ANY($1)', [eventIds]))
        .rows[0].n === eventIds.length,
    `all ${eventIds.length} entries stored`,
  );

  // The hard content really is in the database as intended (so the check means something).
  const numbers = (
    await superuserQuery(
      db.url,
      `SELECT before_state->'n' AS n, before_state->'n'->>'big' AS big FROM audit_entries WHERE event_id = 'alpha-numbers'`,
    )
  ).rows[0];
  assert.is(numbers.big, '1000000000000000000000', 'jsonb prints 1e21 in full; the canonical form writes 1e+21');
  assert.is(numbers.n.tiny, 1e-7);
  const keys = (
    await superuserQuery(
      db.url,
      `SELECT before_state ? '\u{1F600}' AS grin, before_state ? '\uFB01' AS fi FROM audit_entries WHERE event_id = 'alpha-keys'`,
    )
  ).rows[0];
  assert.equal(keys, { grin: true, fi: true });
  const conf = await superuserQuery(
    db.url,
    `SELECT event_id, confidence::text AS c FROM audit_log WHERE tenant_id = $1 AND confidence IS NOT NULL ORDER BY seq`,
    [tenants.alpha],
  );
  assert.equal(
    conf.rows.map((r) => `${r.event_id}=${r.c}`),
    [
      'alpha-ai-095=0.9500',
      'alpha-ai-00015=0.0001',
      'alpha-ai-99995=1.0000',
      'alpha-ai-tiny=0.0000',
      'alpha-ai-0=0.0000',
      'alpha-ai-1=1.0000',
      'alpha-ai-third=0.3333',
    ],
  );
  const redacted = (
    await superuserQuery(
      db.url,
      `SELECT before_state AS b, metadata AS m FROM audit_entries WHERE event_id = 'alpha-redacted'`,
    )
  ).rows[0];
  assert.is(redacted.b.password, '[REDACTED]');
  assert.is(redacted.b.url, 'https://user:[REDACTED]@example.com/path?q=1');
  assert.is(redacted.m.note, 'postgres://app:[REDACTED]@db:5432/x');
  const ip = (await superuserQuery(db.url, `SELECT ip FROM audit_entries WHERE event_id = 'alpha-sec-medium'`)).rows[0]
    .ip;
  assert.is(ip, '2001:DB8::1', 'stored as given');

  const r = await bothVerify();
  assert.is(r.code, 0, r.out);
  const lines = r.out.split('\n');
  assert.is(lines.at(-1), 'all 6 chain(s) intact');
  const perTenant = nastyEntries(tenants.alpha, 'x').length + 2; // + tenant:created and apikey:created
  for (const id of Object.values(tenants)) {
    assert.ok(lines.includes(`ok      tenant ${id}: ${perTenant} entries, chain intact`), `${id} in\n${r.out}`);
  }
  assert.ok(
    lines.includes(`ok      tenant ${SYSTEM_TENANT}: 0 entries, chain intact`),
    'the system tenant: head at 0, no entries',
  );

  const one = await bothVerify(['--tenant', tenants.gamma]);
  assert.equal(one.out.split('\n'), [
    `ok      tenant ${tenants.gamma}: ${perTenant} entries, chain intact`,
    'all 1 chain(s) intact',
  ]);
});

test('a number rewritten to another spelling of the same double is not a change; a different double is', async () => {
  const seq = await seqOf('alpha-numbers', tenants.alpha);
  // 0.10000000000000001 and 1e21 spelled out parse to the same doubles: same canonical form.
  await tamper(
    `UPDATE audit_log SET before_state = jsonb_set(jsonb_set(before_state, '{n,tenth}', '0.10000000000000001'), '{n,big}', '1.0e21')
      WHERE tenant_id = $1 AND seq = $2`,
    [tenants.alpha, seq],
  );
  assert.is((await bothVerify(['--tenant', tenants.alpha])).code, 0);
  await tamper(
    `UPDATE audit_log SET before_state = jsonb_set(before_state, '{n,tenth}', '0.1000000000000001') WHERE tenant_id = $1 AND seq = $2`,
    [tenants.alpha, seq],
  );
  const r = await bothVerify();
  assert.is(r.code, 1);
  assert.ok(
    r.out.includes(
      `BROKEN  tenant ${tenants.alpha}: seq ${seq}: content: stored hash does not match the entry's content`,
    ),
    r.out,
  );
  assert.is(r.out.split('\n').at(-1), '1 of 6 chain(s) broken');
});

test('a changed field is named by its seq (content)', async () => {
  // An earlier entry than the one changed above, in a key outside the BMP: it is now the first bad one.
  const seq = await seqOf('alpha-keys', tenants.alpha);
  await tamper(
    `UPDATE audit_log SET before_state = jsonb_set(before_state, '{\u{1F600}}', '"grim"') WHERE tenant_id = $1 AND seq = $2`,
    [tenants.alpha, seq],
  );
  let r = await bothVerify(['--tenant', tenants.alpha]);
  assert.ok(r.out.startsWith(`BROKEN  tenant ${tenants.alpha}: seq ${seq}: content:`), r.out);
  // A change in a plain column of the first entry (written by tenant bootstrap, not the worker).
  await tamper(`UPDATE audit_log SET actor_id = coalesce(actor_id, '') || 'x' WHERE tenant_id = $1 AND seq = 1`, [
    tenants.alpha,
  ]);
  r = await bothVerify(['--tenant', tenants.alpha]);
  assert.ok(r.out.startsWith(`BROKEN  tenant ${tenants.alpha}: seq 1: content:`), r.out);
});

test('a broken link is named by its seq (link)', async () => {
  const seq = await seqOf('beta-strings', tenants.beta);
  await tamper(`UPDATE audit_log SET prev_hash = repeat('1', 64) WHERE tenant_id = $1 AND seq = $2`, [
    tenants.beta,
    seq,
  ]);
  const r = await bothVerify();
  assert.ok(
    r.out.includes(
      `BROKEN  tenant ${tenants.beta}: seq ${seq}: link: prev_hash does not match the previous entry's hash`,
    ),
    r.out,
  );
  assert.is(r.code, 1);
});

test('a stored hash overwritten is named at that seq (content), not at the next one (link)', async () => {
  const seq = await seqOf('beta-numbers', tenants.beta); // before beta-strings
  await tamper(`UPDATE audit_log SET hash = repeat('2', 64) WHERE tenant_id = $1 AND seq = $2`, [tenants.beta, seq]);
  const r = await bothVerify(['--tenant', tenants.beta]);
  assert.ok(r.out.startsWith(`BROKEN  tenant ${tenants.beta}: seq ${seq}: content:`), r.out);
});

test('a gap is named by the missing seq (numbering)', async () => {
  const seq = await seqOf('gamma-ai-00015', tenants.gamma);
  await tamper(`DELETE FROM audit_log WHERE tenant_id = $1 AND seq = $2`, [tenants.gamma, seq]);
  const r = await bothVerify();
  assert.ok(
    r.out.includes(`BROKEN  tenant ${tenants.gamma}: seq ${seq}: numbering: expected seq ${seq}, found ${seq + 1}`),
    r.out,
  );
  assert.is(r.out.split('\n').at(-1), '3 of 6 chain(s) broken');
});

test('a removed tail is named one past the last entry left; an entry re-numbered past the head shows as the hole it leaves (head)', async () => {
  const last = (
    await superuserQuery(db.url, 'SELECT max(seq)::int AS s FROM audit_log WHERE tenant_id = $1', [tenants.delta])
  ).rows[0].s as number;
  await tamper(`DELETE FROM audit_log WHERE tenant_id = $1 AND seq = $2`, [tenants.delta, last]);
  let r = await bothVerify(['--tenant', tenants.delta]);
  assert.is(
    r.out.split('\n')[0],
    `BROKEN  tenant ${tenants.delta}: seq ${last}: head: the chain head says the log ends at seq ${last} but entries stop at seq ${last - 1}`,
  );
  // The walk covers 1..last_seq of the head: an entry moved beyond it is missing from there, found first.
  await tamper(`UPDATE audit_log SET seq = $3 WHERE tenant_id = $1 AND seq = $2`, [tenants.delta, last - 1, last + 5]);
  r = await bothVerify(['--tenant', tenants.delta]);
  assert.is(
    r.out.split('\n')[0],
    `BROKEN  tenant ${tenants.delta}: seq ${last - 1}: head: the chain head says the log ends at seq ${last} but entries stop at seq ${last - 2}`,
  );
  const all = await bothVerify();
  assert.is(all.code, 1);
  assert.is(all.out.split('\n').at(-1), '4 of 6 chain(s) broken');
});

test('the head: a wrong last_hash is named at last_seq; a row beyond the head is named one past it', async () => {
  const head = (
    await superuserQuery(
      db.url,
      'SELECT last_seq::int AS s, last_hash AS h FROM audit_chain_heads WHERE tenant_id = $1',
      [tenants.epsilon],
    )
  ).rows[0];
  await superuserQuery(db.url, `UPDATE audit_chain_heads SET last_hash = repeat('3', 64) WHERE tenant_id = $1`, [
    tenants.epsilon,
  ]);
  let r = await bothVerify(['--tenant', tenants.epsilon]);
  assert.is(
    r.out.split('\n')[0],
    `BROKEN  tenant ${tenants.epsilon}: seq ${head.s}: head: the chain head's hash does not match entry seq ${head.s}`,
  );
  await superuserQuery(db.url, `UPDATE audit_chain_heads SET last_hash = $2 WHERE tenant_id = $1`, [
    tenants.epsilon,
    head.h,
  ]);
  assert.is((await bothVerify(['--tenant', tenants.epsilon])).code, 0);

  // A forged entry appended past the head (the head left alone): the writer moves the
  // head in the transaction that inserts, so in one snapshot such a row was put there by hand.
  await superuserQuery(
    db.url,
    `INSERT INTO audit_log (tenant_id, seq, event_id, occurred_at, recorded_at, actor_type, action, resource_type, prev_hash, hash)
     VALUES ($1, $2, 'forged-beyond-head', now(), now(), 'system', 'test:forged', 'test', $3, repeat('a', 64))`,
    [tenants.epsilon, head.s + 1, head.h],
  );
  r = await bothVerify(['--tenant', tenants.epsilon]);
  assert.is(r.code, 1, r.out);
  assert.is(
    r.out.split('\n')[0],
    `BROKEN  tenant ${tenants.epsilon}: seq ${head.s + 1}: head: 1 entry beyond the chain head's seq ${head.s}`,
  );
});

test('a tenant row deleted past the foreign keys: both verifiers still find its chain and report it broken (tenant)', async () => {
  // A fresh tenant, so the count of broken chains moves: 5 of the 6 before it are broken by now.
  const zeta = (await createTenant(bulwark.ctx.prisma, { name: 'py-verify-zeta' })).id;
  let r = await bothVerify();
  assert.is(r.out.split('\n').at(-1), '5 of 7 chain(s) broken');
  assert.ok(r.out.includes(`ok      tenant ${zeta}: 2 entries, chain intact`), r.out);

  // audit_log and audit_chain_heads reference tenants ON DELETE RESTRICT: only a
  // session that skips the foreign-key triggers can delete a tenant that has entries.
  await tamper('DELETE FROM tenants WHERE id = $1', [zeta]);
  const line = `BROKEN  tenant ${zeta}: seq 1: tenant: the tenant's row is missing from tenants (2 entries)`;
  r = await bothVerify();
  assert.is(r.code, 1, r.out);
  const lines = r.out.split('\n');
  assert.ok(lines.includes(line), r.out);
  assert.is(lines.at(-1), '6 of 7 chain(s) broken');
  const ids = lines.slice(0, -1).map((l) => /tenant ([0-9a-f-]{36}):/.exec(l)![1]!);
  assert.equal(ids, [...ids].sort(), 'one id order for every chain, with or without a tenants row');
  const one = await bothVerify(['--tenant', zeta]);
  assert.equal([one.code, one.out.split('\n')], [1, [line, '1 of 1 chain(s) broken']]);

  // The head gone too: the entries alone still name the chain.
  await tamper('DELETE FROM audit_chain_heads WHERE tenant_id = $1', [zeta]);
  assert.equal((await bothVerify(['--tenant', zeta])).out.split('\n'), [line, '1 of 1 chain(s) broken']);

  // A head with no entries and no tenants row: a chain of 0 entries whose tenant is gone.
  const headOnly = 'ffffffff-0000-4000-8000-000000000000';
  await tamper(`INSERT INTO audit_chain_heads (tenant_id) VALUES ($1)`, [headOnly]);
  r = await bothVerify();
  assert.is(
    r.out.split('\n').at(-2),
    `BROKEN  tenant ${headOnly}: seq 1: tenant: the tenant's row is missing from tenants (0 entries)`,
    'the largest id comes last',
  );
  assert.is(r.out.split('\n').at(-1), '7 of 8 chain(s) broken');
});

test('an unknown --tenant is an error, not a broken chain; bad usage exits 2', async () => {
  const ghost = '7d1f0c2e-9a3b-4c5d-8e6f-0a1b2c3d4e5f';
  const [py, bw] = await Promise.all([python(['--tenant', ghost]), bulwarkVerify(['--tenant', ghost])]);
  assert.equal([py.code, py.out], [bw.code, bw.out]);
  assert.equal([py.code, py.out], [1, '']);
  assert.match(py.err, `no tenant with id ${ghost}`);
  assert.is((await python(['--tenant', 'not-a-uuid'])).code, 2);
  assert.is((await python([], { DATABASE_URL: '' })).code, 2);
  const down = await python([], { DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/nothing' });
  assert.is(down.code, 1, 'the database could not be read');
});

test.run();
