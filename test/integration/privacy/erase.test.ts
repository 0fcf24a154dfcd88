// Subject erasure end to end against real Postgres and s3rver: a subject named by
// format-1 and format-2 entries (actor, inside JSON), an alert row with a delivery, and
// an object its entry names, an object of its own (its token in the id, named by no
// entry) and an earlier export bundle of it. After `eraseSubject` both verifiers find
// every chain intact, the subject's string is in no text or JSON column of any table, nor
// in a pg_dump taken afterwards, and its objects and bundle are gone (another subject's
// stay); a second run and an unknown subject find nothing; a subject a legal hold covers
// is refused, naming the hold, untouched. A tenant whose `privacy.personalFields` adds
// resourceId (set through the settings route's function) has a subject named only as a
// resource id erased, both verifiers still passing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { main } from '../../../cli/main.js';
import type { CliIO } from '../../../cli/output.js';
import { generateSigningKey } from '../../../lib/checkpoints/keys.js';
import type { PrismaClient } from '../../../lib/clients/prisma.js';
import { encodeEntry } from '../../../lib/audit/encode.js';
import { prepareEntry } from '../../../lib/audit/entry.js';
import { commitEntries } from '../../../lib/audit/store.js';
import { auditEntrySchema, type AuditEntryInput } from '../../../lib/contracts/audit.js';
import { eraseSubject, type EraseContext } from '../../../lib/privacy/erase.js';
import { exportSubject } from '../../../lib/privacy/export.js';
import { subjectObjectId, subjectToken } from '../../../lib/privacy/subject-objects.js';
import { objectKey as keyOf } from '../../../lib/storage/keys.js';
import { updateTenantSettings } from '../../../lib/tenants/settings-store.js';
import { erasureKeys, requireErasureSigner } from '../../../lib/privacy/erasure-record.js';
import { addHold, releaseHold } from '../../../lib/retention/holds.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createTestDatabaseWithPrisma, databaseTeardown, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { listKeys, putObjects, startRetentionStore, type RetentionStore } from '../../helpers/retention-store.js';

const SCRIPT = fileURLToPath(new URL('../../../scripts/verify-audit-chain.py', import.meta.url));
const KEY = generateSigningKey();
const signer = requireErasureSigner(erasureKeys({ erasureSigningKey: KEY, erasurePublicKeys: undefined }));
const PUBLIC = signer.publicKey.raw.toString('base64');
const ADMIN = { type: 'user' as const, id: 'dpo' };

let db: TestDatabase;
let prisma: PrismaClient;
let pool: pg.Pool;
let store: RetentionStore;
let ctx: EraseContext;
let tenantId: string;
const subject = `alice-${randomBytes(4).toString('hex')}@example.com`;
const held = `bob-${randomBytes(4).toString('hex')}@example.com`;
let objectKey = '';
let otherKey = '';
/** The subject's own object (its token in the id), the held subject's, and each one's export bundle. */
let tokenKey = '';
let heldTokenKey = '';
let bundleKey = '';
let heldBundleKey = '';

/** Put a one-line report of `who` (its token in the id); returns its key. */
async function putOwn(who: string): Promise<string> {
  const key = keyOf({
    tenantId,
    class: 'reports',
    at: new Date(),
    id: subjectObjectId(tenantId, who),
    contentType: 'text/csv',
  });
  await store.storage.client.putObject(store.storage.bucket, key, Buffer.from('a,b\n'), 4);
  return key;
}

async function exportOf(who: string): Promise<string> {
  const e = await exportSubject(
    { prisma, storage: store.storage, databaseUrl: db.url },
    { tenantId, subject: who, actor: ADMIN },
  );
  return e.key;
}

async function write(format: 1 | 2, inputs: Array<Partial<AuditEntryInput>>, tenant = tenantId): Promise<void> {
  const entries = inputs.map((i) =>
    encodeEntry(
      prepareEntry(
        auditEntrySchema.parse({
          tenantId: tenant,
          eventId: randomUUID(),
          occurredAt: new Date().toISOString(),
          actorType: 'user',
          action: 'task:updated',
          resourceType: 'task',
          ...i,
        }),
      ),
      { format },
    ),
  );
  const out = await commitEntries(pool, entries);
  assert.ok(out.every((o) => o.status === 'written'));
}

