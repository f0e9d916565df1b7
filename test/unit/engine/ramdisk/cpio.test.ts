// The cpio "newc" writer (src/engine/ramdisk/cpio.ts) against the shared EIF spec section 6.6:
// byte-exact comparison with the test's own encoder (helpers.specNewc, written from the spec
// text), the spec's example header, GNU cpio listing and extracting the writer's archives, and the
// refusals (bad names, out-of-range fields, failing sources and sinks).
import * as assert from 'node:assert/strict';
import { lstatSync, readFileSync, readlinkSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { MemoryByteSource, type ByteSource } from '../../../../src/engine/platform/byteSource';
import { CancelledError, type CancellationLike } from '../../../../src/engine/platform/lifecycle';
import {
  CHUNK_SIZE,
  CpioFormatError,
  CpioWriter,
  LINUXKIT_MTIME,
  MAX_NAME_SIZE,
  bootstrapRamdisk,
  hardLinkAsSymlinkTarget,
  type CpioData,
  type CpioErrorCode,
} from '../../../../src/engine/ramdisk/cpio';
import {
  Prng,
  SPEC_MTIME,
  chunked,
  concat,
  devMajor,
  devMinor,
  ensureTool,
  patternBytes,
  rejection,
  run,
  sha256,
  specNewc,
  tempDir,
  type SpecEntry,
} from './helpers';

/** A sink that keeps every chunk (and their sizes). */
function collector() {
  const chunks: Uint8Array[] = [];
  return {
    chunks,
    sink: (c: Uint8Array) => void chunks.push(c),
    bytes: () => concat(...chunks),
  };
}

const src = (bytes: Uint8Array, name = 'blob') => new MemoryByteSource(bytes, name);

async function expectCode(p: Promise<unknown>, code: CpioErrorCode): Promise<CpioFormatError> {
  const e = await rejection(p);
  assert.ok(e instanceof CpioFormatError, `expected CpioFormatError ${code}, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  assert.match(e.message, new RegExp(`rule: ${code}\\)$`));
  return e;
}

/** Every path below `root`, relative, without following symlinks. */
function walk(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(root, rel))) {
    const r = rel ? `${rel}/${name}` : name;
    out.push(r);
    if (lstatSync(path.join(root, r)).isDirectory()) out.push(...walk(root, r));
  }
  return out;
}

describe('(unit) engine ramdisk: cpio newc writer', () => {
  describe('the bootstrap ramdisk', () => {
    it(
      'starts with the spec’s example header for dev ' + '(070701000002d1000041ed…, then "dev\\0" and 2 zero bytes)',
      async () => {
        const out = collector();
        await bootstrapRamdisk(src(new Uint8Array([1, 2, 3])), src(new Uint8Array([4])), out.sink);
        const bytes = out.bytes();
        const example =
          '070701' +
          '000002d1' +
          '000041ed' +
          '00000000' +
          '00000000' +
          '00000002' +
          '58f63f08' +
          '00000000' +
          '00000003' +
          '00000001' +
          '00000000' +
          '00000000' +
          '00000004' +
          '00000000';
        assert.equal(bytes.subarray(0, 110).toString('latin1'), example);
        assert.deepEqual([...bytes.subarray(110, 116)], [0x64, 0x65, 0x76, 0, 0, 0]);
        assert.equal(SPEC_MTIME, 0x58f63f08);
        assert.equal(LINUXKIT_MTIME, SPEC_MTIME);
      },
    );

    it('equals the spec-built archive byte for byte for blob sizes around every padding case', async () => {
      const rng = new Prng(6400);
      const sizes = [
        [0, 0],
        [1, 2],
        [3, 4],
        [5, 6],
        [7, 8],
        [13, 7],
        [4096, 1],
        [CHUNK_SIZE - 1, CHUNK_SIZE + 1],
        [742968, 20504], // the x86_64 blob sizes at nitro-cli 1.5.0
        [738616, 23208], // aarch64
      ];
      for (const [a, b] of sizes as [number, number][]) {
        const initBytes = a <= 64 ? rng.bytes(a) : patternBytes(a, a);
        const nsm = patternBytes(b + 7, b);
        const out = collector();
        const size = await bootstrapRamdisk(src(initBytes, 'init'), src(nsm, 'nsm.ko'), out.sink);
        const expected = specNewc([
          { name: 'dev', mode: 0o040755 },
          { name: 'init', mode: 0o100755, data: initBytes },
          { name: 'nsm.ko', mode: 0o100755, data: nsm },
        ]);
        const got = out.bytes();
        assert.equal(got.length, expected.length, `init ${a} B, nsm.ko ${b} B: archive size`);
        assert.ok(got.equals(expected), `init ${a} B, nsm.ko ${b} B: bytes differ from the spec-built archive`);
        assert.equal(size, got.length);
        assert.equal(size % 512, 0);
      }
    });

    it(
      'holds exactly dev, init, nsm.ko and the trailer, ' + 'with inodes 721..724 (checked by GNU cpio)',
      async function () {
        this.timeout(120_000);
        ensureTool('cpio', 'cpio');
        const { dir, cleanup } = tempDir('bootstrap');
        try {
          const init = patternBytes(1, 742968);
          const nsm = patternBytes(2, 20504);
          const out = collector();
          await bootstrapRamdisk(src(init), src(nsm), out.sink);
          const archive = path.join(dir, 'bootstrap-initrd.img');
          writeFileSync(archive, out.bytes());
          const list = run('cpio', ['-i', '-t', '-v', '-F', archive]);
          const lines = list.stdout.toString('utf8').trimEnd().split('\n');
          assert.equal(lines.length, 3, list.stdout.toString());
          assert.match(lines[0] ?? '', /^drwxr-xr-x\s+2 root\s+root\s+0 .* dev$/);
          assert.match(lines[1] ?? '', /^-rwxr-xr-x\s+1 root\s+root\s+742968 .* init$/);
          assert.match(lines[2] ?? '', /^-rwxr-xr-x\s+1 root\s+root\s+20504 .* nsm\.ko$/);
          assert.match(list.stderr, new RegExp(`^${out.bytes().length / 512} blocks`, 'm'));
          // GNU cpio extracts the blobs unchanged, with the spec's mtime.
          const x = path.join(dir, 'x');
          run('cpio', ['-i', '-d', '-m', '--quiet', '-D', x, '-F', archive]);
          assert.equal(sha256(readFileSync(path.join(x, 'init'))), sha256(init));
          assert.equal(sha256(readFileSync(path.join(x, 'nsm.ko'))), sha256(nsm));
          assert.equal(lstatSync(path.join(x, 'init')).mtimeMs / 1000, SPEC_MTIME);
          assert.ok(lstatSync(path.join(x, 'dev')).isDirectory());
          const inodes = [
            ...out
              .bytes()
              .toString('latin1')
              .matchAll(/070701([0-9a-f]{8})/g),
          ].map((m) => parseInt(m[1] as string, 16));
          assert.deepEqual(inodes, [721, 722, 723, 724]);
        } finally {
          cleanup();
        }
      },
    );
  });

  describe('header fields', () => {
    it('writes every entry kind with the spec’s mode, nlink, dev 3/1, rdev and lower-case hex', async () => {
      const out = collector();
      const w = new CpioWriter(out.sink);
      const big = { uid: 0xabcdef01, gid: 0xfedcba98, mtime: 0xffffffff };
      await w.addDirectory('d', { mode: 0o1777, ...big });
      await w.addFile('d/f', { mode: 0o4755, size: 5, ...big }, new Uint8Array([1, 2, 3, 4, 5]));
      await w.addSymlink('d/l', '../target', { mode: 0o777, ...big });
      await w.addDevice('d/c', 'char', 0xabc, 0xdef01, { mode: 0o620, ...big });
      await w.addDevice('d/b', 'block', 8, 1, { mode: 0o660, ...big });
      await w.addFifo('d/p', { mode: 0o600, ...big });
      // Type bits given in the mode are ignored: only mode & 0o7777 is written.
      await w.addFile('d/typed', { mode: 0o170644, size: 0 }, new Uint8Array(0));
      const size = await w.finish();
      const expected = specNewc([
        { name: 'd', mode: 0o041777, ...big },
        { name: 'd/f', mode: 0o104755, data: new Uint8Array([1, 2, 3, 4, 5]), ...big },
        { name: 'd/l', mode: 0o120777, data: Buffer.from('../target'), ...big },
        { name: 'd/c', mode: 0o020620, rdevmajor: 0xabc, rdevminor: 0xdef01, ...big },
        { name: 'd/b', mode: 0o060660, rdevmajor: 8, rdevminor: 1, ...big },
        { name: 'd/p', mode: 0o010600, ...big },
        { name: 'd/typed', mode: 0o100644 },
      ]);
      assert.ok(out.bytes().equals(expected), 'differs from the spec-built archive');
      assert.equal(size, expected.length);
      assert.equal(w.entries, 8);
      assert.equal(w.nextInode, 721 + 8);
      const text = out.bytes().toString('latin1');
      assert.ok(text.includes('abcdef01fedcba98'), 'uid and gid in lower-case hex');
      assert.ok(!/070701[0-9A-F]*[A-F]/.test(text.slice(0, 110)), 'no upper-case hex');
    });

    it('honours firstInode and counts the trailer', async () => {
      const out = collector();
      const w = new CpioWriter(out.sink, { firstInode: 1 });
      await w.addDirectory('a', { mode: 0o755 });
      await w.finish();
      assert.ok(out.bytes().equals(specNewc([{ name: 'a', mode: 0o040755 }], 1)));
      assert.throws(
        () => new CpioWriter(out.sink, { firstInode: 2 ** 32 }),
        (e: unknown) => e instanceof CpioFormatError && e.code === 'field-range',
      );
    });

    it('an empty archive is the trailer alone, padded to 512', async () => {
      const out = collector();
      assert.equal(await new CpioWriter(out.sink).finish(), 512);
      assert.ok(out.bytes().equals(specNewc([])));
    });
  });

  describe('GNU cpio reads random trees written by the writer', () => {
    interface Node {
      name: string;
      kind: 'dir' | 'file' | 'symlink' | 'fifo' | 'char';
      mode: number;
      data?: Uint8Array;
      target?: string;
      mtime: number;
      uid: number;
      gid: number;
      rdev?: [number, number];
    }

    const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+=,@ äöüßéñ日本語';
    function randomName(rng: Prng): string {
      for (;;) {
        let s = '';
        const n = rng.int(1, 23);
        for (let i = 0; i < n; i++) s += rng.pick([...NAME_CHARS]);
        if (s !== '.' && s !== '..' && !s.startsWith(' ') && !s.endsWith(' ')) return s;
      }
    }

    function randomTree(rng: Prng): Node[] {
      const nodes: Node[] = [];
      const dirs = [''];
      const used = new Set<string>();
      const count = rng.int(25, 45);
      let bigFiles = 0;
      for (let i = 0; i < count; i++) {
        const parent = rng.pick(dirs);
        const base = randomName(rng);
        const name = parent ? `${parent}/${base}` : base;
        if (used.has(name)) continue;
        used.add(name);
        const common = {
          name,
          mtime: rng.int(0, 2 ** 32 - 1),
          uid: rng.pick([0, 0, 1000, 65534, 4000000000]),
          gid: rng.pick([0, 0, 100, 70000]),
        };
        const r = rng.next();
        if (r < 0.25) {
          nodes.push({ ...common, kind: 'dir', mode: rng.pick([0o755, 0o700, 0o1777, 0o2755, 0o555]) });
          dirs.push(name);
        } else if (r < 0.75) {
          let size: number;
          const s = rng.next();
          if (s < 0.1) size = 0;
          else if (s < 0.6) size = rng.int(1, 600);
          else if (s < 0.85) size = rng.int(600, 70000);
          else if (bigFiles < 2) {
            bigFiles++;
            size = rng.pick([CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, rng.int(1 << 20, 3 << 20)]);
          } else size = rng.int(0, 9);
          nodes.push({
            ...common,
            kind: 'file',
            mode: rng.pick([0o644, 0o600, 0o755, 0o4755, 0o2711, 0o444, 0o640]),
            data: patternBytes(rng.int(1, 1e9), size),
          });
        } else if (r < 0.9) {
          const target = rng.pick(['../x', '/etc/passwd', 'a/b/c', randomName(rng), 't'.repeat(rng.int(1, 300))]);
          nodes.push({ ...common, kind: 'symlink', mode: 0o777, target });
        } else if (r < 0.95) {
          nodes.push({ ...common, kind: 'fifo', mode: rng.pick([0o644, 0o600]) });
        } else {
          nodes.push({ ...common, kind: 'char', mode: 0o666, rdev: [rng.int(1, 250), rng.int(0, 255)] });
        }
      }
      return nodes;
    }

    async function write(nodes: Node[], rng: Prng): Promise<Buffer> {
      const out = collector();
      const w = new CpioWriter(out.sink);
      const pending: Promise<void>[] = [];
      for (const n of nodes) {
        const meta = { mode: n.mode, uid: n.uid, gid: n.gid, mtime: n.mtime };
        let p: Promise<void>;
        if (n.kind === 'dir') p = w.addDirectory(n.name, meta);
        else if (n.kind === 'symlink') p = w.addSymlink(n.name, n.target as string, meta);
        else if (n.kind === 'fifo') p = w.addFifo(n.name, meta);
        else if (n.kind === 'char') p = w.addDevice(n.name, 'char', n.rdev?.[0] ?? 0, n.rdev?.[1] ?? 0, meta);
        else {
          const data = n.data as Uint8Array;
          const how = rng.int(0, 2);
          const source: CpioData = how === 0 ? data : how === 1 ? src(data, n.name) : chunked(data, rng, 40000);
          p = w.addFile(n.name, { ...meta, size: data.length }, source);
        }
        // Half of the calls are not awaited: the writer must keep them in order.
        if (rng.next() < 0.5) await p;
        else pending.push(p);
      }
      const size = await w.finish();
      await Promise.all(pending);
      const bytes = out.bytes();
      assert.equal(size, bytes.length);
      return bytes;
    }

    /** What the random trees covered, checked after all seeds ran. */
    const coverage = { kinds: new Set<string>(), nameBytesMod4: new Set<number>(), largest: 0, empty: 0, nonAscii: 0 };

    for (const seed of [11, 22, 33]) {
      it(
        `seed ${seed}: cpio -t lists the names in order and cpio -i ` +
          `extracts identical contents, modes, owners and link targets`,
        async function () {
          this.timeout(120_000);
          ensureTool('cpio', 'cpio');
          const rng = new Prng(seed);
          const nodes = randomTree(rng);
          for (const n of nodes) {
            coverage.kinds.add(n.kind);
            coverage.nameBytesMod4.add(Buffer.byteLength(n.name) % 4);
            if (n.data) coverage.largest = Math.max(coverage.largest, n.data.length);
            if (n.data?.length === 0) coverage.empty++;
            if (/[\x80-\uffff]/.test(n.name)) coverage.nonAscii++;
          }
          const bytes = await write(nodes, rng);
          assert.equal(bytes.length % 512, 0, 'archive size is a multiple of 512');
          // The writer's archive is also what the spec encoder makes of the same entries.
          const spec = specNewc(
            nodes.map((n): SpecEntry => {
              const type = { dir: 0o04, file: 0o10, symlink: 0o12, fifo: 0o01, char: 0o02 }[n.kind];
              return {
                name: n.name,
                mode: n.mode | (type << 12),
                uid: n.uid,
                gid: n.gid,
                mtime: n.mtime,
                ...(n.data ? { data: n.data } : n.target ? { data: Buffer.from(n.target) } : {}),
                ...(n.rdev ? { rdevmajor: n.rdev[0], rdevminor: n.rdev[1] } : {}),
              };
            }),
          );
          assert.ok(bytes.equals(spec), 'writer output differs from the spec-built archive');

          const { dir, cleanup } = tempDir(`cpio-${seed}`);
          try {
            const archive = path.join(dir, 'archive.cpio');
            writeFileSync(archive, bytes);
            const list = run('cpio', ['-i', '-t', '-F', archive]);
            assert.deepEqual(
              list.stdout.toString('utf8').split('\n').slice(0, -1),
              nodes.map((n) => n.name),
            );
            assert.match(
              list.stderr,
              new RegExp(`^${bytes.length / 512} blocks$`, 'm'),
              'cpio reads the whole archive as its blocks',
            );
            const x = path.join(dir, 'x');
            run('cpio', ['-i', '-d', '-m', '--quiet', '--no-absolute-filenames', '-D', x, '-F', archive]);
            assert.deepEqual(
              walk(x).sort(),
              nodes.map((n) => n.name).sort(),
              'the extracted tree has exactly the archive names',
            );
            for (const n of nodes) {
              const p = path.join(x, n.name);
              const st = lstatSync(p);
              const where = `${n.kind} ${JSON.stringify(n.name)}`;
              if (n.kind !== 'symlink') assert.equal(st.mode & 0o7777, n.mode, `${where}: mode`);
              assert.equal(st.uid, n.uid, `${where}: uid`);
              assert.equal(st.gid, n.gid, `${where}: gid`);
              if (n.kind === 'dir') assert.ok(st.isDirectory(), where);
              if (n.kind === 'fifo') assert.ok(st.isFIFO(), where);
              if (n.kind === 'char') {
                assert.ok(st.isCharacterDevice(), where);
                assert.deepEqual([devMajor(st.rdev), devMinor(st.rdev)], n.rdev, `${where}: device number`);
              }
              if (n.kind === 'symlink') {
                assert.ok(st.isSymbolicLink(), where);
                assert.equal(readlinkSync(p), n.target, `${where}: target`);
              }
              if (n.kind === 'file') {
                assert.ok(st.isFile(), where);
                assert.equal(st.size, n.data?.length, `${where}: size`);
                assert.equal(sha256(readFileSync(p)), sha256(n.data as Uint8Array), `${where}: content`);
                assert.equal(Math.floor(st.mtimeMs / 1000), n.mtime, `${where}: mtime`);
              }
            }
          } finally {
            cleanup();
          }
        },
      );
    }

    it(
      'the random trees covered every entry kind, ' +
        'every name length mod 4, empty and multi-MiB files, non-ASCII names',
      () => {
        assert.deepEqual([...coverage.kinds].sort(), ['char', 'dir', 'fifo', 'file', 'symlink']);
        assert.deepEqual([...coverage.nameBytesMod4].sort(), [0, 1, 2, 3]);
        assert.ok(coverage.largest >= 1 << 20, `largest file ${coverage.largest} B`);
        assert.ok(coverage.empty > 0 && coverage.nonAscii > 0, JSON.stringify(coverage));
      },
    );
  });

  describe('refusals', () => {
    const meta = { mode: 0o644 };
    for (const [name, why] of [
      ['', 'empty'],
      ['/etc/passwd', 'absolute'],
      ['./init', 'leading ./'],
      ['.', 'dot'],
      ['..', 'dot-dot'],
      ['a/../b', '.. component'],
      ['a/./b', '. component'],
      ['a//b', 'empty component'],
      ['dir/', 'trailing slash'],
      ['a\0b', 'NUL'],
      ['TRAILER!!!', 'the trailer name'],
    ] as const) {
      it(`refuses the name ${JSON.stringify(name)} (${why}) with bad-name and writes nothing`, async () => {
        const out = collector();
        const w = new CpioWriter(out.sink);
        await w.addDirectory('ok', meta);
        const before = out.bytes();
        await expectCode(w.addFile(name, { ...meta, size: 1 }, new Uint8Array([1])), 'bad-name');
        await expectCode(w.addDirectory(name, meta), 'bad-name');
        await expectCode(w.addSymlink(name, 'x', meta), 'bad-name');
        assert.ok(out.bytes().equals(before), 'nothing written for the refused entry');
        // The writer stays usable, and the inode numbers have no gap.
        await w.addFile('ok/f', { ...meta, size: 1 }, new Uint8Array([7]));
        await w.finish();
        assert.ok(
          out.bytes().equals(
            specNewc([
              { name: 'ok', mode: 0o040644 },
              { name: 'ok/f', mode: 0o100644, data: new Uint8Array([7]) },
            ]),
          ),
        );
      });
    }

    it('limits namesize to 4096 (Linux PATH_MAX): 4095 name bytes pass, 4096 are refused', async () => {
      const out = collector();
      const w = new CpioWriter(out.sink);
      await w.addDirectory('a'.repeat(MAX_NAME_SIZE - 1), meta);
      await expectCode(w.addDirectory('a'.repeat(MAX_NAME_SIZE), meta), 'name-too-long');
      // Multi-byte UTF-8 counts in bytes: 1366 × 3 bytes = 4098 > 4095.
      await expectCode(w.addDirectory('日'.repeat(1366), meta), 'name-too-long');
    });

    it('refuses a file of 4 GiB or more with file-too-large, before reading any data', async () => {
      let reads = 0;
      const huge: ByteSource = {
        name: 'huge',
        size: 2 ** 32,
        read: async () => {
          reads++;
          return new Uint8Array(0);
        },
        close: async () => undefined,
      };
      const out = collector();
      const w = new CpioWriter(out.sink);
      const e = await expectCode(w.addFile('huge', { mode: 0o644, size: 2 ** 32 }, huge), 'file-too-large');
      assert.match(e.message, /4 GiB - 1/);
      await expectCode(w.addFile('huge', { mode: 0o644, size: 2 ** 40 }, huge), 'file-too-large');
      assert.equal(reads, 0);
      assert.equal(out.chunks.length, 0);
    });

    it('refuses out-of-range numbers with field-range or bad-mode', async () => {
      const w = new CpioWriter(() => undefined);
      await expectCode(w.addFile('f', { mode: 0o644, size: -1 }, new Uint8Array(0)), 'field-range');
      await expectCode(w.addFile('f', { mode: 0o644, size: 1.5 }, new Uint8Array(0)), 'field-range');
      await expectCode(w.addDirectory('d', { mode: 0o755, uid: 2 ** 32 }), 'field-range');
      await expectCode(w.addDirectory('d', { mode: 0o755, gid: -1 }), 'field-range');
      await expectCode(w.addDirectory('d', { mode: 0o755, mtime: -1 }), 'field-range');
      await expectCode(w.addDirectory('d', { mode: 0o755, mtime: 1.5 }), 'field-range');
      await expectCode(w.addDirectory('d', { mode: 0o755, mtime: Number.NaN }), 'field-range');
      await expectCode(w.addDevice('c', 'char', 2 ** 32, 0, { mode: 0o600 }), 'field-range');
      await expectCode(w.addDirectory('d', { mode: 0o200000 }), 'bad-mode');
      await expectCode(w.addDirectory('d', { mode: -1 }), 'bad-mode');
      await expectCode(w.addSymlink('l', '', { mode: 0o777 }), 'bad-link-target');
      await expectCode(w.addSymlink('l', 'a\0b', { mode: 0o777 }), 'bad-link-target');
      await expectCode(w.addSymlink('l', 'x'.repeat(4096), { mode: 0o777 }), 'bad-link-target');
    });

    it('refuses data whose length differs from the size (size-mismatch)', async () => {
      const w1 = new CpioWriter(() => undefined);
      await expectCode(w1.addFile('f', { mode: 0o644, size: 3 }, new Uint8Array(4)), 'size-mismatch');
      await expectCode(w1.addFile('f', { mode: 0o644, size: 3 }, src(new Uint8Array(2))), 'size-mismatch');
      // A stream can only be found out while it is copied: the archive is then incomplete.
      const w2 = new CpioWriter(() => undefined);
      await expectCode(
        w2.addFile('f', { mode: 0o644, size: 3 }, chunked(new Uint8Array(5), new Prng(1), 2)),
        'size-mismatch',
      );
      await expectCode(w2.finish(), 'writer-failed');
      const w3 = new CpioWriter(() => undefined);
      await expectCode(
        w3.addFile('f', { mode: 0o644, size: 10 }, chunked(new Uint8Array(5), new Prng(1), 2)),
        'size-mismatch',
      );
    });

    it('refuses calls after finish()', async () => {
      const w = new CpioWriter(() => undefined);
      await w.finish();
      assert.ok(w.finished);
      await expectCode(w.addDirectory('d', meta), 'finished');
      await expectCode(w.finish(), 'finished');
    });
  });

  describe('streaming and failures', () => {
    it('streams a 20 MiB file in chunks of at most 256 KiB and never asks the source for more', async function () {
      this.timeout(120_000);
      const size = 20 * 1024 * 1024 + 3;
      const reads: number[] = [];
      const source: ByteSource = {
        name: 'generated',
        size,
        read: async (offset, length) => {
          reads.push(length);
          const out = new Uint8Array(length);
          for (let i = 0; i < length; i++) out[i] = (offset + i) % 251;
          return out;
        },
        close: async () => undefined,
      };
      const hash = (await import('node:crypto')).createHash('sha256');
      let largest = 0;
      let total = 0;
      const w = new CpioWriter((chunk) => {
        largest = Math.max(largest, chunk.length);
        total += chunk.length;
        hash.update(chunk);
      });
      await w.addFile('big', { mode: 0o644, size }, source);
      await w.finish();
      assert.ok(Math.max(...reads) <= CHUNK_SIZE, `largest read ${Math.max(...reads)}`);
      assert.equal(
        reads.reduce((a, b) => a + b, 0),
        size,
      );
      assert.ok(largest <= CHUNK_SIZE + 512, `largest chunk ${largest}`);
      // Independent expectation: the same archive from the spec encoder.
      const data = new Uint8Array(size);
      for (let i = 0; i < size; i++) data[i] = i % 251;
      const expected = specNewc([{ name: 'big', mode: 0o100644, data }]);
      assert.equal(total, expected.length);
      assert.equal(hash.digest('hex'), sha256(expected));
    });

    it('surfaces the error of a source that fails mid-file, and refuses later calls with writer-failed', async () => {
      const boom = new Error('disk went away');
      let calls = 0;
      const failing: ByteSource = {
        name: 'failing',
        size: CHUNK_SIZE * 3,
        read: async (_offset, length) => {
          if (++calls === 2) throw boom;
          return new Uint8Array(length);
        },
        close: async () => undefined,
      };
      const out = collector();
      const w = new CpioWriter(out.sink);
      await w.addDirectory('d', { mode: 0o755 });
      assert.equal(await rejection(w.addFile('d/f', { mode: 0o644, size: failing.size }, failing)), boom);
      const after = await expectCode(w.addDirectory('e', { mode: 0o755 }), 'writer-failed');
      assert.equal(after.cause, boom);
      await expectCode(w.finish(), 'writer-failed');
    });

    it('surfaces the error of a stream that fails mid-file', async () => {
      const boom = new Error('gzip: unexpected end of stream');
      async function* stream() {
        yield new Uint8Array(1000);
        throw boom;
      }
      const w = new CpioWriter(() => undefined);
      assert.equal(await rejection(w.addFile('f', { mode: 0o644, size: 5000 }, stream())), boom);
      await expectCode(w.finish(), 'writer-failed');
    });

    it('surfaces the error of a sink that fails', async () => {
      const boom = new Error('ENOSPC');
      let n = 0;
      const w = new CpioWriter(async () => {
        if (++n === 3) throw boom;
      });
      await w.addDirectory('a', { mode: 0o755 });
      await w.addDirectory('b', { mode: 0o755 });
      assert.equal(await rejection(w.addDirectory('c', { mode: 0o755 })), boom);
      await expectCode(w.finish(), 'writer-failed');
    });

    it('hands the sink fresh chunks it may keep (no buffer reuse)', async () => {
      const data = patternBytes(9, 3 * CHUNK_SIZE + 17);
      const kept: Uint8Array[] = [];
      const w = new CpioWriter((c) => void kept.push(c));
      await w.addFile('f', { mode: 0o644, size: data.length }, data);
      await w.addFile('g', { mode: 0o644, size: data.length }, chunked(data, new Prng(3), 100000));
      await w.finish();
      assert.ok(
        concat(...kept).equals(
          specNewc([
            { name: 'f', mode: 0o100644, data },
            { name: 'g', mode: 0o100644, data },
          ]),
        ),
      );
      data.fill(0);
      assert.notEqual(
        sha256(concat(...kept)),
        sha256(
          specNewc([
            { name: 'f', mode: 0o100644, data },
            { name: 'g', mode: 0o100644, data },
          ]),
        ),
      );
    });

    it('stops with CancelledError when cancelled between chunks', async () => {
      let cancelled = false;
      const token: CancellationLike = {
        get isCancellationRequested() {
          return cancelled;
        },
        onCancellationRequested: () => ({ dispose: () => undefined }),
      };
      const source: ByteSource = {
        name: 'slow',
        size: CHUNK_SIZE * 4,
        read: async (_o, length) => {
          cancelled = true;
          return new Uint8Array(length);
        },
        close: async () => undefined,
      };
      const w = new CpioWriter(() => undefined, { cancellation: token });
      assert.ok(
        (await rejection(w.addFile('f', { mode: 0o644, size: source.size }, source))) instanceof CancelledError,
      );
      const bootstrap = await rejection(
        bootstrapRamdisk(src(new Uint8Array(1)), src(new Uint8Array(1)), () => undefined, { cancellation: token }),
      );
      assert.ok(bootstrap instanceof CancelledError);
    });
  });

  describe('hard links as linuxkit writes them', () => {
    it('hardLinkAsSymlinkTarget is the link target relative to the link’s directory (as path.posix.relative)', () => {
      const cases: [string, string][] = [
        ['usr/bin/b', 'usr/bin/a'],
        ['usr/bin/b', 'usr/lib/x/a'],
        ['b', 'usr/lib/a'],
        ['usr/bin/b', 'a'],
        ['a/b/c/d', 'a/x'],
        ['rootfs/usr/bin/perl5.36', 'rootfs/usr/bin/perl'],
      ];
      for (const [name, link] of cases) {
        assert.equal(
          hardLinkAsSymlinkTarget(name, link),
          path.posix.relative(path.posix.dirname(name), link),
          `${name} -> ${link}`,
        );
      }
      // Go's filepath.Rel says "." where path.relative says "".
      assert.equal(hardLinkAsSymlinkTarget('a/b', 'a'), '.');
      assert.throws(
        () => hardLinkAsSymlinkTarget('a/b', '../c'),
        (e: unknown) => e instanceof CpioFormatError && e.code === 'bad-name',
      );
      // The symlink resolves to the hard link's target (checked through the file system).
      const { dir, cleanup } = tempDir('hardlink');
      try {
        run('mkdir', ['-p', path.join(dir, 'usr/bin'), path.join(dir, 'usr/lib/x')]);
        writeFileSync(path.join(dir, 'usr/lib/x/a'), 'target');
        run('ln', ['-s', hardLinkAsSymlinkTarget('usr/bin/b', 'usr/lib/x/a'), path.join(dir, 'usr/bin/b')]);
        assert.equal(readFileSync(path.join(dir, 'usr/bin/b'), 'utf8'), 'target');
      } finally {
        cleanup();
      }
    });
  });
});
