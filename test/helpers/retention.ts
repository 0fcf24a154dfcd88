/** Seeding audit entries at chosen times, and connecting as a role of one's own. */
import { randomBytes } from 'node:crypto';
import type { PrismaClient } from '../../lib/clients/prisma.js';
import { recordAuditEntriesInTx } from '../../lib/audit/record.js';
import type { AuditEntryInput } from '../../lib/contracts/audit.js';
import { superuserQuery } from './db.js';

export const DAY_MS = 86_400_000;
export const daysAgo = (d: number) => new Date(Date.now() - d * DAY_MS).toISOString();

/** Append `n` entries made by `make(i)`, 500 per transaction. */
export async function seedEntries(
  prisma: PrismaClient,
  n: number,
  make: (i: number) => AuditEntryInput,
): Promise<void> {
  for (let i = 0; i < n; i += 500) {
    const inputs = Array.from({ length: Math.min(500, n - i) }, (_, j) => make(i + j));
    await prisma.$transaction((tx) => recordAuditEntriesInTx(tx, inputs));
  }
}

export function entryAt(tenantId: string, occurredAt: string, over: Partial<AuditEntryInput> = {}): AuditEntryInput {
  return {
    tenantId,
    occurredAt,
    actorType: 'user',
    actorId: 'u-1',
    action: 'task:done',
    resourceType: 'task',
    resourceId: randomBytes(4).toString('hex'),
    ...over,
  };
}

/** A LOGIN role of the test's own (cluster-wide: drop it after), with every table privilege. */
export async function createRole(
  dbUrl: string,
  extra = '',
): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `bulwark_t_role_${randomBytes(4).toString('hex')}`;
  await superuserQuery(
    dbUrl,
    `CREATE ROLE ${name} LOGIN; GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public TO ${name}; GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${name}; ${extra}`,
  );
  const u = new URL(dbUrl);
  u.username = name;
  return {
    name,
    url: u.toString(),
    drop: async () => {
      await superuserQuery(dbUrl, `DROP OWNED BY ${name}`);
      await superuserQuery(dbUrl.replace(/\/[^/]+$/, '/postgres'), `DROP ROLE IF EXISTS ${name}`);
    },
  };
}
