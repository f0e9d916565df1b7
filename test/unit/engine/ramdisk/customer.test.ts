// The customer ramdisk (src/engine/ramdisk/customer.ts): nitro-cli's cmd/env rules (spec 6.5,
// P17), the linuxkit layout and rewrites (spec 6.6), every header field checked by a newc parser
// written here from the spec text, and GNU cpio listing and unpacking the archive.
import * as assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ImageTree, type ContentRef, type ContentStore, type FsEntry } from '../../../../src/engine/oci/flatten';
import { MemoryByteSource, type ByteSource } from '../../../../src/engine/platform/byteSource';
import { CHUNK_SIZE } from '../../../../src/engine/ramdisk/cpio';
import {
  CustomerRamdiskError,
  LINUXKIT_HOSTS,
  commandAndEnv,
  linesFile,
  writeCustomerRamdisk,
} from '../../../../src/engine/ramdisk/customer';
import {
  END,
  Prng,
  SPEC_MTIME,
  concat,
  ensureTool,
  patternBytes,
  rejection,
  run,
  tarEntry,
  tempDir,
  type TarFields,
} from './helpers';

class MemoryStore implements ContentStore {
  private parts: Buffer[] = [];
  private length = 0;
  async put(data: AsyncIterable<Uint8Array>, size: number): Promise<ContentRef> {
    const offset = this.length;
    for await (const c of data) {
      this.parts.push(Buffer.from(c));
      this.length += c.length;
    }
    assert.equal(this.length - offset, size);
    return { offset, size };
  }
  source(): MemoryByteSource {
    return new MemoryByteSource(Buffer.concat(this.parts), 'store');
  }
}

const file = (name: string, data: string | Uint8Array = '', f: Partial<TarFields> = {}) =>
  tarEntry({ name, type: '0', ...f }, typeof data === 'string' ? Buffer.from(data) : data);
const dir = (name: string, f: Partial<TarFields> = {}) => tarEntry({ name: `${name}/`, type: '5', mode: 0o755, ...f });

async function* chunks(parts: Buffer[]): AsyncGenerator<Uint8Array> {
  yield concat(...parts, END);
}

async function image(parts: Buffer[]) {
  const tree = new ImageTree();
  const store = new MemoryStore();
  await tree.applyLayer(chunks(parts), { index: 0, name: 'test' }, store);
  return { entries: [...tree.walk()], content: store.source() };
}

async function ramdisk(entries: Iterable<FsEntry>, content: ByteSource, cmdEnv = { cmd: ['/bin/app'], env: ['A=1'] }) {
  const out: Buffer[] = [];
  const progress: number[] = [];
  const size = await writeCustomerRamdisk(entries, content, cmdEnv, (c) => void out.push(Buffer.from(c)), {
    onBytes: (n) => progress.push(n),
  });
  const bytes = Buffer.concat(out);
  assert.equal(size, bytes.length);
  assert.equal(progress.at(-1), size);
  return bytes;
}

interface Parsed {
  name: string;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  filesize: number;
  devmajor: number;
  devminor: number;
  rdevmajor: number;
  rdevminor: number;
  check: number;
  data: Buffer;
}

