import * as assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Emitter, CancelledError, type CancellationLike } from '../../../../../src/engine/platform/lifecycle';
import { PREREQUISITES, fakeRunner, write } from './fakeSetupRunner';
import type { ToolRunner } from '../../../../../src/engine/node/qemu/commandRunner';
import { qemuCacheLayout } from '../../../../../src/engine/node/qemu/layout';
import {
  BUILD_DEPENDENCIES_LINE,
  KERNEL_MIN_CONFIG,
  QEMU_CONFIGURE_FLAGS,
  QemuSetupError,
  SetupCommandError,
  VIRTIO_NSM_EDIT,
  debianMirrorOf,
  editVirtioNsm,
  outdatedSteps,
  packageOfFile,
  readSetupManifest,
  runQemuSetup,
  sha256File,
  type QemuSetupOptions,
  type SetupHost,
} from '../../../../../src/engine/node/qemu/setup';
import { repoPath } from '../../../repo';

describe('(unit) nitro-dev qemu setup (engine)', function () {
  this.timeout(60_000);
  let dir: string;
  let host: SetupHost;
  let lines: string[];

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'qemu-setup-test-'));
    const bin = path.join(dir, 'fakebin');
    for (const p of PREREQUISITES) await write(path.join(bin, p), '#!/bin/sh\nexit 0\n', 0o755);
    await write(
      path.join(dir, 'etc/debian.sources'),
      'Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n' +
        'Types: deb\n# a comment\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n',
    );
    host = {
      platform: 'linux',
      isRoot: true,
      env: { PATH: bin },
      debianSourcesFile: path.join(dir, 'etc/debian.sources'),
      sourcesListFile: path.join(dir, 'etc/sources.list'),
      includeDirs: [path.join(dir, 'include')],
    };
    lines = [];
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  const optionsFor = (runner: ToolRunner, extra: Partial<QemuSetupOptions> = {}): QemuSetupOptions => ({
    cacheDir: path.join(dir, 'cache'),
    jobs: 3,
    log: (l) => lines.push(l),
    runner,
    host,
    ...extra,
  });

  it('plans the recipe: private apt per suite, downloads, configure, ninja and make; installs each tool', async () => {
    const { runner, calls } = fakeRunner();
    const progress: string[] = [];
    const result = await runQemuSetup(
      optionsFor(runner, { progress: (s, f) => progress.push(`${s}${f === undefined ? '' : `:${f}`}`) }),
    );
    const layout = qemuCacheLayout(path.join(dir, 'cache'));
    const work = layout.workDir;
    const apt = (suite: string) => [
      '-o',
      `Dir::Etc::SourceList=${work}/apt/${suite}/sources.list`,
      '-o',
      'Dir::Etc::SourceParts=/dev/null',
      '-o',
      `Dir::State::Lists=${work}/apt/${suite}/lists`,
      '-o',
      `Dir::Cache=${work}/apt/${suite}/cache`,
      '-o',
      'Dir::State::status=/dev/null',
      '-o',
      'APT::Sandbox::User=root',
      '-o',
      'Debug::NoLocking=1',
      '-o',
      'Acquire::Languages=none',
    ];
    const argvs = calls.map((c) => c.argv);
    const aptCalls = calls.filter((c) => c.argv[0] === 'apt-get');
    assert.deepEqual(
      aptCalls.map((c) => c.argv),
      [
        ['apt-get', ...apt('sid'), 'update'],
        ['apt-get', ...apt('trixie'), 'update'],
        ['apt-get', ...apt('sid'), 'download', 'vhost-device-vsock'],
        ['apt-get', ...apt('trixie'), 'source', '--download-only', 'qemu'],
        [
          'apt-get',
          ...apt('trixie'),
          'download',
          'qemu-system-data',
          'seabios',
          'meson',
          'python3-pycotap',
          'linux-source-6.12',
        ],
      ],
    );
    // The downloads go to a fresh folder each (renamed into dl once complete), never the machine's apt.
    for (const c of aptCalls.slice(2)) assert.match(c.cwd!, new RegExp(`^${work}/dl/\\.(trixie|sid)\\.tmp-`));
    for (const suite of ['trixie', 'sid']) {
      assert.equal(
        await fs.readFile(path.join(work, 'apt', suite, 'sources.list'), 'utf8'),
        `deb http://mirror.example/debian ${suite} main\ndeb-src http://mirror.example/debian ${suite} main\n`,
      );
      assert.ok((await fs.stat(path.join(work, 'apt', suite, 'lists/partial'))).isDirectory());
      assert.ok((await fs.stat(path.join(work, 'apt', suite, 'cache/archives/partial'))).isDirectory());
    }
    assert.ok(
      lines.includes(`Debian mirror: http://mirror.example/debian (from ${host.debianSourcesFile})`),
      lines.join('\n'),
    );

    const configure = calls.find((c) => c.argv[0] === '../configure')!;
    assert.deepEqual(configure.argv.slice(1), [...QEMU_CONFIGURE_FLAGS]);
    assert.deepEqual(QEMU_CONFIGURE_FLAGS, [
      '--target-list=x86_64-softmmu',
      '--without-default-features',
      '--enable-kvm',
      '--enable-tcg',
      '--enable-libcbor',
      '--enable-gnutls',
      '--enable-vhost-user',
      '--enable-fdt=system',
      '--disable-docs',
      '--disable-werror',
      '--disable-install-blobs',
    ]);
    const ninja = calls.find((c) => c.argv[0] === 'ninja')!;
    assert.deepEqual(ninja.argv, ['ninja', '-j3', 'qemu-system-x86_64']);
    assert.equal(ninja.cwd, configure.cwd);
    for (const c of [configure, ninja]) {
      assert.equal(c.env?.PYTHONPATH, `${work}/py/usr/lib/python3/dist-packages`);
      assert.equal(c.env?.PATH, `${work}/py/usr/bin:${host.env.PATH}`);
    }
    assert.ok(argvs.some((a) => a.join(' ').endsWith('-M help') && a[0]!.endsWith('build/qemu-system-x86_64')));
    const makes = calls
      .filter((c) => c.argv[0] === 'make')
      .map((c) => c.argv.filter((_a, i, all) => all[i - 1] !== '-C'));
    assert.deepEqual(makes, [
      ['make', '-C', 'olddefconfig'],
      ['make', '-C', '-j3', 'bzImage'],
    ]);

    // Installed outputs; the build trees are gone.
    assert.equal(await fs.readFile(layout.vhostDeviceVsock, 'utf8'), '#!/bin/sh\necho vsock\n');
    assert.equal((await fs.stat(layout.vhostDeviceVsock)).mode & 0o777, 0o755);
    assert.equal((await fs.stat(layout.qemu)).mode & 0o777, 0o755);
    assert.deepEqual((await fs.readdir(layout.firmwareDir)).sort(), [
      'bios-microvm.bin',
      'bios.bin',
      'keymaps',
      'linuxboot_dma.bin',
      'pvh.bin',
    ]);
    assert.equal(await fs.readFile(layout.kernel, 'utf8'), 'fake bzImage');
    assert.equal(await fs.readFile(layout.kernelConfig, 'utf8'), `${KERNEL_MIN_CONFIG}# olddefconfig ran\n`);
    assert.deepEqual(await fs.readdir(path.join(work, 'build')), []);

    // The manifest: versions from the file names, sha256 of every output.
    const manifest = await readSetupManifest(layout.manifest);
    assert.ok(manifest);
    assert.equal(manifest.setupVersion, 1);
    assert.deepEqual(manifest.steps.qemu?.packages, {
      qemu: '10.0.13+ds-0+deb13u1',
      meson: '1:2.0-1',
      'python3-pycotap': '1:2.0-1',
    });
    assert.deepEqual(manifest.steps['vhost-device-vsock']?.packages, { 'vhost-device-vsock': '1:2.0-1' });
    assert.deepEqual(manifest.steps.kernel?.files, {
      'kernel/bzImage': await sha256File(layout.kernel),
      'kernel/bzImage.config': await sha256File(layout.kernelConfig),
    });
    assert.equal(
      manifest.steps.firmware?.files['share/qemu/keymaps/en-us'],
      await sha256File(path.join(layout.firmwareDir, 'keymaps/en-us')),
    );
    assert.deepEqual(
      manifest.lastRun.map((s) => `${s.id}:${s.skipped}`),
      [
        'prerequisites:false',
        'apt:false',
        'download:false',
        'vhost-device-vsock:false',
        'firmware:false',
        'qemu:false',
        'kernel:false',
      ],
    );
    assert.deepEqual(
      result.steps.map((s) => s.id),
      manifest.lastRun.map((s) => s.id),
    );
    assert.ok(progress.includes('qemu:0.25') && progress.includes('qemu:1'), progress.join(' '));
    // No lock or temporary file is left in the cache.
    assert.deepEqual((await fs.readdir(layout.root)).sort(), ['bin', 'kernel', 'manifest.json', 'share', 'work']);
    assert.deepEqual((await fs.readdir(path.join(layout.root, 'bin'))).sort(), [
      'qemu-system-x86_64',
      'vhost-device-vsock',
    ]);
  });

  it('skips every step on a second run (nothing runs), redoes all with force, and only what changed', async () => {
    const first = fakeRunner();
    await runQemuSetup(optionsFor(first.runner));
    const second = fakeRunner();
    const result = await runQemuSetup(optionsFor(second.runner));
    assert.deepEqual(second.calls, []);
    assert.ok(
      result.steps.every((s) => s.skipped),
      JSON.stringify(result.steps),
    );
    assert.equal(result.steps.length, 7);

    // A tool changed on disk: only its step is redone, from the packages already downloaded.
    const layout = qemuCacheLayout(path.join(dir, 'cache'));
    await fs.writeFile(layout.qemu, 'something else');
    const third = fakeRunner();
    const redone = await runQemuSetup(optionsFor(third.runner));
    assert.deepEqual(
      redone.steps.filter((s) => !s.skipped).map((s) => s.id),
      ['prerequisites', 'qemu'],
    );
    assert.ok(!third.calls.some((c) => c.argv[0] === 'apt-get'));
    assert.ok(!third.calls.some((c) => c.argv[0] === 'make'));
    assert.equal(await fs.readFile(layout.qemu, 'utf8'), '#!/bin/sh\necho fake qemu\n');

    // A deleted tool is made again.
    await fs.rm(layout.vhostDeviceVsock);
    const fourth = fakeRunner();
    const again = await runQemuSetup(optionsFor(fourth.runner));
    assert.deepEqual(
      again.steps.filter((s) => !s.skipped).map((s) => s.id),
      ['prerequisites', 'vhost-device-vsock'],
    );

    const forced = fakeRunner();
    const all = await runQemuSetup(optionsFor(forced.runner, { force: true }));
    assert.deepEqual(
      all.steps.filter((s) => s.skipped).map((s) => s.id),
      ['apt', 'download'],
    );
    assert.ok(forced.calls.some((c) => c.argv[0] === 'ninja') && forced.calls.some((c) => c.argv.includes('bzImage')));
  });

  it('redoes the kernel when the recipe recorded differs (another kernel config)', async () => {
    const first = fakeRunner();
    await runQemuSetup(optionsFor(first.runner));
    const layout = qemuCacheLayout(path.join(dir, 'cache'));
    const manifest = JSON.parse(await fs.readFile(layout.manifest, 'utf8'));
    manifest.steps.kernel.recipe = 'v1 kernel-min.config sha256:0000';
    await fs.writeFile(layout.manifest, JSON.stringify(manifest));
    const second = fakeRunner();
    const result = await runQemuSetup(optionsFor(second.runner));
    assert.deepEqual(
      result.steps.filter((s) => !s.skipped).map((s) => s.id),
      ['prerequisites', 'kernel'],
    );
  });

  it('a failing build leaves no half-written tool, says the command and its last lines, keeps steps done', async () => {
    const { runner } = fakeRunner({ failing: 'ninja' });
    const layout = qemuCacheLayout(path.join(dir, 'cache'));
    await assert.rejects(runQemuSetup(optionsFor(runner)), (e: unknown) => {
      assert.ok(e instanceof SetupCommandError);
      assert.match(
        e.message,
        /^Building QEMU: `ninja -j3 qemu-system-x86_64` \(in \S+\/build\) failed with exit status 1\.\nIts last 200 lines:\nninja line 51\n/,
      );
      assert.match(e.message, /ninja line 250$/);
      return true;
    });
    await assert.rejects(fs.access(layout.qemu));
    await assert.rejects(fs.access(layout.kernel));
    assert.deepEqual(await fs.readdir(path.join(layout.root, 'bin')), ['vhost-device-vsock']);
    assert.ok(!(await fs.readdir(layout.root)).includes('setup.lock'));
    const manifest = await readSetupManifest(layout.manifest);
    assert.deepEqual(Object.keys(manifest!.steps).sort(), ['firmware', 'vhost-device-vsock']);

    // The next run does only what is left.
    const next = fakeRunner();
    const result = await runQemuSetup(optionsFor(next.runner));
    assert.deepEqual(
      result.steps.filter((s) => !s.skipped).map((s) => s.id),
      ['prerequisites', 'qemu', 'kernel'],
    );
  });

  it('removes the temporary files a killed setup left beside the outputs', async () => {
    const layout = qemuCacheLayout(path.join(dir, 'cache'));
    const left = [
      path.join(layout.root, 'bin/.qemu-system-x86_64.tmp-4242-0123abcd'),
      path.join(layout.root, 'share/.qemu.tmp-4242-0123abcd/bios.bin'),
      path.join(layout.workDir, 'dl/.sid.tmp-4242-0123abcd/vhost-device-vsock_0.3.0-2_amd64.deb'),
    ];
    for (const f of left) await write(f, 'half');
    await runQemuSetup(optionsFor(fakeRunner().runner));
    for (const f of left) await assert.rejects(fs.access(f));
    assert.ok(lines.includes(`Removed ${left[0]}, left by an interrupted setup`), lines.join('\n'));
    assert.ok(lines.includes(`Removed ${path.dirname(left[1]!)}, left by an interrupted setup`), lines.join('\n'));
  });

  it('cancelled in the middle of the kernel build: a CancelledError, no kernel, the steps done are kept', async () => {
    const source = new Emitter<unknown>();
    let cancelled = false;
    const cancellation: CancellationLike = {
      get isCancellationRequested() {
        return cancelled;
      },
      onCancellationRequested: source.event,
    };
    const { runner } = fakeRunner({
      onStart: (name) => {
        if (name === 'make') {
          cancelled = true;
          source.fire(undefined);
        }
      },
    });
    const layout = qemuCacheLayout(path.join(dir, 'cache'));
    await assert.rejects(runQemuSetup(optionsFor(runner, { cancellation })), CancelledError);
    await assert.rejects(fs.access(layout.kernel));
    await fs.access(layout.qemu);
    const manifest = await readSetupManifest(layout.manifest);
    assert.deepEqual(Object.keys(manifest!.steps).sort(), ['firmware', 'qemu', 'vhost-device-vsock']);
  });

  it('builds QEMU with the virtio-nsm edit made: a request without its response buffer is put back', async () => {
    const { runner, built } = fakeRunner();
    await runQemuSetup(optionsFor(runner));
    const source = built.nsmSource ?? '';
    assert.ok(source.includes('virtqueue_unpop(vq, out_elem, 0);\n        return;'), source);
    assert.ok(!source.includes('Expected response buffer after request buffer'), source);
    assert.equal(source, `static void handle_input(void)\n{\n${VIRTIO_NSM_EDIT.edited}\n}\n`);
  });

  it('outdatedSteps names the steps an earlier setup made with another recipe (a QEMU without the edit)', async () => {
    await runQemuSetup(optionsFor(fakeRunner().runner));
    const layout = qemuCacheLayout(path.join(dir, 'cache'));
    const manifest = await readSetupManifest(layout.manifest);
    assert.ok(manifest);
    assert.deepEqual(outdatedSteps(manifest), []);
    const qemu = manifest.steps.qemu;
    assert.ok(qemu);
    const earlier = { ...manifest, steps: { ...manifest.steps, qemu: { ...qemu, recipe: 'v1 configure; ninja' } } };
    assert.deepEqual(outdatedSteps(earlier), ['QEMU with the nitro-enclave machine']);
    // A step the manifest does not record is missing, not outdated.
    const { kernel: _kernel, ...withoutKernel } = earlier.steps;
    assert.deepEqual(outdatedSteps({ ...earlier, steps: withoutKernel }), ['QEMU with the nitro-enclave machine']);
  });

  it('editVirtioNsm edits the block once, and refuses a source without it or with it twice', () => {
    const text = `a\n${VIRTIO_NSM_EDIT.original}\nb\n`;
    assert.equal(editVirtioNsm(text, 'f.c'), `a\n${VIRTIO_NSM_EDIT.edited}\nb\n`);
    // A near miss (one space fewer) is not the block.
    assert.throws(() => editVirtioNsm(text.replace('    if (!in_elem)', '   if (!in_elem)'), 'f.c'), QemuSetupError);
    assert.throws(
      () => editVirtioNsm(`${text}${VIRTIO_NSM_EDIT.original}\n`, 'f.c'),
      /f\.c: the request handler's check for a missing response buffer was expected once/,
    );
  });

  it('refuses an unexpected pc-bios/meson.build, and a configure without the nitro-enclave machine', async () => {
    await assert.rejects(
      runQemuSetup(optionsFor(fakeRunner({ mesonLine2: 'if have_edk2' }).runner)),
      /pc-bios\/meson\.build: line 2 was expected to be `if unpack_edk2_blobs`.*but it is `if have_edk2`/s,
    );
    await assert.rejects(
      runQemuSetup(optionsFor(fakeRunner({ nsmSource: 'static void handle_input(void) {}\n' }).runner)),
      /hw\/virtio\/virtio-nsm\.c: the request handler's check .* This QEMU source is not the one setup knows/s,
    );
    await assert.rejects(
      runQemuSetup(optionsFor(fakeRunner({ noNitro: true }).runner)),
      /configured without the nitro-enclave machine .*does not define CONFIG_NITRO_ENCLAVE.*libcbor-dev and libgnutls28-dev/s,
    );
  });

  it('says exactly which prerequisites are missing, with the one apt-get line', async () => {
    await fs.rm(path.join(dir, 'fakebin/ninja'));
    await fs.rm(path.join(dir, 'fakebin/bison'));
    const { runner, calls } = fakeRunner({ missingModules: ['libcbor', 'libfdt', 'openssl'] });
    await assert.rejects(runQemuSetup(optionsFor(runner)), (e: unknown) => {
      assert.ok(e instanceof QemuSetupError);
      assert.equal(
        e.message,
        'Missing: the command ninja; the command bison; the pkg-config module libcbor (libcbor-dev, for QEMU); ' +
          'the pkg-config module libfdt (or the header libfdt.h) (libfdt-dev, for QEMU); ' +
          'the pkg-config module openssl (libssl-dev, for the kernel). ' +
          'Debian packages: ninja-build bison libcbor-dev libfdt-dev libssl-dev. ' +
          `Install every build dependency with:\n  ${BUILD_DEPENDENCIES_LINE}`,
      );
      return true;
    });
    assert.ok(!calls.some((c) => c.argv[0] === 'apt-get'));
    assert.equal(
      BUILD_DEPENDENCIES_LINE,
      'apt-get install flex bison bc libelf-dev libssl-dev ninja-build pkg-config libglib2.0-dev libcbor-dev ' +
        'libgnutls28-dev libfdt-dev libpixman-1-dev python3-venv zlib1g-dev cpio xz-utils build-essential',
    );
    // libfdt without a pkg-config file (bookworm) is found by its header; not root: sudo.
    await write(path.join(dir, 'include/libfdt.h'), '');
    host = { ...host, isRoot: false };
    await assert.rejects(
      runQemuSetup(optionsFor(fakeRunner({ missingModules: ['libfdt', 'zlib'] }).runner)),
      (e: unknown) => {
        assert.match(
          (e as Error).message,
          /^Missing: the command ninja; the command bison; the pkg-config module zlib \(zlib1g-dev, for QEMU\)\. /,
        );
        assert.match((e as Error).message, /\n {2}sudo apt-get install /);
        return true;
      },
    );
  });

  it('points other systems at the README section (no apt-get or dpkg, or not Linux)', async () => {
    await fs.rm(path.join(dir, 'fakebin/apt-get'));
    const { runner } = fakeRunner();
    await assert.rejects(
      runQemuSetup(optionsFor(runner)),
      /^QemuSetupError: apt-get not found in PATH\. nitro-dev qemu setup builds QEMU .*needs a Debian machine.*README section "QEMU backend: setup on other Linux distributions": build QEMU >= 9\.2 with --enable-libcbor --enable-gnutls, get vhost-device-vsock with cargo.*NITRO_DEV_QEMU and NITRO_DEV_VHOST_DEVICE_VSOCK/s,
    );
    host = { ...host, platform: 'darwin' };
    await assert.rejects(runQemuSetup(optionsFor(runner)), /This is darwin, not Linux\. .*README section/s);
  });

  it('refuses to run while another setup holds the cache, and takes over a stale lock', async () => {
    const cache = path.join(dir, 'cache');
    await write(path.join(cache, 'setup.lock'), `${process.ppid}\n`);
    await assert.rejects(
      runQemuSetup(optionsFor(fakeRunner().runner)),
      /Another nitro-dev qemu setup \(process \d+\) is filling/,
    );
    // A pid no process has.
    await write(path.join(cache, 'setup.lock'), '2147483646\n');
    await runQemuSetup(optionsFor(fakeRunner().runner));
  });

  it('falls back to deb.debian.org, saying so, when the machine names no Debian mirror', async () => {
    await fs.rm(host.debianSourcesFile);
    const { runner } = fakeRunner();
    await runQemuSetup(optionsFor(runner));
    assert.ok(
      lines.some((l) =>
        /^Debian mirror: http:\/\/deb\.debian\.org\/debian \(neither .* names a Debian mirror\)$/.test(l),
      ),
      lines.join('\n'),
    );
    const list = await fs.readFile(path.join(dir, 'cache/work/apt/sid/sources.list'), 'utf8');
    assert.equal(list, 'deb http://deb.debian.org/debian sid main\ndeb-src http://deb.debian.org/debian sid main\n');
  });
});

