// `verify --checkpoints` against the real Postgres and s3rver. Seven hours of signed
// checkpoints are written for six tenants, entries added between the hours; then each
// tenant is tampered with in its own way. The chains all pass plain verify (a chain
// rewritten and rehashed, or cut back, is consistent in itself); the checkpoints catch
// the rewrite and the cut naming tenant and checkpoint, report an altered checkpoint,
// one signed with another key, a forged key id, deleted hours, a copied checkpoint and
// checkpoints of a tenant the database lost, and account for a retention purge.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes, randomUUID } from 'node:crypto';
import { verifyChains, type VerifyReport } from '../../../lib/audit/verify.js';
import { ensureBuckets } from '../../../lib/clients/storage.js';
import { checkpointKey, decodeCheckpoint, encodeCheckpoint, hourOf } from '../../../lib/checkpoints/format.js';
import { generateSigningKey, parseSigningKey } from '../../../lib/checkpoints/keys.js';
import { verifyWithCheckpoints, type CheckpointReport } from '../../../lib/checkpoints/verify.js';
import { readChainHeads, writeCheckpoints } from '../../../lib/checkpoints/write.js';
import { runTenantRetention } from '../../../lib/retention/run.js';
import { superuserQuery } from '../../helpers/db.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { daysAgo, entryAt, seedEntries } from '../../helpers/retention.js';
import { objectBytes, putBytes, startCheckpointHarness, type CheckpointHarness } from '../../helpers/checkpoints.js';

let h: CheckpointHarness;
let report: { chains: VerifyReport; checkpoints: CheckpointReport };
let plainOk: boolean;
const NOW = new Date();
const HOUR = 3_600_000;
/** Hours 6 … 1 before this one (at ten past) and this one (now). */
const TIMES = [6, 5, 4, 3, 2, 1]
  .map((k) => new Date(Math.floor(NOW.getTime() / HOUR - k) * HOUR + 600_000))
  .concat(NOW);
const HOURS = TIMES.map(hourOf);
const [OK, REWRITE, CUT, SIGS, GONE, PURGE, FORGED] = [0, 1, 2, 3, 4, 5, 6];
const ORPHAN = randomUUID();
const key = (t: number, hour: number) => checkpointKey(h.tenants[t]!, HOURS[hour]!);
const of = (t: number) => report.checkpoints.tenants.find((x) => x.tenantId === h.tenants[t])!;
/** Seq of tenant t's checkpoint at hour index i, as written. */
const seqAt: number[][] = [];

test.before(
  setup(async () => {
    h = await startCheckpointHarness({ tenants: 7, entries: 0, createdHoursAgo: 10 });
    for (let i = 0; i < TIMES.length; i++) {
      for (let t = 0; t < 7; t++) {
        if (t === PURGE && i < 2) await seedEntries(h.ctx.prisma, 20, () => entryAt(h.tenants[t]!, daysAgo(200)));
        else await h.addEntries(h.tenants[t]!, 3 + t);
      }
      const heads = await readChainHeads(h.ctx.prisma);
      heads.forEach((x) => ((seqAt[h.tenants.indexOf(x.tenantId)] ??= [])[i] = Number(x.seq)));
      await writeCheckpoints(
        { storage: h.ctx.storage, pool: h.ctx.pg, signer: h.signer },
        { at: TIMES[i]!.toISOString(), heads },
      );
    }
    await tamper();
    plainOk = (await verifyChains(h.ctx.prisma)).ok;
    report = await verifyWithCheckpoints({
      prisma: h.ctx.prisma,
      storage: h.ctx.storage,
      keys: [h.signer.publicKey],
      cron: '0 * * * *',
      now: NOW,
    });
  }),
);
test.after(cleanup([['close harness', () => h?.close()]]));

async function asOwner(sql: string): Promise<void> {
  await superuserQuery(h.db.url, `SET session_replication_role = replica; ${sql}`);
}

