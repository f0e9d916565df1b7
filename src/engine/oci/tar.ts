// A streaming reader of tar archives (the layers of an OCI image, after decompression by the caller).
//
// Formats: POSIX ustar (name + prefix), GNU (long names `L`, long link targets `K`, base-256
// numbers), PAX (`x` per-entry and `g` global extended headers: path, linkpath, size, uid, gid,
// mtime with fractions; uname/gname and unknown keys are ignored), and old V7 headers. Entry
// types: regular file, hard link, symlink, directory, character and block device, FIFO.
//
// Memory stays bounded whatever the archive says: headers are read one 512-byte block at a time,
// file data is passed through in the caller's own chunks, and the only buffered payloads (PAX
// headers, GNU long names) are refused above `maxMetaSize` (1 MiB) before anything is allocated.
//
// The reader only reports what the archive contains. Whether a name or a link is safe to
// materialise is decided by confinePath, linkEscapes and PathGuard below.
import { throwIfCancelled, type CancellationLike } from '../platform/lifecycle';

export type TarErrorCode =
  /** A header whose checksum field does not match the sum of its bytes. */
  | 'bad-checksum'
  /** The input ends inside a header, a metadata payload, file data or its padding, or before the end marker. */
  | 'truncated'
  /** A name that is empty, absolute, contains NUL or has a ".." that leaves the root. */
  | 'unsafe-path'
  /** A link whose target leaves the root (see linkEscapes). */
  | 'link-escape'
  /** An entry whose path goes through a symlink the archive created earlier. */
  | 'through-symlink'
  /** A PAX header or GNU long name/link larger than the configured limit. */
  | 'oversized-header'
  /** A numeric field (octal, base-256 or PAX decimal) that cannot be parsed or is out of range. */
  | 'bad-number'
  /** A PAX extended header whose records do not follow "<length> <key>=<value>\n". */
  | 'bad-pax'
  /** A header with an unknown magic, or that is otherwise not a tar header. */
  | 'bad-header'
  /** An entry type the reader does not support (sparse files, volume labels, multi-volume parts, ...). */
  | 'unsupported-type'
  /** A name or link target that is not valid UTF-8. */
  | 'bad-encoding'
  /** A link, directory, device or FIFO entry with a non-zero size. */
  | 'unexpected-data'
  /** A zero block followed by a non-zero block (a damaged end-of-archive marker). */
  | 'bad-end'
  /** entry.data() called twice, or after the reader moved on to the next entry. */
  | 'stale-entry';

/** A tar stream that cannot be read (or a name that must not be used): the message names the rule broken. */
export class TarFormatError extends Error {
  constructor(
    readonly code: TarErrorCode,
    /** Byte offset in the (uncompressed) tar stream of the header or byte concerned. */
    readonly offset: number,
    message: string,
  ) {
    super(`${message} (at tar byte ${offset}; rule: ${code})`);
    this.name = 'TarFormatError';
  }
}

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'directory' | 'char' | 'block' | 'fifo';

/** The header format an entry was read from (after its PAX / GNU metadata headers, if any). */
export type TarHeaderFormat = 'ustar' | 'gnu' | 'v7';

export interface TarEntry {
  /** The name as stored (PAX path, GNU long name, or ustar prefix/name); not normalised: see confinePath. */
  readonly name: string;
  readonly type: TarEntryType;
  /** Permission bits (mode & 0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Seconds since the epoch; fractional when a PAX header says so. */
  readonly mtime: number;
  /** Number of data bytes (0 for every type but 'file'). */
  readonly size: number;
  /** Target of a hard link or symlink ('' for other types). */
  readonly linkName: string;
  /** Device numbers of 'char' and 'block' entries (0 for other types). */
  readonly devMajor: number;
  readonly devMinor: number;
  /** Offset of this entry's own header block (after any PAX / GNU metadata headers). */
  readonly headerOffset: number;
  /** Offset of the first metadata header that belongs to this entry (= headerOffset when none). */
  readonly startOffset: number;
  readonly format: TarHeaderFormat;
  /**
   * The file data, in the input's own chunks (views into them, not copies). Call it at most once,
   * before advancing to the next entry; data that is not read is skipped when the reader advances.
   */
  data(): AsyncIterable<Uint8Array>;
}

