// Layer decompression: gzip with node:zlib, zstd with fzstd behind a frame walker that refuses
// hostile headers and feeds the decoder one block at a time.
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import type { Compression } from '../../oci/model';

/** Output chunk size of the gzip decompressor. */
const GUNZIP_CHUNK = 64 * 1024;
/** Largest zstd window accepted (the reference decoder's default limit, 2^27). */
export const MAX_ZSTD_WINDOW = 128 * 1024 * 1024;

export class CompressionError extends Error {}

const isZlibError = (e: unknown): boolean => {
  const code = e !== null && typeof e === 'object' && 'code' in e ? e.code : undefined;
  return typeof code === 'string' && code.startsWith('Z_');
};

export async function* gunzip(raw: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const input = Readable.from(raw, { objectMode: true, highWaterMark: 1 });
  const inflater = createGunzip({ chunkSize: GUNZIP_CHUNK });
  const out = pipeline(input, inflater, () => undefined);
  try {
    for await (const chunk of out as AsyncIterable<Buffer>)
      yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
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
        this.fail(
          `not a zstd frame (magic ${Array.from(h.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ')})`,
        );
      }
      return;
    }
    if (this.state === 'skipSize') {
      this.remaining =
        ((h[4] as number) | ((h[5] as number) << 8) | ((h[6] as number) << 16) | ((h[7] as number) << 24)) >>> 0;
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
      if (window > MAX_ZSTD_WINDOW)
        this.fail(`the frame's window is ${window} bytes; at most ${MAX_ZSTD_WINDOW} are accepted`);
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

export async function* unzstd(raw: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const framer = new ZstdFramer();
  let out: Uint8Array[] = [];
  const decoder = new ZstdDecompress((data) => {
    if (data.length > 0) out.push(data);
  });
  const push = (piece: Uint8Array, final: boolean) => {
    try {
      decoder.push(piece, final);
    } catch (e) {
      throw new CompressionError(
        `zstd: ${e instanceof Error ? e.message : String(e)} (near compressed byte ${framer.offset})`,
      );
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

export function magicCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}
