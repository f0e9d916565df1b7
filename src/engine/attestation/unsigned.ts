// Unsigned documents from QEMU's emulated NSM (QEMU backend spec, section 3): QEMU's `nitro-enclave`
// machine answers Attestation with a document shaped like a real one, but it signs nothing. It is
// recognised by four markers together: the protected header {1: -1} (alg -1, "not signed"), an
// all-zero signature, an all-zero certificate and a cabundle of all-zero entries. A document with
// only some of them is not QEMU's: it was altered, and the verifier says so.
import type { DecodedAttestation } from './document';

export interface UnsignedMarker {
  /** `alg`, `signature`, `certificate`, `cabundle`. */
  readonly name: 'alg' | 'signature' | 'certificate' | 'cabundle';
  readonly present: boolean;
  /** What the document has, in words (`a signature of 64 zero bytes`, `alg -35`). */
  readonly text: string;
}

export interface UnsignedMarkers {
  readonly markers: readonly UnsignedMarker[];
  /** Every marker is there: an unsigned document from QEMU's emulated NSM. */
  readonly all: boolean;
  /** At least one marker is there. */
  readonly any: boolean;
}

/** Where an unsigned document comes from, in reports. */
export const QEMU_NSM_SOURCE = "QEMU's emulated NSM (the nitro-enclave machine type)";

const allZero = (b: Uint8Array): boolean => b.length > 0 && b.every((x) => x === 0);

/** The four markers of an unsigned QEMU document, each present or not, with what the document has instead. */
export function unsignedMarkersOf(decoded: DecodedAttestation): UnsignedMarkers {
  const { cose } = decoded;
  const header = cose.protectedHeader;
  const alg = header.get(1);
  const algMarker = header.size === 1 && alg === -1;
  const algText = algMarker
    ? 'the protected header {1: -1} (alg -1: no signing algorithm)'
    : `a protected header with alg ${JSON.stringify(typeof alg === 'bigint' ? String(alg) : (alg ?? null))}` +
      `${header.size > 1 ? ` and ${header.size - 1} other label(s)` : ''}`;
  const sigMarker = allZero(cose.signature);
  const sigText = sigMarker
    ? `a signature of ${cose.signature.length} zero bytes`
    : `a ${cose.signature.length}-byte signature that is not all zeros`;
  const material = decoded.document ?? decoded.signingMaterial;
  const certificate = material?.certificate;
  const certMarker = certificate !== undefined && allZero(certificate);
  const certText =
    certificate === undefined
      ? 'no readable certificate'
      : certMarker
        ? `a certificate of ${certificate.length} zero bytes`
        : `a ${certificate.length}-byte certificate that is not all zeros`;
  const bundle = material?.cabundle;
  const bundleMarker = bundle !== undefined && bundle.length > 0 && bundle.every(allZero);
  const bundleText =
    bundle === undefined
      ? 'no readable cabundle'
      : bundleMarker
        ? `a cabundle of ${bundle.length} all-zero ${bundle.length === 1 ? 'entry' : 'entries'}`
        : `a cabundle of ${bundle.length} ${bundle.length === 1 ? 'entry' : 'entries'}, not all zeros`;
  const markers: UnsignedMarker[] = [
    { name: 'alg', present: algMarker, text: algText },
    { name: 'signature', present: sigMarker, text: sigText },
    { name: 'certificate', present: certMarker, text: certText },
    { name: 'cabundle', present: bundleMarker, text: bundleText },
  ];
  return { markers, all: markers.every((m) => m.present), any: markers.some((m) => m.present) };
}

/** `a, b, c and d`. */
export function listText(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** The reason a document with only some markers is refused: which it has, which it lacks. */
export function partialMarkersReason(m: UnsignedMarkers): string {
  const present = m.markers.filter((x) => x.present).map((x) => x.text);
  const absent = m.markers.filter((x) => !x.present).map((x) => x.text);
  return (
    `it has ${listText(present)}, as an unsigned document from ${QEMU_NSM_SOURCE} has, ` +
    `but also ${listText(absent)}; a QEMU document has all four markers (alg -1, an all-zero signature, ` +
    `certificate and cabundle), so this one was altered or made to look unsigned`
  );
}
