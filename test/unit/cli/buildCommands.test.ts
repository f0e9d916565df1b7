import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoPath } from '../repo';
import { tarHeader } from '../engine/ramdisk/helpers';

const cli = repoPath('dist/cli.js');
const layout = repoPath('test/fixtures/oci/layout');
const archive = repoPath('test/fixtures/oci/docker-save.tar');
const blobs = repoPath('test/fixtures/blobs');

/**
 * A copy of the layout's v1 image with one more (uncompressed, sparse on disk) layer holding a
 * `size`-byte file of zeros, so that a build of it takes a while; tagged `big`.
 */
async function layoutWithBigFile(dir: string, size: number): Promise<string> {
  const copy = path.join(dir, 'big-layout');
  cpSync(layout, copy, { recursive: true });
  const blob = (d: string) => path.join(copy, 'blobs', 'sha256', d.replace('sha256:', ''));
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const expected = JSON.parse(readFileSync(repoPath('test/fixtures/oci/expected.json'), 'utf8'));
  const layerFile = path.join(copy, 'layer.tar');
  writeFileSync(layerFile, tarHeader({ name: 'big.bin', type: '0', size }));
  truncateSync(layerFile, 512 + size + 1024); // the data (size is a multiple of 512) and the end blocks: all zeros
  const layerDigest = await new Promise<string>((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(layerFile)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
  rmSync(blob(layerDigest), { force: true });
  cpSync(layerFile, blob(layerDigest));
  rmSync(layerFile);
  const v1 = expected.images.v1;
  const config = JSON.parse(readFileSync(blob(v1.configDigest), 'utf8'));
  config.rootfs.diff_ids.push(`sha256:${layerDigest}`);
  const configBytes = Buffer.from(JSON.stringify(config));
  writeFileSync(blob(sha(configBytes)), configBytes);
  const manifest = JSON.parse(readFileSync(blob(v1.manifestDigest), 'utf8'));
  manifest.config = { ...manifest.config, digest: `sha256:${sha(configBytes)}`, size: configBytes.length };
  manifest.layers.push({
    mediaType: 'application/vnd.oci.image.layer.v1.tar',
    digest: `sha256:${layerDigest}`,
    size: 512 + size + 1024,
  });
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  writeFileSync(blob(sha(manifestBytes)), manifestBytes);
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: `sha256:${sha(manifestBytes)}`,
        size: manifestBytes.length,
        annotations: { 'org.opencontainers.image.ref.name': 'big' },
      },
    ],
  };
  writeFileSync(path.join(copy, 'index.json'), JSON.stringify(index));
  return copy;
}

