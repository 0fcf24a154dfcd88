/** `bulwark audit verify`: the audit log's hash chains, checked end to end. */
import { NotFoundError } from '../../lib/errors.js';
import { command, defineGroup } from '../command.js';
import { progressBar } from '../output.js';

export default defineGroup({
  section: 'Audit',
  commands: {
    verify: command({
      flags: { tenant: { type: 'string', value: 'ID' } },
      about: ['verify hash chains; exit 1 naming the first bad entry'],
      async run(f, { config, io }) {
        const c = await config();
        const [{ verifyChains }, { listChainOwners }, { withPrisma }] = await Promise.all([
          import('../../lib/audit/verify.js'),
          import('../../lib/audit/verify-tenants.js'),
          import('./with-prisma.js'),
        ]);
        // A large log takes minutes: a bar on a terminal (stderr), nothing in a pipe.
        let bar: ReturnType<typeof progressBar> | undefined;
        const report = await withPrisma(c, async (p) => {
          // An id with no tenants row, no entries and no chain head is a typo: without this
          // it read as a BROKEN chain (no chain head), which claims tampering. An id with
          // entries or a head but no tenants row is verified: it fails the tenant check.
          if (f.tenant) {
            const [owner] = await listChainOwners(p, f.tenant);
            if (!owner?.hasRow && !owner?.hasChain) throw new NotFoundError(`no tenant with id ${f.tenant} (--tenant)`);
          }
          return verifyChains(p, {
            tenantId: f.tenant,
            onProgress: io.isTTY
              ? (done, total) => {
                  bar ??= progressBar(io, 'verifying', total);
                  bar.update(done);
                }
              : undefined,
          });
        });
        bar?.done();
        for (const t of report.tenants) {
          if (t.ok) io.out(`ok      tenant ${t.tenantId}: ${t.entries} entries, chain intact`);
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
        return report.ok ? 0 : 1;
      },
    }),
  },
});
