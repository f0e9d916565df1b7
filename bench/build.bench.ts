// build-enclave from a generated ~200 MiB OCI image (two gzip layers: many small files, then a few
// large ones) against the baseline of the same work done by standard tools, in the same run:
// `tar -xzf` of the layers into a folder, GNU `cpio -o -H newc` of that folder, and `sha384sum` of
// the archive. Targets on the 2-core reference machine: wall time ≤ 1.5 × the baseline, peak RSS
// ≤ 200 MB.
//   BENCH_BUILD_SMALL_FILES (default 24000), BENCH_BUILD_LARGE_MIB (default 4 files × 24 MiB),
//   BENCH_RUNS (default 3; medians, the two alternating)
import { spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildEnclave } from '../src/engine/node';
import { MiB, bench, round, withPeakRss } from './harness';

const smallFiles = Number(process.env.BENCH_BUILD_SMALL_FILES ?? 24000);
const largeMiB = Number(process.env.BENCH_BUILD_LARGE_MIB ?? 24);
const largeCount = 4;
const runs = Number(process.env.BENCH_RUNS ?? 3);

function sh(script: string, cwd: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', script], { cwd, encoding: 'utf8', maxBuffer: 16 * MiB });
  if (r.status !== 0) throw new Error(`sh -c ${script} failed (${r.status}): ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Writes blobs/sha256/<hex> and returns its descriptor. */
function addBlob(
  layout: string,
  bytes: Uint8Array,
  mediaType: string,
): { mediaType: string; digest: string; size: number } {
  const hex = sha256(bytes);
  writeFileSync(path.join(layout, 'blobs', 'sha256', hex), bytes);
  return { mediaType, digest: `sha256:${hex}`, size: bytes.length };
}

/** Generates the root file systems of the two layers and the OCI layout holding them (gzip -1). */
function makeImage(dir: string): { layout: string; layers: string[]; bytes: number } {
  const l1 = path.join(dir, 'l1');
  const l2 = path.join(dir, 'l2');
  let bytes = 0;
  // Layer 1: many small files of text-like content in 200 directories.
  const words = Buffer.from(
    'enclave attestation measurement kernel ramdisk vsock nitro parent instance image layer '.repeat(200),
  );
  for (let i = 0; i < smallFiles; i++) {
    const d = path.join(l1, 'usr', 'lib', `pkg${i % 200}`);
    if (i < 200) mkdirSync(d, { recursive: true });
    const size = 512 + ((i * 7919) % 7000);
    writeFileSync(path.join(d, `file${i}.txt`), words.subarray(i % 100, (i % 100) + size));
    bytes += size;
  }
  // Layer 2: a few large random files.
  mkdirSync(path.join(l2, 'opt', 'model'), { recursive: true });
  const block = randomFillSync(Buffer.alloc(largeMiB * MiB));
  for (let i = 0; i < largeCount; i++) {
    block.writeUInt32LE(i, 0);
    writeFileSync(path.join(l2, 'opt', 'model', `weights${i}.bin`), block);
    bytes += block.length;
  }
  sh('tar --sort=name --owner=0 --group=0 --mtime=@1704164645 -C l1 -cf - . | gzip -1 > l1.tar.gz', dir);
  sh('tar --sort=name --owner=0 --group=0 --mtime=@1704164645 -C l2 -cf - . | gzip -1 > l2.tar.gz', dir);
  const diff = (f: string) =>
    `sha256:${sha256(spawnSync('sh', ['-c', `gzip -dc ${f}`], { cwd: dir, maxBuffer: 1024 * MiB }).stdout)}`;

  const layout = path.join(dir, 'layout');
  mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const layerDescs = ['l1.tar.gz', 'l2.tar.gz'].map((f) =>
    addBlob(layout, readFileSync(path.join(dir, f)), 'application/vnd.oci.image.layer.v1.tar+gzip'),
  );
  const config = addBlob(
    layout,
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['/bin/app'], Env: ['PATH=/usr/bin:/bin'] },
        rootfs: { type: 'layers', diff_ids: [diff('l1.tar.gz'), diff('l2.tar.gz')] },
      }),
    ),
    'application/vnd.oci.image.config.v1+json',
  );
  const manifest = addBlob(
    layout,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config,
        layers: layerDescs,
      }),
    ),
    'application/vnd.oci.image.manifest.v1+json',
  );
  writeFileSync(
    path.join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'bench' } }],
    }),
  );
  return { layout, layers: [path.join(dir, 'l1.tar.gz'), path.join(dir, 'l2.tar.gz')], bytes };
}

bench('build', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-bench-build-'));
  try {
    const image = makeImage(dir);
    const blobs = path.join(__dirname, '..', '..', 'test', 'fixtures', 'blobs');
    const baselineScript = [
      'rm -rf x out.cpio && mkdir x',
      ...image.layers.map((l) => `tar -xzf ${l} -C x`),
      '(cd x && find . -print0 | cpio --null -o -H newc --quiet > ../out.cpio)',
      'sha384sum out.cpio > /dev/null',
    ].join(' && ');

    const ours: number[] = [];
    const baseline: number[] = [];
    let peak = 0;
    let eifBytes = 0;
    let ramdiskBytes = 0;
    let entries = 0;
    for (let i = 0; i < runs; i++) {
      baseline.push(sh(baselineScript, dir));
      const out = path.join(dir, 'out.eif');
      const t0 = process.hrtime.bigint();
      const { result, peakRssBytes } = await withPeakRss(() =>
        buildEnclave({
          source: { kind: 'oci-layout', path: image.layout },
          output: out,
          blobs,
          buildTime: { seconds: 1704164645, nanos: 0 },
          tempRoot: dir,
        }),
      );
      ours.push(Number(process.hrtime.bigint() - t0) / 1e9);
      peak = Math.max(peak, peakRssBytes);
      eifBytes = statSync(out).size;
      ramdiskBytes = result.stats.ramdiskBytes;
      entries = result.stats.entries;
      rmSync(out);
    }
    const ratio = median(ours) / median(baseline);
    return {
      imageMiB: round(image.bytes / MiB),
      entries,
      layers: image.layers.length,
      customerRamdiskMiB: round(ramdiskBytes / MiB),
      eifMiB: round(eifBytes / MiB),
      runs,
      buildSeconds: round(median(ours), 2),
      baselineSeconds: round(median(baseline), 2),
      ratio: round(ratio, 2),
      ratioTarget: 1.5,
      ratioOk: ratio <= 1.5,
      peakRssMiB: round(peak / MiB),
      peakRssTargetMB: 200,
      peakRssOk: peak <= 200e6,
      allBuildSeconds: ours.map((s) => round(s, 2)).join(' '),
      allBaselineSeconds: baseline.map((s) => round(s, 2)).join(' '),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
