// build-enclave end to end, on the OCI fixtures made by umoci/skopeo and the synthetic blobs. The
// output is checked independently of the builder: the EIF is walked by the test's own parser, the
// PCRs are recomputed with node:crypto, the bootstrap ramdisk is compared with the spec's bytes
// built in the test, and the customer ramdisk is read back by GNU cpio and compared with the
// layers as GNU tar extracts them.
import * as assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseMetadata } from '../../../../src/engine/eif/metadata';
import {
  BUILD_FOLDER_PREFIX,
  BUILD_OWNER_FILE,
  BuildError,
  buildEnclave,
  processStartTime,
  removeStaleBuildFolders,
  type BuildOptions,
} from '../../../../src/engine/node/buildEnclave';
import { BlobsError } from '../../../../src/engine/node/blobs';
import { SigningError } from '../../../../src/engine/node/cose';
import { checkReproducibility, compareEifFiles } from '../../../../src/engine/node/reproducibility';
import { FlattenError } from '../../../../src/engine/oci/flatten';
import { ImageSourceError } from '../../../../src/engine/oci/model';
import { CustomerRamdiskError } from '../../../../src/engine/ramdisk/customer';
import { CancelledError } from '../../../../src/engine/platform/lifecycle';
import { repoPath } from '../../repo';
import { T, expectedPcrs, parseEif, pcrHex } from '../eif/helpers';
import { END, ensureTool, run, specNewc, tarEntry, tempDir } from '../ramdisk/helpers';

const oci = (...p: string[]) => repoPath('test', 'fixtures', 'oci', ...p);
const blobs = repoPath('test', 'fixtures', 'blobs');
const expected = JSON.parse(readFileSync(oci('expected.json'), 'utf8'));
const TIME = { seconds: 1704164645, nanos: 0 };

