// Hostile tar archives, built by the test's encoder (helpers.ts) or mutated from GNU tar output:
// path escapes (the reader reports, confinePath / linkEscapes / PathGuard decide), damaged
// headers, truncation, sizes that promise far more than the input holds (no allocation follows:
// RSS is checked), oversized metadata headers, malformed PAX records, and a seeded fuzz run where
// every case must end with entries or a TarFormatError, within a time bound.
import * as assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync, linkSync } from 'node:fs';
import * as path from 'node:path';
import {
  PathGuard,
  TarFormatError,
  confinePath,
  linkEscapes,
  readTar,
  type TarEntry,
  type TarErrorCode,
  type TarReaderOptions,
} from '../../../../src/engine/oci/tar';
import {
  END,
  Prng,
  expectTarError,
  base256,
  chunked,
  concat,
  ensureTool,
  gnuLong,
  paxEntry,
  paxRecords,
  patternBytes,
  run,
  tarEntry,
  tarHeader,
  tempDir,
} from '../ramdisk/helpers';

interface Outcome {
  entries: { entry: TarEntry; content: Buffer }[];
}

async function readAll(bytes: Uint8Array, options: TarReaderOptions = {}, seed = 1): Promise<Outcome> {
  const entries: Outcome['entries'] = [];
  for await (const entry of readTar(chunked(bytes, new Prng(seed), 4096), options)) {
    const parts: Uint8Array[] = [];
    for await (const p of entry.data()) parts.push(p);
    entries.push({ entry, content: concat(...parts) });
  }
  return { entries };
}

/** The entries' headers only (data skipped). */
async function listAll(bytes: Uint8Array, options: TarReaderOptions = {}): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  for await (const e of readTar(chunked(bytes, new Prng(2), 4096), options)) out.push(e);
  return out;
}

const throwsCode = (fn: () => unknown, code: TarErrorCode) =>
  assert.throws(
    fn,
    (e: unknown) => e instanceof TarFormatError && e.code === code && e.message.includes(`rule: ${code}`),
  );

/** Fixes the checksum of a header block in place. */
function fixChecksum(b: Buffer, at: number): void {
  if (at + 512 > b.length) return;
  b.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + 512; i++) sum += b[i] as number;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', at + 148, 'latin1');
}

