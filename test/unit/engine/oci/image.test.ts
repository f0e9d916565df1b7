// The image JSON parsers and choices (src/engine/oci/image.ts): the documents of the fixtures
// made by umoci and skopeo (test/fixtures/oci, see its README), then hostile documents written
// here: wrong types, huge sizes and counts, malformed and path-like digests, index loops.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  MAX_JSON_SIZE,
  MAX_LAYERS,
  checkConfigPlatform,
  checkJsonSize,
  documentKind,
  formatPlatform,
  isDigest,
  layerCompression,
  normalizeReference,
  parseDigest,
  parseDockerManifest,
  parseImageConfig,
  parseIndex,
  parseJsonBytes,
  parseManifest,
  resolveIndex,
  sameReference,
  selectByReference,
  selectDockerEntry,
  selectManifest,
  shortDigest,
  type Descriptor,
  type ImageIndex,
} from '../../../../src/engine/oci/image';
import { ImageSourceError, type ImageSourceErrorCode } from '../../../../src/engine/oci/model';
import { repoPath } from '../../repo';

const FIX = (...p: string[]) => repoPath('test', 'fixtures', 'oci', ...p);
const expected = JSON.parse(readFileSync(FIX('expected.json'), 'utf8'));
const blob = (digest: string): Buffer => readFileSync(FIX('layout', 'blobs', 'sha256', digest.slice('sha256:'.length)));
const blobJson = (digest: string): unknown => JSON.parse(blob(digest).toString('utf8'));
const utf8 = (s: string) => new TextEncoder().encode(s);

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;
const D3 = `sha256:${'c'.repeat(64)}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const GZIP_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

function expectError(fn: () => unknown, code: ImageSourceErrorCode, pattern?: RegExp): ImageSourceError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ImageSourceError, `expected ImageSourceError ${code}, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  if (pattern) assert.match(error.message, pattern);
  return error;
}

