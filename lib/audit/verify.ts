/**
 * Walking the audit chains. For each tenant, entries are read in seq order (keyset
 * pages) and three things are checked for every entry: numbering (seq is the next
 * integer), link (prev_hash is the previous entry's hash) and content (the stored hash
 * is the hash of the entry's canonical form). Finally the chain head must point at the
 * last entry, which catches a removed tail, and no entry may lie beyond the head,
 * which catches a row added by hand after it. A chain whose tenant has no row in
 * `tenants` is not walked: it fails the tenant check (verify-tenants.ts).
 *
 * Retention purges leave gaps (audit_chain_gaps, written only by audit_purge()): where
 * the next seq is missing and a gap record starts there, the walk steps over it if the
 * gap's prev_hash is the running hash (else: link), and carries on from the gap's
 * last_hash, which the next remaining entry's prev_hash must equal. A gap from seq 1 is
 * the chain's new starting point. Entries stepped over are counted as `purged`.
 */
import type { PrismaClient } from '../clients/prisma.js';
import type { ErasurePublicKey, ErasureRecord } from '../privacy/erasure-record.js';
import { GENESIS_HASH, type ChainEntry } from './chain.js';
import { PD_MEMBERS } from './personal.js';
import { contentProblem } from './verify-entry.js';
import { countEntries, listChainOwners } from './verify-tenants.js';

export type ChainProblem = 'tenant' | 'numbering' | 'link' | 'content' | 'head';

export interface TenantVerification {
  tenantId: string;
  entries: number;
  /** Entries the walk stepped over through gap records (purged by retention). */
  purged?: number;
  /** Entries whose personal data was erased (verified through their erasure records). */
  erased?: number;
  ok: boolean;
  firstBad?: { seq: string; problem: ChainProblem; detail: string };
}

export interface VerifyReport {
  ok: boolean;
  tenants: TenantVerification[];
}

interface Row {
  seq: string;
  tenant_id: string;
  event_id: string;
  occurred_at: Date;
  recorded_at: Date;
  actor_type: string;
  actor_id: string | null;
  action: string;
  resource_type: string;
  resource_id: string | null;
  before_state: ChainEntry['before'];
  after_state: ChainEntry['after'];
  metadata: ChainEntry['metadata'];
  reason: string | null;
  confidence: string | null;
  request_id: string | null;
  ip: string | null;
  user_agent: string | null;
  severity: string | null;
  prev_hash: string;
  hash: string;
  format: number;
  pd_digest: string | null;
  /** audit_personal_data's salt, null when the entry has no personal data row. */
  p_salt: string | null;
  [pdColumn: `p_${string}`]: unknown;
}

function toEntry(r: Row): ChainEntry {
  return {
    tenantId: r.tenant_id,
    seq: r.seq,
    eventId: r.event_id,
    occurredAt: new Date(r.occurred_at).toISOString(),
    recordedAt: new Date(r.recorded_at).toISOString(),
    actorType: r.actor_type,
    actorId: r.actor_id,
    action: r.action,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    before: r.before_state,
    after: r.after_state,
    metadata: r.metadata,
    reason: r.reason,
    confidence: r.confidence,
    requestId: r.request_id,
    ip: r.ip,
    userAgent: r.user_agent,
    severity: r.severity,
    format: r.format === 2 ? 2 : 1,
    pdDigest: r.pd_digest,
  };
}

const personalOf = (r: Row) =>
  r.p_salt === null
    ? undefined
    : { salt: r.p_salt, row: Object.fromEntries(PD_MEMBERS.map(([c]) => [c, r[`p_${c}`]])) };

const PAGE_SQL = `SELECT a.seq::text, a.tenant_id::text, a.event_id, a.occurred_at, a.recorded_at, a.actor_type, a.actor_id,
        a.action, a.resource_type, a.resource_id, a.before_state, a.after_state, a.metadata, a.reason,
        a.confidence::text AS confidence, a.request_id, a.ip, a.user_agent, a.severity, a.prev_hash, a.hash,
        a.format::int AS format, a.pd_digest, p.salt AS p_salt, ${PD_MEMBERS.map(([c]) => `p.${c} AS p_${c}`).join(', ')}
   FROM audit_log a LEFT JOIN audit_personal_data p ON p.tenant_id = a.tenant_id AND p.seq = a.seq
  WHERE a.tenant_id = $1::uuid AND a.seq > $2::bigint AND a.seq <= $3::bigint ORDER BY a.seq LIMIT $4`;

/**
 * Walk one tenant's chain. `onEntries` is told how many entries each page held, as
 * they are checked (for a progress bar).
 */
