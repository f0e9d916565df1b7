import { checkRange, type ByteSource } from './byteSource';

/** A part of a ConcatSource: bytes in memory or a range of another source. */
export type Piece = Uint8Array | { readonly source: ByteSource; readonly offset: number; readonly size: number };

const pieceSize = (p: Piece) => (p instanceof Uint8Array ? p.length : p.size);

/** A ByteSource made of pieces laid end to end (the bytes of a file that is about to be written). */
export class ConcatSource implements ByteSource {
  readonly size: number;
  private readonly starts: number[] = [];

  constructor(
    private readonly pieces: readonly Piece[],
    readonly name = '<image>',
  ) {
    let at = 0;
    for (const p of pieces) {
      this.starts.push(at);
      at += pieceSize(p);
    }
    this.size = at;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.name, offset, length, this.size);
    const out = new Uint8Array(length);
    let i = this.find(offset);
    let done = 0;
    while (done < length) {
      const piece = this.pieces[i] as Piece;
      const within = offset + done - (this.starts[i] as number);
      const take = Math.min(pieceSize(piece) - within, length - done);
      if (take > 0) {
        const part =
          piece instanceof Uint8Array
            ? piece.subarray(within, within + take)
            : await piece.source.read(piece.offset + within, take);
        out.set(part, done);
        done += take;
      }
      i++;
    }
    return out;
  }

  /** Index of the piece holding `offset` (binary search). */
  private find(offset: number): number {
    let lo = 0;
    let hi = this.pieces.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  async close(): Promise<void> {}
}

/** A window [offset, offset+size) of another source, as a source of its own. */
export function sliceOf(source: ByteSource, offset: number, size: number): Piece {
  checkRange(source.name, offset, size, source.size);
  return { source, offset, size };
}
