// When the backend registry has the QEMU backend: auto (its state folder has parents), always,
// never, NITRO_DEV_QEMU_BACKEND=1; registered after the emulator.
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EmulatorBackend } from '../../../../../src/engine/node/emulator/backend';
import { QemuBackend, qemuStateDir } from '../../../../../src/engine/node/qemu/backend';
import { createBackendRegistry, qemuBackendWanted } from '../../../../../src/engine/node/registry';

describe('(unit) QEMU backend in the registry', () => {
  let state: string;
  let env: Record<string, string>;
  beforeEach(() => {
    state = mkdtempSync(path.join(os.tmpdir(), 'qreg-'));
    env = { NITRO_DEV_STATE_DIR: state };
  });
  afterEach(() => rmSync(state, { recursive: true, force: true }));

  const kinds = (options: Parameters<typeof createBackendRegistry>[0]) => {
    const registry = createBackendRegistry({ watch: false, ...options });
    try {
      assert.deepEqual(registry.unavailable, []);
      return registry.backends.map((b) => b.kind);
    } finally {
      registry.dispose();
    }
  };

  it('qemuStateDir is qemu in the emulator state folder', () => {
    assert.equal(qemuStateDir(env), path.join(path.resolve(state), 'qemu'));
  });

  if (process.platform !== 'linux') return;

  it('auto: only when <state>/qemu/parents.json exists', () => {
    assert.equal(qemuBackendWanted({}, env), false);
    assert.deepEqual(kinds({ env }), ['emulator']);
    mkdirSync(qemuStateDir(env), { recursive: true });
    assert.equal(qemuBackendWanted({}, env), false, 'an empty folder is not parents');
    writeFileSync(path.join(qemuStateDir(env), 'parents.json'), '{"version":1,"parents":[]}');
    assert.equal(qemuBackendWanted({}, env), true);
    assert.equal(qemuBackendWanted({ qemu: { enabled: 'auto' } }, env), true);
    assert.deepEqual(kinds({ env }), ['emulator', 'qemu']);
  });

  it("with a stateDir option, the QEMU state is that folder's qemu, not the environment's", () => {
    // The environment's state has QEMU parents; the registry asked for is of another state folder.
    mkdirSync(qemuStateDir(env), { recursive: true });
    writeFileSync(path.join(qemuStateDir(env), 'parents.json'), '{"version":1,"parents":[]}');
    const other = path.join(state, 'other');
    assert.equal(qemuBackendWanted({ stateDir: other }, env), false);
    assert.deepEqual(kinds({ env, stateDir: other }), ['emulator']);
    const registry = createBackendRegistry({ env, stateDir: other, watch: false, qemu: { enabled: 'always' } });
    try {
      const qemu = registry.backends[1];
      assert.ok(qemu instanceof QemuBackend);
      assert.equal(qemu.stateDir, path.join(path.resolve(other), 'qemu'));
    } finally {
      registry.dispose();
    }
  });

  it('always and NITRO_DEV_QEMU_BACKEND=1 register it; never does not, whatever the state', () => {
    assert.equal(qemuBackendWanted({ qemu: { enabled: 'always' } }, env), true);
    assert.equal(qemuBackendWanted({}, { ...env, NITRO_DEV_QEMU_BACKEND: '1' }), true);
    assert.equal(qemuBackendWanted({}, { ...env, NITRO_DEV_QEMU_BACKEND: '0' }), false);
    const registry = createBackendRegistry({ env: { ...env, NITRO_DEV_QEMU_BACKEND: '1' }, watch: false });
    try {
      const [emulator, qemu] = registry.backends;
      assert.ok(emulator instanceof EmulatorBackend);
      assert.ok(qemu instanceof QemuBackend);
      assert.equal(qemu.stateDir, qemuStateDir(env));
    } finally {
      registry.dispose();
    }
    mkdirSync(qemuStateDir(env), { recursive: true });
    writeFileSync(path.join(qemuStateDir(env), 'parents.json'), '{"version":1,"parents":[]}');
    assert.equal(qemuBackendWanted({ qemu: { enabled: 'never' } }, { ...env, NITRO_DEV_QEMU_BACKEND: '1' }), false);
    assert.deepEqual(kinds({ env, qemu: { enabled: 'never' } }), ['emulator']);
    assert.deepEqual(kinds({ env: { ...env, NITRO_DEV_QEMU_BACKEND: '1' }, qemu: { enabled: 'never' } }), ['emulator']);
  });
});
