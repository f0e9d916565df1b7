// Measurement of an EIF: PCR0/1/2 over section data and the CRC-32 over the whole file, computed
// in one pass over the bytes. The plan says which byte ranges feed which digest; every caller
// (describe, build, sign, the viewer) goes through planMeasurement and runPlan, so they cannot
// disagree. See the spec, sections 2 and 3.
import type { ByteSource } from '../platform/byteSource';
import { throwIfCancelled, type CancellationLike } from '../platform/lifecycle';
import { toHex } from '../util/bytes';
import { extendFromZero, type HashPort, type IncrementalHash } from '../util/hashPort';
import { CRC_OFFSET, EIF_HEADER_SIZE, SectionType } from './defs';
import type { EifLayout } from './layout';

export interface ByteRange {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

export interface MeasurementPlan {
  /** Kernel, cmdline and every ramdisk, in file order. */
  readonly pcr0: readonly ByteRange[];
  /** Kernel, cmdline and the first ramdisk, in file order. */
  readonly pcr1: readonly ByteRange[];
  /** Every ramdisk but the first, in file order. */
  readonly pcr2: readonly ByteRange[];
  /** When PCR1's ranges are the first ranges of PCR0's, PCR1 is a copy of PCR0's state after them. */
  readonly pcr1IsPrefixOfPcr0: boolean;
  /** Header bytes before the CRC field, then every section (header and data). */
  readonly crc: readonly ByteRange[];
  /** End of the bytes read. */
  readonly end: number;
}

export function planMeasurement(layout: EifLayout): MeasurementPlan {
  const pcr0: ByteRange[] = [];
  const pcr1: ByteRange[] = [];
  const pcr2: ByteRange[] = [];
  let ramdisks = 0;
  for (const s of layout.sections) {
    const range = { start: s.dataOffset, end: s.dataOffset + s.size };
    if (s.type === SectionType.Kernel || s.type === SectionType.Cmdline) {
      pcr0.push(range);
      pcr1.push(range);
    } else if (s.type === SectionType.Ramdisk) {
      pcr0.push(range);
      (ramdisks++ === 0 ? pcr1 : pcr2).push(range);
    }
  }
  return {
    pcr0,
    pcr1,
    pcr2,
    pcr1IsPrefixOfPcr0: pcr1.every((r, i) => pcr0[i] === r),
    crc: [
      { start: 0, end: CRC_OFFSET },
      { start: EIF_HEADER_SIZE, end: layout.walkEnd },
    ],
    end: layout.walkEnd,
  };
}

export interface PcrValues {
  readonly PCR0: string;
  readonly PCR1: string;
  readonly PCR2: string;
}

export interface MeasureResult {
  readonly pcrs: PcrValues;
  /** Raw PCR0 (the value a signature signs). */
  readonly pcr0: Uint8Array;
  /** CRC-32 over the plan's CRC ranges. */
  readonly crc: number;
}

export interface MeasureOptions {
  readonly token?: CancellationLike;
  /** Called with the bytes read so far and the total, at most once per chunk. */
  readonly onProgress?: (done: number, total: number) => void;
  readonly chunkSize?: number;
  /**
   * Hashes PCR2's ranges elsewhere (another thread reading the same file) and resolves to the
   * content digest. When absent, PCR2 is hashed in the same pass.
   */
  readonly offloadPcr2?: (ranges: readonly ByteRange[]) => Promise<Uint8Array>;
  /**
   * Sees every chunk after it is hashed, in order (a writer copies them to its output). The chunk's memory is reused
   * once the returned promise settles.
   */
  readonly onChunk?: (chunk: Uint8Array, offset: number) => Promise<void> | void;
}

/** Feeds the parts of [start, start+chunk.length) that fall in `ranges` to `update`, advancing the cursor. */
class RangeFeed {
  private i = 0;
  constructor(private readonly ranges: readonly ByteRange[]) {}

  feed(chunk: Uint8Array, start: number, update: (part: Uint8Array) => void): void {
    const end = start + chunk.length;
    while (this.i < this.ranges.length) {
      const r = this.ranges[this.i] as ByteRange;
      // A range starting at or after the chunk's end waits for a later chunk, except an empty one
      // that starts exactly there: it is complete now (PCR1's prefix may end with an empty ramdisk).
      if (r.start > end || (r.start === end && r.end > r.start)) return;
      const a = Math.max(r.start, start);
      const b = Math.min(r.end, end);
      if (b > a) update(chunk.subarray(a - start, b - start));
      if (r.end <= end) this.i++;
      else return;
    }
  }

