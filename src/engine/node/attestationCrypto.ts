import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { AttestationCrypto } from '../attestation/verify';

const keys = new Map<string, KeyObject | null>();

function publicKey(spki: Uint8Array): KeyObject | null {
  const id = Buffer.from(spki).toString('latin1');
  let key = keys.get(id);
  if (key === undefined) {
    try {
      key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    } catch {
      key = null;
    }
    if (keys.size >= 1024) keys.clear();
    keys.set(id, key);
  }
  return key;
}

/** The attestation verifier's cryptography, from node:crypto (OpenSSL). Public keys are parsed once. */
export const nodeAttestationCrypto: AttestationCrypto = {
  sha256: (data) => new Uint8Array(createHash('sha256').update(data).digest()),
  verifyEcdsa(hash, spki, data, signature, encoding) {
    const key = publicKey(spki);
    if (!key || key.asymmetricKeyType !== 'ec') return false;
    try {
      return verify(hash, data, { key, dsaEncoding: encoding === 'p1363' ? 'ieee-p1363' : 'der' }, signature);
    } catch {
      return false;
    }
  },
};
