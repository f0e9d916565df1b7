// Writing .eif files: the sections in the caller's order (nitro-cli's is kernel, cmdline, metadata,
// ramdisks, signature), the header's offset/size table and CRC, an optional signature over PCR0,
// all streamed (inputs are read, never held whole) into a temporary file that replaces the target
// only when complete.
import { readFile } from 'node:fs/promises';
import {
  CRC_OFFSET,
  CURRENT_EIF_VERSION,
  DEFAULT_CPUS,
  DEFAULT_MEM_BYTES,
  EIF_FLAG_ARM64,
  EIF_HEADER_SIZE,
  MAX_SECTIONS,
  SECTION_HEADER_SIZE,
  SectionType,
  type EifArch,
} from '../eif/defs';
import { measurementsJson, type MeasurementsJson } from '../eif/describe';
import { encodeHeader, readLayout } from '../eif/layout';
import { planMeasurement, runPlan } from '../eif/measure';
import { decodeCoseSign1, encodeSignatureSection } from '../eif/signature';
import type { ByteSource } from '../platform/byteSource';
import { ConcatSource, type Piece } from '../platform/concatSource';
import { throwIfCancelled, type CancellationLike } from '../platform/lifecycle';
import { toHex, utf8 } from '../util/bytes';
import { pcrOfBytes } from '../util/hashPort';
import { firstCertificateDer } from '../util/pem';
import { CertificateError, parseCertificate } from '../x509/certificate';
import { writeAtomically } from './atomicFile';
import { SigningError, loadSigningKey, signPcr0, verifyCose } from './cose';
import { nodeHashes } from './nodeHashes';

export interface SectionInput {
  readonly type: SectionType;
  /** The section data: bytes, or a window of a byte source. */
  readonly data: Uint8Array | { readonly source: ByteSource; readonly offset: number; readonly size: number };
}

