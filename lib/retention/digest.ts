/**
 * A receipt's digest over the ids (or keys) it deleted, in deletion order:
 * d_0 = 64 zeros, d_i = hex(SHA-256(ASCII(d_(i-1)) ‖ UTF-8(id_i))). A chain rather than
 * one hash over a list, so a run killed half-way resumes from the digest stored with
 * the receipt; an auditor holding the list of ids recomputes it with any SHA-256.
 */
import { createHash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';

export const EMPTY_DIGEST = '0'.repeat(64);

export function foldDigest(digest: string, ids: Iterable<string>): string {
  let d = digest;
  for (const id of ids) d = createHash('sha256').update(d, 'ascii').update(id, 'utf8').digest('hex');
  return d;
}

/** Ids folded per turn of the event loop by foldDigestYielding: about 1-2 ms of hashing. */
const FOLD_SLICE = 500;

/**
 * foldDigest in slices, yielding the event loop between them: a purge batch of 5,000 ids
 * held it for 10-20 ms in one piece, and the audit appends of the same worker process
 * waited behind it (bench:retention's event loop delay).
 */
export async function foldDigestYielding(digest: string, ids: readonly string[]): Promise<string> {
  let d = digest;
  for (let i = 0; i < ids.length; i += FOLD_SLICE) {
    if (i > 0) await nextTurn();
    d = foldDigest(d, ids.slice(i, i + FOLD_SLICE));
  }
  return d;
}
