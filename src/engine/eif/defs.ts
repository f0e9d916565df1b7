// The EIF format's fixed facts (spec: shared EIF spec, sections 1-2). Every size and offset here is
// restated from the format definition; nothing else in the engine hard-codes them.

export const EIF_MAGIC = Uint8Array.of(0x2e, 0x65, 0x69, 0x66); // ".eif"
export const EIF_HEADER_SIZE = 548;
export const SECTION_HEADER_SIZE = 12;
export const MAX_SECTIONS = 32;
/** Offset of the CRC-32 field, the last 4 bytes of the header. */
export const CRC_OFFSET = 544;
/** Header field offsets. */
export const HEADER = {
  magic: 0,
  version: 4,
  flags: 6,
  defaultMem: 8,
  defaultCpus: 16,
  reserved: 24,
  numSections: 26,
  sectionOffsets: 28,
  sectionSizes: 284,
  unused: 540,
  crc: 544,
} as const;

/** The version AWS tools write today (v4 adds the mandatory metadata section). */
export const CURRENT_EIF_VERSION = 4;
export const SUPPORTED_EIF_VERSIONS: readonly number[] = [2, 3, 4];

/** Header flag bit 0: the enclave's CPU architecture. */
export const EIF_FLAG_ARM64 = 0x0001;
export type EifArch = 'x86_64' | 'aarch64';

/** Values builders write into the (ignored) default_mem and default_cpus fields. */
export const DEFAULT_MEM_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_CPUS = 2;

export enum SectionType {
  Invalid = 0,
  Kernel = 1,
  Cmdline = 2,
  Ramdisk = 3,
  Signature = 4,
  Metadata = 5,
}

export const SECTION_NAMES: Record<SectionType, string> = {
  [SectionType.Invalid]: 'invalid',
  [SectionType.Kernel]: 'kernel',
  [SectionType.Cmdline]: 'cmdline',
  [SectionType.Ramdisk]: 'ramdisk',
  [SectionType.Signature]: 'signature',
  [SectionType.Metadata]: 'metadata',
};

/** The format's cap on a signature section (builders do not enforce it; readers warn). */
export const SIGNATURE_MAX_SIZE = 32768;
/** Largest signature or metadata section this engine will load into memory to decode. */
export const MAX_DECODED_SECTION = 1024 * 1024;

/** The `HashAlgorithm` text in nitro-cli's measurement JSON (see the spec's note on its versions). */
export const HASH_ALGORITHM_TEXT = 'Sha384 { ... }';

/** The PCRs an enclave image determines, in nitro-cli's order (PCR8 only when the image is signed). */
export const IMAGE_PCRS = ['PCR0', 'PCR1', 'PCR2', 'PCR8'] as const;
export type ImagePcrName = (typeof IMAGE_PCRS)[number];

/**
 * What each PCR of an enclave measures (spec section 4.1, in the words of AWS's documentation), and
 * for the PCRs an image determines, which parts of the image go into it.
 */
const ENCLAVE_PCRS: Readonly<Record<number, { readonly meaning: string; readonly contents?: string }>> = {
  0: { meaning: 'Enclave image file', contents: 'kernel, command line and every ramdisk' },
  1: { meaning: 'Linux kernel and bootstrap', contents: 'kernel, command line and the first ramdisk' },
  2: { meaning: 'Application', contents: 'every ramdisk after the first' },
  3: { meaning: 'IAM role of the parent instance' },
  4: { meaning: 'Parent instance ID' },
  8: { meaning: 'Signing certificate of the image', contents: 'the certificate that signed the image' },
};

/** A PCR's index, given as a number or a name (`PCR8`); NaN when it is neither. */
function pcrIndex(pcr: number | string): number {
  if (typeof pcr === 'number') return pcr;
  const m = /^PCR(\d{1,2})$/.exec(pcr);
  return m ? Number(m[1]) : NaN;
}

/** Whether an enclave's PCR `pcr` measures something of its own (0-4 and 8), not reserved or application-defined. */
export function enclavePcrIsDefined(pcr: number | string): boolean {
  return ENCLAVE_PCRS[pcrIndex(pcr)] !== undefined;
}

/** What PCR `pcr` (an index or a name such as `PCR0`) of an enclave measures: `Enclave image file`, ... */
export function enclavePcrMeaning(pcr: number | string): string {
  const index = pcrIndex(pcr);
  const known = ENCLAVE_PCRS[index]?.meaning;
  if (known !== undefined) return known;
  return index >= 16 ? 'Application-defined' : 'Reserved';
}

/** Which parts of an image go into PCR `pcr` (0, 1, 2 and 8); undefined for the PCRs an image does not determine. */
export function enclavePcrContents(pcr: number | string): string | undefined {
  return ENCLAVE_PCRS[pcrIndex(pcr)]?.contents;
}
