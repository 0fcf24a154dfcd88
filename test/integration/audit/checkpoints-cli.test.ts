// The checkpoint commands and the independent checks, against the real Postgres and
// s3rver: `audit verify --checkpoints` (exit codes, the lines naming tenant and
// checkpoint, an auditor's machine with only the public key), `audit checkpoints key`,
// the openssl recipe of docs/audit-checkpoints.md run as written, and
// scripts/verify-checkpoint.py.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SYSTEM_TENANT_ID } from '../../../lib/audit/record.js';
import { checkpointKey, hourOf } from '../../../lib/checkpoints/format.js';
import { readChainHeads, writeCheckpoints } from '../../../lib/checkpoints/write.js';
import { runCli } from '../../helpers/cli.js';
import { superuserQuery } from '../../helpers/db.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { objectBytes, startCheckpointHarness, type CheckpointHarness } from '../../helpers/checkpoints.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HOUR = 3_600_000;
let h: CheckpointHarness;
let dir: string;
let good: string;
let rewritten: string;
const NOW = Date.now();
/** Two hours before this one (at ten past), and now. */
const TIMES = [2, 1].map((k) => new Date(Math.floor(NOW / HOUR - k) * HOUR + 600_000)).concat(new Date(NOW));
const run = (args: string[], env: Record<string, string> = h.env) => runCli(['audit', ...args], env);

test.before(
  setup(async () => {
    h = await startCheckpointHarness({ tenants: 2, entries: 10, createdHoursAgo: 5 });
    [good, rewritten] = h.tenants as [string, string];
    for (const at of TIMES) {
      for (const t of h.tenants) await h.addEntries(t, 4);
      const heads = await readChainHeads(h.ctx.prisma);
      await writeCheckpoints(
        { storage: h.ctx.storage, pool: h.ctx.pg, signer: h.signer },
        { at: at.toISOString(), heads },
      );
    }
    // Rewritten as the database owner: every entry gone, then a new history through the writer.
    await superuserQuery(
      h.db.url,
      `SET session_replication_role = replica; DELETE FROM audit_log WHERE tenant_id = '${rewritten}'; DELETE FROM audit_personal_data WHERE tenant_id = '${rewritten}';
       UPDATE audit_chain_heads SET last_seq = 0, last_hash = '${'0'.repeat(64)}' WHERE tenant_id = '${rewritten}'`,
    );
    await h.addEntries(rewritten, 40);
    dir = mkdtempSync(join(tmpdir(), 'bulwark-cp-'));
  }),
);
test.after(
  cleanup([
    ['remove temp dir', () => dir && rmSync(dir, { recursive: true, force: true })],
    ['close harness', () => h?.close()],
  ]),
);

test('plain verify passes the rewritten chain; --checkpoints fails it, naming tenant and checkpoint', async () => {
  const plain = await run(['verify']);
  assert.is(plain.code, 0, plain.out + plain.err);
  const r = await run(['verify', '--checkpoints']);
  assert.is(r.code, 1, r.out + r.err);
  assert.ok(r.outLines.includes('all 3 chain(s) intact'), r.out);
  assert.ok(r.outLines.some((l) => l.startsWith(`ok      checkpoints of tenant ${good}: 3 checkpoint(s), 3 verified`)));
  assert.ok(r.outLines.some((l) => l.startsWith(`ok      checkpoints of tenant ${SYSTEM_TENANT_ID}: 3 checkpoint(s)`)));
  assert.ok(
    r.outLines.includes(
      `BAD     checkpoints of tenant ${rewritten}: 3 checkpoint(s), 0 verified against the chain, 3 problem(s)`,
    ),
    r.out,
  );
  const key = checkpointKey(rewritten, hourOf(TIMES[0]!));
  assert.ok(
    r.outLines.some(
      (l) => l.startsWith(`  rewritten: ${key}: entry seq `) && l.endsWith('the chain was rewritten since'),
    ),
    r.out,
  );
  assert.is(r.outLines.at(-1), 'checkpoints of 1 of 3 tenant(s) do not hold');
});

test("an auditor's machine with only the public key checks one tenant; --since narrows to a day", async () => {
  const { AUDIT_CHECKPOINT_KEY: _, ...env } = h.env;
  const auditor = { ...env, AUDIT_CHECKPOINT_PUBLIC_KEYS: h.signer.publicKey.raw.toString('base64url') };
  const r = await run(['verify', '--checkpoints', '--tenant', good], auditor);
  assert.is(r.code, 0, r.out + r.err);
  assert.is(r.outLines.at(-1), `all 3 checkpoint(s) of 1 tenant(s) hold (hours since ${hourOf(TIMES[0]!)})`);
  const day = hourOf(TIMES[2]!).slice(0, 10);
  const since = await run(['verify', '--checkpoints', '--tenant', good, '--since', day], auditor);
  assert.is(since.code, 0, since.out);
  const n = TIMES.filter((t) => hourOf(t).slice(0, 10) >= day).length;
  assert.ok(
    since.outLines.some((l) => l.includes(`${good}: ${n} checkpoint(s), ${n} verified`)),
    since.out,
  );
});

