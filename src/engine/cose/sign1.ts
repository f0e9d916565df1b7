// COSE_Sign1 (RFC 9052 section 4.2) as Nitro uses it, for EIF signatures and attestation documents
// alike: decoding (tag 18 or untagged), the protected header's algorithm, the Sig_structure that is
// signed, and ECDSA signing and verification through the host's crypto port. Decoding never trusts
// its input: a structure that is not a COSE_Sign1 is a CoseFormatError saying which part is wrong.
import { concatBytes } from '../util/bytes';
import {
  CborTag,
  cborArrayHead,
  cborBytes,
  cborMapHead,
  cborNegInt,
  cborText,
  cborUint,
  decodeCbor,
} from '../util/cbor';
import { CborScanError, scanCbor } from '../util/cborScan';
import type { CryptoPort, EcSigningKey, EcdsaHash } from './port';

export type CoseAlgorithm = 'ES256' | 'ES384' | 'ES512';

export const COSE_ALGORITHMS: Record<
  CoseAlgorithm,
  { id: number; hash: EcdsaHash; curve: string; signatureLength: number }
> = {
  ES256: { id: -7, hash: 'sha256', curve: 'prime256v1', signatureLength: 64 },
  ES384: { id: -35, hash: 'sha384', curve: 'secp384r1', signatureLength: 96 },
  ES512: { id: -36, hash: 'sha512', curve: 'secp521r1', signatureLength: 132 },
};

/** The COSE algorithm of an EC key on `curve` (OpenSSL's curve names), if it is one of the three. */
export function algorithmForCurve(curve: string): CoseAlgorithm | undefined {
  return (Object.keys(COSE_ALGORITHMS) as CoseAlgorithm[]).find((a) => COSE_ALGORITHMS[a].curve === curve);
}

/** The COSE algorithm name for an `alg` value (its number, or its name as text), if it is one of the three. */
export function coseAlgorithmName(alg: unknown): CoseAlgorithm | undefined {
  if (typeof alg === 'string') return (['ES256', 'ES384', 'ES512'] as const).find((a) => a === alg);
  return (Object.keys(COSE_ALGORITHMS) as CoseAlgorithm[]).find((a) => COSE_ALGORITHMS[a].id === alg);
}

/** The protected header bytes {1: alg}. */
export function protectedHeader(alg: CoseAlgorithm): Uint8Array {
  return concatBytes(cborMapHead(1), cborUint(1), cborNegInt(COSE_ALGORITHMS[alg].id));
}

/** The Sig_structure of a COSE_Sign1 with an empty external AAD: the bytes that are signed. */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return concatBytes(
    cborArrayHead(4),
    cborText('Signature1'),
    cborBytes(protectedBytes),
    cborBytes(new Uint8Array(0)),
    cborBytes(payload),
  );
}

/** An untagged COSE_Sign1 with an empty unprotected header. */
export function encodeCoseSign1(protectedBytes: Uint8Array, payload: Uint8Array, signature: Uint8Array): Uint8Array {
  return concatBytes(
    cborArrayHead(4),
    cborBytes(protectedBytes),
    cborMapHead(0),
    cborBytes(payload),
    cborBytes(signature),
  );
}