export interface TarReaderOptions {
  /** Largest PAX header or GNU long name/link payload accepted (default 1 MiB). */
  readonly maxMetaSize?: number;
  /**
   * Whether input that ends cleanly at a header boundary without the end-of-archive marker is an
   * error (default true). Go's archive/tar accepts it; GNU tar warns.
   */
  readonly requireEndMarker?: boolean;
  /** Whether to read (and discard) the input after the end marker (default true), so that a digest
   * computed over the stream by the caller sees every byte. */
  readonly drainTrailing?: boolean;
  /** Checked before each header and between data chunks. */
  readonly cancellation?: CancellationLike;
}

/** How the archive ended. */
export type TarEnd = 'zero-blocks' | 'lone-zero-block' | 'eof';

const BLOCK = 512;
export const DEFAULT_MAX_META_SIZE = 1024 * 1024;
const EMPTY = new Uint8Array(0);

// ---------------------------------------------------------------------------------------------
// Input: pulls chunks from the iterator, counts the absolute offset.

class Input {
  private readonly it: AsyncIterator<Uint8Array>;
  private chunk: Uint8Array = EMPTY;
  private pos = 0;
  private ended = false;
  /** Bytes consumed so far. */
  offset = 0;

  constructor(
    source: AsyncIterable<Uint8Array>,
    private readonly cancellation: CancellationLike | undefined,
  ) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Makes sure unread bytes are buffered; false at the end of the input. */
  private async more(): Promise<boolean> {
    while (this.pos >= this.chunk.length) {
      if (this.ended) return false;
      throwIfCancelled(this.cancellation, 'tar reading');
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        this.chunk = EMPTY;
        this.pos = 0;
        return false;
      }
      if (!(r.value instanceof Uint8Array)) throw new TypeError('tar input chunks must be Uint8Array');
      this.chunk = r.value;
      this.pos = 0;
    }
    return true;
  }

  /** Fills `target` as far as the input allows; returns the number of bytes read. */
  async readFull(target: Uint8Array): Promise<number> {
    let got = 0;
    while (got < target.length && (await this.more())) {
      const n = Math.min(target.length - got, this.chunk.length - this.pos);
      target.set(this.chunk.subarray(this.pos, this.pos + n), got);
      this.pos += n;
      got += n;
      this.offset += n;
    }
    return got;
  }

  /** The next at most `max` bytes as a view, or undefined at the end of the input. */
  async take(max: number): Promise<Uint8Array | undefined> {
    if (max <= 0 || !(await this.more())) return undefined;
    const n = Math.min(max, this.chunk.length - this.pos);
    const out = this.chunk.subarray(this.pos, this.pos + n);
    this.pos += n;
    this.offset += n;
    return out;
  }

  /** Skips up to `n` bytes; returns how many were skipped. */
  async skip(n: number): Promise<number> {
    let done = 0;
    while (done < n) {
      const part = await this.take(n - done);
      if (!part) break;
      done += part.length;
    }
    return done;
  }

  /** Reads and discards everything left; returns the byte count. */
  async drain(): Promise<number> {
    let n = 0;
    for (let part = await this.take(Number.MAX_SAFE_INTEGER); part; part = await this.take(Number.MAX_SAFE_INTEGER))
      n += part.length;
    return n;
  }

  async close(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      await this.it.return?.();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Field parsing.

// fatal: invalid UTF-8 is an error, not U+FFFD; ignoreBOM: a leading U+FEFF stays part of the name.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeUtf8(bytes: Uint8Array, what: string, offset: number): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new TarFormatError('bad-encoding', offset, `the ${what} is not valid UTF-8`);
  }
}

/** Bytes of a NUL-terminated field (up to the first NUL, or the whole field). */
function cString(field: Uint8Array): Uint8Array {
  const nul = field.indexOf(0);
  return nul < 0 ? field : field.subarray(0, nul);
}