function python(): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile(
      'python3',
      [SCRIPT],
      { env: { ...process.env, DATABASE_URL: db.url, ERASURE_PUBLIC_KEYS: PUBLIC }, encoding: 'utf8' },
      (err, stdout) => resolve({ code: err ? Number(err.code ?? -1) : 0, out: stdout.trimEnd() }),
    ),
  );
}

async function bulwarkVerify(): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const io: CliIO = { out: (l) => out.push(l), err: () => undefined, isTTY: false };
  const code = await main(['audit', 'verify'], io, {
    DATABASE_URL: db.url,
    LOG_LEVEL: 'warn',
    ERASURE_SIGNING_KEY: KEY,
  });
  return { code, out: out.join('\n') };
}

/** Every (table, column) of a text, character or JSON type whose value holds `s`. */
async function whereFound(s: string): Promise<string[]> {
  const cols = await superuserQuery(
    db.url,
    `SELECT c.table_name, c.column_name FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
        AND (c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb') OR c.data_type = 'ARRAY')`,
  );
  const found: string[] = [];
  for (const { table_name: t, column_name: c } of cols.rows) {
    const r = await superuserQuery(db.url, `SELECT count(*)::int AS n FROM "${t}" WHERE strpos("${c}"::text, $1) > 0`, [
      s,
    ]);
    if (r.rows[0].n > 0) found.push(`${t}.${c}`);
  }
  return found;
}

test.before(
  setup(async () => {
    ({ db, prisma } = await createTestDatabaseWithPrisma(2));
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    store = await startRetentionStore();
    tenantId = (await createTenant(prisma, { name: `erase-${randomBytes(3).toString('hex')}` })).id;
    ctx = { prisma, storage: store.storage, signer };
    objectKey = (await putObjects(store.storage, tenantId, 'snapshots/raw', 1, 1, 'alice'))[0]!;
    otherKey = (await putObjects(store.storage, tenantId, 'snapshots/raw', 1, 1, 'other'))[0]!;
    const mixed = (who: string): Array<Partial<AuditEntryInput>> => [
      { actorId: who, ip: '10.1.2.3', userAgent: 'Firefox' },
      { actorId: 'admin-1', after: { owner: { email: who }, list: ['x', who] } },
      { actorId: 'admin-2', metadata: { note: 'unrelated' } },
      { actorId: 'system-x', before: { n: 1 } },
    ];
    await write(1, [...mixed(subject), ...mixed(held)]);
    await write(2, [...mixed(subject), ...mixed(held), { actorId: subject, metadata: { photo: objectKey } }]);
    const alertId = randomUUID();
    await prisma.alertRecord.create({
      data: {
        id: alertId,
        tenantId,
        type: 'login.failed',
        severity: 'high',
        title: `Login failed for ${subject}`,
        body: `user ${subject} tried 5 times`,
        labels: { user: subject },
        groupKey: `login.failed:${subject}`,
        userId: subject,
        occurredAt: new Date(),
        receivedAt: new Date(),
        outcome: 'failed',
        deliveries: {
          create: { channelId: randomUUID(), outcome: 'failed', lastError: `webhook refused ${subject}` },
        },
      },
    });
    await addHold(prisma, { tenantId, scope: 'actor', actorId: held, reason: 'case 2026-44' }, ADMIN);
    tokenKey = await putOwn(subject);
    heldTokenKey = await putOwn(held);
    bundleKey = await exportOf(subject);
    heldBundleKey = await exportOf(held);
  }),
);

test.after(
  cleanup([
    ['close pool', () => pool?.end()],
    ['stop store', () => store?.stop()],
    ...databaseTeardown(() => ({ db, prisma })),
  ]),
);

test('before: the subject is in the log, the ledger and a delivery; chains verify', async () => {
  const where = await whereFound(subject);
  for (const place of [
    'audit_log.actor_id',
    'audit_personal_data.actor_id',
    'alert_ledger.title',
    'alert_deliveries.last_error',
  ])
    assert.ok(where.includes(place), `${place} in ${where.join(', ')}`);
  assert.is((await bulwarkVerify()).code, 0);
  assert.is((await python()).code, 0);
});

