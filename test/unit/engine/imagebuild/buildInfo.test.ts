import * as assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  BuildInputError,
  buildMetadata,
  defaultImageName,
  dockerInfo,
  formatBuildTime,
  imageReferenceOf,
  kernelConfigInfo,
  parseBuildTime,
  parseCustomMetadata,
  sortKeysDeep,
} from '../../../../src/engine/imagebuild/buildInfo';
import { encodeMetadata, parseMetadata } from '../../../../src/engine/eif/metadata';
import { BlobsError, DEFAULT_BLOBS_DIR, blobsFolderStatus, locateBlobs } from '../../../../src/engine/node/blobs';
import type { ResolvedImage } from '../../../../src/engine/oci/model';
import { VERSION } from '../../../../src/engine/version';
import { repoPath } from '../../repo';
import { tempDir } from '../ramdisk/helpers';

function image(overrides: Partial<ResolvedImage> = {}): ResolvedImage {
  return {
    kind: 'oci-layout',
    description: 'OCI layout test',
    manifestDigest: `sha256:${'1'.repeat(64)}`,
    configDigest: `sha256:${'ab'.repeat(32)}`,
    platform: { os: 'linux', architecture: 'amd64' },
    config: {
      architecture: 'amd64',
      os: 'linux',
      cmd: ['/bin/hello.sh'],
      entrypoint: null,
      env: ['PATH=/bin'],
      labels: {},
      created: '2024-01-02T03:04:05Z',
      diffIds: [`sha256:${'2'.repeat(64)}`],
      raw: {
        architecture: 'amd64',
        os: 'linux',
        created: '2024-01-02T03:04:05Z',
        author: 'someone',
        config: { Env: ['PATH=/bin'], Cmd: ['/bin/hello.sh'], Labels: { z: '1', a: '2' } },
        rootfs: { type: 'layers', diff_ids: [`sha256:${'2'.repeat(64)}`] },
      },
    },
    layers: [],
    repoTags: [],
    close: async () => undefined,
    ...overrides,
  };
}

