// The local KMS's own ciphertext blob format (not AWS's, which is not public): what Encrypt and
// GenerateDataKey return and Decrypt takes. It names its key, so Decrypt needs no KeyId:
//
//   "NDKM" (4 bytes) | version 1 (1) | key id, ASCII (36) | IV (12) | AES-256-GCM ciphertext | tag (16)
//
// The additional authenticated data is the 41-byte header followed by the encryption context
// (its pairs sorted by key, as JSON): a blob decrypts only under its own key, with the same
// encryption context, and unaltered. node:crypto does the AES-GCM.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const MAGIC = Buffer.from('NDKM', 'ascii');
const VERSION = 1;
const KEY_ID_LENGTH = 36;
const HEADER = MAGIC.length + 1 + KEY_ID_LENGTH;
const IV = 12;
const TAG = 16;

/** Bytes a blob adds to its plaintext. */
export const BLOB_OVERHEAD = HEADER + IV + TAG;

/** The encryption context as bytes: its pairs sorted by key (code units), as JSON. */
export function contextBytes(context: Readonly<Record<string, string>>): Buffer {
  const pairs = Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify(pairs), 'utf8');
}

export function sealBlob(
  keyId: string,
  material: Uint8Array,
  plaintext: Uint8Array,
  context: Readonly<Record<string, string>>,
): Uint8Array {
  if (keyId.length !== KEY_ID_LENGTH) throw new RangeError(`a key id is ${KEY_ID_LENGTH} characters`);
  const header = Buffer.concat([MAGIC, Buffer.of(VERSION), Buffer.from(keyId, 'ascii')]);
  const iv = randomBytes(IV);
  const cipher = createCipheriv('aes-256-gcm', material, iv);
  cipher.setAAD(Buffer.concat([header, contextBytes(context)]));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return new Uint8Array(Buffer.concat([header, iv, body, cipher.getAuthTag()]));
}

/** The key id a blob names; undefined when the bytes are not a blob of this format. */
export function blobKeyId(blob: Uint8Array): string | undefined {
  if (blob.length < BLOB_OVERHEAD) return undefined;
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (!b.subarray(0, MAGIC.length).equals(MAGIC) || b[MAGIC.length] !== VERSION) return undefined;
  const id = b.subarray(MAGIC.length + 1, HEADER).toString('latin1');
  return /^[0-9a-f-]{36}$/.test(id) ? id : undefined;
}

/** The plaintext of a blob, or undefined when it does not authenticate (another key, context, or altered bytes). */
export function openBlob(
  blob: Uint8Array,
  material: Uint8Array,
  context: Readonly<Record<string, string>>,
): Uint8Array | undefined {
  if (blobKeyId(blob) === undefined) return undefined;
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const decipher = createDecipheriv('aes-256-gcm', material, b.subarray(HEADER, HEADER + IV));
  decipher.setAAD(Buffer.concat([b.subarray(0, HEADER), contextBytes(context)]));
  decipher.setAuthTag(b.subarray(b.length - TAG));
  try {
    return new Uint8Array(Buffer.concat([decipher.update(b.subarray(HEADER + IV, b.length - TAG)), decipher.final()]));
  } catch {
    return undefined;
  }
}
