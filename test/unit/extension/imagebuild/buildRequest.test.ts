import * as assert from 'node:assert/strict';
import {
  blobsPrompt,
  buildOptionsOf,
  commandLineOf,
  imageSpecOf,
  normalizeRequest,
  substitute,
} from '../../../../src/extension/imagebuild/buildRequest';
import type { BlobsFolderStatus } from '../../../../src/engine/node/blobs';
import { splitArchiveReference, splitImageReference } from '../../../../src/engine/imagebuild/buildInfo';

describe('(unit) build requests of the extension (command argument, nitro-eif task)', () => {
  it('splits DIR:TAG like the CLI, leaving drive letters and paths alone', () => {
    assert.deepEqual(splitImageReference('/img/layout:v1'), { path: '/img/layout', reference: 'v1' });
    assert.deepEqual(splitImageReference('/img/layout'), { path: '/img/layout' });
    assert.deepEqual(splitImageReference('C:\\img'), { path: 'C:\\img' });
    assert.deepEqual(splitImageReference('/a:b/layout'), { path: '/a:b/layout' });
    assert.deepEqual(splitArchiveReference('/x/save.tar:example.com:5000/app:1'), {
      path: '/x/save.tar',
      reference: 'example.com:5000/app:1',
    });
    assert.deepEqual(splitArchiveReference('/x/save.tar'), { path: '/x/save.tar' });
  });

  it('substitutes ${workspaceFolder}, ${workspaceFolderBasename} and ${env:NAME}', () => {
    assert.equal(substitute('${workspaceFolder}/x', '/ws/proj', {}), '/ws/proj/x');
    assert.equal(substitute('${workspaceFolderBasename}.eif', '/ws/proj', {}), 'proj.eif');
    assert.equal(substitute('${env:BLOBS}/x', '/ws', { BLOBS: '/b' }), '/b/x');
    assert.throws(() => substitute('${workspaceFolder}', undefined, {}), /no workspace folder/);
  });

  it('resolves relative paths against the workspace folder and keeps the tag', () => {
    const r = normalizeRequest(
      { ociLayout: 'images/app:v2', output: 'out/app.eif', blobs: '${env:B}', arch: 'aarch64', buildTime: '0' },
      '/ws',
      { B: '/blobs' },
    );
    assert.deepEqual(r, {
      output: '/ws/out/app.eif',
      ociLayout: '/ws/images/app:v2',
      blobs: '/blobs',
      arch: 'aarch64',
      buildTime: '0',
    });
    assert.deepEqual(imageSpecOf(r), { kind: 'oci-layout', path: '/ws/images/app', reference: 'v2' });
    const options = buildOptionsOf(r, { env: {} });
    assert.deepEqual(options.buildTime, { seconds: 0, nanos: 0 });
    assert.equal(options.arch, 'aarch64');
    assert.deepEqual(imageSpecOf(normalizeRequest({ dockerUri: 'hello:v1', output: '/o.eif' }, undefined, {})), {
      kind: 'docker',
      uri: 'hello:v1',
    });
  });

  it('refuses requests that cannot run, saying why', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ output: 'a.eif' }, /one of "ociLayout", "imageArchive", "dockerUri" or "rootfs"/],
      [{ ociLayout: 'x', rootfs: 'r', output: 'a.eif' }, /only one of "ociLayout" and "rootfs"/],
      [{ rootfs: 'r', output: 'a.eif' }, /"rootfs" needs "cmd"/],
      [{ rootfs: 'r', cmd: '"/app/x', output: 'a.eif' }, /"cmd": The double quote at character 1 is not closed/],
      [
        { rootfs: 'r', cmd: '/app/x', env: ['NOEQUALS'], output: 'a.eif' },
        /"env" item 1 \("NOEQUALS"\) is not KEY=VALUE/,
      ],
      [{ rootfs: 'r', cmd: '/app/x', env: 'A=1', output: 'a.eif' }, /"env" is a list/],
      [{ ociLayout: 'x', cmd: '/app/x', output: 'a.eif' }, /"cmd" and "env" go with "rootfs" only/],
      [{ ociLayout: 'x', imageArchive: 'y', output: 'a.eif' }, /only one of "ociLayout" and "imageArchive"/],
      [{ ociLayout: 'x' }, /"output"/],
      [{ ociLayout: 'x', output: 'a.eif', privateKey: 'k.pem' }, /go together/],
      [{ ociLayout: 'x', output: 'a.eif', arch: 'arm64' }, /"x86_64" or "aarch64"/],
      [{ ociLayout: 'x', output: 'a.eif', buildTime: 'soon' }, /"buildTime"/],
    ];
    for (const [request, message] of cases)
      assert.throws(() => normalizeRequest(request as never, '/ws', {}), message, JSON.stringify(request));
    assert.throws(
      () => normalizeRequest({ ociLayout: 'x', output: 'a.eif' }, undefined, {}),
      /needs a workspace folder/,
    );
  });

  it('takes a rootfs folder with cmd and env: paths resolved, cmd split with the engine rules, env kept', () => {
    const r = normalizeRequest({ rootfs: 'rootfs', cmd: "/app/x 'a b'", env: ['A=1'], output: 'o.eif' }, '/ws', {});
    assert.equal(r.rootfs, '/ws/rootfs');
    assert.deepEqual(imageSpecOf(r), { kind: 'rootfs', path: '/ws/rootfs', cmd: ['/app/x', 'a b'], env: ['A=1'] });
    assert.equal(
      commandLineOf(r),
      "nitro-dev build-enclave --rootfs /ws/rootfs --cmd '/app/x '\\''a b'\\''' --env A=1 --output-file /ws/o.eif",
    );
  });

  it('prints the equivalent nitro-dev command line, quoted for a shell', () => {
    assert.equal(
      commandLineOf({ ociLayout: '/ws/my images/app:v1', output: '/ws/app.eif', blobs: '/b', buildTime: "it's" }),
      "nitro-dev build-enclave --oci-layout '/ws/my images/app:v1' " +
        "--output-file /ws/app.eif --blobs /b --build-time 'it'\\''s'",
    );
  });

  describe('the blobs step offers the default folder only where it holds the blobs', () => {
    const ALL_X86 = ['bzImage', 'cmdline', 'init', 'nsm.ko'];
    const ALL_ARM = ['Image', 'cmdline', 'init', 'nsm.ko'];
    const status = (exists: boolean, x86: string[], arm: string[]): BlobsFolderStatus => ({
      dir: '/usr/share/nitro_enclaves/blobs',
      exists,
      arches: {
        x86_64: { dir: '/usr/share/nitro_enclaves/blobs/x86_64', missing: x86 },
        aarch64: { dir: '/usr/share/nitro_enclaves/blobs/aarch64', missing: arm },
      },
    });

    it('a folder that does not exist: not offered; the prompt says so and offers to browse', () => {
      const p = blobsPrompt(status(false, ALL_X86, ALL_ARM));
      assert.deepEqual(
        p.items.map((i) => i.value),
        ['pick'],
      );
      assert.ok(!p.items.some((i) => i.label.includes('/usr/share/nitro_enclaves/blobs')));
      assert.equal(
        p.placeHolder,
        '/usr/share/nitro_enclaves/blobs/ does not exist on this machine (the ' +
          'aws-nitro-enclaves-cli package installs it): choose the folder with the blobs',
      );
    });

    it('a folder without a complete set of blobs: not offered; the prompt names what each architecture lacks', () => {
      const p = blobsPrompt(status(true, ['nsm.ko'], ['Image', 'nsm.ko']));
      assert.deepEqual(
        p.items.map((i) => i.value),
        ['pick'],
      );
      assert.equal(
        p.placeHolder,
        '/usr/share/nitro_enclaves/blobs/ does not hold the blobs (x86_64 lacks nsm.ko; ' +
          'aarch64 lacks Image, nsm.ko): choose the folder with them',
      );
    });

    it('a folder with the blobs of one architecture or both: offered first, with browsing', () => {
      const one = blobsPrompt(status(true, [], ALL_ARM));
      assert.deepEqual(
        one.items.map((i) => [i.value, i.label]),
        [
          ['default', '$(package) Use /usr/share/nitro_enclaves/blobs/'],
          ['pick', '$(folder-opened) Choose the blobs folder…'],
        ],
      );
      assert.match(one.items[0]?.description ?? '', /\(x86_64\)$/);
      assert.match(blobsPrompt(status(true, [], [])).items[0]?.description ?? '', /\(x86_64 and aarch64\)$/);
    });
  });
});
