// `bulwark subject export` against the real Postgres and a real S3 server (s3rver behind
// a proxy that can cut it off): the bundle downloaded through its presigned link and
// checked against its manifest's SHA-256s, exactly the subject's entries, alerts and
// objects in it (near misses left out, another actor's ip and user agent withheld); one
// privacy:subject-exported entry without the subject in it; a subject with no data; bad
// input; the store unreachable (exit 1, nothing visible); a large export in several
// NDJSON members with a progress bar on a terminal.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createPrisma, type PrismaClient } from '../../../lib/clients/prisma.js';
import { generateFernetKey } from '../../../lib/crypto/fernet.js';
import { openMultipart } from '../../../lib/privacy/export-upload.js';
import { createCliTenant, runCli } from '../../helpers/cli.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { downloadBundle, seedSubject, SUBJECT, writeEntries, type Seeded } from '../../helpers/privacy.js';
import { listKeys, startRetentionStore, type RetentionStore } from '../../helpers/retention-store.js';

let db: TestDatabase;
let store: RetentionStore;
let prisma: PrismaClient;
let tenant: string;
let seeded: Seeded;
const MASTER_KEYS = `k1:${generateFernetKey()}`;
const env = () => ({ DATABASE_URL: db.url, MASTER_KEYS, LOG_LEVEL: 'warn', ...store.env });
const run = (args: string[], isTTY = false) => runCli(args, env(), { isTTY });
const exportsOf = (t: string) => listKeys(store.storage, `tenant/${t}/exports/`);
const exportedEntries = async (t: string) =>
  (
    await superuserQuery(
      db.url,
      `SELECT row_to_json(a)::text AS j, a.metadata FROM audit_entries a
        WHERE tenant_id = $1 AND action = 'privacy:subject-exported' ORDER BY seq`,
      [t],
    )
  ).rows as Array<{ j: string; metadata: Record<string, unknown> }>;

test.before(
  setup(async () => {
    db = await createTestDatabase();
    store = await startRetentionStore();
    prisma = createPrisma({ databaseUrl: db.url }, { max: 2 });
    tenant = await createCliTenant(run, 'subject-cli');
    seeded = await seedSubject(prisma, store.storage, tenant, db.url);
  }),
);
test.after(
  cleanup([
    ['disconnect prisma', () => prisma?.$disconnect()],
    ['stop store', () => store?.stop()],
    ['drop database', () => db?.drop()],
  ]),
);

test('the bundle behind the printed link holds exactly the subject, its manifest checksums match', async () => {
  const r = await run(['subject', 'export', '--tenant', tenant, '--subject', SUBJECT]);
  assert.is(r.code, 0, r.err);
  assert.is(r.outLines.length, 1, 'the link alone on stdout');
  assert.match(r.err, /exported 4 audit entries, 2 alert\(s\), 2 object\(s\)/);
  const b = await downloadBundle(r.out);
  assert.equal(b.manifest.counts, { auditEntries: 4, alerts: 2, objects: 2, objectBytes: 34 });
  assert.is(b.manifest.empty, false);
  assert.is(b.manifest.subject, SUBJECT);
  const entries = b.lines('audit-entries');
  assert.equal(
    entries.map((e) => e.eventId),
    seeded.matching,
    'the matching entries, in chain order, none of the near misses',
  );
  assert.equal(
    entries.map((e) => e.matchedBy),
    [['actor'], ['resource'], ['data'], ['data']],
  );
  assert.is(entries[0]!.ip, '198.51.100.7', "the subject's own address");
  assert.is(entries[1]!.ip, null, "another actor's address is withheld");
  assert.equal(entries[1]!.withheld, ['ip', 'userAgent']);
  assert.equal(
    b.lines('alerts').map((a) => a.id),
    seeded.alertIds,
  );
  const index = (b.files.get('objects.ndjson')!.toString().trim().split('\n') ?? []).map(
    (l) => JSON.parse(l) as { key: string; path: string },
  );
  assert.equal(index.map((o) => o.key).sort(), [...seeded.objects.keys()].sort());
  for (const o of index) assert.equal(b.files.get(o.path), seeded.objects.get(o.key), o.key);
  assert.equal(b.manifest.files.find((f) => f.path === 'audit-entries/00001.ndjson')?.records, 4);

  const [bundleKey] = await exportsOf(tenant);
  assert.match(bundleKey!, new RegExp(`^tenant/${tenant}/exports/\\d{4}-\\d{2}-\\d{2}/[0-9a-f-]{36}\\.tgz$`));
  assert.is(r.out.includes(SUBJECT), false, 'the link does not carry the subject');
});

test('one privacy:subject-exported entry holds the key and counts, never the subject', async () => {
  const rows = await exportedEntries(tenant);
  assert.is(rows.length, 1);
  const [key] = await exportsOf(tenant);
  const m = rows[0]!.metadata;
  assert.is(m.key, key);
  assert.is(m.auditEntries, 4);
  assert.is(m.alerts, 2);
  assert.is(m.objects, 2);
  assert.match(String(m.sha256), /^[0-9a-f]{64}$/);
  for (const needle of [SUBJECT, SUBJECT.toLowerCase(), 'jane.doe', encodeURIComponent(SUBJECT)])
    assert.is(rows[0]!.j.includes(needle), false, `the entry holds ${needle}`);
});