test('bad usage and missing keys are exit 2, naming what is wrong', async () => {
  const since = await run(['verify', '--since', '2026-12-01']);
  assert.is(since.code, 2);
  assert.match(since.err, '--since goes with --checkpoints');
  const day = await run(['verify', '--checkpoints', '--since', '2026-02-30']);
  assert.is(day.code, 2);
  assert.match(day.err, '--since: must be a UTC day');
  const { AUDIT_CHECKPOINT_KEY: _, ...env } = h.env;
  const none = await run(['verify', '--checkpoints'], env);
  assert.is(none.code, 2);
  assert.match(none.err, 'AUDIT_CHECKPOINT_KEY');
  const key = await run(['checkpoints', 'key'], env);
  assert.is(key.code, 2);
  assert.match(key.err, 'AUDIT_CHECKPOINT_KEY: is not set');
});

test('an empty store is NO CHECKPOINTS and exit 1', async () => {
  const empty = h.context({ env: { S3_BUCKET: `e-${Math.random().toString(36).slice(2, 10)}` } });
  await empty.storage.client.makeBucket(empty.storage.bucket, 'us-east-1');
  const r = await run(['verify', '--checkpoints'], { ...h.env, S3_BUCKET: empty.storage.bucket });
  assert.is(r.code, 1);
  assert.ok(
    r.outLines.some((l) => l.startsWith('NO CHECKPOINTS')),
    r.out,
  );
});

/** The checkpoint of `tenant` at TIMES[i], saved under `dir` at its store key; returns its path. */
async function download(tenant: string, i: number, as = checkpointKey(tenant, hourOf(TIMES[i]!))): Promise<string> {
  const path = join(dir, as);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, await objectBytes(h.ctx.storage, checkpointKey(tenant, hourOf(TIMES[i]!))));
  return path;
}

/** The openssl block of docs/audit-checkpoints.md, as written. */
function opensslRecipe(): string {
  const doc = readFileSync(join(ROOT, 'docs/audit-checkpoints.md'), 'utf8');
  const m = /<!-- checkpoint-openssl[^>]*-->\n```sh\n([\s\S]*?)```/.exec(doc);
  assert.ok(m, 'docs/audit-checkpoints.md has the marked openssl block');
  return m![1]!;
}

test("the docs' openssl recipe verifies a checkpoint with the key `audit checkpoints key` prints, and refuses an altered one", async () => {
  const key = await run(['checkpoints', 'key']);
  assert.is(key.code, 0, key.err);
  assert.match(key.out, /^-----BEGIN PUBLIC KEY-----\n.+\n-----END PUBLIC KEY-----$/);
  assert.match(key.err, `key id ${h.signer.publicKey.id}`);
  const work = mkdtempSync(join(dir, 'openssl-'));
  writeFileSync(join(work, 'checkpoint-key.pem'), `${key.out}\n`);
  const recipe = opensslRecipe();
  const check = (body: Buffer) => {
    writeFileSync(join(work, 'checkpoint.json'), body);
    return spawnSync('bash', ['-euo', 'pipefail', '-c', recipe], { cwd: work, encoding: 'utf8' });
  };
  const body = readFileSync(await download(good, 1));
  const ok = check(body);
  assert.is(ok.status, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, 'Signature Verified Successfully');
  const altered = JSON.parse(body.toString()) as Record<string, string>;
  altered.seq = String(Number(altered.seq) + 1);
  const bad = check(Buffer.from(JSON.stringify(altered)));
  assert.is.not(bad.status, 0);
  assert.match(bad.stdout + bad.stderr, 'Signature Verification Failure');
});

test('scripts/verify-checkpoint.py: ok for genuine checkpoints, BAD for an altered one and for one copied to another hour', async () => {
  const pem = join(dir, 'key.pem');
  writeFileSync(pem, (await run(['checkpoints', 'key'])).out);
  const genuine = [await download(good, 0), await download(good, 2), await download(SYSTEM_TENANT_ID, 1)];
  const py = (files: string[]) =>
    spawnSync('python3', [join(ROOT, 'scripts/verify-checkpoint.py'), '--public-key', pem, ...files], {
      encoding: 'utf8',
    });
  const ok = py(genuine);
  assert.is(ok.status, 0, ok.stdout + ok.stderr);
  assert.is(
    ok.stdout
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('ok   ')).length,
    3,
  );
  const altered = join(dir, 'altered.json');
  const doc = JSON.parse(readFileSync(genuine[0]!, 'utf8')) as Record<string, string>;
  writeFileSync(altered, JSON.stringify({ ...doc, hash: 'f'.repeat(64) }));
  const copied = await download(good, 0, checkpointKey(good, hourOf(new Date(TIMES[0]!.getTime() - HOUR))));
  const bad = py([genuine[1]!, altered, copied]);
  assert.is(bad.status, 1, bad.stdout + bad.stderr);
  const lines = bad.stdout.trim().split('\n');
  assert.match(lines[0]!, /^ok   /);
  assert.match(lines[1]!, /^BAD  .*altered\.json: the signature does not verify/);
  assert.match(lines[2]!, /^BAD  .*: signed for tenant .* but stored at another key/);
});

test.run();
