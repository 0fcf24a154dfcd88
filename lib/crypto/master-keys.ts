/**
 * MASTER_KEYS: an ordered list "id:base64urlkey,id2:key2". The first key encrypts,
 * all decrypt (MultiFernet). Parse errors say which entry is wrong and why, never
 * the key text.
 */
import { Fernet, InvalidToken, MultiFernet } from './fernet.js';

export interface MasterKeys {
  current: { id: string; fernet: Fernet };
  all: Map<string, Fernet>;
  multi: MultiFernet;
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

export function parseMasterKeys(value: string): MasterKeys {
  const entries = value.split(',').map((e) => e.trim()).filter(Boolean);
  if (entries.length === 0) throw new Error('must list at least one key as id:base64urlkey');
  const all = new Map<string, Fernet>();
  entries.forEach((entry, i) => {
    const sep = entry.indexOf(':');
    const id = sep > 0 ? entry.slice(0, sep) : '';
    const where = `entry ${i + 1}${KEY_ID.test(id) ? ` (id ${id})` : ''}`;
    if (!KEY_ID.test(id)) throw new Error(`${where}: must be id:key with an id of 1-32 letters, digits, _ or -`);
    if (all.has(id)) throw new Error(`${where}: the id is used twice`);
    try {
      all.set(id, new Fernet(entry.slice(sep + 1)));
    } catch {
      throw new Error(`${where}: key must be 32 bytes of base64url (see \`bulwark keys generate\`)`);
    }
  });
  const [firstId, first] = [...all.entries()][0]!;
  return { current: { id: firstId, fernet: first }, all, multi: new MultiFernet([...all.values()]) };
}

/** Decrypt with the key named by `keyId` when it is configured, else with any key. */
export function decryptWithKeyId(keys: MasterKeys, token: string, keyId?: string): Buffer {
  const named = keyId ? keys.all.get(keyId) : undefined;
  if (named) {
    try {
      return named.decrypt(token);
    } catch {
      // fall through to every key: the row may have been rewritten under another
    }
  }
  try {
    return keys.multi.decrypt(token);
  } catch {
    throw new InvalidToken(`the value does not decrypt under any configured master key${keyId ? ` (stored under key id ${keyId})` : ''}`);
  }
}