describe('(unit) engine oci: hostile tar archives', () => {
  describe('path safety', () => {
    it(
      'confinePath normalises "./", repeated slashes, "." and inner ".."; ' +
        'refuses escapes, absolute names, NUL and empty names',
      () => {
        const ok: [string, string][] = [
          ['a', 'a'],
          ['./a', 'a'],
          ['./a//b/./c/', 'a/b/c'],
          ['a/b/../c', 'a/c'],
          ['a/./../b', 'b'],
          ['./', ''],
          ['.', ''],
          ['a/..', ''],
          ['dir/', 'dir'],
          ['..a/b..', '..a/b..'],
          ['ünï/日本', 'ünï/日本'],
        ];
        for (const [input, want] of ok) assert.equal(confinePath(input), want, input);
        for (const bad of [
          '',
          '/etc/passwd',
          '//x',
          '..',
          '../x',
          './..',
          'a/../../x',
          'a/b/../../../c',
          'a\0b',
          '/',
        ]) {
          throwsCode(() => confinePath(bad), 'unsafe-path');
        }
      },
    );

    it(
      'linkEscapes resolves symlinks from their directory ' +
        '(absolute ones from the root) and hard links from the root',
      () => {
        const cases: [string, string, 'symlink' | 'hardlink', boolean][] = [
          ['evil', '../../etc', 'symlink', true],
          ['a/b', '../c', 'symlink', false],
          ['a/b', '../../c', 'symlink', true],
          ['a/b/c', '../..', 'symlink', false],
          ['a/b/c', '../../..', 'symlink', true],
          ['a/b/c', 'x/../../../y', 'symlink', false],
          ['a/b/c', 'x/../../../../y', 'symlink', true],
          ['a', '/etc/passwd', 'symlink', false],
          ['a', '/../etc/passwd', 'symlink', true],
          ['./usr/bin/sh', 'dash', 'symlink', false],
          ['a', '', 'symlink', true],
          ['a', 'x\0y', 'symlink', true],
          ['../a', 'b', 'symlink', true],
          ['x', 'etc/passwd', 'hardlink', false],
          ['x', './etc/../etc/passwd', 'hardlink', false],
          ['x', '../y', 'hardlink', true],
          ['x', '/etc/passwd', 'hardlink', true],
          ['x', './', 'hardlink', true],
          ['x', '', 'hardlink', true],
        ];
        for (const [name, target, type, escapes] of cases)
          assert.equal(linkEscapes(name, target, type), escapes, `${type} ${name} -> ${target}`);
        // Independent check of the relative symlink cases with path.posix: "escapes" = resolves outside /root.
        for (const [name, target, type] of cases) {
          if (type !== 'symlink' || target === '' || target.includes('\0') || name.startsWith('..')) continue;
          const resolved = target.startsWith('/')
            ? path.posix.join('/root', target.replace(/^\/+/, ''))
            : path.posix.resolve('/root', path.posix.dirname(path.posix.normalize(name)), target);
          // path.posix clamps ".." at "/" where linkEscapes reports an escape; compare only the other cases.
          const outside = resolved !== '/root' && !resolved.startsWith('/root/');
          if (outside) assert.ok(linkEscapes(name, target, type), `${name} -> ${target} resolves to ${resolved}`);
        }
      },
    );

    it('names with ../ or absolute paths are reported as stored; confinePath and PathGuard refuse them', async () => {
      const archive = concat(
        tarEntry({ name: '../etc/passwd' }, Buffer.from('root::0:0::/:/bin/sh\n')),
        tarEntry({ name: '/etc/shadow' }, Buffer.from('x')),
        tarEntry({ name: 'ok/../../escape' }, Buffer.from('x')),
        END,
      );
      const { entries } = await readAll(archive);
      assert.deepEqual(
        entries.map((r) => r.entry.name),
        ['../etc/passwd', '/etc/shadow', 'ok/../../escape'],
      );
      for (const { entry } of entries) {
        throwsCode(() => confinePath(entry.name), 'unsafe-path');
        throwsCode(() => new PathGuard().admit(entry), 'unsafe-path');
      }
      const e = (() => {
        try {
          new PathGuard().admit(entries[0]?.entry as TarEntry);
        } catch (x) {
          return x as TarFormatError;
        }
        return undefined;
      })();
      assert.equal(e?.offset, 0, 'the error names the entry’s header offset');
    });

    it(
      'a symlink escaping the root, then a file written through it: ' +
        'the reader reports both, linkEscapes flags the link, PathGuard refuses',
      async () => {
        const archive = concat(
          tarEntry({ name: 'etc/', type: '5', mode: 0o755 }),
          tarEntry({ name: 'etc/evil', type: '2', linkName: '../../../../../etc', mode: 0o777 }),
          tarEntry({ name: 'etc/evil/cron.d/payload', mode: 0o755 }, Buffer.from('* * * * * root sh -c id\n')),
          END,
        );
        const { entries } = await readAll(archive);
        assert.deepEqual(
          entries.map((r) => [r.entry.name, r.entry.type, r.entry.linkName]),
          [
            ['etc/', 'directory', ''],
            ['etc/evil', 'symlink', '../../../../../etc'],
            ['etc/evil/cron.d/payload', 'file', ''],
          ],
        );
        const link = entries[1]?.entry as TarEntry;
        assert.ok(linkEscapes(link.name, link.linkName, 'symlink'));
        const guard = new PathGuard();
        assert.equal(guard.admit(entries[0]?.entry as TarEntry), 'etc');
        throwsCode(() => guard.admit(link), 'link-escape');
        // Even if a caller let that link through, the file under it is refused on its own.
        const lax = new PathGuard();
        lax.admit(entries[0]?.entry as TarEntry);
        lax.admit({ name: 'etc/evil', type: 'symlink', linkName: 'inside' });
        throwsCode(() => lax.admit(entries[2]?.entry as TarEntry), 'through-symlink');
      },
    );

    it(
      'an absolute symlink (inside the root) followed by a file through it: ' +
        'PathGuard refuses the file (through-symlink)',
      () => {
        const guard = new PathGuard();
        assert.equal(guard.admit({ name: './lib', type: 'symlink', linkName: '/usr/lib' }), 'lib');
        assert.equal(linkEscapes('lib', '/usr/lib'), false);
        throwsCode(() => guard.admit({ name: 'lib/x/libc.so', type: 'file', linkName: '' }), 'through-symlink');
        throwsCode(() => guard.admit({ name: 'hl', type: 'hardlink', linkName: 'lib/libc.so' }), 'through-symlink');
        // The symlink itself may be replaced, and then paths below the new directory are fine.
        assert.equal(guard.admit({ name: 'lib/', type: 'directory', linkName: '' }), 'lib');
        assert.equal(guard.admit({ name: 'lib/x', type: 'file', linkName: '' }), 'lib/x');
        // A symlink to a symlink, and a hard link to a symlink, are fine.
        assert.equal(guard.admit({ name: 'a', type: 'symlink', linkName: 'b' }), 'a');
        assert.equal(guard.admit({ name: 'h', type: 'hardlink', linkName: 'a' }), 'h');
        // The root itself only as a directory.
        assert.equal(guard.admit({ name: './', type: 'directory', linkName: '' }), '');
        throwsCode(() => guard.admit({ name: '.', type: 'file', linkName: '' }), 'unsafe-path');
      },
    );

    it('hard links to paths outside the root are flagged', async () => {
      const archive = concat(
        tarEntry({ name: 'h1', type: '1', linkName: '../../etc/shadow' }),
        tarEntry({ name: 'h2', type: '1', linkName: '/etc/shadow' }),
        END,
      );
      const entries = await listAll(archive);
      assert.deepEqual(
        entries.map((e) => [e.type, e.linkName]),
        [
          ['hardlink', '../../etc/shadow'],
          ['hardlink', '/etc/shadow'],
        ],
      );
      for (const e of entries) {
        assert.ok(linkEscapes(e.name, e.linkName, 'hardlink'));
        throwsCode(() => new PathGuard().admit(e), 'link-escape');
      }
    });
  });

  describe('damaged archives', () => {
    const good = concat(
      tarEntry({ name: 'a' }, Buffer.from('hello')),
      tarEntry({ name: 'b' }, patternBytes(1, 1000)),
      END,
    );

    it('a header whose checksum does not match: bad-checksum at its offset', async () => {
      const bad = Buffer.from(good);
      bad[1024 + 10] = 0x41; // a byte in the second header's name
      const e = await expectTarError(readAll(bad), 'bad-checksum', 1024);
      assert.match(e.message, /does not match/);
      const garbled = Buffer.from(good);
      garbled.write('zz', 148, 'latin1');
      await expectTarError(readAll(garbled), 'bad-checksum', 0);
    });

    it(
      'truncation inside a header, data, padding or metadata payload: ' + 'truncated (whether data is read or skipped)',
      async () => {
        await expectTarError(readAll(good.subarray(0, 300)), 'truncated', 300);
        await expectTarError(readAll(good.subarray(0, 1024 + 511)), 'truncated', 1535);
        await expectTarError(readAll(good.subarray(0, 1536 + 500)), 'truncated', 2036);
        await expectTarError(listAll(good.subarray(0, 1536 + 500)), 'truncated', 2036);
        await expectTarError(readAll(good.subarray(0, 1536 + 1000 + 5)), 'truncated');
        await expectTarError(readAll(good.subarray(0, 2560 + 100)), 'truncated', 2660);
        const pax = concat(paxEntry([['path', 'x'.repeat(600)]]), tarEntry({ name: 'x' }), END);
        await expectTarError(readAll(pax.subarray(0, 700)), 'truncated', 700);
        await expectTarError(readAll(pax.subarray(0, 1536)), 'truncated', 1536);
        // A metadata header followed by the end marker or the end of input instead of its entry.
        await expectTarError(readAll(concat(gnuLong('long', 'L'), END)), 'truncated', 1024);
        await expectTarError(readAll(concat(paxEntry([['path', 'p']]))), 'truncated', 1024);
      },
    );

    it(
      'a size field claiming 8 GiB in a 10 KiB archive: ' + 'truncated, with no allocation sized by the archive (RSS)',
      async () => {
        const before = process.memoryUsage().rss;
        const cases = [
          tarHeader({ name: 'huge-octal', rawSize: Buffer.from('100000000000', 'latin1') }),
          tarHeader({ name: 'huge-b256', rawSize: base256(8n << 30n, 12) }),
          tarHeader({ name: 'huger-b256', rawSize: base256(1n << 52n, 12) }),
        ];
        for (const header of cases) {
          const archive = concat(header, patternBytes(3, 9 * 1024 + 100));
          assert.ok(archive.length < 10 * 1024 + 1);
          let seen = 0;
          let size = 0;
          const e = await expectTarError(
            (async () => {
              for await (const entry of readTar(chunked(archive, new Prng(5), 1024))) {
                size = entry.size;
                for await (const part of entry.data()) seen += part.length;
              }
            })(),
            'truncated',
            archive.length,
          );
          assert.ok(size >= 8 * 1024 ** 3, `size ${size}`);
          assert.equal(seen, archive.length - 512);
          assert.match(e.message, /ends inside the data/);
          await expectTarError(listAll(archive), 'truncated', archive.length);
        }
        const grown = process.memoryUsage().rss - before;
        assert.ok(grown < 64 * 1024 * 1024, `RSS grew by ${(grown / 1048576).toFixed(1)} MiB`);
        // The same through a PAX size record.
        const pax = concat(paxEntry([['size', String(8 * 1024 ** 3)]]), tarEntry({ name: 'p' }, patternBytes(4, 4000)));
        await expectTarError(readAll(pax), 'truncated', pax.length);
      },
    );

    it(
      'a PAX header or GNU long name claiming a huge size: ' + 'oversized-header before anything is allocated',
      async () => {
        const before = process.memoryUsage().rss;
        const hugePax = concat(
          tarHeader({ name: 'PaxHeaders/x', type: 'x', rawSize: base256(8n << 30n, 12) }),
          Buffer.alloc(8192),
        );
        const e1 = await expectTarError(readAll(hugePax), 'oversized-header', 0);
        assert.match(e1.message, /8589934592 bytes; at most 1048576/);
        await expectTarError(
          readAll(concat(tarHeader({ name: 'g', type: 'g', size: 0o77777777777 }), END)),
          'oversized-header',
          0,
        );
        await expectTarError(
          readAll(concat(tarHeader({ name: '././@LongLink', type: 'L', size: 2 * 1024 * 1024, format: 'gnu' }), END)),
          'oversized-header',
          0,
        );
        await expectTarError(
          readAll(concat(tarHeader({ name: '././@LongLink', type: 'K', size: 1024 * 1024 + 1, format: 'gnu' }), END)),
          'oversized-header',
          0,
        );
        // Exactly at the limit is accepted, and the limit is configurable.
        const name = 'n'.repeat(1024 * 1024 - 1);
        const { entries } = await readAll(concat(gnuLong(name, 'L'), tarEntry({ name: 'short', format: 'gnu' }), END));
        assert.equal(entries[0]?.entry.name, name);
        await expectTarError(
          readAll(concat(paxEntry([['path', 'x'.repeat(600)]]), tarEntry({ name: 'x' }), END), { maxMetaSize: 512 }),
          'oversized-header',
          0,
        );
        const grown = process.memoryUsage().rss - before;
        assert.ok(grown < 64 * 1024 * 1024, `RSS grew by ${(grown / 1048576).toFixed(1)} MiB`);
      },
    );

    it('malformed PAX records: bad-pax; PAX numbers that are not numbers: bad-number', async () => {
      const withPayload = (payload: string) =>
        concat(
          tarEntry({ name: 'PaxHeaders/a', type: 'x' }, Buffer.from(payload, 'utf8')),
          tarEntry({ name: 'a' }),
          END,
        );
      for (const payload of [
        '12 path=ab\n',
        '10 path=ab\n',
        '11 path=ab',
        'x0 path=a\n',
        '8 pathx\n',
        '6 =ab\n',
        '10path=abc\n',
        ' 9 path=a\n',
        '99999999999 path=a\n',
        '0 \n',
      ]) {
        await expectTarError(readAll(withPayload(payload)), 'bad-pax', 0);
      }
      for (const [k, v] of [
        ['size', '-1'],
        ['size', '1e3'],
        ['size', '12345678901234567'],
        ['uid', 'abc'],
        ['gid', ''],
        ['mtime', 'NaN'],
        ['mtime', '1.2.3'],
        ['mtime', '--1'],
      ] as const) {
        if (v === '') continue; // an empty value deletes the key: not an error
        await expectTarError(readAll(concat(paxEntry([[k, v]]), tarEntry({ name: 'a' }), END)), 'bad-number', 0);
      }
      // Records are byte-counted (UTF-8), as the encoder writes them.
      assert.equal(paxRecords([['path', 'é']]).toString('utf8'), '11 path=é\n');
      const { entries } = await readAll(concat(paxEntry([['path', 'é']]), tarEntry({ name: 'a' }), END));
      assert.equal(entries[0]?.entry.name, 'é');
    });

    it('header numbers that are not octal: bad-number; an unknown magic: bad-header', async () => {
      const mode = tarHeader({ name: 'm' });
      mode.write('0006x4\0', 100, 'latin1');
      fixChecksum(mode, 0);
      await expectTarError(readAll(concat(mode, END)), 'bad-number', 0);
      const size = tarHeader({ name: 's' });
      size.write('12 34\0', 124, 'latin1');
      fixChecksum(size, 0);
      await expectTarError(readAll(concat(size, END)), 'bad-number', 0);
      const magic = tarHeader({ name: 'x' });
      magic.write('pwned\0', 257, 'latin1');
      fixChecksum(magic, 0);
      await expectTarError(readAll(concat(magic, END)), 'bad-header', 0);
      const neg = tarHeader({ name: 'n', rawSize: base256(-5n, 12) });
      await expectTarError(readAll(concat(neg, END)), 'bad-number', 0);
      const over = tarHeader({ name: 'o', rawSize: base256(1n << 60n, 12) });
      await expectTarError(readAll(concat(over, END)), 'bad-number', 0);
    });

    it('a link, directory, device or FIFO that declares data: unexpected-data', async () => {
      for (const type of ['1', '2', '3', '4', '5', '6']) {
        const archive = concat(
          tarHeader({ name: 'x', type, linkName: 'y', size: 512 }),
          Buffer.from(tarHeader({ name: 'smuggled' })),
          END,
        );
        await expectTarError(readAll(archive), 'unexpected-data', 0);
      }
    });
  });

  describe('seeded fuzzing', function () {
    this.timeout(120_000);
    const CASE_TIMEOUT_MS = 30_000;
    let corpus: Buffer[] = [];

    before(() => {
      ensureTool('tar', 'tar');
      const t = tempDir('fuzz');
      try {
        const root = path.join(t.dir, 'root');
        mkdirSync(path.join(root, `${'d'.repeat(80)}/${'e'.repeat(90)}`), { recursive: true });
        writeFileSync(path.join(root, 'small'), 'small file\n');
        writeFileSync(path.join(root, `${'d'.repeat(80)}/${'e'.repeat(90)}/${'f'.repeat(100)}`), patternBytes(1, 700));
        writeFileSync(path.join(root, 'ünï'), patternBytes(2, 1500));
        symlinkSync('x'.repeat(120), path.join(root, 'longlink'));
        linkSync(path.join(root, 'small'), path.join(root, 'hard'));
        corpus = (['gnu', 'posix'] as const).map((format) => {
          const out = path.join(t.dir, `${format}.tar`);
          // Blocking factor 1: no padding to 10 KiB records, to keep the cases small.
          run('tar', [
            `--format=${format}`,
            '--owner=big:3000000000',
            '--group=0',
            '--sort=name',
            '-b',
            '1',
            '-cf',
            out,
            '-C',
            root,
            '.',
          ]);
          return readFileSync(out);
        });
      } finally {
        t.cleanup();
      }
      corpus.push(
        concat(
          paxEntry(
            [
              ['mtime', '1.5'],
              ['comment', 'global'],
            ],
            'g',
          ),
          tarEntry({ name: 'dir/', type: '5' }),
          tarEntry({ name: 'dir/file' }, patternBytes(3, 600)),
          tarEntry({ name: 'dev', type: '3', devMajor: 1, devMinor: 3 }),
          tarEntry({ name: 'fifo', type: '6' }),
          paxEntry([
            ['linkpath', 'l'.repeat(200)],
            ['uid', '7'],
          ]),
          tarEntry({ name: 'sym', type: '2' }),
          gnuLong('long/'.repeat(30), 'L'),
          tarEntry({ name: 'x', format: 'gnu' }, Buffer.from('gnu')),
          END,
        ),
      );
    });

    /** Offsets of the header blocks of an archive (blocks carrying a ustar magic). */
    const headerOffsets = (b: Buffer) => {
      const out: number[] = [];
      for (let at = 0; at + 512 <= b.length; at += 512)
        if (b.toString('latin1', at + 257, at + 262) === 'ustar') out.push(at);
      return out;
    };

    function generate(group: string, rng: Prng): Buffer {
      const base = rng.pick(corpus);
      const headers = headerOffsets(base);
      const maybeFix = (b: Buffer) => {
        if (rng.next() < 0.7) for (const h of headers) fixChecksum(b, h);
        return b;
      };
      switch (group) {
        case 'byte mutations': {
          const b = Buffer.from(base);
          for (let k = rng.int(1, 8); k > 0; k--) {
            const at = rng.next() < 0.7 ? rng.pick(headers) + rng.int(0, 511) : rng.int(0, b.length - 1);
            if (at < b.length)
              b[at] = rng.pick([
                0,
                0x20,
                0x30,
                0x37,
                0x38,
                0x80,
                0xff,
                rng.int(0, 255),
                (b[at] as number) ^ (1 << rng.int(0, 7)),
              ]);
          }
          return maybeFix(b);
        }
        case 'field rewrites': {
          const b = Buffer.from(base);
          const h = rng.pick(headers);
          const [from, len] = rng.pick([
            [100, 8],
            [108, 8],
            [116, 8],
            [124, 12],
            [136, 12],
            [156, 1],
            [257, 8],
            [329, 8],
            [337, 8],
            [0, 100],
            [157, 100],
            [345, 155],
          ] as const);
          const r = rng.next();
          let field: Uint8Array;
          if (r < 0.3)
            field = Buffer.from(
              rng
                .int(0, 2 ** 31)
                .toString(8)
                .padStart(len - 1, '0')
                .slice(-(len - 1)) + '\0',
              'latin1',
            );
          else if (r < 0.5) field = base256(BigInt(rng.int(0, 2 ** 31)) << BigInt(rng.int(0, 40)), len);
          else if (r < 0.6) field = base256(-BigInt(rng.int(1, 2 ** 31)), len);
          else if (r < 0.7)
            field = Buffer.from(
              rng
                .pick(['0', '1', '2', '3', '4', '5', '6', '7', 'x', 'g', 'L', 'K', 'S', 'V', 'D', '\0', 'Z'])
                .padEnd(len, '\0'),
              'latin1',
            );
          else field = rng.bytes(len);
          Buffer.from(field)
            .subarray(0, len)
            .copy(b, h + from);
          return maybeFix(b);
        }
        case 'PAX and long-name payloads': {
          const b = Buffer.from(base);
          // Mutate text in the data blocks that follow metadata headers.
          const metas = headers.filter((h) => 'xgLK'.includes(String.fromCharCode(b[h + 156] as number)));
          const h = metas.length > 0 ? rng.pick(metas) : rng.pick(headers);
          for (let k = rng.int(1, 4); k > 0; k--) {
            const at = h + 512 + rng.int(0, 200);
            if (at < b.length) b[at] = rng.pick([0x20, 0x3d, 0x0a, 0x30, 0x39, 0x2d, 0x2e, 0, 0xff, rng.int(0, 255)]);
          }
          if (rng.next() < 0.3) b.write(String(rng.int(0, 99999)), h + 124, 'latin1');
          return maybeFix(b);
        }
        case 'truncations and splices': {
          if (rng.next() < 0.5) {
            const cut =
              rng.next() < 0.5
                ? Math.max(
                    0,
                    Math.min(
                      base.length,
                      rng.pick(headers) + rng.pick([0, 1, 148, 156, 257, 511, 512, 513, 1024]) + rng.int(-2, 2),
                    ),
                  )
                : rng.int(0, base.length);
            return base.subarray(0, cut);
          }
          const other = rng.pick(corpus);
          const cutA = rng.int(0, base.length / 512) * 512 + (rng.next() < 0.2 ? rng.int(-3, 3) : 0);
          const cutB = rng.int(0, other.length / 512) * 512;
          return concat(base.subarray(0, Math.max(0, cutA)), other.subarray(cutB));
        }
        case 'random bytes': {
          const n = rng.pick([0, 1, 511, 512, 513, 1024, rng.int(0, 4000)]);
          const b = Buffer.from(rng.bytes(n));
          if (n >= 512 && rng.next() < 0.5) {
            // A plausible header: ustar magic, octal digits where numbers go, a valid checksum.
            b.write('ustar\x0000', 257, 'latin1');
            for (const [at, len] of [
              [100, 8],
              [108, 8],
              [116, 8],
              [124, 12],
              [136, 12],
            ] as const) {
              b.write(
                rng
                  .int(0, 2 ** 30)
                  .toString(8)
                  .padStart(len - 1, '0')
                  .slice(-(len - 1)) + '\0',
                at,
                'latin1',
              );
            }
            b[156] = rng.pick([0x30, 0x31, 0x32, 0x35, 0x78, 0x67, 0x4c, 0x4b]);
            fixChecksum(b, 0);
          }
          return b;
        }
        default:
          throw new Error(group);
      }
    }

    /** Reads one case the way a caller would (reading, half-reading or skipping data) and checks the contract. */
    async function runCase(bytes: Buffer, rng: Prng): Promise<{ outcome: string; failure?: string }> {
      const work = (async () => {
        const guard = new PathGuard();
        const reader = readTar(chunked(bytes, rng, rng.pick([1, 7, 512, 4096, 65536])), {
          requireEndMarker: rng.next() < 0.5,
        });
        for await (const e of reader) {
          if (typeof e.name !== 'string' || typeof e.linkName !== 'string') return `entry with non-string name`;
          if (!Number.isSafeInteger(e.size) || e.size < 0) return `size ${e.size}`;
          if (e.type !== 'file' && e.size !== 0) return `${e.type} with size ${e.size}`;
          if (!Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o7777) return `mode ${e.mode}`;
          if (!Number.isFinite(e.mtime) || !Number.isSafeInteger(e.uid) || !Number.isSafeInteger(e.gid))
            return 'bad numbers';
          if (e.headerOffset < e.startOffset || e.headerOffset % 512 !== 0)
            return `offsets ${e.startOffset}/${e.headerOffset}`;
          try {
            guard.admit(e);
          } catch (x) {
            if (!(x instanceof TarFormatError)) throw x;
          }
          const how = rng.next();
          if (how < 0.6) {
            let n = 0;
            for await (const p of e.data()) n += p.length;
            if (n !== e.size) return `read ${n} of ${e.size} data bytes`;
          } else if (how < 0.8) {
            for await (const _ of e.data()) break;
          }
        }
        if (reader.end === undefined) return 'iteration ended without an end kind';
        if (reader.offset > bytes.length) return `offset ${reader.offset} beyond ${bytes.length}`;
        return undefined;
      })().then(
        (bad) => (bad ? { outcome: 'resolved', failure: `resolved with ${bad}` } : { outcome: 'resolved' }),
        (e: unknown) =>
          e instanceof TarFormatError
            ? { outcome: e.code }
            : { outcome: 'other', failure: `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}` },
      );
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<{ outcome: string; failure: string }>((resolve) => {
        timer = setTimeout(
          () => resolve({ outcome: 'timeout', failure: `no answer within ${CASE_TIMEOUT_MS} ms` }),
          CASE_TIMEOUT_MS,
        );
      });
      const r = await Promise.race([work, timeout]);
      clearTimeout(timer);
      return r;
    }

    const GROUPS = [
      { name: 'byte mutations', seed: 7001, cases: 900 },
      { name: 'field rewrites', seed: 7002, cases: 900 },
      { name: 'PAX and long-name payloads', seed: 7003, cases: 500 },
      { name: 'truncations and splices', seed: 7004, cases: 600 },
      { name: 'random bytes', seed: 7005, cases: 600 },
    ];
    const codes = new Map<string, number>();

    for (const group of GROUPS) {
      it(
        `${group.name}: ${group.cases} seeded cases end with entries ` +
          `or a TarFormatError, each within ${CASE_TIMEOUT_MS} ms`,
        async () => {
          const rssBefore = process.memoryUsage().rss;
          let rssPeak = rssBefore;
          let slowest = 0;
          for (let i = 0; i < group.cases; i++) {
            const seed = group.seed * 100_000 + i;
            const rng = new Prng(seed);
            const bytes = generate(group.name, rng);
            const started = Date.now();
            const r = await runCase(bytes, rng);
            slowest = Math.max(slowest, Date.now() - started);
            codes.set(r.outcome, (codes.get(r.outcome) ?? 0) + 1);
            if (r.failure) assert.fail(`${group.name}, case seed ${seed}: ${r.failure}`);
            if (i % 100 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
          }
          const grown = rssPeak - rssBefore;
          assert.ok(grown < 200 * 1024 * 1024, `RSS grew by ${(grown / 1048576).toFixed(1)} MiB`);
          assert.ok(slowest < CASE_TIMEOUT_MS, `slowest case ${slowest} ms`);
        },
      );
    }

    it('the fuzz cases reached past the checksum: many distinct outcomes, some archives read to the end', () => {
      const seen = Object.fromEntries([...codes].sort());
      for (const code of [
        'resolved',
        'bad-checksum',
        'truncated',
        'bad-number',
        'bad-header',
        'bad-pax',
        'unsupported-type',
        'unexpected-data',
        'oversized-header',
      ]) {
        assert.ok((codes.get(code) ?? 0) > 0, `no case ended with ${code}: ${JSON.stringify(seen)}`);
      }
      assert.ok(!codes.has('other') && !codes.has('timeout'), JSON.stringify(seen));
    });
  });
});
