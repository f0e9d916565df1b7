// Re-signing an unsigned document from QEMU's emulated NSM with the development CA: only ever on
// request (`nitro-dev resign-attestation`, "Re-sign with Development CA..." in the viewer), never
// silently. The result is a development attestation document, a development signature over the
// values QEMU reported; it proves nothing about AWS hardware, and verifies only with the
// development root trusted. A document that is not an unsigned QEMU one is refused.
import { decodeAttestation, type AttestationDocument, type OptionalBytes } from '../attestation/document';
import { QEMU_NSM_SOURCE, partialMarkersReason, unsignedMarkersOf } from '../attestation/unsigned';
import type { DevelopmentCa } from './devAttestation';

export class ResignError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResignError';
  }
}

/** How the CLI and the viewer label the result: what it is, and what it is not. */
export const RESIGN_LABEL =
  'a development signature over the values QEMU reported, made by the development CA on this machine; ' +
  'it is not an AWS attestation and proves nothing about Nitro hardware';

const ENCLAVE_ID = /^i-[0-9a-f]{8,17}-enc[0-9a-f]{16}$/;

const optional = (v: OptionalBytes): Uint8Array | null => (v.state === 'present' ? v.value : null);

/**
 * The document of `input` (raw CBOR, base64 or hex), when it is an unsigned document from QEMU's
 * emulated NSM with readable fields; throws ResignError saying why not otherwise.
 */
export function unsignedQemuDocument(input: Uint8Array | string): AttestationDocument {
  let decoded;
  try {
    decoded = decodeAttestation(input);
  } catch (e) {
    throw new ResignError(`the input is not an attestation document: ${e instanceof Error ? e.message : String(e)}`);
  }
  const markers = unsignedMarkersOf(decoded);
  if (!markers.all) {
    throw new ResignError(
      markers.any
        ? `the document is not an unsigned document from ${QEMU_NSM_SOURCE}: ${partialMarkersReason(markers)}; ` +
            'it is not re-signed'
        : `the document is signed (${markers.markers.map((m) => m.text).join(', ')}), not an unsigned document ` +
            `from ${QEMU_NSM_SOURCE}; only unsigned QEMU documents are re-signed, a signed one keeps its own signature`,
    );
  }
  const doc = decoded.document;
  const errors = decoded.problems.filter((p) => p.severity === 'error');
  if (!doc || errors.length > 0)
    throw new ResignError(
      `the unsigned document's fields are not readable, so it is not re-signed: ` +
        errors.map((p) => p.message).join('; '),
    );
  if (doc.kind !== 'enclave')
    throw new ResignError('the document carries nitrotpm_pcrs; QEMU makes enclave documents (pcrs) only');
  if (!ENCLAVE_ID.test(doc.moduleId))
    throw new ResignError(
      `module_id ${JSON.stringify(doc.moduleId)} is not an enclave ID (<parent instance id>-enc<16 hex>), ` +
        'which the development CA names its signing certificate after; start QEMU with ' +
        'id=i-<8 to 17 hex>-enc<16 hex> (as the QEMU backend does)',
    );
  for (const [i, v] of doc.pcrs)
    if (v.length !== 48) throw new ResignError(`PCR${i} is ${v.length} bytes; the development CA signs 48-byte PCRs`);
  return doc;
}

/**
 * Re-signs an unsigned QEMU document with `ca`: a COSE_Sign1 signed ES384 by a leaf under the
 * development root, with the same module_id, digest, timestamp, pcrs, public_key, user_data and
 * nonce, and the development chain as certificate and cabundle. The certificates are valid at
 * `now()` (when it is signed), whatever the document's timestamp.
 */
export async function resignUnsignedDocument(
  ca: DevelopmentCa,
  input: Uint8Array | string,
  now: () => number = Date.now,
): Promise<Uint8Array> {
  const doc = unsignedQemuDocument(input);
  // Loaded on use: the X.509 library behind it is the bulk of the development CA.
  const { createAttestationDocument } = await import('./devAttestation');
  return createAttestationDocument({
    ca,
    enclaveId: doc.moduleId,
    pcrs: doc.pcrs,
    publicKey: optional(doc.publicKey),
    userData: optional(doc.userData),
    nonce: optional(doc.nonce),
    timestamp: doc.timestamp,
    signedAt: now(),
  });
}

/**
 * Re-signs an unsigned QEMU document with the development CA of the emulator state folder
 * `stateDir` (the root `nitro-dev dev-root --export` writes), created on first use. A document that
 * is not an unsigned QEMU one is refused before the CA is loaded.
 */
export async function resignWithDevelopmentCa(
  stateDir: string,
  input: Uint8Array | string,
  now: () => number = Date.now,
): Promise<Uint8Array> {
  unsignedQemuDocument(input);
  const { DevelopmentCa } = await import('./devAttestation');
  return resignUnsignedDocument(await DevelopmentCa.load(stateDir), input, now);
}
