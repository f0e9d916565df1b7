import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../../src/cli/cli';
import { COMMANDS } from '../../../src/cli/commands';
import { makeQemuCommand, type QemuStatusJson } from '../../../src/cli/qemuCommands';
import type { CliIo } from '../../../src/cli/types';
import { qemuCacheLayout, type QemuCacheLayout } from '../../../src/engine/node/qemu/layout';
import { PREREQUISITES, fakeRunner, write } from '../engine/node/qemu/fakeSetupRunner';

function capture(env: Record<string, string | undefined>, cwd: string) {
  const out = { stdout: '', stderr: '' };
  const io: CliIo = {
    stdout: (t) => void (out.stdout += t),
    stderr: (t) => void (out.stderr += t),
    env,
    cwd,
  };
  return { out, io };
}

const FAKE_QEMU = `#!/bin/sh
case "$*" in
  *--version*) echo "QEMU emulator version 10.0.13"; exit 0;;
  *"-M help"*) echo "Supported machines are:"; echo "nitro-enclave        AWS Nitro Enclave"; exit 0;;
  *"-accel tcg"*) printf K; exec sleep 1000;;
  *"-accel kvm"*) echo "KVM internal error. Suberror: 1" >&2; exit 1;;
esac
exit 9
`;

describe('(unit) nitro-dev qemu', function () {
  this.timeout(90_000);
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'qemu-cli-test-'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('is listed in the command table and in --help', async () => {
    assert.ok(COMMANDS.some((c) => c.name === 'qemu'));
    const { out, io } = capture({}, dir);
    assert.equal(await runCli(['--help'], io), 0);
    assert.match(out.stdout, /\n {2}qemu +The QEMU backend: `qemu setup/);
  });

  it('status --json: each tool, the machine check and the accelerator; exit 0 when all is usable', async () => {
    const cache = path.join(dir, 'cache');
    const layout = qemuCacheLayout(cache);
    await write(layout.qemu, FAKE_QEMU, 0o755);
    await write(layout.vhostDeviceVsock, '#!/bin/sh\n', 0o755);
    await fs.mkdir(layout.firmwareDir, { recursive: true });
    await write(
      layout.manifest,
      // A kernel an earlier setup built with another recipe.
      JSON.stringify({
        setupVersion: 1,
        date: '2026-12-07T00:00:00.000Z',
        steps: { kernel: { recipe: 'v0 an earlier kernel config' } },
        lastRun: [],
      }),
    );
    const { out, io } = capture({ PATH: '/nonexistent' }, dir);
    assert.equal(await runCli(['qemu', 'status', '--cache', 'cache', '--json'], io), 0, out.stderr);
    const status = JSON.parse(out.stdout) as QemuStatusJson;
    assert.deepEqual(Object.keys(status), [
      'cacheDir',
      'qemu',
      'vhostDeviceVsock',
      'firmwareDir',
      'kernel',
      'nitroEnclave',
      'accelerator',
      'setup',
      'outdated',
      'usable',
    ]);
    assert.equal(status.cacheDir, cache);
    assert.deepEqual(status.qemu, { path: layout.qemu, source: 'cache', missing: null });
    assert.deepEqual(status.vhostDeviceVsock, { path: layout.vhostDeviceVsock, source: 'cache', missing: null });
    assert.equal(status.firmwareDir, layout.firmwareDir);
    assert.equal(status.kernel, layout.kernel);
    assert.deepEqual(status.nitroEnclave, { available: true, qemuVersion: '10.0.13', problem: null });
    assert.equal(status.accelerator?.name, 'tcg');
    assert.match(String(status.accelerator?.reason), /KVM internal error|\/dev\/kvm/);
    assert.deepEqual(status.setup, { date: '2026-12-07T00:00:00.000Z' });
    assert.deepEqual(status.outdated, ['the test kernel from linux-source-6.12']);
    assert.equal(status.usable, true, 'an outdated tool is a warning, not a failure');

    // The text form.
    const text = capture({ PATH: '/nonexistent' }, dir);
    assert.equal(await runCli(['qemu', 'status', '--cache', cache], text.io), 0);
    assert.match(text.out.stdout, /^Cache folder: .* \(set up 2026-12-07T00:00:00\.000Z\)\n/);
    assert.match(text.out.stdout, /\n\[ ok \] nitro-enclave machine: available \(QEMU 10\.0\.13\)\n/);
    assert.match(text.out.stdout, /\n\[ ok \] accelerator: TCG \(.+\)\n/);
    assert.match(
      text.out.stdout,
      /\n\[warn\] the test kernel from linux-source-6\.12: made by an earlier setup; `nitro-dev qemu setup` makes it again\n$/,
    );
  });

  it('status: what is missing, exit 1; no QEMU means no machine check or probe', async () => {
    const { out, io } = capture({ PATH: '/nonexistent', NITRO_DEV_QEMU_CACHE: path.join(dir, 'empty') }, dir);
    assert.equal(await runCli(['qemu', 'status', '--json'], io), 1);
    const status = JSON.parse(out.stdout) as QemuStatusJson;
    assert.equal(status.qemu.path, null);
    assert.match(String(status.qemu.missing), /Run `nitro-dev qemu setup`/);
    assert.equal(status.nitroEnclave, null);
    assert.equal(status.accelerator, null);
    assert.equal(status.usable, false);
    const text = capture({ PATH: '/nonexistent', NITRO_DEV_QEMU_CACHE: path.join(dir, 'empty') }, dir);
    assert.equal(await runCli(['qemu', 'status'], text.io), 1);
    assert.match(text.out.stdout, /\[FAIL\] qemu-system-x86_64: QEMU \(qemu-system-x86_64\) was not found: /);
    assert.match(text.out.stdout, /\[FAIL\] vhost-device-vsock: vhost-device-vsock was not found: /);
  });

  it('usage errors exit 2 with the usage', async () => {
    for (const argv of [
      ['qemu'],
      ['qemu', 'frob'],
      ['qemu', 'status', '--jobs', '2'],
      ['qemu', 'setup', '--jobs', '0'],
      ['qemu', 'setup', '--jobs', 'x'],
      ['qemu', 'setup', '--json'],
    ]) {
      const { out, io } = capture({}, dir);
      assert.equal(await runCli(argv, io), 2, argv.join(' '));
      assert.match(out.stderr, /^error: /);
      assert.match(out.stderr, /Usage: nitro-dev qemu/);
    }
  });

  it('setup: progress and log on stderr, a summary on stdout, the guest hook called; again: up to date', async () => {
    const bin = path.join(dir, 'fakebin');
    for (const p of PREREQUISITES) await write(path.join(bin, p), '#!/bin/sh\nexit 0\n', 0o755);
    const hooked: QemuCacheLayout[] = [];
    const host = {
      platform: 'linux' as const,
      isRoot: true,
      debianSourcesFile: path.join(dir, 'none'),
      sourcesListFile: path.join(dir, 'none'),
      includeDirs: [],
    };
    const command = makeQemuCommand({
      runner: fakeRunner().runner,
      host,
      afterKernel: async (layout, log) => {
        hooked.push(layout);
        log('guest programs: fake');
      },
    });
    const state = path.join(dir, 'state');
    const { out, io } = capture({ PATH: bin, NITRO_DEV_STATE_DIR: state }, dir);
    assert.equal(await runCli(['qemu', 'setup', '--cache', 'c', '--jobs', '2'], io, [command]), 0, out.stderr);
    // The QEMU backend's parent now exists in the state folder, so the backend shows up by itself.
    const parents = JSON.parse(await fs.readFile(path.join(state, 'qemu', 'parents.json'), 'utf8')) as {
      parents: { id: string; name: string }[];
    };
    assert.deepEqual(
      parents.parents.map((p) => p.name),
      ['QEMU parent'],
    );
    assert.match(out.stdout, new RegExp(`\\nQEMU parent instance: ${parents.parents[0]?.id} \\("QEMU parent"\\)`));
    const cache = path.join(dir, 'c');
    assert.match(out.stderr, /^nitro-dev qemu setup: cache folder .*\/c, 2 job\(s\)\n/);
    for (const line of [
      'Checking prerequisites',
      'Downloading packages',
      'Building QEMU',
      'Building QEMU 100%',
      'Building the kernel',
      'guest programs: fake',
    ])
      assert.ok(out.stderr.split('\n').includes(line), `${line}\n${out.stderr}`);
    assert.match(out.stdout, new RegExp(`^QEMU tools ready in ${cache} \\(\\S+ s; 8 step\\(s\\) done\\)\\n`));
    assert.match(out.stdout, /\n {2}qemu-system-x86_64 {3}\S+\/c\/bin\/qemu-system-x86_64\n/);
    assert.deepEqual(
      hooked.map((l) => l.root),
      [cache],
    );

    const again = capture({ PATH: bin }, dir);
    const quiet = makeQemuCommand({ runner: fakeRunner().runner, host });
    assert.equal(await runCli(['qemu', 'setup', '--cache', 'c'], again.io, [quiet]), 0, again.out.stderr);
    assert.match(again.out.stdout, /everything was up to date/);
  });

  it('setup on a machine without apt-get: nitro-dev: error: ... the README section, exit 1', async () => {
    const { out, io } = capture({ PATH: path.join(dir, 'nothing') }, dir);
    assert.equal(await runCli(['qemu', 'setup', '--cache', path.join(dir, 'c')], io), 1);
    assert.match(
      out.stderr,
      /\nnitro-dev: error: apt-get, dpkg, dpkg-deb not found in PATH\. .*README section "QEMU backend: setup on other Linux distributions"/,
    );
  });
});
