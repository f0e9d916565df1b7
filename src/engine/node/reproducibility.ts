// The reproducibility check: build the same image twice, with the same build time, into two
// temporary files and compare them byte for byte. The answer names the first differing byte and
// the part of the image it lies in (header, a section header or a section's data).
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildTimeOf } from '../imagebuild/buildInfo';
import { readLayout } from '../eif/layout';
import { throwIfCancelled } from '../platform/lifecycle';
import { buildEnclave, type BuildOptions, type BuildResult } from './buildEnclave';
import { FileByteSource } from './fileByteSource';

export type EifDifference =
  | { readonly identical: true; readonly size: number; readonly sha384: string }
  | {
      readonly identical: false;
      /** First differing byte outside the CRC field, or the shorter size when one file is a prefix of the other. */
      readonly offset: number;
      readonly sizes: readonly [number, number];
      /**
       * Where the offset lies in the first file: "header", "section 4 (ramdisk) header", "section 4 (ramdisk) data",
       * ...
       */
      readonly where: string;
      /** Whether the stored CRCs differ too (they do whenever anything they cover does). */
      readonly crcDiffers: boolean;
    };

const CRC_FIELD = [544, 548] as const;

/**
 * Compares two .eif files chunk by chunk (never holding either whole). The CRC field differs
 * whenever anything else does, so the first difference reported is the first one outside it.
 */
export async function compareEifFiles(a: string, b: string): Promise<EifDifference> {
  const [fa, fb] = await Promise.all([FileByteSource.open(a), FileByteSource.open(b)]);
  try {
    const chunk = 1 << 20;
    const hash = createHash('sha384');
    const common = Math.min(fa.size, fb.size);
    let offset = -1;
    let crcDiffers = false;
    for (let at = 0; at < common && offset < 0; at += chunk) {
      const n = Math.min(chunk, common - at);
      const [x, y] = await Promise.all([fa.read(at, n), fb.read(at, n)]);
      if (Buffer.compare(x, y) === 0) {
        hash.update(x);
        continue;
      }
      for (let i = 0; i < n; i++) {
        if (x[i] === y[i]) continue;
        if (at + i >= CRC_FIELD[0] && at + i < CRC_FIELD[1]) {
          crcDiffers = true;
          continue;
        }
        offset = at + i;
        break;
      }
    }
    if (offset < 0 && !crcDiffers && fa.size === fb.size)
      return { identical: true, size: fa.size, sha384: hash.digest('hex') };
    if (offset < 0) offset = fa.size === fb.size ? CRC_FIELD[0] : common;
    return { identical: false, offset, sizes: [fa.size, fb.size], crcDiffers, where: await locate(fa, offset) };
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}

async function locate(source: FileByteSource, offset: number): Promise<string> {
  try {
    const layout = await readLayout(source);
    if (offset < 548) return offset >= 544 ? 'header (CRC field)' : 'header';
    for (const s of layout.sections) {
      const i = s.index;
      const name = `section ${i} (${s.typeName})`;
      if (offset >= s.headerOffset && offset < s.dataOffset) return `${name} header`;
      if (offset >= s.dataOffset && offset < s.dataOffset + s.size)
        return `${name} data, byte ${offset - s.dataOffset} of ${s.size}`;
    }
    return 'after the last section';
  } catch (e) {
    return `(the first file does not read as an EIF: ${e instanceof Error ? e.message : String(e)})`;
  }
}

export interface ReproducibilityReport {
  readonly difference: EifDifference;
  readonly first: BuildResult;
  readonly second: BuildResult;
}

/**
 * Builds twice into a temporary directory (same inputs, same build time: the option's, else
 * SOURCE_DATE_EPOCH, else one "now" taken once for both) and compares the results. `output` in
 * the options is ignored; nothing is written outside the temporary directory, which is removed.
 */
export async function checkReproducibility(options: Omit<BuildOptions, 'output'>): Promise<ReproducibilityReport> {
  const dir = await mkdtemp(path.join(options.tempRoot ?? os.tmpdir(), 'nitro-repro-'));
  try {
    const epoch = options.env?.['SOURCE_DATE_EPOCH'];
    const buildTime = options.buildTime ?? (epoch ? undefined : buildTimeOf((options.now ?? (() => new Date()))()));
    const common = { ...options, ...(buildTime ? { buildTime } : {}) };
    const first = await buildEnclave({ ...common, output: path.join(dir, 'first.eif') });
    throwIfCancelled(options.cancellation, 'the reproducibility check');
    const second = await buildEnclave({ ...common, output: path.join(dir, 'second.eif') });
    const difference = await compareEifFiles(first.output, second.output);
    return { difference, first, second };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
