// The image sources (src/engine/node/ociSource.ts) on the fixtures made by umoci and skopeo
// (test/fixtures/oci, see its README): every kind opens, the config and platform are right, every
// layer streams to the bytes `gzip -dc` / `zstd -dc` produce and hashes to the diff_id the tools
// recorded; then corrupted copies in a temporary directory, hostile archives and a fake `docker`.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  describeImage,
  dockerReference,
  openImage,
  type ImageSpec,
  type OpenImageOptions,
} from '../../../../../src/engine/node/oci';
import {
  ImageSourceError,
  type ImageSourceErrorCode,
  type LayerBlob,
  type LayerOpenOptions,
  type ResolvedImage,
} from '../../../../../src/engine/oci/model';
import { CancelledError, Emitter, type CancellationLike } from '../../../../../src/engine/platform/lifecycle';
import { readTar } from '../../../../../src/engine/oci/tar';
import { repoPath } from '../../../repo';
import { END, ensureTool, run, tarEntry, tempDir } from '../../ramdisk/helpers';

const FIX = (...p: string[]) => repoPath('test', 'fixtures', 'oci', ...p);
const expected = JSON.parse(readFileSync(FIX('expected.json'), 'utf8'));
const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const hexOf = (d: string) => d.slice('sha256:'.length);

interface ExpectedLayer {
  digest: string;
  mediaType: string;
  compression: 'gzip' | 'zstd' | 'none';
  size: number;
  diffId: string;
  files: string[];
}

/** Reads a whole layer stream; also returns the largest chunk seen. */
async function readLayer(
  layer: LayerBlob,
  options?: LayerOpenOptions,
): Promise<{ bytes: Buffer; largest: number; chunks: number }> {
  const parts: Buffer[] = [];
  let largest = 0;
  for await (const c of layer.open(options)) {
    assert.ok(c instanceof Uint8Array);
    largest = Math.max(largest, c.length);
    parts.push(Buffer.from(c));
  }
  return { bytes: Buffer.concat(parts), largest, chunks: parts.length };
}

async function expectImageError(
  p: Promise<unknown>,
  code: ImageSourceErrorCode,
  pattern?: RegExp,
): Promise<ImageSourceError> {
  let error: unknown;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  assert.ok(
    error instanceof ImageSourceError,
    `expected ImageSourceError ${code}, got ${error instanceof Error ? error.stack : String(error)}`,
  );
  assert.equal(error.code, code, error.message);
  if (pattern) assert.match(error.message, pattern);
  return error;
}

/** The listing GNU tar prints for a tar stream. */
const tarListing = (tar: Uint8Array): string[] =>
  run('tar', ['--numeric-owner', '-tvf', '-'], { input: tar })
    .stdout.toString('utf8')
    .split('\n')
    .filter((l) => l !== '');

