// The EIF signature section (type 4): a CBOR array of entries {signing_certificate, signature},
// both serialized as arrays of uints; `signature` holds an untagged COSE_Sign1 whose payload states
// "PCR0 has value X". Encoding is byte-exact; decoding accepts what nitro-cli accepts. The COSE_Sign1
// itself and the ECDSA behind it are src/engine/cose's; this file holds the EIF's rules around them.
import {
  CoseFormatError,
  algorithmForCurve,
  coseAlgorithmName,
  decodeSign1,
  signCoseSign1,
  verifyCoseSign1,
  COSE_ALGORITHMS,
  type CoseAlgorithm,
  type CoseFault,
  type CoseSign1,
} from '../cose/sign1';
import type { CryptoPort, EcSigningKey } from '../cose/port';
import { concatBytes, equalBytes } from '../util/bytes';
import { cborArrayHead, cborMapHead, cborText, cborUint, cborUintArray, decodeCbor } from '../util/cbor';
import type { CertificateInfo } from '../x509/certificate';

/** The signed statement: {"register_index": 0, "register_value": [PCR0 bytes as uints]}. */
export function pcr0Payload(pcr0: Uint8Array): Uint8Array {
  return concatBytes(
    cborMapHead(2),
    cborText('register_index'),
    cborUint(0),
    cborText('register_value'),
    cborUintArray(pcr0),
  );
}

export function encodeSignatureSection(certificateFile: Uint8Array, coseSign1: Uint8Array): Uint8Array {
  return concatBytes(
    cborArrayHead(1),
    cborMapHead(2),
    cborText('signing_certificate'),
    cborUintArray(certificateFile),
    cborText('signature'),
    cborUintArray(coseSign1),
  );
}

export interface SignatureEntry {
  /** The certificate file as stored (PEM text bytes). */
  readonly certificateFile: Uint8Array;
  readonly coseBytes: Uint8Array;
}

/** A problem with the contents of a signature section or COSE structure. */
export class SignatureFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SignatureFormatError';
  }
}

function asByteArray(value: unknown, what: string): Uint8Array {
  if (Array.isArray(value)) {
    const out = new Uint8Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) {
        throw new SignatureFormatError(`${what}[${i}] is ${String(v)}, not a byte (0-255)`);
      }
      out[i] = v;
    }
    return out;
  }
  throw new SignatureFormatError(`${what} is not an array of bytes`);
}