  /** Whether every range has been fed completely. */
  get done(): boolean {
    return this.i >= this.ranges.length;
  }
}

export const DEFAULT_CHUNK = 4 * 1024 * 1024;

/** Runs a plan over a source in one sequential pass. */
export async function runPlan(
  source: ByteSource,
  plan: MeasurementPlan,
  hashes: HashPort,
  options: MeasureOptions = {},
): Promise<MeasureResult> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  const h0 = hashes.sha384();
  const h1: IncrementalHash | undefined = plan.pcr1IsPrefixOfPcr0 ? undefined : hashes.sha384();
  const h2 = options.offloadPcr2 && plan.pcr2.length > 0 ? undefined : hashes.sha384();
  const crc = hashes.crc32();
  const pcr2Elsewhere = h2 ? undefined : options.offloadPcr2?.(plan.pcr2);
  // Keep a rejection of the offloaded work from going unhandled while this pass still runs.
  pcr2Elsewhere?.catch(() => undefined);

  const f0 = new RangeFeed(plan.pcr0);
  const f1 = new RangeFeed(plan.pcr1);
  const prefix = new RangeFeed(plan.pcr1); // tracks when PCR0 has consumed all of PCR1's content
  const f2 = new RangeFeed(plan.pcr2);
  const fc = new RangeFeed(plan.crc);
  let pcr1Digest: Uint8Array | undefined;
  if (plan.pcr1IsPrefixOfPcr0 && plan.pcr1.length === 0) pcr1Digest = h0.copy().digest();

  // Reads run one chunk ahead of hashing, so I/O and hashing overlap. Sources that can fill a
  // buffer get two that alternate: fresh memory for every chunk costs more than the hashing.
  const buffers = source.readInto
    ? [new Uint8Array(Math.min(chunkSize, plan.end)), new Uint8Array(Math.min(chunkSize, plan.end))]
    : undefined;
  let turn = 0;
  const readAt = (pos: number): Promise<Uint8Array> | undefined => {
    if (pos >= plan.end) return undefined;
    const len = Math.min(chunkSize, plan.end - pos);
    if (!buffers || !source.readInto) return source.read(pos, len);
    const target = (buffers[turn++ % 2] as Uint8Array).subarray(0, len);
    return source.readInto(target, pos).then(() => target);
  };
  let next = readAt(0);
  next?.catch(() => undefined);
  for (let pos = 0; pos < plan.end; pos += chunkSize) {
    throwIfCancelled(options.token, 'measuring the enclave image');
    const chunk = await (next as Promise<Uint8Array>);
    const len = chunk.length;
    next = readAt(pos + len);
    next?.catch(() => undefined);
    fc.feed(chunk, pos, (p) => crc.update(p));
    if (plan.pcr1IsPrefixOfPcr0 && !pcr1Digest) {
      // Feed PCR0 up to the end of PCR1's content, copy the state there, then go on.
      let split = len;
      const last = plan.pcr1[plan.pcr1.length - 1] as ByteRange;
      if (last.end <= pos + len) split = last.end - pos;
      const head = chunk.subarray(0, split);
      f0.feed(head, pos, (p) => h0.update(p));
      prefix.feed(head, pos, () => undefined);
      if (prefix.done) {
        pcr1Digest = h0.copy().digest();
        f0.feed(chunk.subarray(split), pos + split, (p) => h0.update(p));
      }
    } else {
      f0.feed(chunk, pos, (p) => h0.update(p));
    }
    if (h1) f1.feed(chunk, pos, (p) => h1?.update(p));
    if (h2) f2.feed(chunk, pos, (p) => h2.update(p));
    await options.onChunk?.(chunk, pos);
    options.onProgress?.(pos + len, plan.end);
  }
  pcr1Digest ??= (h1 ?? hashes.sha384()).digest();
  const d2 = h2 ? h2.digest() : await (pcr2Elsewhere as Promise<Uint8Array>);
  throwIfCancelled(options.token, 'measuring the enclave image');
  const pcr0 = extendFromZero(hashes, h0.digest());
  return {
    pcr0,
    pcrs: {
      PCR0: toHex(pcr0),
      PCR1: toHex(extendFromZero(hashes, pcr1Digest)),
      PCR2: toHex(extendFromZero(hashes, d2)),
    },
    crc: crc.value,
  };
}

/** `nitro-cli pcr`: the extend rule over arbitrary bytes (a whole file, or a certificate's DER). */
export async function pcrOfSource(
  source: ByteSource,
  hashes: HashPort,
  options: MeasureOptions = {},
): Promise<Uint8Array> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  const h = hashes.sha384();
  for (let pos = 0; pos < source.size; pos += chunkSize) {
    throwIfCancelled(options.token, 'computing the PCR');
    const len = Math.min(chunkSize, source.size - pos);
    h.update(await source.read(pos, len));
    options.onProgress?.(pos + len, source.size);
  }
  return extendFromZero(hashes, h.digest());
}