export async function verifyTenantChain(
  prisma: PrismaClient,
  tenantId: string,
  pageSize = 5000,
  onEntries?: (n: number) => void,
  erasureKeys?: readonly ErasurePublicKey[],
): Promise<TenantVerification> {
  // The head is read first: entries committed while we walk lie beyond it and are
  // left for the next run, instead of looking like a broken tail.
  const heads = await prisma.$queryRawUnsafe<Array<{ last_seq: string; last_hash: string }>>(
    'SELECT last_seq::text, last_hash FROM audit_chain_heads WHERE tenant_id = $1::uuid',
    tenantId,
  );
  const head = heads[0];
  let expected = 1n;
  let prevHash = GENESIS_HASH;
  let count = 0;
  const bad = (seq: string, problem: ChainProblem, detail: string): TenantVerification => ({
    tenantId,
    entries: count,
    ok: false,
    firstBad: { seq, problem, detail },
  });
  if (!head) return bad('1', 'head', 'the tenant has no chain head');
  const headSeq = BigInt(head.last_seq);
  const gaps = await loadGaps(prisma, tenantId);
  const erasures = await loadErasures(prisma, tenantId);
  const state = { erased: false };
  let erased = 0;
  let purged = 0;
  /** Step over the gaps that start at `expected`, up to `before`; a problem's detail, else null. */
  const stepGaps = (before: bigint): string | null => {
    for (let g = gaps.get(expected); g && expected < before; g = gaps.get(expected)) {
      if (g.prevHash !== prevHash)
        return `the gap record for seqs ${g.firstSeq}..${g.lastSeq} does not follow the previous entry's hash`;
      prevHash = g.lastHash;
      purged += Number(g.lastSeq - g.firstSeq + 1n);
      expected = g.lastSeq + 1n;
    }
    return null;
  };
  while (expected <= headSeq) {
    const rows = await prisma.$queryRawUnsafe<Row[]>(
      PAGE_SQL,
      tenantId,
      String(expected - 1n),
      head.last_seq,
      pageSize,
    );
    for (const r of rows) {
      count++;
      const gapProblem = BigInt(r.seq) !== expected ? stepGaps(BigInt(r.seq)) : null;
      if (gapProblem) return bad(String(expected), 'link', gapProblem);
      if (BigInt(r.seq) !== expected)
        return bad(String(expected), 'numbering', `expected seq ${expected}, found ${r.seq}`);
      if (r.prev_hash !== prevHash) return bad(r.seq, 'link', "prev_hash does not match the previous entry's hash");
      const problem = contentProblem(
        toEntry(r),
        r.prev_hash,
        r.hash,
        personalOf(r),
        erasures.get(r.seq),
        erasureKeys,
        state,
      );
      if (problem) return bad(r.seq, 'content', problem);
      if (state.erased) erased++;
      prevHash = r.hash;
      expected++;
    }
    onEntries?.(rows.length);
    if (rows.length < pageSize) break;
  }
  // A purged tail (or a chain purged whole) ends in gaps.
  const tailProblem = stepGaps(headSeq + 1n);
  if (tailProblem) return bad(String(expected), 'link', tailProblem);
  const lastSeq = expected - 1n;
  if (lastSeq !== headSeq) {
    return bad(
      String(expected),
      'head',
      `the chain head says the log ends at seq ${headSeq} but entries stop at seq ${lastSeq}`,
    );
  }
  if (head.last_hash !== prevHash) {
    return bad(String(lastSeq), 'head', `the chain head's hash does not match entry seq ${lastSeq}`);
  }
  // Rows beyond the head, counted against the head in one statement, so in one
  // snapshot: a writer inserts and moves the head in the same transaction, so an
  // entry committed during the walk is never beyond the head it commits with. One
  // that is was put there by hand, outside the chain.
  const [beyond] = await prisma.$queryRawUnsafe<Array<{ last_seq: string; entries: number }>>(
    `SELECT h.last_seq::text AS last_seq,
            (SELECT count(*) FROM audit_log a WHERE a.tenant_id = h.tenant_id AND a.seq > h.last_seq)::int AS entries
       FROM audit_chain_heads h WHERE h.tenant_id = $1::uuid`,
    tenantId,
  );
  if (beyond && beyond.entries > 0) {
    const at = BigInt(beyond.last_seq);
    return bad(
      String(at + 1n),
      'head',
      `${beyond.entries} entr${beyond.entries === 1 ? 'y' : 'ies'} beyond the chain head's seq ${at}`,
    );
  }
  return { tenantId, entries: count, ...(purged ? { purged } : {}), ...(erased ? { erased } : {}), ok: true };
}

interface Gap {
  firstSeq: bigint;
  lastSeq: bigint;
  prevHash: string;
  lastHash: string;
}