test('a subject with no data: exit 0, an empty bundle with zero counts, said on stderr', async () => {
  const r = await run(['subject', 'export', '--tenant', tenant, '--subject', 'nobody-here']);
  assert.is(r.code, 0, r.err);
  assert.match(r.err, /no data found for the subject: the bundle holds 0 audit entries, 0 alerts and 0 objects/);
  const b = await downloadBundle(r.out);
  assert.is(b.manifest.empty, true);
  assert.equal(b.manifest.counts, { auditEntries: 0, alerts: 0, objects: 0, objectBytes: 0 });
  assert.equal(b.paths, ['audit-entries/00001.ndjson', 'alerts/00001.ndjson', 'objects.ndjson', 'manifest.json']);
});

test('--subject - reads the subject from stdin; --json prints the whole answer', async () => {
  const { Readable } = await import('node:stream');
  const r = await runCli(['subject', 'export', '--tenant', tenant, '--subject', '-', '--json'], env(), {
    stdin: Readable.from([Buffer.from(`${SUBJECT}\n`)]),
  });
  assert.is(r.code, 0, r.err);
  const answer = JSON.parse(r.out) as { counts: { auditEntries: number }; url: string; key: string };
  assert.is(answer.counts.auditEntries, 4);
  assert.is((await downloadBundle(answer.url)).manifest.subject, SUBJECT);
});

test('bad input: unknown tenant, malformed tenant, and subjects out of bounds are refused by name', async () => {
  const unknown = await run([
    'subject',
    'export',
    '--tenant',
    '5b1e8f4a-1c2d-4e5f-8a9b-0c1d2e3f4a5b',
    '--subject',
    'x',
  ]);
  assert.is(unknown.code, 1);
  assert.match(unknown.err, 'no tenant with id 5b1e8f4a-1c2d-4e5f-8a9b-0c1d2e3f4a5b (--tenant)');
  const malformed = await run(['subject', 'export', '--tenant', 'acme', '--subject', 'x']);
  assert.is(malformed.code, 2);
  const missing = await run(['subject', 'export', '--tenant', tenant]);
  assert.is(missing.code, 2);
  assert.match(missing.err, '--subject is required');
  for (const [subject, why] of [
    ['', 'must not be empty'],
    ['x'.repeat(256), 'must be at most 255 characters'],
    ['a\u0000b', 'must not contain control characters'],
    ['line\nbreak', 'must not contain control characters'],
    [' padded', 'must not begin or end with whitespace'],
    ['\ud800x', 'must not contain unpaired surrogates'],
  ] as const) {
    const r = await run(['subject', 'export', '--tenant', tenant, `--subject=${subject}`]);
    assert.is(r.code, 2, JSON.stringify(subject));
    assert.match(r.err, `subject: ${why}`);
  }
  assert.is((await exportedEntries(tenant)).length, 3, 'nothing more was exported');
});

test('the store unreachable: exit 1 naming S3_ENDPOINT, no bundle and no audit entry', async () => {
  const before = (await exportsOf(tenant)).length;
  store.proxy.block();
  try {
    const r = await run(['subject', 'export', '--tenant', tenant, '--subject', SUBJECT]);
    assert.is(r.code, 1);
    assert.match(r.err, /object store at http:\/\/127\.0\.0\.1:\d+ \(S3_ENDPOINT\)/);
    assert.is(r.out, '');
  } finally {
    store.proxy.unblock();
  }
  assert.is((await exportsOf(tenant)).length, before);
  assert.is((await exportedEntries(tenant)).length, 3);
});

test('an upload given up after a part was sent leaves nothing under its key', async () => {
  const key = `tenant/${tenant}/exports/2026-12-08/00000000-0000-4000-8000-00000000abcd.tgz`;
  const sink = await openMultipart(store.storage, key, { contentType: 'application/gzip', partBytes: 5 * 1024 * 1024 });
  await sink.write(Buffer.alloc(6 * 1024 * 1024, 1)); // one part uploaded
  await sink.abort();
  assert.equal(await listKeys(store.storage, key), []);
});

test('a large export streams in several NDJSON members; a terminal shows a progress bar', async () => {
  const big = await createCliTenant(run, 'subject-cli-big');
  const n = 12_000;
  const padding = 'p'.repeat(300);
  await writeEntries(
    prisma,
    big,
    Array.from({ length: n }, (_, i) => ({ actorId: SUBJECT, resourceId: `task-${i}`, metadata: { padding } })),
    1000,
  );
  const r = await run(['subject', 'export', '--tenant', big, '--subject', SUBJECT], true);
  assert.is(r.code, 0, r.err);
  assert.match(r.progress, /exporting \[#{30}\] 100% \(12000\/12000\)/);
  const b = await downloadBundle(r.out);
  assert.is(b.manifest.counts.auditEntries, n);
  const members = b.paths.filter((p) => p.startsWith('audit-entries/'));
  assert.ok(members.length >= 2, `${members.length} member(s)`);
  assert.is(
    b.manifest.files.filter((f) => f.path.startsWith('audit-entries/')).reduce((s, f) => s + (f.records ?? 0), 0),
    n,
  );
  const seqs = b.lines('audit-entries').map((e) => Number(e.seq));
  assert.ok(
    seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
    'chain order',
  );
});

test.run();
