// The engine's crypto port (src/engine/cose/port.ts) over node:crypto (OpenSSL): the one place where
// EIF signatures and attestation documents meet ECDSA and X.509. Public keys and certificates are
// parsed once (bounded caches: a long-lived verifier sees the same chain again and again).
import {
  X509Certificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import type { CryptoPort, EcSigningKey } from '../cose/port';

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** A map that forgets everything when it is full (parsing is cheap next to a verification, memory is not free). */
function bounded<T>(parse: (der: Uint8Array) => T, limit = 1024): (der: Uint8Array) => T {
  const cache = new Map<string, T>();
  return (der) => {
    const id = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1');
    let value = cache.get(id);
    if (value === undefined) {
      value = parse(der);
      if (cache.size >= limit) cache.clear();
      cache.set(id, value);
    }
    return value;
  };
}

/** The public key of a DER SubjectPublicKeyInfo, or why it cannot be read. */
const publicKey = bounded((spki): KeyObject | { error: string } => {
  try {
    return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (e) {
    return { error: errorText(e) };
  }
});

const x509 = bounded((der): X509Certificate | null => {
  try {
    return new X509Certificate(der);
  } catch {
    return null;
  }
});

export const nodeCrypto: CryptoPort = {
  verifyEcdsa(hash, spki, data, signature, encoding) {
    const key = publicKey(spki);
    if ('error' in key || key.asymmetricKeyType !== 'ec') return false;
    try {
      return verify(hash, data, { key, dsaEncoding: encoding === 'p1363' ? 'ieee-p1363' : 'der' }, signature);
    } catch {
      return false;
    }
  },
  publicKeyError(spki) {
    const key = publicKey(spki);
    return 'error' in key ? key.error : undefined;
  },
  readPrivateKey(pem): EcSigningKey {
    const key = createPrivateKey(pem);
    return {
      keyType: String(key.asymmetricKeyType),
      curve: key.asymmetricKeyDetails?.namedCurve ?? '',
      sign: (hash, data) => new Uint8Array(sign(hash, data, { key, dsaEncoding: 'ieee-p1363' })),
    };
  },
  sha256: (data) => new Uint8Array(createHash('sha256').update(data).digest()),
  verifyCertificateSignature(certificate, issuer) {
    const child = x509(certificate);
    const parent = x509(issuer);
    if (!child || !parent) return false;
    try {
      return child.verify(parent.publicKey);
    } catch {
      return false;
    }
  },
};