/** Parses a newc archive per spec 6.6, checking the layout rules as it goes. */
function parseNewc(bytes: Buffer): Parsed[] {
  const out: Parsed[] = [];
  let at = 0;
  for (;;) {
    assert.equal(at % 4, 0, `header at ${at} is 4-aligned`);
    const text = bytes.subarray(at, at + 110).toString('latin1');
    assert.match(text, /^070701[0-9a-f]{104}$/, `header at ${at}: magic and lower-case hex`);
    const f = (i: number) => parseInt(text.slice(6 + 8 * i, 14 + 8 * i), 16);
    const namesize = f(11);
    const name = bytes.subarray(at + 110, at + 110 + namesize - 1).toString('utf8');
    assert.equal(bytes[at + 110 + namesize - 1], 0, `${name}: NUL after the name`);
    let p = at + 110 + namesize;
    while (p % 4 !== 0) assert.equal(bytes[p++], 0, `${name}: name padding is zero`);
    const filesize = f(6);
    const data = bytes.subarray(p, p + filesize);
    p += filesize;
    while (p % 4 !== 0) assert.equal(bytes[p++], 0, `${name}: data padding is zero`);
    const e: Parsed = {
      name,
      ino: f(0),
      mode: f(1),
      uid: f(2),
      gid: f(3),
      nlink: f(4),
      mtime: f(5),
      filesize,
      devmajor: f(7),
      devminor: f(8),
      rdevmajor: f(9),
      rdevminor: f(10),
      check: f(12),
      data,
    };
    at = p;
    if (name === 'TRAILER!!!') {
      assert.deepEqual(
        [e.mode, e.uid, e.gid, e.mtime, e.filesize, e.nlink, e.devmajor, e.devminor],
        [0, 0, 0, 0, 0, 1, 3, 1],
      );
      assert.equal(bytes.length % 512, 0, 'archive padded to 512');
      assert.ok(
        bytes.subarray(at).every((b) => b === 0),
        'final padding is zero',
      );
      assert.ok(bytes.length - at < 512, 'no more than one block of padding');
      out.push(e);
      break;
    }
    out.push(e);
  }
  // Inodes count up from 721, one per entry; only the further paths of a hard-linked symlink repeat
  // the inode of its first path (all of them with nlink = their number, each with the target).
  const paths = new Map<number, Parsed[]>();
  let next = 721;
  for (const e of out) {
    const same = paths.get(e.ino);
    if (same) {
      const first = same[0] as Parsed;
      assert.equal(e.mode & 0o170000, 0o120000, `${e.name}: only symlinks share an inode`);
      assert.equal(first.mode & 0o170000, 0o120000, `${e.name}: shares the inode of the symlink ${first.name}`);
      assert.ok(e.data.equals(first.data), `${e.name}: the same target as ${first.name}`);
      same.push(e);
    } else {
      assert.equal(e.ino, next++, `${e.name}: inode`);
      paths.set(e.ino, [e]);
    }
  }
  for (const e of out) {
    assert.equal(e.devmajor, 3, e.name);
    assert.equal(e.devminor, 1, e.name);
    assert.equal(e.check, 0, e.name);
    const links = (paths.get(e.ino) as Parsed[]).length;
    if (e.name !== 'TRAILER!!!')
      assert.equal(e.nlink, links > 1 ? links : (e.mode & 0o170000) === 0o040000 ? 2 : 1, `${e.name}: nlink`);
  }
  return out;
}

const FILES_SECTION = [
  'rootfs',
  'rootfs/dev',
  'rootfs/run',
  'rootfs/sys',
  'rootfs/var',
  'rootfs/proc',
  'rootfs/tmp',
  'cmd',
  'env',
  'TRAILER!!!',
];