const isBlank = (b: number) => b === 0x20 || b === 0;

/**
 * A numeric header field: octal ASCII (surrounding spaces and NULs ignored, empty = 0), or GNU
 * base-256 when the first byte has its high bit set (0x80 positive, 0xff negative).
 */
export function parseTarNumber(field: Uint8Array, what: string, offset: number): number {
  const first = field[0] ?? 0;
  if (first & 0x80) {
    const negative = (first & 0x40) !== 0;
    let v = BigInt(first & 0x3f) - (negative ? 0x40n : 0n);
    for (let i = 1; i < field.length; i++) v = (v << 8n) | BigInt(field[i] as number);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new TarFormatError('bad-number', offset, `the ${what} field (base-256) holds ${v}, beyond 2^53`);
    }
    return Number(v);
  }
  let start = 0;
  let end = field.length;
  while (start < end && isBlank(field[start] as number)) start++;
  while (end > start && isBlank(field[end - 1] as number)) end--;
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = field[i] as number;
    if (c < 0x30 || c > 0x37) {
      throw new TarFormatError(
        'bad-number',
        offset,
        `the ${what} field ${JSON.stringify(String.fromCharCode(...field))} is not an octal number`,
      );
    }
    v = v * 8 + (c - 0x30);
  }
  // At most 12 octal digits: < 2^36, always a safe integer.
  return v;
}

function nonNegative(v: number, what: string, offset: number): number {
  if (v < 0) throw new TarFormatError('bad-number', offset, `the ${what} field is negative (${v})`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// PAX records.

/** The PAX keys the reader uses; everything else is parsed for validity and dropped. */
const PAX_KEYS = new Set(['path', 'linkpath', 'size', 'uid', 'gid', 'mtime']);

/** Parses "<length> <key>=<value>\n" records; returns the used keys (empty value = key deleted). */
export function parsePax(payload: Uint8Array, offset: number): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < payload.length) {
    let len = 0;
    let i = pos;
    while (i < payload.length && payload[i] !== 0x20) {
      const c = payload[i] as number;
      if (c < 0x30 || c > 0x39 || i - pos >= 10) {
        throw new TarFormatError(
          'bad-pax',
          offset,
          `PAX record at payload byte ${pos} does not start with a decimal length`,
        );
      }
      len = len * 10 + (c - 0x30);
      i++;
    }
    if (i === pos || i >= payload.length)
      throw new TarFormatError('bad-pax', offset, `PAX record at payload byte ${pos} has no "<length> " prefix`);
    const end = pos + len;
    if (len <= i - pos + 1 || end > payload.length) {
      throw new TarFormatError(
        'bad-pax',
        offset,
        `PAX record at payload byte ${pos} claims ${len} bytes; ${payload.length - pos} remain`,
      );
    }
    if (payload[end - 1] !== 0x0a)
      throw new TarFormatError('bad-pax', offset, `PAX record at payload byte ${pos} does not end with a newline`);
    const record = payload.subarray(i + 1, end - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw new TarFormatError('bad-pax', offset, `PAX record at payload byte ${pos} has no "key=value"`);
    const key = decodeUtf8(record.subarray(0, eq), 'PAX record key', offset);
    if (key.startsWith('GNU.sparse.')) {
      throw new TarFormatError(
        'unsupported-type',
        offset,
        `PAX key ${key} describes a sparse file, which is not supported`,
      );
    }
    if (PAX_KEYS.has(key)) {
      const value = decodeUtf8(record.subarray(eq + 1), `PAX ${key} value`, offset);
      // Numbers are checked here, so that an error names the extended header that holds them.
      if (value !== '' && (key === 'size' || key === 'uid' || key === 'gid')) paxInteger(value, key, offset);
      if (value !== '' && key === 'mtime') paxTime(value, offset);
      out.set(key, value);
    }
    pos = end;
  }
  return out;
}

const DECIMAL = /^[0-9]{1,16}$/;
const PAX_TIME = /^-?[0-9]{1,16}(\.[0-9]{0,32})?$/;

function paxInteger(value: string, key: string, offset: number): number {
  const v = DECIMAL.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(v))
    throw new TarFormatError(
      'bad-number',
      offset,
      `PAX ${key}=${JSON.stringify(value.slice(0, 40))} is not a non-negative integer below 2^53`,
    );
  return v;
}

