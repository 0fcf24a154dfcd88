/**
 * Backup keys from configuration: BACKUP_KEYS holds age identities (the first
 * encrypts, all decrypt), BACKUP_SIGNING_KEY the manifest signing keys (the first
 * signs, all verify). Only public things leave this module: the recipient
 * (`age1…`) a backup was encrypted to and the signing key's id, both recorded in the
 * manifest so an operator knows which key a backup needs. Key material is never
 * written to the bucket, a log line, job data or an error message.
 */
import { createHash } from 'node:crypto';
import { identityToRecipient } from 'age-encryption';
import type { Config } from '../config.js';
import { ConfigError } from '../errors.js';
import { splitKeyList } from './key-format.js';

export interface BackupKeys {
  /** Every identity, in configured order (decryption tries them all). */
  readonly identities: readonly string[];
  /** Public recipient of each identity, same order. recipients[0] encrypts. */
  readonly recipients: readonly string[];
}

export interface SigningKey {
  /** First 16 hex digits of SHA-256 of the key: names it without revealing it. */
  readonly id: string;
  readonly secret: Buffer;
}

const cache = new WeakMap<Config, Promise<BackupKeys>>();

/** BACKUP_KEYS parsed, or a ConfigError saying backups need it. */
export function backupKeys(config: Pick<Config, 'backupKeys'> & object): Promise<BackupKeys> {
  const hit = cache.get(config as Config);
  if (hit) return hit;
  if (!config.backupKeys) {
    throw new ConfigError([{ path: 'BACKUP_KEYS', message: 'is required for backups; generate one with `age-keygen` (docs/DATA_MANAGEMENT.md)' }]);
  }
  const identities = splitKeyList(config.backupKeys);
  const parsed = Promise.all(identities.map((i) => identityToRecipient(i))).then((recipients) => ({ identities, recipients }));
  cache.set(config as Config, parsed);
  return parsed;
}

/** BACKUP_SIGNING_KEY parsed, or a ConfigError. */
export function signingKeys(config: Pick<Config, 'backupSigningKeys'>): SigningKey[] {
  if (!config.backupSigningKeys) {
    throw new ConfigError([{ path: 'BACKUP_SIGNING_KEY', message: 'is required for backups; generate one with `openssl rand -base64 32`' }]);
  }
  return config.backupSigningKeys
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((k) => ({ id: createHash('sha256').update(k).digest('hex').slice(0, 16), secret: Buffer.from(k, 'utf8') }));
}
