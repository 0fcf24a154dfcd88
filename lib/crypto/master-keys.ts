/**
 * MASTER_KEYS: an ordered list "id:base64urlkey,id2:key2". The first key encrypts,
 * all decrypt (MultiFernet). Parse errors say which entry is wrong and why, never
 * the key text (nor an id that failed validation, which may be key text pasted
 * without its id).
 */
import { Fernet, InvalidToken, MultiFernet } from './fernet.js';

export interface MasterKeys {
  current: { id: string; fernet: Fernet };
  /** Every key by id, in MASTER_KEYS order (the current one first). */
  all: Map<string, Fernet>;
  multi: MultiFernet;
}

export const MASTER_KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
/** MASTER_KEY_ID in words, for every message that refuses an id (here and `keys generate --id`). */
export const MASTER_KEY_ID_RULE = '1-32 letters, digits, "_" or "-"';

export function parseMasterKeys(value: string): MasterKeys {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new Error(
      'MASTER_KEYS must list at least one key as id:base64urlkey (generate one with `bulwark keys generate`)',
    );
  }
  const all = new Map<string, Fernet>();
  value.split(',').forEach((rawEntry, i) => {
    const entry = rawEntry.trim();
    const n = i + 1;
    if (entry === '') throw new Error(`MASTER_KEYS entry ${n} is empty (entries are separated by single commas)`);
    const sep = entry.indexOf(':');
    if (sep < 0) throw new Error(`MASTER_KEYS entry ${n}: must be id:base64urlkey (no ":" found)`);
    const id = entry.slice(0, sep);
    if (!MASTER_KEY_ID.test(id)) throw new Error(`MASTER_KEYS entry ${n}: the key id must be ${MASTER_KEY_ID_RULE}`);
    const where = `MASTER_KEYS entry ${n} (id ${id})`;
    if (all.has(id)) throw new Error(`${where}: the id is used by an earlier entry`);
    let fernet: Fernet;
    try {
      fernet = new Fernet(entry.slice(sep + 1).trim());
    } catch {
      throw new Error(
        `${where}: key must be 32 bytes of base64url (44 characters with padding; see \`bulwark keys generate\`)`,
      );
    }
    all.set(id, fernet);
  });
  const [firstId, first] = all.entries().next().value as [string, Fernet];
  return { current: { id: firstId, fernet: first }, all, multi: new MultiFernet([...all.values()]) };
}

/**
 * Decrypt with the key named by `keyId` first when it is configured, then with every
 * key in order. The error names the key id (not secret), never the token or a key.
 */
export function decryptWithKeyId(keys: MasterKeys, token: string, keyId?: string): Buffer {
  const named = keyId !== undefined ? keys.all.get(keyId) : undefined;
  if (named) {
    try {
      return named.decrypt(token);
    } catch (err) {
      if (!(err instanceof InvalidToken)) throw err;
      // fall through to every key: the row may have been rewritten under another
    }
  }
  try {
    return keys.multi.decrypt(token);
  } catch (err) {
    if (!(err instanceof InvalidToken)) throw err;
    throw new InvalidToken(
      `the value does not decrypt under any configured master key${keyId !== undefined ? ` (stored under key id ${keyId})` : ''}`,
    );
  }
}