async function expectRejection(
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
  assert.ok(error instanceof ImageSourceError, `expected ImageSourceError ${code}, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  if (pattern) assert.match(error.message, pattern);
  return error;
}

const manifestDoc = (over: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: OCI_MANIFEST,
  config: { mediaType: OCI_CONFIG, digest: D1, size: 100 },
  layers: [{ mediaType: GZIP_LAYER, digest: D2, size: 200 }],
  ...over,
});

const desc = (
  digest: string,
  platform?: { architecture: string; os: string; variant?: string },
  extra: Record<string, unknown> = {},
) => ({
  mediaType: OCI_MANIFEST,
  digest,
  size: 500,
  ...(platform ? { platform } : {}),
  ...extra,
});

describe('OCI image documents', () => {
  describe('digests', () => {
    it('accepts sha256 and sha512 in lower-case hex', () => {
      assert.deepEqual(parseDigest(D1, 'x'), { algorithm: 'sha256', hex: 'a'.repeat(64) });
      assert.deepEqual(parseDigest(`sha512:${'0'.repeat(128)}`, 'x'), { algorithm: 'sha512', hex: '0'.repeat(128) });
      assert.equal(isDigest(D1), true);
    });

    const badDigests: Array<[string, unknown]> = [
      ['upper-case hex', `sha256:${'A'.repeat(64)}`],
      ['63 digits', `sha256:${'a'.repeat(63)}`],
      ['65 digits', `sha256:${'a'.repeat(65)}`],
      ['a path', 'sha256:../../x'],
      ['a path of the right length', `sha256:../../${'a'.repeat(58)}`],
      ['a slash inside', `sha256:${'a'.repeat(32)}/${'a'.repeat(31)}`],
      ['no algorithm', 'a'.repeat(64)],
      ['an unknown algorithm', `md5:${'a'.repeat(32)}`],
      ['sha512 with 64 digits', `sha512:${'a'.repeat(64)}`],
      ['a trailing newline', `${D1}\n`],
      ['a number', 12],
      ['null', null],
      ['an object', { digest: D1 }],
      ['empty', ''],
    ];
    for (const [what, d] of badDigests) {
      it(`rejects ${what} with bad-digest`, () => {
        expectError(() => parseDigest(d, 'the test'), 'bad-digest', /the test: the digest/);
        assert.equal(isDigest(d), false);
      });
    }

    it('names the algorithm it cannot check', () => {
      expectError(
        () => parseDigest(`sha384:${'a'.repeat(96)}`, 'x'),
        'bad-digest',
        /algorithm this builder cannot check/,
      );
    });

    it('shortens digests for messages', () => {
      assert.equal(shortDigest(D1), 'sha256:aaaaaaaaaaaa…');
    });
  });

  describe('JSON documents', () => {
    it('refuses documents above 4 MiB before reading them', () => {
      checkJsonSize(MAX_JSON_SIZE, 'x');
      expectError(
        () => checkJsonSize(MAX_JSON_SIZE + 1, 'index.json'),
        'bad-json',
        /index\.json: 4194305 bytes is larger than the 4194304 bytes accepted/,
      );
      expectError(() => checkJsonSize(Number.MAX_SAFE_INTEGER + 2, 'x'), 'bad-json', /not a byte count/);
      expectError(() => checkJsonSize(-1, 'x'), 'bad-json');
      const big = new Uint8Array(MAX_JSON_SIZE + 1).fill(0x20);
      expectError(() => parseJsonBytes(big, 'big'), 'bad-json', /larger than/);
    });

    it('rejects invalid UTF-8 and invalid JSON', () => {
      expectError(
        () => parseJsonBytes(new Uint8Array([0x7b, 0xff, 0x7d]), 'doc'),
        'bad-json',
        /doc: is not valid UTF-8/,
      );
      expectError(() => parseJsonBytes(utf8('{"a":'), 'doc'), 'bad-json', /doc: is not valid JSON/);
      assert.deepEqual(parseJsonBytes(utf8('{"a":[1]}'), 'doc'), { a: [1] });
    });

    it('survives deeply nested JSON', () => {
      const deep = utf8('['.repeat(100000) + ']'.repeat(100000));
      let result: unknown;
      try {
        result = parseIndex(parseJsonBytes(deep, 'deep'), 'deep');
      } catch (e) {
        result = e;
      }
      assert.ok(result instanceof ImageSourceError, String(result));
      assert.equal(result.code, 'bad-json');
    });

    it(
      'refuses JSON nested more than 128 levels before parsing ' + 'it (a config deep inside would overflow the build)',
      () => {
        const config = (depth: number) =>
          utf8(`{"architecture":"amd64","os":"linux","config":{"Labels":${'['.repeat(depth)}${']'.repeat(depth)}}}`);
        expectError(
          () => parseJsonBytes(config(5000), 'config'),
          'bad-json',
          /config: nests arrays and objects more than 128 levels deep .*at most 128 levels/,
        );
        expectError(() => parseJsonBytes(config(127), 'config'), 'bad-json', /more than 128 levels/);
        assert.ok(parseJsonBytes(config(126), 'config'));
        assert.ok(parseJsonBytes(utf8(`{"s":"${'{'.repeat(1000)}"}`), 'doc'), 'brackets in strings do not count');
      },
    );
  });

  describe('the fixtures', () => {
    it('parses the layout index.json and the multi-platform index', () => {
      const top = parseIndex(JSON.parse(readFileSync(FIX('layout', 'index.json'), 'utf8')), 'index.json');
      assert.deepEqual(
        top.manifests.map((d) => [d.annotations['org.opencontainers.image.ref.name'], d.digest, d.mediaType]),
        expected.layout.refs.map((r: { ref: string; digest: string; mediaType: string }) => [
          r.ref,
          r.digest,
          r.mediaType,
        ]),
      );
      const multi = parseIndex(blobJson(expected.layout.multi.digest), 'multi');
      assert.equal(multi.mediaType, OCI_INDEX);
      assert.deepEqual(
        multi.manifests.map((d) => (d.platform ? formatPlatform(d.platform) : '-')),
        ['linux/amd64', 'linux/arm64/v8', 'unknown/unknown'],
      );
      assert.equal(documentKind(blobJson(expected.layout.multi.digest), 'multi'), 'index');
    });

    for (const tag of ['v1', 'entry-only', 'v1-zstd', 'v1-arm64']) {
      it(`parses the ${tag} manifest and config as the tools wrote them`, () => {
        const img = expected.images[tag];
        const m = parseManifest(blobJson(img.manifestDigest), tag);
        assert.equal(m.config.digest, img.configDigest);
        assert.deepEqual(
          m.layers.map((l) => [l.digest, l.mediaType, l.size, layerCompression(l.mediaType, 'x')]),
          img.layers.map((l: { digest: string; mediaType: string; size: number; compression: string }) => [
            l.digest,
            l.mediaType,
            l.size,
            l.compression,
          ]),
        );
        assert.equal(documentKind(blobJson(img.manifestDigest), tag), 'manifest');
        const c = parseImageConfig(blobJson(img.configDigest), tag);
        const raw = img.config;
        assert.equal(c.architecture, raw.architecture);
        assert.equal(c.os, 'linux');
        assert.deepEqual(c.cmd, raw.config.Cmd ?? null);
        assert.deepEqual(c.entrypoint, raw.config.Entrypoint ?? null);
        assert.deepEqual(c.env, ['PATH=/usr/bin:/bin', 'GREETING=hello']);
        assert.deepEqual(c.labels, { 'org.example.fixture': 'v1', 'org.example.layers': '3' });
        assert.equal(c.workingDir, '/app');
        assert.equal(c.user, '1000:1000');
        assert.equal(c.created, expected.created);
        assert.deepEqual(
          c.diffIds,
          img.layers.map((l: { diffId: string }) => l.diffId),
        );
        assert.deepEqual(c.raw, raw);
        // The config digest is the sha256 of the blob (the image ID).
        assert.equal(`sha256:${createHash('sha256').update(blob(img.configDigest)).digest('hex')}`, img.configDigest);
      });
    }

    it('maps Cmd and Entrypoint: v1 has both, entry-only has no Cmd (null)', () => {
      const v1 = parseImageConfig(expected.images.v1.config, 'v1');
      assert.deepEqual(v1.cmd, ['/app/run.sh']);
      assert.deepEqual(v1.entrypoint, ['/bin/sh', '-c']);
      const eo = parseImageConfig(expected.images['entry-only'].config, 'entry-only');
      assert.equal(eo.cmd, null);
      assert.deepEqual(eo.entrypoint, ['/bin/busybox', 'echo']);
    });

    it('parses the manifest.json skopeo wrote for docker-archive', () => {
      const entries = parseDockerManifest(expected.dockerArchive.manifest, 'manifest.json');
      assert.equal(entries.length, 1);
      assert.deepEqual(entries[0]?.repoTags, ['example.com/nitro/fixture:v1']);
      assert.equal(entries[0]?.layers.length, 3);
      assert.equal(entries[0]?.config, expected.dockerArchive.manifest[0].Config);
      assert.equal(selectDockerEntry(entries, undefined, 'a'), entries[0]);
      assert.equal(selectDockerEntry(entries, 'example.com/nitro/fixture:v1', 'a'), entries[0]);
      expectError(
        () => selectDockerEntry(entries, 'example.com/nitro/fixture:v2', 'the archive'),
        'no-such-tag',
        /no image tagged "example.com\/nitro\/fixture:v2"; it has "example.com\/nitro\/fixture:v1"/,
      );
    });
  });

  describe('hostile indexes and manifests', () => {
    const cases: Array<[string, unknown, ImageSourceErrorCode, RegExp]> = [
      ['not an object', [], 'bad-json', /the document must be a JSON object, not an array/],
      [
        'schemaVersion 1',
        { schemaVersion: 1, manifests: [] },
        'bad-json',
        /schemaVersion must be 2.*schema 1 is not supported/,
      ],
      ['schemaVersion "2"', { schemaVersion: '2', manifests: [] }, 'bad-json', /schemaVersion must be 2/],
      ['manifests absent', { schemaVersion: 2 }, 'bad-json', /manifests must be an array, not absent/],
      ['manifests an object', { schemaVersion: 2, manifests: {} }, 'bad-json', /manifests must be an array/],
      [
        'a manifest media type',
        { schemaVersion: 2, mediaType: OCI_MANIFEST, manifests: [] },
        'bad-json',
        /is not an image index/,
      ],
      [
        'size negative',
        { schemaVersion: 2, manifests: [{ ...desc(D1), size: -1 }] },
        'bad-json',
        /manifests\[0\]\.size must be a non-negative integer/,
      ],
      ['size fractional', { schemaVersion: 2, manifests: [{ ...desc(D1), size: 1.5 }] }, 'bad-json', /size must be/],
      ['size huge', { schemaVersion: 2, manifests: [{ ...desc(D1), size: 1e300 }] }, 'bad-json', /below 2\^53/],
      ['size a string', { schemaVersion: 2, manifests: [{ ...desc(D1), size: '500' }] }, 'bad-json', /size must be/],
      [
        'digest a path',
        { schemaVersion: 2, manifests: [{ ...desc(D1), digest: 'sha256:../../x' }] },
        'bad-digest',
        /manifests\[0\]\.digest: the digest "sha256:..\/..\/x"/,
      ],
      [
        'digest absent',
        { schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, size: 1 }] },
        'bad-digest',
        /absent|undefined/,
      ],
      [
        'mediaType a number',
        { schemaVersion: 2, manifests: [{ ...desc(D1), mediaType: 7 }] },
        'bad-json',
        /mediaType must be a string/,
      ],
      [
        'mediaType not a type',
        { schemaVersion: 2, manifests: [{ ...desc(D1), mediaType: '../../etc' }] },
        'bad-json',
        /is not a media type/,
      ],
      [
        'annotation not a string',
        { schemaVersion: 2, manifests: [{ ...desc(D1), annotations: { a: 1 } }] },
        'bad-json',
        /annotations\["a"\] must be a string/,
      ],
      [
        'platform without os',
        { schemaVersion: 2, manifests: [{ ...desc(D1), platform: { architecture: 'amd64' } }] },
        'bad-json',
        /platform\.os must be a string, not absent/,
      ],
      [
        'platform a string',
        { schemaVersion: 2, manifests: [{ ...desc(D1), platform: 'linux/amd64' }] },
        'bad-json',
        /platform must be a JSON object/,
      ],
    ];
    for (const [what, doc, code, pattern] of cases) {
      it(`index: ${what} → ${code}`, () => {
        expectError(() => parseIndex(doc, 'idx'), code, pattern);
      });
    }

    it('index: too many entries', () => {
      const manifests = new Array(10001).fill(desc(D1));
      expectError(
        () => parseIndex({ schemaVersion: 2, manifests }, 'idx'),
        'bad-json',
        /lists 10001 manifests; at most 10000/,
      );
    });

    it('keeps a "__proto__" annotation as data', () => {
      const idx = parseIndex(
        JSON.parse(
          `{"schemaVersion":2,"manifests":[{"mediaType":"${OCI_MANIFEST}","digest":"${D1}","size":1,` +
            `"annotations":{"__proto__":"x","org.opencontainers.image.ref.name":"t"}}]}`,
        ),
        'idx',
      );
      const a = idx.manifests[0]?.annotations as Record<string, string>;
      assert.equal(Object.getPrototypeOf(a), Object.prototype);
      assert.equal(Object.getOwnPropertyDescriptor(a, '__proto__')?.value, 'x');
    });

    const manifestCases: Array<[string, unknown, ImageSourceErrorCode, RegExp]> = [
      ['an index', { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }, 'bad-json', /is an image index/],
      ['an index without mediaType', { schemaVersion: 2, manifests: [] }, 'bad-json', /is an image index/],
      [
        'config absent',
        { ...manifestDoc(), config: undefined },
        'bad-json',
        /config must be a JSON object, not absent/,
      ],
      [
        'config of an artifact',
        manifestDoc({ config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: D1, size: 1 } }),
        'unsupported-media-type',
        /not a container image configuration/,
      ],
      ['layers absent', { ...manifestDoc(), layers: undefined }, 'bad-json', /layers must be an array, not absent/],
      [
        'a foreign layer type',
        manifestDoc({ layers: [{ mediaType: 'application/vnd.example.layer.v1.squashfs', digest: D2, size: 1 }] }),
        'unsupported-media-type',
        /layers\[0\]: the layer media type "application\/vnd.example.layer.v1.squashfs"/,
      ],
      [
        'a layer digest path',
        manifestDoc({ layers: [{ mediaType: GZIP_LAYER, digest: 'sha256:../../../etc/passwd', size: 1 }] }),
        'bad-digest',
        /layers\[0\]\.digest/,
      ],
      [
        'a config digest in upper case',
        manifestDoc({ config: { mediaType: OCI_CONFIG, digest: D1.toUpperCase(), size: 1 } }),
        'bad-digest',
        /config\.digest/,
      ],
      ['a docker schema 1 manifest', { schemaVersion: 1, name: 'x', fsLayers: [] }, 'bad-json', /schema 1/],
    ];
    for (const [what, doc, code, pattern] of manifestCases) {
      it(`manifest: ${what} → ${code}`, () => {
        expectError(() => parseManifest(doc, 'man'), code, pattern);
      });
    }

    it(`manifest: more than ${MAX_LAYERS} layers`, () => {
      const layers = new Array(MAX_LAYERS + 1).fill({ mediaType: GZIP_LAYER, digest: D2, size: 1 });
      expectError(() => parseManifest(manifestDoc({ layers }), 'man'), 'bad-json', /lists 1001 layers; at most 1000/);
      assert.equal(parseManifest(manifestDoc({ layers: layers.slice(1) }), 'man').layers.length, MAX_LAYERS);
    });

    it('knows every layer media type of OCI and Docker v2 schema 2', () => {
      const types: Array<[string, string]> = [
        ['application/vnd.oci.image.layer.v1.tar', 'none'],
        ['application/vnd.oci.image.layer.v1.tar+gzip', 'gzip'],
        ['application/vnd.oci.image.layer.v1.tar+zstd', 'zstd'],
        ['application/vnd.oci.image.layer.nondistributable.v1.tar', 'none'],
        ['application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'gzip'],
        ['application/vnd.oci.image.layer.nondistributable.v1.tar+zstd', 'zstd'],
        ['application/vnd.docker.image.rootfs.diff.tar.gzip', 'gzip'],
        ['application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', 'gzip'],
      ];
      for (const [t, c] of types) assert.equal(layerCompression(t, 'x'), c, t);
      expectError(
        () => layerCompression('application/vnd.oci.image.layer.v1.tar+bzip2', 'x'),
        'unsupported-media-type',
      );
      expectError(() => layerCompression('application/vnd.in-toto+json', 'x'), 'unsupported-media-type');
      // A Docker v2 schema 2 manifest parses like an OCI one.
      const m = parseManifest(
        {
          schemaVersion: 2,
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: D1, size: 10 },
          layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: D2, size: 20 }],
        },
        'docker',
      );
      assert.equal(m.layers[0]?.size, 20);
    });
  });

  describe('hostile configs', () => {
    const base = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [D1] } };
    it('maps absent and null fields', () => {
      const c = parseImageConfig(base, 'c');
      assert.equal(c.cmd, null);
      assert.equal(c.entrypoint, null);
      assert.deepEqual(c.env, []);
      assert.deepEqual(c.labels, {});
      assert.equal(c.workingDir, undefined);
      assert.equal(c.user, undefined);
      assert.equal(c.created, undefined);
      assert.deepEqual(c.diffIds, [D1]);
      const n = parseImageConfig(
        { ...base, config: { Cmd: null, Entrypoint: null, Env: null, Labels: null, WorkingDir: '', User: '' } },
        'c',
      );
      assert.equal(n.cmd, null);
      assert.equal(n.entrypoint, null);
      assert.deepEqual(n.env, []);
      assert.deepEqual(n.labels, {});
      const e = parseImageConfig({ ...base, config: { Cmd: [], Entrypoint: ['/x'] }, variant: 'v8' }, 'c');
      assert.deepEqual(e.cmd, []);
      assert.equal(e.variant, 'v8');
    });

    const cases: Array<[string, unknown, ImageSourceErrorCode, RegExp]> = [
      ['no architecture', { os: 'linux' }, 'bad-json', /architecture must be a string, not absent/],
      ['os a number', { architecture: 'amd64', os: 1 }, 'bad-json', /os must be a string/],
      ['Cmd a string', { ...base, config: { Cmd: '/bin/sh' } }, 'bad-json', /config\.Cmd must be an array of strings/],
      [
        'Entrypoint with a number',
        { ...base, config: { Entrypoint: ['/bin/sh', 1] } },
        'bad-json',
        /config\.Entrypoint\[1\] must be a string/,
      ],
      ['Env an object', { ...base, config: { Env: { A: 'b' } } }, 'bad-json', /config\.Env must be an array/],
      [
        'Labels with a number',
        { ...base, config: { Labels: { a: 1 } } },
        'bad-json',
        /config\.Labels\["a"\] must be a string/,
      ],
      ['config an array', { ...base, config: [] }, 'bad-json', /config must be a JSON object/],
      [
        'rootfs.type wrong',
        { ...base, rootfs: { type: 'squash', diff_ids: [] } },
        'bad-json',
        /rootfs\.type must be "layers"/,
      ],
      [
        'a bad diff_id',
        { ...base, rootfs: { type: 'layers', diff_ids: ['sha256:../x'] } },
        'bad-digest',
        /rootfs\.diff_ids\[0\]/,
      ],
      [
        'too many diff_ids',
        { ...base, rootfs: { type: 'layers', diff_ids: new Array(MAX_LAYERS + 1).fill(D1) } },
        'bad-json',
        /at most 1000/,
      ],
    ];
    for (const [what, doc, code, pattern] of cases) {
      it(`${what} → ${code}`, () => {
        expectError(() => parseImageConfig(doc, 'cfg'), code, pattern);
      });
    }
  });

  describe('docker save manifest.json', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['an object', { Config: 'a.json' }, /must be an array of images/],
      ['empty', [], /lists no images/],
      ['Config absent', [{ Layers: [] }], /\[0\]\.Config must be a string, not absent/],
      ['Layers a string', [{ Config: 'a.json', Layers: 'x.tar' }], /\[0\]\.Layers must be an array/],
      [
        'RepoTags with null',
        [{ Config: 'a.json', RepoTags: [null], Layers: [] }],
        /\[0\]\.RepoTags\[0\] must be a string/,
      ],
      ['LayerSources with a bad key', [{ Config: 'a.json', Layers: [], LayerSources: { x: {} } }], /LayerSources key/],
    ];
    for (const [what, doc, pattern] of cases) {
      it(`${what} → bad-json/bad-digest`, () => {
        let error: unknown;
        try {
          parseDockerManifest(doc, 'manifest.json');
        } catch (e) {
          error = e;
        }
        assert.ok(error instanceof ImageSourceError);
        assert.ok(error.code === 'bad-json' || error.code === 'bad-digest', error.code);
        assert.match(error.message, pattern);
      });
    }

    it('chooses by RepoTags, normalising Docker Hub names', () => {
      const entries = parseDockerManifest(
        [
          { Config: 'a.json', RepoTags: ['busybox:latest'], Layers: [] },
          { Config: 'b.json', RepoTags: ['me/app:1', 'me/app:stable'], Layers: [] },
          { Config: 'c.json', RepoTags: null, Layers: [] },
        ],
        'm',
      );
      assert.equal(selectDockerEntry(entries, 'docker.io/library/busybox:latest', 'a').config, 'a.json');
      assert.equal(selectDockerEntry(entries, 'busybox', 'a').config, 'a.json');
      assert.equal(selectDockerEntry(entries, 'docker.io/me/app:stable', 'a').config, 'b.json');
      expectError(
        () => selectDockerEntry(entries, undefined, 'the archive'),
        'no-such-tag',
        /holds 3 images and no tag was given; it has "busybox:latest", "me\/app:1", "me\/app:stable"/,
      );
    });
  });

  describe('references', () => {
    it('normalises Docker references', () => {
      const cases: Array<[string, string | undefined]> = [
        ['busybox', 'docker.io/library/busybox:latest'],
        ['busybox:1.36', 'docker.io/library/busybox:1.36'],
        ['library/busybox:1.36', 'docker.io/library/busybox:1.36'],
        ['docker.io/busybox', 'docker.io/library/busybox:latest'],
        ['index.docker.io/me/app:v1', 'docker.io/me/app:v1'],
        ['me/app', 'docker.io/me/app:latest'],
        ['localhost/app', 'localhost/app:latest'],
        ['registry:5000/team/app', 'registry:5000/team/app:latest'],
        ['registry.example.com/app:v2', 'registry.example.com/app:v2'],
        [`app@${D1}`, `docker.io/library/app@${D1}`],
        ['', undefined],
        ['has space', undefined],
      ];
      for (const [ref, want] of cases) assert.equal(normalizeReference(ref), want, ref);
      assert.ok(sameReference('busybox', 'docker.io/library/busybox:latest'));
      assert.ok(!sameReference('busybox:1', 'busybox:2'));
    });

    const index: ImageIndex = parseIndex(
      {
        schemaVersion: 2,
        manifests: [
          desc(D1, undefined, {
            annotations: {
              'org.opencontainers.image.ref.name': 'v1',
              'io.containerd.image.name': 'docker.io/library/app:v1',
            },
          }),
          desc(D1, undefined, { annotations: { 'org.opencontainers.image.ref.name': 'latest' } }),
          desc(D2, undefined, { annotations: { 'org.opencontainers.image.ref.name': 'v2' } }),
          { mediaType: OCI_INDEX, digest: D3, size: 10, annotations: { 'org.opencontainers.image.ref.name': 'multi' } },
          {
            mediaType: 'application/vnd.example.thing',
            digest: D3,
            size: 10,
            annotations: { 'org.opencontainers.image.ref.name': 'thing' },
          },
        ],
      },
      'idx',
    );

    it('selects layout entries by ref name and by the containerd image name', () => {
      assert.equal(selectByReference(index, 'v2', 'L').digest, D2);
      assert.equal(selectByReference(index, 'multi', 'L').digest, D3);
      assert.equal(selectByReference(index, 'docker.io/library/app:v1', 'L').digest, D1);
      assert.equal(selectByReference(index, 'app:v1', 'L').digest, D1);
    });

    it('lists the tags when the reference is missing or unknown', () => {
      expectError(
        () => selectByReference(index, undefined, 'OCI layout ./img'),
        'no-such-tag',
        /OCI layout \.\/img holds 3 images and no tag was given; it has "v1", "docker.io\/library\/app:v1", "latest", "v2", "multi"/,
      );
      expectError(() => selectByReference(index, 'v3', 'L'), 'no-such-tag', /L has no image tagged "v3"; it has "v1"/);
      expectError(() => selectByReference(index, 'thing', 'L'), 'no-such-tag');
    });

    it('takes the only image when no reference is given (even under two tags)', () => {
      const one = parseIndex(
        {
          schemaVersion: 2,
          manifests: [
            desc(D1, undefined, { annotations: { 'org.opencontainers.image.ref.name': 'a' } }),
            desc(D1, undefined, { annotations: { 'org.opencontainers.image.ref.name': 'b' } }),
          ],
        },
        'i',
      );
      assert.equal(selectByReference(one, undefined, 'L').digest, D1);
      expectError(
        () => selectByReference(parseIndex({ schemaVersion: 2, manifests: [] }, 'i'), undefined, 'L'),
        'no-such-tag',
        /lists no image manifests/,
      );
    });
  });

  describe('platform selection', () => {
    const multi = () => parseIndex(blobJson(expected.layout.multi.digest), 'multi');

    it('picks linux/amd64 and linux/arm64/v8 from the fixture index, skipping the attestation', () => {
      const amd = selectManifest(multi(), { architecture: 'amd64' });
      assert.equal(amd.descriptor.digest, expected.images.v1.manifestDigest);
      assert.equal(
        amd.platformNote,
        `picked linux/amd64 (${shortDigest(expected.images.v1.manifestDigest)}) from 3 manifests`,
      );
      const arm = selectManifest(multi(), { architecture: 'arm64' });
      assert.equal(arm.descriptor.digest, expected.images['v1-arm64'].manifestDigest);
      assert.equal(
        arm.platformNote,
        `picked linux/arm64/v8 (${expected.images['v1-arm64'].manifestDigest.slice(0, 19)}…) from 3 manifests`,
      );
      expectError(
        () => selectManifest(multi(), { architecture: 's390x' }),
        'no-matching-platform',
        /has no image for linux\/s390x; it has linux\/amd64, linux\/arm64\/v8, attestation/,
      );
    });

    it('matches os and variant', () => {
      const idx = parseIndex(
        {
          schemaVersion: 2,
          manifests: [
            desc(D1, { architecture: 'arm64', os: 'linux', variant: 'v7' }),
            desc(D2, { architecture: 'arm64', os: 'windows' }),
            desc(D3, { architecture: 'arm', os: 'linux', variant: 'v7' }),
          ],
        },
        'i',
      );
      expectError(
        () => selectManifest(idx, { architecture: 'arm64' }, 'the index'),
        'no-matching-platform',
        /the index has no image for linux\/arm64; it has linux\/arm64\/v7, windows\/arm64, linux\/arm\/v7/,
      );
      const plain = parseIndex(
        {
          schemaVersion: 2,
          manifests: [
            desc(D1, { architecture: 'arm64', os: 'linux', variant: 'v8' }),
            desc(D2, { architecture: 'arm64', os: 'linux' }),
          ],
        },
        'i',
      );
      // An entry without variant ranks like v8; the first of equal rank wins.
      assert.equal(selectManifest(plain, { architecture: 'arm64' }).descriptor.digest, D1);
      const amd = parseIndex(
        {
          schemaVersion: 2,
          manifests: [
            desc(D1, { architecture: 'amd64', os: 'linux', variant: 'v3' }),
            desc(D2, { architecture: 'amd64', os: 'linux' }),
          ],
        },
        'i',
      );
      assert.equal(selectManifest(amd, { architecture: 'amd64' }).descriptor.digest, D2);
    });

    it('skips attestation manifests by annotation even when they claim a platform', () => {
      const idx = parseIndex(
        {
          schemaVersion: 2,
          manifests: [
            desc(
              D1,
              { architecture: 'amd64', os: 'linux' },
              {
                annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': D2 },
              },
            ),
            desc(D2, { architecture: 'amd64', os: 'linux' }),
          ],
        },
        'i',
      );
      assert.equal(selectManifest(idx, { architecture: 'amd64' }).descriptor.digest, D2);
      const onlyAtt = parseIndex(
        { schemaVersion: 2, manifests: [desc(D1, { architecture: 'unknown', os: 'unknown' })] },
        'i',
      );
      expectError(
        () => selectManifest(onlyAtt, { architecture: 'amd64' }),
        'no-matching-platform',
        /it has attestation/,
      );
    });

    it('takes a lone manifest without platform (its config decides)', () => {
      const idx = parseIndex({ schemaVersion: 2, manifests: [desc(D1)] }, 'i');
      const c = selectManifest(idx, { architecture: 'arm64' });
      assert.equal(c.descriptor.digest, D1);
      assert.match(
        c.platformNote,
        /picked the only manifest \(sha256:aaaaaaaaaaaa…, no platform given\) from 1 manifest$/,
      );
      const two = parseIndex({ schemaVersion: 2, manifests: [desc(D1), desc(D2)] }, 'i');
      expectError(() => selectManifest(two, { architecture: 'amd64' }), 'no-matching-platform', /it has no platform/);
    });

    it('checks a config against the wanted platform', () => {
      const c = parseImageConfig({ architecture: 'arm64', os: 'linux', variant: 'v8' }, 'c');
      checkConfigPlatform(c, { architecture: 'arm64' }, 'cfg');
      expectError(
        () => checkConfigPlatform(c, { architecture: 'amd64' }, 'cfg'),
        'no-matching-platform',
        /cfg is an image for linux\/arm64\/v8, not linux\/amd64/,
      );
    });

    describe('nested indexes', () => {
      const nestedDesc = (digest: string, platform?: { architecture: string; os: string }) => ({
        mediaType: OCI_INDEX,
        digest,
        size: 100,
        ...(platform ? { platform } : {}),
      });
      const loaderOf = (docs: Record<string, unknown>) => {
        const loads: string[] = [];
        return {
          loads,
          load: async (d: Descriptor) => {
            loads.push(d.digest);
            const doc = docs[d.digest];
            if (!doc) throw new Error(`no ${d.digest}`);
            return parseIndex(doc, d.digest);
          },
        };
      };

      it('follows an index that points to an index', async () => {
        const top = parseIndex({ schemaVersion: 2, manifests: [nestedDesc(D2)] }, 'top');
        const { load, loads } = loaderOf({
          [D2]: {
            schemaVersion: 2,
            manifests: [
              desc(D3, { architecture: 'amd64', os: 'linux' }),
              desc(D1, { architecture: 'arm64', os: 'linux' }),
            ],
          },
        });
        const c = await resolveIndex(top, { architecture: 'arm64' }, load);
        assert.equal(c.descriptor.digest, D1);
        assert.deepEqual(loads, [D2]);
        assert.equal(
          c.platformNote,
          `followed the nested index ${shortDigest(D2)} from 1 manifest; ` +
            `picked linux/arm64 (${shortDigest(D1)}) from 2 manifests`,
        );
      });

      it('prefers a direct match over a nested index', async () => {
        const top = parseIndex(
          { schemaVersion: 2, manifests: [nestedDesc(D2), desc(D3, { architecture: 'amd64', os: 'linux' })] },
          'top',
        );
        const { load, loads } = loaderOf({});
        assert.equal((await resolveIndex(top, { architecture: 'amd64' }, load)).descriptor.digest, D3);
        assert.deepEqual(loads, []);
      });

      it('skips nested indexes for other platforms', async () => {
        const top = parseIndex(
          { schemaVersion: 2, manifests: [nestedDesc(D2, { architecture: 'ppc64le', os: 'linux' })] },
          'top',
        );
        await expectRejection(
          resolveIndex(top, { architecture: 'amd64' }, loaderOf({}).load),
          'no-matching-platform',
          /it has index sha256:bbbbbbbbbbbb…/,
        );
      });

      it('detects a loop', async () => {
        const top = parseIndex({ schemaVersion: 2, manifests: [nestedDesc(D1)] }, 'top');
        const { load, loads } = loaderOf({
          [D1]: { schemaVersion: 2, manifests: [nestedDesc(D2)] },
          [D2]: { schemaVersion: 2, manifests: [nestedDesc(D1)] },
        });
        await expectRejection(
          resolveIndex(top, { architecture: 'amd64' }, load, 'the index'),
          'bad-json',
          /the index: the nested index sha256:aaaaaaaaaaaa… appears twice on the way down \(an index loop\)/,
        );
        assert.deepEqual(loads, [D1, D2]);
      });

      it('detects an index that names itself', async () => {
        const self = { schemaVersion: 2, manifests: [nestedDesc(D1)] };
        await expectRejection(
          resolveIndex(parseIndex(self, 'x'), { architecture: 'amd64' }, loaderOf({ [D1]: self }).load, 'x', {
            digest: D1,
          }),
          'bad-json',
          /index loop/,
        );
      });

      it('stops at the depth limit', async () => {
        const digests = [1, 2, 3, 4, 5, 6].map((i) => `sha256:${String(i).repeat(64)}`);
        const docs: Record<string, unknown> = {};
        digests.forEach((d, i) => {
          docs[d] = {
            schemaVersion: 2,
            manifests: [
              i + 1 < digests.length
                ? nestedDesc(digests[i + 1] as string)
                : desc(D1, { architecture: 'amd64', os: 'linux' }),
            ],
          };
        });
        const top = parseIndex({ schemaVersion: 2, manifests: [nestedDesc(digests[0] as string)] }, 'top');
        await expectRejection(
          resolveIndex(top, { architecture: 'amd64' }, loaderOf(docs).load),
          'bad-json',
          /nested more than 4 levels deep/,
        );
        const ok = await resolveIndex(top, { architecture: 'amd64' }, loaderOf(docs).load, 'top', { maxDepth: 6 });
        assert.equal(ok.descriptor.digest, D1);
      });
    });
  });
});