export interface CoseSign1 {
  /** Written with tag 18. */
  readonly tagged: boolean;
  readonly protectedBytes: Uint8Array;
  /** The decoded protected header, keys as decoded (1 = alg); empty when the header bytes are empty. */
  readonly protectedHeader: ReadonlyMap<unknown, unknown>;
  /** The protected header's `alg` (label 1) when it is a number or text. */
  readonly alg: number | string | undefined;
  readonly unprotected: ReadonlyMap<unknown, unknown>;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

/** The part of a COSE_Sign1 a fault is in. */
export type CosePart = 'protected header' | 'unprotected header' | 'payload' | 'signature';

/** What is wrong with a structure that is not a COSE_Sign1; callers word it for their readers. */
export type CoseFault =
  /**
   * `bytes` (the whole structure, or the protected header's bytes) are not one CBOR item: `scan` when the
   * well-formedness scan said so.
   */
  | {
      readonly kind: 'cbor';
      readonly part: 'structure' | 'protected header';
      readonly scan: boolean;
      readonly detail: string;
    }
  | { readonly kind: 'tag'; readonly tag: number }
  | { readonly kind: 'not-array-of-4' }
  | { readonly kind: 'not-bytes'; readonly part: 'protected header' | 'payload' | 'signature' }
  | { readonly kind: 'not-map'; readonly part: 'protected header' | 'unprotected header' };

function faultMessage(f: CoseFault): string {
  switch (f.kind) {
    case 'cbor':
      return `the COSE_Sign1 ${f.part} is not ${f.scan ? 'well-formed' : 'valid'} CBOR: ${f.detail}`;
    case 'tag':
      return `the structure has CBOR tag ${f.tag}, not 18 (COSE_Sign1)`;
    case 'not-array-of-4':
      return 'the structure is not a COSE_Sign1 (an array of 4 items)';
    case 'not-bytes':
      return `the COSE ${f.part} is not a byte string`;
    case 'not-map':
      return `the COSE ${f.part} is not a map`;
  }
}

/** A structure that is not a COSE_Sign1. `fault` says what is wrong, for callers with their own wording. */
export class CoseFormatError extends Error {
  constructor(readonly fault: CoseFault) {
    super(faultMessage(fault));
    this.name = 'CoseFormatError';
  }
}

export interface DecodeSign1Options {
  /**
   * Run the bounded well-formedness scan (util/cborScan: lengths within the input, nesting capped,
   * no duplicate map keys) before decoding. For untrusted documents; EIF reading leaves it off to
   * accept what nitro-cli accepts.
   */
  readonly scan?: boolean;
}

function decodeItem(bytes: Uint8Array, part: 'structure' | 'protected header', scan: boolean): unknown {
  try {
    if (scan) scanCbor(bytes);
    return decodeCbor(bytes);
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw new CoseFormatError({ kind: 'cbor', part, scan: e instanceof CborScanError, detail });
  }
}

/** A view of a decoded byte string (a plain Uint8Array over the same memory). */
const view = (v: Uint8Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

function bytesPart(value: unknown, part: 'protected header' | 'payload' | 'signature'): Uint8Array {
  if (value instanceof Uint8Array) return view(value);
  throw new CoseFormatError({ kind: 'not-bytes', part });
}

/**
 * Decodes a COSE_Sign1, tagged (18) or untagged. The four items are checked in order, then the
 * protected header is decoded (an empty byte string is the empty map). Throws CoseFormatError.
 */
export function decodeSign1(bytes: Uint8Array, options: DecodeSign1Options = {}): CoseSign1 {
  const scan = options.scan === true;
  let value = decodeItem(bytes, 'structure', scan);
  let tagged = false;
  if (value instanceof CborTag) {
    if (value.tag !== 18) throw new CoseFormatError({ kind: 'tag', tag: value.tag });
    tagged = true;
    value = value.value;
  }
  if (!Array.isArray(value) || value.length !== 4) throw new CoseFormatError({ kind: 'not-array-of-4' });
  const protectedBytes = bytesPart(value[0], 'protected header');
  const unprotected: unknown = value[1];
  if (!(unprotected instanceof Map)) throw new CoseFormatError({ kind: 'not-map', part: 'unprotected header' });
  const payload = bytesPart(value[2], 'payload');
  const signature = bytesPart(value[3], 'signature');
  const header =
    protectedBytes.length === 0 ? new Map<unknown, unknown>() : decodeItem(protectedBytes, 'protected header', scan);
  if (!(header instanceof Map)) throw new CoseFormatError({ kind: 'not-map', part: 'protected header' });
  const a: unknown = header.get(1);
  const alg = typeof a === 'number' || typeof a === 'string' ? a : undefined;
  return { tagged, protectedBytes, protectedHeader: header, alg, unprotected, payload, signature };
}

/**
 * Whether the COSE_Sign1's signature verifies with `alg` and the EC public key `spki` (DER
 * SubjectPublicKeyInfo). The caller decides which algorithm and key the structure must use.
 */
export function verifyCoseSign1(
  crypto: CryptoPort,
  cose: Pick<CoseSign1, 'protectedBytes' | 'payload' | 'signature'>,
  alg: CoseAlgorithm,
  spki: Uint8Array,
): boolean {
  return crypto.verifyEcdsa(
    COSE_ALGORITHMS[alg].hash,
    spki,
    sigStructure(cose.protectedBytes, cose.payload),
    cose.signature,
    'p1363',
  );
}

/**
 * Signs `payload` with `key` (its algorithm `alg`): an untagged COSE_Sign1 with {1: alg} protected and nothing
 * unprotected.
 */
export function signCoseSign1(key: EcSigningKey, alg: CoseAlgorithm, payload: Uint8Array): Uint8Array {
  const prot = protectedHeader(alg);
  return encodeCoseSign1(prot, payload, key.sign(COSE_ALGORITHMS[alg].hash, sigStructure(prot, payload)));
}
