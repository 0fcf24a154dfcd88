/** `bulwark hold add|list|release`: legal holds (lib/retention/holds.ts). */
import type { Config } from '../../lib/config.js';
import { ValidationError } from '../../lib/errors.js';
import { addHold, holdTarget, listHolds, releaseHold, type LegalHold } from '../../lib/retention/holds.js';
import type { CliIO } from '../output.js';
import { withPrisma, withTenant } from './with-prisma.js';

const CLI_ACTOR = { type: 'user' as const, id: 'bulwark-cli' };

export interface HoldAddArgs {
  tenantId: string;
  all?: boolean;
  actor?: string;
  resource?: string;
  prefix?: string;
  reason: string;
  until?: string;
}

export function holdLine(h: LegalHold): string {
  const state = h.releasedAt
    ? `released ${h.releasedAt.toISOString()} by ${h.releasedBy}: ${h.releaseReason}`
    : h.until
      ? `active until ${h.until.toISOString()}`
      : 'active';
  return `${h.id}\t${h.tenantId}\t${holdTarget(h)}\t${state}\tadded ${h.createdAt.toISOString()} by ${h.createdBy}: ${h.reason}`;
}

export async function runHoldAdd(config: Config, io: CliIO, a: HoldAddArgs): Promise<number> {
  const given = (['all', 'actor', 'resource', 'prefix'] as const).filter((k) => a[k] !== undefined && a[k] !== false);
  if (given.length !== 1)
    throw new ValidationError('legal hold', [
      { path: 'scope', message: 'give exactly one of --all, --actor ID, --resource TYPE:ID, --prefix KEY_PREFIX' },
    ]);
  const scope = given[0]!;
  const hold = await withTenant(config, a.tenantId, (p) =>
    addHold(
      p,
      {
        tenantId: a.tenantId,
        scope,
        actorId: a.actor,
        resource: a.resource,
        keyPrefix: a.prefix,
        reason: a.reason,
        until: a.until,
      },
      CLI_ACTOR,
    ),
  );
  io.out(hold.id);
  io.err(
    `legal hold on ${holdTarget(hold)} of tenant ${hold.tenantId} added${hold.until ? ` until ${hold.until.toISOString()}` : ''}`,
  );
  return 0;
}

export async function runHoldList(
  config: Config,
  io: CliIO,
  a: { tenantId?: string; released?: boolean },
): Promise<number> {
  const run = (p: Parameters<typeof listHolds>[0]) => listHolds(p, { tenantId: a.tenantId, released: a.released });
  const rows = a.tenantId ? await withTenant(config, a.tenantId, run) : await withPrisma(config, run);
  for (const h of rows) io.out(holdLine(h));
  io.out(`${rows.length} hold(s)`);
  return 0;
}

export async function runHoldRelease(config: Config, io: CliIO, a: { id: string; reason: string }): Promise<number> {
  const hold = await withPrisma(config, (p) => releaseHold(p, a.id, a.reason, CLI_ACTOR));
  io.out(`released ${hold.id} (${holdTarget(hold)} of tenant ${hold.tenantId})`);
  return 0;
}
