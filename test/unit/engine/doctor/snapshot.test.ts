import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DOCTOR_MAX_TEXT_BYTES,
  DOCTOR_READS,
  runDoctor,
  type DoctorInput,
  type SystemView,
} from '../../../../src/engine/doctor/doctor';
import {
  SNAPSHOT_HEADER,
  SnapshotError,
  parseSnapshot,
  snapshotScript,
  snapshotStdin,
  type Snapshot,
} from '../../../../src/engine/doctor/snapshot';
import { systemViewAt } from '../../../../src/engine/node/doctorSystem';
import { FakeTree, otherGroupFile, type TreeSpec } from '../../doctorTree';

/** Runs the script here, as `sh -c script sh ROOT NITRO_CLI` (what `sh -s` runs on a remote parent). */
function snapshotOf(root: string, nitroCli = standInNitroCli(), shell = 'sh'): string {
  const r = spawnSync(shell, ['-c', snapshotScript(), 'sh', root, nitroCli], {
    encoding: 'latin1',
    maxBuffer: 256 * 1024 * 1024,
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

let standIn: string | undefined;
/** A stand-in for nitro-cli (not the real tool) that prints a version line. */
function standInNitroCli(): string {
  if (!standIn) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-cli-stand-in-'));
    standIn = path.join(dir, 'nitro-cli');
    writeFileSync(standIn, '#!/bin/sh\n# A stand-in for nitro-cli in tests.\necho "Nitro CLI 1.4.2"\n');
    chmodSync(standIn, 0o755);
  }
  return standIn;
}

const PLAN = { eifSize: 300 * 1024 * 1024, memoryMiB: 512, cpuCount: 4 };

/**
 * The trees of the issue (healthy, driver missing, device group wrong, hugepages short, pool too small,
 * bad allocator.yaml, EIF too large) and a few more; each with the finding it must fail, if any.
 */
const TREES: [string, TreeSpec, DoctorInput['plan'] | undefined, string | undefined][] = [
  ['healthy', {}, undefined, undefined],
  ['healthy, with a planned run that fits', {}, { eifSize: 4096, memoryMiB: 128, cpuCount: 2 }, undefined],
  ['driver missing', { driver: false, device: false }, undefined, 'driver'],
  ['device group wrong', { group: otherGroupFile() }, undefined, 'device'],
  ['device open to all', { deviceMode: 0o666 }, undefined, undefined],
  ['hugepages short', { hugepages2M: 100 }, undefined, 'hugepages'],
  ['pool too small', {}, { eifSize: 4096, memoryMiB: 128, cpuCount: 4 }, 'run-cpus'],
  ['bad allocator.yaml', { allocator: 'memory_mb: 512\ncpu_count: 2\n' }, undefined, 'allocator'],
  [
    'allocator.yaml missing',
    { allocator: undefined, vsockProxy: undefined, neCpus: undefined },
    undefined,
    'allocator',
  ],
  ['EIF too large', {}, PLAN, 'run-memory'],
  ['nitro-cli missing', { nitroCli: false }, undefined, 'nitro-cli'],
];

describe('(unit) doctor snapshot: one script, its output parsed into the doctor inputs', function () {
  this.timeout(60_000);
  const trees: FakeTree[] = [];
  const tree = (spec: TreeSpec = {}) => {
    const t = new FakeTree(spec);
    trees.push(t);
    return t;
  };
  after(() => {
    trees.forEach((t) => t.dispose());
    if (standIn) rmSync(path.dirname(standIn), { recursive: true, force: true });
  });

  for (const [name, spec, plan, failing] of TREES) {
    it(`${name}: the findings from the snapshot equal those read directly (systemViewAt)`, async () => {
      const t = tree(spec);
      const snap = parseSnapshot(snapshotOf(t.root));
      const common = {
        user: snap.user,
        nitroCliVersion: snap.nitroCliVersion,
        ...(snap.services ? { services: snap.services } : {}),
        ...(plan ? { plan } : {}),
      };
      const remote = await runDoctor({ system: snap.system, ...common });
      const direct = await runDoctor({ system: systemViewAt(t.root), ...common });
      assert.deepEqual(remote, direct);
      // Not trivially equal: each tree shows its own trouble, and only it.
      const failures = remote.filter((f) => f.status === 'failure').map((f) => f.id);
      if (failing) assert.ok(failures.includes(failing), JSON.stringify(remote));
      else assert.deepEqual(failures, [], JSON.stringify(remote));
    });
  }

  it("bash as sh (the /bin/sh of Amazon Linux) prints the same snapshot as dash (Debian's)", () => {
    const t = tree({ hugepages2M: 100 });
    mkdirSync(path.join(t.root, 'sys/kernel/mm/hugepages/.hidden-dir'));
    for (const shell of ['bash', 'dash']) {
      const which = spawnSync('sh', ['-c', `command -v ${shell}`], { encoding: 'utf8' });
      assert.equal(which.status, 0, `${shell} is needed for this test`);
    }
    const dash = snapshotOf(t.root, standInNitroCli(), 'dash');
    const bash = snapshotOf(t.root, standInNitroCli(), 'bash');
    const posix = spawnSync('bash', ['--posix', '-c', snapshotScript(), 'sh', t.root, standInNitroCli()], {
      encoding: 'latin1',
    });
    assert.equal(bash, dash);
    assert.equal(posix.stdout, dash);
    assert.ok(parseSnapshot(dash));
  });

  it('the user is who ran the script; nitro-cli --version is its first line, or empty when it fails', () => {
    const t = tree();
    const standIn = path.join(t.root, 'stand-in-nitro-cli');
    // A stand-in for nitro-cli (not the real tool): prints a version line and more.
    writeFileSync(standIn, '#!/bin/sh\necho "Nitro CLI 1.4.2"\necho second line\n');
    chmodSync(standIn, 0o755);
    const snap = parseSnapshot(snapshotOf(t.root, standIn));
    assert.equal(snap.nitroCliVersion, 'Nitro CLI 1.4.2');
    assert.equal(snap.user.uid, os.userInfo().uid);
    assert.equal(snap.user.name, os.userInfo().username);
    if (typeof process.getgid === 'function') assert.ok(snap.user.gids.includes(process.getgid()));
    for (const g of process.getgroups?.() ?? []) assert.ok(snap.user.gids.includes(g), String(g));
    const failing = path.join(t.root, 'failing-nitro-cli');
    writeFileSync(failing, '#!/bin/sh\necho "partial"\nexit 3\n');
    chmodSync(failing, 0o755);
    assert.equal(parseSnapshot(snapshotOf(t.root, failing)).nitroCliVersion, '');
    assert.equal(parseSnapshot(snapshotOf(t.root, path.join(t.root, 'absent'))).nitroCliVersion, '');
  });

  it('any content survives the framing: binary bytes, no final newline, CR, empty files, odd names', async () => {
    const t = tree();
    const binary = Buffer.from([...Array(256).keys()]);
    writeFileSync(path.join(t.root, 'etc/nitro_enclaves/allocator.yaml'), binary);
    t.write('etc/group', 'root:x:0:\r\nend 0\ndone\nne:x:1:');
    t.write('proc/meminfo', '\ufeffa byte-order mark is kept\n');
    t.write('sys/devices/system/cpu/online', '');
    const odd = 'hugepages-2048kB\nend 0 done \'"$(x)`*';
    mkdirSync(path.join(t.root, 'sys/kernel/mm/hugepages', odd));
    writeFileSync(path.join(t.root, 'sys/kernel/mm/hugepages', odd, 'nr_hugepages'), '7\n');
    writeFileSync(path.join(t.root, 'sys/kernel/mm/hugepages/.hidden'), 'x');
    symlinkSync('nowhere', path.join(t.root, 'sys/kernel/mm/hugepages/dangling'));
    const snap = parseSnapshot(snapshotOf(t.root));
    const direct = systemViewAt(t.root);
    for (const p of DOCTOR_READS.texts) assert.equal(await snap.system.readText(p), await direct.readText(p), p);
    const listed = await snap.system.list('/sys/kernel/mm/hugepages');
    assert.deepEqual([...(listed ?? [])].sort(), [...((await direct.list('/sys/kernel/mm/hugepages')) ?? [])].sort());
    assert.ok(listed?.includes(odd));
    assert.equal(await snap.system.readText(`/sys/kernel/mm/hugepages/${odd}/nr_hugepages`), '7\n');
    assert.equal(await snap.system.readText('/sys/kernel/mm/hugepages/dangling/nr_hugepages'), undefined);
  });

  it('a file over the limit reads as missing, as on this machine, and costs at most the limit', async () => {
    const t = tree();
    const file = path.join(t.root, 'etc/nitro_enclaves/allocator.yaml');
    writeFileSync(file, Buffer.alloc(DOCTOR_MAX_TEXT_BYTES + 1, 0x61));
    // Far larger than the limit, sparse: the script reads only the limit and a byte.
    const big = path.join(t.root, 'etc/nitro_enclaves/vsock-proxy.yaml');
    writeFileSync(big, '');
    (await import('node:fs')).truncateSync(big, 4 * 1024 * 1024 * 1024);
    const out = snapshotOf(t.root);
    assert.ok(out.length < 4 * (DOCTOR_MAX_TEXT_BYTES + 1) * 3, String(out.length));
    const snap = parseSnapshot(out);
    assert.equal(await snap.system.readText('/etc/nitro_enclaves/allocator.yaml'), undefined);
    assert.equal(await snap.system.readText('/etc/nitro_enclaves/vsock-proxy.yaml'), undefined);
    assert.equal(await systemViewAt(t.root).readText('/etc/nitro_enclaves/allocator.yaml'), undefined);
    writeFileSync(file, Buffer.alloc(DOCTOR_MAX_TEXT_BYTES, 0x61));
    assert.equal(
      (await parseSnapshot(snapshotOf(t.root)).system.readText('/etc/nitro_enclaves/allocator.yaml'))?.length,
      DOCTOR_MAX_TEXT_BYTES,
    );
  });

  it('modes, owners and types come from ls: setgid bits, directories, symlinks followed', async () => {
    const t = tree();
    chmodSync(path.join(t.root, 'dev/nitro_enclaves'), 0o2640);
    symlinkSync(path.join(t.root, 'usr/bin/nitro-cli'), path.join(t.root, 'usr/bin/link'));
    const snap = parseSnapshot(snapshotOf(t.root));
    const direct = systemViewAt(t.root);
    for (const p of DOCTOR_READS.stats) assert.deepEqual(await snap.system.stat(p), await direct.stat(p), p);
    assert.equal((await snap.system.stat('/dev/nitro_enclaves'))?.mode, 0o2640);
    assert.equal((await snap.system.stat('/sys/module/nitro_enclaves'))?.isDirectory, true);
  });

  it('a path the doctor reads that the snapshot does not hold is an error, not a missing file', async () => {
    const snap = parseSnapshot(snapshotOf(tree().root));
    await assert.rejects(snap.system.readText('/etc/passwd'), SnapshotError);
    await assert.rejects(snap.system.stat('/etc/passwd'), /does not hold the stat of \/etc\/passwd/);
    await assert.rejects(snap.system.list('/etc'), SnapshotError);
  });

  it('every path the doctor reads is in DOCTOR_READS (a recording view over every tree)', async () => {
    const texts = new Set<string>();
    const stats = new Set<string>();
    const lists = new Set<string>();
    for (const [, spec, plan] of TREES) {
      const direct = systemViewAt(tree(spec).root);
      const recording: SystemView = {
        readText: (p) => (texts.add(p), direct.readText(p)),
        stat: (p) => (stats.add(p), direct.stat(p)),
        list: (p) => (lists.add(p), direct.list(p)),
      };
      await runDoctor({
        system: recording,
        user: { uid: 1000, gids: [1000], name: 'alice' },
        nitroCliVersion: 'Nitro CLI 1.4.2',
        ...(plan ? { plan } : {}),
      });
    }
    const entryText = (p: string) =>
      DOCTOR_READS.lists.some((l) => {
        if (!p.startsWith(`${l.path}/`)) return false;
        const rest = p.slice(l.path.length + 1).split('/');
        return rest.length === 2 && l.entryTexts.includes(rest[1] as string);
      });
    for (const p of texts) assert.ok(DOCTOR_READS.texts.includes(p) || entryText(p), `readText ${p}`);
    for (const p of stats) assert.ok(DOCTOR_READS.stats.includes(p), `stat ${p}`);
    for (const p of lists)
      assert.ok(
        DOCTOR_READS.lists.some((l) => l.path === p),
        `list ${p}`,
      );
    // And nothing listed that the doctor never reads.
    for (const p of DOCTOR_READS.texts) assert.ok(texts.has(p), `unread ${p}`);
    for (const p of DOCTOR_READS.stats) assert.ok(stats.has(p), `unstatted ${p}`);
  });

  it('snapshotStdin passes the arguments quoted, whatever they hold', () => {
    const t = tree();
    const dir = path.join(t.root, 'it\'s a "dir" $(x)');
    mkdirSync(dir);
    const standIn = path.join(dir, 'nitro-cli');
    writeFileSync(standIn, '#!/bin/sh\necho "Nitro CLI 9.9.9"\n');
    chmodSync(standIn, 0o755);
    const r = spawnSync('sh', ['-s'], {
      input: snapshotStdin({ root: t.root, nitroCliPath: standIn }),
      encoding: 'latin1',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(parseSnapshot(r.stdout).nitroCliVersion, 'Nitro CLI 9.9.9');
  });

  describe('malformed output is a clear error', () => {
    let good: string;
    before(() => {
      good = snapshotOf(tree().root);
    });
    const parse = (s: string): Snapshot => parseSnapshot(s);

    it('what a login script prints before the header is skipped', () => {
      assert.doesNotThrow(() => parse(`Welcome to the parent!\nend 0\n${good}`));
    });
    it('no header, a cut-off output, a bad hex line, an unknown record, a duplicate, a missing file', () => {
      assert.throws(() => parse('hello\n'), /no 'nitro-doctor-snapshot 1' line/);
      assert.throws(() => parse(good.slice(0, good.length / 2)), SnapshotError);
      assert.throws(() => parse(good.replace(/^done\n/m, '')), /ended early/);
      assert.throws(() => parse(good.replace(/^( [0-9a-f]{2})+$/m, ' zz')), /line \d+ .*hex bytes/);
      assert.throws(
        () => parse(good.replace(SNAPSHOT_HEADER, `${SNAPSHOT_HEADER}\nfrobnicate 1`)),
        /unexpected 'frobnicate 1'/,
      );
      assert.throws(() => parse(good.replace(/^(uid \d+)$/m, '$1\n$1')), /expected one uid/);
      const line = /^(missing|blob) text \S+$/m.exec(good)?.[0] as string;
      assert.throws(() => parse(good.replace(line, `${line}\n${line}`)), SnapshotError);
      assert.throws(() => parse(good.replace(/^stat \S+ \S+ \d+ \d+$/m, 'stat 2f x 0 0')), /not a file mode/);
      const withoutGroup = good.replace(/^blob text 2f6574632f67726f7570\n(?:[ 0-9a-f]*\n)*end 0\n/m, '');
      assert.notEqual(withoutGroup, good);
      assert.throws(() => parse(withoutGroup), /lacks the file \/etc\/group/);
    });
    it('a value over its bound is refused before it is decoded', () => {
      const hexLine = ` ${'61 '.repeat(15)}61\n`;
      const huge = hexLine.repeat(Math.ceil((DOCTOR_MAX_TEXT_BYTES + 2) / 16));
      const over = good.replace(/^(blob text 2f6574632f67726f7570)$/m, `$1\n${huge.slice(0, -1)}`);
      assert.throws(() => parse(over), /more than \d+ bytes/);
    });
  });
});
