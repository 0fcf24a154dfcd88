/**
 * bench:backup's floors: the work a backup and a restore cannot do without, done with
 * raw parts only (pg_dump, age, pg_restore, createdb, the minio client, node-postgres
 * and node:crypto), nothing of Bulwark's code, so that Bulwark's figures can be set
 * beside what the required parts alone reach on the same machine in the same run.
 *
 * - Backup floor: `pg_dump -Fc | age --encrypt` (one shell pipeline, one age process)
 *   cut into part objects of 16 MiB uploaded with putObject, one upload in flight while
 *   the next part fills (s3rver has no ListMultipartUploads, so Bulwark uploads part
 *   objects the same way). No hashes, no manifest, no facts read.
 * - Restore floor: createdb, the part objects downloaded in order into one
 *   `age --decrypt | pg_restore --single-transaction --exit-on-error` pipeline, then the
 *   post-restore checks the cheapest raw way: every public table's count(*) in one
 *   statement against the source's counts, and one walk of every audit chain through a
 *   server-side cursor (numbering, link, content hash of the canonical form, personal
 *   data digest, chain head). The walk handles no gap or erasure records (the generated
 *   database has none; it refuses one that has).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Client as MinioClient } from 'minio';
import pg from 'pg';

const PART = 16 * 1024 * 1024;
const GENESIS = '0'.repeat(64);

function libpq(url: string): Record<string, string> {
  const u = new URL(url);
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    PGHOST: u.hostname,
    PGPORT: u.port || '5432',
    PGUSER: decodeURIComponent(u.username),
    PGPASSWORD: decodeURIComponent(u.password),
    PGDATABASE: decodeURIComponent(u.pathname.slice(1)),
  };
}

function exited(child: ReturnType<typeof spawn>, what: string, stderr: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${what} exited ${code}: ${stderr()}`))));
  });
}

function sh(script: string, env: Record<string, string>, stdin: 'pipe' | 'ignore') {
  const child = spawn('sh', ['-c', script], { env, stdio: [stdin, 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
  return { child, done: exited(child, 'sh', () => err) };
}

/** The backup floor: seconds, ciphertext bytes and the part keys uploaded. */
export async function floorBackup(
  url: string,
  s3: { client: MinioClient; bucket: string; prefix: string },
  recipient: string,
): Promise<{ seconds: number; bytes: number; keys: string[] }> {
  const t = performance.now();
  // dash has no pipefail: pg_dump's status goes to stderr's tail as a marker instead.
  const p = sh(
    '{ pg_dump -Fc --no-password; s=$?; [ $s -eq 0 ] || echo "pg_dump exited $s" >&2; } | age --encrypt --recipient "$R"',
    { ...libpq(url), R: recipient },
    'ignore',
  );
  let stderr = '';
  p.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const keys: string[] = [];
  let buf: Buffer[] = [];
  let size = 0;
  let bytes = 0;
  let uploading: Promise<unknown> = Promise.resolve();
  const flush = async () => {
    const body = Buffer.concat(buf, size);
    buf = [];
    size = 0;
    await uploading;
    const key = `${s3.prefix}/part-${String(keys.length + 1).padStart(5, '0')}`;
    keys.push(key);
    bytes += body.length;
    uploading = s3.client.putObject(s3.bucket, key, body, body.length);
    uploading.catch(() => undefined);
  };
  for await (const chunk of p.child.stdout as AsyncIterable<Buffer>) {
    let off = 0;
    while (off < chunk.length) {
      const take = Math.min(PART - size, chunk.length - off);
      buf.push(chunk.subarray(off, off + take));
      size += take;
      off += take;
      if (size === PART) await flush();
    }
  }
  if (size > 0 || keys.length === 0) await flush();
  await uploading;
  await p.done;
  if (/pg_dump exited/.test(stderr)) throw new Error(stderr);
  return { seconds: (performance.now() - t) / 1000, bytes, keys };
}