async function tamper(): Promise<void> {
  // REWRITE: every entry removed and the head reset, then a new history appended
  // through the normal writer: a chain consistent in itself, from seq 1.
  const t = h.tenants[REWRITE]!;
  await asOwner(
    `DELETE FROM audit_log WHERE tenant_id = '${t}'; DELETE FROM audit_personal_data WHERE tenant_id = '${t}'; UPDATE audit_chain_heads SET last_seq = 0, last_hash = '${'0'.repeat(64)}' WHERE tenant_id = '${t}'`,
  );
  await h.addEntries(t, seqAt[REWRITE]![6]! + 5);
  // CUT: the entries after hour 3's checkpoint removed, the head moved back onto it.
  const c = h.tenants[CUT]!;
  const cut = seqAt[CUT]![3]!;
  await asOwner(
    `DELETE FROM audit_log WHERE tenant_id = '${c}' AND seq > ${cut};
     DELETE FROM audit_personal_data WHERE tenant_id = '${c}' AND seq > ${cut};
     UPDATE audit_chain_heads SET last_seq = ${cut}, last_hash = (SELECT hash FROM audit_log WHERE tenant_id = '${c}' AND seq = ${cut}) WHERE tenant_id = '${c}'`,
  );
  // SIGS: hour 1 altered (another hash, same signature); hour 2 signed with another key;
  // hour 3 signed with another key under our key's id.
  const altered = JSON.parse((await objectBytes(h.ctx.storage, key(SIGS, 1))).toString()) as Record<string, string>;
  altered.hash = randomBytes(32).toString('hex');
  await putBytes(h.ctx.storage, key(SIGS, 1), Buffer.from(JSON.stringify(altered)));
  const other = parseSigningKey(generateSigningKey());
  const fields = (i: number) => ({
    tenantId: h.tenants[SIGS]!,
    hour: HOURS[i]!,
    seq: String(seqAt[SIGS]![i]),
    hash: randomBytes(32).toString('hex'),
    at: TIMES[i]!.toISOString(),
  });
  await putBytes(h.ctx.storage, key(SIGS, 2), encodeCheckpoint(fields(2), other));
  const forged = JSON.parse(encodeCheckpoint(fields(3), other).toString()) as Record<string, string>;
  forged.keyId = h.signer.publicKey.id;
  await putBytes(h.ctx.storage, key(SIGS, 3), Buffer.from(JSON.stringify(forged)));
  // GONE: hours 2 and 3 deleted; hour 5's checkpoint copied over a deleted hour 4.
  for (const i of [2, 3, 4]) await h.ctx.storage.client.removeObject(h.ctx.storage.bucket, key(GONE, i));
  await putBytes(h.ctx.storage, key(GONE, 4), await objectBytes(h.ctx.storage, key(GONE, 5)));
  // PURGE: the old entries (before hours 0 and 1) purged by retention.
  await runTenantRetention(h.ctx.prisma, h.tenants[PURGE]!, { classes: ['audit'] });
  // FORGED: the entries around hour 2's checkpoint deleted by hand, hidden behind a gap
  // record that links up (plain verify passes) but belongs to no retention receipt.
  const f = h.tenants[FORGED]!;
  const s2 = seqAt[FORGED]![2]!;
  const hashOf = async (seq: number) =>
    (await superuserQuery(h.db.url, 'SELECT hash FROM audit_log WHERE tenant_id = $1 AND seq = $2', [f, seq])).rows[0]
      .hash as string;
  const [prev, last] = [await hashOf(s2 - 2), await hashOf(s2 + 1)];
  await asOwner(
    `DELETE FROM audit_log WHERE tenant_id = '${f}' AND seq BETWEEN ${s2 - 1} AND ${s2 + 1};
     INSERT INTO audit_chain_gaps (tenant_id, first_seq, last_seq, prev_hash, last_hash, entries, receipt_id)
       VALUES ('${f}', ${s2 - 1}, ${s2 + 1}, '${prev}', '${last}', 3, '${randomUUID()}')`,
  );
  // A tenant the database does not have, with a (validly signed) checkpoint.
  await putBytes(
    h.ctx.storage,
    checkpointKey(ORPHAN, HOURS[6]!),
    encodeCheckpoint(
      { tenantId: ORPHAN, hour: HOURS[6]!, seq: '3', hash: 'ab'.repeat(32), at: NOW.toISOString() },
      h.signer,
    ),
  );
}

const problems = (t: number) => of(t).problems.map((p) => `${p.kind} ${p.key ?? ''} ${p.detail}`);

test('every chain passes plain verify: the database alone shows nothing', () => {
  assert.ok(plainOk);
  assert.ok(report.chains.ok);
  assert.not.ok(report.checkpoints.ok);
});

