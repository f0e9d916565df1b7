// Baseline for measuring enclave images: SHA-384 over a large file read through the engine's
// FileByteSource into one reused buffer, against Node's own read stream over the same file. PCR
// measurement cannot be faster than this, and its memory must stay flat whatever the file size.
//   BENCH_SIZE_MIB (default 256): size of the generated file.
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileByteSource } from '../src/engine/node';
import { MiB, bench, round, withPeakRss } from './harness';

const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 256);
const CHUNK = MiB;

bench('sha384-file', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-bench-'));
  const file = path.join(dir, 'data.bin');
  try {
    const chunk = randomFillSync(Buffer.alloc(16 * MiB));
    for (let written = 0; written < sizeMiB * MiB; written += chunk.length) {
      writeFileSync(file, chunk.subarray(0, Math.min(chunk.length, sizeMiB * MiB - written)), {
        flag: written ? 'a' : 'w',
      });
    }

    const viaStream = async () => {
      const hash = createHash('sha384');
      for await (const part of createReadStream(file, { highWaterMark: CHUNK })) hash.update(part as Buffer);
      return hash.digest('hex');
    };
    const viaSource = async () => {
      const source = await FileByteSource.open(file);
      try {
        const hash = createHash('sha384');
        const buffer = new Uint8Array(CHUNK);
        for (let offset = 0; offset < source.size; offset += CHUNK) {
          const part = buffer.subarray(0, Math.min(CHUNK, source.size - offset));
          await source.readInto(part, offset);
          hash.update(part);
        }
        return hash.digest('hex');
      } finally {
        await source.close();
      }
    };

    const time = async (fn: () => Promise<string>) => {
      const t0 = process.hrtime.bigint();
      const { result, peakRssBytes, baseRssBytes } = await withPeakRss(fn);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      return { digest: result, seconds, growthMiB: (peakRssBytes - baseRssBytes) / MiB };
    };
    await viaSource(); // warm the page cache, so both runs read from memory
    const stream = await time(viaStream);
    const source = await time(viaSource);
    if (stream.digest !== source.digest) throw new Error('the two ways of hashing disagree');
    return {
      fileMiB: sizeMiB,
      chunkKiB: CHUNK / 1024,
      readStream: { throughputMiBps: round(sizeMiB / stream.seconds), rssGrowthMiB: round(stream.growthMiB) },
      fileByteSource: { throughputMiBps: round(sizeMiB / source.seconds), rssGrowthMiB: round(source.growthMiB) },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
