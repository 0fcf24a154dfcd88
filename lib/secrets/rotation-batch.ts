/**
 * One batch of a master key rotation: its rows rewritten and its audit entries written
 * in one transaction, with limits that fit the batch, and a failure told by batch and
 * secret rather than by a driver's stack.
 *
 * Set-based on purpose: a statement per row made a 10,000-row batch take about ten
 * seconds, past Prisma's default five-second transaction limit, so the largest
 * batch --batch-size allows could never commit. Now the batch's statements are the
 * same few whatever its size.
 */
import { actorFields, recordAuditEntriesInTx } from '../audit/record.js';
import type { PrismaClient } from '../clients/prisma.js';
import { AUDIT_METADATA_MAX_BYTES } from '../contracts/audit.js';
import { codesOf } from '../db/errors.js';
import { maskUrlCredentials } from '../redact.js';

export interface BatchUpdate {
  id: string;
  tenantId: string;
  name: string;
  /** The new token, under the current key. */
  token: string;
  /** The key id and token the row held when it was read. */
  from: string;
  was: string;
}

/** How long a batch may wait for a pooled connection (beyond the pool's own 5 s connect limit). */
const CONNECTION_WAIT_MS = 10_000;

/**
 * The whole transaction's limit, in statement limits. Two statements may wait for
 * locks (the secrets' rows, the tenants' chain heads), each up to one statement limit;
 * the rest is bounded work. Past it Prisma abandons the transaction.
 */
const TRANSACTION_STATEMENT_LIMITS = 4;

/** Rewrite the batch's rows that still hold what was read, audit them; returns how many it changed. */
export async function writeBatch(
  prisma: PrismaClient,
  updates: BatchUpdate[],
  ctx: { currentId: string; actor: { type: 'user' | 'system'; id: string }; statementTimeoutMs: number },
): Promise<number> {
  if (updates.length === 0) return 0;
  const ids = updates.map((u) => u.id);
  return prisma.$transaction(
    async (tx) => {
      await tx.$executeRawUnsafe(`SET LOCAL statement_timeout = ${ctx.statementTimeoutMs}`);
      // Locked in id order first, so two overlapping runs (same rows, same order) cannot
      // deadlock; the UPDATE's own join order is the planner's choice.
      await tx.$queryRawUnsafe(`SELECT id FROM secrets WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`, ids);
      // Judged as the rows are after any commit waited for: a run that re-encrypted a
      // row first (new key id), or a writer that replaced its value (new token), wins,
      // and the row is not this run's to count or audit.
      const changed = await tx.$queryRawUnsafe<Array<{ id: string }>>(
        `UPDATE secrets AS s SET encrypted_value = u.token, key_id = $5, updated_at = now()
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS u(id, from_key, was, token)
          WHERE s.id = u.id AND s.key_id = u.from_key AND s.encrypted_value = u.was
         RETURNING s.id::text AS id`,
        ids,
        updates.map((u) => u.from),
        updates.map((u) => u.was),
        updates.map((u) => u.token),
        ctx.currentId,
      );
      const mine = new Set(changed.map((r) => r.id));
      const byTenant = new Map<string, BatchUpdate[]>();
      for (const u of updates) if (mine.has(u.id)) byTenant.set(u.tenantId, [...(byTenant.get(u.tenantId) ?? []), u]);
      // In tenant id order, the order the audit store locks chain heads in.
      const entries = [...byTenant.keys()].sort().flatMap((tenantId) =>
        rotationMetadata(byTenant.get(tenantId)!, ctx.currentId).map((metadata) => ({
          tenantId,
          ...actorFields(ctx.actor),
          action: 'secret:master-key-rotated',
          resourceType: 'secret',
          metadata,
        })),
      );
      await recordAuditEntriesInTx(tx, entries);
      return mine.size;
    },
    { timeout: TRANSACTION_STATEMENT_LIMITS * ctx.statementTimeoutMs, maxWait: CONNECTION_WAIT_MS },
  );
}

/**
 * The metadata of a tenant's entries for one batch: one entry, or as many as it takes
 * to keep each under the audit log's metadata limit (a 10,000-row batch of one tenant
 * names about 90 KB of secrets).
 */
export function rotationMetadata(list: BatchUpdate[], toKeyId: string): Array<{ names: string[]; from_key_ids: string[]; to_key_id: string }> {
  const make = (part: BatchUpdate[]) => ({ names: part.map((u) => u.name), from_key_ids: [...new Set(part.map((u) => u.from))], to_key_id: toKeyId });
  // The names' budget, with every key id of the list counted (a part's are a subset).
  const budget = AUDIT_METADATA_MAX_BYTES - Buffer.byteLength(JSON.stringify(make(list.slice(0, 0)))) - Buffer.byteLength(JSON.stringify([...new Set(list.map((u) => u.from))]));
  const parts: BatchUpdate[][] = [[]];
  let used = 0;
  for (const u of list) {
    const size = Buffer.byteLength(JSON.stringify(u.name)) + 1;
    if (used + size > budget && parts[parts.length - 1]!.length > 0) {
      parts.push([]);
      used = 0;
    }
    parts[parts.length - 1]!.push(u);
    used += size;
  }
  return parts.map(make);
}

interface SecretRef {
  tenantId: string;
  name: string;
}

/** Where a batch sits in the run: its number, size, its first row's place, its first and last secret. */
export interface BatchPosition {
  number: number;
  size: number;
  from: number;
  first: SecretRef;
  last: SecretRef;
}

/**
 * A batch that could not be written, rolled back whole. The message names the batch
 * and its secrets (names only) and the cause in a line; `report` is the run so far.
 */
export class RotationBatchError extends Error {
  override readonly name = 'RotationBatchError';
  constructor(
    readonly batch: BatchPosition,
    statementTimeoutMs: number,
    override readonly cause: unknown,
    readonly report: { total: number; reencrypted: number; failed: Array<{ tenantId: string; name: string; keyId: string; error: string }> },
  ) {
    const b = batch;
    const secrets = `secrets ${b.from}-${b.from + b.size - 1} of the ${report.total} counted, tenant ${b.first.tenantId} secret ${b.first.name} to tenant ${b.last.tenantId} secret ${b.last.name}`;
    super(`master key rotation: batch ${b.number} (${secrets}) was rolled back, none of it re-encrypted: ${reasonOf(cause, statementTimeoutMs)}`);
  }
}

/** The cause in one line, from its codes; a driver's message only as a last resort. */
function reasonOf(err: unknown, statementTimeoutMs: number): string {
  const codes = codesOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (codes.includes('57014')) return `a statement ran past its ${statementTimeoutMs} ms limit (statement_timeout), most likely waiting for a row another session holds locked`;
  if (codes.includes('55P03')) return 'a row lock was not granted in time (lock_timeout): another session holds one of its rows or a chain head';
  if (codes.includes('40P01')) return 'deadlock with another session (40P01)';
  if (codes.includes('P2028') || /expired transaction|transaction already closed/i.test(message)) {
    return `the batch's transaction ran past its ${TRANSACTION_STATEMENT_LIMITS * statementTimeoutMs} ms limit`;
  }
  if (codes.includes('P2024')) return `no database connection became free within ${CONNECTION_WAIT_MS} ms`;
  // Prisma's message quotes the call site over several lines; its last line is the cause.
  const last = message.trim().split('\n').filter((l) => l.trim()).pop() ?? 'unknown error';
  const sqlstate = codes.find((c) => /^[0-9A-Z]{5}$/.test(c));
  return `${sqlstate ? `${sqlstate}: ` : ''}${maskUrlCredentials(last.trim()).slice(0, 300)}`;
}
