import * as assert from 'node:assert/strict';
import { findNodeHeaders, headerVersion } from '../../../scripts/vscode/nodeHeaders.mjs';

/** node_version.h as a Node release ships it (the parts that matter here). */
const versionHeader = (major: number, abi: number): string =>
  [
    `#define NODE_MAJOR_VERSION ${major}`,
    '#define NODE_MINOR_VERSION 20',
    '#define NODE_PATCH_VERSION 2',
    '#if defined(NODE_EMBEDDER_MODULE_VERSION)',
    '#define NODE_MODULE_VERSION NODE_EMBEDDER_MODULE_VERSION',
    '#else',
    `#define NODE_MODULE_VERSION ${abi}`,
    '#endif',
  ].join('\n');

/** A file system of the given files: readFile returns undefined for any other path. */
const fakeFs =
  (files: Record<string, string>) =>
  (file: string): string | undefined =>
    files[file];

/** Headers of one Node installed below `prefix`. */
const headersAt = (prefix: string, major: number, abi: number): Record<string, string> => ({
  [`${prefix}/include/node/node.h`]: '/* node.h */',
  [`${prefix}/include/node/node_version.h`]: versionHeader(major, abi),
});

const node20 = { version: 'v20.20.2', abi: '115' };

describe('(unit) scripts: the Node headers that code-server’s native modules compile against', () => {
  it('reads the major version and module ABI from node_version.h, not the embedder branch', () => {
    assert.deepEqual(headerVersion(versionHeader(20, 115)), { major: 20, abi: 115 });
    assert.equal(headerVersion('/* nothing */'), undefined);
  });

  it('takes /usr when the running Node is /usr/bin/node with Debian or NodeSource headers', () => {
    const found = findNodeHeaders({
      ...node20,
      execPath: '/usr/bin/node',
      readFile: fakeFs(headersAt('/usr', 20, 115)),
    });
    assert.deepEqual(found, { nodedir: '/usr' });
  });

  it('takes the headers beside the running Node (nodejs.org archive, nvm) before /usr', () => {
    const files = { ...headersAt('/usr', 20, 115), ...headersAt('/home/u/.nvm/versions/node/v20.20.2', 20, 115) };
    const found = findNodeHeaders({
      ...node20,
      execPath: '/home/u/.nvm/versions/node/v20.20.2/bin/node',
      readFile: fakeFs(files),
    });
    assert.deepEqual(found, { nodedir: '/home/u/.nvm/versions/node/v20.20.2' });
  });

  it('falls back to /usr/include/node when nothing is beside the running Node', () => {
    const found = findNodeHeaders({
      ...node20,
      execPath: '/opt/node/bin/node',
      readFile: fakeFs(headersAt('/usr', 20, 115)),
    });
    assert.deepEqual(found, { nodedir: '/usr' });
  });

  it('refuses headers of another Node (Debian 12 libnode-dev is Node 18) and says which', () => {
    const found = findNodeHeaders({
      ...node20,
      execPath: '/usr/local/bin/node',
      readFile: fakeFs(headersAt('/usr', 18, 108)),
    });
    assert.equal(found.nodedir, undefined);
    assert.match(found.error ?? '', /running Node v20\.20\.2 \(ABI 115\)/);
    assert.match(found.error ?? '', /neither \/usr\/local\/include\/node nor \/usr\/include\/node has them/);
    assert.match(found.error ?? '', /\/usr\/include\/node has Node 18's, ABI 108/);
  });

  it('refuses a node.h without a readable node_version.h', () => {
    const found = findNodeHeaders({
      ...node20,
      execPath: '/usr/bin/node',
      readFile: fakeFs({ '/usr/include/node/node.h': '' }),
    });
    assert.match(found.error ?? '', /\/usr\/include\/node has no readable node_version\.h/);
  });

  it('says in one sentence what is missing and how to get it when there are no headers', () => {
    const found = findNodeHeaders({ ...node20, execPath: '/usr/bin/node', readFile: fakeFs({}) });
    assert.equal(found.nodedir, undefined);
    const error = found.error ?? '';
    assert.match(error, /C headers of the running Node v20\.20\.2/);
    assert.match(error, /\/usr\/include\/node does not have them/);
    assert.match(error, /apt-get install libnode-dev/);
    assert.match(error, /<prefix>\/include\/node/);
    // One sentence: a single full stop at the end, no line breaks.
    assert.doesNotMatch(error, /\n/);
    assert.equal(error.match(/\.(\s|$)/g)?.length, 1, error);
  });

  it('finds the headers of the Node running this test, as the install will', function () {
    // On the project's machines Node comes with its headers (the README's requirement).
    const found = findNodeHeaders();
    assert.equal(found.error, undefined);
    assert.ok(found.nodedir);
  });
});
