/**
 * The content check of one stored entry, for both canonical forms and for erased
 * entries (docs/jobs/audit-write.md § Verification, § Format 2, § Erased entries):
 *
 * - format 1, not erased: the stored hash is the hash of the row's canonical form;
 * - format 1, erased: an erasure record keeps the row's hash, the hash of the row as it
 *   now is (personal fields null) equals the record's redacted_hash, and the record's
 *   signature verifies;
 * - format 2: the stored hash is the hash of the row's canonical form (which covers
 *   pd_digest); its personal data, when present, has that digest; when absent although
 *   pd_digest is set, a signed erasure record for the entry must say it was erased.
 */
import type { ErasurePublicKey, ErasureRecord } from '../privacy/erasure-record.js';
import { erasureSignatureProblem } from '../privacy/erasure-record.js';
import { chainHash, type ChainEntry } from './chain.js';
import { personalDigest, personalValuesOfRow } from './personal.js';

/** An entry's stored personal data row (format 2), when it has one. */
export interface StoredPersonal {
  salt: string;
  row: Record<string, unknown>;
}

/**
 * Why the entry's content does not verify, or null when it does. `erased` is set to
 * true for an entry verified through its erasure record.
 * @param keys the public keys erasure records may be signed with; undefined: signatures
 *   are not checked (only the hashes).
 */
export function contentProblem(
  entry: ChainEntry,
  prevHash: string,
  storedHash: string,
  personal: StoredPersonal | undefined,
  erasure: ErasureRecord | undefined,
  keys: readonly ErasurePublicKey[] | undefined,
  out: { erased: boolean },
): string | null {
  out.erased = false;
  const recordProblem = () =>
    erasure!.hash !== storedHash
      ? "the erasure record's hash is not the entry's"
      : keys
        ? erasureSignatureProblem(erasure!, keys)
        : null;
  if ((entry.format ?? 1) === 1) {
    if (!erasure)
      return chainHash(entry, prevHash) === storedHash ? null : "stored hash does not match the entry's content";
    if (erasure.redactedHash === null) return 'the erasure record of a format-1 entry has no redacted hash';
    if (chainHash(entry, prevHash) !== erasure.redactedHash)
      return "the erased entry's remaining content does not match its erasure record";
    out.erased = true;
    return recordProblem();
  }
  if (chainHash(entry, prevHash) !== storedHash) return "stored hash does not match the entry's content";
  const digest = entry.pdDigest ?? null;
  if (personal) {
    if (digest === null) return 'personal data stored for an entry without pd_digest';
    if (personalDigest(personalValuesOfRow(personal.row), personal.salt) !== digest)
      return 'personal data does not match pd_digest';
    return null;
  }
  if (digest === null) return null;
  if (!erasure) return 'personal data missing, and no erasure record says it was erased';
  if (erasure.redactedHash !== null) return 'the erasure record of a format-2 entry has a redacted hash';
  out.erased = true;
  return recordProblem();
}
