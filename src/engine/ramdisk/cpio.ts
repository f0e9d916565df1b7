// A streaming writer of cpio "newc" archives (SVR4 without CRC, magic 070701), laid out
// byte-for-byte the way linuxkit's vendored gocpio writes the ramdisks of an EIF (shared EIF spec,
// section 6.6):
//
//   * 110-byte header: "070701" and 13 fields of 8 lower-case hex digits (ino, mode, uid, gid,
//     nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check);
//   * inode numbers from 721, one per entry, the trailer included;
//   * mode = (permission bits & 0o7777) | type << 12; nlink 2 for directories, 1 otherwise;
//     devmajor/devminor 3/1; check 0;
//   * the name and one NUL, zero-padded to a multiple of 4 counted from the archive start; then the
//     data, zero-padded to a multiple of 4 before the next header;
//   * a TRAILER!!! entry, then zero padding of the whole archive to a multiple of 512.
//
// File data is streamed in bounded chunks from a ByteSource (or an async iterable), so the writer
// never holds a whole file. Every chunk handed to the sink is a fresh array the sink may keep.
import type { ByteSource } from '../platform/byteSource';
import { throwIfCancelled, type CancellationLike } from '../platform/lifecycle';
import { utf8 } from '../util/bytes';

/** mtime of the entries linuxkit creates itself (2017-04-18T16:30:00Z, 0x58f63f08). */
export const LINUXKIT_MTIME = 1492533000;
/** Inode number of the first entry of a linuxkit ramdisk (0x2d1). */
export const FIRST_INODE = 721;
/** Largest value of an 8-hex-digit header field; also the largest file the format can hold. */
export const MAX_FIELD = 0xffff_ffff;
/**
 * Largest namesize (name bytes + NUL) written: Linux's initramfs unpacker (init/initramfs.c) drops
 * entries whose name is longer than PATH_MAX (4096) including the NUL.
 */
export const MAX_NAME_SIZE = 4096;
/** Largest symlink target written: symlink(2) refuses targets of PATH_MAX (4096) bytes or more. */
export const MAX_LINK_TARGET = 4095;
/** Size of the chunks file data is read in. */
export const CHUNK_SIZE = 256 * 1024;

const MAGIC = '070701';
const HEADER_SIZE = 110;
const TRAILER_NAME = 'TRAILER!!!';

/** The file type nibble of the newc mode field (mode >> 12). */
export const CpioType = {
  fifo: 0o01,
  char: 0o02,
  directory: 0o04,
  block: 0o06,
  file: 0o10,
  symlink: 0o12,
} as const;
export type CpioTypeName = keyof typeof CpioType;

export type CpioErrorCode =
  /** A name that is empty, absolute, starts with ./, has . or .. or empty components, a NUL, or is TRAILER!!!. */
  | 'bad-name'
  /** A name whose namesize (bytes + NUL) exceeds MAX_NAME_SIZE. */
  | 'name-too-long'
  /** A symlink target that is empty, has a NUL or is longer than MAX_LINK_TARGET bytes. */
  | 'bad-link-target'
  /** A numeric field (uid, gid, mtime, rdev, inode) that is not an integer in [0, 0xffffffff]. */
  | 'field-range'
  /** A permission mode that is not an integer in [0, 0o177777]. */
  | 'bad-mode'
  /** A file larger than 4 GiB - 1 (the filesize field has 8 hex digits). */
  | 'file-too-large'
  /** File data shorter or longer than the size given in the header. */
  | 'size-mismatch'
  /** A call after finish(). */
  | 'finished'
  /** A call after an earlier write failed part-way (the archive is incomplete). */
  | 'writer-failed';