function paxTime(value: string, offset: number): number {
  const v = PAX_TIME.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(v) || Math.abs(v) > Number.MAX_SAFE_INTEGER) {
    throw new TarFormatError(
      'bad-number',
      offset,
      `PAX mtime=${JSON.stringify(value.slice(0, 40))} is not a decimal number of seconds`,
    );
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// The reader.

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'directory',
  '6': 'fifo',
};

const TYPE_NAMES: Record<string, string> = {
  S: 'a GNU sparse file',
  D: 'a GNU incremental directory dump',
  M: 'a GNU multi-volume continuation',
  N: 'a GNU long file name (old style)',
  V: 'a GNU volume label',
  X: 'a Solaris extended header',
  A: 'a Solaris ACL',
  E: 'a Solaris extended attribute',
  I: 'an inode-only entry',
};

function checksums(block: Uint8Array): { unsigned: number; signed: number } {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return { unsigned, signed };
}

function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** PAX and GNU long-name headers read so far for the entry that follows them. */
interface PendingMeta {
  readonly local: Map<string, string>;
  longName?: string;
  longLink?: string;
  /** Offset of the first header of the entry (-1 before one). */
  startOffset: number;
}

/** An entry's fields from its header, then overridden by long names and PAX records. */
interface HeaderFields {
  name: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size: number;
  linkName: string;
  devMajor: number;
  devMinor: number;
}

/** Checks a header block's checksum and tells its format by its magic. */
function headerFormat(block: Uint8Array, offset: number): TarHeaderFormat {
  // Checksum (stored as octal; sums with the field as 8 spaces, unsigned or, historically, signed).
  let stored: number;
  try {
    stored = parseTarNumber(block.subarray(148, 156), 'checksum', offset);
  } catch {
    throw new TarFormatError(
      'bad-checksum',
      offset,
      `the checksum field ${JSON.stringify(textOf(block.subarray(148, 156)))} is not an octal number; ` +
        `this is not a tar header`,
    );
  }
  const sums = checksums(block);
  if (stored !== sums.unsigned && stored !== sums.signed) {
    throw new TarFormatError(
      'bad-checksum',
      offset,
      `header checksum ${stored} does not match the sum of the header bytes (${sums.unsigned})`,
    );
  }
  const magic = textOf(block.subarray(257, 263));
  const version = textOf(block.subarray(263, 265));
  if (magic === 'ustar\0') return 'ustar';
  if (magic === 'ustar ' && version === ' \0') return 'gnu';
  if (isZeroBlock(block.subarray(257, 265))) return 'v7';
  throw new TarFormatError(
    'bad-header',
    offset,
    `unknown header magic ${JSON.stringify(magic + version)} (expected "ustar\\0" + "00", GNU "ustar  \\0", or none)`,
  );
}

/** The fields of the header block itself. */
function headerFields(
  block: Uint8Array,
  format: TarHeaderFormat,
  type: TarEntryType,
  size: number,
  offset: number,
): HeaderFields {
  let name = decodeUtf8(cString(block.subarray(0, 100)), 'entry name', offset);
  if (format === 'ustar') {
    const prefix = cString(block.subarray(345, 500));
    if (prefix.length > 0) name = `${decodeUtf8(prefix, 'name prefix', offset)}/${name}`;
  }
  const linkName = decodeUtf8(cString(block.subarray(157, 257)), 'link name', offset);
  const uid = nonNegative(parseTarNumber(block.subarray(108, 116), 'uid', offset), 'uid', offset);
  const gid = nonNegative(parseTarNumber(block.subarray(116, 124), 'gid', offset), 'gid', offset);
  const mtime = parseTarNumber(block.subarray(136, 148), 'mtime', offset);
  const mode = nonNegative(parseTarNumber(block.subarray(100, 108), 'mode', offset), 'mode', offset) & 0o7777;
  let devMajor = 0;
  let devMinor = 0;
  if (format !== 'v7' && (type === 'char' || type === 'block')) {
    devMajor = nonNegative(parseTarNumber(block.subarray(329, 337), 'devmajor', offset), 'devmajor', offset);
    devMinor = nonNegative(parseTarNumber(block.subarray(337, 345), 'devminor', offset), 'devminor', offset);
  }
  return { name, type, mode, uid, gid, mtime, size, linkName, devMajor, devMinor };
}