test('a dry run counts and changes nothing', async () => {
  const r = await eraseSubject(ctx, { tenantId, subject, reason: 'art. 17 request #12', dryRun: true }, ADMIN);
  assert.equal(r, {
    dryRun: true,
    entries: { format1: 2, format2: 3 },
    alerts: 1,
    deliveries: 0,
    objects: 2,
    exports: 1,
    objectKeys: [objectKey, tokenKey, bundleKey].sort(),
  });
  assert.ok((await whereFound(subject)).length > 0);
  const keys = await listKeys(store.storage, `tenant/${tenantId}/`);
  for (const k of [objectKey, tokenKey, bundleKey]) assert.ok(keys.includes(k), k);
});

test('erasure removes the subject everywhere; both verifiers exit 0; a pg_dump no longer holds it', async () => {
  const r = await eraseSubject(ctx, { tenantId, subject, reason: 'art. 17 request #12' }, ADMIN);
  assert.equal(
    { ...r, erasureId: undefined, eventId: undefined },
    {
      erasureId: undefined,
      eventId: undefined,
      dryRun: false,
      entries: { format1: 2, format2: 3 },
      alerts: 1,
      deliveries: 1,
      objects: 2,
      exports: 1,
    },
  );
  assert.equal(await whereFound(subject), []);
  assert.equal(await whereFound(subjectToken(tenantId, subject)), [], 'the token is in no column either');
  const dump = execFileSync('pg_dump', ['--dbname', db.url, '--format=plain'], {
    maxBuffer: 64 * 1024 * 1024,
  }).toString();
  assert.ok(!dump.includes(subject), 'the dump holds the subject');
  assert.ok(dump.includes(held), 'the dump holds the other subject (the check can see)');
  const keys = await listKeys(store.storage, `tenant/${tenantId}/`);
  for (const k of [objectKey, tokenKey, bundleKey]) assert.ok(!keys.includes(k), `${k} is still there`);
  for (const k of [otherKey, heldTokenKey, heldBundleKey]) assert.ok(keys.includes(k), `${k} is gone`);
  const v = await bulwarkVerify();
  assert.is(v.code, 0, v.out);
  assert.match(v.out, /\(5 erased\), chain intact/);
  const p = await python();
  assert.is(p.code, 0, p.out);
  assert.match(p.out, /5 erased\), chain intact/);
  const [closing] = await superuserQuery(
    db.url,
    `SELECT action, resource_id, metadata, reason FROM audit_entries WHERE tenant_id = $1 AND action = 'privacy:subject-erased'`,
    [tenantId],
  ).then((x) => x.rows);
  assert.is(closing.resource_id, r.erasureId);
  assert.is(closing.reason, 'art. 17 request #12');
  assert.equal(
    { ...closing.metadata },
    { format1: 2, format2: 3, alerts: 1, deliveries: 1, objects: 2, exports: 1, resumed: false },
  );
});

test('a second run and an unknown subject find nothing, and say so', async () => {
  for (const who of [subject, 'nobody@example.com']) {
    const out: string[] = [];
    const io: CliIO = { out: (l) => out.push(l), err: () => undefined, isTTY: false };
    const code = await main(
      ['subject', 'erase', '--tenant', tenantId, '--subject', who, '--reason', 'art. 17 request #13'],
      io,
      { DATABASE_URL: db.url, LOG_LEVEL: 'warn', ERASURE_SIGNING_KEY: KEY, ...store.env },
    );
    assert.is(code, 0, out.join('\n'));
    assert.match(
      out.join('\n'),
      /^nothing names this subject \(unknown, or erased before\): 0 erased; erased 0 audit entries/,
    );
  }
});

test('a subject under a legal hold is refused, the hold named, nothing erased', async () => {
  const before = await whereFound(held);
  try {
    await eraseSubject(ctx, { tenantId, subject: held, reason: 'art. 17 request #14' }, ADMIN);
    assert.unreachable('should be refused');
  } catch (err) {
    assert.is((err as Error).name, 'ConflictError');
    assert.match(
      (err as Error).message,
      /refused: legal holds .* cover this subject's data, so nothing was erased; hold [0-9a-f-]+ \(actor bob-.*: case 2026-44\) covers 2 audit entries, 0 alert\(s\), 0 object\(s\)/,
    );
  }
  assert.equal(await whereFound(held), before);
  assert.is((await bulwarkVerify()).code, 0);
});

