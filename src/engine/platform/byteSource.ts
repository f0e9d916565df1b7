// Random-access byte input. Readers of large files (enclave images, OCI layers) take a ByteSource
// and read what they need, so nothing ever holds a whole file in memory.

export interface ByteSource {
  /** Total size in bytes, known up front. */
  readonly size: number;
  /** A name for messages (a path or a URI). */
  readonly name: string;
  /**
   * Reads exactly `length` bytes at `offset`. Throws ByteRangeError if the range does not lie
   * within [0, size]; never returns fewer bytes than asked.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Optional: reads exactly `target.length` bytes at `offset` into `target` (same rules as read).
   * Streaming readers use it to reuse their buffers instead of allocating one per chunk.
   */
  readInto?(target: Uint8Array, offset: number): Promise<void>;
  close(): Promise<void>;
}

/** A read outside the bounds of a ByteSource. */
export class ByteRangeError extends RangeError {
  constructor(
    readonly source: string,
    readonly offset: number,
    readonly length: number,
    readonly size: number,
  ) {
    super(
      `${source}: cannot read ${length} bytes at offset ${offset}: ` +
        (offset > size
          ? `the offset is past the end (${size} bytes)`
          : `only ${Math.max(0, size - offset)} bytes remain`),
    );
    this.name = 'ByteRangeError';
  }
}

/** Checks a read request against a source size; throws ByteRangeError when it does not fit. */
export function checkRange(source: string, offset: number, length: number, size: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new RangeError(`${source}: invalid read of ${length} bytes at offset ${offset}`);
  }
  if (offset + length > size) throw new ByteRangeError(source, offset, length, size);
}

/** A ByteSource over bytes already in memory (small inputs and tests). */
export class MemoryByteSource implements ByteSource {
  readonly size: number;
  constructor(
    private readonly bytes: Uint8Array,
    readonly name = '<memory>',
  ) {
    this.size = bytes.length;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.name, offset, length, this.size);
    return this.bytes.slice(offset, offset + length);
  }

  async close(): Promise<void> {}
}
