// The attestation verifier's crypto is the engine's one crypto port over node:crypto.
export { nodeCrypto as nodeAttestationCrypto } from './nodeCrypto';
