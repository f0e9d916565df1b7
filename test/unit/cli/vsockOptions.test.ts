// Which parent's vsock folder a vsock command works in: emulated parents, and QEMU parents once
// the QEMU backend is registered.
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BackendError } from '../../../src/engine';
import { createBackendRegistry } from '../../../src/engine/node';
import { vsockDirOf } from '../../../src/engine/node/vsock/endpoints';
import { qemuStateDir } from '../../../src/engine/node/qemu/backend';
import { vsockFolderFor } from '../../../src/cli/vsockOptions';
import type { CliIo } from '../../../src/cli/types';

const io = (env: Record<string, string>): CliIo => ({
  stdout: () => undefined,
  stderr: () => undefined,
  env,
  cwd: process.cwd(),
});
const args = (parent?: string) => ({
  options: new Map<string, readonly string[] | true>(parent === undefined ? [] : [['parent', [parent]]]),
  positionals: [],
});

describe('(unit) vsock commands: the parent folder', function () {
  this.timeout(60_000);
  let state: string;
  beforeEach(() => {
    state = mkdtempSync(path.join(os.tmpdir(), 'vsopt-'));
  });
  afterEach(() => rmSync(state, { recursive: true, force: true }));

  it('finds emulated parents by id or name, the first by default, NITRO_VSOCK_DIR when inherited', async () => {
    const env = { NITRO_DEV_STATE_DIR: state };
    const registry = createBackendRegistry({ env, watch: false });
    let parent;
    try {
      [parent] = await registry.listParents();
    } finally {
      registry.dispose();
    }
    assert.ok(parent);
    const dir = vsockDirOf(state, parent.id, false);
    assert.deepEqual(await vsockFolderFor(io(env), args()), { dir, parentId: parent.id });
    assert.deepEqual(await vsockFolderFor(io(env), args(parent.name)), { dir, parentId: parent.id });
    assert.deepEqual(await vsockFolderFor(io({ ...env, NITRO_VSOCK_DIR: '/inherited' }), args()), {
      dir: '/inherited',
      parentId: undefined,
    });
    await assert.rejects(
      vsockFolderFor(io(env), args('nobody')),
      (e: unknown) =>
        e instanceof BackendError && e.code === 3 && /no emulated or QEMU parent instance 'nobody'/.test(e.message),
    );
  });

  it('finds a QEMU parent by name or id when the QEMU backend is registered', async function () {
    if (process.platform !== 'linux') this.skip();
    // Without the QEMU backend (no QEMU parents yet, not asked for) there is no such parent.
    await assert.rejects(
      vsockFolderFor(io({ NITRO_DEV_STATE_DIR: state }), args('QEMU parent')),
      (e: unknown) => e instanceof BackendError && /no emulated or QEMU parent instance 'QEMU parent'/.test(e.message),
    );
    const env = { NITRO_DEV_STATE_DIR: state, NITRO_DEV_QEMU_BACKEND: '1' };
    const registry = createBackendRegistry({ env, watch: false });
    let qemuParent;
    try {
      qemuParent = (await registry.listParents()).find((p) => p.backend === 'qemu');
    } finally {
      registry.dispose();
    }
    assert.ok(qemuParent);
    assert.equal(qemuParent.name, 'QEMU parent');
    const dir = vsockDirOf(qemuStateDir(env), qemuParent.id, false);
    assert.deepEqual(await vsockFolderFor(io(env), args('QEMU parent')), { dir, parentId: qemuParent.id });
    assert.deepEqual(await vsockFolderFor(io(env), args(qemuParent.id)), { dir, parentId: qemuParent.id });
  });
});
