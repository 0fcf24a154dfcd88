/** The work behind each CLI command. Each builds only the clients it needs and closes them. */
import type { Config } from '../../lib/config.js';
import { ensureDatabase, migrate } from '../../lib/db/migrations.js';
import { createTenant, listTenants } from '../../lib/tenants/tenants.js';
import { NotFoundError } from '../../lib/errors.js';
import { verifyChains } from '../../lib/audit/verify.js';
import { listChainOwners } from '../../lib/audit/verify-tenants.js';
import { startBulwark } from '../../app/main.js';
import { applyHeapGrowth } from '../../app/runtime/heap.js';
import { progressBar, type CliIO } from '../output.js';
import { withPrisma } from './with-prisma.js';

export async function runMigrate(config: Config, io: CliIO): Promise<number> {
  const created = await ensureDatabase(config.databaseUrl);
  if (created) io.out(`created database ${new URL(config.databaseUrl).pathname.slice(1)}`);
  const report = await migrate(config.databaseUrl, { onApplied: (name) => io.out(`applied ${name}`) });
  io.out(
    report.applied.length === 0
      ? `database is up to date (${report.alreadyApplied} migrations applied earlier)`
      : `applied ${report.applied.length} migration(s)`,
  );
  return 0;
}

/**
 * stdout is the tenant id, then the admin key, one per line and nothing else, as
 * `apikey create` prints its key: a script reads both with `read`. The note that the
 * key is shown once goes to stderr.
 */
export async function runTenantCreate(config: Config, io: CliIO, input: { name: string; timezone?: string }): Promise<number> {
  const tenant = await withPrisma(config, (p) => createTenant(p, input, { actor: { type: 'system', id: 'bulwark-cli' } }));
  io.out(tenant.id);
  io.out(tenant.adminKey.key);
  io.err(`created tenant ${tenant.name} (${tenant.timezone}) with admin key ${tenant.adminKey.displayPrefix} (${tenant.adminKey.scopes.join(',')}), expires ${tenant.adminKey.expiresAt.toISOString()}; the key is shown once`);
  return 0;
}

export async function runTenantList(config: Config, io: CliIO): Promise<number> {
  const rows = await withPrisma(config, (p) => listTenants(p));
  for (const t of rows) io.out(`${t.id}\t${t.name}\t${t.timezone}\tcreated ${t.createdAt.toISOString()}`);
  io.out(`${rows.length} tenant(s)`);
  return 0;
}

export async function runAuditVerify(config: Config, io: CliIO, options: { tenantId?: string }): Promise<number> {
  // A large log takes minutes: a bar on a terminal (stderr), nothing in a pipe.
  let bar: ReturnType<typeof progressBar> | undefined;
  const report = await withPrisma(config, async (p) => {
    // An id with no tenants row, no entries and no chain head is a typo: without this
    // it read as a BROKEN chain (no chain head), which claims tampering. An id with
    // entries or a head but no tenants row is verified: it fails the tenant check.
    if (options.tenantId) {
      const [owner] = await listChainOwners(p, options.tenantId);
      if (!owner?.hasRow && !owner?.hasChain) throw new NotFoundError(`no tenant with id ${options.tenantId} (--tenant)`);
    }
    return verifyChains(p, {
      ...options,
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
    else io.out(`BROKEN  tenant ${t.tenantId}: seq ${t.firstBad!.seq}: ${t.firstBad!.problem}: ${t.firstBad!.detail}`);
  }
  const broken = report.tenants.filter((t) => !t.ok).length;
  io.out(report.ok ? `all ${report.tenants.length} chain(s) intact` : `${broken} of ${report.tenants.length} chain(s) broken`);
  return report.ok ? 0 : 1;
}

/** Run until SIGTERM or SIGINT, then shut down gracefully and exit 0. */
export async function runStart(config: Config, _io: CliIO): Promise<number> {
  applyHeapGrowth(config);
  const running = await startBulwark(config);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      void running.stop(`received ${signal}`).then(resolve);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  // Everything Bulwark opened is closed, so the process ends by itself once its last
  // log lines are written. A job abandoned at the shutdown deadline may still hold a
  // socket or a timer (a send waiting on its receiver): after a short grace for those
  // writes, it must not keep the process alive past the bound.
  setTimeout(() => process.exit(0), EXIT_GRACE_MS).unref();
  return 0;
}

/** How long a stopped `bulwark start` waits for its process to end by itself. */
const EXIT_GRACE_MS = 1000;