test("a --prefix hold over a subject's own object alone refuses the erasure, naming the hold and the object", async () => {
  // Carol: one audit entry no hold covers, and her own report, which a prefix hold does.
  const carol = `carol-${randomBytes(4).toString('hex')}@example.com`;
  await write(2, [{ actorId: carol, ip: '10.9.9.9' }]);
  const carolKey = await putOwn(carol);
  const rel = carolKey.slice(`tenant/${tenantId}/`.length);
  const hold = await addHold(prisma, { tenantId, scope: 'prefix', keyPrefix: rel, reason: 'case 2026-51' }, ADMIN);
  try {
    const before = await whereFound(carol);
    assert.ok(before.length > 0, 'carol is in the log');
    try {
      await eraseSubject(ctx, { tenantId, subject: carol, reason: 'art. 17 request #15' }, ADMIN);
      assert.unreachable('should be refused');
    } catch (err) {
      assert.is((err as Error).name, 'ConflictError', (err as Error).message);
      assert.match(
        (err as Error).message,
        `hold ${hold.id} (prefix ${rel}: case 2026-51) covers 0 audit entries, 0 alert(s), 1 object(s)`,
      );
    }
    assert.equal(await whereFound(carol), before, 'nothing erased from the database');
    assert.ok((await listKeys(store.storage, `tenant/${tenantId}/`)).includes(carolKey), 'the object is kept');
  } finally {
    await releaseHold(prisma, hold.id, 'test over', ADMIN);
  }
  // Released, the same request erases her, the object included.
  const out = await eraseSubject(ctx, { tenantId, subject: carol, reason: 'art. 17 request #15' }, ADMIN);
  assert.is(out.objects, 1, JSON.stringify(out));
  assert.not.ok((await listKeys(store.storage, `tenant/${tenantId}/`)).includes(carolKey), 'the object is gone');
  assert.equal(await whereFound(carol), []);
  assert.is((await bulwarkVerify()).code, 0);
});

test('privacy.personalFields set through the settings function: a subject named only as a resource id is erased', async () => {
  const t2 = (await createTenant(prisma, { name: `erase-pf-${randomBytes(3).toString('hex')}` })).id;
  const carol = `carol-${randomBytes(4).toString('hex')}@example.com`;
  const asResource = (who: string): Partial<AuditEntryInput> => ({
    actorId: 'admin-1',
    action: 'user:updated',
    resourceType: 'user',
    resourceId: who,
  });
  await write(1, [asResource(carol), asResource('dave@example.com')], t2);
  const dry = { tenantId: t2, subject: carol, reason: 'art. 17 request #15', dryRun: true };
  // Without the setting a resource id is not personal data: nothing names carol.
  assert.equal((await eraseSubject(ctx, dry, ADMIN)).entries, { format1: 0, format2: 0 });
  // The function PATCH /v1/settings calls (api/routes/settings.ts).
  const settings = await updateTenantSettings(prisma, t2, { privacy: { personalFields: ['resourceId'] } }, ADMIN);
  assert.equal(settings.privacy.personalFields, ['resourceId']);
  // Format 2 written after the setting keeps the resource id apart, in audit_personal_data.
  await write(2, [asResource(carol), asResource('dave@example.com')], t2);
  const before = await whereFound(carol);
  for (const place of ['audit_log.resource_id', 'audit_personal_data.resource_id'])
    assert.ok(before.includes(place), `${place} in ${before.join(', ')}`);
  assert.equal((await eraseSubject(ctx, dry, ADMIN)).entries, { format1: 1, format2: 1 });
  const r = await eraseSubject(ctx, { ...dry, dryRun: false }, ADMIN);
  assert.equal(r.entries, { format1: 1, format2: 1 });
  assert.equal(await whereFound(carol), []);
  assert.ok((await whereFound('dave@example.com')).length > 0, 'the other resource id stays');
  const v = await bulwarkVerify();
  assert.is(v.code, 0, v.out);
  const p = await python();
  assert.is(p.code, 0, p.out);
});

test('tampering after an erasure still shows: a deleted personal-data row without a record', async () => {
  await superuserQuery(
    db.url,
    `SET session_replication_role = replica;
     DELETE FROM audit_personal_data WHERE tenant_id = '${tenantId}' AND actor_id = 'admin-2';`,
  );
  const v = await bulwarkVerify();
  assert.is(v.code, 1);
  assert.match(v.out, /content: personal data missing, and no erasure record says it was erased/);
  const p = await python();
  assert.is(p.code, 1);
  assert.match(p.out, /content: personal data missing, and no erasure record says it was erased/);
});

test.run();
