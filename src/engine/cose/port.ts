// The public-key cryptography the engine needs, provided by the host (node:crypto in Node: see
// src/engine/node/nodeCrypto.ts). One port for every signed structure the engine reads or writes:
// the COSE_Sign1 of an EIF's signature section, attestation documents and their X.509 chains.

export type EcdsaHash = 'sha256' | 'sha384' | 'sha512';

/** A private key read by the host. The key itself never leaves the host: the engine gets a signing function. */
export interface EcSigningKey {
  /** The key type as the host names it: `ec`, `rsa`, `ed25519`, ... */
  readonly keyType: string;
  /** The named curve of an EC key (`prime256v1`, `secp384r1`, `secp521r1`, ...); empty when there is none. */
  readonly curve: string;
  /** ECDSA over `data` with `hash`; the signature as raw r‖s (IEEE P1363, as COSE writes it). */
  sign(hash: EcdsaHash, data: Uint8Array): Uint8Array;
}

export interface CryptoPort {
  /**
   * ECDSA verification of `signature` over `data` with the EC public key `spki` (DER
   * SubjectPublicKeyInfo); the signature is raw r‖s (`p1363`, as COSE writes it) or DER. Returns
   * false for any key or signature it cannot use; never throws.
   */
  verifyEcdsa(
    hash: EcdsaHash,
    spki: Uint8Array,
    data: Uint8Array,
    signature: Uint8Array,
    encoding: 'p1363' | 'der',
  ): boolean;
  /** Why `spki` cannot be read as a public key (the library's words), or undefined when it can. */
  publicKeyError(spki: Uint8Array): string | undefined;
  /** Reads a PEM private key (SEC1 or PKCS#8). Throws an Error with the library's words when it is not one. */
  readPrivateKey(pem: string): EcSigningKey;
  sha256(data: Uint8Array): Uint8Array;
  /** Whether `certificate` (DER) carries a valid signature by `issuer`'s key (an X.509 library's check). */
  verifyCertificateSignature(certificate: Uint8Array, issuer: Uint8Array): boolean;
}