/** A tenant's gap records by first seq (one row per run of purged seqs). */
async function loadGaps(prisma: PrismaClient, tenantId: string): Promise<Map<bigint, Gap>> {
  const rows = await prisma.$queryRawUnsafe<
    Array<{ first_seq: string; last_seq: string; prev_hash: string; last_hash: string }>
  >(
    'SELECT first_seq::text, last_seq::text, prev_hash, last_hash FROM audit_chain_gaps WHERE tenant_id = $1::uuid',
    tenantId,
  );
  return new Map(
    rows.map((g) => [
      BigInt(g.first_seq),
      { firstSeq: BigInt(g.first_seq), lastSeq: BigInt(g.last_seq), prevHash: g.prev_hash, lastHash: g.last_hash },
    ]),
  );
}

/** A tenant's erasure records by seq. */
async function loadErasures(prisma: PrismaClient, tenantId: string): Promise<Map<string, ErasureRecord>> {
  const rows = await prisma.$queryRawUnsafe<
    Array<{
      seq: string;
      hash: string;
      redacted_hash: string | null;
      erased_at: Date;
      key_id: string;
      signature: string;
    }>
  >(
    'SELECT seq::text, hash, redacted_hash, erased_at, key_id, signature FROM audit_erasures WHERE tenant_id = $1::uuid',
    tenantId,
  );
  return new Map(
    rows.map((e) => [
      e.seq,
      {
        tenantId,
        seq: e.seq,
        hash: e.hash,
        redactedHash: e.redacted_hash,
        erasedAt: new Date(e.erased_at).toISOString(),
        keyId: e.key_id,
        signature: e.signature,
      },
    ]),
  );
}

/**
 * Check 0, **tenant**: a chain whose tenants row is gone (its foreign keys were
 * bypassed) fails at seq 1 and is not walked, as a chain with no head is not: nothing
 * of it is vouched for. The detail counts its rows in audit_log, beyond the head too.
 */
async function verifyOwnerlessChain(prisma: PrismaClient, tenantId: string): Promise<TenantVerification> {
  const n = await countEntries(prisma, tenantId);
  const detail = `the tenant's row is missing from tenants (${n} entr${n === 1 ? 'y' : 'ies'})`;
  return { tenantId, entries: 0, ok: false, firstBad: { seq: '1', problem: 'tenant', detail } };
}

export interface VerifyOptions {
  /**
   * One tenant only. Default: every tenant in `tenants`, and every tenant id with
   * entries or a chain head but no `tenants` row (reported broken: **tenant**).
   */
  tenantId?: string;
  /** Entries read per query. Default: 5000. */
  pageSize?: number;
  /**
   * The public keys erasure records may be signed with (erasureKeys(config).verifiers).
   * Default: signatures are not checked, only the hashes an erasure record keeps;
   * `bulwark audit verify` and the hourly job always pass the configured keys.
   */
  erasureKeys?: readonly ErasurePublicKey[];
  /**
   * Told, before the walk, how many entries the chain heads of the chains to be walked
   * hold in all (`total`; a chain without a tenants row is not walked, so not counted),
   * then after each page how many have been checked (`done`). A broken chain stops
   * early, so `done` may end below `total`. Default: nothing.
   */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Verify one tenant's chain, or every tenant's when tenantId is absent. A tenantId with
 * no tenants row but a chain fails the tenant check; one with neither is walked as
 * before (and fails: no chain head); the CLI refuses it first as not found.
 */
export async function verifyChains(prisma: PrismaClient, options: VerifyOptions = {}): Promise<VerifyReport> {
  const owners = await listChainOwners(prisma, options.tenantId);
  const walked = owners.filter((o) => o.hasRow || !o.hasChain).map((o) => o.id);
  let total = 0;
  let done = 0;
  if (options.onProgress) {
    // Only with a listener: the sum is one more query, over the heads (one row per tenant).
    const [sum] = await prisma.$queryRawUnsafe<Array<{ total: string }>>(
      'SELECT coalesce(sum(last_seq), 0)::text AS total FROM audit_chain_heads WHERE tenant_id = ANY($1::uuid[])',
      walked,
    );
    total = Number(sum?.total ?? 0);
    options.onProgress(0, total);
  }
  const onEntries = options.onProgress && ((n: number) => options.onProgress!((done += n), total));
  const tenants: TenantVerification[] = [];
  for (const o of owners) {
    tenants.push(
      o.hasRow || !o.hasChain
        ? await verifyTenantChain(prisma, o.id, options.pageSize, onEntries, options.erasureKeys)
        : await verifyOwnerlessChain(prisma, o.id),
    );
  }
  return { ok: tenants.every((t) => t.ok), tenants };
}
