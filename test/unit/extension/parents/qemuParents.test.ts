import * as assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CAPABILITIES, answersNsmFromParent, attachesApplications } from '../../../../src/engine';
import {
  BackendRegistry,
  createQemuBackend,
  qemuBackendWanted,
  qemuMissing,
  qemuStateDir,
  type NitroMachineChecker,
} from '../../../../src/engine/node';
import { qemuCacheLayout } from '../../../../src/engine/node/qemu/layout';
import {
  QemuParents,
  qemuSettingsFrom,
  rememberingMachineCheck,
  type QemuEngine,
} from '../../../../src/extension/parents/qemuParents';

function logRecorder() {
  const lines: string[] = [];
  return {
    lines,
    info: (m: string) => lines.push(`info ${m}`),
    warn: (m: string) => lines.push(`warn ${m}`),
    error: (m: string) => lines.push(`error ${m}`),
  };
}

describe('(unit) extension: the QEMU settings', () => {
  it('takes the mode and absolute paths, ~/ as the home folder, and drops the rest with a warning', () => {
    assert.deepEqual(qemuSettingsFrom({}, '/home/u'), { settings: { backend: 'auto' }, warnings: [] });
    const { settings, warnings } = qemuSettingsFrom(
      { backend: 'always', qemuPath: ' ~/q/qemu-system-x86_64 ', vhostDeviceVsockPath: '', cacheDir: '/c/../cache' },
      '/home/u',
    );
    assert.deepEqual(settings, { backend: 'always', qemuPath: '/home/u/q/qemu-system-x86_64', cacheDir: '/cache' });
    assert.deepEqual(warnings, []);
    const bad = qemuSettingsFrom({ backend: 'sometimes', qemuPath: 'bin/qemu', cacheDir: 3 }, '/home/u');
    assert.deepEqual(bad.settings, { backend: 'auto' });
    assert.equal(bad.warnings.length, 3);
    assert.match(bad.warnings[0] ?? '', /nitroEnclaves\.qemu\.backend: "sometimes" is not auto, always or never/);
    assert.match(bad.warnings[1] ?? '', /nitroEnclaves\.qemu\.qemuPath: bin\/qemu is not an absolute path/);
    assert.match(bad.warnings[2] ?? '', /nitroEnclaves\.qemu\.cacheDir: 3 is not a path/);
  });
});