export interface SigningInput {
  /** The certificate file as it will be stored (PEM text); its first certificate is measured into PCR8. */
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

export interface WriteEifOptions {
  readonly arch: EifArch;
  /** Sections in file order. With `signing`, a signature section here is replaced in place; else one is appended. */
  readonly sections: readonly SectionInput[];
  readonly signing?: SigningInput;
  readonly version?: number;
  /** Header fields every consumer ignores (builders write 1 GiB and 2). */
  readonly defaultMem?: bigint;
  readonly defaultCpus?: bigint;
  readonly token?: CancellationLike;
  readonly onProgress?: (done: number, total: number, stage: 'measuring' | 'writing') => void;
}

export interface WriteEifResult {
  readonly measurements: MeasurementsJson;
  readonly size: number;
  readonly crc: number;
}

const dataSize = (d: SectionInput['data']) => (d instanceof Uint8Array ? d.length : d.size);

/** The pieces of an EIF with these sections (header first, CRC field left 0). */
function imagePieces(
  sections: readonly SectionInput[],
  header: Omit<Parameters<typeof encodeHeader>[0], 'numSections' | 'sectionOffsets' | 'sectionSizes' | 'crc'>,
): Piece[] {
  if (sections.length === 0 || sections.length > MAX_SECTIONS)
    throw new RangeError(`an EIF holds 1 to ${MAX_SECTIONS} sections, not ${sections.length}`);
  const offsets: bigint[] = [];
  const sizes: bigint[] = [];
  const pieces: Piece[] = [];
  let at = EIF_HEADER_SIZE;
  for (const s of sections) {
    const size = dataSize(s.data);
    offsets.push(BigInt(at));
    sizes.push(BigInt(size));
    const sh = new Uint8Array(SECTION_HEADER_SIZE);
    const dv = new DataView(sh.buffer);
    dv.setUint16(0, s.type, false);
    dv.setUint16(2, 0, false);
    dv.setBigUint64(4, BigInt(size), false);
    pieces.push(sh, s.data);
    at += SECTION_HEADER_SIZE + size;
  }
  const head = encodeHeader({
    ...header,
    numSections: sections.length,
    sectionOffsets: offsets,
    sectionSizes: sizes,
    crc: 0,
  });
  return [head, ...pieces];
}

/** Signs `pcr0` and returns the signature section bytes; verifies its own output before using it. */
export function signatureSectionFor(pcr0: Uint8Array, signing: SigningInput): { bytes: Uint8Array; pcr8: string } {
  let certDer: Uint8Array;
  try {
    certDer = firstCertificateDer(signing.certificatePem);
  } catch (e) {
    throw new SigningError(`the signing certificate: ${e instanceof Error ? e.message : String(e)}`);
  }
  let cert;
  try {
    cert = parseCertificate(certDer);
  } catch (e) {
    throw new SigningError(e instanceof CertificateError ? `the signing certificate: ${e.message}` : String(e));
  }
  loadSigningKey(signing.privateKeyPem);
  const cose = signPcr0(pcr0, signing.privateKeyPem);
  // Fail closed: a key that does not belong to the certificate would produce an image that
  // nitro-cli refuses to run. Check before writing anything.
  const check = verifyCose(decodeCoseSign1(cose), cert);
  if (!check.valid) throw new SigningError(`the private key does not match the signing certificate (${check.reason})`);
  return {
    bytes: encodeSignatureSection(utf8(signing.certificatePem), cose),
    pcr8: toHex(pcrOfBytes(nodeHashes, certDer)),
  };
}

/** Writes an EIF to `target` atomically and returns its measurements (nitro-cli's JSON shape). */
export async function writeEif(target: string, options: WriteEifOptions): Promise<WriteEifResult> {
  const header = {
    version: options.version ?? CURRENT_EIF_VERSION,
    flags: options.arch === 'aarch64' ? EIF_FLAG_ARM64 : 0,
    defaultMem: options.defaultMem ?? BigInt(DEFAULT_MEM_BYTES),
    defaultCpus: options.defaultCpus ?? BigInt(DEFAULT_CPUS),
    reserved: 0,
    unused: 0,
  };
  let sections = [...options.sections];
  let pcr8: string | undefined;
  if (options.signing) {
    // PCR0 covers only kernel, cmdline and ramdisk data, so it can be measured before the signature exists.
    const unsigned = sections.filter((s) => s.type !== SectionType.Signature);
    const source = new ConcatSource(imagePieces(unsigned, header), target);
    const layout = await readLayout(source);
    const { pcr0 } = await runPlan(source, planMeasurement(layout), nodeHashes, {
      ...(options.token ? { token: options.token } : {}),
      onProgress: (d, t) => options.onProgress?.(d, t, 'measuring'),
    });
    const signature = signatureSectionFor(pcr0, options.signing);
    pcr8 = signature.pcr8;
    const section: SectionInput = { type: SectionType.Signature, data: signature.bytes };
    // The new signature takes the place of the first existing one (others are dropped), or goes last.
    const at = sections.findIndex((s) => s.type === SectionType.Signature);
    sections = at === -1 ? [...unsigned, section] : [...unsigned.slice(0, at), section, ...unsigned.slice(at)];
  }
  throwIfCancelled(options.token, 'writing the enclave image');
  const image = new ConcatSource(imagePieces(sections, header), target);
  const layout = await readLayout(image);
  return writeAtomically(target, async (write) => {
    const measured = await runPlan(image, planMeasurement(layout), nodeHashes, {
      ...(options.token ? { token: options.token } : {}),
      onChunk: (chunk, offset) => write(chunk, offset),
      onProgress: (d, t) => options.onProgress?.(d, t, 'writing'),
    });
    const crc = new Uint8Array(4);
    new DataView(crc.buffer).setUint32(0, measured.crc, false);
    await write(crc, CRC_OFFSET);
    return { measurements: measurementsJson(measured.pcrs, pcr8), size: image.size, crc: measured.crc };
  });
}

/** Reads a PEM file as text (certificate or key). */
export async function readPem(path: string): Promise<string> {
  return readFile(path, 'utf8');
}
