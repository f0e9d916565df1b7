// An append-only spool file for the file data of flattened image layers (a ContentStore): each
// put() streams its bytes to the end of the file with positional writes, coalescing small chunks
// into one 1 MiB buffer, and returns where they landed. Read it back through source() once every
// put() has finished; close() closes and deletes the file.
import { randomBytes } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import type { ContentRef, ContentStore } from '../oci/flatten';
import { checkRange, type ByteSource } from '../platform/byteSource';

/** Size of the write buffer; chunks at least this large bypass it. */
export const SPOOL_BUFFER_SIZE = 1024 * 1024;

/** A put() whose data was shorter or longer than announced, or a store used after close(). */
export class SpoolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpoolError';
  }
}

export class SpoolStore implements ContentStore {
  private readonly buffer = new Uint8Array(SPOOL_BUFFER_SIZE);
  /** Bytes in `buffer`, which belong at file offset `flushed`. */
  private buffered = 0;
  /** File offset up to which the data is on disk. */
  private flushed = 0;
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly handle: FileHandle,
    /** Path of the spool file (inside the caller's directory). */
    readonly path: string,
  ) {}

  /** Creates a new, empty spool file in `dir` (which must exist and belong to the caller). */
  static async create(dir: string): Promise<SpoolStore> {
    const file = path.join(dir, `layers-${randomBytes(8).toString('hex')}.spool`);
    const handle = await open(file, 'wx+', 0o600);
    return new SpoolStore(handle, file);
  }

  /** Bytes stored so far. */
  get size(): number {
    return this.flushed + this.buffered;
  }

  /** Stores exactly `size` bytes from `data`; puts run one after the other in call order. */
  put(data: AsyncIterable<Uint8Array>, size: number): Promise<ContentRef> {
    const run = () => this.putNow(data, size);
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async putNow(data: AsyncIterable<Uint8Array>, size: number): Promise<ContentRef> {
    this.checkOpen();
    if (!Number.isSafeInteger(size) || size < 0) throw new SpoolError(`spool: invalid size ${String(size)}`);
    const offset = this.size;
    let got = 0;
    try {
      for await (const chunk of data) {
        if (got + chunk.length > size) {
          throw new SpoolError(`spool: the data has more than the ${size} bytes announced`);
        }
        got += chunk.length;
        await this.append(chunk);
      }
    } catch (e) {
      await this.rewind(offset);
      throw e;
    }
    if (got !== size) {
      await this.rewind(offset);
      throw new SpoolError(`spool: the data ended after ${got} of the ${size} bytes announced`);
    }
    return { offset, size };
  }

  private async append(chunk: Uint8Array): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      if (this.buffered === 0 && chunk.length - at >= SPOOL_BUFFER_SIZE) {
        await this.writeAll(chunk.subarray(at), this.flushed);
        this.flushed += chunk.length - at;
        return;
      }
      const n = Math.min(SPOOL_BUFFER_SIZE - this.buffered, chunk.length - at);
      this.buffer.set(chunk.subarray(at, at + n), this.buffered);
      this.buffered += n;
      at += n;
      if (this.buffered === SPOOL_BUFFER_SIZE) await this.flush();
    }
  }

  private async flush(): Promise<void> {
    if (this.buffered === 0) return;
    await this.writeAll(this.buffer.subarray(0, this.buffered), this.flushed);
    this.flushed += this.buffered;
    this.buffered = 0;
  }

  /** Forgets everything from `offset` on (the data of a failed put). */
  private async rewind(offset: number): Promise<void> {
    if (offset >= this.flushed) {
      this.buffered = offset - this.flushed;
    } else {
      this.buffered = 0;
      this.flushed = offset;
      await this.handle.truncate(offset);
    }
  }

  private async writeAll(bytes: Uint8Array, position: number): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, position + done);
      if (bytesWritten <= 0) throw new SpoolError(`${this.path}: write made no progress at offset ${position + done}`);
      done += bytesWritten;
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new SpoolError(`${this.path}: the spool store is closed`);
  }

  /**
   * A ByteSource over everything stored so far (waits for pending puts and flushes the buffer).
   * It shares the store's file handle: it stays usable until close().
   */
  async source(): Promise<ByteSource> {
    await this.queue;
    this.checkOpen();
    await this.flush();
    const size = this.flushed;
    const name = this.path;
    const handle = this.handle;
    const readInto = async (target: Uint8Array, offset: number): Promise<void> => {
      if (this.closed) throw new SpoolError(`${name}: read after the spool store was closed`);
      checkRange(name, offset, target.length, size);
      let done = 0;
      while (done < target.length) {
        const { bytesRead } = await handle.read(target, done, target.length - done, offset + done);
        if (bytesRead === 0)
          throw new SpoolError(`${name}: the spool file ended at ${offset + done} bytes; ${size} were written`);
        done += bytesRead;
      }
    };
    const source: ByteSource = {
      size,
      name,
      read: async (offset, length) => {
        checkRange(name, offset, length, size);
        const out = new Uint8Array(length);
        await readInto(out, offset);
        return out;
      },
      readInto,
      // The handle belongs to the store: close() of the store releases it.
      close: async () => undefined,
    };
    return source;
  }

  /** Closes and deletes the spool file (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    try {
      await this.handle.close();
    } finally {
      await rm(this.path, { force: true });
    }
  }
}
