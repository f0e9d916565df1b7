// describe-eif on a 512 MiB image against `sha384sum` of the same file, in the same run.
// The image has a small kernel and bootstrap ramdisk and one large random application ramdisk, so
// nearly every byte feeds two digests (PCR0 and PCR2) plus the CRC. Targets on the 2-core
// reference machine: wall time ≤ 1.25 × sha384sum, peak RSS ≤ 150 MB.
//   BENCH_EIF_MIB (default 512), BENCH_RUNS (default 5; medians are reported, the two tools alternating)
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SectionType, encodeMetadata, utf8, type ByteSource } from '../src/engine';
import { writeEif } from '../src/engine/node';
import { MiB, bench, round } from './harness';

const totalMiB = Number(process.env.BENCH_EIF_MIB ?? 512);
const runs = Number(process.env.BENCH_RUNS ?? 5);

/** Pseudo-random bytes generated on demand (a 16 MiB random block repeated with a varying first word). */
class RandomSource implements ByteSource {
  private readonly block = randomFillSync(Buffer.alloc(16 * MiB));
  constructor(
    readonly size: number,
    readonly name = '<random>',
  ) {}
  async read(offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    for (let done = 0; done < length;) {
      const at = (offset + done) % this.block.length;
      const n = Math.min(length - done, this.block.length - at);
      out.set(this.block.subarray(at, at + n), done);
      done += n;
    }
    return out;
  }
  async close(): Promise<void> {}
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function timed(cmd: string, args: string[]): { seconds: number; stdout: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * MiB });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { seconds, stdout: r.stdout };
}

bench('eif-measure', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-bench-eif-'));
  try {
    const eif = path.join(dir, 'big.eif');
    const kernel = 8 * MiB;
    const bootstrap = 1 * MiB;
    const app = totalMiB * MiB - kernel - bootstrap - 4096;
    await writeEif(eif, {
      arch: 'x86_64',
      sections: [
        { type: SectionType.Kernel, data: { source: new RandomSource(kernel), offset: 0, size: kernel } },
        {
          type: SectionType.Cmdline,
          data: utf8('reboot=k panic=30 pci=off nomodules console=ttyS0 random.trust_cpu=on'),
        },
        {
          type: SectionType.Metadata,
          data: encodeMetadata({
            ImageName: 'bench',
            ImageVersion: '1.0',
            BuildMetadata: {
              BuildTime: '1970-01-01T00:00:00+00:00',
              BuildTool: 'nitro-dev',
              BuildToolVersion: '0',
              OperatingSystem: 'Linux',
              KernelVersion: '0',
            },
            DockerInfo: null,
            CustomMetadata: null,
          }),
        },
        { type: SectionType.Ramdisk, data: { source: new RandomSource(bootstrap), offset: 0, size: bootstrap } },
        { type: SectionType.Ramdisk, data: { source: new RandomSource(app), offset: 0, size: app } },
      ],
    });
    const cli = path.resolve(__dirname, '../cli.js');
    // Peak RSS of the nitro-dev process (all its threads), read by a hook preloaded into it.
    const rssFile = path.join(dir, 'rss');
    const hook = path.join(dir, 'rss-hook.js');
    writeFileSync(
      hook,
      `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(rssFile)}, ` +
        `String(process.resourceUsage().maxRSS)));`,
    );
    const describe = () => timed(process.execPath, ['--require', hook, cli, 'describe-eif', '--eif-path', eif]);
    const sha = () => timed('sha384sum', [eif]);
    describe(); // warm-up: both tools then read from the page cache
    sha();
    const d: number[] = [];
    const s: number[] = [];
    const rss: number[] = [];
    let pcr0 = '';
    for (let i = 0; i < runs; i++) {
      const r = describe();
      d.push(r.seconds);
      rss.push(Number(readFileSync(rssFile, 'utf8')) / 1024);
      pcr0 = JSON.parse(r.stdout).Measurements.PCR0;
      s.push(sha().seconds);
    }
    const dm = median(d);
    const sm = median(s);
    return {
      fileMiB: totalMiB,
      runs,
      describeEifSeconds: round(dm, 3),
      sha384sumSeconds: round(sm, 3),
      ratio: round(dm / sm, 3),
      ratioTarget: 1.25,
      peakRssMiB: round(Math.max(...rss)),
      peakRssTargetMB: 150,
      describeThroughputMiBps: round(totalMiB / dm),
      sha384sumThroughputMiBps: round(totalMiB / sm),
      pcr0,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
