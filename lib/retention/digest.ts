/**
 * A receipt's digest over the ids (or keys) it deleted, in deletion order:
 * d_0 = 64 zeros, d_i = hex(SHA-256(ASCII(d_(i-1)) ‖ UTF-8(id_i))). A chain rather than
 * one hash over a list, so a run killed half-way resumes from the digest stored with
 * the receipt; an auditor holding the list of ids recomputes it with any SHA-256.
 */
import { createHash } from 'node:crypto';

export const EMPTY_DIGEST = '0'.repeat(64);

export function foldDigest(digest: string, ids: Iterable<string>): string {
  let d = digest;
  for (const id of ids) d = createHash('sha256').update(d, 'ascii').update(id, 'utf8').digest('hex');
  return d;
}
