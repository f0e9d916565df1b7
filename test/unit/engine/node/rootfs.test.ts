// build-enclave --rootfs: a plain folder as the root file system. The customer ramdisk is read back
// by GNU cpio (its verbose listing: types, modes, owners, times, link targets, in archive order) and
// extracted, independently of the builder; hostile folders (sockets, names that are not UTF-8,
// symlinks out of the folder, a folder that changes while it is read) are refused or stored as
// the rules say; two builds of the same folder, and of a copy with other times, are the same bytes.
import * as assert from 'node:assert/strict';
import {
  appendFileSync,
  chmodSync,
  linkSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  lstatSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { buildEnclave, type BuildOptions, type RootfsSpec } from '../../../../src/engine/node/buildEnclave';
import { compareEifFiles } from '../../../../src/engine/node/reproducibility';
import { RootfsError, readRootfs } from '../../../../src/engine/node/rootfs';
import { SpoolStore } from '../../../../src/engine/node/spoolStore';
import { repoPath } from '../../repo';
import { parseEif } from '../eif/helpers';
import { ensureTool, rejection, run, tempDir } from '../ramdisk/helpers';

const blobs = repoPath('test', 'fixtures', 'blobs');
const TIME = { seconds: 1704164645, nanos: 0 };

describe('build-enclave --rootfs (a folder as the root file system)', function () {
  this.timeout(120_000);
  let t: ReturnType<typeof tempDir>;
  let n = 0;
  const out = () => path.join(t.dir, `out-${++n}.eif`);
  const spec = (dir: string, extra: Partial<RootfsSpec> = {}): RootfsSpec => ({
    kind: 'rootfs',
    path: dir,
    cmd: ['/app/hello', 'a b'],
    env: ['GREETING=hi', 'X=a=b'],
    ...extra,
  });
  const build = (source: RootfsSpec, o: Partial<BuildOptions> = {}) =>
    buildEnclave({
      source,
      output: out(),
      blobs,
      arch: 'x86_64',
      buildTime: TIME,
      tempRoot: path.join(t.dir, 'tmp'),
      ...o,
    });
  /** The customer ramdisk of an image, written to a file. */
  const customer = (eifFile: string): string => {
    const file = path.join(t.dir, `customer-${++n}.cpio`);
    writeFileSync(file, parseEif(readFileSync(eifFile)).sections[4]?.data as Uint8Array);
    return file;
  };
  /** GNU cpio's verbose listing, numeric owners, in UTC. */
  const listing = (cpioFile: string): string[] =>
    run('sh', ['-c', `cpio -itv --numeric-uid-gid --quiet < '${cpioFile}'`], { env: { TZ: 'UTC' } })
      .stdout.toString('utf8')
      .trim()
      .split('\n')
      .map((l) => l.replace(/\s+/g, ' '));

  /** A folder with a file of every kind a user's folder holds. */
  function makeFolder(name: string): string {
    const dir = path.join(t.dir, name);
    mkdirSync(path.join(dir, 'app', 'lib'), { recursive: true });
    mkdirSync(path.join(dir, 'etc'));
    writeFileSync(path.join(dir, 'app', 'hello'), '#!/bin/sh\necho hello\n');
    chmodSync(path.join(dir, 'app', 'hello'), 0o755);
    writeFileSync(path.join(dir, 'app', 'secret.key'), 'k');
    chmodSync(path.join(dir, 'app', 'secret.key'), 0o600);
    writeFileSync(path.join(dir, 'app', 'lib', 'data.txt'), 'data\n');
    linkSync(path.join(dir, 'app', 'lib', 'data.txt'), path.join(dir, 'app', 'lib', 'data2.txt'));
    symlinkSync('/etc/passwd', path.join(dir, 'app', 'passwd-link'));
    symlinkSync('../../..', path.join(dir, 'app', 'lib', 'up'));
    symlinkSync('/', path.join(dir, 'root-link'));
    writeFileSync(path.join(dir, 'etc', 'motd'), 'welcome\n');
    chmodSync(path.join(dir, 'app', 'lib'), 0o750);
    return dir;
  }

  before(() => {
    t = tempDir('rootfs');
    mkdirSync(path.join(t.dir, 'tmp'));
    ensureTool('cpio', 'cpio');
  });
  after(() => t.cleanup());
  afterEach(() => assert.deepEqual(readdirSync(path.join(t.dir, 'tmp')), [], 'the build removed its temporary folder'));

  it('writes the folder under rootfs/ in walk order, owner 0:0, one time, its own modes, then cmd, env', async () => {
    const dir = makeFolder('layout');
    const result = await build(spec(dir));
    const lines = listing(customer(result.output));
    // Every entry: owner 0 0 and 2017-04-18 (linuxkit's time), whatever the folder's owner and times.
    for (const l of lines) assert.match(l, / 0 0 .*Apr 18 2017 /, l);
    const strip = (l: string) => {
      const f = l.split(' ');
      // mode, links, uid, gid, size, month, day, year, name [-> target]
      return [f[0], f[4], ...f.slice(8)].join(' ');
    };
    assert.deepEqual(lines.map(strip), [
      'drwxr-xr-x 0 rootfs',
      'drwxr-xr-x 0 rootfs/app',
      '-rwxr-xr-x 21 rootfs/app/hello',
      'drwxr-x--- 0 rootfs/app/lib',
      '-rw-r--r-- 5 rootfs/app/lib/data.txt',
      // A second path of a file is a relative symlink (as linuxkit writes a tar hard link), with the file's mode.
      'lrw-r--r-- 8 rootfs/app/lib/data2.txt -> data.txt',
      'lrwxrwxrwx 8 rootfs/app/lib/up -> ../../..',
      'lrwxrwxrwx 11 rootfs/app/passwd-link -> /etc/passwd',
      '-rw------- 1 rootfs/app/secret.key',
      'drwxr-xr-x 0 rootfs/etc',
      '-rw-r--r-- 8 rootfs/etc/motd',
      'lrwxrwxrwx 1 rootfs/root-link -> /',
      // linuxkit's touch entries the folder lacks, then nitro-cli's files: section.
      'drwxr-xr-x 0 rootfs/dev',
      'drwxr-xr-x 0 rootfs/dev/pts',
      'drwxr-xr-x 0 rootfs/dev/shm',
      '-rw-r--r-- 160 rootfs/etc/hosts',
      'lrwxr-xr-x 12 rootfs/etc/mtab -> /proc/mounts',
      'lrw-r--r-- 27 rootfs/etc/resolv.conf -> /run/resolvconf/resolv.conf',
      'drwxr-xr-x 0 rootfs/proc',
      'drwxr-xr-x 0 rootfs/sys',
      'drwxr-xr-x 0 rootfs',
      'drwxr-xr-x 0 rootfs/dev',
      'drwxr-xr-x 0 rootfs/run',
      'drwxr-xr-x 0 rootfs/sys',
      'drwxr-xr-x 0 rootfs/var',
      'drwxr-xr-x 0 rootfs/proc',
      'drwxr-xr-x 0 rootfs/tmp',
      '-rw-r--r-- 15 cmd',
      '-rw-r--r-- 18 env',
    ]);
    // Extracted by GNU cpio: the same bytes as the folder, cmd and env one per line.
    const x = path.join(t.dir, 'x-layout');
    mkdirSync(x);
    run('sh', ['-c', `cpio -idm --no-absolute-filenames --quiet < '${customer(result.output)}'`], { cwd: x });
    assert.equal(readFileSync(path.join(x, 'cmd'), 'utf8'), '/app/hello\na b\n');
    assert.equal(readFileSync(path.join(x, 'env'), 'utf8'), 'GREETING=hi\nX=a=b\n');
    assert.ok(readFileSync(path.join(x, 'rootfs/app/hello')).equals(readFileSync(path.join(dir, 'app/hello'))));
    // The symlinks were stored, not followed: nothing of /etc/passwd or / came in.
    assert.equal(readlinkSync(path.join(x, 'rootfs/app/passwd-link')), '/etc/passwd');
    assert.equal(lstatSync(path.join(x, 'rootfs/root-link')).isSymbolicLink(), true);
    assert.equal(result.stats.entries, 11);
    assert.equal(result.image.platform, 'linux/amd64');
  });

  it('keeps the metadata honest: the folder name, the ramdisk digest as version, Cmd and Env', async () => {
    const dir = makeFolder('meta');
    const result = await build(spec(dir));
    assert.equal(result.metadata.ImageName, 'meta');
    assert.match(result.metadata.ImageVersion, /^[0-9a-f]{64}$/);
    assert.deepEqual(result.metadata.DockerInfo, {
      Architecture: 'amd64',
      Config: { Cmd: ['/app/hello', 'a b'], Env: ['GREETING=hi', 'X=a=b'] },
      Os: 'linux',
    });
    const named = await build(spec(dir), { name: 'app', version: '1.0' });
    assert.equal(named.metadata.ImageName, 'app');
    assert.equal(named.metadata.ImageVersion, '1.0');
  });

  it('is reproducible: the same folder twice, and a copy with other times, give the same bytes', async () => {
    const dir = makeFolder('repro');
    const a = await build(spec(dir));
    const b = await build(spec(dir));
    assert.deepEqual(await compareEifFiles(a.output, b.output), {
      identical: true,
      size: a.size,
      sha384: ((await compareEifFiles(a.output, a.output)) as { sha384: string }).sha384,
    });
    const copy = path.join(t.dir, 'repro-copy');
    run('cp', ['-a', dir, copy]); // keeps the hard link (fs.cpSync would make two files)
    for (const f of ['app/hello', 'etc/motd', 'app', 'etc', '.']) utimesSync(path.join(copy, f), 1e9, 1e9);
    const c = await build(spec(copy), { name: 'repro' });
    assert.equal(c.measurements.PCR2, a.measurements.PCR2);
    assert.equal((await compareEifFiles(a.output, c.output)).identical, true);
    // A mode is part of the image: another mode, another PCR2.
    chmodSync(path.join(copy, 'etc', 'motd'), 0o600);
    const d = await build(spec(copy), { name: 'repro' });
    assert.notEqual(d.measurements.PCR2, a.measurements.PCR2);
  });

  it('stores a FIFO as a FIFO', async () => {
    const dir = path.join(t.dir, 'fifo');
    mkdirSync(dir);
    spawnSync('mkfifo', [path.join(dir, 'pipe')]);
    const lines = listing(customer((await build(spec(dir))).output));
    assert.ok(
      lines.some((l) => /^prw-r--r-- .* rootfs\/pipe$/.test(l)),
      lines.join('\n'),
    );
  });

  it('takes a symlink to a folder as the folder, and never follows a link inside it', async () => {
    const dir = makeFolder('via-link');
    const link = path.join(t.dir, 'link-to-folder');
    symlinkSync(dir, link);
    const a = await build(spec(link), { name: 'x' });
    const b = await build(spec(dir), { name: 'x' });
    assert.equal(a.measurements.PCR2, b.measurements.PCR2);
  });

  describe('hostile or unusable folders are refused, naming the path, and nothing is written', () => {
    const refused = async (source: RootfsSpec, pattern: RegExp, o: Partial<BuildOptions> = {}) => {
      const output = out();
      const e = await rejection(build(source, { output, ...o }));
      assert.ok(e instanceof Error, String(e));
      assert.match(e.message, pattern);
      assert.deepEqual(
        readdirSync(t.dir).filter((f) => f === path.basename(output)),
        [],
        'no output file',
      );
      return e;
    };

    it('a socket in the folder', async () => {
      const dir = path.join(t.dir, 'sock');
      mkdirSync(dir);
      const server = net.createServer();
      await new Promise<void>((resolve) => server.listen(path.join(dir, 's.sock'), resolve));
      try {
        const e = await refused(spec(dir), /"s\.sock" is a socket/);
        assert.ok(e instanceof RootfsError);
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it('a name that is not UTF-8', async () => {
      const dir = path.join(t.dir, 'latin1');
      mkdirSync(dir);
      writeFileSync(Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9])]), 'x');
      await refused(spec(dir), /not UTF-8/);
    });

    it('a missing folder, a file instead of a folder, an empty command', async () => {
      await refused(spec(path.join(t.dir, 'nope')), /does not exist/);
      writeFileSync(path.join(t.dir, 'plain-file'), 'x');
      await refused(spec(path.join(t.dir, 'plain-file')), /is not a folder/);
      mkdirSync(path.join(t.dir, 'empty'));
      await refused(spec(path.join(t.dir, 'empty'), { cmd: [] }), /command to run is empty/);
      await refused(spec(path.join(t.dir, 'empty'), { cmd: ['a\nb'] }), /newline/);
      await refused(spec(path.join(t.dir, 'empty'), { env: ['A=1\nB=2'] }), /newline/);
    });

    it('a file that grows while it is read', async () => {
      const dir = path.join(t.dir, 'grows');
      mkdirSync(dir);
      const file = path.join(dir, 'big.bin');
      writeFileSync(file, Buffer.alloc(4 << 20));
      let appended = false;
      const spool = await SpoolStore.create(t.dir);
      try {
        const e = await rejection(
          readRootfs(dir, spool, {
            onBytes: () => {
              if (appended) return;
              appended = true;
              appendFileSync(file, 'more');
            },
          }),
        );
        assert.ok(e instanceof RootfsError, String(e));
        assert.match(
          e.message,
          /"big\.bin" (grew|was modified) while it was read: the folder changed during the build/,
        );
      } finally {
        await spool.close();
      }
    });

    it('a folder that gains an entry while it is read', async () => {
      const dir = path.join(t.dir, 'gains');
      mkdirSync(path.join(dir, 'sub'), { recursive: true });
      writeFileSync(path.join(dir, 'sub', 'a.bin'), Buffer.alloc(1024));
      let added = false;
      const spool = await SpoolStore.create(t.dir);
      try {
        const e = await rejection(
          readRootfs(dir, spool, {
            onBytes: () => {
              if (added) return;
              added = true;
              writeFileSync(path.join(dir, 'sub', 'b.bin'), 'new');
            },
          }),
        );
        assert.ok(e instanceof RootfsError, String(e));
        assert.match(e.message, /"sub" had entries added, removed or renamed while it was read/);
      } finally {
        await spool.close();
      }
    });
  });
});
