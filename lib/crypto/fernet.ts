/**
 * Fernet, exactly as the public specification defines it
 * (https://github.com/fernet/spec/blob/master/Spec.md), so Python's
 * `cryptography.fernet` reads our tokens and we read its:
 *   token = base64url(0x80 ‖ timestamp(8, big-endian s) ‖ IV(16) ‖ AES-128-CBC-PKCS7(ct) ‖ HMAC-SHA256(32))
 *   key   = base64url(signing key(16) ‖ encryption key(16))
 * Errors never contain key material or plaintext.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const VERSION = 0x80;
const MAX_CLOCK_SKEW_S = 60;

export class InvalidToken extends Error {
  override readonly name = 'InvalidToken';
}

function fromBase64Url(text: string): Buffer | undefined {
  const t = text.trim();
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(t)) return undefined;
  return Buffer.from(t.replace(/=+$/, ''), 'base64url');
}

/** URL-safe base64 with padding, as Python's urlsafe_b64encode writes it. */
function toBase64Url(buf: Buffer): string {
  return buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** A new random key, in the form Python's Fernet.generate_key() gives. */
export function generateFernetKey(): string {
  return toBase64Url(randomBytes(32));
}

export class Fernet {
  readonly #signing: Buffer;
  readonly #encryption: Buffer;

  constructor(key: string) {
    const raw = typeof key === 'string' ? fromBase64Url(key) : undefined;
    if (!raw || raw.length !== 32) throw new Error('Fernet key must be 32 bytes of base64url');
    this.#signing = raw.subarray(0, 16);
    this.#encryption = raw.subarray(16);
  }

  encrypt(plaintext: Buffer | string, now: Date = new Date(), iv: Buffer = randomBytes(16)): string {
    const cipher = createCipheriv('aes-128-cbc', this.#encryption, iv);
    const body = Buffer.concat([cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext), cipher.final()]);
    const head = Buffer.alloc(9);
    head[0] = VERSION;
    head.writeBigUInt64BE(BigInt(Math.floor(now.getTime() / 1000)), 1);
    const signed = Buffer.concat([head, iv, body]);
    const mac = createHmac('sha256', this.#signing).update(signed).digest();
    return toBase64Url(Buffer.concat([signed, mac]));
  }

  /** The token's creation time, after checking its signature. */
  extractTimestamp(token: string): Date {
    return new Date(Number(this.#verify(token).timestamp) * 1000);
  }

  decrypt(token: string, options: { ttlSeconds?: number; now?: Date } = {}): Buffer {
    const { timestamp, iv, body } = this.#verify(token);
    const nowS = BigInt(Math.floor((options.now ?? new Date()).getTime() / 1000));
    if (options.ttlSeconds !== undefined && timestamp + BigInt(options.ttlSeconds) < nowS) throw new InvalidToken('token has expired');
    if (timestamp > nowS + BigInt(MAX_CLOCK_SKEW_S)) throw new InvalidToken('token timestamp is in the future');
    try {
      const decipher = createDecipheriv('aes-128-cbc', this.#encryption, iv);
      return Buffer.concat([decipher.update(body), decipher.final()]);
    } catch {
      throw new InvalidToken('token does not decrypt');
    }
  }

  #verify(token: string): { timestamp: bigint; iv: Buffer; body: Buffer } {
    const raw = typeof token === 'string' ? fromBase64Url(token) : undefined;
    if (!raw || raw.length < 1 + 8 + 16 + 16 + 32 || (raw.length - 57) % 16 !== 0) throw new InvalidToken('token is malformed');
    if (raw[0] !== VERSION) throw new InvalidToken('token has an unknown version');
    const signed = raw.subarray(0, raw.length - 32);
    const mac = createHmac('sha256', this.#signing).update(signed).digest();
    if (!timingSafeEqual(mac, raw.subarray(raw.length - 32))) throw new InvalidToken('token signature does not match the key');
    return { timestamp: raw.readBigUInt64BE(1), iv: raw.subarray(9, 25), body: raw.subarray(25, raw.length - 32) };
  }
}

/** MultiFernet: the first key encrypts, every key decrypts; rotate() re-encrypts under the first. */
export class MultiFernet {
  constructor(readonly keys: Fernet[]) {
    if (keys.length === 0) throw new Error('MultiFernet needs at least one key');
  }

  encrypt(plaintext: Buffer | string, now?: Date): string {
    return this.keys[0]!.encrypt(plaintext, now);
  }

  decrypt(token: string, options: { ttlSeconds?: number; now?: Date } = {}): Buffer {
    for (const k of this.keys) {
      try {
        return k.decrypt(token, options);
      } catch {
        // try the next key
      }
    }
    throw new InvalidToken('token does not decrypt under any key');
  }

  /** As Python's MultiFernet.rotate: decrypt with any key, re-encrypt under the first keeping the original timestamp. */
  rotate(token: string): string {
    for (const k of this.keys) {
      try {
        const timestamp = k.extractTimestamp(token);
        const plain = k.decrypt(token, { now: timestamp });
        return this.keys[0]!.encrypt(plain, timestamp);
      } catch {
        // try the next key
      }
    }
    throw new InvalidToken('token does not decrypt under any key');
  }
}
