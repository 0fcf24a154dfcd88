// POST /v1/subjects/erase against a running Bulwark (real Postgres, its own s3rver):
// admin scope only, the key's own tenant only, a dry run that counts and changes
// nothing, the erasure itself (then nothing names the subject: a second call finds 0),
// a legal hold refused with 409 naming it, bad bodies named, 503 on a process
// without ERASURE_SIGNING_KEY, and 503 with Retry-After while the object store is down.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createApiKey } from '../../../lib/apikeys/records.js';
import { generateSigningKey } from '../../../lib/checkpoints/keys.js';
import { addHold } from '../../../lib/retention/holds.js';
import { startApi, type ApiHarness } from '../../helpers/api.js';
import { superuserQuery } from '../../helpers/db.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { writeEntries } from '../../helpers/privacy.js';
import { startRetentionStore, type RetentionStore } from '../../helpers/retention-store.js';

let api: ApiHarness;
let store: RetentionStore;
let a: { id: string; adminKey: string };
let b: { id: string; adminKey: string };
let readKey: string;
const SUBJECT = 'erase-me@example.com';
const HELD = 'held-subject@example.com';

interface EraseBody {
  dryRun: boolean;
  entries: { format1: number; format2: number };
  alerts: number;
  deliveries: number;
  objects: number;
  exports: number;
  erasureId?: string;
}
const erase = (key: string, body: unknown) => api.call('POST', '/v1/subjects/erase', { key, body });
const named = async (subject: string) =>
  Number(
    (
      await superuserQuery(
        api.db.url,
        `SELECT count(*) AS n FROM audit_entries WHERE tenant_id = $1 AND (actor_id = $2 OR metadata::text LIKE '%' || $2 || '%')`,
        [a.id, subject],
      )
    ).rows[0].n,
  );

test.before(
  setup(async () => {
    store = await startRetentionStore();
    api = await startApi({ ...store.env, ERASURE_SIGNING_KEY: generateSigningKey() });
    a = await api.tenant('erase-a');
    b = await api.tenant('erase-b');
    readKey = (
      await createApiKey(
        api.bulwark.ctx.prisma,
        { tenantId: a.id, name: 'reader', scopes: ['audit:read'] },
        { type: 'user', id: 't' },
      )
    ).key;
    await writeEntries(api.bulwark.ctx.prisma, a.id, [
      { actorId: SUBJECT, action: 'user:login', ip: '198.51.100.7' },
      { actorId: 'admin-1', metadata: { to: SUBJECT } },
      { actorId: HELD, action: 'user:login' },
    ]);
    await addHold(
      api.bulwark.ctx.prisma,
      { tenantId: a.id, scope: 'actor', actorId: HELD, reason: 'litigation 7' },
      {
        type: 'user',
        id: 'counsel',
      },
    );
  }),
);
test.after(
  cleanup([
    ['close api', () => api?.close()],
    ['stop store', () => store?.stop()],
  ]),
);

test('admin scope and the key tenant only: 403 for a read key and for another tenant', async () => {
  assert.is((await erase(readKey, { subject: SUBJECT, reason: 'request 1' })).status, 403);
  const other = await erase(b.adminKey, { tenantId: a.id, subject: SUBJECT, reason: 'request 1' });
  assert.is(other.status, 403, await other.text());
  assert.is(await named(SUBJECT), 2, 'nothing erased');
});

test('a dry run counts and changes nothing; the erasure then erases; a second call finds nothing', async () => {
  const dry = await erase(a.adminKey, { subject: SUBJECT, reason: 'DSR ticket 4411', dryRun: true });
  assert.is(dry.status, 200, await dry.clone().text());
  const d = (await dry.json()) as EraseBody;
  assert.is(d.dryRun, true);
  assert.is(d.entries.format1 + d.entries.format2, 2);
  assert.is(await named(SUBJECT), 2, 'a dry run erases nothing');

  const res = await erase(a.adminKey, { subject: SUBJECT, reason: 'DSR ticket 4411' });
  assert.is(res.status, 200, await res.clone().text());
  const r = (await res.json()) as EraseBody;
  assert.is(r.entries.format1 + r.entries.format2, 2);
  assert.ok(r.erasureId, 'the erasure has an id');
  assert.is(await named(SUBJECT), 0, 'the subject is named nowhere in the audit entries');
  const closing = await superuserQuery(
    api.db.url,
    `SELECT row_to_json(x)::text AS j FROM audit_entries x WHERE tenant_id = $1 AND action = 'privacy:subject-erased'`,
    [a.id],
  );
  assert.is(closing.rows.length, 1, 'one privacy:subject-erased entry');
  assert.not.match(closing.rows[0].j as string, SUBJECT, 'the entry holds no personal data');
  assert.match(closing.rows[0].j as string, 'DSR ticket 4411');

  const again = (await (await erase(a.adminKey, { subject: SUBJECT, reason: 'DSR ticket 4411' })).json()) as EraseBody;
  assert.is(again.entries.format1 + again.entries.format2, 0, 'a second erasure finds nothing');
});

test('a subject under a legal hold: 409 naming the hold, nothing erased', async () => {
  const res = await erase(a.adminKey, { subject: HELD, reason: 'DSR ticket 4412' });
  assert.is(res.status, 409, await res.clone().text());
  const body = (await res.json()) as { error: { message: string } };
  assert.match(body.error.message, 'litigation 7');
  assert.is(await named(HELD), 1);
});

test('bad bodies: 400 naming the field', async () => {
  for (const [body, field] of [
    [{ reason: 'DSR ticket 1' }, 'subject'],
    [{ subject: SUBJECT }, 'reason'],
    [{ subject: SUBJECT, reason: 'DSR ticket 1', dryRun: 'yes' }, 'dryRun'],
    [{ subject: '', reason: 'DSR ticket 1' }, 'subject'],
  ] as const) {
    const res = await erase(a.adminKey, body);
    assert.is(res.status, 400, `${JSON.stringify(body)}: ${await res.clone().text()}`);
    assert.match(await res.text(), field);
  }
});

test('the object store down: 503 object_store_unavailable with Retry-After, nothing erased', async () => {
  await writeEntries(api.bulwark.ctx.prisma, a.id, [{ actorId: 'store-down@example.com', action: 'user:login' }]);
  store.proxy.block();
  try {
    const res = await erase(a.adminKey, { subject: 'store-down@example.com', reason: 'DSR ticket 4413' });
    assert.is(res.status, 503, await res.clone().text());
    assert.ok(res.headers.get('retry-after'), 'Retry-After');
    assert.match(await res.text(), 'object_store_unavailable');
  } finally {
    store.proxy.unblock();
  }
  assert.is(await named('store-down@example.com'), 1, 'nothing erased');
});

test('a process without ERASURE_SIGNING_KEY answers 503 erasure_unavailable', async () => {
  const bare = await startApi(store.env);
  try {
    const t = await bare.tenant('erase-bare');
    const res = await bare.call('POST', '/v1/subjects/erase', {
      key: t.adminKey,
      body: { subject: 'x', reason: 'DSR 1' },
    });
    assert.is(res.status, 503, await res.clone().text());
    assert.match(await res.text(), 'erasure_unavailable');
  } finally {
    await bare.close();
  }
});

test.run();
