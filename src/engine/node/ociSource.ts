// Opens container images from disk without Docker: an OCI image layout directory, an OCI archive
// (a tar of a layout), a `docker save` archive (classic `manifest.json`, or the OCI layout that
// newer Docker versions write alongside it), or a Docker image exported with `docker save`.
//
// Archives are never extracted: the tar is indexed once (member name -> data offset and size,
// with layer data skipped rather than read) and members are then read in place. Every blob read
// is checked against its digest and size; layers are streamed in bounded chunks, decompressed
// (gzip with node:zlib, zstd with fzstd) and checked against the config's diff_ids as they pass.
import { spawn } from 'node:child_process';
import { createHash, randomBytes, type Hash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, realpath, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import type { ByteSource } from '../platform/byteSource';
import { CancelledError, throwIfCancelled, type CancellationLike } from '../platform/lifecycle';
import {
  MAX_JSON_SIZE,
  checkConfigPlatform,
  checkJsonSize,
  entryNames,
  formatPlatform,
  isIndexMediaType,
  isManifestMediaType,
  layerCompression,
  parseDigest,
  parseDockerManifest,
  parseImageConfig,
  parseIndex,
  parseJsonBytes,
  parseManifest,
  resolveIndex,
  selectByReference,
  selectDockerEntry,
  shortDigest,
  show,
  type Descriptor,
  type DockerSaveEntry,
  type ImageIndex,
  type PlatformWanted,
} from '../oci/image';
import { ImageSourceError, OCI_ARCH, type Compression, type ImageConfig, type ImageSourceKind, type LayerBlob, type LayerOpenOptions, type Platform, type ResolvedImage } from '../oci/model';
import { TarFormatError, confinePath, readTar } from '../oci/tar';
import { FileByteSource } from './fileByteSource';

export type ImageSpec =
  | { readonly kind: 'oci-layout'; readonly path: string; readonly reference?: string }
  | { readonly kind: 'archive'; readonly path: string; readonly reference?: string }
  | { readonly kind: 'docker'; readonly uri: string };

export interface OpenImageOptions {
  /** The enclave's architecture: selects the manifest of an index (default x86_64) and is checked against the config. */
  readonly arch?: 'x86_64' | 'aarch64';
  /** Without `arch`: the architecture an index's manifest is chosen for (default x86_64); single images of any architecture are taken as they are. */
  readonly defaultArch?: 'x86_64' | 'aarch64';
  /** Where `docker save` writes its export (removed by close()). */
  readonly tempDir: string;
  readonly cancellation?: CancellationLike;
  /** The docker command (default `docker` on PATH). */
  readonly dockerCommand?: string;
  readonly log?: (line: string) => void;
}

/** Bytes read from disk per chunk when streaming a blob. */
const READ_CHUNK = 256 * 1024;
/** Output chunk size of the gzip decompressor. */
const GUNZIP_CHUNK = 64 * 1024;
/** Largest zstd window accepted (the reference decoder's default limit, 2^27). */
export const MAX_ZSTD_WINDOW = 128 * 1024 * 1024;
/** Most members an archive may have. */
const MAX_ARCHIVE_MEMBERS = 200000;
/** Most stderr bytes of `docker save` kept for the message. */
const STDERR_KEEP = 16 * 1024;

// ---------------------------------------------------------------------------------------------
// Stores: where blobs and members are read from.

interface Member {
  readonly source: ByteSource;
  /** Offset of the member's data in `source`. */
  readonly offset: number;
  readonly size: number;
  close(): Promise<void>;
}

interface Store {
  /** For messages: `OCI layout ./img`, `archive img.tar`. */
  readonly label: string;
  /** The member at a root-relative path, or undefined when it does not exist. */
  open(name: string): Promise<Member | undefined>;
  close(): Promise<void>;
}

const errnoCode = (e: unknown): string | undefined => (e && typeof e === 'object' && 'code' in e && typeof e.code === 'string' ? e.code : undefined);

class DirStore implements Store {
  private constructor(
    private readonly root: string,
    private readonly realRoot: string,
    readonly label: string,
  ) {}

  static async create(root: string, label: string): Promise<DirStore> {
    return new DirStore(root, await realpath(root), label);
  }

  async open(name: string): Promise<Member | undefined> {
    const full = path.join(this.root, ...confinePath(name).split('/'));
    let info;
    try {
      info = await lstat(full);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined;
      throw e;
    }
    if (info.isSymbolicLink()) {
      const real = await realpath(full).catch(() => undefined);
      if (real === undefined) return undefined;
      if (!real.startsWith(this.realRoot + path.sep)) {
        throw new ImageSourceError('missing-blob', `${this.label}: ${name} is a symlink that leads outside the layout (${show(real, 200)})`);
      }
    } else if (!info.isFile()) {
      throw new ImageSourceError('missing-blob', `${this.label}: ${name} is not a regular file`);
    }
    const source = await FileByteSource.open(full);
    return { source, offset: 0, size: source.size, close: () => source.close() };
  }

  async close(): Promise<void> {}
}

interface ArchiveEntry {
  readonly type: 'file' | 'symlink' | 'hardlink';
  readonly offset: number;
  readonly size: number;
  readonly linkName: string;
}

/** Yields an archive's bytes for the tar reader, but zeros (no disk reads) for data it was told to skip. */
class SkippingInput implements AsyncIterable<Uint8Array> {
  private static readonly zeros = new Uint8Array(1024 * 1024);
  private skipFrom = 0;
  private skipTo = 0;
  constructor(
    private readonly source: ByteSource,
    private readonly cancellation: CancellationLike | undefined,
  ) {}

  /** The bytes [from, to) are file data the reader will skip without looking at them. */
  skip(from: number, to: number): void {
    this.skipFrom = from;
    this.skipTo = to;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    let pos = 0;
    while (pos < this.source.size) {
      throwIfCancelled(this.cancellation, 'reading the image archive');
      if (pos >= this.skipFrom && pos < this.skipTo) {
        const n = Math.min(this.skipTo - pos, SkippingInput.zeros.length);
        yield SkippingInput.zeros.subarray(0, n);
        pos += n;
        continue;
      }
      const n = Math.min(READ_CHUNK, this.source.size - pos);
      yield await this.source.read(pos, n);
      pos += n;
    }
  }
}

class ArchiveStore implements Store {
  private closed = false;
  private constructor(
    private readonly source: FileByteSource,
    private readonly members: ReadonlyMap<string, ArchiveEntry>,
    readonly label: string,
  ) {}

  /** Indexes the tar at `file` (reading its headers, not its data). */
  static async create(file: string, label: string, cancellation: CancellationLike | undefined): Promise<ArchiveStore> {
    const source = await FileByteSource.open(file);
    try {
      const members = await ArchiveStore.index(source, label, cancellation);
      return new ArchiveStore(source, members, label);
    } catch (e) {
      await source.close();
      throw e;
    }
  }

  private static async index(source: FileByteSource, label: string, cancellation: CancellationLike | undefined): Promise<Map<string, ArchiveEntry>> {
    if (source.size >= 4) {
      const head = await source.read(0, 4);
      const kind = magicCompression(head);
      if (kind !== 'none') {
        throw new ImageSourceError('unknown-format', `${label} is ${kind}-compressed; decompress it first (e.g. ${kind === 'gzip' ? 'gunzip' : 'unzstd'}) and open the .tar`);
      }
    }
    const input = new SkippingInput(source, cancellation);
    const members = new Map<string, ArchiveEntry>();
    try {
      for await (const entry of readTar(input, { drainTrailing: false, ...(cancellation ? { cancellation } : {}) })) {
        const name = confinePath(entry.name, entry.headerOffset);
        if (entry.type === 'file' && entry.size > 0) input.skip(entry.headerOffset + 512, entry.headerOffset + 512 + entry.size);
        if (name === '' || entry.type === 'directory') continue;
        if (entry.type !== 'file' && entry.type !== 'symlink' && entry.type !== 'hardlink') continue;
        if (members.has(name)) {
          throw new ImageSourceError('unknown-format', `${label}: the member ${show(name)} appears twice; an image archive names each file once`);
        }
        if (members.size >= MAX_ARCHIVE_MEMBERS) throw new ImageSourceError('unknown-format', `${label} has more than ${MAX_ARCHIVE_MEMBERS} members`);
        members.set(name, { type: entry.type, offset: entry.headerOffset + 512, size: entry.size, linkName: entry.linkName });
      }
    } catch (e) {
      if (e instanceof TarFormatError) throw new ImageSourceError('unknown-format', `${label} is not a usable tar archive: ${e.message}`);
      throw e;
    }
    return members;
  }

  has(name: string): boolean {
    return this.members.has(name);
  }

  /** Follows symlinks and hard links (a few hops) to a regular file member. */
  private resolve(name: string): ArchiveEntry | undefined {
    let current = name;
    for (let hops = 0; hops < 8; hops++) {
      const m = this.members.get(current);
      if (!m) return undefined;
      if (m.type === 'file') return m;
      let next: string;
      try {
        next = m.type === 'hardlink' ? confinePath(m.linkName) : confinePath(m.linkName.startsWith('/') ? m.linkName.slice(1) : path.posix.join(path.posix.dirname(current), m.linkName));
      } catch {
        throw new ImageSourceError('missing-blob', `${this.label}: the member ${show(current)} links to ${show(m.linkName)}, outside the archive`);
      }
      current = next;
    }
    throw new ImageSourceError('missing-blob', `${this.label}: the member ${show(name)} is a chain of more than 8 links`);
  }

  async open(name: string): Promise<Member | undefined> {
    if (this.closed) throw new Error(`${this.label}: read after close`);
    const m = this.resolve(confinePath(name));
    if (!m) return undefined;
    return { source: this.source, offset: m.offset, size: m.size, close: async () => undefined };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.source.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Reading blobs.

function hashOf(algorithm: string): Hash {
  return createHash(algorithm);
}

function magicCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

const blobPath = (digest: string, what: string): string => {
  const d = parseDigest(digest, what);
  return `blobs/${d.algorithm}/${d.hex}`;
};

/** Reads a whole small member (at most `max` bytes). */
async function readSmall(store: Store, name: string, what: string, max = MAX_JSON_SIZE): Promise<Uint8Array | undefined> {
  const m = await store.open(name);
  if (!m) return undefined;
  try {
    checkJsonSize(m.size, what, max);
    return await m.source.read(m.offset, m.size);
  } finally {
    await m.close();
  }
}

/** Reads a JSON blob named by a descriptor, checking its size and digest before parsing. */
async function readJsonBlob(store: Store, d: Descriptor, what: string): Promise<{ json: unknown; bytes: Uint8Array }> {
  checkJsonSize(d.size, what);
  const name = blobPath(d.digest, what);
  const m = await store.open(name);
  if (!m) throw new ImageSourceError('missing-blob', `${store.label}: ${what} (${d.digest}) is not in the source (no ${name})`);
  let bytes: Uint8Array;
  try {
    if (m.size !== d.size) throw new ImageSourceError('size-mismatch', `${store.label}: ${what} (${shortDigest(d.digest)}) is ${m.size} bytes; its descriptor says ${d.size}`);
    bytes = await m.source.read(m.offset, m.size);
  } finally {
    await m.close();
  }
  const algorithm = parseDigest(d.digest, what).algorithm;
  const actual = `${algorithm}:${hashOf(algorithm).update(bytes).digest('hex')}`;
  if (actual !== d.digest) throw new ImageSourceError('digest-mismatch', `${store.label}: ${what} does not match its digest: expected ${d.digest}, got ${actual}`);
  return { json: parseJsonBytes(bytes, `${store.label}: ${what}`), bytes };
}

/** Sequential reads of a member with hashing; calls are serialised so that a late drain never races a read. */
class RawReader {
  private pos = 0;
  private tail: Promise<unknown> = Promise.resolve();
  readonly hash: Hash;

  constructor(
    private readonly member: Member,
    algorithm: string,
    private readonly options: LayerOpenOptions,
    private readonly what: string,
  ) {
    this.hash = hashOf(algorithm);
  }

  get bytesRead(): number {
    return this.pos;
  }

  /** The next chunk, or undefined at the end. */
  next(): Promise<Uint8Array | undefined> {
    const p = this.tail.then(() => this.readOne());
    this.tail = p.catch(() => undefined);
    return p;
  }

  private async readOne(): Promise<Uint8Array | undefined> {
    if (this.pos >= this.member.size) return undefined;
    throwIfCancelled(this.options.cancellation, this.what);
    const n = Math.min(READ_CHUNK, this.member.size - this.pos);
    const chunk = await this.member.source.read(this.member.offset + this.pos, n);
    this.pos += n;
    this.hash.update(chunk);
    this.options.onRead?.(n);
    return chunk;
  }

  /** Reads (and hashes) whatever is left. */
  async drain(): Promise<void> {
    while ((await this.next()) !== undefined) {
      /* hashing only */
    }
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    for (let c = await this.next(); c !== undefined; c = await this.next()) yield c;
  }
}

class CompressionError extends Error {}

const isZlibError = (e: unknown): boolean => {
  const code = errnoCode(e);
  return code !== undefined && code.startsWith('Z_');
};

async function* gunzip(raw: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const input = Readable.from(raw, { objectMode: true, highWaterMark: 1 });
  const inflater = createGunzip({ chunkSize: GUNZIP_CHUNK });
  const out = pipeline(input, inflater, () => undefined);
  try {
    for await (const chunk of out as AsyncIterable<Buffer>) yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  } catch (e) {
    if (isZlibError(e)) throw new CompressionError(`gzip: ${e instanceof Error ? e.message : String(e)}`);
    throw e;
  } finally {
    input.destroy();
    inflater.destroy();
  }
}

/**
 * Walks the frames and blocks of a zstd stream (RFC 8878) without decoding them, so that the
 * decoder is fed at most one block at a time (bounding its output per call) and hostile headers
 * (huge windows, dictionaries, reserved bits or block types) are refused before the decoder
 * allocates anything for them.
 */
class ZstdFramer {
  private state: 'magic' | 'header' | 'skipSize' | 'blockHeader' | 'block' | 'checksum' | 'skip' = 'magic';
  private readonly hdr = new Uint8Array(18);
  private hdrLen = 0;
  private need = 4;
  private remaining = 0;
  private last = false;
  private checksum = false;
  private blockMax = 0;
  frames = 0;
  /** Offset in the compressed stream, for messages. */
  offset = 0;

  /** Splits `chunk` into pieces that each end at most one block; throws CompressionError on bad structure. */
  split(chunk: Uint8Array): Uint8Array[] {
    const pieces: Uint8Array[] = [];
    let start = 0;
    let pos = 0;
    while (pos < chunk.length) {
      if (this.state === 'block' || this.state === 'checksum' || this.state === 'skip') {
        const n = Math.min(this.remaining, chunk.length - pos);
        pos += n;
        this.offset += n;
        this.remaining -= n;
        if (this.remaining === 0) {
          if (this.state === 'block') {
            this.blockEnd();
            pieces.push(chunk.subarray(start, pos));
            start = pos;
          } else {
            this.enter('magic');
          }
        }
        continue;
      }
      this.hdr[this.hdrLen++] = chunk[pos++] as number;
      this.offset++;
      if (this.hdrLen < this.need) continue;
      this.headerComplete();
    }
    if (start < chunk.length) pieces.push(chunk.subarray(start));
    return pieces;
  }

  private enter(state: ZstdFramer['state']): void {
    this.state = state;
    this.hdrLen = 0;
    if (state === 'magic') this.need = 4;
    else if (state === 'blockHeader') this.need = 3;
    else if (state === 'checksum') this.remaining = 4;
  }

  private fail(message: string): never {
    throw new CompressionError(`zstd: ${message} (at compressed byte ${this.offset})`);
  }

  private headerComplete(): void {
    const h = this.hdr;
    if (this.state === 'magic') {
      if (h[0] === 0x28 && h[1] === 0xb5 && h[2] === 0x2f && h[3] === 0xfd) {
        this.state = 'header';
        this.need = 5;
      } else if (((h[0] as number) & 0xf0) === 0x50 && h[1] === 0x2a && h[2] === 0x4d && h[3] === 0x18) {
        this.state = 'skipSize';
        this.need = 8;
      } else {
        this.fail(`not a zstd frame (magic ${Array.from(h.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ')})`);
      }
      return;
    }
    if (this.state === 'skipSize') {
      this.remaining = ((h[4] as number) | ((h[5] as number) << 8) | ((h[6] as number) << 16) | ((h[7] as number) << 24)) >>> 0;
      this.state = 'skip';
      this.hdrLen = 0;
      if (this.remaining === 0) this.enter('magic');
      return;
    }
    if (this.state === 'header') {
      const fhd = h[4] as number;
      const fcsFlag = fhd >> 6;
      const single = (fhd >> 5) & 1;
      const didFlag = fhd & 3;
      const didSize = [0, 1, 2, 4][didFlag] as number;
      const fcsSize = fcsFlag === 0 ? single : 1 << fcsFlag;
      const total = 5 + (single ? 0 : 1) + didSize + fcsSize;
      if (this.need < total) {
        this.need = total;
        return;
      }
      if (fhd & 8) this.fail('the frame header sets a reserved bit');
      let at = 5;
      let window = 0;
      if (!single) {
        const wd = h[at++] as number;
        const base = 2 ** (10 + (wd >> 3));
        window = base + (base / 8) * (wd & 7);
      }
      let dict = 0;
      for (let i = 0; i < didSize; i++) dict += (h[at + i] as number) * 2 ** (8 * i);
      at += didSize;
      if (dict !== 0) this.fail(`the frame needs dictionary ${dict}, which is not available`);
      let fcs = 0;
      for (let i = 0; i < fcsSize; i++) fcs += (h[at + i] as number) * 2 ** (8 * i);
      if (fcsSize === 2) fcs += 256;
      if (single) window = fcs;
      if (window > MAX_ZSTD_WINDOW) this.fail(`the frame's window is ${window} bytes; at most ${MAX_ZSTD_WINDOW} are accepted`);
      this.checksum = ((fhd >> 2) & 1) === 1;
      this.blockMax = Math.min(128 * 1024, Math.max(window, 1));
      this.frames++;
      this.enter('blockHeader');
      return;
    }
    // blockHeader
    const bh = (h[0] as number) | ((h[1] as number) << 8) | ((h[2] as number) << 16);
    this.last = (bh & 1) === 1;
    const type = (bh >> 1) & 3;
    const size = bh >>> 3;
    if (type === 3) this.fail('reserved block type');
    if (size > this.blockMax) this.fail(`a block of ${size} bytes exceeds the frame's maximum of ${this.blockMax}`);
    this.remaining = type === 1 ? 1 : size;
    this.state = 'block';
    this.hdrLen = 0;
    // An empty raw block ends right here (it produces no output, so no piece boundary is needed).
    if (this.remaining === 0) this.blockEnd();
  }

  private blockEnd(): void {
    if (this.last) this.enter(this.checksum ? 'checksum' : 'magic');
    else this.enter('blockHeader');
  }

  /** Checks that the stream ended between frames, after at least one. */
  finish(): void {
    if (this.state !== 'magic' || this.hdrLen !== 0) this.fail('the data ends inside a frame');
    if (this.frames === 0) this.fail('the data holds no zstd frame');
  }
}

async function* unzstd(raw: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const framer = new ZstdFramer();
  let out: Uint8Array[] = [];
  const decoder = new ZstdDecompress((data) => {
    if (data.length > 0) out.push(data);
  });
  const push = (piece: Uint8Array, final: boolean) => {
    try {
      decoder.push(piece, final);
    } catch (e) {
      throw new CompressionError(`zstd: ${e instanceof Error ? e.message : String(e)} (near compressed byte ${framer.offset})`);
    }
  };
  for await (const chunk of raw) {
    for (const piece of framer.split(chunk)) {
      push(piece, false);
      if (out.length > 0) {
        const ready = out;
        out = [];
        // fzstd hands out views of its window buffer, which the next block overwrites: copy.
        for (const block of ready) yield block.slice();
      }
    }
  }
  framer.finish();
  push(new Uint8Array(0), true);
  for (const block of out) yield block.slice();
}

interface LayerExpectation {
  readonly index: number;
  /** The compressed (stored) digest to check, when known. */
  readonly digest?: string;
  readonly size: number;
  readonly diffId?: string;
  readonly compression: Compression;
}

/** Streams one layer member as an uncompressed tar, checking size, digest and diff_id. */
async function* streamLayer(store: Store, name: string, expected: LayerExpectation, options: LayerOpenOptions): AsyncGenerator<Uint8Array> {
  const what = `layer ${expected.index}`;
  throwIfCancelled(options.cancellation, `reading ${what}`);
  const member = await store.open(name);
  if (!member) throw new ImageSourceError('missing-blob', `${store.label}: ${what} (${expected.digest ?? name}) is not in the source (no ${name})`);
  try {
    if (member.size !== expected.size) {
      throw new ImageSourceError('size-mismatch', `${store.label}: ${what} (${expected.digest ?? name}) is ${member.size} bytes; the manifest says ${expected.size}`);
    }
    const algorithm = expected.digest ? parseDigest(expected.digest, what).algorithm : 'sha256';
    const raw = new RawReader(member, algorithm, options, `reading ${what}`);
    const diffAlgorithm = expected.diffId ? parseDigest(expected.diffId, `${what} diff_id`).algorithm : 'sha256';
    const uncompressed = hashOf(diffAlgorithm);
    const compressedDigest = (): string => `${algorithm}:${raw.hash.digest('hex')}`;
    if (expected.compression !== 'none' && member.size === 0) {
      throw new ImageSourceError('bad-compression', `${store.label}: ${what} (${expected.digest ?? name}) is empty, which is not valid ${expected.compression} data`);
    }
    const decoded = expected.compression === 'gzip' ? gunzip(raw.chunks()) : expected.compression === 'zstd' ? unzstd(raw.chunks()) : raw.chunks();
    try {
      for await (const chunk of decoded) {
        throwIfCancelled(options.cancellation, `reading ${what}`);
        uncompressed.update(chunk);
        yield chunk;
      }
      await raw.drain();
    } catch (e) {
      if (!(e instanceof CompressionError)) throw e;
      // A blob that does not decompress: if its bytes are not the ones the manifest names, say that.
      await raw.drain();
      const actual = compressedDigest();
      if (expected.digest && actual !== expected.digest) {
        throw new ImageSourceError('digest-mismatch', `${store.label}: ${what} does not match its digest (and does not decompress): expected ${expected.digest}, got ${actual}`);
      }
      throw new ImageSourceError('bad-compression', `${store.label}: ${what} (${expected.digest ?? name}) is not valid ${expected.compression} data: ${e.message}`);
    }
    const actual = compressedDigest();
    if (expected.digest && actual !== expected.digest) {
      throw new ImageSourceError('digest-mismatch', `${store.label}: ${what} does not match its digest: expected ${expected.digest}, got ${actual}`);
    }
    const actualDiff = `${diffAlgorithm}:${uncompressed.digest('hex')}`;
    if (expected.diffId && actualDiff !== expected.diffId) {
      throw new ImageSourceError('digest-mismatch', `${store.label}: ${what} uncompressed does not match the config's diff_id: expected ${expected.diffId}, got ${actualDiff}`);
    }
  } finally {
    await member.close();
  }
}

function layerBlob(store: Store, name: string, expected: LayerExpectation, mediaType: string, storedDigest: string): LayerBlob {
  return {
    index: expected.index,
    digest: storedDigest,
    size: expected.size,
    mediaType,
    compression: expected.compression,
    ...(expected.diffId ? { diffId: expected.diffId } : {}),
    open: (options: LayerOpenOptions = {}) => ({ [Symbol.asyncIterator]: () => streamLayer(store, name, expected, options) }),
  };
}

/** Hashes a whole member (for a compressed docker save layer whose stored digest is not in its name). */
async function hashMember(member: Member, cancellation: CancellationLike | undefined, what: string): Promise<string> {
  const raw = new RawReader(member, 'sha256', cancellation ? { cancellation } : {}, what);
  await raw.drain();
  return `sha256:${raw.hash.digest('hex')}`;
}

// ---------------------------------------------------------------------------------------------
// Resolving an image in a store.

interface Resolved {
  readonly manifestDigest: string;
  readonly configDigest: string;
  readonly platform: Platform;
  readonly platformNote?: string;
  readonly config: ImageConfig;
  readonly layers: readonly LayerBlob[];
  readonly repoTags: readonly string[];
  readonly reference?: string;
}

function wanted(arch: OpenImageOptions['arch']): PlatformWanted {
  return { architecture: OCI_ARCH[arch ?? 'x86_64'], os: 'linux' };
}

function configPlatform(c: ImageConfig): Platform {
  return c.variant ? { architecture: c.architecture, os: c.os, variant: c.variant } : { architecture: c.architecture, os: c.os };
}

function checkDiffIdCount(config: ImageConfig, layers: number, what: string): void {
  if (config.diffIds.length !== layers) {
    throw new ImageSourceError('bad-json', `${what}: the config lists ${config.diffIds.length} diff_ids for ${layers} layers`);
  }
}

/** Reads the layout's index.json, follows the reference and indexes down to one manifest. */
async function resolveOci(store: Store, reference: string | undefined, options: OpenImageOptions): Promise<Resolved> {
  const layoutBytes = await readSmall(store, 'oci-layout', `${store.label}: oci-layout`, 64 * 1024);
  if (!layoutBytes) throw new ImageSourceError('unknown-format', `${store.label} is not an OCI image layout: it has no oci-layout file`);
  const layoutJson = parseJsonBytes(layoutBytes, `${store.label}: oci-layout`);
  const version = layoutJson && typeof layoutJson === 'object' && !Array.isArray(layoutJson) ? (layoutJson as Record<string, unknown>)['imageLayoutVersion'] : undefined;
  if (typeof version !== 'string' || !/^1\.\d+\.\d+$/.test(version)) {
    throw new ImageSourceError('unknown-format', `${store.label}: oci-layout has imageLayoutVersion ${show(version)}; version 1.x.y is supported`);
  }
  const indexBytes = await readSmall(store, 'index.json', `${store.label}: index.json`);
  if (!indexBytes) throw new ImageSourceError('unknown-format', `${store.label} is not an OCI image layout: it has no index.json`);
  const top = parseIndex(parseJsonBytes(indexBytes, `${store.label}: index.json`), `${store.label}: index.json`);
  throwIfCancelled(options.cancellation, 'opening the image');
  const entry = selectByReference(top, reference, `${store.label}`);
  const repoTags = [...new Set(top.manifests.filter((d) => d.digest === entry.digest).flatMap(entryNames))];
  const want = wanted(options.arch ?? options.defaultArch);

  let manifestDescriptor = entry;
  let platformNote: string | undefined;
  if (isIndexMediaType(entry.mediaType)) {
    const what = `image index ${shortDigest(entry.digest)}`;
    const loadIndex = async (d: Descriptor): Promise<ImageIndex> => {
      throwIfCancelled(options.cancellation, 'opening the image');
      const label = `image index ${shortDigest(d.digest)}`;
      return parseIndex((await readJsonBlob(store, d, label)).json, `${store.label}: ${label}`);
    };
    const index = await loadIndex(entry);
    const choice = await resolveIndex(index, want, loadIndex, `${store.label}: ${what}`, { digest: entry.digest });
    manifestDescriptor = choice.descriptor;
    platformNote = choice.platformNote;
  } else if (!isManifestMediaType(entry.mediaType)) {
    throw new ImageSourceError('unsupported-media-type', `${store.label}: the entry ${show(entryNames(entry)[0] ?? entry.digest)} has media type ${show(entry.mediaType)}, not an image manifest or index`);
  }

  const manifestWhat = `manifest ${shortDigest(manifestDescriptor.digest)}`;
  const manifest = parseManifest((await readJsonBlob(store, manifestDescriptor, manifestWhat)).json, `${store.label}: ${manifestWhat}`);
  throwIfCancelled(options.cancellation, 'opening the image');
  const configWhat = `config ${shortDigest(manifest.config.digest)}`;
  const config = parseImageConfig((await readJsonBlob(store, manifest.config, configWhat)).json, `${store.label}: ${configWhat}`);
  if (options.arch !== undefined || platformNote !== undefined) checkConfigPlatform(config, want, `${store.label}: ${configWhat}`);
  checkDiffIdCount(config, manifest.layers.length, `${store.label}: ${manifestWhat}`);

  const layers: LayerBlob[] = [];
  for (const [i, d] of manifest.layers.entries()) {
    throwIfCancelled(options.cancellation, 'opening the image');
    const name = blobPath(d.digest, `${manifestWhat}: layers[${i}]`);
    const member = await store.open(name);
    if (!member) {
      const foreign = d.urls && d.urls.length > 0 ? ' (a non-distributable layer to be fetched from its URLs, which is not supported)' : '';
      throw new ImageSourceError('missing-blob', `${store.label}: layer ${i} (${d.digest}) is not in the source${foreign}`);
    }
    const size = member.size;
    await member.close();
    if (size !== d.size) throw new ImageSourceError('size-mismatch', `${store.label}: layer ${i} (${d.digest}) is ${size} bytes; the manifest says ${d.size}`);
    const expected: LayerExpectation = { index: i, digest: d.digest, size: d.size, diffId: config.diffIds[i] as string, compression: layerCompression(d.mediaType, `${manifestWhat}: layers[${i}]`) };
    layers.push(layerBlob(store, name, expected, d.mediaType, d.digest));
  }
  const names = entryNames(entry);
  const ref = reference ?? (names.length > 0 ? names[0] : undefined);
  return {
    manifestDigest: manifestDescriptor.digest,
    configDigest: manifest.config.digest,
    platform: manifestDescriptor.platform ?? configPlatform(config),
    ...(platformNote ? { platformNote } : {}),
    config,
    layers,
    repoTags,
    ...(ref !== undefined ? { reference: ref } : {}),
  };
}

const HEX_JSON = /^([0-9a-f]{64})\.json$/;
const BLOB_NAME = /^blobs\/sha256\/([0-9a-f]{64})$/;

/** Reads a classic `docker save` archive through its manifest.json. */
async function resolveDockerSave(store: ArchiveStore, reference: string | undefined, options: OpenImageOptions): Promise<Resolved> {
  const what = `${store.label}: manifest.json`;
  const bytes = await readSmall(store, 'manifest.json', what);
  if (!bytes) throw new ImageSourceError('unknown-format', `${store.label} has no manifest.json`);
  const entries = parseDockerManifest(parseJsonBytes(bytes, what), what);
  const entry: DockerSaveEntry = selectDockerEntry(entries, reference, store.label);

  let configName: string;
  try {
    configName = confinePath(entry.config);
  } catch (e) {
    throw new ImageSourceError('bad-json', `${what}: Config ${show(entry.config)} is not a safe member name (${e instanceof Error ? e.message : String(e)})`);
  }
  const configBytes = await readSmall(store, configName, `${store.label}: ${configName}`);
  if (!configBytes) throw new ImageSourceError('missing-blob', `${store.label}: the config ${show(configName)} named by manifest.json is not in the archive`);
  const configDigest = `sha256:${createHash('sha256').update(configBytes).digest('hex')}`;
  const named = HEX_JSON.exec(configName) ?? BLOB_NAME.exec(configName);
  if (named && `sha256:${named[1]}` !== configDigest) {
    throw new ImageSourceError('digest-mismatch', `${store.label}: the config ${show(configName)} does not match the digest in its name: got ${configDigest}`);
  }
  const config = parseImageConfig(parseJsonBytes(configBytes, `${store.label}: ${configName}`), `${store.label}: ${configName}`);
  const want = wanted(options.arch ?? options.defaultArch);
  if (options.arch !== undefined) checkConfigPlatform(config, want, `${store.label}: ${configName}`);
  checkDiffIdCount(config, entry.layers.length, what);

  const layers: LayerBlob[] = [];
  for (const [i, layerName] of entry.layers.entries()) {
    throwIfCancelled(options.cancellation, 'opening the image');
    let name: string;
    try {
      name = confinePath(layerName);
    } catch (e) {
      throw new ImageSourceError('bad-json', `${what}: Layers[${i}] ${show(layerName)} is not a safe member name (${e instanceof Error ? e.message : String(e)})`);
    }
    const member = await store.open(name);
    if (!member) throw new ImageSourceError('missing-blob', `${store.label}: layer ${i} (${show(name)}) named by manifest.json is not in the archive`);
    const head = await member.source.read(member.offset, Math.min(4, member.size));
    const compression = magicCompression(head);
    const diffId = config.diffIds[i] as string;
    const fromName = BLOB_NAME.exec(name);
    const storedDigest = fromName ? `sha256:${fromName[1]}` : compression === 'none' ? diffId : await hashMember(member, options.cancellation, `hashing layer ${i}`);
    await member.close();
    const mediaType = compression === 'gzip' ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : compression === 'zstd' ? 'application/vnd.oci.image.layer.v1.tar+zstd' : 'application/vnd.oci.image.layer.v1.tar';
    const expected: LayerExpectation = { index: i, ...(fromName || compression !== 'none' ? { digest: storedDigest } : {}), size: member.size, diffId, compression };
    layers.push(layerBlob(store, name, expected, mediaType, storedDigest));
  }
  const ref = reference ?? entry.repoTags[0];
  return {
    manifestDigest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    configDigest,
    platform: configPlatform(config),
    config,
    layers,
    repoTags: entry.repoTags,
    ...(ref !== undefined ? { reference: ref } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Opening.

function image(kind: ImageSourceKind, description: string, store: Store, r: Resolved, onClose?: () => Promise<void>): ResolvedImage {
  let closed = false;
  return {
    kind,
    description,
    ...r,
    close: async () => {
      if (closed) return;
      closed = true;
      try {
        await store.close();
      } finally {
        await onClose?.();
      }
    },
  };
}

async function checkExists(p: string, flag: string): Promise<Stats> {
  try {
    return await stat(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') throw new ImageSourceError('not-found', `${p} does not exist (${flag})`);
    throw new ImageSourceError('not-found', `${p} cannot be read: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function openLayout(dir: string, reference: string | undefined, options: OpenImageOptions): Promise<ResolvedImage> {
  const info = await checkExists(dir, '--oci-layout');
  if (!info.isDirectory()) throw new ImageSourceError('unknown-format', `${dir} is a file, not an OCI layout directory; open archives with --image-archive`);
  const label = `OCI layout ${dir}`;
  const store = await DirStore.create(dir, label);
  const r = await resolveOci(store, reference, options);
  const description = `${label}${r.reference !== undefined ? `, tag ${show(r.reference)}` : ''}`;
  return image('oci-layout', description, store, r);
}

async function openArchive(file: string, reference: string | undefined, options: OpenImageOptions, asDocker?: { readonly uri: string; readonly cleanup: () => Promise<void> }): Promise<ResolvedImage> {
  const info = await checkExists(file, asDocker ? 'docker save output' : '--image-archive');
  if (info.isDirectory()) throw new ImageSourceError('unknown-format', `${file} is a directory, not an image archive; open OCI layouts with --oci-layout`);
  const label = asDocker ? `docker save of ${asDocker.uri}` : `archive ${file}`;
  const store = await ArchiveStore.create(file, label, options.cancellation);
  try {
    const hasOci = store.has('oci-layout') && store.has('index.json');
    const hasDocker = store.has('manifest.json');
    options.log?.(`${label}: ${hasOci ? 'OCI layout' : ''}${hasOci && hasDocker ? ' + ' : ''}${hasDocker ? 'docker save manifest.json' : ''}${!hasOci && !hasDocker ? 'no image metadata' : ''}`);
    let r: Resolved;
    if (hasOci) {
      try {
        r = await resolveOci(store, reference, options);
      } catch (e) {
        // Newer docker save archives carry both; a tag may be in RepoTags only.
        if (!(hasDocker && e instanceof ImageSourceError && e.code === 'no-such-tag')) throw e;
        try {
          r = await resolveDockerSave(store, reference, options);
        } catch {
          throw e;
        }
      }
    } else if (hasDocker) {
      r = await resolveDockerSave(store, reference, options);
    } else {
      throw new ImageSourceError('unknown-format', `${label} is neither an OCI archive (oci-layout + index.json) nor a docker save archive (manifest.json)`);
    }
    const kind: ImageSourceKind = asDocker ? 'docker' : hasDocker ? 'docker-archive' : 'oci-archive';
    const what = asDocker ? `Docker image ${show(asDocker.uri)} (docker save)` : `${hasDocker ? 'docker save archive' : 'OCI archive'} ${file}${r.reference !== undefined ? `, image ${show(r.reference)}` : ''}`;
    return image(kind, what, store, r, asDocker?.cleanup);
  } catch (e) {
    await store.close();
    throw e;
  }
}

/** `busybox` → `busybox:latest` (as nitro-cli does); references with a tag or digest are kept. */
export function dockerReference(uri: string): string {
  if (uri.includes('@')) return uri;
  const lastSlash = uri.lastIndexOf('/');
  return uri.slice(lastSlash + 1).includes(':') ? uri : `${uri}:latest`;
}

async function runDockerSave(command: string, reference: string, output: string, options: OpenImageOptions): Promise<void> {
  throwIfCancelled(options.cancellation, 'docker save');
  options.log?.(`running ${command} save -o ${output} ${reference}`);
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    let settled = false;
    const child = spawn(command, ['save', '-o', output, reference], { stdio: ['ignore', 'ignore', 'pipe'] });
    const cancel = options.cancellation?.onCancellationRequested(() => child.kill('SIGTERM'));
    const done = (e?: Error) => {
      if (settled) return;
      settled = true;
      cancel?.dispose();
      if (e) reject(e);
      else resolve();
    };
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      stderr += s;
      if (stderr.length > STDERR_KEEP) stderr = stderr.slice(-STDERR_KEEP);
    });
    child.on('error', (e) => {
      if (errnoCode(e) === 'ENOENT') {
        done(new ImageSourceError('docker-failed', `docker is not installed (no ${show(command)} command was found); export the image yourself and use --oci-layout <dir> or --image-archive <file.tar>`));
      } else {
        done(new ImageSourceError('docker-failed', `${command} could not be started: ${e.message}`));
      }
    });
    child.on('close', (code, signal) => {
      if (options.cancellation?.isCancellationRequested) return done(new CancelledError('docker save'));
      if (code === 0) return done();
      const text = stderr.trim();
      const shown = text.length > 2000 ? `…${text.slice(-2000)}` : text;
      done(new ImageSourceError('docker-failed', `${command} save ${reference} failed (${signal ? `killed by ${signal}` : `exit code ${code}`})${shown ? `: ${shown}` : ''}`));
    });
  });
}

async function openDocker(uri: string, options: OpenImageOptions): Promise<ResolvedImage> {
  if (uri.length === 0 || uri.length > 1024 || uri.startsWith('-') || /[\s\0]/.test(uri)) {
    throw new ImageSourceError('docker-failed', `${show(uri)} is not an image reference`);
  }
  const reference = dockerReference(uri);
  const command = options.dockerCommand ?? 'docker';
  const output = path.join(options.tempDir, `docker-save-${randomBytes(8).toString('hex')}.tar`);
  const cleanup = () => rm(output, { force: true });
  try {
    await runDockerSave(command, reference, output, options);
    return await openArchive(output, reference, options, { uri: reference, cleanup });
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Opens an image source and resolves it to one manifest (see ImageSpec). */
export async function openImage(spec: ImageSpec, options: OpenImageOptions): Promise<ResolvedImage> {
  throwIfCancelled(options.cancellation, 'opening the image');
  switch (spec.kind) {
    case 'oci-layout':
      return openLayout(spec.path, spec.reference, options);
    case 'archive':
      return openArchive(spec.path, spec.reference, options);
    case 'docker':
      return openDocker(spec.uri, options);
  }
}

/** One line for logs: what was opened, the platform, layers, image ID. */
export function describeImage(resolved: ResolvedImage): string {
  const bytes = resolved.layers.reduce((n, l) => n + l.size, 0);
  const layers = `${resolved.layers.length} layer${resolved.layers.length === 1 ? '' : 's'} (${bytes} bytes)`;
  const note = resolved.platformNote ? `; ${resolved.platformNote}` : '';
  return `${resolved.description}: ${formatPlatform(resolved.platform)}, ${layers}, image ${shortDigest(resolved.configDigest)}, manifest ${shortDigest(resolved.manifestDigest)}${note}`;
}