/** Every public table's row count, in one statement. */
export async function rowCounts(client: pg.Client): Promise<Record<string, number>> {
  const names = (
    await client.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)
  ).rows.map((r) => r.t);
  const sql = `SELECT ${names.map((n, i) => `(SELECT count(*) FROM ${pg.escapeIdentifier(n)})::int AS c${i}`).join(', ')}`;
  const row = (await client.query<Record<string, number>>(sql)).rows[0]!;
  return Object.fromEntries(names.map((n, i) => [n, row[`c${i}`]!]));
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
/** RFC 8785 for the JSON entries hold: keys sorted by UTF-16 code units, no white space. */
function canon(v: Json): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  let out = '{';
  for (const k of Object.keys(v).sort()) out += `${out.length === 1 ? '' : ','}${JSON.stringify(k)}:${canon(v[k]!)}`;
  return `${out}}`;
}
const S = JSON.stringify;
const T = (v: string | null) => (v === null ? 'null' : JSON.stringify(v));
const J = (v: Json) => (v === null ? 'null' : canon(v));
const PD = [
  'actor_id',
  'after_state',
  'before_state',
  'ip',
  'metadata',
  'reason',
  'request_id',
  'resource_id',
  'user_agent',
];
const PD_JSON = new Set(['after_state', 'before_state', 'metadata']);
interface Row {
  seq: string;
  tenant_id: string;
  event_id: string;
  occurred_at: string;
  recorded_at: string;
  actor_type: string;
  actor_id: string | null;
  action: string;
  resource_type: string;
  resource_id: string | null;
  before_state: Json;
  after_state: Json;
  metadata: Json;
  reason: string | null;
  confidence: string | null;
  request_id: string | null;
  ip: string | null;
  user_agent: string | null;
  severity: string | null;
  prev_hash: string;
  hash: string;
  format: number;
  pd_digest: string | null;
  p_salt: string | null;
  [personal: `p_${string}`]: Json;
}
const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/**
 * Walk every audit chain once (docs/jobs/audit-write.md § Canonical serialisation):
 * returns the entries walked; throws at the first problem.
 */
export async function walkChains(client: pg.Client): Promise<number> {
  const extra = await client.query<{ n: number }>(
    'SELECT ((SELECT count(*) FROM audit_chain_gaps) + (SELECT count(*) FROM audit_erasures))::int AS n',
  );
  if (extra.rows[0]!.n > 0) throw new Error('the floor walk handles no gap or erasure records');
  const heads = new Map(
    (
      await client.query<{ t: string; seq: string; hash: string }>(
        'SELECT tenant_id::text AS t, last_seq::text AS seq, last_hash AS hash FROM audit_chain_heads',
      )
    ).rows.map((h) => [h.t, h]),
  );
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
  await client.query(`DECLARE walk NO SCROLL CURSOR FOR
    SELECT a.seq::text AS seq, a.tenant_id::text AS tenant_id, a.event_id,
           to_char(a.occurred_at AT TIME ZONE 'UTC', ${ISO}) AS occurred_at,
           to_char(a.recorded_at AT TIME ZONE 'UTC', ${ISO}) AS recorded_at,
           a.actor_type, a.actor_id, a.action, a.resource_type, a.resource_id, a.before_state, a.after_state,
           a.metadata, a.reason, a.confidence::text AS confidence, a.request_id, a.ip, a.user_agent, a.severity,
           a.prev_hash, a.hash, a.format::int AS format, a.pd_digest, p.salt AS p_salt,
           ${PD.map((c) => `p.${c} AS p_${c}`).join(', ')}
      FROM audit_log a LEFT JOIN audit_personal_data p ON p.tenant_id = a.tenant_id AND p.seq = a.seq
     ORDER BY a.tenant_id, a.seq`);
  let tenant = '';
  let expected = 0n;
  let prev = GENESIS;
  let n = 0;
  const seen = new Set<string>();
  const endChain = () => {
    if (!tenant) return;
    const h = heads.get(tenant);
    if (!h || h.seq !== String(expected - 1n) || h.hash !== prev) throw new Error(`chain head of ${tenant}`);
  };
  try {
    for (;;) {
      const { rows } = await client.query<Row>('FETCH 10000 FROM walk');
      for (const r of rows) {
        if (r.tenant_id !== tenant) {
          endChain();
          tenant = r.tenant_id;
          seen.add(tenant);
          expected = 1n;
          prev = GENESIS;
        }
        if (r.seq !== String(expected)) throw new Error(`numbering at ${tenant}:${r.seq}`);
        if (r.prev_hash !== prev) throw new Error(`link at ${tenant}:${r.seq}`);
        const format = r.format;
        const text =
          `{"action":${S(r.action)},"actor_id":${T(r.actor_id)},"actor_type":${S(r.actor_type)}` +
          `,"after_state":${J(r.after_state)},"before_state":${J(r.before_state)},"confidence":${T(r.confidence)}` +
          `,"event_id":${S(r.event_id)},"ip":${T(r.ip)},"metadata":${J(r.metadata)},"occurred_at":${S(r.occurred_at)}` +
          (format === 2 ? `,"pd_digest":${T(r.pd_digest)}` : '') +
          `,"reason":${T(r.reason)},"recorded_at":${S(r.recorded_at)},"request_id":${T(r.request_id)}` +
          `,"resource_id":${T(r.resource_id)},"resource_type":${S(r.resource_type)},"seq":${S(r.seq)}` +
          `,"severity":${T(r.severity)},"tenant_id":${S(r.tenant_id)},"user_agent":${T(r.user_agent)},"v":${format}}`;
        const hash = createHash('sha256').update(text, 'utf8').update(prev, 'ascii').digest('hex');
        if (hash !== r.hash) throw new Error(`content at ${tenant}:${r.seq}`);
        if (r.p_salt !== null) {
          const d = createHash('sha256');
          PD.forEach((c, i) => {
            const v = r[`p_${c}`] ?? null;
            d.update(
              `${i ? ',' : '{'}"${c}":${v === null ? 'null' : PD_JSON.has(c) ? canon(v) : S(v as string)}`,
              'utf8',
            );
          });
          if (d.update('}', 'utf8').update(r.p_salt, 'ascii').digest('hex') !== r.pd_digest)
            throw new Error(`personal data at ${tenant}:${r.seq}`);
        } else if (format === 2 && r.pd_digest !== null) throw new Error(`personal data missing at ${tenant}:${r.seq}`);
        prev = r.hash;
        expected++;
        n++;
      }
      if (rows.length < 10000) break;
    }
    endChain();
    for (const t of heads.keys()) if (!seen.has(t) && heads.get(t)!.seq !== '0') throw new Error(`no entries: ${t}`);
  } finally {
    await client.query('COMMIT').catch(() => undefined);
  }
  return n;
}

