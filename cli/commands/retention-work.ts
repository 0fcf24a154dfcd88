/**
 * `bulwark retention run [--dry-run] [--tenant ID] [--json]` and `bulwark retention
 * receipts`. The run works in this process (not through the queue), tenant by tenant,
 * with the same code and receipts as the daily job.
 */
import type { Config } from '../../lib/config.js';
import { listReceipts, receiptSummary } from '../../lib/retention/receipts.js';
import { runTenantRetention, type ClassOutcome } from '../../lib/retention/run.js';
import type { ObjectStore } from '../../lib/retention/objects.js';
import { progressBar, type CliIO } from '../output.js';
import { requireTenant, withPrisma } from './with-prisma.js';

export interface RetentionRunArgs {
  tenantId?: string;
  dryRun?: boolean;
  json?: boolean;
  /** The object store; object classes are skipped without one. */
  store?: ObjectStore;
}

function line(tenantId: string, o: ClassOutcome): string {
  const when = o.count ? ` (${o.oldest?.toISOString()} .. ${o.newest?.toISOString()})` : '';
  const bytes = o.bytes !== undefined && o.class.startsWith('objects:') ? `, ${o.bytes} bytes` : '';
  const held = o.held ? `; holds keep ${o.held} (${o.holds.map((h) => `${h.id}: ${h.kept}`).join(', ')})` : '';
  const verb = o.dryRun ? 'would delete' : 'deleted';
  const rest = o.dryRun
    ? ''
    : `${o.complete ? '' : ' (time budget reached: the rest goes next run)'}${o.receiptId ? ` receipt ${o.receiptId}` : ''}`;
  return `${tenantId}\t${o.class}\tttl ${o.ttlDays}d\tcutoff ${o.cutoff.toISOString()}\t${verb} ${o.dryRun ? o.count : o.deleted}${bytes}${when}${held}${rest}`;
}

export async function runRetentionRun(config: Config, io: CliIO, a: RetentionRunArgs): Promise<number> {
  return withPrisma(config, async (prisma) => {
    if (a.tenantId) await requireTenant(prisma, a.tenantId);
    const tenants = a.tenantId
      ? [a.tenantId]
      : (await prisma.tenant.findMany({ select: { id: true }, orderBy: { id: 'asc' } })).map((t) => t.id);
    const bar = progressBar(io, a.dryRun ? 'measuring' : 'purging', tenants.length);
    const runId = new Date().toISOString();
    const all: Array<{ tenantId: string; classes: ClassOutcome[] }> = [];
    for (const [i, tenantId] of tenants.entries()) {
      const classes = await runTenantRetention(prisma, tenantId, { dryRun: a.dryRun, runId, store: a.store });
      all.push({ tenantId, classes });
      bar.update(i + 1);
    }
    bar.done();
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
      io.out(
        `${a.dryRun ? 'dry run: would delete' : 'deleted'} ${n} in ${all.length} tenant(s)${a.store ? '' : ' (object classes skipped: no object store configured)'}`,
      );
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
        `${r.id}\t${r.tenantId}\t${r.class}\t${r.status}\tttl ${r.ttlDays}d\tcutoff ${r.cutoff.toISOString()}\tdeleted ${r.deleted}${seqs}\theld ${r.held}\tsha256 ${r.digest}\t${r.startedAt.toISOString()}`,
      );
    }
    io.out(`${rows.length} receipt(s)`);
    return 0;
  });
}
