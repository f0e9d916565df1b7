// A public key file as enclave SDKs and OpenSSL write it, turned into the DER SubjectPublicKeyInfo an
// attestation document's public_key carries (what KMS's Recipient flow expects, spec attestation.md
// section 6). Parsing and conversion are node:crypto's; this file only decides which form it was given.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { open } from 'node:fs/promises';
import { NSM_MAX_ATTESTATION_FIELD_BYTES } from '../nsm/device';

/** The largest key file read: a PEM file wraps at most 1024 DER bytes, with room for comments. */
export const MAX_PUBLIC_KEY_FILE_BYTES = 64 * 1024;

/** A key file that holds no usable public key; the message says what it holds instead. */
export class PublicKeyFileError extends Error {
  constructor(
    message: string,
    /** True when the file holds no key at all (as opposed to a private, truncated or oversized one). */
    readonly notAKey = false,
  ) {
    super(message);
    this.name = 'PublicKeyFileError';
  }
}

const PUBLIC_LABELS = new Set(['PUBLIC KEY', 'RSA PUBLIC KEY']);

function spkiOf(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ type: 'spki', format: 'der' }));
}

const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The length a DER element starting at 0 says it has (header included), or undefined when unreadable. */
function derDeclaredLength(bytes: Uint8Array): number | undefined {
  if (bytes.length < 2) return undefined;
  const first = bytes[1] as number;
  if (first < 0x80) return 2 + first;
  const count = first & 0x7f;
  if (count === 0 || count > 4 || bytes.length < 2 + count) return undefined;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + (bytes[2 + i] as number);
  return 2 + count + length;
}

function isPrivateDer(bytes: Buffer): boolean {
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      createPrivateKey({ key: bytes, format: 'der', type });
      return true;
    } catch {
      // not this form
    }
  }
  return false;
}

const PUBOUT = (name: string): string => `openssl pkey -in ${name} -pubout -out public.pem`;

function fromPem(text: string, name: string): Uint8Array {
  const labels = [...text.matchAll(/-----BEGIN ([^-\r\n]*)-----/g)].map((m) => m[1] as string);
  if (labels.length !== 1) {
    throw new PublicKeyFileError(
      `${name} holds ${labels.length} PEM blocks (${labels.join(', ')}); give a file with one public key`,
    );
  }
  const label = labels[0] as string;
  if (label.includes('PRIVATE KEY')) {
    throw new PublicKeyFileError(
      `${name} holds a private key (PEM "${label}"), which never goes into an attestation document; ` +
        `give its public key instead: ${PUBOUT(name)}`,
    );
  }
  if (!PUBLIC_LABELS.has(label)) {
    const hint =
      label === 'CERTIFICATE' ? `; take the certificate's key with: openssl x509 -in ${name} -pubkey -noout` : '';
    throw new PublicKeyFileError(
      `${name} holds a PEM "${label}" block, not a public key ("BEGIN PUBLIC KEY" or "BEGIN RSA PUBLIC KEY")${hint}`,
    );
  }
  try {
    return spkiOf(createPublicKey({ key: text, format: 'pem' }));
  } catch (e) {
    throw new PublicKeyFileError(`${name}: its PEM "${label}" block does not hold a readable key: ${reason(e)}`);
  }
}

function fromDer(bytes: Buffer, name: string): Uint8Array {
  const declared = bytes[0] === 0x30 ? derDeclaredLength(bytes) : undefined;
  if (declared !== undefined && declared > bytes.length) {
    throw new PublicKeyFileError(
      `${name} is truncated: its DER SEQUENCE declares ${declared} bytes but the file has ${bytes.length}`,
    );
  }
  if (declared !== undefined && declared < bytes.length) {
    throw new PublicKeyFileError(
      `${name} has ${bytes.length - declared} bytes after its DER SEQUENCE of ${declared} bytes; ` +
        `give a file holding only the key`,
    );
  }
  // node:crypto derives a public key from a private one: look for a private key first.
  if (isPrivateDer(bytes)) {
    throw new PublicKeyFileError(
      `${name} holds a private key (DER), which never goes into an attestation document; ` +
        `give its public key instead: openssl pkey -inform DER -in ${name} -pubout -out public.pem`,
    );
  }
  for (const type of ['spki', 'pkcs1'] as const) {
    try {
      return spkiOf(createPublicKey({ key: bytes, format: 'der', type }));
    } catch {
      // not this form
    }
  }
  throw new PublicKeyFileError(
    `${name} is not a public key: neither PEM ("BEGIN PUBLIC KEY", "BEGIN RSA PUBLIC KEY") ` +
      `nor DER SubjectPublicKeyInfo (or PKCS#1 RSAPublicKey)`,
    true,
  );
}

/**
 * The DER SubjectPublicKeyInfo of a public key given as DER SPKI, DER PKCS#1 RSAPublicKey, PEM
 * "PUBLIC KEY" or PEM "RSA PUBLIC KEY" (PKCS#1, converted). Anything else (no key, a private key,
 * a certificate, several PEM blocks, truncated DER, a key whose SPKI exceeds the NSM's 1024-byte
 * public_key) throws a PublicKeyFileError naming `name`.
 */
export function publicKeySpki(bytes: Uint8Array, name: string): Uint8Array {
  if (bytes.length === 0) throw new PublicKeyFileError(`${name} is empty`);
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const text = buffer.toString('latin1');
  const spki = text.includes('-----BEGIN ') ? fromPem(text, name) : fromDer(buffer, name);
  if (spki.length > NSM_MAX_ATTESTATION_FIELD_BYTES) {
    throw new PublicKeyFileError(
      `${name}: the key's DER SubjectPublicKeyInfo is ${spki.length} bytes, over the ` +
        `${NSM_MAX_ATTESTATION_FIELD_BYTES} bytes the NSM's public_key holds (an RSA-4096 key's is 550)`,
    );
  }
  return spki;
}

/** Reads a public key file (at most MAX_PUBLIC_KEY_FILE_BYTES) and returns its DER SubjectPublicKeyInfo. */
export async function readPublicKeyFile(file: string, name: string = file): Promise<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(MAX_PUBLIC_KEY_FILE_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_PUBLIC_KEY_FILE_BYTES) {
      throw new PublicKeyFileError(
        `${name} is over ${MAX_PUBLIC_KEY_FILE_BYTES} bytes: no public key file is that large ` +
          `(the NSM's public_key holds at most ${NSM_MAX_ATTESTATION_FIELD_BYTES} bytes)`,
      );
    }
    return publicKeySpki(buffer.subarray(0, length), name);
  } finally {
    await handle.close();
  }
}