/** The restore floor: seconds in all, seconds until the data was in, entries walked. */
export async function floorRestore(
  adminUrl: string,
  name: string,
  s3: { client: MinioClient; bucket: string; keys: readonly string[] },
  identity: string,
  expected: Record<string, number>,
): Promise<{ seconds: number; loadSeconds: number; entries: number }> {
  const t = performance.now();
  const env = { ...libpq(adminUrl), PGDATABASE: name };
  await sh('createdb --no-password "$PGDATABASE"', env, 'ignore').done;
  // The identity reaches age through a here-document (a pipe), as no file or argument.
  const p = sh(
    'ids=$ID; unset ID; age --decrypt --identity /dev/fd/3 3<<EOF | pg_restore --no-password --single-transaction --exit-on-error --dbname="$PGDATABASE"\n$ids\nEOF\n',
    { ...env, ID: identity },
    'pipe',
  );
  p.child.stdin!.on('error', () => undefined);
  // One download ahead of the one being written.
  const get = async (key: string) => {
    const chunks: Buffer[] = [];
    for await (const c of await s3.client.getObject(s3.bucket, key)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };
  let next = s3.keys[0] ? get(s3.keys[0]) : undefined;
  for (let i = 0; i < s3.keys.length; i++) {
    const body = await next!;
    next = s3.keys[i + 1] ? get(s3.keys[i + 1]!) : undefined;
    if (!p.child.stdin!.write(body)) await Promise.race([new Promise((r) => p.child.stdin!.once('drain', r)), p.done]);
  }
  p.child.stdin!.end();
  await p.done;
  const loadSeconds = (performance.now() - t) / 1000;
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  try {
    const counts = await rowCounts(client);
    const all = new Set([...Object.keys(counts), ...Object.keys(expected)]);
    for (const k of all) if (counts[k] !== expected[k]) throw new Error(`rows of ${k}: ${counts[k]} vs ${expected[k]}`);
    const entries = await walkChains(client);
    return { seconds: (performance.now() - t) / 1000, loadSeconds, entries };
  } finally {
    await client.end();
  }
}
