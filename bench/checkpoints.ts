/**
 * bench:checkpoints — `verify --checkpoints` against plain verify, in the same run on the
 * same database: BENCH_ENTRIES audit entries (default 1,000,000) over BENCH_TENANTS
 * tenants (default 4), written through the real writer (commitEntries), with a signed
 * checkpoint of every tenant after each of BENCH_HOURS hours (default 24) in a real
 * s3rver. Each way is timed BENCH_ROUNDS times (default 3), alternating, and the best
 * of each compared: the ratio is plain time / checkpoint time (entries per second of
 * `--checkpoints` against plain verify; the target is at least 0.8).
 * Quick run: BENCH_ENTRIES=100000 npm run bench:checkpoints
 */
import { randomUUID } from 'node:crypto';
import { encodeEntry } from '../lib/audit/encode.js';
import { prepareEntry } from '../lib/audit/entry.js';
import { commitEntries } from '../lib/audit/store.js';
import { verifyChains } from '../lib/audit/verify.js';
import { collectCheckpoints, listTenantKeys } from '../lib/checkpoints/collect.js';
import { hourOf } from '../lib/checkpoints/format.js';
import { verifyWithCheckpoints } from '../lib/checkpoints/verify.js';
import { readChainHeads, writeCheckpoints } from '../lib/checkpoints/write.js';
import { startCheckpointHarness } from '../test/helpers/checkpoints.js';
import { envInt, fmtInt, log } from './util.js';

const ENTRIES = envInt('BENCH_ENTRIES', 1_000_000);
const TENANTS = envInt('BENCH_TENANTS', 4);
const HOURS = envInt('BENCH_HOURS', 24);
const ROUNDS = envInt('BENCH_ROUNDS', 3);
const HOUR = 3_600_000;

/** `n` entries of a tenant through the real writer, 2,000 per transaction. */
async function seed(tenantId: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 2000) {
    const batch = Array.from({ length: Math.min(2000, n - i) }, (_, j) =>
      encodeEntry(
        prepareEntry({
          tenantId,
          eventId: randomUUID(),
          occurredAt: new Date().toISOString(),
          actorType: 'user',
          actorId: `u${j % 97}`,
          action: 'task:completed',
          resourceType: 'task',
          resourceId: `t${i + j}`,
          after: { status: 'done', n: i + j },
        }),
      ),
    );
    await commitEntries(h.ctx.pg, batch);
  }
}

const h = await startCheckpointHarness({ tenants: TENANTS, entries: 0, createdHoursAgo: HOURS + 2 });
try {
  const now = Date.now();
  const perStep = Math.ceil(ENTRIES / TENANTS / (HOURS + 1));
  log(
    `seeding ${fmtInt(ENTRIES)} entries over ${TENANTS} tenants, a checkpoint of each after each of ${HOURS + 1} hours`,
  );
  const t0 = performance.now();
  for (let k = HOURS; k >= 0; k--) {
    for (const t of h.tenants) await seed(t, perStep);
    const at = k === 0 ? new Date(now) : new Date(Math.floor(now / HOUR - k) * HOUR + 600_000);
    const heads = await readChainHeads(h.ctx.prisma);
    await writeCheckpoints(
      { storage: h.ctx.storage, pool: h.ctx.pg, signer: h.signer },
      { at: at.toISOString(), heads },
    );
  }
  const total = perStep * (HOURS + 1) * TENANTS;
  log(`  seeded ${fmtInt(total)} entries in ${((performance.now() - t0) / 1000).toFixed(0)} s; ANALYZE`);
  await h.ctx.pg.query('ANALYZE audit_log');

  const time = async <T>(fn: () => Promise<T>): Promise<[number, T]> => {
    const s = performance.now();
    const r = await fn();
    return [(performance.now() - s) / 1000, r];
  };
  const deps = { prisma: h.ctx.prisma, storage: h.ctx.storage, keys: [h.signer.publicKey], cron: '0 * * * *' };
  const plain: number[] = [];
  const withCp: number[] = [];
  let checked = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const [p, pr] = await time(() => verifyChains(h.ctx.prisma));
    if (!pr.ok) throw new Error('plain verify found a broken chain');
    plain.push(p);
    const [c, cr] = await time(() => verifyWithCheckpoints({ ...deps, now: new Date() }));
    if (!cr.chains.ok || !cr.checkpoints.ok)
      throw new Error(
        `verify --checkpoints failed: ${JSON.stringify(cr.checkpoints.tenants.flatMap((t) => t.problems)).slice(0, 500)}`,
      );
    checked = cr.checkpoints.tenants.reduce((n, t) => n + t.verified, 0);
    withCp.push(c);
    log(`  round ${round + 1}: plain ${p.toFixed(2)} s, --checkpoints ${c.toFixed(2)} s`);
  }
  // The store's side alone (listing, reading, signatures), which --checkpoints runs beside the walk.
  const [storeSide] = await time(async () =>
    collectCheckpoints(h.ctx.storage, await listTenantKeys(h.ctx.storage, { tenantIds: h.tenants }), [
      h.signer.publicKey,
    ]),
  );
  const bestPlain = Math.min(...plain);
  const bestCp = Math.min(...withCp);
  const ratio = bestPlain / bestCp;
  log('');
  log(
    `entries ${fmtInt(total)}, tenants ${TENANTS} (+ the system tenant), checkpoints verified against the chain ${fmtInt(checked)} (hours since ${hourOf(new Date(now - HOURS * HOUR))})`,
  );
  log(`plain verify (raw baseline)   ${bestPlain.toFixed(2)} s  ${fmtInt(total / bestPlain)} entries/s`);
  log(`verify --checkpoints          ${bestCp.toFixed(2)} s  ${fmtInt(total / bestCp)} entries/s`);
  log(
    `  of which the store side alone  ${storeSide.toFixed(2)} s (listing and reading every checkpoint, run beside the walk)`,
  );
  log(`ratio (target >= 0.8)         ${ratio.toFixed(2)}  ${ratio >= 0.8 ? 'ok' : 'BELOW TARGET'}`);
  log('(figures from a shared, loaded 2-core machine; compare the ratio, not the absolute numbers)');
} finally {
  await h.close();
}
