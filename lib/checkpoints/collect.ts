/**
 * The store's side of `verify --checkpoints`: every published checkpoint of the tenants
 * asked for, read and checked on its own (its shape, its signature, that it lies at the
 * key of the tenant and hour it signs). What passes goes on to be compared with the
 * chain in the database (compare.ts); what fails is a problem already.
 */
import type { Storage } from '../clients/storage.js';
import { checkSignature, decodeCheckpoint, parseCheckpointKey, type CheckpointDocument } from './format.js';
import type { CheckpointPublicKey } from './keys.js';
import { eachInParallel } from './parallel.js';
import { listAllCheckpointKeys, listCheckpointKeys, readCheckpoint } from './store.js';

export type CheckpointProblemKind =
  'malformed' | 'unknown-key' | 'bad-signature' | 'misplaced' | 'rewritten' | 'truncated' | 'missing' | 'no-tenant';

export interface CheckpointProblem {
  kind: CheckpointProblemKind;
  /** The checkpoint's object key, when one checkpoint is concerned. */
  key?: string;
  detail: string;
}

export interface TenantCollection {
  tenantId: string;
  /** Every listed key's hour (whether or not its checkpoint passed): what is not missing. */
  hours: Set<string>;
  /** Checkpoints whose signature verified, oldest first. */
  valid: Array<{ key: string; doc: CheckpointDocument }>;
  problems: CheckpointProblem[];
}

/** How many checkpoint objects are read at once. */
const PARALLEL = 8;

/**
 * Which keys each tenant has: of one tenant (listed under its prefix, from `since`),
 * or of every tenant found under `checkpoints/` and every one of `tenantIds`.
 */
export async function listTenantKeys(
  storage: Storage,
  scope: { tenantId: string } | { tenantIds: readonly string[] },
  since?: string,
): Promise<Map<string, string[]>> {
  if ('tenantId' in scope) return new Map([[scope.tenantId, await listCheckpointKeys(storage, scope.tenantId, since)]]);
  const byTenant = new Map<string, string[]>(scope.tenantIds.map((id) => [id, []]));
  for (const key of await listAllCheckpointKeys(storage, since)) {
    const id = key.split('/')[1] ?? '';
    let list = byTenant.get(id);
    if (!list) byTenant.set(id, (list = []));
    list.push(key);
  }
  return new Map([...byTenant].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Read and check every listed checkpoint. */
export async function collectCheckpoints(
  storage: Storage,
  keysByTenant: ReadonlyMap<string, readonly string[]>,
  keys: readonly CheckpointPublicKey[],
): Promise<TenantCollection[]> {
  const out: TenantCollection[] = [];
  const work: Array<{ t: TenantCollection; key: string }> = [];
  for (const [tenantId, listed] of keysByTenant) {
    const t: TenantCollection = { tenantId, hours: new Set(), valid: [], problems: [] };
    out.push(t);
    for (const key of listed) {
      const parsed = parseCheckpointKey(key);
      if (!parsed) {
        t.problems.push({
          kind: 'malformed',
          key,
          detail: 'an object under checkpoints/ that is not a checkpoint key',
        });
        continue;
      }
      t.hours.add(parsed.hour);
      work.push({ t, key });
    }
  }
  const docs = new Map<string, CheckpointDocument>();
  await eachInParallel(work, PARALLEL, async ({ t, key }) => {
    const doc = await checkOne(storage, key, keys, t.problems);
    if (doc) docs.set(key, doc);
  });
  // In key order (oldest hour first), whatever order the lanes finished in.
  for (const { t, key } of work) {
    const doc = docs.get(key);
    if (doc) t.valid.push({ key, doc });
  }
  return out;
}

async function checkOne(
  storage: Storage,
  key: string,
  keys: readonly CheckpointPublicKey[],
  problems: CheckpointProblem[],
): Promise<CheckpointDocument | undefined> {
  const body = await readCheckpoint(storage, key);
  // Listed, then gone before it was read: deleted while we looked. Its hour is missing.
  if (!body) {
    problems.push({ kind: 'missing', key, detail: 'listed but gone when read (deleted meanwhile?)' });
    return undefined;
  }
  const decoded = decodeCheckpoint(body);
  if (!decoded.ok) {
    problems.push({ kind: 'malformed', key, detail: `not a valid checkpoint: ${decoded.problem}` });
    return undefined;
  }
  const doc = decoded.doc;
  const sig = checkSignature(doc, keys);
  if (sig === 'unknown-key') {
    problems.push({
      kind: 'unknown-key',
      key,
      detail: `signed with key ${doc.keyId}, which is neither AUDIT_CHECKPOINT_KEY's nor in AUDIT_CHECKPOINT_PUBLIC_KEYS`,
    });
    return undefined;
  }
  if (sig === 'bad-signature') {
    problems.push({
      kind: 'bad-signature',
      key,
      detail: `the signature does not verify under key ${doc.keyId}: the checkpoint was altered or forged`,
    });
    return undefined;
  }
  const where = parseCheckpointKey(key)!;
  if (doc.tenant !== where.tenantId || doc.hour !== where.hour || doc.at.slice(0, 13) !== doc.hour) {
    problems.push({
      kind: 'misplaced',
      key,
      detail: `signed for tenant ${doc.tenant}, hour ${doc.hour} (read at ${doc.at}) but stored at this key: copied or moved`,
    });
    return undefined;
  }
  return doc;
}