/** Polls `ready` (state, not a fixed delay) until it holds or the process has ended; true when it held. */
async function until(child: ReturnType<typeof spawn>, ready: () => boolean): Promise<boolean> {
  while (child.exitCode === null && child.signalCode === null) {
    if (ready()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('(unit) nitro-dev build-enclave', function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-cli-build-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('builds from an OCI layout tag and prints nitro-cli Measurements JSON; describe-eif agrees', () => {
    const out = path.join(dir, 'app.eif');
    const r = run([
      'build-enclave',
      '--oci-layout',
      `${layout}:v1`,
      '--output-file',
      out,
      '--blobs',
      blobs,
      '--build-time',
      '2024-01-02T03:04:05Z',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^Start building the Enclave Image\.\.\.\n/);
    assert.match(r.stderr, /Enclave Image successfully created\.\n$/);
    const json = JSON.parse(r.stdout);
    assert.equal(r.stdout, `${JSON.stringify(json, null, 2)}\n`);
    assert.deepEqual(Object.keys(json), ['Measurements']);
    assert.deepEqual(Object.keys(json.Measurements), ['HashAlgorithm', 'PCR0', 'PCR1', 'PCR2']);
    const d = run(['describe-eif', '--eif-path', out]);
    assert.equal(d.status, 0, d.stderr);
    assert.deepEqual(JSON.parse(d.stdout).Measurements, json.Measurements);
    assert.equal(JSON.parse(d.stdout).Metadata.BuildTime, '2024-01-02T03:04:05+00:00');
  });

  it('takes NITRO_CLI_BLOBS and SOURCE_DATE_EPOCH from the environment, and builds the same bytes twice', () => {
    const a = path.join(dir, 'a.eif');
    const b = path.join(dir, 'b.eif');
    const env = { NITRO_CLI_BLOBS: blobs, SOURCE_DATE_EPOCH: '1704164645' };
    assert.equal(run(['build-enclave', '--image-archive', archive, '--output-file', a], env).status, 0);
    assert.equal(run(['build-enclave', '--image-archive', archive, '--output-file', b], env).status, 0);
    assert.equal(spawnSync('cmp', [a, b]).status, 0, 'byte-identical');
  });

  it('refuses bad command lines with usage errors (exit 2)', () => {
    const out = path.join(dir, 'x.eif');
    const cases: [string[], RegExp][] = [
      [['build-enclave', '--output-file', out], /one of the following arguments is required/],
      [
        ['build-enclave', '--oci-layout', layout, '--image-archive', archive, '--output-file', out],
        /cannot be used with/,
      ],
      [['build-enclave', '--oci-layout', layout], /--output-file/],
      [
        ['build-enclave', '--oci-layout', layout, '--output-file', out, '--signing-certificate', 'c.pem'],
        /requires '--private-key'/,
      ],
      [
        ['build-enclave', '--oci-layout', layout, '--output-file', out, '--arch', 'riscv64'],
        /possible values: x86_64, aarch64/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = run(args);
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
    assert.equal(existsSync(out), false);
  });

  it('reports build failures as [ E48 ] with exit code 48 and writes nothing', () => {
    const out = path.join(dir, 'x.eif');
    const missing = run([
      'build-enclave',
      '--oci-layout',
      `${layout}:v1`,
      '--output-file',
      out,
      '--blobs',
      path.join(dir, 'no-blobs'),
    ]);
    assert.equal(missing.status, 48);
    assert.match(
      missing.stderr,
      /\[ E48 \] EIF building error\. the blobs folder .*no-blobs \(from --blobs\) does not exist\. An x86_64 build reads bzImage, cmdline, init, nsm\.ko/,
    );
    const tag = run(['build-enclave', '--oci-layout', `${layout}:nope`, '--output-file', out, '--blobs', blobs]);
    assert.equal(tag.status, 48);
    assert.match(tag.stderr, /nope/);
    writeFileSync(path.join(dir, 'meta.json'), '{oops');
    const meta = run([
      'build-enclave',
      '--oci-layout',
      `${layout}:v1`,
      '--output-file',
      out,
      '--blobs',
      blobs,
      '--metadata',
      path.join(dir, 'meta.json'),
    ]);
    assert.equal(meta.status, 48);
    assert.match(meta.stderr, /meta\.json is not valid JSON/);
    assert.deepEqual(readdirSync(dir), ['meta.json']);
  });

  it('stops on Ctrl-C (SIGINT) while `docker save` runs, exits 130 and leaves nothing behind', async () => {
    const out = path.join(dir, 'x.eif');
    const tmp = path.join(dir, 'tmp');
    const bin = path.join(dir, 'bin');
    mkdirSync(tmp);
    mkdirSync(bin);
    // A docker CLI that never finishes its export: the build is still reading the image when the signal comes.
    writeFileSync(path.join(bin, 'docker'), '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
    const child = spawn(
      process.execPath,
      [cli, 'build-enclave', '--docker-uri', 'hello:v1', '--output-file', out, '--blobs', blobs],
      {
        env: { PATH: `${bin}:${process.env.PATH ?? ''}`, TMPDIR: tmp },
      },
    );
    let stderr = '';
    let signalled = false;
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (!signalled && stderr.includes('running docker save')) {
        signalled = true;
        setTimeout(() => child.kill('SIGINT'), 300);
      }
    });
    const started = Date.now();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 130, stderr);
    assert.ok(Date.now() - started < 10_000, 'docker save was stopped, not waited for');
    assert.match(stderr, /Build cancelled; nothing was written\./);
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(tmp), [], 'the temporary directory is removed');
  });

  describe('SIGTERM and SIGHUP stop a build as Ctrl-C does', function () {
    this.timeout(180_000);
    // The image is made once for the tests of this block, in a folder of its own.
    let bigDir: string;
    let big: string;
    before(async () => {
      bigDir = mkdtempSync(path.join(os.tmpdir(), 'nitro-cli-big-'));
      big = await layoutWithBigFile(bigDir, 192 * 1024 * 1024);
    });
    after(() => rmSync(bigDir, { recursive: true, force: true }));

    for (const [signal, status] of [
      ['SIGTERM', 143],
      ['SIGHUP', 129],
    ] as const) {
      it(`${signal} while the image is written: exit ${status}, no .partial output, no build folder`, async () => {
        const outDir = path.join(dir, `out-${signal}`);
        const tmp = path.join(dir, `tmp-${signal}`);
        mkdirSync(outDir);
        mkdirSync(tmp);
        const child = spawn(
          process.execPath,
          [
            cli,
            'build-enclave',
            '--oci-layout',
            `${big}:big`,
            '--output-file',
            path.join(outDir, 'x.eif'),
            '--blobs',
            blobs,
          ],
          {
            env: { PATH: process.env.PATH ?? '', TMPDIR: tmp },
          },
        );
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
        // The output is being written (its .partial file exists) while the build folder holds the customer ramdisk.
        const writing = await until(child, () => readdirSync(outDir).some((f) => f.endsWith('.partial')));
        assert.ok(writing, `the build ended before it wrote its output: ${stderr}`);
        assert.equal(readdirSync(tmp).length, 1, 'the build folder exists while the image is written');
        child.kill(signal);
        const code = await closed;
        assert.equal(code, status, stderr);
        assert.match(stderr, /Build cancelled; nothing was written\./);
        assert.deepEqual(readdirSync(outDir), [], 'no output and no .partial file');
        assert.deepEqual(readdirSync(tmp), [], 'the build folder is removed');
      });
    }
  });

  it(
    'the next build removes the folder of a build that was ' + "killed (SIGKILL), and keeps a running build's folder",
    async function () {
      if (process.platform === 'win32') this.skip(); // no SIGKILL, no process groups
      const tmp = path.join(dir, 'tmp');
      const bin = path.join(dir, 'bin');
      mkdirSync(tmp);
      mkdirSync(bin);
      // A docker CLI that never finishes its export: a build using it stays at work until stopped.
      writeFileSync(path.join(bin, 'docker'), '#!/bin/sh\nexec sleep 60\n', { mode: 0o755 });
      const env = { PATH: `${bin}:${process.env.PATH ?? ''}`, TMPDIR: tmp };
      const start = (out: string) => {
        // Its own process group, so that the killed build's `docker` goes with it.
        const child = spawn(
          process.execPath,
          [cli, 'build-enclave', '--docker-uri', 'hello:v1', '--output-file', path.join(dir, out), '--blobs', blobs],
          { env, detached: true },
        );
        let stderr = '';
        child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
        const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
        return { child, closed, stderr: () => stderr };
      };
      const live = start('live.eif');
      assert.ok(await until(live.child, () => live.stderr().includes('running docker save')), live.stderr());
      const [liveFolder] = readdirSync(tmp);
      const killed = start('killed.eif');
      assert.ok(await until(killed.child, () => killed.stderr().includes('running docker save')), killed.stderr());
      const killedFolder = readdirSync(tmp).find((f) => f !== liveFolder);
      assert.ok(liveFolder && killedFolder, 'each build made its folder');
      process.kill(-(killed.child.pid as number), 'SIGKILL');
      await killed.closed;
      assert.deepEqual(readdirSync(tmp).sort(), [liveFolder, killedFolder].sort(), 'a killed build cannot clean up');

      const next = run(
        [
          'build-enclave',
          '--oci-layout',
          `${layout}:v1`,
          '--output-file',
          path.join(dir, 'next.eif'),
          '--blobs',
          blobs,
        ],
        { TMPDIR: tmp },
      );
      assert.equal(next.status, 0, next.stderr);
      assert.match(
        next.stderr,
        new RegExp(`Removed .*${killedFolder}, left by a build that was stopped before it could clean up`),
      );
      assert.deepEqual(
        readdirSync(tmp),
        [liveFolder],
        "the killed build's folder is removed, the running build's kept",
      );

      live.child.kill('SIGINT');
      assert.equal(await live.closed, 130, live.stderr());
      assert.deepEqual(readdirSync(tmp), []);
    },
  );
});