/** PAX records (global, overridden per entry) override the header's fields. */
function applyPax(fields: HeaderFields, pax: ReadonlyMap<string, string>, offset: number): void {
  for (const [k, v] of pax) {
    if (k === 'path') fields.name = v;
    else if (k === 'linkpath') fields.linkName = v;
    else if (k === 'size') fields.size = paxInteger(v, k, offset);
    else if (k === 'uid') fields.uid = paxInteger(v, k, offset);
    else if (k === 'gid') fields.gid = paxInteger(v, k, offset);
    else if (k === 'mtime') fields.mtime = paxTime(v, offset);
  }
}

const textOf = (b: Uint8Array) => String.fromCharCode(...b);

/** Reads a tar stream entry by entry. Iterate it once with for await. */
export class TarReader implements AsyncIterable<TarEntry> {
  private readonly input: Input;
  private readonly maxMeta: number;
  private readonly requireEnd: boolean;
  private readonly drainTrailing: boolean;
  private readonly cancellation: CancellationLike | undefined;
  private global = new Map<string, string>();
  /** Data bytes of the current entry not yet read, and the padding after them. */
  private remaining = 0;
  private padding = 0;
  private current = 0;
  private started = false;
  private endKind: TarEnd | undefined;
  private trailing = 0;
  private count = 0;

  constructor(source: AsyncIterable<Uint8Array>, options: TarReaderOptions = {}) {
    this.cancellation = options.cancellation;
    this.input = new Input(source, options.cancellation);
    this.maxMeta = options.maxMetaSize ?? DEFAULT_MAX_META_SIZE;
    this.requireEnd = options.requireEndMarker ?? true;
    this.drainTrailing = options.drainTrailing ?? true;
  }

  /** How the archive ended (undefined until the iteration has finished). */
  get end(): TarEnd | undefined {
    return this.endKind;
  }

  /** Bytes after the end-of-archive marker (read and discarded when drainTrailing). */
  get trailingBytes(): number {
    return this.trailing;
  }

  /** Entries yielded so far. */
  get entries(): number {
    return this.count;
  }

