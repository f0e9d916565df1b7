import { open, type FileHandle } from 'node:fs/promises';
import { checkRange, type ByteSource } from '../platform/byteSource';

/** A ByteSource over a file, read with positional reads; holds one file handle, no file data. */
export class FileByteSource implements ByteSource {
  private closed = false;

  private constructor(
    private readonly handle: FileHandle,
    readonly name: string,
    readonly size: number,
  ) {}

  /** Opens `path` for reading. The size is taken once, at open: a file that shrinks later makes reads fail. */
  static async open(path: string): Promise<FileByteSource> {
    const handle = await open(path, 'r');
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new Error(`${path}: not a regular file`);
      return new FileByteSource(handle, path, stat.size);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.name, offset, length, this.size); // before allocating: the length may come from a hostile file
    const out = new Uint8Array(length);
    await this.readInto(out, offset);
    return out;
  }

  async readInto(out: Uint8Array, offset: number): Promise<void> {
    if (this.closed) throw new Error(`${this.name}: read after close`);
    const length = out.length;
    checkRange(this.name, offset, length, this.size);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(out, done, length - done, offset + done);
      if (bytesRead === 0) {
        throw new Error(
          `${this.name}: file ended at ${offset + done} bytes while reading; it was ${this.size} bytes when opened`,
        );
      }
      done += bytesRead;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}
