import { X509Certificate, createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
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

const certs = new Map<string, X509Certificate | null>();

function x509(der: Uint8Array): X509Certificate | null {
  const id = Buffer.from(der).toString('latin1');
  let cert = certs.get(id);
  if (cert === undefined) {
    try {
      cert = new X509Certificate(der);
    } catch {
      cert = null;
    }
    if (certs.size >= 1024) certs.clear();
    certs.set(id, cert);
  }
  return cert;
}

/** The attestation verifier's cryptography, from node:crypto (OpenSSL). Keys and certificates are parsed once (bounded caches). */
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