  /** Bytes of the tar stream consumed so far. */
  get offset(): number {
    return this.input.offset;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<TarEntry, void, undefined> {
    if (this.started) throw new Error('a TarReader can be iterated only once');
    this.started = true;
    try {
      for (;;) {
        await this.skipRest();
        const entry = await this.next();
        if (!entry) return;
        this.count++;
        yield entry;
      }
    } finally {
      this.current = -1;
      if (this.endKind === undefined) await this.input.close();
    }
  }

  /** Skips the unread data and the padding of the current entry. */
  private async skipRest(): Promise<void> {
    const want = this.remaining + this.padding;
    if (want === 0) return;
    const got = await this.input.skip(want);
    this.remaining = 0;
    this.padding = 0;
    if (got < want) throw this.truncated('the data of an entry (or its padding to 512 bytes)');
  }

  private truncated(what: string): TarFormatError {
    return new TarFormatError('truncated', this.input.offset, `the tar stream ends inside ${what}`);
  }

  /** Reads one 512-byte block; undefined at a clean end of input. */
  private async block(what: string, buffer: Uint8Array): Promise<Uint8Array | undefined> {
    const got = await this.input.readFull(buffer);
    if (got === 0) return undefined;
    if (got < BLOCK) throw this.truncated(what);
    return buffer;
  }

  /** Reads a metadata payload (PAX header, GNU long name) of `size` bytes plus its padding. */
  private async payload(size: number, kind: string, offset: number): Promise<Uint8Array> {
    if (size > this.maxMeta) {
      throw new TarFormatError(
        'oversized-header',
        offset,
        `${kind} claims ${size} bytes; at most ${this.maxMeta} are accepted`,
      );
    }
    const out = new Uint8Array(size);
    if ((await this.input.readFull(out)) < size) throw this.truncated(`a ${kind}`);
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if ((await this.input.skip(pad)) < pad) throw this.truncated(`the padding of a ${kind}`);
    return out;
  }

  /** Reads headers up to the next entry (through PAX and GNU long-name headers); undefined at the end. */
  private async next(): Promise<TarEntry | undefined> {
    const buffer = new Uint8Array(BLOCK);
    const pending: PendingMeta = { local: new Map(), startOffset: -1 };
    for (;;) {
      throwIfCancelled(this.cancellation, 'tar reading');
      const offset = this.input.offset;
      const block = await this.block('a header', buffer);
      if (!block || isZeroBlock(block)) return this.endOfArchive(block, pending.startOffset >= 0, offset, buffer);
      const format = headerFormat(block, offset);
      const flag = String.fromCharCode(block[156] as number);
      const size = nonNegative(parseTarNumber(block.subarray(124, 136), 'size', offset), 'size', offset);
      if (pending.startOffset < 0) pending.startOffset = offset;
      if (await this.metaHeader(flag, size, offset, pending)) continue;
      const type = TYPES[flag];
      if (type === undefined) {
        const what = TYPE_NAMES[flag] ?? `type ${JSON.stringify(flag)}`;
        throw new TarFormatError('unsupported-type', offset, `the entry is ${what}, which is not supported`);
      }
      const fields = headerFields(block, format, type, size, offset);
      if (pending.longName !== undefined) fields.name = pending.longName;
      if (pending.longLink !== undefined) fields.linkName = pending.longLink;
      const pax = new Map(this.global);
      for (const [k, v] of pending.local) {
        if (v === '') pax.delete(k);
        else pax.set(k, v);
      }
      applyPax(fields, pax, offset);
      // An old-style regular file whose name ends in "/" is a directory.
      if (flag === '\0' && fields.name.endsWith('/')) fields.type = 'directory';
      if (fields.type !== 'file' && fields.size !== 0) {
        throw new TarFormatError(
          'unexpected-data',
          offset,
          `a ${fields.type} entry (${JSON.stringify(fields.name.slice(0, 200))}) declares ${fields.size} data bytes; ` +
            `only regular files carry data`,
        );
      }
      if (fields.type !== 'hardlink' && fields.type !== 'symlink') fields.linkName = '';
      return this.entry(fields, format, offset, pending.startOffset);
    }
  }

  /** A clean end of input, or a zero block: the end-of-archive marker, checked. */
  private async endOfArchive(
    block: Uint8Array | undefined,
    pendingMeta: boolean,
    offset: number,
    buffer: Uint8Array,
  ): Promise<undefined> {
    if (!block) {
      if (pendingMeta) throw this.truncated('an entry announced by a PAX or GNU long-name header (no header follows)');
      if (this.requireEnd) {
        throw new TarFormatError(
          'truncated',
          offset,
          'the tar stream ends without the end-of-archive marker (two 512-byte zero blocks)',
        );
      }
      return this.finishEnd('eof');
    }
    if (pendingMeta)
      throw new TarFormatError(
        'truncated',
        offset,
        'an end-of-archive marker follows a PAX or GNU long-name header instead of its entry',
      );
    const second = await this.block('the end-of-archive marker', buffer);
    if (!second) return this.finishEnd('lone-zero-block');
    if (!isZeroBlock(second)) {
      throw new TarFormatError(
        'bad-end',
        offset + BLOCK,
        'a zero block is followed by a non-zero block; the end-of-archive marker is two zero blocks',
      );
    }
    return this.finishEnd('zero-blocks');
  }

  /** Takes in a PAX (x, g) or GNU long-name (L, K) header; false for any other header. */
  private async metaHeader(flag: string, size: number, offset: number, pending: PendingMeta): Promise<boolean> {
    if (flag === 'x' || flag === 'g') {
      const kind = flag === 'x' ? 'PAX extended header' : 'PAX global header';
      const records = parsePax(await this.payload(size, kind, offset), offset);
      if (flag === 'x') {
        for (const [k, v] of records) pending.local.set(k, v);
      } else {
        for (const [k, v] of records) {
          if (v === '') this.global.delete(k);
          else this.global.set(k, v);
        }
        // A global header stands alone: it does not start an entry.
        if (pending.local.size === 0 && pending.longName === undefined && pending.longLink === undefined)
          pending.startOffset = -1;
      }
      return true;
    }
    if (flag === 'L' || flag === 'K') {
      const kind = flag === 'L' ? 'GNU long name' : 'GNU long link name';
      const text = decodeUtf8(cString(await this.payload(size, kind, offset)), kind, offset);
      if (flag === 'L') pending.longName = text;
      else pending.longLink = text;
      return true;
    }
    return false;
  }

  /** The entry for `fields`, made current: its data is what the reader reads next. */
  private entry(fields: HeaderFields, format: TarHeaderFormat, offset: number, startOffset: number): TarEntry {
    const id = ++this.current;
    this.remaining = fields.size;
    this.padding = (BLOCK - (fields.size % BLOCK)) % BLOCK;
    let opened = false;
    const { name } = fields;
    return {
      ...fields,
      headerOffset: offset,
      startOffset,
      format,
      data: () => {
        if (opened || this.current !== id) {
          throw new TarFormatError(
            'stale-entry',
            offset,
            `data() of ${JSON.stringify(name.slice(0, 200))} was called ` +
              `${opened ? 'twice' : 'after the reader moved on to a later entry'}`,
          );
        }
        opened = true;
        return this.dataOf(id);
      },
    };
  }

  private async *dataOf(id: number): AsyncGenerator<Uint8Array, void, undefined> {
    while (this.remaining > 0) {
      if (this.current !== id)
        throw new TarFormatError(
          'stale-entry',
          this.input.offset,
          'entry data read after the reader moved on to a later entry',
        );
      throwIfCancelled(this.cancellation, 'tar reading');
      const part = await this.input.take(this.remaining);
      if (!part) throw this.truncated('the data of an entry');
      this.remaining -= part.length;
      yield part;
    }
  }

  private async finishEnd(kind: TarEnd): Promise<undefined> {
    this.endKind = kind;
    if (this.drainTrailing) this.trailing = await this.input.drain();
    await this.input.close();
    return undefined;
  }
}

/** Reads the tar stream `chunks` (already decompressed). */
export function readTar(chunks: AsyncIterable<Uint8Array>, options: TarReaderOptions = {}): TarReader {
  return new TarReader(chunks, options);
}

// ---------------------------------------------------------------------------------------------
// Path safety.

/**
 * Normalises an archive member name to a root-relative path: drops "./" and "." components and
 * repeated or trailing slashes, and resolves ".." against the components before it. Rejects
 * (TarFormatError 'unsafe-path') empty names, names with NUL, absolute names, and any ".." that
 * would leave the root. Returns '' for names that denote the root itself ("./", ".", "a/..");
 * callers normally skip such (directory) entries.
 */
export function confinePath(name: string, offset = 0): string {
  const show = JSON.stringify(typeof name === 'string' ? name.slice(0, 200) : name);
  if (typeof name !== 'string' || name.length === 0)
    throw new TarFormatError('unsafe-path', offset, 'an entry has an empty name');
  if (name.includes('\0')) throw new TarFormatError('unsafe-path', offset, `the name ${show} contains a NUL byte`);
  if (name.startsWith('/'))
    throw new TarFormatError(
      'unsafe-path',
      offset,
      `the name ${show} is absolute; archive names must be relative to the root`,
    );
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0)
        throw new TarFormatError('unsafe-path', offset, `the name ${show} has a ".." that leaves the root`);
      out.pop();
    } else {
      out.push(part);
    }
  }
  return out.join('/');
}

