/**
 * Fernet, exactly as the public specification defines it
 * (https://github.com/fernet/spec/blob/master/Spec.md), so Python's
 * `cryptography.fernet` reads our tokens and we read its:
 *   token = base64url(0x80 ‖ timestamp(8, big-endian s) ‖ IV(16) ‖ AES-128-CBC-PKCS7(ct) ‖ HMAC-SHA256(32))
 *           with padding; the HMAC (signing key) covers everything before it
 *   key   = base64url(signing key(16) ‖ encryption key(16)), 44 characters with padding
 * Time checks follow cryptography.fernet: with a ttl, a token older than ttl or more
 * than 60 s in the future is refused; without one, neither is checked.
 * Errors never contain key material, tokens or plaintext.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const VERSION = 0x80;
const MAX_CLOCK_SKEW_S = 60n;
const HEADER = 1 + 8 + 16; // version, timestamp, IV
const MAC = 32;
const BLOCK = 16;
/** base64url with the padding Python's urlsafe_b64encode writes; nothing else allowed. */
const B64URL_PADDED = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$/;

/** A token that is malformed, forged, expired, or not made with this key. */
export class InvalidToken extends Error {
  override readonly name = 'InvalidToken';
}

export interface DecryptOptions {
  /** Refuse tokens older than this many seconds (and, as Python does, more than 60 s in the future). */
  ttlSeconds?: number;
  /** The clock to judge ttl against; defaults to now. */
  now?: Date;
}

function decodeB64Url(text: unknown): Buffer | undefined {
  if (typeof text !== 'string' || !B64URL_PADDED.test(text)) return undefined;
  return Buffer.from(text, 'base64url');
}