describe('(unit) engine ramdisk: customer ramdisk', () => {
  describe('commandAndEnv (nitro-cli rules, P17)', () => {
    it('takes Cmd when it is set, ignoring the Entrypoint (never combined)', () => {
      assert.deepEqual(commandAndEnv({ cmd: ['run', '--x'], entrypoint: ['/entry.sh'], env: ['A=1'] }), {
        cmd: ['run', '--x'],
        env: ['A=1'],
      });
      assert.deepEqual(
        commandAndEnv({ cmd: [], entrypoint: ['/entry.sh'], env: [] }).cmd,
        [],
        'an empty but non-null Cmd still wins',
      );
    });

    it('takes the Entrypoint when Cmd is null', () => {
      assert.deepEqual(commandAndEnv({ cmd: null, entrypoint: ['/entry.sh', 'a b'], env: [] }), {
        cmd: ['/entry.sh', 'a b'],
        env: [],
      });
    });

    it('refuses an image with neither (unsupported entry point)', () => {
      assert.throws(
        () => commandAndEnv({ cmd: null, entrypoint: null, env: ['A=1'] }),
        (e: unknown) =>
          e instanceof CustomerRamdiskError && e.code === 'no-entry-point' && /unsupported entry point/.test(e.message),
      );
    });

    it('refuses elements with a newline or NUL, naming them', () => {
      assert.throws(
        () => commandAndEnv({ cmd: ['sh', '-c', 'echo a\necho b'], entrypoint: null, env: [] }),
        (e: unknown) =>
          e instanceof CustomerRamdiskError &&
          e.code === 'newline-in-argument' &&
          e.message.includes('element 2') &&
          e.message.includes('echo a\\necho b'),
      );
      assert.throws(
        () => commandAndEnv({ cmd: null, entrypoint: ['a\0b'], env: [] }),
        (e: unknown) => e instanceof CustomerRamdiskError && e.code === 'newline-in-argument',
      );
      assert.throws(
        () => commandAndEnv({ cmd: ['x'], entrypoint: null, env: ['A=1', 'B=2\n3'] }),
        (e: unknown) =>
          e instanceof CustomerRamdiskError && e.code === 'newline-in-env' && e.message.includes('element 1'),
      );
    });

    it('linesFile: each element and "\\n", UTF-8; empty for none (the spec’s hello example)', () => {
      const { cmd, env } = commandAndEnv({
        cmd: ['/bin/hello.sh'],
        entrypoint: null,
        env: [
          'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
          'HELLO=Hello from the enclave side!',
        ],
      });
      assert.equal(Buffer.from(linesFile(cmd)).toString(), '/bin/hello.sh\n');
      assert.equal(
        Buffer.from(linesFile(env)).toString(),
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nHELLO=Hello from the enclave side!\n',
      );
      assert.equal(linesFile([]).length, 0);
      assert.deepEqual([...linesFile(['é'])], [0xc3, 0xa9, 0x0a]);
    });
  });

  describe('archive layout', () => {
    it('an empty image: rootfs, every touch entry in sorted order, the files section, cmd and env', async () => {
      const bytes = await ramdisk([], new MemoryByteSource(new Uint8Array(0)), { cmd: ['/bin/hello.sh'], env: [] });
      const parsed = parseNewc(bytes);
      assert.deepEqual(
        parsed.map((e) => e.name),
        [
          'rootfs',
          'rootfs/dev',
          'rootfs/dev/pts',
          'rootfs/dev/shm',
          'rootfs/etc',
          'rootfs/etc/hosts',
          'rootfs/etc/mtab',
          'rootfs/etc/resolv.conf',
          'rootfs/proc',
          'rootfs/sys',
          ...FILES_SECTION,
        ],
      );
      const by = (n: string, k = 0) => parsed.filter((e) => e.name === n)[k] as Parsed;
      for (const e of parsed.slice(0, -1)) {
        assert.equal(e.mtime, SPEC_MTIME, `${e.name}: linuxkit's mtime`);
        assert.equal(e.uid, 0);
        assert.equal(e.gid, 0);
      }
      for (const d of [
        'rootfs',
        'rootfs/dev',
        'rootfs/dev/pts',
        'rootfs/dev/shm',
        'rootfs/etc',
        'rootfs/proc',
        'rootfs/sys',
        'rootfs/run',
        'rootfs/var',
        'rootfs/tmp',
      ]) {
        assert.equal(by(d).mode, 0o040755, d);
      }
      assert.equal(by('rootfs/etc/hosts').mode, 0o100644);
      assert.equal(by('rootfs/etc/hosts').data.toString(), LINUXKIT_HOSTS);
      assert.equal(by('rootfs/etc/mtab').mode, 0o120755);
      assert.equal(by('rootfs/etc/mtab').data.toString(), '/proc/mounts');
      assert.equal(by('rootfs/etc/resolv.conf').mode, 0o120644);
      assert.equal(by('rootfs/etc/resolv.conf').data.toString(), '/run/resolvconf/resolv.conf');
      assert.equal(by('cmd').mode, 0o100644);
      assert.equal(by('cmd').data.toString(), '/bin/hello.sh\n');
      assert.equal(by('env').mode, 0o100644);
      assert.equal(by('env').filesize, 0);
      assert.equal(by('rootfs', 1).mode, 0o040755);
    });

    it('linuxkit’s hosts text is the one in image.go', () => {
      assert.equal(
        LINUXKIT_HOSTS,
        '127.0.0.1       localhost\n::1     localhost ip6-localhost ip6-loopback\nfe00::0 ' +
          'ip6-localnet\nff00::0 ip6-mcastprefix\nff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n',
      );
    });

    it('rewrites the image: drops, replacements, touched mtimes, hard links as relative symlinks', async () => {
      const { entries, content } = await image([
        file('.dockerenv'),
        file('Dockerfile', 'FROM scratch'),
        dir('bin', { mtime: 11 }),
        file('bin/hello.sh', '#!/bin/sh\necho hi\n', { mode: 0o755, uid: 1000, gid: 1001, mtime: 12 }),
        dir('dev', { mtime: 13, mode: 0o751 }),
        tarEntry({ name: 'dev/console', type: '3', devMajor: 5, devMinor: 1, mode: 0o600 }),
        dir('dev/pts', { mode: 0o700, mtime: 14 }),
        tarEntry({ name: 'dev/pts/ptmx', type: '3', devMajor: 5, devMinor: 2, mode: 0o666, mtime: 15 }),
        dir('etc', { mtime: 16 }),
        file('etc/hostname', 'box'),
        file('etc/hosts', '10.0.0.1 x', { mode: 0o600, uid: 3, gid: 4, mtime: 17 }),
        file('etc/resolv.conf', 'nameserver 1.1.1.1', { mode: 0o640, uid: 5, mtime: 18 }),
        dir('proc', { mode: 0o555, mtime: 19 }),
        tarEntry({ name: 'tmp/fifo', type: '6', mode: 0o620, mtime: 20 }),
        file('usr/bin/a', 'AAAA', { mode: 0o711, mtime: 21 }),
        tarEntry({ name: 'usr/lib/b', type: '1', linkName: 'usr/bin/a' }),
        tarEntry({ name: 'usr/lib/s', type: '2', linkName: '../bin/a', mode: 0o777, mtime: 22 }),
        tarEntry({ name: 'usr/lib/blk', type: '4', devMajor: 8, devMinor: 16, mode: 0o660, mtime: 23 }),
      ]);
      const parsed = parseNewc(await ramdisk(entries, content));
      assert.deepEqual(
        parsed.map((e) => e.name),
        [
          'rootfs',
          'rootfs/bin',
          'rootfs/bin/hello.sh',
          'rootfs/dev',
          'rootfs/dev/pts',
          'rootfs/dev/pts/ptmx',
          'rootfs/etc',
          'rootfs/etc/hosts',
          'rootfs/etc/resolv.conf',
          'rootfs/proc',
          'rootfs/tmp',
          'rootfs/tmp/fifo',
          'rootfs/usr',
          'rootfs/usr/bin',
          'rootfs/usr/bin/a',
          'rootfs/usr/lib',
          'rootfs/usr/lib/b',
          'rootfs/usr/lib/blk',
          'rootfs/usr/lib/s',
          'rootfs/dev/shm',
          'rootfs/etc/mtab',
          'rootfs/sys',
          ...FILES_SECTION,
        ],
      );
      const by = (n: string) => parsed.find((e) => e.name === n) as Parsed;
      const summary = (n: string) => {
        const e = by(n);
        return [e.mode.toString(8), e.uid, e.gid, e.mtime, e.filesize, e.rdevmajor, e.rdevminor];
      };
      assert.deepEqual(summary('rootfs/bin'), ['40755', 0, 0, 11, 0, 0, 0]);
      assert.deepEqual(summary('rootfs/bin/hello.sh'), ['100755', 1000, 1001, 12, 18, 0, 0]);
      assert.equal(by('rootfs/bin/hello.sh').data.toString(), '#!/bin/sh\necho hi\n');
      assert.deepEqual(
        summary('rootfs/dev'),
        ['40751', 0, 0, SPEC_MTIME, 0, 0, 0],
        'touched: own metadata, linuxkit mtime',
      );
      assert.deepEqual(
        summary('rootfs/dev/pts'),
        ['40700', 0, 0, SPEC_MTIME, 0, 0, 0],
        'a dev/pts directory is a touch entry, not dropped',
      );
      assert.deepEqual(summary('rootfs/dev/pts/ptmx'), ['20666', 0, 0, 15, 0, 5, 2]);
      assert.deepEqual(summary('rootfs/etc'), ['40755', 0, 0, SPEC_MTIME, 0, 0, 0]);
      assert.deepEqual(summary('rootfs/etc/hosts'), ['100600', 3, 4, SPEC_MTIME, LINUXKIT_HOSTS.length, 0, 0]);
      assert.equal(by('rootfs/etc/hosts').data.toString(), LINUXKIT_HOSTS);
      assert.deepEqual(summary('rootfs/etc/resolv.conf'), ['120640', 5, 0, SPEC_MTIME, 27, 0, 0]);
      assert.equal(by('rootfs/etc/resolv.conf').data.toString(), '/run/resolvconf/resolv.conf');
      assert.deepEqual(summary('rootfs/proc'), ['40555', 0, 0, SPEC_MTIME, 0, 0, 0]);
      assert.deepEqual(
        summary('rootfs/tmp'),
        ['40755', 0, 0, 20, 0, 0, 0],
        'an implicit parent: 0755, the child’s mtime',
      );
      assert.deepEqual(summary('rootfs/tmp/fifo'), ['10620', 0, 0, 20, 0, 0, 0]);
      assert.deepEqual(
        summary('rootfs/usr/lib/b'),
        ['120711', 0, 0, 21, 8, 0, 0],
        'hard link: a symlink with the inode’s metadata',
      );
      assert.equal(by('rootfs/usr/lib/b').data.toString(), '../bin/a');
      assert.equal(by('rootfs/usr/lib/s').data.toString(), '../bin/a');
      assert.deepEqual(summary('rootfs/usr/lib/blk'), ['60660', 0, 0, 23, 0, 8, 16]);
      assert.deepEqual(summary('rootfs/dev/shm'), ['40755', 0, 0, SPEC_MTIME, 0, 0, 0]);
      assert.equal(by('cmd').data.toString(), '/bin/app\n');
      assert.equal(by('env').data.toString(), 'A=1\n');
    });

    it('drops dev/pts and dev/shm only when they are not directories (docker export names)', async () => {
      const { entries, content } = await image([
        dir('dev'),
        file('dev/pts', 'x'),
        file('dev/shm', 'y'),
        dir('etc/hostname'),
      ]);
      const names = parseNewc(await ramdisk(entries, content)).map((e) => e.name);
      // The files dev/pts and dev/shm go; the directory etc/hostname stays; the touch list then adds
      // the directories dev/pts and dev/shm.
      assert.deepEqual(names, [
        'rootfs',
        'rootfs/dev',
        'rootfs/etc',
        'rootfs/etc/hostname',
        'rootfs/dev/pts',
        'rootfs/dev/shm',
        'rootfs/etc/hosts',
        'rootfs/etc/mtab',
        'rootfs/etc/resolv.conf',
        'rootfs/proc',
        'rootfs/sys',
        ...FILES_SECTION,
      ]);
    });

    it('reads file data in bounded chunks, never a whole large file', async () => {
      const big = patternBytes(9, 3 * CHUNK_SIZE + 17);
      const { entries, content } = await image([file('big', big)]);
      let largest = 0;
      const spy: ByteSource = {
        size: content.size,
        name: 'spy',
        read: (o, n) => {
          largest = Math.max(largest, n);
          return content.read(o, n);
        },
        close: async () => undefined,
      };
      const parsed = parseNewc(await ramdisk(entries, spy));
      assert.ok(largest <= CHUNK_SIZE, `largest read ${largest}`);
      assert.ok(Buffer.compare(parsed.find((e) => e.name === 'rootfs/big')?.data as Buffer, Buffer.from(big)) === 0);
    });

    it('refuses a command or env that cannot be written, before writing anything', async () => {
      let wrote = 0;
      const e = await rejection(
        writeCustomerRamdisk(
          [],
          new MemoryByteSource(new Uint8Array(0)),
          { cmd: ['a'], env: ['X=1\n'] },
          (c) => void (wrote += c.length),
        ),
      );
      assert.ok(e instanceof CustomerRamdiskError && e.code === 'newline-in-env', String(e));
      assert.equal(wrote, 0);
    });
  });

  it(
    'a hard link to a symlink stays one: the same target ' + 'and inode (nlink 2), as GNU tar and GNU cpio unpack them',
    async function () {
      this.timeout(60_000);
      ensureTool('tar', 'tar');
      ensureTool('cpio', 'cpio');
      const layer = [
        tarEntry({ name: 's', type: '2', linkName: '/etc/passwd', mode: 0o777, mtime: 30 }),
        tarEntry({ name: 'h', type: '1', linkName: 's' }),
        file('x', 'top'),
        dir('a'),
        dir('b'),
        dir('b/c'),
        file('b/x', 'in b'),
        // A relative target resolves from the directory of the path used, so it must not be re-pointed.
        tarEntry({ name: 'b/c/s', type: '2', linkName: '../x', mode: 0o777, mtime: 31 }),
        tarEntry({ name: 'a/h', type: '1', linkName: 'b/c/s' }),
      ];
      const t = tempDir('hardlinked-symlink');
      try {
        const tarFile = path.join(t.dir, 'layer.tar');
        writeFileSync(tarFile, concat(...layer, END));
        const ref = path.join(t.dir, 'tar-x');
        mkdirSync(ref);
        run('tar', ['-xf', tarFile, '-C', ref]);
        const { entries, content } = await image(layer);
        const archive = path.join(t.dir, 'customer.cpio');
        const bytes = await ramdisk(entries, content);
        writeFileSync(archive, bytes);
        const parsed = parseNewc(bytes);
        const by = (n: string) => parsed.find((e) => e.name === `rootfs/${n}`) as Parsed;
        const x = path.join(t.dir, 'cpio-x');
        mkdirSync(x);
        run('cpio', ['-i', '-d', '-m', '--quiet', '--no-absolute-filenames', '-D', x, '-F', archive]);
        for (const [a, b] of [
          ['h', 's'],
          ['a/h', 'b/c/s'],
        ] as const) {
          // GNU tar: one inode, two paths, one target.
          assert.equal(
            lstatSync(path.join(ref, a)).ino,
            lstatSync(path.join(ref, b)).ino,
            `tar: ${a} and ${b} are one inode`,
          );
          assert.equal(lstatSync(path.join(ref, a)).nlink, 2);
          const target = readlinkSync(path.join(ref, b));
          assert.equal(readlinkSync(path.join(ref, a)), target);
          // The ramdisk: one inode number, nlink 2, both symlinks with that target.
          assert.equal(by(a).ino, by(b).ino, `cpio: ${a} and ${b} share the inode number`);
          for (const n of [a, b]) {
            assert.equal(by(n).mode, 0o120777, n);
            assert.equal(by(n).nlink, 2, n);
            assert.equal(by(n).data.toString(), target, n);
            // GNU cpio unpacks the same link target as GNU tar (each path a symlink to it).
            assert.equal(readlinkSync(path.join(x, 'rootfs', n)), target, `cpio -i: ${n}`);
            assert.equal(
              readFileSync(path.join(x, 'rootfs', n), 'utf8'),
              readFileSync(path.join(ref, n), 'utf8'),
              `${n} resolves to the same file`,
            );
          }
        }
      } finally {
        t.cleanup();
      }
    },
  );

  describe('GNU cpio reads the archive of a random image', () => {
    for (const seed of [31, 32, 33]) {
      it(
        `seed ${seed}: the listing is the archive’s names; ` +
          `the unpacked tree has the image’s files, links and modes`,
        async function () {
          this.timeout(120_000);
          ensureTool('cpio', 'cpio');
          const rng = new Prng(seed);
          const parts: Buffer[] = [dir('etc', { mode: 0o755 })];
          const expectFiles = new Map<string, { mode: number; data: Buffer }>();
          const expectLinks = new Map<string, string>();
          const dirs = ['app', 'app/lib', 'usr', 'usr/share/ü', 'data'];
          for (const d of dirs) parts.push(dir(d, { mode: rng.pick([0o755, 0o750, 0o700]) }));
          const filePaths: string[] = [];
          for (let i = 0; i < 25; i++) {
            const p = `${rng.pick(dirs)}/f${i}${rng.pick(['', '.so', '.txt', ' x'])}`;
            const size = rng.pick([0, 1, 3, 4, 5, 511, 4096, 70000]);
            const data = Buffer.from(patternBytes(seed * 100 + i, size));
            const mode = rng.pick([0o644, 0o600, 0o755, 0o700]);
            parts.push(file(p, data, { mode, uid: rng.int(0, 2000), gid: rng.int(0, 2000) }));
            expectFiles.set(p, { mode, data });
            filePaths.push(p);
          }
          for (let i = 0; i < 5; i++) {
            const p = `app/link${i}`;
            const target = rng.pick(filePaths);
            parts.push(tarEntry({ name: p, type: '1', linkName: target }));
            expectLinks.set(p, target);
          }
          parts.push(tarEntry({ name: 'app/sym', type: '2', linkName: '/usr/bin/env', mode: 0o777 }));
          const { entries, content } = await image(parts);
          const bytes = await ramdisk(entries, content, { cmd: ['/app/f1', 'arg with space'], env: ['K=V'] });
          const parsed = parseNewc(bytes);
          const { dir: tmp, cleanup } = tempDir('customer-cpio');
          try {
            const archive = path.join(tmp, 'customer-initrd.img');
            writeFileSync(archive, bytes);
            const listing = run('cpio', ['-i', '-t', '--quiet', '-F', archive])
              .stdout.toString('utf8')
              .trimEnd()
              .split('\n');
            assert.deepEqual(
              listing,
              parsed.slice(0, -1).map((e) => e.name),
            );
            const x = path.join(tmp, 'x');
            run('mkdir', ['-p', x]);
            run('cpio', ['-i', '-d', '-m', '--quiet', '--no-absolute-filenames', '-D', x, '-F', archive]);
            const root = path.join(x, 'rootfs');
            // The unpacked tree is the flattened tree: the first path of an inode in walk order is
            // the file, later paths are relative symlinks to it.
            const dataOf = (p: string): Buffer => (expectFiles.get(expectLinks.get(p) ?? p) as { data: Buffer }).data;
            for (const e of entries) {
              if (e.path.startsWith('etc/')) continue; // rewritten, checked below
              const full = path.join(root, e.path);
              const st = lstatSync(full);
              if (e.type === 'directory') {
                assert.ok(st.isDirectory(), e.path);
                assert.equal(st.mode & 0o7777, e.mode, `${e.path}: mode`);
              } else if (e.type === 'file') {
                assert.ok(st.isFile(), e.path);
                assert.equal(st.mode & 0o7777, e.mode, `${e.path}: mode`);
                assert.ok(readFileSync(full).equals(dataOf(e.path)), `${e.path}: content`);
                if (process.getuid?.() === 0) assert.deepEqual([st.uid, st.gid], [e.uid, e.gid], `${e.path}: owner`);
              } else if (e.type === 'hardlink') {
                assert.ok(st.isSymbolicLink(), e.path);
                assert.equal(
                  path.posix.join(path.posix.dirname(e.path), readlinkSync(full)),
                  e.linkName,
                  `${e.path}: relative symlink to ${e.linkName}`,
                );
                assert.ok(readFileSync(full).equals(dataOf(e.path)), `${e.path}: resolves to the data`);
              } else {
                assert.equal(e.type, 'symlink', e.path);
                assert.equal(readlinkSync(full), e.linkName, e.path);
              }
            }
            assert.ok(entries.some((e) => e.type === 'hardlink'));
            for (const [p, f] of expectFiles)
              assert.ok(readFileSync(path.join(root, p)).equals(f.data), `${p}: readable through any path`);
            assert.equal(readlinkSync(path.join(root, 'app/sym')), '/usr/bin/env');
            assert.equal(readlinkSync(path.join(root, 'etc/resolv.conf')), '/run/resolvconf/resolv.conf');
            assert.equal(readlinkSync(path.join(root, 'etc/mtab')), '/proc/mounts');
            assert.equal(readFileSync(path.join(root, 'etc/hosts'), 'utf8'), LINUXKIT_HOSTS);
            for (const d of ['dev', 'dev/pts', 'dev/shm', 'proc', 'sys', 'run', 'var', 'tmp'])
              assert.ok(lstatSync(path.join(root, d)).isDirectory(), d);
            assert.equal(readFileSync(path.join(x, 'cmd'), 'utf8'), '/app/f1\narg with space\n');
            assert.equal(readFileSync(path.join(x, 'env'), 'utf8'), 'K=V\n');
            assert.equal(lstatSync(path.join(x, 'cmd')).mtimeMs / 1000, SPEC_MTIME);
            // Every entry of the image is in the archive under rootfs/, in walk order.
            const imageNames = parsed.map((e) => e.name).filter((n) => n.startsWith('rootfs/'));
            const walkNames = entries.map((e) => `rootfs/${e.path}`).filter((n) => n !== 'rootfs/etc/hostname');
            assert.deepEqual(imageNames.slice(0, walkNames.length), walkNames);
          } finally {
            cleanup();
          }
        },
      );
    }
  });
});
