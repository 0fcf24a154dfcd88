/**
 * `bulwark audit verify --checkpoints`: the chains walked as plain verify does, and
 * every published checkpoint checked (lib/checkpoints/verify.ts). Loaded only when the
 * flag is given. Prints the chain lines of plain verify, then one line per tenant's
 * checkpoints (`ok` or `BAD`, each problem on a line of its own naming the checkpoint's
 * key), then a summary; exit 0 only when every chain is intact and every checkpoint holds.
 */
import { createStorage } from '../../lib/clients/storage.js';
import type { Config } from '../../lib/config.js';
import { ConfigError, ValidationError } from '../../lib/errors.js';
import type { VerifyOptions } from '../../lib/audit/verify.js';
import { checkpointKeys } from '../../lib/checkpoints/keys.js';
import { verifyWithCheckpoints, type CheckpointReport } from '../../lib/checkpoints/verify.js';
import type { CliIO } from '../output.js';
import { withPrisma } from './with-prisma.js';

export interface CheckpointFlags {
  since: string | undefined;
}

/** `--since YYYY-MM-DD`, a real UTC day. */
export function parseSince(since: string | undefined): string | undefined {
  if (since === undefined) return undefined;
  const d = new Date(`${since}T00:00:00.000Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(since) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== since)
    throw new ValidationError('flags', [{ path: '--since', message: 'must be a UTC day, YYYY-MM-DD' }]);
  return since;
}

/** The report's checkpoint lines; returns whether every checkpoint held. */
export function printCheckpointReport(io: CliIO, report: CheckpointReport): boolean {
  if (report.since === undefined) {
    io.out('NO CHECKPOINTS  none found under checkpoints/ (none written yet, or all deleted)');
    return false;
  }
  let bad = 0;
  let total = 0;
  for (const t of report.tenants) {
    total += t.checkpoints;
    const counts = `${t.checkpoints} checkpoint(s), ${t.verified} verified against the chain${t.purged ? `, ${t.purged} in purged ranges` : ''}`;
    if (t.problems.length === 0) {
      io.out(`ok      checkpoints of tenant ${t.tenantId}: ${counts}`);
      continue;
    }
    bad++;
    io.out(`BAD     checkpoints of tenant ${t.tenantId}: ${counts}, ${t.problems.length} problem(s)`);
    for (const p of t.problems) io.out(`  ${p.kind}: ${p.key ? `${p.key}: ` : ''}${p.detail}`);
  }
  io.out(
    bad === 0
      ? `all ${total} checkpoint(s) of ${report.tenants.length} tenant(s) hold (hours since ${report.since})`
      : `checkpoints of ${bad} of ${report.tenants.length} tenant(s) do not hold`,
  );
  return bad === 0;
}

/** Run the walk with the checkpoint check; both reports. */
export async function verifyWithCheckpointsCommand(
  c: Config,
  flags: CheckpointFlags,
  options: VerifyOptions,
): ReturnType<typeof verifyWithCheckpoints> {
  const since = parseSince(flags.since);
  const { verifiers } = checkpointKeys(c);
  if (verifiers.length === 0)
    throw new ConfigError([
      {
        path: 'AUDIT_CHECKPOINT_KEY',
        message:
          '--checkpoints needs AUDIT_CHECKPOINT_KEY or AUDIT_CHECKPOINT_PUBLIC_KEYS (the keys to check signatures with)',
      },
    ]);
  const storage = createStorage(c.storage);
  return withPrisma(c, (prisma) =>
    verifyWithCheckpoints(
      { prisma, storage, keys: verifiers, cron: c.auditVerifyCron, now: new Date() },
      { ...options, since },
    ),
  );
}
