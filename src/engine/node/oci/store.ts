// Stores: where an image's blobs and members are read from (a layout directory, or a tar indexed
// in place without extracting it), and checked reads of blobs and members.
import { createHash, type Hash } from 'node:crypto';
import { lstat, realpath } from 'node:fs/promises';
import * as path from 'node:path';
import type { ByteSource } from '../../platform/byteSource';
import { throwIfCancelled, type CancellationLike } from '../../platform/lifecycle';
import {
  MAX_JSON_SIZE,
  checkJsonSize,
  parseDigest,
  parseJsonBytes,
  shortDigest,
  show,
  type Descriptor,
} from '../../oci/image';
import { ImageSourceError, type LayerOpenOptions } from '../../oci/model';
import { TarFormatError, confinePath, readTar } from '../../oci/tar';
import { FileByteSource } from '../fileByteSource';
import { magicCompression } from './decompress';

/** Bytes read from disk per chunk when streaming a blob. */
const READ_CHUNK = 256 * 1024;
/** Most members an archive may have. */
const MAX_ARCHIVE_MEMBERS = 200000;

// ---------------------------------------------------------------------------------------------
// Stores: where blobs and members are read from.

export interface Member {
  readonly source: ByteSource;
  /** Offset of the member's data in `source`. */
  readonly offset: number;
  readonly size: number;
  close(): Promise<void>;
}

export interface Store {
  /** For messages: `OCI layout ./img`, `archive img.tar`. */
  readonly label: string;
  /** The member at a root-relative path, or undefined when it does not exist. */
  open(name: string): Promise<Member | undefined>;
  close(): Promise<void>;
}

export const errnoCode = (e: unknown): string | undefined =>
  e && typeof e === 'object' && 'code' in e && typeof e.code === 'string' ? e.code : undefined;

export class DirStore implements Store {
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
        throw new ImageSourceError(
          'missing-blob',
          `${this.label}: ${name} is a symlink that leads outside the layout (${show(real, 200)})`,
        );
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

export class ArchiveStore implements Store {
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

  private static async index(
    source: FileByteSource,
    label: string,
    cancellation: CancellationLike | undefined,
  ): Promise<Map<string, ArchiveEntry>> {
    if (source.size >= 4) {
      const head = await source.read(0, 4);
      const kind = magicCompression(head);
      if (kind !== 'none') {
        throw new ImageSourceError(
          'unknown-format',
          `${label} is ${kind}-compressed; ` +
            `decompress it first (e.g. ${kind === 'gzip' ? 'gunzip' : 'unzstd'}) and open the .tar`,
        );
      }
    }
    const input = new SkippingInput(source, cancellation);
    const members = new Map<string, ArchiveEntry>();
    try {
      for await (const entry of readTar(input, { drainTrailing: false, ...(cancellation ? { cancellation } : {}) })) {
        const name = confinePath(entry.name, entry.headerOffset);
        if (entry.type === 'file' && entry.size > 0)
          input.skip(entry.headerOffset + 512, entry.headerOffset + 512 + entry.size);
        if (name === '' || entry.type === 'directory') continue;
        if (entry.type !== 'file' && entry.type !== 'symlink' && entry.type !== 'hardlink') continue;
        if (members.has(name)) {
          throw new ImageSourceError(
            'unknown-format',
            `${label}: the member ${show(name)} appears twice; an image archive names each file once`,
          );
        }
        if (members.size >= MAX_ARCHIVE_MEMBERS)
          throw new ImageSourceError('unknown-format', `${label} has more than ${MAX_ARCHIVE_MEMBERS} members`);
        members.set(name, {
          type: entry.type,
          offset: entry.headerOffset + 512,
          size: entry.size,
          linkName: entry.linkName,
        });
      }
    } catch (e) {
      if (e instanceof TarFormatError)
        throw new ImageSourceError('unknown-format', `${label} is not a usable tar archive: ${e.message}`);
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
        next =
          m.type === 'hardlink'
            ? confinePath(m.linkName)
            : confinePath(
                m.linkName.startsWith('/')
                  ? m.linkName.slice(1)
                  : path.posix.join(path.posix.dirname(current), m.linkName),
              );
      } catch {
        throw new ImageSourceError(
          'missing-blob',
          `${this.label}: the member ${show(current)} links to ${show(m.linkName)}, outside the archive`,
        );
      }
      current = next;
    }
    throw new ImageSourceError(
      'missing-blob',
      `${this.label}: the member ${show(name)} is a chain of more than 8 links`,
    );
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

export function hashOf(algorithm: string): Hash {
  return createHash(algorithm);
}

export const blobPath = (digest: string, what: string): string => {
  const d = parseDigest(digest, what);
  return `blobs/${d.algorithm}/${d.hex}`;
};

/** Reads a whole small member (at most `max` bytes). */
export async function readSmall(
  store: Store,
  name: string,
  what: string,
  max = MAX_JSON_SIZE,
): Promise<Uint8Array | undefined> {
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
export async function readJsonBlob(
  store: Store,
  d: Descriptor,
  what: string,
): Promise<{ json: unknown; bytes: Uint8Array }> {
  checkJsonSize(d.size, what);
  const name = blobPath(d.digest, what);
  const m = await store.open(name);
  if (!m)
    throw new ImageSourceError(
      'missing-blob',
      `${store.label}: ${what} (${d.digest}) is not in the source (no ${name})`,
    );
  let bytes: Uint8Array;
  try {
    if (m.size !== d.size)
      throw new ImageSourceError(
        'size-mismatch',
        `${store.label}: ${what} (${shortDigest(d.digest)}) is ${m.size} bytes; its descriptor says ${d.size}`,
      );
    bytes = await m.source.read(m.offset, m.size);
  } finally {
    await m.close();
  }
  const algorithm = parseDigest(d.digest, what).algorithm;
  const actual = `${algorithm}:${hashOf(algorithm).update(bytes).digest('hex')}`;
  if (actual !== d.digest)
    throw new ImageSourceError(
      'digest-mismatch',
      `${store.label}: ${what} does not match its digest: expected ${d.digest}, got ${actual}`,
    );
  return { json: parseJsonBytes(bytes, `${store.label}: ${what}`), bytes };
}

/** Sequential reads of a member with hashing; calls are serialised so that a late drain never races a read. */
export class RawReader {
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

/** Hashes a whole member (for a compressed docker save layer whose stored digest is not in its name). */
export async function hashMember(
  member: Member,
  cancellation: CancellationLike | undefined,
  what: string,
): Promise<string> {
  const raw = new RawReader(member, 'sha256', cancellation ? { cancellation } : {}, what);
  await raw.drain();
  return `sha256:${raw.hash.digest('hex')}`;
}