/** URL-safe base64 with padding, as Python's urlsafe_b64encode writes it. */
function encodeB64Url(buf: Buffer): string {
  return buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

function secondsOf(date: Date, what: string): bigint {
  const ms = date instanceof Date ? date.getTime() : NaN;
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${what} must be a valid date after 1970-01-01`);
  return BigInt(Math.floor(ms / 1000));
}

/** A new random key, in the form Python's Fernet.generate_key() gives. */
export function generateFernetKey(): string {
  return encodeB64Url(randomBytes(32));
}

interface Parsed {
  timestamp: bigint;
  raw: Buffer;
}

/** Base64, version and length checks: everything that needs no key. */
function parseToken(token: string): Parsed {
  const raw = decodeB64Url(token);
  if (!raw) throw new InvalidToken('token is not url-safe base64 with padding');
  if (raw.length === 0 || raw[0] !== VERSION) throw new InvalidToken('token has an unknown version');
  if (raw.length < HEADER + BLOCK + MAC) throw new InvalidToken('token is too short');
  if ((raw.length - HEADER - MAC) % BLOCK !== 0)
    throw new InvalidToken('token ciphertext is not a whole number of blocks');
  return { timestamp: raw.readBigUInt64BE(1), raw };
}

// Module-private entry points used by MultiFernet; the key bytes stay in private fields.
const OPEN = Symbol('open');
const SEAL = Symbol('seal');

export class Fernet {
  readonly #signing: Buffer;
  readonly #encryption: Buffer;

  constructor(keyB64url: string) {
    const raw = decodeB64Url(keyB64url);
    if (!raw)
      throw new Error(
        'Fernet key must be 32 bytes of url-safe base64 with padding (44 characters, as generateFernetKey() makes)',
      );
    if (raw.length !== 32)
      throw new Error(`Fernet key must be 32 bytes of url-safe base64 (it decodes to ${raw.length} bytes)`);
    this.#signing = Buffer.from(raw.subarray(0, 16));
    this.#encryption = Buffer.from(raw.subarray(16));
  }

  encrypt(plaintext: Buffer | string, now: Date = new Date(), iv: Buffer = randomBytes(16)): string {
    if (!Buffer.isBuffer(iv) || iv.length !== 16) throw new RangeError('Fernet IV must be 16 bytes');
    const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
    if (!Buffer.isBuffer(data)) throw new TypeError('Fernet plaintext must be a Buffer or a string');
    return this[SEAL](data, secondsOf(now, 'encryption time'), iv);
  }

  decrypt(token: string, options: DecryptOptions = {}): Buffer {
    const { ttlSeconds, now } = options;
    if (ttlSeconds !== undefined && !(Number.isSafeInteger(ttlSeconds) && ttlSeconds >= 0)) {
      throw new RangeError('ttlSeconds must be a non-negative integer');
    }
    const parsed = parseToken(token);
    const plain = this[OPEN](parsed);
    if (ttlSeconds !== undefined) {
      const nowS = secondsOf(now ?? new Date(), 'now');
      if (parsed.timestamp + BigInt(ttlSeconds) < nowS) throw new InvalidToken('token has expired');
      if (nowS + MAX_CLOCK_SKEW_S < parsed.timestamp)
        throw new InvalidToken('token timestamp is too far in the future');
    }
    return plain;
  }

  /** The token's creation time (whole seconds), after checking its signature; as Python's extract_timestamp. */
  extractTimestamp(token: string): Date {
    const parsed = parseToken(token);
    this.#verify(parsed.raw);
    return new Date(Number(parsed.timestamp) * 1000);
  }

  #verify(raw: Buffer): void {
    const mac = createHmac('sha256', this.#signing)
      .update(raw.subarray(0, raw.length - MAC))
      .digest();
    if (!timingSafeEqual(mac, raw.subarray(raw.length - MAC)))
      throw new InvalidToken('token signature does not match the key');
  }

  /** Signature check and decryption, no time checks (as Python's _decrypt_data with no ttl). */
  [OPEN](parsed: Parsed): Buffer {
    this.#verify(parsed.raw);
    const { raw } = parsed;
    try {
      const decipher = createDecipheriv('aes-128-cbc', this.#encryption, raw.subarray(9, HEADER));
      return Buffer.concat([decipher.update(raw.subarray(HEADER, raw.length - MAC)), decipher.final()]);
    } catch {
      throw new InvalidToken('token does not decrypt (bad padding)');
    }
  }

  [SEAL](data: Buffer, timestamp: bigint, iv: Buffer): string {
    const cipher = createCipheriv('aes-128-cbc', this.#encryption, iv);
    const head = Buffer.alloc(9);
    head[0] = VERSION;
    head.writeBigUInt64BE(timestamp, 1);
    const signed = Buffer.concat([head, iv, cipher.update(data), cipher.final()]);
    const mac = createHmac('sha256', this.#signing).update(signed).digest();
    return encodeB64Url(Buffer.concat([signed, mac]));
  }
}

/** MultiFernet: the first key encrypts, every key decrypts; rotate() re-encrypts under the first. */
export class MultiFernet {
  readonly keys: readonly Fernet[];

  constructor(keys: Fernet[]) {
    if (!Array.isArray(keys) || keys.length === 0) throw new Error('MultiFernet needs at least one key');
    if (!keys.every((k) => k instanceof Fernet)) throw new TypeError('MultiFernet keys must be Fernet instances');
    this.keys = [...keys];
  }

  encrypt(plaintext: Buffer | string, now?: Date, iv?: Buffer): string {
    return this.keys[0]!.encrypt(plaintext, now, iv);
  }

  decrypt(token: string, options: DecryptOptions = {}): Buffer {
    for (const k of this.keys) {
      try {
        return k.decrypt(token, options);
      } catch (err) {
        if (!(err instanceof InvalidToken)) throw err;
      }
    }
    throw new InvalidToken('token does not decrypt under any key');
  }

  /**
   * As Python's MultiFernet.rotate: decrypt with whichever key can (no ttl or clock-skew
   * check), then encrypt again under the first key with a fresh IV, keeping the
   * token's original timestamp.
   */
  rotate(token: string): string {
    const parsed = parseToken(token);
    for (const k of this.keys) {
      let plain: Buffer;
      try {
        plain = k[OPEN](parsed);
      } catch (err) {
        if (err instanceof InvalidToken) continue;
        throw err;
      }
      return this.keys[0]![SEAL](plain, parsed.timestamp, randomBytes(16));
    }
    throw new InvalidToken('token does not decrypt under any key');
  }
}
