// Reading the structure of an EIF: the 548-byte header, its offset/size table, and the sections
// found by walking section headers from byte 548 to the end of the file (what nitro-cli does).
// Reads only headers (12 bytes per section): memory stays flat whatever the file size.
import type { ByteSource } from '../platform/byteSource';
import { readU64 } from '../util/bytes';
import {
  CRC_OFFSET,
  EIF_FLAG_ARM64,
  EIF_HEADER_SIZE,
  EIF_MAGIC,
  HEADER,
  MAX_SECTIONS,
  SECTION_HEADER_SIZE,
  SECTION_NAMES,
  SIGNATURE_MAX_SIZE,
  SUPPORTED_EIF_VERSIONS,
  SectionType,
  type EifArch,
} from './defs';
import { EifFormatError, type EifProblem } from './errors';

export interface EifHeader {
  readonly magic: Uint8Array;
  readonly version: number;
  readonly flags: number;
  readonly arch: EifArch;
  /** Ignored by every consumer; kept exact (u64). */
  readonly defaultMem: bigint;
  readonly defaultCpus: bigint;
  readonly reserved: number;
  readonly numSections: number;
  /** All 32 entries of the table, exact (u64). */
  readonly sectionOffsets: readonly bigint[];
  readonly sectionSizes: readonly bigint[];
  readonly unused: number;
  readonly crc: number;
}

/** Whether a section header's type field names a section: 1 (kernel) to 5 (metadata). */
function isKnownSectionType(type: number): type is SectionType {
  return type > Number(SectionType.Invalid) && type <= Number(SectionType.Metadata);
}

export interface EifSection {
  /** Position in file order (0-based). */
  readonly index: number;
  readonly type: SectionType;
  readonly typeName: string;
  readonly flags: number;
  /** Offset of the 12-byte section header. */
  readonly headerOffset: number;
  /** Offset of the section data (headerOffset + 12). */
  readonly dataOffset: number;
  /** Length of the data. */
  readonly size: number;
}

export interface EifLayout {
  readonly name: string;
  readonly fileSize: number;
  readonly header: EifHeader;
  /** Sections in file order, as found by the sequential walk. */
  readonly sections: readonly EifSection[];
  /** Where the walk ended: the end of the last section. */
  readonly walkEnd: number;
  /** Bytes after the last section (fewer than 12; more would be read as another section). */
  readonly trailingBytes: number;
  /** Findings about a file that could be walked (see EifProblem). */
  readonly problems: readonly EifProblem[];
}

