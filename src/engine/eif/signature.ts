// The EIF signature section (type 4): a CBOR array of entries {signing_certificate, signature},
// both serialized as arrays of uints; `signature` holds an untagged COSE_Sign1 whose payload states
// "PCR0 has value X". Encoding is byte-exact; decoding accepts what nitro-cli accepts.
import { concatBytes, equalBytes } from '../util/bytes';
import {
  CborTag,
  cborArrayHead,
  cborBytes,
  cborMapHead,
  cborNegInt,
  cborText,
  cborUint,
  cborUintArray,
  decodeCbor,
} from '../util/cbor';

export type CoseAlgorithm = 'ES256' | 'ES384' | 'ES512';

export const COSE_ALGORITHMS: Record<CoseAlgorithm, { id: number; hash: 'sha256' | 'sha384' | 'sha512'; curve: string; signatureLength: number }> = {
  ES256: { id: -7, hash: 'sha256', curve: 'prime256v1', signatureLength: 64 },
  ES384: { id: -35, hash: 'sha384', curve: 'secp384r1', signatureLength: 96 },
  ES512: { id: -36, hash: 'sha512', curve: 'secp521r1', signatureLength: 132 },
};

export function algorithmForCurve(curve: string): CoseAlgorithm | undefined {
  return (Object.keys(COSE_ALGORITHMS) as CoseAlgorithm[]).find((a) => COSE_ALGORITHMS[a].curve === curve);
}

/** The protected header bytes {1: alg}. */
export function protectedHeader(alg: CoseAlgorithm): Uint8Array {
  return concatBytes(cborMapHead(1), cborUint(1), cborNegInt(COSE_ALGORITHMS[alg].id));
}

/** The signed statement: {"register_index": 0, "register_value": [PCR0 bytes as uints]}. */
export function pcr0Payload(pcr0: Uint8Array): Uint8Array {
  return concatBytes(cborMapHead(2), cborText('register_index'), cborUint(0), cborText('register_value'), cborUintArray(pcr0));
}

/** COSE Sig_structure for COSE_Sign1 with an empty external AAD: the bytes that are signed. */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return concatBytes(cborArrayHead(4), cborText('Signature1'), cborBytes(protectedBytes), cborBytes(new Uint8Array(0)), cborBytes(payload));
}

/** An untagged COSE_Sign1 with an empty unprotected header. */
export function encodeCoseSign1(protectedBytes: Uint8Array, payload: Uint8Array, signature: Uint8Array): Uint8Array {
  return concatBytes(cborArrayHead(4), cborBytes(protectedBytes), cborMapHead(0), cborBytes(payload), cborBytes(signature));
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

export interface CoseSign1 {
  readonly tagged: boolean;
  readonly protectedBytes: Uint8Array;
  /** The protected header's `alg` (label 1), if present. */
  readonly alg: number | string | undefined;
  readonly unprotected: ReadonlyMap<unknown, unknown>;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
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
      const v = value[i];
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
    if (!entry.has('signing_certificate')) throw new SignatureFormatError(`signature entry ${i} has no "signing_certificate"`);
    if (!entry.has('signature')) throw new SignatureFormatError(`signature entry ${i} has no "signature"`);
    return {
      certificateFile: asByteArray(entry.get('signing_certificate'), `entry ${i} signing_certificate`),
      coseBytes: asByteArray(entry.get('signature'), `entry ${i} signature`),
    };
  });
}

function asBstr(value: unknown, what: string): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new SignatureFormatError(`COSE_Sign1 ${what} is not a byte string`);
}

/** Decodes a COSE_Sign1 (tag 18 or untagged, as nitro-cli accepts). */
export function decodeCoseSign1(bytes: Uint8Array): CoseSign1 {
  let value = decode(bytes, 'the COSE_Sign1 structure');
  let tagged = false;
  if (value instanceof CborTag) {
    if (value.tag !== 18) throw new SignatureFormatError(`COSE structure has tag ${value.tag}, not 18 (COSE_Sign1)`);
    tagged = true;
    value = value.value;
  }
  if (!Array.isArray(value) || value.length !== 4) throw new SignatureFormatError('COSE_Sign1 is not an array of 4 items');
  const protectedBytes = asBstr(value[0], 'protected header');
  let alg: number | string | undefined;
  if (protectedBytes.length > 0) {
    const header = decode(protectedBytes, 'the COSE protected header');
    if (!(header instanceof Map)) throw new SignatureFormatError('the COSE protected header is not a map');
    const a = header.get(1);
    if (typeof a === 'number' || typeof a === 'string') alg = a;
  }
  if (!(value[1] instanceof Map)) throw new SignatureFormatError('COSE_Sign1 unprotected header is not a map');
  return {
    tagged,
    protectedBytes,
    alg,
    unprotected: value[1],
    payload: asBstr(value[2], 'payload'),
    signature: asBstr(value[3], 'signature'),
  };
}

/** Whether the COSE payload is, byte for byte, the statement "PCR0 = pcr0" (nitro-cli's SignatureCheck). */
export function payloadMatchesPcr0(payload: Uint8Array, pcr0: Uint8Array): boolean {
  return equalBytes(payload, pcr0Payload(pcr0));
}

/** The COSE algorithm name for an `alg` value, if it is one of the three the EIF tools use. */
export function coseAlgorithmName(alg: number | string | undefined): CoseAlgorithm | undefined {
  if (typeof alg === 'string') return (['ES256', 'ES384', 'ES512'] as const).find((a) => a === alg);
  return (Object.keys(COSE_ALGORITHMS) as CoseAlgorithm[]).find((a) => COSE_ALGORITHMS[a].id === alg);
}
