/** The work behind each CLI command. Each builds only the clients it needs and closes them. */
import { createPrisma } from '../../lib/clients/prisma.js';
import type { Config } from '../../lib/config.js';
import { ensureDatabase, migrate } from '../../lib/db/migrations.js';
import { createTenant } from '../../lib/tenants.js';
import { verifyChains } from '../../workers/audit/verify.js';
import { startBulwark } from '../../workers/main.js';
import { applyHeapGrowth } from '../../workers/runtime/heap.js';
import type { CliIO } from '../output.js';

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

export async function runTenantCreate(config: Config, io: CliIO, input: { name: string; timezone?: string }): Promise<number> {
  const prisma = createPrisma(config, { max: 1 });
  try {
    const tenant = await createTenant(prisma, input, { actor: { type: 'system', id: 'bulwark-cli' } });
    io.out(tenant.id);
    io.out(`admin API key (shown once, store it now): ${tenant.adminKey.key}`);
    return 0;
  } finally {
    await prisma.$disconnect();
  }
}

export async function runAuditVerify(config: Config, io: CliIO, options: { tenantId?: string }): Promise<number> {
  const prisma = createPrisma(config, { max: 1 });
  try {
    const report = await verifyChains(prisma, options);
    for (const t of report.tenants) {
      if (t.ok) io.out(`ok      tenant ${t.tenantId}: ${t.entries} entries, chain intact`);
      else io.out(`BROKEN  tenant ${t.tenantId}: seq ${t.firstBad!.seq}: ${t.firstBad!.problem}: ${t.firstBad!.detail}`);
    }
    const broken = report.tenants.filter((t) => !t.ok).length;
    io.out(report.ok ? `all ${report.tenants.length} chain(s) intact` : `${broken} of ${report.tenants.length} chain(s) broken`);
    return report.ok ? 0 : 1;
  } finally {
    await prisma.$disconnect();
  }
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