export function decodeHeader(bytes: Uint8Array): EifHeader {
  if (bytes.length < EIF_HEADER_SIZE) {
    throw new EifFormatError(
      'short-file',
      bytes.length,
      `the file is ${bytes.length} bytes, shorter than the ${EIF_HEADER_SIZE}-byte EIF header`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, EIF_HEADER_SIZE);
  const flags = dv.getUint16(HEADER.flags, false);
  const offsets: bigint[] = [];
  const sizes: bigint[] = [];
  for (let i = 0; i < MAX_SECTIONS; i++) {
    offsets.push(readU64(bytes, HEADER.sectionOffsets + 8 * i));
    sizes.push(readU64(bytes, HEADER.sectionSizes + 8 * i));
  }
  return {
    magic: bytes.slice(0, 4),
    version: dv.getUint16(HEADER.version, false),
    flags,
    arch: flags & EIF_FLAG_ARM64 ? 'aarch64' : 'x86_64',
    defaultMem: readU64(bytes, HEADER.defaultMem),
    defaultCpus: readU64(bytes, HEADER.defaultCpus),
    reserved: dv.getUint16(HEADER.reserved, false),
    numSections: dv.getUint16(HEADER.numSections, false),
    sectionOffsets: offsets,
    sectionSizes: sizes,
    unused: dv.getUint32(HEADER.unused, false),
    crc: dv.getUint32(HEADER.crc, false),
  };
}

export function encodeHeader(h: Omit<EifHeader, 'arch' | 'magic'> & { magic?: Uint8Array }): Uint8Array {
  const bytes = new Uint8Array(EIF_HEADER_SIZE);
  const dv = new DataView(bytes.buffer);
  bytes.set(h.magic ?? EIF_MAGIC, HEADER.magic);
  dv.setUint16(HEADER.version, h.version, false);
  dv.setUint16(HEADER.flags, h.flags, false);
  dv.setBigUint64(HEADER.defaultMem, h.defaultMem, false);
  dv.setBigUint64(HEADER.defaultCpus, h.defaultCpus, false);
  dv.setUint16(HEADER.reserved, h.reserved, false);
  dv.setUint16(HEADER.numSections, h.numSections, false);
  for (let i = 0; i < MAX_SECTIONS; i++) {
    dv.setBigUint64(HEADER.sectionOffsets + 8 * i, h.sectionOffsets[i] ?? 0n, false);
    dv.setBigUint64(HEADER.sectionSizes + 8 * i, h.sectionSizes[i] ?? 0n, false);
  }
  dv.setUint32(HEADER.unused, h.unused, false);
  dv.setUint32(CRC_OFFSET, h.crc, false);
  return bytes;
}

/** Reads and checks the header, then walks the sections. Throws EifFormatError when the file cannot be walked. */
/**
 * The EIF header only (its first 548 bytes), with its magic and version checked: the architecture
 * and format version of an image without walking or measuring it.
 */
export async function readHeader(source: ByteSource): Promise<EifHeader> {
  const fileSize = source.size;
  if (fileSize < EIF_HEADER_SIZE) {
    throw new EifFormatError(
      'short-file',
      fileSize,
      `the file is ${fileSize} bytes, shorter than the ${EIF_HEADER_SIZE}-byte EIF header`,
    );
  }
  const header = decodeHeader(await source.read(0, EIF_HEADER_SIZE));
  checkMagicAndVersion(header);
  return header;
}

export async function readLayout(source: ByteSource): Promise<EifLayout> {
  const fileSize = source.size;
  const header = await readHeader(source);
  const { sections, pos } = await walkSections(source, fileSize);
  const problems = checkStructure(header, sections, fileSize, pos);
  return { name: source.name, fileSize, header, sections, walkEnd: pos, trailingBytes: fileSize - pos, problems };
}

/** Throws unless the header has the EIF magic and a supported version (naming a byte-order mix-up). */
function checkMagicAndVersion(header: EifHeader): void {
  if (!header.magic.every((b, i) => b === EIF_MAGIC[i])) {
    const seen = Array.from(header.magic, (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new EifFormatError(
      'bad-magic',
      0,
      `not an enclave image file: the magic bytes are ${seen}, not 2e 65 69 66 (".eif")`,
    );
  }
  if (!SUPPORTED_EIF_VERSIONS.includes(header.version)) {
    const swapped = ((header.version & 0xff) << 8) | (header.version >> 8);
    if (SUPPORTED_EIF_VERSIONS.includes(swapped)) {
      throw new EifFormatError(
        'byte-order',
        HEADER.version,
        `the version field reads ${header.version} (0x${header.version.toString(16).padStart(4, '0')}), ` +
          `which is version ${swapped} in little-endian: ` +
          'a pre-release EIF layout with host-endian headers, which no released tool reads',
      );
    }
    throw new EifFormatError(
      'unsupported-version',
      HEADER.version,
      `EIF version ${header.version} is not supported (supported: ${SUPPORTED_EIF_VERSIONS.join(', ')})`,
    );
  }
}

/** Walks the section headers from the end of the EIF header to the end of the file. */
async function walkSections(source: ByteSource, fileSize: number): Promise<{ sections: EifSection[]; pos: number }> {
  const sections: EifSection[] = [];
  let pos = EIF_HEADER_SIZE;
  while (pos + SECTION_HEADER_SIZE <= fileSize) {
    const { type, flags, size } = await readSectionHeader(source, pos);
    if (!isKnownSectionType(type)) {
      throw new EifFormatError(
        'invalid-section-type',
        pos,
        `section ${sections.length} has type ${type}, ` +
          `which is ${type === 0 ? 'the invalid type' : 'not a known section type'} ` +
          '(valid: 1 kernel, 2 cmdline, 3 ramdisk, 4 signature, 5 metadata)',
      );
    }
    const room = BigInt(fileSize - pos - SECTION_HEADER_SIZE);
    if (size > room) {
      const code = size > BigInt(Number.MAX_SAFE_INTEGER) ? 'length-overflow' : 'section-past-eof';
      throw new EifFormatError(
        code,
        pos + 4,
        `section ${sections.length} (${SECTION_NAMES[type]}) says it holds ${size} bytes, ` +
          `but only ${room} bytes follow its header`,
      );
    }
    if (sections.length === MAX_SECTIONS) {
      throw new EifFormatError(
        'section-count',
        pos,
        `the file holds more than ${MAX_SECTIONS} sections, the most an EIF header can describe`,
      );
    }
    const n = Number(size);
    sections.push({
      index: sections.length,
      type: type,
      typeName: SECTION_NAMES[type],
      flags,
      headerOffset: pos,
      dataOffset: pos + SECTION_HEADER_SIZE,
      size: n,
    });
    pos += SECTION_HEADER_SIZE + n;
  }
  return { sections, pos };
}

/** The three fields of the 12-byte section header at `pos`. */
async function readSectionHeader(
  source: ByteSource,
  pos: number,
): Promise<{ type: number; flags: number; size: bigint }> {
  const sh = await source.read(pos, SECTION_HEADER_SIZE);
  const dv = new DataView(sh.buffer, sh.byteOffset, SECTION_HEADER_SIZE);
  return { type: dv.getUint16(0, false), flags: dv.getUint16(2, false), size: dv.getBigUint64(4, false) };
}

/** Records findings as errors or warnings. */
interface Findings {
  readonly error: (code: EifProblem['code'], offset: number, message: string) => void;
  readonly warning: (code: EifProblem['code'], offset: number, message: string) => void;
}

/** Checks a walked file against the header and the format's rules: every finding, in a fixed order. */
function checkStructure(header: EifHeader, sections: EifSection[], fileSize: number, walkEnd: number): EifProblem[] {
  const problems: EifProblem[] = [];
  const findings: Findings = {
    error: (code, offset, message) => problems.push({ code, severity: 'error', offset, message }),
    warning: (code, offset, message) => problems.push({ code, severity: 'warning', offset, message }),
  };
  checkSectionTable(findings, header, sections);
  checkSectionKinds(findings, header, sections);
  checkReservedAndTrailing(findings, header, sections, fileSize, walkEnd);
  return problems;
}

/** The header's section count and offset/size table against the sections found. */
function checkSectionTable({ error }: Findings, header: EifHeader, sections: EifSection[]): void {
  if (header.numSections === 0 || header.numSections > MAX_SECTIONS) {
    error(
      'section-count',
      HEADER.numSections,
      `the header says the file has ${header.numSections} sections; an EIF has 1 to ${MAX_SECTIONS}`,
    );
  } else if (header.numSections !== sections.length) {
    error(
      'table-mismatch',
      HEADER.numSections,
      `the header says the file has ${header.numSections} sections, but ${sections.length} follow it`,
    );
  }
  for (let i = 0; i < MAX_SECTIONS; i++) {
    const s = sections[i];
    const off = header.sectionOffsets[i] ?? 0n;
    const size = header.sectionSizes[i] ?? 0n;
    if (s) {
      if (off !== BigInt(s.headerOffset)) {
        error(
          'table-mismatch',
          HEADER.sectionOffsets + 8 * i,
          `the header's offset table says section ${i} starts at byte ${off}, ` +
            `but its section header is at byte ${s.headerOffset}`,
        );
      }
      if (size !== BigInt(s.size)) {
        error(
          'table-mismatch',
          HEADER.sectionSizes + 8 * i,
          `the header's size table says section ${i} (${s.typeName}) holds ${size} bytes, ` +
            `but its section header says ${s.size}`,
        );
      }
    } else if (off !== 0n || size !== 0n) {
      error(
        'table-mismatch',
        HEADER.sectionOffsets + 8 * i,
        `the header's table has an entry for section ${i} (offset ${off}, size ${size}), ` +
          `but the file has only ${sections.length} sections`,
      );
    }
  }
}

/** Which sections the image has, how many of each, and in what order. */
function checkSectionKinds({ error, warning }: Findings, header: EifHeader, sections: EifSection[]): void {
  const count = (t: SectionType) => sections.filter((s) => s.type === t).length;
  const first = (t: SectionType) => sections.find((s) => s.type === t);
  if (count(SectionType.Kernel) === 0) error('missing-kernel', EIF_HEADER_SIZE, 'the image has no kernel section');
  else if (count(SectionType.Kernel) > 1)
    error(
      'duplicate-section',
      first(SectionType.Kernel)?.headerOffset ?? 0,
      `the image has ${count(SectionType.Kernel)} kernel sections; it must have exactly one`,
    );
  if (count(SectionType.Cmdline) === 0)
    error('missing-cmdline', EIF_HEADER_SIZE, 'the image has no kernel command line section');
  else if (count(SectionType.Cmdline) > 1)
    error(
      'duplicate-section',
      first(SectionType.Cmdline)?.headerOffset ?? 0,
      `the image has ${count(SectionType.Cmdline)} cmdline sections; it must have exactly one`,
    );
  if (count(SectionType.Ramdisk) === 0) error('missing-ramdisk', EIF_HEADER_SIZE, 'the image has no ramdisk section');
  const kernel = first(SectionType.Kernel);
  const ramdisk = first(SectionType.Ramdisk);
  if (kernel && ramdisk && ramdisk.index < kernel.index) {
    error(
      'section-order',
      ramdisk.headerOffset,
      'a ramdisk section comes before the kernel section; every ramdisk must follow the kernel',
    );
  }
  if (header.version >= 4 && count(SectionType.Metadata) === 0) {
    error(
      'missing-metadata',
      HEADER.version,
      `an EIF of version ${header.version} must have a metadata section, and this one has none`,
    );
  }
  if (header.version < 3 && count(SectionType.Signature) > 0) {
    warning(
      'bad-signature-section',
      first(SectionType.Signature)?.headerOffset ?? 0,
      `a version ${header.version} EIF has a signature section, which version 3 introduced`,
    );
  }
  if (count(SectionType.Signature) > 1) {
    warning(
      'bad-signature-section',
      first(SectionType.Signature)?.headerOffset ?? 0,
      `the image has ${count(SectionType.Signature)} signature sections; only the last is checked, ` +
        `and PCR8 covers every certificate`,
    );
  }
}

/** Oversized signature sections, reserved bits set, and bytes after the last section. */
function checkReservedAndTrailing(
  { warning }: Findings,
  header: EifHeader,
  sections: EifSection[],
  fileSize: number,
  walkEnd: number,
): void {
  for (const s of sections) {
    if (s.type === SectionType.Signature && s.size > SIGNATURE_MAX_SIZE) {
      warning(
        'section-too-large',
        s.headerOffset,
        `the signature section holds ${s.size} bytes, more than the format's ${SIGNATURE_MAX_SIZE}`,
      );
    }
    if (s.flags !== 0)
      warning(
        'reserved-bits',
        s.headerOffset + 2,
        `section ${s.index} has flags 0x${s.flags.toString(16)}; the field is unused and should be 0`,
      );
  }
  if (header.flags & ~EIF_FLAG_ARM64) {
    warning(
      'reserved-bits',
      HEADER.flags,
      `header flags 0x${header.flags.toString(16)} set bits other than bit 0 (architecture)`,
    );
  }
  if (walkEnd < fileSize) {
    warning(
      'trailing-bytes',
      walkEnd,
      `${fileSize - walkEnd} byte(s) follow the last section; nitro-cli ignores them and leaves them out of the CRC`,
    );
  }
}
