// ECDSA signing and verification of the EIF's COSE_Sign1, with node:crypto.
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import {
  COSE_ALGORITHMS,
  algorithmForCurve,
  coseAlgorithmName,
  encodeCoseSign1,
  pcr0Payload,
  protectedHeader,
  sigStructure,
  type CoseAlgorithm,
  type CoseSign1,
} from '../eif/signature';
import type { CertificateInfo } from '../x509/certificate';

export class SigningError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningError';
  }
}

const KMS_ARN = /^arn:(aws|aws-cn|aws-us-gov):kms:[a-z0-9-]+:\d{12}:key[/:].+$/;

/** Loads a PEM EC private key (SEC1 or PKCS#8) and names its COSE algorithm; refuses anything else. */
export function loadSigningKey(pem: string, where = 'the private key'): { key: KeyObject; alg: CoseAlgorithm } {
  if (KMS_ARN.test(pem.trim())) {
    throw new SigningError(`${where} is a KMS key ARN; signing with KMS keys needs AWS access and is not supported by nitro-dev. Use a PEM EC private key file.`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw new SigningError(`${where} is not a PEM private key: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (key.asymmetricKeyType !== 'ec') throw new SigningError(`${where} is a ${key.asymmetricKeyType} key; EIF signing needs an EC key on P-256, P-384 or P-521`);
  const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
  const alg = algorithmForCurve(curve);
  if (!alg) throw new SigningError(`${where} is on curve ${curve}; EIF signing needs P-256, P-384 or P-521`);
  return { key, alg };
}

/** Signs the statement "PCR0 = pcr0" and returns the untagged COSE_Sign1 bytes. */
export function signPcr0(pcr0: Uint8Array, privateKeyPem: string): Uint8Array {
  const { key, alg } = loadSigningKey(privateKeyPem);
  const prot = protectedHeader(alg);
  const payload = pcr0Payload(pcr0);
  const signature = sign(COSE_ALGORITHMS[alg].hash, sigStructure(prot, payload), { key, dsaEncoding: 'ieee-p1363' });
  return encodeCoseSign1(prot, payload, new Uint8Array(signature));
}

export interface CoseCheck {
  readonly valid: boolean;
  /** Why it is not valid. */
  readonly reason?: string;
  readonly algorithm?: CoseAlgorithm;
}

/**
 * Verifies a COSE_Sign1 as nitro-cli does: the protected `alg` must be the one the certificate's
 * curve implies, and the ECDSA signature must verify with the certificate's public key.
 */
export function verifyCose(cose: CoseSign1, cert: CertificateInfo): CoseCheck {
  const expected = cert.curve ? algorithmForCurve(cert.curve) : undefined;
  if (cert.publicKeyAlgorithm !== 'id-ecPublicKey' || !expected) {
    return { valid: false, reason: `the certificate's key (${cert.publicKeyAlgorithm}${cert.curve ? ` on ${cert.curve}` : ''}) is not an EC key on P-256, P-384 or P-521` };
  }
  const alg = coseAlgorithmName(cose.alg);
  if (alg !== expected) {
    return { valid: false, reason: `the COSE header names algorithm ${String(cose.alg)}, but the certificate's ${cert.curve} key needs ${expected}` };
  }
  const params = COSE_ALGORITHMS[alg];
  if (cose.signature.length !== params.signatureLength) {
    return { valid: false, algorithm: alg, reason: `the ${alg} signature is ${cose.signature.length} bytes, not ${params.signatureLength}` };
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(cert.spki), format: 'der', type: 'spki' });
  } catch (e) {
    return { valid: false, algorithm: alg, reason: `the certificate's public key cannot be read (${e instanceof Error ? e.message : String(e)})` };
  }
  const ok = verify(params.hash, sigStructure(cose.protectedBytes, cose.payload), { key, dsaEncoding: 'ieee-p1363' }, cose.signature);
  return ok ? { valid: true, algorithm: alg } : { valid: false, algorithm: alg, reason: 'the signature does not verify with the certificate\'s public key' };
}