describe('build-enclave (OCI image to .eif)', function () {
  this.timeout(120_000);
  let t: ReturnType<typeof tempDir>;
  let n = 0;
  const out = () => path.join(t.dir, `out-${++n}.eif`);
  const build = (o: Partial<BuildOptions> & Pick<BuildOptions, 'source'>) =>
    buildEnclave({ output: out(), blobs, buildTime: TIME, tempRoot: path.join(t.dir, 'tmp'), ...o });
  /** The build's temporary area is gone after every build, good or bad. */
  const tempLeft = () => readdirSync(path.join(t.dir, 'tmp'));

  before(() => {
    t = tempDir('build');
    mkdirSync(path.join(t.dir, 'tmp'));
  });
  after(() => t.cleanup());
  afterEach(() => assert.deepEqual(tempLeft(), [], 'the build removed its temporary directory'));

  describe('the v1 image of the OCI layout', () => {
    let file: string;
    let bytes: Buffer;
    let eif: ReturnType<typeof parseEif>;
    let result: Awaited<ReturnType<typeof buildEnclave>>;

    before(async () => {
      result = await build({ source: { kind: 'oci-layout', path: oci('layout'), reference: 'v1' } });
      file = result.output;
      bytes = readFileSync(file);
      eif = parseEif(bytes);
    });

    it('has nitro-cli sections in order: kernel, cmdline, metadata, bootstrap ramdisk, customer ramdisk', () => {
      assert.equal(eif.magic, '.eif');
      assert.equal(eif.version, 4);
      assert.equal(eif.flags, 0, 'x86_64');
      assert.deepEqual(
        eif.sections.map((s) => s.type),
        [T.kernel, T.cmdline, T.metadata, T.ramdisk, T.ramdisk],
      );
      assert.equal(eif.walkEnd, bytes.length);
      assert.deepEqual(
        eif.sections.map((s) => BigInt(s.headerOffset)),
        eif.offsets.slice(0, 5),
      );
      assert.deepEqual(
        eif.sections.map((s) => BigInt(s.size)),
        eif.sizes.slice(0, 5),
      );
    });

    it('holds the kernel blob and the trimmed cmdline blob', () => {
      assert.ok(
        Buffer.from(eif.sections[0]?.data as Uint8Array).equals(readFileSync(path.join(blobs, 'x86_64', 'bzImage'))),
      );
      assert.equal(
        Buffer.from(eif.sections[1]?.data as Uint8Array).toString(),
        readFileSync(path.join(blobs, 'x86_64', 'cmdline'), 'utf8').trim(),
      );
    });

    it('has the bootstrap ramdisk of the spec, byte for byte (dev, init, nsm.ko)', () => {
      const init = readFileSync(path.join(blobs, 'x86_64', 'init'));
      const nsm = readFileSync(path.join(blobs, 'x86_64', 'nsm.ko'));
      const spec = specNewc([
        { name: 'dev', mode: 0o040755 },
        { name: 'init', mode: 0o100755, data: init },
        { name: 'nsm.ko', mode: 0o100755, data: nsm },
      ]);
      assert.ok(Buffer.from(eif.sections[3]?.data as Uint8Array).equals(spec));
    });

    it('reports the PCRs node:crypto computes from the sections', () => {
      assert.deepEqual(result.measurements, { HashAlgorithm: 'Sha384 { ... }', ...expectedPcrs(eif.sections) });
      assert.equal(result.measurements.PCR2, pcrHex(eif.sections[4]?.data as Uint8Array));
    });

    it('writes metadata from the image config, with the image ID as version', () => {
      const m = parseMetadata(eif.sections[2]?.data as Uint8Array);
      const v1 = expected.images.v1;
      assert.equal(m.ImageVersion, v1.configDigest.replace('sha256:', ''));
      assert.equal(m.ImageName, 'layout', 'a bare tag is no name: the layout folder names the image');
      assert.deepEqual(m.BuildMetadata, {
        BuildTime: '2024-01-02T03:04:05+00:00',
        BuildTool: 'nitro-dev',
        BuildToolVersion: m.BuildMetadata.BuildToolVersion,
        OperatingSystem: 'Linux',
        KernelVersion: '4.14.256',
      });
      const info = m.DockerInfo as Record<string, unknown>;
      assert.equal(info['Id'], v1.configDigest);
      assert.equal(info['Architecture'], 'amd64');
      assert.deepEqual(
        (info['RootFS'] as { Layers: string[] }).Layers,
        v1.layers.map((l: { diffId: string }) => l.diffId),
      );
      assert.deepEqual(Object.keys(info), [...Object.keys(info)].sort());
      assert.equal(m.CustomMetadata, null);
    });

    it('has a customer ramdisk that GNU cpio extracts to the flattened layers, with cmd and env', () => {
      ensureTool('cpio', 'cpio');
      ensureTool('tar', 'tar');
      const x = path.join(t.dir, 'cpio-x');
      mkdirSync(x);
      const ramdisk = path.join(t.dir, 'customer.cpio');
      writeFileSync(ramdisk, eif.sections[4]?.data as Uint8Array);
      run('sh', ['-c', `cpio -idm --no-absolute-filenames --quiet < ${ramdisk}`], { cwd: x });
      // cmd: Cmd alone (the Entrypoint is not prepended); env: Config.Env.
      assert.equal(readFileSync(path.join(x, 'cmd'), 'utf8'), '/app/run.sh\n');
      assert.equal(readFileSync(path.join(x, 'env'), 'utf8'), 'PATH=/usr/bin:/bin\nGREETING=hello\n');
      const root = path.join(x, 'rootfs');
      // The layers as GNU tar extracts them, for the files no whiteout touched.
      const ref = path.join(t.dir, 'tar-x');
      mkdirSync(ref);
      for (const layer of expected.images.v1.layers as { digest: string }[]) {
        run('tar', [
          '-xzf',
          oci('layout', 'blobs', 'sha256', layer.digest.replace('sha256:', '')),
          '-C',
          ref,
          '--exclude=.wh.*',
          '--exclude=*/.wh.*',
        ]);
      }
      for (const f of ['bin/busybox', 'etc/passwd', 'var/data/c.txt', 'app/version.txt']) {
        assert.ok(readFileSync(path.join(root, f)).equals(readFileSync(path.join(ref, f))), f);
      }
      assert.equal(readlinkSync(path.join(root, 'bin', 'sh')), 'busybox');
      assert.equal(readlinkSync(path.join(root, 'usr', 'bin', 'env')), '../../bin/busybox');
      assert.equal(readlinkSync(path.join(root, 'app', 'passwd-link')), '/etc/passwd');
      // Whiteouts: etc/motd was deleted by layer 2; var/data was made opaque by layer 3.
      assert.equal(existsSync(path.join(root, 'etc', 'motd')), false);
      assert.equal(existsSync(path.join(root, 'var', 'data', 'a.txt')), false);
      assert.equal(existsSync(path.join(root, 'var', 'data', 'sub')), false);
      assert.ok(existsSync(path.join(ref, 'var', 'data', 'a.txt')), 'tar alone (without whiteouts) keeps it');
      // The hard link became a relative symlink (linuxkit), pointing at a file with the same content.
      const links = ['app/data.txt', 'app/data-hardlink.txt'].filter((p) =>
        lstatSync(path.join(root, p)).isSymbolicLink(),
      );
      assert.equal(links.length, 1, 'one of the two hard-linked paths is a symlink');
      assert.ok(
        readFileSync(path.join(root, 'app', 'data.txt')).equals(readFileSync(path.join(ref, 'app', 'data.txt'))),
      );
      // Modes survive (setuid, 0600), as do the linuxkit rewrites.
      const modes = (p: string) => lstatSync(path.join(root, p)).mode & 0o7777;
      assert.equal(modes('root'), 0o700);
      assert.equal(modes('app/private.key'), 0o600);
      assert.equal(modes('app/setuid-file'), 0o4755);
      // linuxkit's files: section lists rootfs/tmp (0755) after the image, and the later entry wins
      // when the archive is unpacked (GNU cpio here, the kernel's initramfs code in an enclave).
      assert.equal(modes('tmp'), 0o755);
      assert.match(readFileSync(path.join(root, 'etc', 'hosts'), 'utf8'), /^127\.0\.0\.1\s+localhost/);
      assert.equal(readlinkSync(path.join(root, 'etc', 'resolv.conf')), '/run/resolvconf/resolv.conf');
      assert.equal(readlinkSync(path.join(root, 'etc', 'mtab')), '/proc/mounts');
      for (const d of ['dev', 'proc', 'sys', 'run', 'var', 'tmp'])
        assert.ok(lstatSync(path.join(root, d)).isDirectory(), d);
    });

    it('is byte-identical when built again with the same build time', async () => {
      const again = await build({ source: { kind: 'oci-layout', path: oci('layout'), reference: 'v1' } });
      assert.deepEqual(await compareEifFiles(file, again.output), {
        identical: true,
        size: bytes.length,
        sha384: createHash('sha384').update(bytes).digest('hex'),
      });
    });

    it('differs only in the metadata with another build time, and the PCRs stay', async () => {
      const later = await build({
        source: { kind: 'oci-layout', path: oci('layout'), reference: 'v1' },
        buildTime: { seconds: TIME.seconds + 1, nanos: 0 },
      });
      const diff = await compareEifFiles(file, later.output);
      assert.equal(diff.identical, false);
      assert.match(diff.identical ? '' : diff.where, /^section 2 \(metadata\) data/);
      assert.equal(diff.identical ? undefined : diff.crcDiffers, true);
      assert.deepEqual(later.measurements, result.measurements);
    });

    it('gives the same PCRs from zstd layers, the docker save archive and the OCI archive', async () => {
      for (const source of [
        { kind: 'oci-layout', path: oci('layout'), reference: 'v1-zstd' },
        { kind: 'archive', path: oci('docker-save.tar') },
        { kind: 'archive', path: oci('oci-archive.tar') },
      ] as const) {
        const other = await build({ source });
        assert.deepEqual(other.measurements, result.measurements, JSON.stringify(source));
      }
    });
  });

  it('picks the requested platform of a multi-platform index, and flags aarch64 images', async () => {
    const amd = await build({
      source: { kind: 'oci-layout', path: oci('layout'), reference: 'multi' },
      arch: 'x86_64',
    });
    assert.match(amd.image.platformNote ?? '', /amd64/);
    const arm = await build({
      source: { kind: 'oci-layout', path: oci('layout'), reference: 'multi' },
      arch: 'aarch64',
    });
    assert.equal(arm.arch, 'aarch64');
    const eif = parseEif(readFileSync(arm.output));
    assert.equal(eif.flags, 1, 'the aarch64 flag');
    assert.ok(
      Buffer.from(eif.sections[0]?.data as Uint8Array).equals(readFileSync(path.join(blobs, 'aarch64', 'Image'))),
    );
    assert.equal(arm.measurements.PCR2, amd.measurements.PCR2, 'the same layers');
  });

  it('uses the Entrypoint when the image has no Cmd', async () => {
    const r = await build({ source: { kind: 'oci-layout', path: oci('layout'), reference: 'entry-only' } });
    const eif = parseEif(readFileSync(r.output));
    const x = path.join(t.dir, 'entry-x');
    mkdirSync(x);
    writeFileSync(path.join(t.dir, 'entry.cpio'), eif.sections[4]?.data as Uint8Array);
    run('sh', ['-c', `cpio -idm --quiet cmd env < ../entry.cpio`], { cwd: x });
    assert.equal(readFileSync(path.join(x, 'cmd'), 'utf8'), '/bin/busybox\necho\n');
  });

  it('takes --name, --version and custom metadata', async () => {
    const r = await build({
      source: { kind: 'archive', path: oci('docker-save.tar') },
      name: 'app',
      version: '7',
      customMetadata: { team: 'x' },
    });
    assert.equal(r.metadata.ImageName, 'app');
    assert.equal(r.metadata.ImageVersion, '7');
    assert.deepEqual(r.metadata.CustomMetadata, { team: 'x' });
    const plain = await build({ source: { kind: 'archive', path: oci('docker-save.tar') } });
    assert.equal(plain.metadata.ImageName, 'example.com/nitro/fixture', 'the RepoTag up to its first colon');
  });

  it('signs with a matching key (PCR8 of the certificate), and fails closed on a wrong key', async () => {
    const cert = readFileSync(repoPath('test', 'fixtures', 'eif', 'test-cert.pem'), 'utf8');
    const key = readFileSync(repoPath('test', 'fixtures', 'eif', 'test-key.pem'), 'utf8');
    const r = await build({
      source: { kind: 'oci-layout', path: oci('layout'), reference: 'v1' },
      signing: { certificatePem: cert, privateKeyPem: key },
    });
    const der = new X509Certificate(cert).raw;
    assert.equal(r.measurements.PCR8, pcrHex(der));
    const eif = parseEif(readFileSync(r.output));
    assert.equal(eif.sections.at(-1)?.type, T.signature);
    const { generateKeyPairSync } = await import('node:crypto');
    const other = generateKeyPairSync('ec', { namedCurve: 'P-384' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const target = out();
    await assert.rejects(
      build({
        source: { kind: 'oci-layout', path: oci('layout'), reference: 'v1' },
        output: target,
        signing: { certificatePem: cert, privateKeyPem: other },
      }),
      SigningError,
    );
    assert.equal(existsSync(target), false);
  });

  describe('failures leave no output and no temporary files', () => {
    it('a missing blob names the file and the places looked at', async () => {
      const target = out();
      const dir = path.join(t.dir, 'few-blobs');
      cpSync(path.join(blobs, 'x86_64'), dir, { recursive: true });
      const { rmSync } = await import('node:fs');
      rmSync(path.join(dir, 'nsm.ko'));
      await assert.rejects(
        build({ source: { kind: 'oci-layout', path: oci('layout'), reference: 'v1' }, output: target, blobs: dir }),
        (e: unknown) => {
          assert.ok(e instanceof BlobsError);
          assert.ok(e.message.includes(`${path.join(dir, 'nsm.ko')}: missing`), e.message);
          assert.match(e.message, /NITRO_CLI_BLOBS/);
          return true;
        },
      );
      assert.equal(existsSync(target), false);
    });

    it('a layer whose bytes do not match its digest', async () => {
      const copy = path.join(t.dir, 'bad-layout');
      cpSync(oci('layout'), copy, { recursive: true });
      const layer = path.join(
        copy,
        'blobs',
        'sha256',
        (expected.images.v1.layers[2].digest as string).replace('sha256:', ''),
      );
      const b = readFileSync(layer);
      const at = Math.floor(b.length / 2);
      b.writeUInt8(b.readUInt8(at) ^ 0x01, at);
      writeFileSync(layer, b);
      const target = out();
      await assert.rejects(
        build({ source: { kind: 'oci-layout', path: copy, reference: 'v1' }, output: target }),
        ImageSourceError,
      );
      assert.equal(existsSync(target), false);
    });

    it('an image with neither Cmd nor Entrypoint', async () => {
      const copy = path.join(t.dir, 'no-cmd-layout');
      cpSync(oci('layout'), copy, { recursive: true });
      // Rewrite the v1 config without Cmd/Entrypoint, then its manifest and index entry.
      const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
      const blob = (d: string) => path.join(copy, 'blobs', 'sha256', d.replace('sha256:', ''));
      const v1 = expected.images.v1;
      const config = JSON.parse(readFileSync(blob(v1.configDigest), 'utf8'));
      delete config.config.Cmd;
      delete config.config.Entrypoint;
      const configBytes = Buffer.from(JSON.stringify(config));
      writeFileSync(blob(sha(configBytes)), configBytes);
      const manifest = JSON.parse(readFileSync(blob(v1.manifestDigest), 'utf8'));
      manifest.config = { ...manifest.config, digest: `sha256:${sha(configBytes)}`, size: configBytes.length };
      const manifestBytes = Buffer.from(JSON.stringify(manifest));
      writeFileSync(blob(sha(manifestBytes)), manifestBytes);
      const index = JSON.parse(readFileSync(path.join(copy, 'index.json'), 'utf8'));
      index.manifests = [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: `sha256:${sha(manifestBytes)}`,
          size: manifestBytes.length,
          annotations: { 'org.opencontainers.image.ref.name': 'none' },
        },
      ];
      writeFileSync(path.join(copy, 'index.json'), JSON.stringify(index));
      await assert.rejects(
        build({ source: { kind: 'oci-layout', path: copy } }),
        (e: unknown) => e instanceof CustomerRamdiskError && /entry point|ENTRYPOINT|CMD/i.test(e.message),
      );
    });

    it('a layer that climbs out of the root, or links out of it', async () => {
      const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
      for (const [name, layer] of [
        ['traversal', Buffer.concat([tarEntry({ name: 'etc/../../evil', type: '0' }, Buffer.from('x')), END])],
        ['link escape', Buffer.concat([tarEntry({ name: 'app/out', type: '1', linkName: '../../etc/passwd' }), END])],
      ] as const) {
        const copy = path.join(t.dir, `hostile-${name.replace(' ', '-')}`);
        cpSync(oci('layout'), copy, { recursive: true });
        const blob = (d: string) => path.join(copy, 'blobs', 'sha256', d.replace('sha256:', ''));
        const v1 = expected.images.v1;
        // The v1 image with one more (uncompressed) layer on top.
        writeFileSync(blob(`sha256:${sha(layer)}`), layer);
        const config = JSON.parse(readFileSync(blob(v1.configDigest), 'utf8'));
        config.rootfs.diff_ids.push(`sha256:${sha(layer)}`);
        const configBytes = Buffer.from(JSON.stringify(config));
        writeFileSync(blob(sha(configBytes)), configBytes);
        const manifest = JSON.parse(readFileSync(blob(v1.manifestDigest), 'utf8'));
        manifest.config = { ...manifest.config, digest: `sha256:${sha(configBytes)}`, size: configBytes.length };
        manifest.layers.push({
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: `sha256:${sha(layer)}`,
          size: layer.length,
        });
        const manifestBytes = Buffer.from(JSON.stringify(manifest));
        writeFileSync(blob(sha(manifestBytes)), manifestBytes);
        writeFileSync(
          path.join(copy, 'index.json'),
          JSON.stringify({
            schemaVersion: 2,
            manifests: [
              {
                mediaType: 'application/vnd.oci.image.manifest.v1+json',
                digest: `sha256:${sha(manifestBytes)}`,
                size: manifestBytes.length,
              },
            ],
          }),
        );
        const target = out();
        await assert.rejects(build({ source: { kind: 'oci-layout', path: copy }, output: target }), (e: unknown) => {
          assert.ok(e instanceof FlattenError, `${name}: ${String(e)}`);
          assert.equal(e.layer, 3);
          assert.match(e.message, /^layer 3 /);
          return true;
        });
        assert.equal(existsSync(target), false);
        assert.equal(existsSync(path.join(t.dir, 'evil')), false);
      }
    });

    it('an --arch the image is not built for', async () => {
      await assert.rejects(
        build({ source: { kind: 'oci-layout', path: oci('layout'), reference: 'v1' }, arch: 'aarch64' }),
        (e: unknown) => e instanceof BuildError || e instanceof ImageSourceError,
      );
    });

    it('cancellation part-way through the layers', async () => {
      const target = out();
      let cancelled = false;
      const listeners: ((v: unknown) => void)[] = [];
      const token = {
        get isCancellationRequested() {
          return cancelled;
        },
        onCancellationRequested: (l: (v: unknown) => void) => {
          listeners.push(l);
          return { dispose: () => undefined };
        },
      };
      await assert.rejects(
        build({
          source: { kind: 'oci-layout', path: oci('layout'), reference: 'v1' },
          output: target,
          cancellation: token,
          onProgress: (p) => {
            if (p.stage === 'layers' && p.done > 0 && !cancelled) {
              cancelled = true;
              for (const l of listeners) l(undefined);
            }
          },
        }),
        CancelledError,
      );
      assert.equal(existsSync(target), false);
    });
  });

  it('the reproducibility check builds twice and finds the results identical', async () => {
    const report = await checkReproducibility({
      source: { kind: 'archive', path: oci('docker-save.tar') },
      blobs,
      tempRoot: path.join(t.dir, 'tmp'),
    });
    assert.equal(report.difference.identical, true);
    assert.equal(existsSync(report.first.output), false, 'the two builds were temporary');
  });
});

describe('build folders left by builds that died (removeStaleBuildFolders)', () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => (t = tempDir('stale')));
  afterEach(() => t.cleanup());

  /** A build folder in the temp root with an owner record, as a build makes it. */
  const folder = (name: string, owner?: object) => {
    const dir = path.join(t.dir, `${BUILD_FOLDER_PREFIX}${name}`);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'customer-initrd.img'), 'x');
    if (owner) writeFileSync(path.join(dir, BUILD_OWNER_FILE), JSON.stringify(owner));
    return dir;
  };
  /** The PID of a process that has ended. */
  const deadPid = () => {
    const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    return Number(r.stdout);
  };
  const host = os.hostname();

  it('removes only real folders of this host whose owner process is gone, never following links', async () => {
    const myStart = await processStartTime(process.pid);
    if (process.platform === 'linux') assert.match(myStart ?? '', /^\d+$/, '/proc/<pid>/stat field 22');
    const dead = folder('dead', { pid: deadPid(), host });
    const live = folder('live', { pid: process.pid, ...(myStart ? { start: myStart } : {}), host });
    const noRecord = folder('norecord');
    const otherHost = folder('otherhost', { pid: deadPid(), host: `${host}-elsewhere` });
    const garbled = folder('garbled');
    writeFileSync(path.join(garbled, BUILD_OWNER_FILE), '{"pid":"1; rm -rf /"');
    // A dead build's folder holding a link to a file outside: the link goes, the file stays.
    const outside = path.join(t.dir, 'outside');
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'keep.txt'), 'keep');
    symlinkSync(outside, path.join(dead, 'link'));
    // A symlink named like a build folder, to a folder with a dead owner: neither is touched.
    const target = path.join(t.dir, 'target');
    mkdirSync(target);
    writeFileSync(path.join(target, BUILD_OWNER_FILE), JSON.stringify({ pid: deadPid(), host }));
    symlinkSync(target, path.join(t.dir, `${BUILD_FOLDER_PREFIX}link`));

    const removed = await removeStaleBuildFolders(t.dir);
    assert.deepEqual(removed, [dead]);
    assert.equal(existsSync(dead), false);
    for (const kept of [live, noRecord, otherHost, garbled, target]) assert.equal(existsSync(kept), true, kept);
    assert.equal(lstatSync(path.join(t.dir, `${BUILD_FOLDER_PREFIX}link`)).isSymbolicLink(), true);
    assert.equal(readFileSync(path.join(outside, 'keep.txt'), 'utf8'), 'keep');
  });

  it('a live PID with another start time is a reused PID: its folder is removed (Linux)', async function () {
    if (process.platform !== 'linux') this.skip(); // start times come from /proc
    const myStart = (await processStartTime(process.pid)) as string;
    const reused = folder('reused', { pid: process.pid, start: String(BigInt(myStart) + 1n), host });
    const live = folder('live', { pid: process.pid, start: myStart, host });
    assert.deepEqual(await removeStaleBuildFolders(t.dir), [reused]);
    assert.equal(existsSync(live), true);
  });

  it('a build records its owner in its folder', async () => {
    let seen: string | undefined;
    const tmp = path.join(t.dir, 'tmp');
    mkdirSync(tmp);
    await buildEnclave({
      source: { kind: 'oci-layout', path: oci('layout'), reference: 'v1' },
      output: path.join(t.dir, 'x.eif'),
      blobs,
      buildTime: TIME,
      tempRoot: tmp,
      onProgress: () => {
        if (seen) return;
        const [name] = readdirSync(tmp);
        if (name) seen = readFileSync(path.join(tmp, name, BUILD_OWNER_FILE), 'utf8');
      },
    });
    const owner = JSON.parse(seen as string);
    assert.equal(owner.pid, process.pid);
    assert.equal(owner.host, host);
    assert.equal(owner.start, await processStartTime(process.pid));
    assert.deepEqual(readdirSync(tmp), []);
  });
});