/**
 * Whether a link leaves the root. For a symlink, `target` is resolved from the directory holding
 * `entryName`, or from the root when it is absolute (the image root is "/" for the program that
 * will run in it); it escapes when a ".." climbs above the root. A hard link's target is a path
 * from the archive root: it escapes when it is absolute, climbs above the root, or names the root.
 * Empty targets and targets with NUL count as escaping, as does an entry name that is itself unsafe.
 */
export function linkEscapes(entryName: string, target: string, type: 'symlink' | 'hardlink' = 'symlink'): boolean {
  let base: string;
  try {
    base = confinePath(entryName);
  } catch {
    return true;
  }
  if (typeof target !== 'string' || target.length === 0 || target.includes('\0')) return true;
  if (type === 'hardlink') {
    if (target.startsWith('/')) return true;
    try {
      return confinePath(target) === '';
    } catch {
      return true;
    }
  }
  const stack = target.startsWith('/')
    ? []
    : base
        .split('/')
        .filter((p) => p !== '')
        .slice(0, -1);
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (stack.length === 0) return true;
      stack.pop();
    } else {
      stack.push(part);
    }
  }
  return false;
}

/**
 * Admits the entries of one archive in order before they are materialised anywhere (a ramdisk, a
 * directory): confines each name, rejects links that leave the root, and rejects entries whose path
 * goes through a symlink that an earlier entry created (writing `evil/passwd` after `evil -> /etc`
 * would land outside the tree once unpacked). Memory grows with the number of symlinks only.
 */