test('an untouched tenant: every checkpoint verified, nothing missing', () => {
  assert.equal(of(OK).problems, []);
  assert.is(of(OK).checkpoints, 7);
  assert.is(of(OK).verified, 7);
});

test('a chain rewritten and rehashed from seq 1 fails at every checkpoint, naming it', () => {
  const p = of(REWRITE).problems;
  assert.is(p.length, 7, problems(REWRITE).join('\n'));
  for (let i = 0; i < 7; i++) {
    assert.is(p[i]!.kind, 'rewritten');
    assert.is(p[i]!.key, key(REWRITE, i));
    assert.match(p[i]!.detail, `entry seq ${seqAt[REWRITE]![i]} has hash`);
  }
});

test('a chain cut back: the checkpoints past the cut are truncated, the earlier ones hold', () => {
  const p = of(CUT).problems;
  assert.equal(
    p.map((x) => [x.kind, x.key]),
    [4, 5, 6].map((i) => ['truncated', key(CUT, i)]),
  );
  assert.match(p[0]!.detail, `the chain ends at seq ${seqAt[CUT]![3]}`);
  assert.is(of(CUT).verified, 4);
});

test('an altered checkpoint, another key, and a forged key id are each reported at their key', () => {
  assert.equal(
    of(SIGS).problems.map((x) => [x.kind, x.key]),
    [
      ['bad-signature', key(SIGS, 1)],
      ['unknown-key', key(SIGS, 2)],
      ['bad-signature', key(SIGS, 3)],
    ],
  );
  assert.is(of(SIGS).verified, 4);
});

test('deleted hours are missing, as one run; a checkpoint copied to another hour is misplaced', () => {
  const p = of(GONE).problems;
  assert.equal(
    p.map((x) => x.kind),
    ['misplaced', 'missing'],
    problems(GONE).join('\n'),
  );
  assert.is(p[0]!.key, key(GONE, 4));
  assert.is(p[1]!.detail, `no checkpoint for the 2 scheduled hours ${HOURS[2]} to ${HOURS[3]}`);
});

test('a retention purge is accounted for: a checkpoint inside the purged run is skipped, one at its end checked', () => {
  assert.equal(of(PURGE).problems, [], problems(PURGE).join('\n'));
  assert.is(of(PURGE).purged, 1);
  assert.is(of(PURGE).verified, 6);
});

test('a gap record forged to hide a deletion (no retention receipt) does not account for the checkpoint in it', () => {
  assert.equal(
    of(FORGED).problems.map((p) => [p.kind, p.key]),
    [['truncated', key(FORGED, 2)]],
    problems(FORGED).join('\n'),
  );
  assert.match(of(FORGED).problems[0]!.detail, 'has no retention receipt of this tenant covering it');
  assert.is(of(FORGED).verified, 6);
});

test('checkpoints of a tenant the database does not have are reported', () => {
  const orphan = report.checkpoints.tenants.find((t) => t.tenantId === ORPHAN)!;
  assert.equal(
    orphan.problems.map((p) => p.kind),
    ['no-tenant'],
  );
});

test('with since, only that day on is checked', async () => {
  const day = HOURS[6]!.slice(0, 10);
  const r = await verifyWithCheckpoints(
    { prisma: h.ctx.prisma, storage: h.ctx.storage, keys: [h.signer.publicKey], cron: '0 * * * *', now: NOW },
    { tenantId: h.tenants[OK], since: day },
  );
  assert.is(r.checkpoints.tenants[0]!.checkpoints, HOURS.filter((x) => x >= day).length);
  assert.ok(r.checkpoints.ok);
});

test('an empty store: no checkpoints is a failure, not a pass', async () => {
  const empty = h.context({ env: { S3_BUCKET: `e-${randomBytes(4).toString('hex')}` } });
  await ensureBuckets(empty.storage);
  const r = await verifyWithCheckpoints({
    prisma: h.ctx.prisma,
    storage: empty.storage,
    keys: [h.signer.publicKey],
    cron: '0 * * * *',
    now: NOW,
  });
  assert.is(r.checkpoints.since, undefined);
  assert.not.ok(r.checkpoints.ok);
});

test('the objects are what the report read: a checkpoint decodes to the head written', async () => {
  const d = decodeCheckpoint(await objectBytes(h.ctx.storage, key(OK, 6)));
  assert.ok(d.ok && d.doc.seq === String(seqAt[OK]![6]));
});

test.run();
