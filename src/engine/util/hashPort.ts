// The hashing the engine needs, as a port: the Node adapter implements it with node:crypto and
// node:zlib (src/engine/node/nodeHashes.ts); a browser host could implement it with @noble/hashes.
// The engine itself never implements a hash function.

export interface IncrementalHash {
  update(data: Uint8Array): void;
  /** Finishes the hash; the object must not be used afterwards. */
  digest(): Uint8Array;
  /** An independent copy of the current state (for digests of shared prefixes). */
  copy(): IncrementalHash;
}

export interface Crc32Accumulator {
  update(data: Uint8Array): void;
  readonly value: number;
}

export interface HashPort {
  sha384(): IncrementalHash;
  crc32(): Crc32Accumulator;
}

const ZERO48 = new Uint8Array(48);

/** TPM-style extend of an all-zero 48-byte register: SHA-384(zeros ‖ digest). */
export function extendFromZero(hashes: HashPort, contentDigest: Uint8Array): Uint8Array {
  const h = hashes.sha384();
  h.update(ZERO48);
  h.update(contentDigest);
  return h.digest();
}

/** The PCR of a byte string: extendFromZero(SHA-384(bytes)) (e.g. PCR8 from a certificate's DER). */
export function pcrOfBytes(hashes: HashPort, bytes: Uint8Array): Uint8Array {
  const h = hashes.sha384();
  h.update(bytes);
  return extendFromZero(hashes, h.digest());
}
