// EIF signing and signature checks bound to node:crypto. The rules live in the engine
// (src/engine/eif/signature.ts, over src/engine/cose); this file only supplies the crypto port.
import {
  checkCoseSignature,
  readSigningKey,
  signPcr0Statement,
  type CoseCheck,
  type EifSigningKey,
} from '../eif/signature';
import type { CoseSign1 } from '../cose/sign1';
import type { CertificateInfo } from '../x509/certificate';
import { nodeCrypto } from './nodeCrypto';

export { SigningError, type CoseCheck } from '../eif/signature';

/** Loads a PEM EC private key (SEC1 or PKCS#8) and names its COSE algorithm; refuses anything else. */
export function loadSigningKey(pem: string, where = 'the private key'): EifSigningKey {
  return readSigningKey(nodeCrypto, pem, where);
}

/** Signs the statement "PCR0 = pcr0" and returns the untagged COSE_Sign1 bytes. */
export function signPcr0(pcr0: Uint8Array, privateKeyPem: string): Uint8Array {
  return signPcr0Statement(readSigningKey(nodeCrypto, privateKeyPem), pcr0);
}

/** checkCoseSignature with node:crypto. */
export function verifyCose(cose: CoseSign1, cert: CertificateInfo): CoseCheck {
  return checkCoseSignature(nodeCrypto, cose, cert);
}
