// The guest programs (init, relay) built with the machine's gcc, the parent VM's initramfs and the
// blobs folder, into a temporary cache with a stand-in kernel file.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GUEST_SOURCES, QEMU_BLOBS_CMDLINE, buildGuestPrograms } from '../../../../../src/engine/node/qemu/guest';
import { qemuCacheLayout } from '../../../../../src/engine/node/qemu/layout';
import { repoPath } from '../../../repo';

function run(command: string, args: readonly string[], options: { cwd?: string; input?: Buffer } = {}) {
  const r = spawnSync(command, args, { ...options, encoding: 'buffer' });
  assert.equal(r.error, undefined, `${command}: ${r.error?.message}`);
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe('(unit) QEMU guest programs', function () {
  this.timeout(240_000);
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'qguest-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const sources: [string, string][] = [
    ['init.c', GUEST_SOURCES.init],
    ['relay.c', GUEST_SOURCES.relay],
    ['test/qemu/guest/probe.c', readFileSync(repoPath('test', 'qemu', 'guest', 'probe.c'), 'utf8')],
  ];
  for (const [name, source] of sources)
    it(`${name} compiles static with -Wall -Wextra -Werror`, () => {
      const file = path.join(root, path.basename(name));
      writeFileSync(file, source);
      const r = run('gcc', ['-static', '-Os', '-Wall', '-Wextra', '-Werror', '-o', path.join(root, 'out'), file]);
      assert.equal(r.status, 0, r.stderr);
    });

  it('builds init, relay, relay.cpio and the blobs folder; skips when up to date; new kernel: rebuilt', async () => {
    const layout = qemuCacheLayout(path.join(root, 'cache'));
    mkdirSync(path.dirname(layout.kernel), { recursive: true });
    writeFileSync(layout.kernel, 'a stand-in kernel');
    writeFileSync(layout.kernelConfig, 'CONFIG_VSOCKETS=y\n');
    const log: string[] = [];
    await buildGuestPrograms(layout, (l) => log.push(l));
    assert.ok(
      log.some((l) => /^gcc .*-static/.test(l)),
      log.join('\n'),
    );

    for (const program of [layout.init, layout.relay]) {
      assert.ok(statSync(program).mode & 0o100, `${program} is executable`);
      const file = run('file', [program]);
      if (file.status === 0) assert.match(file.stdout, /statically linked|static-pie/);
    }
    const cpio = readFileSync(layout.relayInitrd);
    const listed = run('cpio', ['-t', '--quiet'], { input: cpio });
    assert.equal(listed.status, 0, listed.stderr);
    assert.deepEqual(listed.stdout.split('\n').filter(Boolean).sort(), ['dev', 'init']);
    const out = path.join(root, 'unpacked');
    mkdirSync(out);
    const unpacked = run('cpio', ['-i', '--quiet', '--no-absolute-filenames'], { cwd: out, input: cpio });
    assert.equal(unpacked.status, 0, unpacked.stderr);
    assert.ok(statSync(path.join(out, 'dev')).isDirectory());
    assert.ok(readFileSync(path.join(out, 'init')).equals(readFileSync(layout.relay)), 'init is the relay');

    assert.deepEqual(readdirSync(layout.blobsDir).sort(), ['bzImage', 'bzImage.config', 'cmdline', 'init', 'nsm.ko']);
    assert.equal(readFileSync(path.join(layout.blobsDir, 'bzImage'), 'utf8'), 'a stand-in kernel');
    assert.equal(readFileSync(path.join(layout.blobsDir, 'bzImage.config'), 'utf8'), 'CONFIG_VSOCKETS=y\n');
    assert.equal(readFileSync(path.join(layout.blobsDir, 'cmdline'), 'utf8'), `${QEMU_BLOBS_CMDLINE}\n`);
    assert.ok(readFileSync(path.join(layout.blobsDir, 'init')).equals(readFileSync(layout.init)));
    assert.equal(statSync(path.join(layout.blobsDir, 'nsm.ko')).size, 0);
    assert.deepEqual(
      readdirSync(path.dirname(layout.init)).filter((n) => n.includes('.tmp')),
      [],
      'no temporary file is left',
    );

    const relayTime = statSync(layout.relay).mtimeMs;
    log.length = 0;
    await buildGuestPrograms(layout, (l) => log.push(l));
    assert.deepEqual(log, ['guest programs and blobs folder: up to date']);
    assert.equal(statSync(layout.relay).mtimeMs, relayTime);

    writeFileSync(layout.kernel, 'a newer stand-in kernel');
    log.length = 0;
    await buildGuestPrograms(layout, (l) => log.push(l));
    assert.ok(
      log.some((l) => l.startsWith('gcc ')),
      log.join('\n'),
    );
    assert.equal(readFileSync(path.join(layout.blobsDir, 'bzImage'), 'utf8'), 'a newer stand-in kernel');
    assert.ok(existsSync(layout.relayInitrd));
  });

  it('a compiler that fails says so, with its output, and leaves no program', async () => {
    const layout = qemuCacheLayout(path.join(root, 'cache'));
    mkdirSync(path.dirname(layout.kernel), { recursive: true });
    writeFileSync(layout.kernel, 'k');
    writeFileSync(layout.kernelConfig, 'c');
    const cc = path.join(root, 'badcc');
    writeFileSync(cc, '#!/bin/sh\necho "fatal: no such compiler mode" >&2\nexit 4\n', { mode: 0o755 });
    await assert.rejects(
      buildGuestPrograms(layout, () => undefined, { cc }),
      /could not build init \(exit 4\): fatal: no such compiler mode/,
    );
    assert.equal(existsSync(layout.init), false);
  });
});
