// The OCI fixtures (test/fixtures/oci, see its README) rebuilt by the real tools: runs
// scripts/fixtures/make-oci-fixtures.sh (umoci, skopeo, busybox-static, GNU tar, gzip, zstd, jq)
// with OCI_FIXTURES_OUT pointing at a temporary directory and compares what it writes with the
// committed files, so the suite exercises the tools themselves and not only their saved output.
// The tool versions must be the ones recorded in expected.json (Debian 12's packages); a
// different version is reported by name before anything is rebuilt.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { repoPath } from '../repo';
import { ensureTool, run, tempDir } from '../engine/ramdisk/helpers';

const FIX = (...p: string[]) => repoPath('test', 'fixtures', 'oci', ...p);
const SCRIPT = repoPath('scripts', 'fixtures', 'make-oci-fixtures.sh');
const BUSYBOX = '/bin/busybox';

/** Output as the script's `$(...)` sees it: trailing newlines removed. */
const text = (b: Buffer | string): string => b.toString().replace(/\n+$/, '');
const firstLine = (b: Buffer | string): string => text(b).split('\n')[0] ?? '';

/** The tools the script needs, installed from Debian when missing (as root; otherwise an error). */
function ensureTools(): void {
  ensureTool('umoci', 'umoci');
  ensureTool('skopeo', 'skopeo');
  ensureTool('jq', 'jq');
  ensureTool('tar', 'tar');
  ensureTool('gzip', 'gzip');
  ensureTool('zstd', 'zstd');
  ensureTool('sha256sum', 'coreutils');
  // `busybox --version` is not an applet, so ensureTool's probe does not apply; the script uses
  // /bin/busybox from busybox-static.
  if (!existsSync(BUSYBOX)) {
    if (process.getuid?.() !== 0)
      throw new Error(`${BUSYBOX} is required by these tests and is not installed (apt-get install busybox-static)`);
    spawnSync('apt-get', ['update'], { stdio: 'ignore' });
    const inst = spawnSync('apt-get', ['install', '-y', 'busybox-static'], { stdio: 'ignore' });
    if (inst.status !== 0 || !existsSync(BUSYBOX))
      throw new Error(`${BUSYBOX} is missing and apt-get could not install busybox-static`);
  }
}

/** The versions exactly as the script records them in expected.json `tools`. */
function toolVersions(): Record<string, string> {
  const busybox = spawnSync(BUSYBOX, ['--help'], { env: { ...process.env, LC_ALL: 'C.UTF-8' } });
  return {
    umoci: text(run('umoci', ['--version']).stdout),
    skopeo: text(run('skopeo', ['--version']).stdout),
    busybox: firstLine(Buffer.concat([busybox.stdout ?? Buffer.alloc(0), busybox.stderr ?? Buffer.alloc(0)])),
    tar: firstLine(run('tar', ['--version']).stdout),
    gzip: firstLine(run('gzip', ['--version']).stdout),
    zstd: text(run('zstd', ['--version']).stdout),
    jq: text(run('jq', ['--version']).stdout),
  };
}

/** Every entry below `dir` by relative path: 'dir', 'link -> target' or the file's bytes. */
function tree(dir: string): Map<string, string | Buffer> {
  const out = new Map<string, string | Buffer>();
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const abs = path.join(dir, r);
      const st = lstatSync(abs);
      if (st.isDirectory()) {
        out.set(`${r}/`, 'dir');
        walk(r);
      } else if (st.isSymbolicLink()) out.set(r, `link -> ${readlinkSync(abs)}`);
      else if (st.isFile()) out.set(r, readFileSync(abs));
      else out.set(r, `special ${st.mode.toString(8)}`);
    }
  };
  walk('');
  return out;
}

/** Asserts two trees hold the same entries with byte-identical files. */
function assertSameTree(rebuilt: string, committed: string, what: string): void {
  const a = tree(rebuilt);
  const b = tree(committed);
  assert.deepEqual([...a.keys()], [...b.keys()], `${what}: the rebuilt entries differ from the committed ones`);
  for (const [name, value] of a) {
    const other = b.get(name) as string | Buffer;
    if (Buffer.isBuffer(value) && Buffer.isBuffer(other))
      assert.ok(value.equals(other), `${what}: ${name} differs from the committed file`);
    else assert.equal(value, other, `${what}: ${name}`);
  }
}

