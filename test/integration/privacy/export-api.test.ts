// POST /v1/subjects/export against a running Bulwark, the real Postgres and its own
// s3rver (behind a proxy that can cut it off): admin scope only, the key's tenant only,
// the bundle behind the link checked against its manifest, a subject holding quotes and
// backslashes matched exactly, the link's life (PRIVACY_EXPORT_LINK_SECONDS, checked by
// the store), bad bodies named, and the store down a 503 with Retry-After, nothing left.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createApiKey } from '../../../lib/apikeys/records.js';
import { exportSubject } from '../../../lib/privacy/export.js';
import { startApi, type ApiHarness } from '../../helpers/api.js';
import { superuserQuery } from '../../helpers/db.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { downloadBundle, seedSubject, SUBJECT, writeEntries, type Seeded } from '../../helpers/privacy.js';
import { listKeys, startRetentionStore, type RetentionStore } from '../../helpers/retention-store.js';

let api: ApiHarness;
let store: RetentionStore;
let a: { id: string; adminKey: string };
let b: { id: string; adminKey: string };
let readKey: string;
let seeded: Seeded;

interface ExportBody {
  export: { id: string; key: string; url: string; expiresAt: string; empty: boolean; counts: Record<string, number> };
}
const post = (key: string, body: unknown) => api.call('POST', '/v1/subjects/export', { key, body });

test.before(
  setup(async () => {
    store = await startRetentionStore();
    api = await startApi(store.env);
    a = await api.tenant('privacy-a');
    b = await api.tenant('privacy-b');
    readKey = (
      await createApiKey(
        api.bulwark.ctx.prisma,
        { tenantId: a.id, name: 'reader', scopes: ['audit:read'] },
        { type: 'user', id: 't' },
      )
    ).key;
    seeded = await seedSubject(api.bulwark.ctx.prisma, store.storage, a.id, api.db.url);
  }),
);
test.after(
  cleanup([
    ['close api', () => api?.close()],
    ['stop store', () => store?.stop()],
  ]),
);

test('201 with a link to a bundle whose manifest checks; the entry and the answer name the key', async () => {
  const res = await post(a.adminKey, { subject: SUBJECT });
  assert.is(res.status, 201, await res.clone().text());
  const { export: e } = (await res.json()) as ExportBody;
  assert.equal(e.counts, { auditEntries: 4, alerts: 2, objects: 2, objectBytes: 34 });
  assert.is(e.empty, false);
  const life = Date.parse(e.expiresAt) - Date.now();
  assert.ok(life > 890_000 && life <= 900_000, `the link lives 15 minutes by default (${life} ms)`);
  assert.match(e.url, 'X-Amz-Expires=900');
  const bundle = await downloadBundle(e.url);
  assert.equal(
    bundle.lines('audit-entries').map((x) => x.eventId),
    seeded.matching,
  );
  assert.equal(await listKeys(store.storage, `tenant/${a.id}/exports/`), [e.key]);
  const { rows } = await superuserQuery(
    api.db.url,
    `SELECT row_to_json(x)::text AS j FROM audit_entries x WHERE tenant_id = $1 AND action = 'privacy:subject-exported'`,
    [a.id],
  );
  assert.is(rows.length, 1);
  assert.match(rows[0].j, e.key);
  assert.match(rows[0].j, e.id);
  assert.is((rows[0].j as string).includes(SUBJECT), false, 'the entry does not hold the subject');
});

test("another tenant's key exports from its own tenant only; other scopes are 403", async () => {
  const res = await post(b.adminKey, { subject: SUBJECT });
  assert.is(res.status, 201);
  const { export: e } = (await res.json()) as ExportBody;
  assert.is(e.empty, true, "tenant b holds nothing of a's subject");
  assert.ok(e.key.startsWith(`tenant/${b.id}/exports/`));
  assert.is((await post(readKey, { subject: SUBJECT })).status, 403);
  const other = await post(a.adminKey, { subject: SUBJECT, tenantId: b.id });
  assert.is(other.status, 403);
  assert.match(await other.text(), 'tenant_mismatch');
});

test('a subject with quotes, backslashes and non-ASCII is matched exactly, as a value', async () => {
  const odd = 'O"Brien\\x ü $.** ? (@ == 1)';
  const [hit] = await writeEntries(api.bulwark.ctx.prisma, a.id, [{ actorId: 'admin-1', metadata: { name: odd } }]);
  await writeEntries(api.bulwark.ctx.prisma, a.id, [{ actorId: 'admin-1', metadata: { name: 'O"Brien' } }]);
  const res = await post(a.adminKey, { subject: odd });
  assert.is(res.status, 201, await res.clone().text());
  const { export: e } = (await res.json()) as ExportBody;
  assert.is(e.counts.auditEntries, 1);
  const bundle = await downloadBundle(e.url);
  assert.equal(
    bundle.lines('audit-entries').map((x) => x.eventId),
    [hit],
  );
  assert.is(bundle.manifest.subject, odd);
});

test('bad bodies are 400 naming the field; nothing is exported', async () => {
  const before = (await listKeys(store.storage, `tenant/${a.id}/exports/`)).length;
  for (const [body, path] of [
    [{}, 'subject'],
    [{ subject: 42 }, 'subject'],
    [{ subject: '' }, 'subject'],
    [{ subject: 'y'.repeat(256) }, 'subject'],
    [{ subject: 'tab\there' }, 'subject'],
    [{ subject: 'x', colour: 'red' }, 'colour'],
    [[SUBJECT], ''],
  ] as const) {
    const res = await post(a.adminKey, body);
    assert.is(res.status, 400, JSON.stringify(body));
    const err = (await res.json()) as { error: { code: string; fields: Array<{ path: string }> } };
    assert.is(err.error.code, 'validation_failed');
    assert.equal(
      err.error.fields.map((f) => f.path),
      [path],
    );
  }
  assert.is((await listKeys(store.storage, `tenant/${a.id}/exports/`)).length, before);
});

test('the store down is a 503 with Retry-After and leaves no bundle', async () => {
  const before = await listKeys(store.storage, `tenant/${a.id}/exports/`);
  store.proxy.block();
  try {
    const res = await post(a.adminKey, { subject: SUBJECT });
    assert.is(res.status, 503);
    assert.ok(res.headers.get('retry-after'));
    assert.match(await res.text(), 'object_store_unavailable');
  } finally {
    store.proxy.unblock();
  }
  assert.equal(await listKeys(store.storage, `tenant/${a.id}/exports/`), before);
});

test('a link past its life is refused by the store', async () => {
  const e = await exportSubject(
    {
      prisma: api.bulwark.ctx.prisma,
      storage: store.storage,
      databaseUrl: api.db.url,
      linkSeconds: 60,
      clock: () => new Date(Date.now() - 120_000),
    },
    { tenantId: a.id, subject: SUBJECT, actor: { type: 'user', id: 'test' } },
  );
  assert.is((await fetch(e.url)).status, 403, 'expired');
});

test.run();