/** A request the writer refuses: the message names the entry and the rule broken. */
export class CpioFormatError extends Error {
  constructor(
    readonly code: CpioErrorCode,
    /** Archive offset at which the offending entry would have started (or where the failure happened). */
    readonly offset: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${message} (at archive byte ${offset}; rule: ${code})`, options);
    this.name = 'CpioFormatError';
  }
}

/** Owner, group and time of an entry. Defaults: uid 0, gid 0, mtime LINUXKIT_MTIME. */
export interface CpioMeta {
  /** Permission bits; only mode & 0o7777 is written (the type bits come from the entry kind). */
  readonly mode: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Seconds since the epoch, an integer. */
  readonly mtime?: number;
}

export interface CpioFileMeta extends CpioMeta {
  /** Exact number of data bytes; must match the data given. */
  readonly size: number;
}

/** File content: bytes in memory, a random-access source (read whole), or a stream of chunks. */
export type CpioData = Uint8Array | ByteSource | AsyncIterable<Uint8Array>;

export type CpioSink = (chunk: Uint8Array) => Promise<void> | void;

export interface CpioWriterOptions {
  /** Inode number of the first entry (default 721, as linuxkit). */
  readonly firstInode?: number;
  /** Checked before each header and between data chunks. */
  readonly cancellation?: CancellationLike;
}

/** One header as written (exposed for tests and tools). */
export interface CpioHeaderFields {
  readonly ino: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly mtime: number;
  readonly filesize: number;
  readonly devmajor: number;
  readonly devminor: number;
  readonly rdevmajor: number;
  readonly rdevminor: number;
  readonly namesize: number;
  readonly check: number;
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;

function hex8(value: number): string {
  return value.toString(16).padStart(8, '0');
}

/** The 110 ASCII bytes of a newc header (fields already validated to fit 32 bits). */
export function encodeHeader(h: CpioHeaderFields): string {
  return (
    MAGIC +
    hex8(h.ino) +
    hex8(h.mode) +
    hex8(h.uid) +
    hex8(h.gid) +
    hex8(h.nlink) +
    hex8(h.mtime) +
    hex8(h.filesize) +
    hex8(h.devmajor) +
    hex8(h.devminor) +
    hex8(h.rdevmajor) +
    hex8(h.rdevminor) +
    hex8(h.namesize) +
    hex8(h.check)
  );
}

/**
 * Checks an archive member name: relative, canonical (no leading "/" or "./", no empty, "." or
 * ".." components, no trailing "/"), without NUL, not the trailer's name, and short enough for the
 * kernel. Returns its UTF-8 bytes.
 */
export function checkCpioName(name: string, offset = 0): Uint8Array {
  const reject = (why: string): never => {
    throw new CpioFormatError(
      'bad-name',
      offset,
      `cpio entry name ${JSON.stringify(name)} ${why}; names must be relative paths like "rootfs/etc/hosts"`,
    );
  };
  if (typeof name !== 'string' || name.length === 0) reject('is empty');
  if (name.includes('\0')) reject('contains a NUL byte');
  if (name.startsWith('/')) reject('is absolute (starts with "/")');
  if (name.startsWith('./') || name === '.') reject('starts with "./"');
  if (name === TRAILER_NAME) reject('is the end-of-archive marker');
  for (const part of name.split('/')) {
    if (part === '..') reject('has a ".." component');
    if (part === '.') reject('has a "." component');
    if (part === '') reject('has an empty component (a repeated or trailing "/")');
  }
  const bytes = utf8(name);
  if (bytes.length + 1 > MAX_NAME_SIZE) {
    throw new CpioFormatError(
      'name-too-long',
      offset,
      `cpio entry name of ${bytes.length} bytes is too long: ` +
        `namesize (name + NUL) must be at most ${MAX_NAME_SIZE} (Linux PATH_MAX)`,
    );
  }
  return bytes;
}

function checkField(what: string, value: number, name: string, offset: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_FIELD) {
    throw new CpioFormatError(
      'field-range',
      offset,
      `cpio entry ${JSON.stringify(name)}: ${what} ${String(value)} is not an integer in [0, 0xffffffff] ` +
        '(newc fields are 8 hex digits)',
    );
  }
  return value;
}

function isByteSource(data: CpioData): data is ByteSource {
  return (
    !(data instanceof Uint8Array) &&
    typeof (data as ByteSource).read === 'function' &&
    typeof (data as ByteSource).size === 'number'
  );
}

/**
 * Writes a newc archive entry by entry to `sink`. Calls may be issued without awaiting the previous
 * one: they run one after the other in call order. A refused entry (bad name, out-of-range field)
 * writes nothing and leaves the writer usable; a failure part-way through an entry (the sink or the
 * data source throwing, data of the wrong length, cancellation) leaves the archive incomplete, and
 * every later call rejects with 'writer-failed'.
 */
export class CpioWriter {
  private readonly sink: CpioSink;
  private readonly cancellation: CancellationLike | undefined;
  private inode: number;
  private written = 0;
  private entryCount = 0;
  private pendingPad = 0;
  private done = false;
  private failure: unknown;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(sink: CpioSink, options: CpioWriterOptions = {}) {
    this.sink = sink;
    this.cancellation = options.cancellation;
    const first = options.firstInode ?? FIRST_INODE;
    checkField('firstInode', first, '<options>', 0);
    this.inode = first;
  }

  /** Bytes handed to the sink so far. */
  get offset(): number {
    return this.written;
  }

  /** Entries written so far (the trailer included once finished). */
  get entries(): number {
    return this.entryCount;
  }

  /** The inode number the next entry will get. */
  get nextInode(): number {
    return this.inode;
  }

  get finished(): boolean {
    return this.done;
  }

  addDirectory(name: string, meta: CpioMeta): Promise<void> {
    return this.enqueue(() => this.writeEntry(name, 'directory', meta, 0, 0, 0, undefined));
  }

  addFile(name: string, meta: CpioFileMeta, data: CpioData): Promise<void> {
    return this.enqueue(async () => {
      const at = this.entryStart();
      if (!Number.isSafeInteger(meta.size) || meta.size < 0) {
        throw new CpioFormatError(
          'field-range',
          at,
          `cpio entry ${JSON.stringify(name)}: size ${String(meta.size)} is not a non-negative integer`,
        );
      }
      if (meta.size > MAX_FIELD) {
        throw new CpioFormatError(
          'file-too-large',
          at,
          `cpio entry ${JSON.stringify(name)}: ${meta.size} bytes do not fit the 8-hex-digit filesize field ` +
            `(at most 4 GiB - 1 = ${MAX_FIELD} bytes)`,
        );
      }
      const known = data instanceof Uint8Array ? data.length : isByteSource(data) ? data.size : undefined;
      if (known !== undefined && known !== meta.size) {
        throw new CpioFormatError(
          'size-mismatch',
          at,
          `cpio entry ${JSON.stringify(name)}: the header says ${meta.size} bytes but the data has ${known}`,
        );
      }
      await this.writeEntry(name, 'file', meta, meta.size, 0, 0, data);
    });
  }

  /**
   * A symbolic link. `link` makes it one path of a hard-linked symlink (newc's hard-link rule, as
   * GNU cpio writes it): every path carries the target, and all share one inode number and nlink.
   * Without `link.ino` the entry takes the next inode number, which the other paths then pass.
   */
  addSymlink(
    name: string,
    target: string,
    meta: CpioMeta,
    link: { readonly ino?: number; readonly nlink?: number } = {},
  ): Promise<void> {
    return this.enqueue(async () => {
      const at = this.entryStart();
      const bytes = typeof target === 'string' ? utf8(target) : new Uint8Array(0);
      if (typeof target !== 'string' || bytes.length === 0 || target.includes('\0') || bytes.length > MAX_LINK_TARGET) {
        throw new CpioFormatError(
          'bad-link-target',
          at,
          `cpio symlink ${JSON.stringify(name)}: target ${JSON.stringify(target)} ` +
            `must be 1 to ${MAX_LINK_TARGET} bytes without NUL`,
        );
      }
      await this.writeEntry(name, 'symlink', meta, bytes.length, 0, 0, bytes, link);
    });
  }

  /** A character or block device node; rdevmajor/rdevminor carry its device number. */
  addDevice(name: string, kind: 'char' | 'block', rdevMajor: number, rdevMinor: number, meta: CpioMeta): Promise<void> {
    return this.enqueue(() => this.writeEntry(name, kind, meta, 0, rdevMajor, rdevMinor, undefined));
  }

  addFifo(name: string, meta: CpioMeta): Promise<void> {
    return this.enqueue(() => this.writeEntry(name, 'fifo', meta, 0, 0, 0, undefined));
  }

  /** Writes the TRAILER!!! entry and pads the archive to a multiple of 512. Returns the archive size. */
  finish(): Promise<number> {
    return this.enqueue(async () => {
      const name = utf8(TRAILER_NAME);
      const header = this.headerBytes(
        {
          ino: this.inode,
          mode: 0,
          uid: 0,
          gid: 0,
          nlink: 1,
          mtime: 0,
          filesize: 0,
          devmajor: 3,
          devminor: 1,
          rdevmajor: 0,
          rdevminor: 0,
          namesize: name.length + 1,
          check: 0,
        },
        name,
        this.pendingPad,
      );
      const end = this.written + header.length;
      const tail = (512 - (end % 512)) % 512;
      const chunk = new Uint8Array(header.length + tail);
      chunk.set(header, 0);
      this.pendingPad = 0;
      this.inode++;
      this.entryCount++;
      await this.emit(chunk);
      this.done = true;
      return this.written;
    });
  }

  // -------------------------------------------------------------------------------------------

  /** Where the next entry's header starts (after the pending data padding). */
  private entryStart(): number {
    return this.written + this.pendingPad;
  }

  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.failure !== undefined) {
        throw new CpioFormatError(
          'writer-failed',
          this.written,
          'the cpio writer failed earlier and the archive is incomplete',
          { cause: this.failure },
        );
      }
      if (this.done)
        throw new CpioFormatError('finished', this.written, 'the cpio archive is already finished (trailer written)');
      return op();
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private headerBytes(h: CpioHeaderFields, name: Uint8Array, leadingZeros: number): Uint8Array {
    const text = encodeHeader(h);
    const start = this.written + leadingZeros;
    const afterName = start + HEADER_SIZE + name.length + 1;
    const out = new Uint8Array(leadingZeros + HEADER_SIZE + name.length + 1 + pad4(afterName));
    for (let i = 0; i < HEADER_SIZE; i++) out[leadingZeros + i] = text.charCodeAt(i);
    out.set(name, leadingZeros + HEADER_SIZE);
    return out;
  }

  private async writeEntry(
    name: string,
    kind: CpioTypeName,
    meta: CpioMeta,
    filesize: number,
    rdevMajor: number,
    rdevMinor: number,
    data: CpioData | undefined,
    link: { readonly ino?: number; readonly nlink?: number } = {},
  ): Promise<void> {
    const at = this.entryStart();
    const nameBytes = checkCpioName(name, at);
    if (!Number.isInteger(meta.mode) || meta.mode < 0 || meta.mode > 0o177777) {
      throw new CpioFormatError(
        'bad-mode',
        at,
        `cpio entry ${JSON.stringify(name)}: mode ${String(meta.mode)} is not an integer in [0, 0o177777]`,
      );
    }
    const uid = checkField('uid', meta.uid ?? 0, name, at);
    const gid = checkField('gid', meta.gid ?? 0, name, at);
    const mtime = checkField('mtime', meta.mtime ?? LINUXKIT_MTIME, name, at);
    checkField('rdevmajor', rdevMajor, name, at);
    checkField('rdevminor', rdevMinor, name, at);
    const ino = checkField('inode', link.ino ?? this.inode, name, at);
    const nlink = checkField('nlink', link.nlink ?? (kind === 'directory' ? 2 : 1), name, at);
    throwIfCancelled(this.cancellation, 'cpio archive');

    const header = this.headerBytes(
      {
        ino,
        mode: (meta.mode & 0o7777) | (CpioType[kind] << 12),
        uid,
        gid,
        nlink,
        mtime,
        filesize,
        devmajor: 3,
        devminor: 1,
        rdevmajor: rdevMajor,
        rdevminor: rdevMinor,
        namesize: nameBytes.length + 1,
        check: 0,
      },
      nameBytes,
      this.pendingPad,
    );
    this.pendingPad = 0;
    if (link.ino === undefined) this.inode++; // a further path of a hard link reuses its first path's number
    this.entryCount++;
    // From here on bytes reach the sink: any failure leaves the archive incomplete.
    try {
      await this.emit(header);
      if (data !== undefined) await this.writeData(name, at, filesize, data);
      this.pendingPad = pad4(this.written);
    } catch (e) {
      this.failure = e;
      throw e;
    }
  }

  private async writeData(name: string, at: number, size: number, data: CpioData): Promise<void> {
    if (data instanceof Uint8Array) {
      for (let pos = 0; pos < size; pos += CHUNK_SIZE) {
        throwIfCancelled(this.cancellation, 'cpio archive');
        await this.emit(data.slice(pos, Math.min(size, pos + CHUNK_SIZE)));
      }
      return;
    }
    if (isByteSource(data)) {
      for (let pos = 0; pos < size; pos += CHUNK_SIZE) {
        throwIfCancelled(this.cancellation, 'cpio archive');
        const length = Math.min(CHUNK_SIZE, size - pos);
        const chunk = await data.read(pos, length);
        if (chunk.length !== length) {
          throw new CpioFormatError(
            'size-mismatch',
            at,
            `cpio entry ${JSON.stringify(name)}: ${data.name} returned ${chunk.length} bytes at offset ${pos}, ` +
              `expected ${length}`,
          );
        }
        await this.emit(chunk);
      }
      return;
    }
    let got = 0;
    for await (const part of data) {
      throwIfCancelled(this.cancellation, 'cpio archive');
      if (part.length === 0) continue;
      if (got + part.length > size) {
        throw new CpioFormatError(
          'size-mismatch',
          at,
          `cpio entry ${JSON.stringify(name)}: the data stream has more than the ${size} bytes the header announces`,
        );
      }
      got += part.length;
      await this.emit(part.slice());
    }
    if (got !== size) {
      throw new CpioFormatError(
        'size-mismatch',
        at,
        `cpio entry ${JSON.stringify(name)}: ` +
          `the data stream ended after ${got} of the ${size} bytes the header announces`,
      );
    }
  }

  private async emit(chunk: Uint8Array): Promise<void> {
    if (chunk.length === 0) return;
    await this.sink(chunk);
    this.written += chunk.length;
  }
}

/**
 * Writes the bootstrap ramdisk (ramdisk 0, measured into PCR1) exactly as nitro-cli's linuxkit does:
 * `dev` (directory 0755), `init` (file 0755), `nsm.ko` (file 0755), trailer; uid/gid 0, mtime
 * 1492533000, inodes from 721, padded to 512. Returns the archive size.
 */
export async function bootstrapRamdisk(
  init: ByteSource,
  nsmKo: ByteSource,
  sink: CpioSink,
  options: { cancellation?: CancellationLike } = {},
): Promise<number> {
  const w = new CpioWriter(sink, options.cancellation ? { cancellation: options.cancellation } : {});
  const meta = { mode: 0o755, uid: 0, gid: 0, mtime: LINUXKIT_MTIME };
  await w.addDirectory('dev', meta);
  await w.addFile('init', { ...meta, size: init.size }, init);
  await w.addFile('nsm.ko', { ...meta, size: nsmKo.size }, nsmKo);
  return w.finish();
}

/**
 * The target linuxkit gives a tar hard link when it turns it into a symlink: the link target
 * relative to the directory of the link (Go's filepath.Rel(filepath.Dir(name), linkName)), e.g.
 * `usr/bin/b` linking to `usr/lib/a` becomes `../lib/a`. Both paths must be relative and free of
 * "..": pass them through confinePath (src/engine/oci/tar.ts) first.
 */
export function hardLinkAsSymlinkTarget(name: string, linkName: string): string {
  const clean = (p: string) => p.split('/').filter((s) => s !== '' && s !== '.');
  const dir = clean(name).slice(0, -1);
  const target = clean(linkName);
  if ([...dir, ...target].includes('..')) {
    throw new CpioFormatError(
      'bad-name',
      0,
      `hard link ${JSON.stringify(name)} -> ${JSON.stringify(linkName)}: paths with ".." cannot be made relative`,
    );
  }
  let common = 0;
  while (common < dir.length && common < target.length && dir[common] === target[common]) common++;
  const parts = [...Array<string>(dir.length - common).fill('..'), ...target.slice(common)];
  return parts.length === 0 ? '.' : parts.join('/');
}