function decode(bytes: Uint8Array, what: string): unknown {
  try {
    return decodeCbor(bytes);
  } catch (e) {
    throw new SignatureFormatError(`${what} is not valid CBOR: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Decodes a signature section into its entries (AWS tools write exactly one). */
export function decodeSignatureSection(bytes: Uint8Array): SignatureEntry[] {
  const value = decode(bytes, 'the signature section');
  if (!Array.isArray(value)) throw new SignatureFormatError('the signature section is not a CBOR array');
  if (value.length === 0) throw new SignatureFormatError('the signature section holds no entries');
  return value.map((entry, i) => {
    if (!(entry instanceof Map)) throw new SignatureFormatError(`signature entry ${i} is not a CBOR map`);
    if (!entry.has('signing_certificate'))
      throw new SignatureFormatError(`signature entry ${i} has no "signing_certificate"`);
    if (!entry.has('signature')) throw new SignatureFormatError(`signature entry ${i} has no "signature"`);
    return {
      certificateFile: asByteArray(entry.get('signing_certificate'), `entry ${i} signing_certificate`),
      coseBytes: asByteArray(entry.get('signature'), `entry ${i} signature`),
    };
  });
}

function faultMessage(f: CoseFault): string {
  switch (f.kind) {
    case 'cbor':
      return (
        `the ${f.part === 'structure' ? 'COSE_Sign1 structure' : 'COSE protected header'} ` +
        `is not valid CBOR: ${f.detail}`
      );
    case 'tag':
      return `COSE structure has tag ${f.tag}, not 18 (COSE_Sign1)`;
    case 'not-array-of-4':
      return 'COSE_Sign1 is not an array of 4 items';
    case 'not-bytes':
      return `COSE_Sign1 ${f.part} is not a byte string`;
    case 'not-map':
      return f.part === 'protected header'
        ? 'the COSE protected header is not a map'
        : 'COSE_Sign1 unprotected header is not a map';
  }
}

/** Decodes a COSE_Sign1 (tag 18 or untagged, as nitro-cli accepts). Throws SignatureFormatError. */
export function decodeCoseSign1(bytes: Uint8Array): CoseSign1 {
  try {
    return decodeSign1(bytes);
  } catch (e) {
    if (e instanceof CoseFormatError) throw new SignatureFormatError(faultMessage(e.fault));
    throw e;
  }
}

/** Whether the COSE payload is, byte for byte, the statement "PCR0 = pcr0" (nitro-cli's SignatureCheck). */
export function payloadMatchesPcr0(payload: Uint8Array, pcr0: Uint8Array): boolean {
  return equalBytes(payload, pcr0Payload(pcr0));
}

/**
 * A signing key that cannot sign an EIF (wrong type, curve or format), or a key that does not match its certificate.
 */
export class SigningError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningError';
  }
}

const KMS_ARN = /^arn:(aws|aws-cn|aws-us-gov):kms:[a-z0-9-]+:\d{12}:key[/:].+$/;

/** An EC private key and the COSE algorithm its curve implies. */
export interface EifSigningKey {
  readonly key: EcSigningKey;
  readonly alg: CoseAlgorithm;
}

/**
 * Reads a PEM EC private key (SEC1 or PKCS#8) and names its COSE algorithm; refuses anything else with a SigningError.
 */
export function readSigningKey(crypto: CryptoPort, pem: string, where = 'the private key'): EifSigningKey {
  if (KMS_ARN.test(pem.trim())) {
    throw new SigningError(
      `${where} is a KMS key ARN; signing with KMS keys needs AWS access and is not supported by nitro-dev. ` +
        `Use a PEM EC private key file.`,
    );
  }
  let key: EcSigningKey;
  try {
    key = crypto.readPrivateKey(pem);
  } catch (e) {
    throw new SigningError(`${where} is not a PEM private key: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (key.keyType !== 'ec')
    throw new SigningError(`${where} is a ${key.keyType} key; EIF signing needs an EC key on P-256, P-384 or P-521`);
  const alg = algorithmForCurve(key.curve);
  if (!alg) throw new SigningError(`${where} is on curve ${key.curve}; EIF signing needs P-256, P-384 or P-521`);
  return { key, alg };
}

/** Signs the statement "PCR0 = pcr0" and returns the untagged COSE_Sign1 bytes. */
export function signPcr0Statement(signer: EifSigningKey, pcr0: Uint8Array): Uint8Array {
  return signCoseSign1(signer.key, signer.alg, pcr0Payload(pcr0));
}

export interface CoseCheck {
  readonly valid: boolean;
  /** Why it is not valid. */
  readonly reason?: string;
  readonly algorithm?: CoseAlgorithm;
}

/**
 * Verifies an EIF's COSE_Sign1 as nitro-cli does: the protected `alg` must be the one the
 * certificate's curve implies, and the ECDSA signature must verify with the certificate's public key.
 */
export function checkCoseSignature(crypto: CryptoPort, cose: CoseSign1, cert: CertificateInfo): CoseCheck {
  const expected = cert.curve ? algorithmForCurve(cert.curve) : undefined;
  if (cert.publicKeyAlgorithm !== 'id-ecPublicKey' || !expected) {
    return {
      valid: false,
      reason:
        `the certificate's key (${cert.publicKeyAlgorithm}${cert.curve ? ` on ${cert.curve}` : ''}) ` +
        `is not an EC key on P-256, P-384 or P-521`,
    };
  }
  const alg = coseAlgorithmName(cose.alg);
  if (alg !== expected) {
    return {
      valid: false,
      reason:
        `the COSE header names algorithm ${String(cose.alg)}, ` +
        `but the certificate's ${cert.curve} key needs ${expected}`,
    };
  }
  const length = COSE_ALGORITHMS[alg].signatureLength;
  if (cose.signature.length !== length) {
    return {
      valid: false,
      algorithm: alg,
      reason: `the ${alg} signature is ${cose.signature.length} bytes, not ${length}`,
    };
  }
  const keyError = crypto.publicKeyError(cert.spki);
  if (keyError !== undefined)
    return { valid: false, algorithm: alg, reason: `the certificate's public key cannot be read (${keyError})` };
  return verifyCoseSign1(crypto, cose, alg, cert.spki)
    ? { valid: true, algorithm: alg }
    : { valid: false, algorithm: alg, reason: "the signature does not verify with the certificate's public key" };
}