describe('(unit) nitro-dev qemu setup: the mirror, package names and the kernel config', () => {
  it("reads the machine's main suite's URI (deb822 first, then sources.list), never the security suite's", () => {
    const deb822 =
      'Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n\n' +
      'Types: deb deb-src\nURIs: https://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n';
    assert.deepEqual(debianMirrorOf(deb822, undefined), { uri: 'https://mirror.example/debian', from: 'deb822' });
    assert.deepEqual(
      debianMirrorOf(
        'Types: deb\nURIs: http://x/debian-security\nSuites: bookworm-security\n',
        'deb [arch=amd64] http://list.example/debian/ bookworm main\n',
      ),
      { uri: 'http://list.example/debian', from: 'list' },
    );
    assert.deepEqual(
      debianMirrorOf(undefined, '# deb http://old/debian bookworm main\ndeb http://y/debian bookworm-updates main\n'),
      undefined,
    );
    assert.equal(
      debianMirrorOf('Types: deb\nEnabled: no\nURIs: http://off/debian\nSuites: bookworm\n', undefined),
      undefined,
    );
    assert.equal(debianMirrorOf('Types: deb\nURIs: cdrom:/media\nSuites: bookworm\n', undefined), undefined);
  });

  it('reads the package and version of a downloaded file name', () => {
    assert.deepEqual(packageOfFile('/x/qemu-system-data_1%3a10.0.13+ds-0+deb13u1_all.deb'), {
      name: 'qemu-system-data',
      version: '1:10.0.13+ds-0+deb13u1',
    });
    assert.deepEqual(packageOfFile('qemu_10.0.13+ds-0+deb13u1.dsc'), { name: 'qemu', version: '10.0.13+ds-0+deb13u1' });
    assert.deepEqual(packageOfFile('vhost-device-vsock_0.3.0-2_amd64.deb'), {
      name: 'vhost-device-vsock',
      version: '0.3.0-2',
    });
    assert.equal(packageOfFile('qemu_10.0.13+ds.orig.tar.xz'), undefined);
  });

  it('bundles kernel-min.config as text, unchanged, with virtio-mmio cmdline devices, vsock and NSM built in', () => {
    assert.equal(KERNEL_MIN_CONFIG, readFileSync(repoPath('src/engine/node/qemu/kernel-min.config'), 'utf8'));
    for (const option of [
      'CONFIG_VIRTIO_MMIO=y',
      'CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y',
      'CONFIG_VIRTIO_VSOCKETS=y',
      'CONFIG_NSM=y',
    ])
      assert.ok(KERNEL_MIN_CONFIG.split('\n').includes(option), option);
  });
});