describe('(unit) extension: the QEMU backend of the settings in the backend registry', function () {
  this.timeout(60_000);
  let dir: string;
  let env: Record<string, string>;
  let registry: BackendRegistry;
  let parents: QemuParents;
  let checks: string[];
  let log: ReturnType<typeof logRecorder>;

  const checkMachine: NitroMachineChecker = async (qemuPath) => {
    checks.push(qemuPath);
    return { nitroEnclave: true, version: '9.2.0' };
  };

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'qemu-parents-'));
    env = { NITRO_DEV_STATE_DIR: path.join(dir, 'state'), PATH: path.join(dir, 'empty-path') };
    registry = new BackendRegistry();
    checks = [];
    log = logRecorder();
    const engine: QemuEngine = {
      wanted: qemuBackendWanted,
      make: createQemuBackend,
      missing: qemuMissing,
      checkMachine,
    };
    parents = new QemuParents(registry, engine, { env, watch: false }, log);
  });

  afterEach(async () => {
    parents.dispose();
    registry.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const cache = () => path.join(dir, 'cache');

  /** Puts stand-ins for the tools and the parent VM's files where the settings point. */
  async function fillCache(): Promise<void> {
    const layout = qemuCacheLayout(cache());
    for (const [file, mode] of [
      [layout.qemu, 0o755],
      [layout.vhostDeviceVsock, 0o755],
      [layout.kernel, 0o644],
      [layout.relayInitrd, 0o644],
    ] as const) {
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, '#!/bin/sh\n', { mode });
    }
  }

  it('registers the backend with always, not with never, and with auto only once it has parents', async () => {
    if (process.platform !== 'linux') return; // qemuBackendWanted: the QEMU backend is Linux's
    parents.apply({ backend: 'never', cacheDir: cache() });
    assert.equal(registry.backends.length, 0);
    parents.apply({ backend: 'auto', cacheDir: cache() });
    assert.equal(registry.backends.length, 0, 'auto: no QEMU state yet');
    parents.apply({ backend: 'always', cacheDir: cache() });
    const [backend] = registry.backends;
    assert.ok(backend && backend === parents.backend);
    assert.equal(backend.kind, 'qemu');
    const listed = await registry.listParents();
    assert.deepEqual(
      listed.map((p) => [p.name, p.backend]),
      [['QEMU parent', 'qemu']],
    );
    assert.ok(existsSync(path.join(qemuStateDir(env), 'parents.json')), 'listing made the default parent');
    // The same settings again: nothing is made again.
    parents.apply({ backend: 'always', cacheDir: cache() });
    assert.equal(registry.backends[0], backend);
    // Changed settings: a new backend replaces the old one.
    parents.apply({ backend: 'auto', cacheDir: cache() });
    assert.equal(registry.backends.length, 1, 'auto now: the QEMU state has a parent');
    assert.notEqual(registry.backends[0], backend);
    parents.apply({ backend: 'never', cacheDir: cache() });
    assert.deepEqual(registry.backends, []);
  });

  it('says what the backend lacks, each with where it was looked for; nothing once it is all there', async () => {
    if (process.platform !== 'linux') return;
    parents.apply({ backend: 'always', cacheDir: cache() });
    const backend = parents.backend;
    assert.ok(backend);
    const missing = await parents.missing(backend);
    assert.deepEqual(
      missing?.map((m) => m.what),
      ['qemu-system-x86_64', 'vhost-device-vsock', "the parent VM's kernel", "the parent VM's relay initramfs"],
    );
    assert.match(missing?.[0]?.why ?? '', /no qemuPath setting, NITRO_DEV_QEMU is not set, .* does not exist/);
    assert.deepEqual(checks, [], 'no QEMU found: no machine check');
    await fillCache();
    assert.deepEqual(await parents.missing(backend), []);
    assert.deepEqual(await parents.missing(backend), []);
    assert.deepEqual(checks, [qemuCacheLayout(cache()).qemu], 'the machine check is remembered per binary');
    const stranger = createQemuBackend({ env, watch: false }, env);
    try {
      assert.equal(await parents.missing(stranger), undefined, 'only the registered QEMU backend is asked about');
    } finally {
      stranger.dispose();
    }
  });

  it('says so when the QEMU found has no nitro-enclave machine', async () => {
    if (process.platform !== 'linux') return;
    await fillCache();
    const engine: QemuEngine = {
      wanted: qemuBackendWanted,
      make: createQemuBackend,
      missing: qemuMissing,
      checkMachine: async (qemuPath) => ({
        nitroEnclave: false,
        version: '8.2.2',
        problem: `${qemuPath} (QEMU 8.2.2) has no nitro-enclave machine`,
      }),
    };
    const other = new QemuParents(registry, engine, { env, watch: false }, log);
    try {
      other.apply({ backend: 'always', cacheDir: cache() });
      const missing = await other.missing(other.backend!);
      assert.deepEqual(
        missing?.map((m) => m.what),
        ['the nitro-enclave machine'],
      );
      assert.match(missing?.[0]?.why ?? '', /\(QEMU 8\.2\.2\) has no nitro-enclave machine/);
    } finally {
      other.dispose();
    }
  });

  it('after setup, registers the backend with auto and makes its parent; leaves it off with never', async () => {
    if (process.platform !== 'linux') return;
    parents.apply({ backend: 'never', cacheDir: cache() });
    assert.equal(await parents.afterSetup(), undefined);
    assert.deepEqual(registry.backends, []);
    parents.apply({ backend: 'auto', cacheDir: cache() });
    assert.deepEqual(registry.backends, []);
    const made = await parents.afterSetup();
    assert.deepEqual(
      made?.map((p) => p.name),
      ['QEMU parent'],
    );
    assert.equal(registry.backends.length, 1);
    assert.ok(qemuBackendWanted({}, env), 'auto wants it from now on');
  });

  it('the QEMU backend neither answers its NSM from the parent nor attaches applications', () => {
    const backend = createQemuBackend({ env, watch: false }, env);
    try {
      assert.equal(answersNsmFromParent(backend), false);
      assert.equal(attachesApplications(backend), false);
      assert.equal(CAPABILITIES.parentNsm, answersNsmFromParent);
    } finally {
      backend.dispose();
    }
  });

  it('remembers machine checks per binary, and asks again when the binary changes', async () => {
    const file = path.join(dir, 'qemu');
    await fs.writeFile(file, 'one', { mode: 0o755 });
    const asked: string[] = [];
    const check = rememberingMachineCheck(async (p) => {
      asked.push(p);
      return { nitroEnclave: true, version: undefined };
    });
    await check(file, undefined);
    await check(file, undefined);
    assert.equal(asked.length, 1);
    await fs.writeFile(file, 'a longer binary');
    await check(file, undefined);
    assert.equal(asked.length, 2);
  });
});