/** `tar --numeric-owner -tvf` lines without the member times (mode, owner, size and name stay). */
function listingWithoutTimes(archive: string): string[] {
  return text(run('tar', ['--numeric-owner', '-tvf', archive]).stdout)
    .split('\n')
    .map((line) => {
      const m = /^(\S+ \S+ +\d+) \d{4}-\d\d-\d\d \d\d:\d\d (.*)$/.exec(line);
      assert.ok(m, `unexpected tar -tvf line: ${line}`);
      return `${m[1]} ${m[2]}`;
    });
}

/** The committed fixtures' mtimes, to prove the rebuild leaves them alone. */
function committedStamps(): Map<string, number> {
  const out = new Map<string, number>();
  for (const name of ['docker-save.tar', 'oci-archive.tar', 'expected.json', 'layout'])
    out.set(name, statSync(FIX(name)).mtimeMs);
  return out;
}

describe(
  'OCI fixtures rebuilt with the real tools (umoci, ' + 'skopeo, busybox-static, GNU tar, gzip, zstd, jq)',
  function () {
    // The script takes about 12 s on a developer machine (umoci repacks, skopeo's zstd level 19).
    this.timeout(300000);
    const expected = JSON.parse(readFileSync(FIX('expected.json'), 'utf8'));
    let tmp: { dir: string; cleanup: () => void } | undefined;

    before(() => ensureTools());
    after(() => tmp?.cleanup());

    /** Fails with the name of every tool whose version is not the one the fixtures were made with. */
    function assertToolVersions(): void {
      const have = toolVersions();
      const recorded = expected.tools as Record<string, string>;
      assert.deepEqual(
        Object.keys(have).sort(),
        Object.keys(recorded).sort(),
        'expected.json records a different set of tools',
      );
      const differ = Object.keys(recorded)
        .filter((tool) => have[tool] !== recorded[tool])
        .map(
          (tool) =>
            `${tool} version differs: the fixtures were made with ${JSON.stringify(recorded[tool])}, ` +
            `this machine has ${JSON.stringify(have[tool])}`,
        );
      if (differ.length > 0)
        assert.fail(`${differ.join('; ')} (install Debian 12's packages, or rebuild the fixtures and review the diff)`);
    }

    it('the tools on this machine are the versions recorded in expected.json', () => {
      assertToolVersions();
    });

    it('make-oci-fixtures.sh with OCI_FIXTURES_OUT reproduces the committed fixtures with the real tools', () => {
      assertToolVersions();
      tmp = tempDir('oci-fixtures');
      const out = path.join(tmp.dir, 'out');
      const stamps = committedStamps();
      run('bash', [SCRIPT], { env: { OCI_FIXTURES_OUT: out } });
      assert.deepEqual(committedStamps(), stamps, 'the script touched the committed fixtures');
      assert.deepEqual(
        readdirSync(out).sort(),
        ['docker-save.tar', 'expected.json', 'layout', 'oci-archive.tar'],
        'the files the script wrote',
      );

      // The layout: the same files, byte for byte (blobs, index.json, oci-layout).
      assertSameTree(path.join(out, 'layout'), FIX('layout'), 'layout/');

      // docker-save.tar: skopeo's docker-archive: writer uses fixed times, so the whole archive matches.
      assert.ok(
        readFileSync(path.join(out, 'docker-save.tar')).equals(readFileSync(FIX('docker-save.tar'))),
        'docker-save.tar differs from the committed file',
      );

      // expected.json: every field, the tool versions included (no field depends on the run).
      assert.deepEqual(JSON.parse(readFileSync(path.join(out, 'expected.json'), 'utf8')), expected);

      // oci-archive.tar: skopeo's oci-archive: transport stamps the members with the time of the
      // copy, so compare the listing without times, then the members' contents extracted by GNU tar.
      const rebuiltArchive = path.join(out, 'oci-archive.tar');
      assert.deepEqual(
        listingWithoutTimes(rebuiltArchive),
        listingWithoutTimes(FIX('oci-archive.tar')),
        'oci-archive.tar members (modes, owners, sizes, names)',
      );
      assert.deepEqual(
        text(run('tar', ['-tf', rebuiltArchive]).stdout).split('\n'),
        expected.ociArchive.members,
        'oci-archive.tar member names',
      );
      const x = { rebuilt: path.join(tmp.dir, 'x-rebuilt'), committed: path.join(tmp.dir, 'x-committed') };
      for (const [dir, archive] of [
        [x.rebuilt, rebuiltArchive],
        [x.committed, FIX('oci-archive.tar')],
      ] as const) {
        mkdirSync(dir);
        run('tar', ['-xf', archive, '-C', dir]);
      }
      assertSameTree(x.rebuilt, x.committed, 'oci-archive.tar members');
    });
  },
);
