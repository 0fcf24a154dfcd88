/**
 * `bulwark retention run [--dry-run] [--tenant ID] [--json]` and `bulwark retention
 * receipts`. The run works in this process (not through the queue), tenant by tenant,
 * with the same code and receipts as the daily job.
 */
import { createStorage } from '../../lib/clients/storage.js';
import type { Config } from '../../lib/config.js';
import type { ObjectStore } from '../../lib/retention/object-store.js';
import { listReceipts, receiptSummary } from '../../lib/retention/receipts.js';
import { runTenantRetention, type ClassOutcome } from '../../lib/retention/run.js';
import { progressBar, type CliIO } from '../output.js';
import { requireTenant, withPrisma } from './with-prisma.js';

export interface RetentionRunArgs {
  tenantId?: string;
  dryRun?: boolean;
  json?: boolean;
  /** The object store. Default: the configured one (S3_*). */
  store?: ObjectStore;
}

function line(tenantId: string, o: ClassOutcome): string {
  const when = o.count ? ` (${o.oldest?.toISOString()} .. ${o.newest?.toISOString()})` : '';
  const bytes = o.bytes !== undefined && o.class.startsWith('objects:') ? `, ${o.bytes} bytes` : '';
  const held = o.held ? `; holds keep ${o.held} (${o.holds.map((h) => `${h.id}: ${h.kept}`).join(', ')})` : '';
  const verb = o.dryRun ? 'would delete' : 'deleted';
  const head = `${tenantId}\t${o.class}\tttl ${o.ttlDays}d\tcutoff ${o.cutoff.toISOString()}`;
  if (o.error && o.dryRun) return `${head}\tFAILED: ${o.error}`;
  if (o.error)
    return `${head}\tFAILED after deleting ${o.deleted}: ${o.error}; receipt ${o.receiptId} stays running and the next run resumes it`;
  const rest = o.dryRun
    ? ''
    : `${o.complete ? '' : ' (time budget reached: the rest goes next run)'}${o.receiptId ? ` receipt ${o.receiptId}` : ''}`;
  return `${head}\t${verb} ${o.dryRun ? o.count : o.deleted}${bytes}${when}${held}${rest}`;
}

/**
 * On a terminal, a real run first measures what will go (as --dry-run does) so its bar
 * has a total, then moves the bar after every batch deleted; in a pipe it measures
 * nothing extra and draws nothing.
 */
export async function runRetentionRun(config: Config, io: CliIO, a: RetentionRunArgs): Promise<number> {
  const store = a.store ?? createStorage(config.storage);
  return withPrisma(config, async (prisma) => {
    if (a.tenantId) await requireTenant(prisma, a.tenantId);
    const tenants = a.tenantId
      ? [a.tenantId]
      : (await prisma.tenant.findMany({ select: { id: true }, orderBy: { id: 'asc' } })).map((t) => t.id);
    const runId = new Date().toISOString();
    let total = 0;
    if (io.isTTY && !a.dryRun) {
      for (const tenantId of tenants)
        for (const o of await runTenantRetention(prisma, tenantId, { dryRun: true, store })) total += o.count;
    }
    const bar = progressBar(io, a.dryRun ? 'measuring' : 'purging', a.dryRun ? tenants.length : total);
    bar.update(0);
    let done = 0;
    const all: Array<{ tenantId: string; classes: ClassOutcome[] }> = [];
    for (const [i, tenantId] of tenants.entries()) {
      const classes = await runTenantRetention(prisma, tenantId, {
        dryRun: a.dryRun,
        runId,
        store,
        batchSize: config.retentionBatchSize,
        maxMsPerClass: config.retentionMaxMsPerClass,
        onDeleted: (_cls, n) => bar.update(Math.min((done += n), total)),
      });
      all.push({ tenantId, classes });
      if (a.dryRun) bar.update(i + 1);
    }
    bar.done();
    const failed = all.flatMap((t) => t.classes.filter((o) => o.error));
    if (a.json) {
      io.out(
        JSON.stringify(
          all.map((t) => ({
            tenantId: t.tenantId,
            classes: t.classes.map((o) => ({
              ...o,
              cutoff: o.cutoff.toISOString(),
              oldest: o.oldest?.toISOString() ?? null,
              newest: o.newest?.toISOString() ?? null,
            })),
          })),
          null,
          2,
        ),
      );
    } else {
      for (const t of all) for (const o of t.classes) io.out(line(t.tenantId, o));
      const n = all.reduce((s, t) => s + t.classes.reduce((x, o) => x + (a.dryRun ? o.count : o.deleted), 0), 0);
      io.out(`${a.dryRun ? 'dry run: would delete' : 'deleted'} ${n} in ${all.length} tenant(s)`);
    }
    if (failed.length) {
      io.err(
        `retention: ${failed.length} class(es) stopped because the object store failed (${failed[0]!.error}); run again when it is back`,
      );
      return 1;
    }
    return 0;
  });
}

export async function runRetentionReceipts(
  config: Config,
  io: CliIO,
  a: { tenantId?: string; limit?: number; json?: boolean },
): Promise<number> {
  return withPrisma(config, async (prisma) => {
    if (a.tenantId) await requireTenant(prisma, a.tenantId);
    const rows = await listReceipts(prisma, { tenantId: a.tenantId, limit: a.limit });
    if (a.json) {
      io.out(
        JSON.stringify(
          rows.map((r) => ({ tenantId: r.tenantId, ...receiptSummary(r) })),
          null,
          2,
        ),
      );
      return 0;
    }
    for (const r of rows) {
      const seqs = r.firstSeq !== null ? `\tseq ${r.firstSeq}..${r.lastSeq}` : '';
      io.out(
        `${r.id}\t${r.tenantId}\t${r.class}\t${r.status}\tttl ${r.ttlDays}d\tcutoff ${r.cutoff.toISOString()}\tdeleted ${r.deleted}${seqs}\theld ${r.held}\tsha256 ${r.digest}\t${r.startedAt.toISOString()}${r.error ? `\terror ${r.error}` : ''}`,
      );
    }
    io.out(`${rows.length} receipt(s)`);
    return 0;
  });
}
