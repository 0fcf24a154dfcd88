/**
 * `bulwark audit verify`: the audit log's hash chains, checked end to end; with
 * `--checkpoints`, against the signed checkpoints in the object store too
 * (checkpoints-work.ts).
 */
import { NotFoundError } from '../../lib/errors.js';
import { command, defineGroup, UsageError } from '../command.js';
import type { VerifyReport } from '../../lib/audit/verify.js';
import type { CheckpointReport } from '../../lib/checkpoints/verify.js';
import { progressBar } from '../output.js';

export default defineGroup({
  section: 'Audit',
  commands: {
    verify: command({
      flags: {
        tenant: { type: 'string', value: 'ID' },
        checkpoints: { type: 'boolean' },
        since: { type: 'string', value: 'YYYY-MM-DD' },
      },
      about: [
        'verify hash chains; exit 1 naming the first bad entry;',
        '--checkpoints: also check every signed checkpoint in the object store (from --since)',
      ],
      async run(f, { config, io }) {
        const c = await config();
        if (f.since !== undefined && !f.checkpoints)
          throw new UsageError('--since goes with --checkpoints', 'audit verify');
        const [{ verifyChains }, { listChainOwners }, { withPrisma }, { erasureKeys }] = await Promise.all([
          import('../../lib/audit/verify.js'),
          import('../../lib/audit/verify-tenants.js'),
          import('./with-prisma.js'),
          import('../../lib/privacy/erasure-record.js'),
        ]);
        // A large log takes minutes: a bar on a terminal (stderr), nothing in a pipe.
        let bar: ReturnType<typeof progressBar> | undefined;
        // An id with no tenants row, no entries and no chain head is a typo: without this
        // it read as a BROKEN chain (no chain head), which claims tampering. An id with
        // entries or a head but no tenants row is verified: it fails the tenant check.
        const tenant = f.tenant;
        if (tenant)
          await withPrisma(c, async (p) => {
            const [owner] = await listChainOwners(p, tenant);
            if (!owner?.hasRow && !owner?.hasChain) throw new NotFoundError(`no tenant with id ${tenant} (--tenant)`);
          });
        const options = {
          tenantId: f.tenant,
          // Erased entries verify only through records signed by a configured key.
          erasureKeys: erasureKeys(c).verifiers,
          onProgress: io.isTTY
            ? (done: number, total: number) => {
                bar ??= progressBar(io, 'verifying', total);
                bar.update(done);
              }
            : undefined,
        };
        let checkpoints: CheckpointReport | undefined;
        let report: VerifyReport;
        if (f.checkpoints) {
          const work = await import('./checkpoints-work.js');
          ({ chains: report, checkpoints } = await work.verifyWithCheckpointsCommand(c, { since: f.since }, options));
        } else report = await withPrisma(c, (p) => verifyChains(p, options));
        bar?.done();
        for (const t of report.tenants) {
          if (t.ok)
            io.out(
              `ok      tenant ${t.tenantId}: ${t.entries} entries${t.erased ? ` (${t.erased} erased)` : ''}, chain intact`,
            );
          else
            io.out(
              `BROKEN  tenant ${t.tenantId}: seq ${t.firstBad!.seq}: ${t.firstBad!.problem}: ${t.firstBad!.detail}`,
            );
        }
        const broken = report.tenants.filter((t) => !t.ok).length;
        io.out(
          report.ok
            ? `all ${report.tenants.length} chain(s) intact`
            : `${broken} of ${report.tenants.length} chain(s) broken`,
        );
        const held = checkpoints
          ? (await import('./checkpoints-work.js')).printCheckpointReport(io, checkpoints)
          : true;
        return report.ok && held ? 0 : 1;
      },
    }),
  },
});