export class PathGuard {
  private readonly symlinks = new Set<string>();

  /** Returns the confined name ('' for the root directory) or throws TarFormatError. */
  admit(entry: Pick<TarEntry, 'name' | 'type' | 'linkName'> & { readonly headerOffset?: number }): string {
    const offset = entry.headerOffset ?? 0;
    const name = confinePath(entry.name, offset);
    const show = JSON.stringify(name.slice(0, 200));
    if (name === '' && entry.type !== 'directory') {
      throw new TarFormatError(
        'unsafe-path',
        offset,
        `a ${entry.type} entry ${JSON.stringify(entry.name)} names the root directory`,
      );
    }
    const through = this.symlinkAbove(name);
    if (through !== undefined) {
      throw new TarFormatError(
        'through-symlink',
        offset,
        `the entry ${show} lies under ${JSON.stringify(through)}, which the archive made a symlink earlier`,
      );
    }
    if (entry.type === 'symlink' || entry.type === 'hardlink') {
      if (linkEscapes(name, entry.linkName, entry.type)) {
        throw new TarFormatError(
          'link-escape',
          offset,
          `the ${entry.type} ${show} -> ${JSON.stringify(entry.linkName.slice(0, 200))} points outside the root`,
        );
      }
      if (entry.type === 'hardlink') {
        const target = confinePath(entry.linkName, offset);
        const via = this.symlinkAbove(target);
        if (via !== undefined) {
          throw new TarFormatError(
            'through-symlink',
            offset,
            `the hard link ${show} -> ${JSON.stringify(target)} goes through the symlink ${JSON.stringify(via)}`,
          );
        }
      }
    }
    if (entry.type === 'symlink') this.symlinks.add(name);
    else this.symlinks.delete(name);
    return name;
  }

  /** The nearest proper ancestor of `name` that is a recorded symlink. */
  private symlinkAbove(name: string): string | undefined {
    if (this.symlinks.size === 0) return undefined;
    for (let i = name.indexOf('/'); i >= 0; i = name.indexOf('/', i + 1)) {
      const prefix = name.slice(0, i);
      if (this.symlinks.has(prefix)) return prefix;
    }
    return undefined;
  }
}
