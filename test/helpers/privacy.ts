/**
 * Subject export tests: a tenant seeded with entries, alerts and objects of a subject
 * (and of others, which must stay out), and a bundle downloaded through its presigned
 * link, unpacked and checked against its manifest.
 */
import { createHash, randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import * as assert from 'uvu/assert';
import { recordAuditEntriesInTx } from '../../lib/audit/record.js';
import type { PrismaClient } from '../../lib/clients/prisma.js';
import type { Storage } from '../../lib/clients/storage.js';
import type { AuditEntryInput } from '../../lib/contracts/audit.js';
import type { BundleManifest } from '../../lib/privacy/export-bundle.js';
import { readTar } from '../../lib/privacy/export-tar.js';
import { subjectObjectId } from '../../lib/privacy/subject-objects.js';
import { objectKey } from '../../lib/storage/keys.js';
import { superuserQuery } from './db.js';

export const SUBJECT = 'jane.doe+42@example.com';

/** Audit entries through the real append (chained), `batch` per transaction. Returns their eventIds. */
export async function writeEntries(
  prisma: PrismaClient,
  tenantId: string,
  entries: Array<Partial<AuditEntryInput>>,
  batch = 500,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < entries.length; i += batch) {
    const inputs = entries.slice(i, i + batch).map((e) => ({
      tenantId,
      actorType: 'user' as const,
      action: 'task:updated',
      resourceType: 'task',
      eventId: randomUUID(),
      ...e,
    })) as AuditEntryInput[];
    ids.push(...(await prisma.$transaction((tx) => recordAuditEntriesInTx(tx, inputs))));
  }
  return ids;
}

export interface Seeded {
  /** eventIds of the entries that name SUBJECT, in the order written (chain order). */
  matching: string[];
  /** eventIds of the entries that must stay out. */
  others: string[];
  alertIds: string[];
  /** The subject's objects: key → bytes. */
  objects: Map<string, Buffer>;
}

/**
 * Entries naming SUBJECT every way the rule knows (actor, resource, a string deep in
 * before/after/metadata), near misses that must not match (another case, a longer
 * string, a number, a key), two alerts about them and one about someone else, two
 * objects of theirs and one of someone else's.
 */
export async function seedSubject(prisma: PrismaClient, storage: Storage, tenantId: string, dbUrl: string) {
  const matching = await writeEntries(prisma, tenantId, [
    { actorId: SUBJECT, action: 'user:login', ip: '198.51.100.7', userAgent: 'Firefox' },
    { actorId: 'admin-1', resourceType: 'user', resourceId: SUBJECT, ip: '203.0.113.9', userAgent: 'curl' },
    { actorId: 'admin-1', metadata: { recipients: [{ to: SUBJECT }] } },
    { actorId: 'admin-1', after: { owner: SUBJECT }, before: { owner: 'someone-else' } },
  ]);
  const others = await writeEntries(prisma, tenantId, [
    { actorId: SUBJECT.toUpperCase() },
    { actorId: 'admin-1', metadata: { note: `${SUBJECT}.au` } },
    { actorId: 'admin-1', metadata: { [SUBJECT]: 'a key is not a value' } },
    { actorId: 'someone-else', resourceId: 'task-9', after: { n: 42 } },
  ]);
  const alertIds = [randomUUID(), randomUUID(), randomUUID()];
  const alerts: Array<[string, string | null, unknown]> = [
    [alertIds[0]!, SUBJECT, null],
    [alertIds[1]!, null, { user: { email: SUBJECT } }],
    [alertIds[2]!, 'someone-else', { team: 'ops' }],
  ];
  for (const [i, [id, user, labels]] of alerts.entries())
    await superuserQuery(
      dbUrl,
      `INSERT INTO alert_ledger (id, tenant_id, type, severity, title, labels, group_key, user_id, occurred_at, received_at, outcome)
       VALUES ($1, $2, 'login.failed', 'high', 'Failed logins', $3, 'g', $4, now(), now() + make_interval(secs => $5), 'delivered')`,
      [id, tenantId, labels === null ? null : JSON.stringify(labels), user, i],
    );
  const objects = new Map<string, Buffer>();
  const put = async (key: string, body: Buffer) => {
    await storage.client.putObject(storage.bucket, key, body, body.length);
    return key;
  };
  const at = new Date();
  for (const [cls, body] of [
    ['reports', Buffer.from('%PDF-1.4 the subject invoice')],
    ['snapshots/raw', Buffer.from([0xff, 0xd8, 0xff, 1, 2, 3])],
  ] as const) {
    const key = objectKey({ tenantId, class: cls, at, id: subjectObjectId(tenantId, SUBJECT) });
    objects.set(await put(key, body), body);
  }
  await put(
    objectKey({ tenantId, class: 'reports', at, id: subjectObjectId(tenantId, 'someone-else') }),
    Buffer.from('x'),
  );
  return { matching, others, alertIds: alertIds.slice(0, 2), objects } satisfies Seeded;
}

export interface Bundle {
  manifest: BundleManifest;
  /** Every member by path, the manifest included. */
  files: Map<string, Buffer>;
  paths: string[];
  /** NDJSON records of every member under `dir/`, in order. */
  lines(dir: string): Array<Record<string, unknown>>;
}

/**
 * GET the presigned link, unpack the .tgz, and check it against its manifest: the
 * manifest is the last member, lists every other member in order, and each one's
 * size and SHA-256 match.
 */
export async function downloadBundle(url: string): Promise<Bundle> {
  const res = await fetch(url);
  assert.is(res.status, 200, `GET of the presigned link: ${res.status}`);
  const members = readTar(gunzipSync(Buffer.from(await res.arrayBuffer())));
  const last = members.at(-1)!;
  assert.is(last.path, 'manifest.json', 'the manifest is written last');
  const manifest = JSON.parse(last.body.toString('utf8')) as BundleManifest;
  assert.equal(
    manifest.files.map((f) => f.path),
    members.slice(0, -1).map((m) => m.path),
    'the manifest lists every member, in order',
  );
  for (const [i, f] of manifest.files.entries()) {
    const body = members[i]!.body;
    assert.is(body.length, f.bytes, `${f.path}: size`);
    assert.is(createHash('sha256').update(body).digest('hex'), f.sha256, `${f.path}: sha256`);
  }
  const files = new Map(members.map((m) => [m.path, m.body]));
  return {
    manifest,
    files,
    paths: members.map((m) => m.path),
    lines: (dir) =>
      members
        .filter((m) => m.path.startsWith(`${dir}/`))
        .flatMap((m) => m.body.toString('utf8').split('\n').filter(Boolean))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