describe('build metadata', () => {
  describe('build time', () => {
    it('prints chrono to_rfc3339 forms: no fraction, millis, micros or nanos, always +00:00', () => {
      assert.equal(formatBuildTime({ seconds: 0, nanos: 0 }), '1970-01-01T00:00:00+00:00');
      assert.equal(formatBuildTime({ seconds: 1720545398, nanos: 424202433 }), '2024-07-09T17:16:38.424202433+00:00');
      assert.equal(formatBuildTime({ seconds: 1720545398, nanos: 424000000 }), '2024-07-09T17:16:38.424+00:00');
      assert.equal(formatBuildTime({ seconds: 1720545398, nanos: 424202000 }), '2024-07-09T17:16:38.424202+00:00');
      assert.equal(formatBuildTime({ seconds: 1720545398, nanos: 1 }), '2024-07-09T17:16:38.000000001+00:00');
    });

    it('parses RFC 3339 with offsets and fractions, and SOURCE_DATE_EPOCH seconds', () => {
      assert.deepEqual(parseBuildTime('2024-07-09T17:16:38.424202433+00:00'), {
        seconds: 1720545398,
        nanos: 424202433,
      });
      assert.deepEqual(parseBuildTime('2024-07-09T19:16:38+02:00'), { seconds: 1720545398, nanos: 0 });
      assert.deepEqual(parseBuildTime('2024-07-09T12:46:38.5-04:30'), { seconds: 1720545398, nanos: 500000000 });
      assert.deepEqual(parseBuildTime('1720545398'), { seconds: 1720545398, nanos: 0 });
      assert.equal(formatBuildTime(parseBuildTime('2024-07-09T17:16:38Z')), '2024-07-09T17:16:38+00:00');
    });

    it('refuses what is not a time, with the flag named', () => {
      for (const bad of [
        'yesterday',
        '2024-13-01T00:00:00Z',
        '2024-02-30T00:00:00Z',
        '2024-07-09T25:00:00Z',
        '2024-07-09T17:16:38',
        '1969-12-31T23:59:59Z',
        '-5',
      ]) {
        assert.throws(
          () => parseBuildTime(bad),
          (e: unknown) => e instanceof BuildInputError && e.message.includes('--build-time'),
          bad,
        );
      }
      assert.throws(() => parseBuildTime('x', 'SOURCE_DATE_EPOCH'), /SOURCE_DATE_EPOCH/);
    });
  });

  it('reads OperatingSystem and KernelVersion from line 3 of the kernel config, Unknown when missing', () => {
    const config =
      '#\n# Automatically generated file; DO NOT EDIT.\n# Linux/x86_64 ' +
      '4.14.256-209.484.amzn2.x86_64 Kernel Configuration\n';
    assert.deepEqual(kernelConfigInfo(config), { OperatingSystem: 'Linux', KernelVersion: '4.14.256' });
    assert.deepEqual(kernelConfigInfo('#\n#\n# Linux\n'), { OperatingSystem: 'Linux', KernelVersion: 'Unknown' });
    assert.deepEqual(kernelConfigInfo(undefined), { OperatingSystem: 'Unknown', KernelVersion: 'Unknown' });
  });

  it('names the image after its reference up to the first colon, as nitro-cli does (P18)', () => {
    assert.equal(
      defaultImageName('public.ecr.aws/aws-nitro-enclaves/hello:v1'),
      'public.ecr.aws/aws-nitro-enclaves/hello',
    );
    assert.equal(defaultImageName('localhost:5000/app:1'), 'localhost');
    assert.equal(defaultImageName('hello'), 'hello');
  });

  it('sorts DockerInfo keys at every depth and leaves out what the image does not say', () => {
    assert.deepEqual(
      JSON.stringify(sortKeysDeep({ b: 1, a: { d: [{ z: 1, y: 2 }], c: undefined } })),
      '{"a":{"d":[{"y":2,"z":1}]},"b":1}',
    );
    const info = dockerInfo(image({ repoTags: ['hello:v1'] })) as Record<string, unknown>;
    assert.deepEqual(Object.keys(info), [
      'Architecture',
      'Author',
      'Config',
      'Created',
      'Id',
      'Os',
      'RepoTags',
      'RootFS',
    ]);
    assert.equal(info['Id'], `sha256:${'ab'.repeat(32)}`);
    assert.deepEqual(Object.keys(info['Config'] as object), ['Cmd', 'Env', 'Labels']);
    assert.deepEqual(Object.keys((info['Config'] as Record<string, object>)['Labels'] as object), ['a', 'z']);
    assert.deepEqual(info['RootFS'], { Layers: [`sha256:${'2'.repeat(64)}`], Type: 'layers' });
  });

  it('builds a metadata section nitro-cli reads back, with our tool name and the image ID as version', () => {
    const m = buildMetadata({
      image: image({ reference: 'hello:v1' }),
      reference: 'hello:v1',
      fallbackName: 'dir',
      buildTime: { seconds: 0, nanos: 0 },
      kernelConfig: '#\n#\n# Linux/x86_64 4.14.256-209 Kernel Configuration\n',
      customMetadata: { team: 'x' },
    });
    assert.equal(m.ImageName, 'hello');
    assert.equal(m.ImageVersion, 'ab'.repeat(32));
    assert.deepEqual(m.BuildMetadata, {
      BuildTime: '1970-01-01T00:00:00+00:00',
      BuildTool: 'nitro-dev',
      BuildToolVersion: VERSION,
      OperatingSystem: 'Linux',
      KernelVersion: '4.14.256',
    });
    const bytes = encodeMetadata(m);
    assert.deepEqual(parseMetadata(bytes), m);
    assert.match(Buffer.from(bytes).toString(), /^\{"ImageName":"hello","ImageVersion":"a/);
    const named = buildMetadata({
      image: image(),
      name: 'n',
      version: 'v',
      fallbackName: 'dir',
      buildTime: { seconds: 0, nanos: 0 },
    });
    assert.equal(named.ImageName, 'n');
    assert.equal(named.ImageVersion, 'v');
    assert.equal(named.CustomMetadata, null);
    assert.equal(
      buildMetadata({ image: image(), fallbackName: 'dir', buildTime: { seconds: 0, nanos: 0 } }).ImageName,
      'dir',
    );
    assert.equal(
      buildMetadata({
        image: image(),
        reference: 'repo/app:2',
        fallbackName: 'dir',
        buildTime: { seconds: 0, nanos: 0 },
      }).ImageName,
      'repo/app',
    );
    assert.equal(imageReferenceOf(image({ reference: 'v1' })), undefined, 'a bare tag names no image');
    assert.equal(imageReferenceOf(image({ reference: 'v1', repoTags: ['example.com/app:1'] })), 'example.com/app:1');
    assert.equal(imageReferenceOf(image({ reference: 'reg.io/app:2' })), 'reg.io/app:2');
    assert.equal(imageReferenceOf(image(), 'hello'), 'hello');
  });

  it('takes --metadata as JSON of at most 4096 bytes', () => {
    assert.deepEqual(parseCustomMetadata(Buffer.from('{"a":[1,2]}'), 'm.json'), { a: [1, 2] });
    assert.equal(parseCustomMetadata(Buffer.from('null'), 'm.json'), null);
    assert.throws(() => parseCustomMetadata(Buffer.from('{'), 'm.json'), /m\.json is not valid JSON/);
    assert.throws(() => parseCustomMetadata(Buffer.alloc(4097, 0x20), 'm.json'), /4097 bytes; at most 4096/);
    assert.throws(() => parseCustomMetadata(Buffer.from([0x22, 0xff, 0x22]), 'm.json'), /not valid JSON/);
    // Nothing is built that describe-eif would refuse: metadata deeper than 128 levels is refused here too.
    assert.throws(
      () => parseCustomMetadata(Buffer.from('['.repeat(2000) + ']'.repeat(2000)), 'm.json'),
      /m\.json nests arrays and objects more than 128 levels deep/,
    );
    assert.deepEqual(
      parseCustomMetadata(Buffer.from('['.repeat(128) + ']'.repeat(128)), 'm.json'),
      JSON.parse('['.repeat(128) + ']'.repeat(128)),
    );
  });
});

describe('blobs lookup', () => {
  const fixtures = repoPath('test', 'fixtures', 'blobs');

  it('takes --blobs first, with a per-architecture sub-folder', async () => {
    const b = await locateBlobs('x86_64', fixtures, { NITRO_CLI_BLOBS: '/nowhere' });
    assert.equal(b.origin, 'flag');
    assert.equal(b.dir, path.join(fixtures, 'x86_64'));
    assert.equal(path.basename(b.kernel), 'bzImage');
    assert.equal(path.basename(b.kernelConfig ?? ''), 'bzImage.config');
    const a = await locateBlobs('aarch64', fixtures, {});
    assert.equal(path.basename(a.kernel), 'Image');
  });

  it('takes NITRO_CLI_BLOBS when there is no --blobs, and a flat directory', async () => {
    const b = await locateBlobs('x86_64', undefined, { NITRO_CLI_BLOBS: path.join(fixtures, 'x86_64') });
    assert.equal(b.origin, 'env');
    assert.equal(b.dir, path.join(fixtures, 'x86_64'));
  });

  it(
    'lists every file it looked for, with its full path ' + 'and whether it is there, and where the folder came from',
    async () => {
      const t = tempDir('blobs');
      try {
        const x86 = path.join(t.dir, 'x86_64');
        mkdirSync(x86);
        for (const f of ['bzImage', 'cmdline', 'init']) writeFileSync(path.join(x86, f), 'x');
        await assert.rejects(locateBlobs('x86_64', t.dir, { NITRO_CLI_BLOBS: '/elsewhere' }), (e: unknown) => {
          assert.ok(e instanceof BlobsError);
          const lines = e.message.split('\n');
          assert.match(
            lines[0] as string,
            /^1 of the 4 x86_64 blobs are missing\. The blobs folder is .* \(from --blobs; NITRO_CLI_BLOBS=\/elsewhere is not used since --blobs was given\); the files were looked for in its x86_64 sub-folder .*x86_64:$/,
          );
          assert.deepEqual(lines.slice(1, 6), [
            `  ${path.join(x86, 'bzImage')}: found`,
            `  ${path.join(x86, 'cmdline')}: found`,
            `  ${path.join(x86, 'init')}: found`,
            `  ${path.join(x86, 'nsm.ko')}: missing`,
            `  ${path.join(x86, 'bzImage.config')}: missing (optional: read for the metadata only)`,
          ]);
          assert.ok(!/used: /.test(e.message), 'no path repeated as "used"');
          return true;
        });
        // A flat folder (no aarch64/ sub-folder): the files are looked for in the folder itself.
        const flat = path.join(t.dir, 'flat');
        mkdirSync(flat);
        await assert.rejects(locateBlobs('aarch64', undefined, { NITRO_CLI_BLOBS: flat }), (e: unknown) => {
          assert.ok(e instanceof BlobsError);
          assert.match(
            e.message,
            /^4 of the 4 aarch64 blobs are missing\. The blobs folder is .*flat \(from NITRO_CLI_BLOBS, as --blobs was not given\); the files were looked for in .*flat itself \(it has no aarch64\/ sub-folder\):\n/,
          );
          assert.ok(e.message.includes(`  ${path.join(flat, 'Image')}: missing\n`));
          assert.ok(e.message.includes(`  ${path.join(flat, 'nsm.ko')}: missing\n`));
          return true;
        });
        const none = path.join(t.dir, 'none');
        await assert.rejects(locateBlobs('aarch64', none, {}), (e: unknown) => {
          assert.ok(e instanceof BlobsError);
          assert.equal(
            e.message,
            `the blobs folder ${none} (from --blobs) does not exist. An aarch64 build reads Image, ` +
              `cmdline, init, nsm.ko (and optionally Image.config) from ` +
              `${path.join(none, 'aarch64')}/ or, without that sub-folder, from ${none}/. ` +
              `Give the folder with --blobs DIR or NITRO_CLI_BLOBS, ` +
              `or install the aws-nitro-enclaves-cli package, which puts the files in ${DEFAULT_BLOBS_DIR}.`,
          );
          return true;
        });
      } finally {
        t.cleanup();
      }
    },
  );

  it('blobsFolderStatus says whether a folder exists and which files each architecture lacks', async () => {
    const t = tempDir('blobs-status');
    try {
      const none = await blobsFolderStatus(path.join(t.dir, 'none'));
      assert.equal(none.exists, false);
      assert.deepEqual(none.arches.x86_64.missing, ['bzImage', 'cmdline', 'init', 'nsm.ko']);
      const full = await blobsFolderStatus(fixtures);
      assert.equal(full.exists, true);
      assert.deepEqual([full.arches.x86_64.missing, full.arches.aarch64.missing], [[], []]);
      assert.equal(full.arches.aarch64.dir, path.join(fixtures, 'aarch64'));
      for (const f of ['bzImage', 'init']) writeFileSync(path.join(t.dir, f), 'x');
      const part = await blobsFolderStatus(t.dir);
      assert.deepEqual(
        [part.exists, part.arches.x86_64.dir, part.arches.x86_64.missing],
        [true, t.dir, ['cmdline', 'nsm.ko']],
      );
      assert.deepEqual(part.arches.aarch64.missing, ['Image', 'cmdline', 'nsm.ko']);
    } finally {
      t.cleanup();
    }
  });
});
