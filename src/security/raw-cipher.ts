import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { GatewayError } from '../errors/codes.js';

/**
 * Raw message bodies at rest: AES-256-GCM with a 96-bit random IV per message. A sealed body is
 * `GWE1` | key-id length (1 byte) | key id (ASCII) | IV (12) | tag (16) | ciphertext, so every row
 * names the key it was sealed with (the inbox exposes it as `raw_key_id`) and old keys can be kept
 * for reading while new bodies use the current one. Without a key, bodies are stored as received.
 */
export const SEALED_MAGIC = Buffer.from('GWE1', 'ascii');
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface RawKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

export interface RawCipher {
  /** Key id new bodies are sealed with; undefined when bodies are stored in clear. */
  readonly currentKeyId: string | undefined;
  seal(plain: Buffer): Buffer;
  /** Opens a sealed body with whichever configured key it names; a body in clear passes through. */
  open(stored: Uint8Array): Buffer;
}

/** A body that cannot be opened: its key is not configured, or it was altered. No content in the text. */
export class RawCipherError extends GatewayError {
  override name = 'RawCipherError';
  constructor(message: string) {
    super('GW_RAW_UNREADABLE', message);
  }
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Parses a base64 (or base64url) key of exactly 32 bytes; throws with a reason otherwise. */
export function parseKey(id: string, base64: string): RawKey {
  if (!KEY_ID.test(id)) throw new Error(`encryption key id '${id}' must be 1-64 of A-Z a-z 0-9 . _ -`);
  const key = Buffer.from(
    base64.trim(),
    base64.includes('-') || base64.includes('_') ? 'base64url' : 'base64',
  );
  if (key.length !== 32)
    throw new Error(`encryption key '${id}' must be 32 bytes in base64 (got ${key.length})`);
  return { id, key };
}

export function isSealed(stored: Uint8Array): boolean {
  return stored.length > 5 && Buffer.from(stored.subarray(0, 4)).equals(SEALED_MAGIC);
}

/** `current` seals; every key in `keys` (current included) opens. */
export function createRawCipher(current: RawKey | undefined, previous: readonly RawKey[] = []): RawCipher {
  const keys = new Map<string, Buffer>();
  for (const k of previous) keys.set(k.id, k.key);
  if (current) keys.set(current.id, current.key);
  return {
    currentKeyId: current?.id,
    seal(plain) {
      if (!current) return plain;
      const iv = randomBytes(IV_BYTES);
      const c = createCipheriv('aes-256-gcm', current.key, iv);
      const id = Buffer.from(current.id, 'ascii');
      // The header is authenticated too: a body cannot be moved to another key id unnoticed.
      const header = Buffer.concat([SEALED_MAGIC, Buffer.from([id.length]), id]);
      c.setAAD(header);
      const body = Buffer.concat([c.update(plain), c.final()]);
      return Buffer.concat([header, iv, c.getAuthTag(), body]);
    },
    open(stored) {
      const buf = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
      if (!isSealed(buf)) return buf;
      const idLen = buf[4]!;
      const header = buf.subarray(0, 5 + idLen);
      const id = header.subarray(5).toString('ascii');
      const key = keys.get(id);
      if (!key) throw new RawCipherError(`raw message sealed with key '${id}', which is not configured`);
      const iv = buf.subarray(header.length, header.length + IV_BYTES);
      const tag = buf.subarray(header.length + IV_BYTES, header.length + IV_BYTES + TAG_BYTES);
      const d = createDecipheriv('aes-256-gcm', key, iv);
      d.setAAD(header);
      d.setAuthTag(tag);
      try {
        return Buffer.concat([d.update(buf.subarray(header.length + IV_BYTES + TAG_BYTES)), d.final()]);
      } catch {
        throw new RawCipherError(`raw message sealed with key '${id}' failed authentication (altered)`);
      }
    },
  };
}