function cancellation(): { token: CancellationLike; cancel: () => void } {
  const emitter = new Emitter<void>();
  let cancelled = false;
  return {
    token: {
      get isCancellationRequested() {
        return cancelled;
      },
      onCancellationRequested: emitter.event,
    },
    cancel: () => {
      cancelled = true;
      emitter.fire();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Editing copies of the layout.

function putBlob(layout: string, bytes: Uint8Array): { digest: string; size: number } {
  const digest = sha256(bytes);
  writeFileSync(path.join(layout, 'blobs', 'sha256', hexOf(digest)), bytes);
  return { digest, size: bytes.length };
}

function readIndex(layout: string): {
  manifests: Array<{ digest: string; size: number; mediaType: string; annotations?: Record<string, string> }>;
} {
  return JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8'));
}

/** The fields of an image manifest that the tests rewrite. */
interface ManifestJson {
  config: { digest: string };
  layers: Array<{ digest: string; size: number; mediaType: string }>;
}

/** Rewrites the manifest tagged `tag` through `mutate`, stores it and points the tag at it. */
function rewriteManifest(layout: string, tag: string, mutate: (m: ManifestJson) => void): string {
  const index = readIndex(layout);
  const entry = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === tag);
  assert.ok(entry, tag);
  const manifest: ManifestJson = JSON.parse(
    readFileSync(path.join(layout, 'blobs', 'sha256', hexOf(entry.digest)), 'utf8'),
  );
  mutate(manifest);
  const stored = putBlob(layout, Buffer.from(JSON.stringify(manifest)));
  entry.digest = stored.digest;
  entry.size = stored.size;
  writeFileSync(path.join(layout, 'index.json'), JSON.stringify(index));
  return stored.digest;
}

/** Replaces layer `i` of the manifest tagged `tag` with `bytes` (consistent digest and size). */
function replaceLayer(layout: string, tag: string, i: number, bytes: Uint8Array, mediaType?: string): string {
  const stored = putBlob(layout, bytes);
  rewriteManifest(layout, tag, (m) => {
    const layer = m.layers[i];
    assert.ok(layer, `layer ${i}`);
    layer.digest = stored.digest;
    layer.size = stored.size;
    if (mediaType) layer.mediaType = mediaType;
  });
  return stored.digest;
}

const layerBlobPath = (layout: string, digest: string) => path.join(layout, 'blobs', 'sha256', hexOf(digest));

describe('OCI image sources', function () {
  this.timeout(120_000);
  let tmp: { dir: string; cleanup: () => void };
  let base: OpenImageOptions;
  let n = 0;
  /** A fresh copy of the fixture layout. */
  const layoutCopy = (): string => {
    const dir = path.join(tmp.dir, `layout-${++n}`);
    cpSync(FIX('layout'), dir, { recursive: true });
    return dir;
  };
  const open = (spec: ImageSpec, options: Partial<OpenImageOptions> = {}) => openImage(spec, { ...base, ...options });

  before(() => {
    ensureTool('tar', 'tar');
    ensureTool('gzip', 'gzip');
    ensureTool('zstd', 'zstd');
    tmp = tempDir('oci-source');
    base = { tempDir: tmp.dir };
  });
  after(() => tmp.cleanup());

  async function checkImage(img: ResolvedImage, tag: string): Promise<void> {
    const want = expected.images[tag];
    assert.equal(img.manifestDigest, want.manifestDigest);
    assert.equal(img.configDigest, want.configDigest);
    assert.deepEqual(img.config.raw, want.config);
    assert.deepEqual(img.config.diffIds, want.config.rootfs.diff_ids);
    assert.equal(img.layers.length, want.layers.length);
    for (const [i, layer] of img.layers.entries()) {
      const w: ExpectedLayer = want.layers[i];
      assert.equal(layer.index, i);
      assert.equal(layer.digest, w.digest);
      assert.equal(layer.size, w.size);
      assert.equal(layer.mediaType, w.mediaType);
      assert.equal(layer.compression, w.compression);
      assert.equal(layer.diffId, w.diffId);
      let read = 0;
      const { bytes, largest } = await readLayer(layer, { onRead: (k) => (read += k) });
      assert.equal(read, w.size, 'onRead reports every compressed byte once');
      assert.ok(largest <= 1024 * 1024, `chunks stay small (largest ${largest})`);
      // The stream hashes (node:crypto) to the diff_id the tools recorded (sha256sum of gzip -dc / zstd -dc).
      assert.equal(sha256(bytes), w.diffId);
      // And GNU tar lists it exactly as it listed the tools' own decompression.
      assert.deepEqual(tarListing(bytes), w.files);
    }
  }

  describe('OCI layout', () => {
    it('opens v1 (gzip layers) with its config', async () => {
      const img = await open({ kind: 'oci-layout', path: FIX('layout'), reference: 'v1' });
      try {
        assert.equal(img.kind, 'oci-layout');
        assert.equal(img.reference, 'v1');
        assert.deepEqual(img.repoTags, ['v1']);
        assert.deepEqual(img.platform, { architecture: 'amd64', os: 'linux' });
        assert.equal(img.platformNote, undefined);
        assert.equal(img.description, `OCI layout ${FIX('layout')}, tag "v1"`);
        const c = img.config;
        assert.deepEqual(c.cmd, ['/app/run.sh']);
        assert.deepEqual(c.entrypoint, ['/bin/sh', '-c']);
        assert.deepEqual(c.env, ['PATH=/usr/bin:/bin', 'GREETING=hello']);
        assert.deepEqual(c.labels, { 'org.example.fixture': 'v1', 'org.example.layers': '3' });
        assert.equal(c.workingDir, '/app');
        assert.equal(c.user, '1000:1000');
        assert.equal(c.created, '2024-01-02T03:04:05Z');
        await checkImage(img, 'v1');
        assert.match(
          describeImage(img),
          /^OCI layout .*, tag "v1": linux\/amd64, 3 layers \(1085408 bytes\), image sha256:293706cfdcac…, manifest sha256:/,
        );
      } finally {
        await img.close();
      }
    });

    it('opens entry-only (Cmd null) and v1-zstd (zstd layers, same diff_ids)', async () => {
      const eo = await open({ kind: 'oci-layout', path: FIX('layout'), reference: 'entry-only' });
      assert.equal(eo.config.cmd, null);
      assert.deepEqual(eo.config.entrypoint, ['/bin/busybox', 'echo']);
      await checkImage(eo, 'entry-only');
      await eo.close();
      const z = await open({ kind: 'oci-layout', path: FIX('layout'), reference: 'v1-zstd' }, { arch: 'x86_64' });
      assert.deepEqual(
        z.layers.map((l) => l.compression),
        ['zstd', 'zstd', 'zstd'],
      );
      await checkImage(z, 'v1-zstd');
      // Byte for byte what the zstd tool decompresses.
      for (const layer of z.layers) {
        const ours = (await readLayer(layer)).bytes;
        const theirs = run('zstd', ['-dcq', layerBlobPath(FIX('layout'), layer.digest)]).stdout;
        assert.ok(ours.equals(theirs), `layer ${layer.index}`);
      }
      await z.close();
    });

    it('picks the platform from the multi-platform index', async () => {
      const amd = await open({ kind: 'oci-layout', path: FIX('layout'), reference: 'multi' });
      assert.equal(amd.manifestDigest, expected.images.v1.manifestDigest);
      assert.deepEqual(amd.platform, { architecture: 'amd64', os: 'linux' });
      assert.equal(
        amd.platformNote,
        `picked linux/amd64 (${expected.images.v1.manifestDigest.slice(0, 19)}…) from 3 manifests`,
      );
      assert.deepEqual(amd.repoTags, ['multi']);
      await amd.close();
      const arm = await open({ kind: 'oci-layout', path: FIX('layout'), reference: 'multi' }, { arch: 'aarch64' });
      assert.equal(arm.manifestDigest, expected.images['v1-arm64'].manifestDigest);
      assert.deepEqual(arm.platform, { architecture: 'arm64', os: 'linux', variant: 'v8' });
      assert.equal(
        arm.platformNote,
        `picked linux/arm64/v8 (${expected.images['v1-arm64'].manifestDigest.slice(0, 19)}…) from 3 manifests`,
      );
      assert.equal(arm.config.architecture, 'arm64');
      await checkImage(arm, 'v1-arm64');
      assert.match(describeImage(arm), /linux\/arm64\/v8, 3 layers .*; picked linux\/arm64\/v8/);
      await arm.close();
    });

    it('checks the config against the requested architecture', async () => {
      await expectImageError(
        open({ kind: 'oci-layout', path: FIX('layout'), reference: 'v1' }, { arch: 'aarch64' }),
        'no-matching-platform',
        /is an image for linux\/amd64, not linux\/arm64/,
      );
    });

    it('lists the tags when none or an unknown one is given', async () => {
      await expectImageError(
        open({ kind: 'oci-layout', path: FIX('layout') }),
        'no-such-tag',
        /holds 4 images and no tag was given; it has "v1", "entry-only", "v1-zstd", "multi"/,
      );
      await expectImageError(
        open({ kind: 'oci-layout', path: FIX('layout'), reference: 'v9' }),
        'no-such-tag',
        /no image tagged "v9"; it has "v1", "entry-only", "v1-zstd", "multi"/,
      );
    });

    it('takes the only image when no tag is given, and matches io.containerd.image.name', async () => {
      const dir = layoutCopy();
      const index = readIndex(dir);
      index.manifests = index.manifests.filter(
        (d) => d.annotations?.['org.opencontainers.image.ref.name'] === 'v1-zstd',
      );
      (index.manifests[0] as { annotations: Record<string, string> }).annotations['io.containerd.image.name'] =
        'docker.io/library/fixture:v1';
      writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
      const img = await open({ kind: 'oci-layout', path: dir });
      assert.equal(img.reference, 'v1-zstd');
      assert.equal(img.manifestDigest, expected.images['v1-zstd'].manifestDigest);
      await img.close();
      const byName = await open({ kind: 'oci-layout', path: dir, reference: 'fixture:v1' });
      assert.equal(byName.manifestDigest, expected.images['v1-zstd'].manifestDigest);
      await byName.close();
    });

    it('streams a layer twice, stops early without error, and honours cancellation', async () => {
      const img = await open({ kind: 'oci-layout', path: FIX('layout'), reference: 'v1' });
      const layer = img.layers[0] as LayerBlob;
      const a = await readLayer(layer);
      const b = await readLayer(layer);
      assert.ok(a.bytes.equals(b.bytes));
      for await (const chunk of layer.open()) {
        assert.ok(chunk.length > 0);
        break;
      }
      const { token, cancel } = cancellation();
      let seen = 0;
      let error: unknown;
      try {
        for await (const chunk of layer.open({ cancellation: token })) {
          seen += chunk.length;
          cancel();
        }
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof CancelledError, String(error));
      assert.ok(seen > 0 && seen < a.bytes.length);
      await img.close();
    });
  });

  describe('archives', () => {
    it('opens the docker save archive skopeo wrote', async () => {
      const img = await open({ kind: 'archive', path: FIX('docker-save.tar') });
      assert.equal(img.kind, 'docker-archive');
      assert.equal(img.reference, 'example.com/nitro/fixture:v1');
      assert.deepEqual(img.repoTags, ['example.com/nitro/fixture:v1']);
      assert.equal(img.configDigest, expected.images.v1.configDigest);
      assert.deepEqual(img.config.raw, expected.images.v1.config);
      assert.deepEqual(img.platform, { architecture: 'amd64', os: 'linux' });
      assert.equal(
        img.description,
        `docker save archive ${FIX('docker-save.tar')}, image "example.com/nitro/fixture:v1"`,
      );
      const manifestJson = run('tar', ['-xOf', FIX('docker-save.tar'), 'manifest.json']).stdout;
      assert.equal(img.manifestDigest, sha256(manifestJson));
      for (const [i, layer] of img.layers.entries()) {
        const w: ExpectedLayer = expected.images.v1.layers[i];
        assert.equal(layer.compression, 'none');
        assert.equal(layer.diffId, w.diffId);
        assert.equal(layer.digest, w.diffId, 'an uncompressed layer is stored under its diff_id');
        const { bytes } = await readLayer(layer);
        assert.equal(sha256(bytes), w.diffId);
        // The member as GNU tar extracts it.
        const member = run('tar', [
          '-xOf',
          FIX('docker-save.tar'),
          expected.dockerArchive.manifest[0].Layers[i],
        ]).stdout;
        assert.ok(bytes.equals(member));
        assert.deepEqual(tarListing(bytes), w.files);
      }
      await img.close();
      const named = await open({
        kind: 'archive',
        path: FIX('docker-save.tar'),
        reference: 'example.com/nitro/fixture:v1',
      });
      assert.equal(named.configDigest, expected.images.v1.configDigest);
      await named.close();
      await expectImageError(
        open({ kind: 'archive', path: FIX('docker-save.tar'), reference: 'example.com/nitro/fixture:v2' }),
        'no-such-tag',
        /has "example.com\/nitro\/fixture:v1"/,
      );
    });

    it('opens the OCI archive skopeo wrote, in place', async () => {
      const img = await open({ kind: 'archive', path: FIX('oci-archive.tar') }, { arch: 'x86_64' });
      assert.equal(img.kind, 'oci-archive');
      assert.equal(img.reference, 'v1');
      assert.equal(img.description, `OCI archive ${FIX('oci-archive.tar')}, image "v1"`);
      await checkImage(img, 'v1');
      await img.close();
    });

    /** A Docker 25+ style export: the OCI archive's layout plus a manifest.json naming blobs/sha256/<hex>. */
    function docker25Archive(options: { withIndex: boolean; gzipLayersInPlace?: boolean }): string {
      const dir = path.join(tmp.dir, `d25-${++n}`);
      mkdirSync(dir);
      run('tar', ['-xf', FIX('oci-archive.tar'), '-C', dir]);
      const img = expected.images.v1;
      const manifest = [
        {
          Config: `blobs/sha256/${hexOf(img.configDigest)}`,
          RepoTags: ['example.com/nitro/fixture:v1'],
          Layers: img.layers.map((l: ExpectedLayer) => `blobs/sha256/${hexOf(l.digest)}`),
        },
      ];
      writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
      const index = readIndex(dir);
      (index.manifests[0] as { annotations: Record<string, string> }).annotations['io.containerd.image.name'] =
        'example.com/nitro/fixture:v1';
      writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
      const members = options.withIndex
        ? ['blobs', 'index.json', 'manifest.json', 'oci-layout']
        : ['blobs', 'manifest.json'];
      const out = path.join(tmp.dir, `d25-${n}.tar`);
      run('tar', ['-C', dir, '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-cf', out, ...members]);
      return out;
    }

    it('prefers the OCI index of a newer docker save archive, matching the containerd image name', async () => {
      const file = docker25Archive({ withIndex: true });
      const img = await open({ kind: 'archive', path: file, reference: 'example.com/nitro/fixture:v1' });
      assert.equal(img.kind, 'docker-archive');
      assert.equal(img.manifestDigest, expected.images.v1.manifestDigest, 'the manifest came from the OCI index');
      await checkImage(img, 'v1');
      await img.close();
    });

    it(
      'reads compressed layers named blobs/sha256/<hex> ' + 'through manifest.json (magic bytes, both digests)',
      async () => {
        const file = docker25Archive({ withIndex: false });
        const img = await open({ kind: 'archive', path: file });
        assert.equal(img.kind, 'docker-archive');
        for (const [i, layer] of img.layers.entries()) {
          const w: ExpectedLayer = expected.images.v1.layers[i];
          assert.equal(layer.compression, 'gzip');
          assert.equal(layer.digest, w.digest);
          assert.equal(sha256((await readLayer(layer)).bytes), w.diffId);
        }
        await img.close();
      },
    );

    it('reads zstd and gzip layer files with legacy names (digest computed from the file)', async () => {
      const dir = path.join(tmp.dir, `legacy-${++n}`);
      mkdirSync(dir);
      run('tar', ['-xf', FIX('docker-save.tar'), '-C', dir]);
      const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
      const layers: string[] = manifest[0].Layers;
      run('gzip', ['-n', path.join(dir, layers[0] as string)]);
      run('zstd', ['-q', '--rm', path.join(dir, layers[1] as string)]);
      const renamed = [`${layers[0]}.gz`, `${layers[1]}.zst`, layers[2]];
      manifest[0].Layers = renamed;
      writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
      const out = path.join(tmp.dir, `legacy-${n}.tar`);
      run('tar', ['-C', dir, '-cf', out, 'manifest.json', manifest[0].Config, ...renamed]);
      const img = await open({ kind: 'archive', path: out });
      assert.deepEqual(
        img.layers.map((l) => l.compression),
        ['gzip', 'zstd', 'none'],
      );
      assert.equal(img.layers[0]?.digest, sha256(readFileSync(path.join(dir, renamed[0] as string))));
      for (const [i, layer] of img.layers.entries())
        assert.equal(sha256((await readLayer(layer)).bytes), expected.images.v1.layers[i].diffId);
      await img.close();
    });

    it('rejects member names that leave the archive', async () => {
      const file = path.join(tmp.dir, 'evil.tar');
      writeFileSync(
        file,
        Buffer.concat([
          tarEntry({ name: 'oci-layout' }, Buffer.from('{"imageLayoutVersion":"1.0.0"}')),
          tarEntry({ name: '../../etc/passwd' }, Buffer.from('x')),
          END,
        ]),
      );
      await expectImageError(
        open({ kind: 'archive', path: file }),
        'unknown-format',
        /evil\.tar is not a usable tar archive: the name "..\/..\/etc\/passwd" has a ".." that leaves the root.*rule: unsafe-path/,
      );
      const abs = path.join(tmp.dir, 'abs.tar');
      writeFileSync(abs, Buffer.concat([tarEntry({ name: '/manifest.json' }, Buffer.from('[]')), END]));
      await expectImageError(open({ kind: 'archive', path: abs }), 'unknown-format', /is absolute/);
    });

    it('rejects manifest.json naming members outside the archive, and duplicate members', async () => {
      const file = path.join(tmp.dir, 'evil-manifest.tar');
      writeFileSync(
        file,
        Buffer.concat([
          tarEntry(
            { name: 'manifest.json' },
            Buffer.from(JSON.stringify([{ Config: '../config.json', RepoTags: [], Layers: [] }])),
          ),
          END,
        ]),
      );
      await expectImageError(
        open({ kind: 'archive', path: file }),
        'bad-json',
        /Config "..\/config.json" is not a safe member name/,
      );
      const dup = path.join(tmp.dir, 'dup.tar');
      writeFileSync(
        dup,
        Buffer.concat([
          tarEntry({ name: 'manifest.json' }, Buffer.from('[]')),
          tarEntry({ name: './manifest.json' }, Buffer.from('[]')),
          END,
        ]),
      );
      await expectImageError(open({ kind: 'archive', path: dup }), 'unknown-format', /"manifest.json" appears twice/);
    });

    it('says what is wrong with other files', async () => {
      const gz = path.join(tmp.dir, 'save.tar.gz');
      writeFileSync(gz, gzipSync(readFileSync(FIX('oci-archive.tar')).subarray(0, 100000)));
      await expectImageError(
        open({ kind: 'archive', path: gz }),
        'unknown-format',
        /is gzip-compressed; decompress it first/,
      );
      const junk = path.join(tmp.dir, 'junk.tar');
      writeFileSync(junk, Buffer.alloc(2048, 0x41));
      await expectImageError(open({ kind: 'archive', path: junk }), 'unknown-format', /is not a usable tar archive/);
      const plain = path.join(tmp.dir, 'plain.tar');
      writeFileSync(plain, Buffer.concat([tarEntry({ name: 'hello.txt' }, Buffer.from('hi')), END]));
      await expectImageError(
        open({ kind: 'archive', path: plain }),
        'unknown-format',
        /neither an OCI archive .* nor a docker save archive/,
      );
      const cut = path.join(tmp.dir, 'cut.tar');
      writeFileSync(cut, readFileSync(FIX('oci-archive.tar')).subarray(0, 700000));
      await expectImageError(open({ kind: 'archive', path: cut }), 'unknown-format', /rule: truncated/);
      await expectImageError(
        open({ kind: 'archive', path: path.join(tmp.dir, 'nope.tar') }),
        'not-found',
        /does not exist \(--image-archive\)/,
      );
      await expectImageError(
        open({ kind: 'archive', path: FIX('layout') }),
        'unknown-format',
        /is a directory, not an image archive; open OCI layouts with --oci-layout/,
      );
      await expectImageError(
        open({ kind: 'oci-layout', path: FIX('oci-archive.tar') }),
        'unknown-format',
        /is a file, not an OCI layout directory; open archives with --image-archive/,
      );
      await expectImageError(
        open({ kind: 'oci-layout', path: path.join(tmp.dir, 'nope') }),
        'not-found',
        /does not exist \(--oci-layout\)/,
      );
      await expectImageError(
        open({ kind: 'oci-layout', path: tmp.dir }),
        'unknown-format',
        /is not an OCI image layout: it has no oci-layout file/,
      );
    });
  });

  describe('corrupted layouts', () => {
    it('flipped byte in a gzip layer → digest-mismatch naming the layer and both digests', async () => {
      const dir = layoutCopy();
      const w: ExpectedLayer = expected.images.v1.layers[0];
      const file = layerBlobPath(dir, w.digest);
      const bytes = readFileSync(file);
      bytes[500000] = (bytes[500000] as number) ^ 0x01;
      writeFileSync(file, bytes);
      const img = await open({ kind: 'oci-layout', path: dir, reference: 'v1' });
      const e = await expectImageError(
        readLayer(img.layers[0] as LayerBlob),
        'digest-mismatch',
        /layer 0 does not match its digest/,
      );
      assert.ok(e.message.includes(`expected ${w.digest}, got ${sha256(bytes)}`), e.message);
      // The other layers are fine.
      assert.equal(sha256((await readLayer(img.layers[1] as LayerBlob)).bytes), expected.images.v1.layers[1].diffId);
      await img.close();
    });

    it('flipped byte in a zstd layer → digest-mismatch', async () => {
      const dir = layoutCopy();
      const w: ExpectedLayer = expected.images['v1-zstd'].layers[0];
      const file = layerBlobPath(dir, w.digest);
      const bytes = readFileSync(file);
      bytes[400000] = (bytes[400000] as number) ^ 0x80;
      writeFileSync(file, bytes);
      const img = await open({ kind: 'oci-layout', path: dir, reference: 'v1-zstd' });
      await expectImageError(
        readLayer(img.layers[0] as LayerBlob),
        'digest-mismatch',
        new RegExp(`layer 0 .*expected ${w.digest}, got ${sha256(bytes)}`),
      );
      await img.close();
    });

    it('flipped byte in an uncompressed docker save layer → diff_id mismatch', async () => {
      const file = path.join(tmp.dir, 'flipped-save.tar');
      const bytes = readFileSync(FIX('docker-save.tar'));
      // The first layer member's data starts after its header; flip a byte well inside it.
      const m = expected.dockerArchive.manifest[0].Layers[0];
      const at = bytes.indexOf(Buffer.from(m)) + 512 + 100000;
      bytes[at] = (bytes[at] as number) ^ 0x01;
      writeFileSync(file, bytes);
      const img = await open({ kind: 'archive', path: file });
      await expectImageError(
        readLayer(img.layers[0] as LayerBlob),
        'digest-mismatch',
        new RegExp(
          `layer 0 uncompressed does not match the config's diff_id: expected ${expected.images.v1.layers[0].diffId}`,
        ),
      );
      await img.close();
    });

    it('truncated layer → size-mismatch when opened', async () => {
      const dir = layoutCopy();
      const w: ExpectedLayer = expected.images.v1.layers[0];
      truncateSync(layerBlobPath(dir, w.digest), 1000);
      await expectImageError(
        open({ kind: 'oci-layout', path: dir, reference: 'v1' }),
        'size-mismatch',
        new RegExp(`layer 0 \\(${w.digest}\\) is 1000 bytes; the manifest says ${w.size}`),
      );
    });

    it('truncated layer named consistently by its manifest → bad-compression (gzip and zstd)', async () => {
      const dir = layoutCopy();
      const gz = readFileSync(layerBlobPath(dir, expected.images.v1.layers[0].digest)).subarray(0, 300000);
      replaceLayer(dir, 'v1', 0, gz);
      const img = await open({ kind: 'oci-layout', path: dir, reference: 'v1' });
      await expectImageError(
        readLayer(img.layers[0] as LayerBlob),
        'bad-compression',
        /layer 0 .* is not valid gzip data: gzip: unexpected end of file/,
      );
      await img.close();
      const zs = readFileSync(layerBlobPath(dir, expected.images['v1-zstd'].layers[0].digest)).subarray(0, 300000);
      replaceLayer(dir, 'v1-zstd', 0, zs);
      const zimg = await open({ kind: 'oci-layout', path: dir, reference: 'v1-zstd' });
      await expectImageError(
        readLayer(zimg.layers[0] as LayerBlob),
        'bad-compression',
        /is not valid zstd data: zstd: the data ends inside a frame/,
      );
      await zimg.close();
    });

    it(
      'garbage labelled gzip or zstd → bad-compression; ' + 'hostile zstd headers are refused before decoding',
      async () => {
        const dir = layoutCopy();
        replaceLayer(dir, 'v1', 2, Buffer.from('this is not gzip at all'));
        const img = await open({ kind: 'oci-layout', path: dir, reference: 'v1' });
        await expectImageError(
          readLayer(img.layers[2] as LayerBlob),
          'bad-compression',
          /gzip: incorrect header check/,
        );
        await img.close();
        const cases: Array<[string, Buffer, RegExp]> = [
          [
            'a 2 TiB window',
            Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xf8, 0x01, 0x00, 0x00]),
            /window is 2199023255552 bytes; at most 134217728/,
          ],
          [
            'a dictionary',
            Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x01, 0x50, 0x07, 0x01, 0x00, 0x00]),
            /needs dictionary 7/,
          ],
          ['a reserved bit', Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x08, 0x50, 0x01, 0x00, 0x00]), /reserved bit/],
          [
            'a reserved block type',
            Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x50, 0x07, 0x00, 0x00]),
            /reserved block type/,
          ],
          ['not zstd', Buffer.from('hello world, not zstd'), /not a zstd frame/],
          ['empty', Buffer.alloc(0), /is empty/],
        ];
        for (const [what, bytes, pattern] of cases) {
          replaceLayer(dir, 'v1-zstd', 2, bytes);
          const z = await open({ kind: 'oci-layout', path: dir, reference: 'v1-zstd' });
          await expectImageError(readLayer(z.layers[2] as LayerBlob), 'bad-compression', pattern).catch((e) => {
            throw new Error(`${what}: ${e.message}`);
          });
          await z.close();
        }
      },
    );

    it('accepts concatenated gzip members and several zstd frames with a skippable frame', async () => {
      const dir = layoutCopy();
      const w: ExpectedLayer = expected.images.v1.layers[0];
      const tar = run('gzip', ['-dc', layerBlobPath(dir, w.digest)]).stdout;
      const parts = [tar.subarray(0, 700001), tar.subarray(700001, 1500000), tar.subarray(1500000)];
      const gz = Buffer.concat(parts.map((p) => run('gzip', ['-nc'], { input: p }).stdout));
      replaceLayer(dir, 'v1', 0, gz);
      const img = await open({ kind: 'oci-layout', path: dir, reference: 'v1' });
      assert.equal(sha256((await readLayer(img.layers[0] as LayerBlob)).bytes), w.diffId);
      await img.close();
      const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18, 5, 0, 0, 0]), Buffer.from('skip!')]);
      const zs = Buffer.concat([
        run('zstd', ['-qc', '-3'], { input: parts[0] }).stdout,
        skippable,
        run('zstd', ['-qc', '--no-check'], { input: parts[1] }).stdout,
        run('zstd', ['-qc', '-19'], { input: parts[2] }).stdout,
      ]);
      replaceLayer(dir, 'v1-zstd', 0, zs);
      const z = await open({ kind: 'oci-layout', path: dir, reference: 'v1-zstd' });
      const { bytes, largest } = await readLayer(z.layers[0] as LayerBlob);
      assert.equal(sha256(bytes), w.diffId);
      assert.ok(largest <= 128 * 1024, `zstd output comes one block at a time (largest ${largest})`);
      await z.close();
    });

    it('bounds the output of a highly compressible layer (a zstd bomb streams in blocks)', async () => {
      const dir = layoutCopy();
      const zeros = Buffer.alloc(64 * 1024 * 1024);
      const zs = run('zstd', ['-qc', '-19'], { input: zeros }).stdout;
      assert.ok(zs.length < 100000);
      replaceLayer(dir, 'v1-zstd', 2, zs);
      const img = await open({ kind: 'oci-layout', path: dir, reference: 'v1-zstd' });
      let total = 0;
      let largest = 0;
      const e = await expectImageError(
        (async () => {
          for await (const c of (img.layers[2] as LayerBlob).open()) {
            total += c.length;
            largest = Math.max(largest, c.length);
          }
        })(),
        'digest-mismatch',
        /layer 2 uncompressed does not match the config's diff_id/,
      );
      assert.ok(e);
      assert.equal(total, zeros.length);
      assert.ok(largest <= 128 * 1024, `largest chunk ${largest}`);
      await img.close();
    });

    it('bounds the output of a gzip bomb the same way', async () => {
      const dir = layoutCopy();
      const zeros = Buffer.alloc(64 * 1024 * 1024);
      replaceLayer(dir, 'v1', 2, gzipSync(zeros, { level: 9 }));
      const img = await open({ kind: 'oci-layout', path: dir, reference: 'v1' });
      let total = 0;
      let largest = 0;
      await expectImageError(
        (async () => {
          for await (const c of (img.layers[2] as LayerBlob).open()) {
            total += c.length;
            largest = Math.max(largest, c.length);
          }
        })(),
        'digest-mismatch',
        /layer 2 uncompressed does not match/,
      );
      assert.equal(total, zeros.length);
      assert.ok(largest <= 64 * 1024, `largest chunk ${largest}`);
      await img.close();
    });

    it('missing layer blob → missing-blob', async () => {
      const dir = layoutCopy();
      rmSync(layerBlobPath(dir, expected.images.v1.layers[1].digest));
      await expectImageError(
        open({ kind: 'oci-layout', path: dir, reference: 'v1' }),
        'missing-blob',
        new RegExp(`layer 1 \\(${expected.images.v1.layers[1].digest}\\) is not in the source`),
      );
    });

    it('manifest naming an absent config → missing-blob', async () => {
      const dir = layoutCopy();
      const absent = `sha256:${'e'.repeat(64)}`;
      rewriteManifest(dir, 'v1', (m) => {
        m.config.digest = absent;
      });
      await expectImageError(
        open({ kind: 'oci-layout', path: dir, reference: 'v1' }),
        'missing-blob',
        new RegExp(`config sha256:eeeeeeeeeeee… \\(${absent}\\) is not in the source`),
      );
    });

    it('a manifest blob that does not match its digest → digest-mismatch', async () => {
      const dir = layoutCopy();
      const file = layerBlobPath(dir, expected.images.v1.manifestDigest);
      const text = readFileSync(file, 'utf8');
      writeFileSync(file, text.replace('"schemaVersion":2', '"schemaVersion":3'));
      await expectImageError(
        open({ kind: 'oci-layout', path: dir, reference: 'v1' }),
        'digest-mismatch',
        new RegExp(`manifest sha256:.* does not match its digest: expected ${expected.images.v1.manifestDigest}`),
      );
    });

    it('index.json with a path-like digest → bad-digest, nothing read outside', async () => {
      const dir = layoutCopy();
      const index = readIndex(dir);
      (index.manifests[0] as { digest: string }).digest = 'sha256:../../../../etc/passwd';
      writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
      await expectImageError(
        open({ kind: 'oci-layout', path: dir, reference: 'v1' }),
        'bad-digest',
        /"sha256:..\/..\/..\/..\/etc\/passwd" is not "sha256:" followed by 64/,
      );
    });

    it('a blob that is a symlink out of the layout → missing-blob', async () => {
      const dir = layoutCopy();
      const outside = path.join(tmp.dir, `outside-${n}`);
      const cfg = layerBlobPath(dir, expected.images.v1.configDigest);
      cpSync(cfg, outside);
      rmSync(cfg);
      symlinkSync(outside, cfg);
      await expectImageError(
        open({ kind: 'oci-layout', path: dir, reference: 'v1' }),
        'missing-blob',
        /is a symlink that leads outside the layout/,
      );
    });

    it(
      'an unknown layer media type → unsupported-media-type; ' + 'a huge manifest size → bad-json before reading',
      async () => {
        const dir = layoutCopy();
        rewriteManifest(dir, 'v1', (m) => {
          const layer = m.layers[1];
          assert.ok(layer);
          layer.mediaType = 'application/vnd.oci.image.layer.v1.tar+lz4';
        });
        await expectImageError(
          open({ kind: 'oci-layout', path: dir, reference: 'v1' }),
          'unsupported-media-type',
          /layers\[1\]: the layer media type "application\/vnd.oci.image.layer.v1.tar\+lz4"/,
        );
        const index = readIndex(dir);
        (index.manifests[1] as { size: number }).size = 5 * 1024 * 1024;
        writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
        await expectImageError(
          open({ kind: 'oci-layout', path: dir, reference: 'entry-only' }),
          'bad-json',
          /5242880 bytes is larger than the 4194304 bytes accepted/,
        );
      },
    );

    it('a config whose diff_ids do not match the layers → bad-json', async () => {
      const dir = layoutCopy();
      rewriteManifest(dir, 'v1', (m) => {
        m.layers.pop();
      });
      await expectImageError(
        open({ kind: 'oci-layout', path: dir, reference: 'v1' }),
        'bad-json',
        /the config lists 3 diff_ids for 2 layers/,
      );
    });

    it('a bad oci-layout file or index.json', async () => {
      const dir = layoutCopy();
      writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
      await expectImageError(
        open({ kind: 'oci-layout', path: dir, reference: 'v1' }),
        'unknown-format',
        /imageLayoutVersion "2.0.0"; version 1.x.y is supported/,
      );
      writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
      writeFileSync(path.join(dir, 'index.json'), '{"schemaVersion":2,"manifests":"x"}');
      await expectImageError(
        open({ kind: 'oci-layout', path: dir, reference: 'v1' }),
        'bad-json',
        /index\.json: manifests must be an array/,
      );
    });
  });

  describe('docker save', () => {
    let bin: string;
    const fakeDocker = (name: string, body: string): string => {
      const file = path.join(bin, name);
      writeFileSync(file, `#!/bin/sh\n${body}\n`);
      chmodSync(file, 0o755);
      return file;
    };
    const exports = () => readdirSync(tmp.dir).filter((f) => f.startsWith('docker-save-'));

    before(() => {
      bin = path.join(tmp.dir, 'bin');
      mkdirSync(bin, { recursive: true });
    });

    it('adds :latest like nitro-cli, keeps tags and digests', () => {
      assert.equal(dockerReference('busybox'), 'busybox:latest');
      assert.equal(dockerReference('busybox:1.36'), 'busybox:1.36');
      assert.equal(dockerReference('registry:5000/app'), 'registry:5000/app:latest');
      assert.equal(dockerReference('registry:5000/app:v2'), 'registry:5000/app:v2');
      assert.equal(dockerReference(`app@sha256:${'a'.repeat(64)}`), `app@sha256:${'a'.repeat(64)}`);
    });

    it('opens what `docker save` wrote and removes it on close', async () => {
      const argsFile = path.join(tmp.dir, 'args.txt');
      const docker = fakeDocker(
        'docker-ok',
        `printf '%s\\n' "$@" > '${argsFile}'\n[ "$1" = save ] && [ ` +
          `"$2" = -o ] || exit 2\ncp '${FIX('docker-save.tar')}' "$3"`,
      );
      const lines: string[] = [];
      const img = await open(
        { kind: 'docker', uri: 'example.com/nitro/fixture:v1' },
        { dockerCommand: docker, log: (l) => lines.push(l) },
      );
      const args = readFileSync(argsFile, 'utf8').trim().split('\n');
      assert.equal(args.length, 4);
      assert.deepEqual([args[0], args[1], args[3]], ['save', '-o', 'example.com/nitro/fixture:v1']);
      assert.equal(path.dirname(args[2] as string), tmp.dir);
      assert.match(path.basename(args[2] as string), /^docker-save-[0-9a-f]{16}\.tar$/);
      assert.ok(existsSync(args[2] as string));
      assert.equal(img.kind, 'docker');
      assert.equal(img.reference, 'example.com/nitro/fixture:v1');
      assert.equal(img.description, 'Docker image "example.com/nitro/fixture:v1" (docker save)');
      assert.equal(img.configDigest, expected.images.v1.configDigest);
      assert.equal(sha256((await readLayer(img.layers[2] as LayerBlob)).bytes), expected.images.v1.layers[2].diffId);
      assert.ok(lines.some((l) => l.includes('save -o')));
      await img.close();
      assert.ok(!existsSync(args[2] as string), 'the export is removed');
      assert.deepEqual(exports(), []);
    });

    it('passes a tagless uri with :latest', async () => {
      const argsFile = path.join(tmp.dir, 'args2.txt');
      const docker = fakeDocker(
        'docker-args',
        `printf '%s\\n' "$@" > '${argsFile}'\necho 'Error response from daemon: reference does not exist' >&2\nexit 1`,
      );
      await expectImageError(
        open({ kind: 'docker', uri: 'fixture' }, { dockerCommand: docker }),
        'docker-failed',
        /save fixture:latest failed \(exit code 1\): Error response from daemon: reference does not exist$/,
      );
      assert.equal(readFileSync(argsFile, 'utf8').trim().split('\n')[3], 'fixture:latest');
      assert.deepEqual(exports(), []);
    });

    it('a failing docker save → docker-failed with its stderr (trimmed, bounded), partial export removed', async () => {
      const docker = fakeDocker(
        'docker-fail',
        `echo partial > "$3"\ni=0; while [ $i -lt 3000 ]; do echo "noise line $i" >&2; i=$((i+1)); done\necho '  Cannot connect to the Docker daemon at unix:///var/run/docker.sock.  ' >&2\nexit 1`,
      );
      const e = await expectImageError(
        open({ kind: 'docker', uri: 'busybox' }, { dockerCommand: docker }),
        'docker-failed',
        /Cannot connect to the Docker daemon at unix:\/\/\/var\/run\/docker\.sock\.$/,
      );
      assert.ok(e.message.length < 2300, `message length ${e.message.length}`);
      assert.deepEqual(exports(), []);
    });

    it('missing docker → docker-failed suggesting --oci-layout / --image-archive', async () => {
      await expectImageError(
        open({ kind: 'docker', uri: 'busybox' }, { dockerCommand: path.join(bin, 'no-such-docker') }),
        'docker-failed',
        /docker is not installed .*--oci-layout <dir> or --image-archive <file\.tar>/,
      );
    });

    it('cancellation kills docker save and removes the export', async () => {
      const docker = fakeDocker('docker-slow', `echo partial > "$3"\nexec sleep 30`);
      const { token, cancel } = cancellation();
      const started = Date.now();
      setTimeout(cancel, 200);
      let error: unknown;
      try {
        await open({ kind: 'docker', uri: 'busybox' }, { dockerCommand: docker, cancellation: token });
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof CancelledError, String(error));
      assert.ok(Date.now() - started < 10000);
      assert.deepEqual(exports(), []);
    });

    it('refuses references that would be options', async () => {
      await expectImageError(
        open({ kind: 'docker', uri: '--output=/etc/x' }),
        'docker-failed',
        /is not an image reference/,
      );
      await expectImageError(open({ kind: 'docker', uri: 'a b' }), 'docker-failed', /is not an image reference/);
    });
  });

  it('the uncompressed layers are tars the engine reader accepts', async () => {
    const img = await open({ kind: 'oci-layout', path: FIX('layout'), reference: 'v1-zstd' });
    const names: string[][] = [];
    for (const layer of img.layers) {
      const list: string[] = [];
      for await (const entry of readTar(layer.open())) list.push(entry.name);
      names.push(list);
    }
    assert.ok(names[1]?.includes('etc/.wh.motd'));
    assert.ok(names[2]?.includes('var/data/.wh..wh..opq'));
    assert.equal(
      names.flat().length,
      expected.images['v1-zstd'].layers.reduce((k: number, l: ExpectedLayer) => k + l.files.length, 0),
    );
    await img.close();
  });
});
