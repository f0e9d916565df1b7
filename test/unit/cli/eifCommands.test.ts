import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate, createHash, generateKeyPairSync } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoPath } from '../repo';
import { SPEC_METADATA, T, ascii, buildEif } from '../engine/eif/helpers';

const cli = repoPath('dist/cli.js');
const fixtures = repoPath('test/fixtures/eif');
const fixture = (name: string) => path.join(fixtures, name);
const expected = (name: string) => JSON.parse(readFileSync(fixture(name.replace(/\.eif$/, '.expected.json')), 'utf8'));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** PCR = SHA-384(48 zero bytes ‖ SHA-384(bytes)), computed here with node:crypto only. */
function pcr(bytes: Uint8Array): string {
  const inner = createHash('sha384').update(bytes).digest();
  return createHash('sha384').update(Buffer.alloc(48)).update(inner).digest('hex');
}

/** A valid EIF whose ramdisk section is `size` bytes of zeros, written sparse (nothing on disk). */
function sparseEif(file: string, size: number): void {
  const head = buildEif(
    [
      { type: T.kernel, data: ascii('kernel') },
      { type: T.cmdline, data: ascii('console=ttyS0') },
      { type: T.metadata, data: ascii(SPEC_METADATA) },
      { type: T.ramdisk, data: new Uint8Array(0), sizeField: BigInt(size) },
    ],
    { sizes: { 3: BigInt(size) } },
  );
  writeFileSync(file, head);
  truncateSync(file, head.length + size);
}

/** Whether process `pid` has `file` open (Linux: its /proc/<pid>/fd links). */
function hasOpen(pid: number, file: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === file;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/**
 * Runs the CLI, waits until `working()` says it is busy (polled state, never a fixed delay), sends
 * `signal` once, and resolves with how it ended. Fails when the command ends before it was seen working.
 */
const running = new Set<ReturnType<typeof spawn>>();
async function signalWhenWorking(args: string[], working: (pid: number) => boolean, signal: NodeJS.Signals = 'SIGINT') {
  const child = spawn(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH ?? '', TMPDIR: os.tmpdir() } });
  running.add(child);
  child.on('close', () => running.delete(child));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const ended = new Promise<number | null>((resolve) => child.on('close', resolve));
  let exited = false;
  void ended.then(() => (exited = true));
  while (!exited && !working(child.pid as number)) await new Promise((r) => setTimeout(r, 20));
  assert.equal(exited, false, `the command ended before it was seen working: ${stderr}`);
  child.kill(signal);
  return { status: await ended, stdout, stderr };
}

describe('(unit) nitro-dev describe-eif, pcr, sign-eif', function () {
  this.timeout(120_000); // each test starts dist/cli.js
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-cli-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("describe-eif prints nitro-cli JSON with the fixtures' expected measurements", () => {
    for (const name of ['synthetic-v4-unsigned.eif', 'synthetic-v4-signed.eif']) {
      const r = run('describe-eif', '--eif-path', fixture(name));
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.ok(r.stdout.endsWith('}\n'));
      const json = JSON.parse(r.stdout);
      assert.equal(r.stdout, `${JSON.stringify(json, null, 2)}\n`, 'two-space layout, final newline');
      const want = expected(name);
      assert.deepEqual(
        Object.keys(json.Measurements),
        want.PCR8 ? ['HashAlgorithm', 'PCR0', 'PCR1', 'PCR2', 'PCR8'] : ['HashAlgorithm', 'PCR0', 'PCR1', 'PCR2'],
      );
      for (const k of ['PCR0', 'PCR1', 'PCR2', 'PCR8']) assert.equal(json.Measurements[k], want[k], `${name} ${k}`);
      assert.equal(json.CheckCRC, true);
      assert.equal(json.IsSigned, Boolean(want.PCR8));
      assert.deepEqual(
        Object.keys(json),
        want.PCR8
          ? [
              'EifVersion',
              'Measurements',
              'IsSigned',
              'SigningCertificate',
              'CheckCRC',
              'SignatureCheck',
              'ImageName',
              'ImageVersion',
              'Metadata',
            ]
          : ['EifVersion', 'Measurements', 'IsSigned', 'CheckCRC', 'ImageName', 'ImageVersion', 'Metadata'],
      );
    }
  });

  it("pcr --input measures a file, pcr --signing-certificate a certificate's DER", () => {
    const input = run('pcr', '--input', fixture('synthetic-v4-unsigned.eif'));
    assert.equal(input.status, 0, input.stderr);
    assert.deepEqual(JSON.parse(input.stdout), { PCR: pcr(readFileSync(fixture('synthetic-v4-unsigned.eif'))) });
    const cert = run('pcr', '--signing-certificate', fixture('test-cert.pem'));
    assert.equal(cert.status, 0, cert.stderr);
    const der = new X509Certificate(readFileSync(fixture('test-cert.pem'))).raw;
    assert.deepEqual(JSON.parse(cert.stdout), { PCR8: pcr(der) });
    assert.equal(JSON.parse(cert.stdout).PCR8, expected('synthetic-v4-signed.eif').PCR8);
  });

  it('pcr takes exactly one of --input and --signing-certificate (usage error, exit 2)', () => {
    const none = run('pcr');
    assert.equal(none.status, 2);
    assert.match(none.stderr, /one of the following arguments is required/);
    const both = run('pcr', '--input', 'a', '--signing-certificate', 'b');
    assert.equal(both.status, 2);
    assert.match(both.stderr, /cannot be used with/);
  });

  it(
    'sign-eif signs an unsigned image in place: PCR0-2 unchanged, ' + 'PCR8 of the certificate, nothing left behind',
    () => {
      const eif = path.join(dir, 'app.eif');
      copyFileSync(fixture('synthetic-v4-unsigned.eif'), eif);
      const r = run(
        'sign-eif',
        '--eif-path',
        eif,
        '--signing-certificate',
        fixture('test-cert.pem'),
        '--private-key',
        fixture('test-key.pem'),
      );
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, 'Enclave Image successfully signed.\n');
      const want = expected('synthetic-v4-signed.eif');
      const m = JSON.parse(r.stdout).Measurements;
      assert.deepEqual([m.PCR0, m.PCR1, m.PCR2, m.PCR8], [want.PCR0, want.PCR1, want.PCR2, want.PCR8]);
      const d = JSON.parse(run('describe-eif', '--eif-path', eif).stdout);
      assert.equal(d.IsSigned, true);
      assert.equal(d.SignatureCheck, true);
      assert.equal(d.CheckCRC, true);
      assert.deepEqual(readdirSync(dir), ['app.eif']);
    },
  );

  it('sign-eif with a key that does not match the certificate fails with E60 and leaves the image untouched', () => {
    const eif = path.join(dir, 'app.eif');
    copyFileSync(fixture('synthetic-v4-unsigned.eif'), eif);
    const before = readFileSync(eif);
    const other = path.join(dir, 'other.pem');
    writeFileSync(
      other,
      generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    const r = run(
      'sign-eif',
      '--eif-path',
      eif,
      '--signing-certificate',
      fixture('test-cert.pem'),
      '--private-key',
      other,
    );
    assert.equal(r.status, 60);
    assert.match(r.stderr, /^\[ E60 \] EIF signing error\. the private key does not match the signing certificate/);
    assert.equal(r.stdout, '');
    assert.deepEqual(readFileSync(eif), before);
    assert.deepEqual(readdirSync(dir).sort(), ['app.eif', 'other.pem']);
  });

  it('reports failures the way nitro-cli does: [ Exx ] on stderr, exit status xx', () => {
    const missing = run('describe-eif', '--eif-path', path.join(dir, 'nope.eif'));
    assert.equal(missing.status, 19);
    assert.match(missing.stderr, /^\[ E19 \] File operation failure\. .*nope\.eif/);
    // nitro-cli's report as it prints it (first line, blank line, documentation link), then the
    // pointer to nitro-dev's own explanation of the code as the last line.
    assert.match(
      missing.stderr,
      new RegExp(
        '^\\[ E19 \\] [^\\n]*\\n\\n' +
          'For more details, please visit https://docs\\.aws\\.amazon\\.com/enclaves/latest/user/cli-errors\\.html#E19\\n' +
          'Run `nitro-dev explain E19` for what it means and how to fix it\\.\\n$',
      ),
    );
    // The command it names explains that code.
    const explained = run('explain', 'E19');
    assert.equal(explained.status, 0);
    assert.match(explained.stdout, /^\[ E19 \] File operation failure\n/);
    const garbage = path.join(dir, 'garbage.eif');
    writeFileSync(garbage, Buffer.alloc(600, 0x41));
    const bad = run('describe-eif', '--eif-path', garbage);
    assert.equal(bad.status, 35);
    assert.match(
      bad.stderr,
      /^\[ E35 \] EIF parsing error\. not an enclave image file: the magic bytes are 41 41 41 41/,
    );
    assert.equal(bad.stdout, '');
    const usage = run('describe-eif');
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /required argument was not provided: --eif-path <eif-path>/);
  });

  it('warns on stderr about structural problems nitro-cli would not notice, keeping stdout pure JSON', () => {
    const eif = path.join(dir, 'trailing.eif');
    writeFileSync(eif, Buffer.concat([readFileSync(fixture('synthetic-v4-unsigned.eif')), Buffer.from([0, 0, 0])]));
    const r = run('describe-eif', '--eif-path', eif);
    assert.equal(r.status, 0);
    assert.match(r.stderr, /^warning: 3 byte\(s\) follow the last section/);
    assert.equal(JSON.parse(r.stdout).CheckCRC, true, 'trailing bytes are outside the CRC, as in nitro-cli');
  });

  it('describe-eif refuses deeply nested metadata with E35 naming the depth limit (no stack overflow)', () => {
    const withDockerInfo = (info: string) =>
      buildEif([
        { type: T.kernel, data: ascii('kernel') },
        { type: T.cmdline, data: ascii('console=ttyS0') },
        { type: T.metadata, data: ascii(SPEC_METADATA.replace('"DockerInfo":null', `"DockerInfo":${info}`)) },
        { type: T.ramdisk, data: ascii('ramdisk') },
      ]);
    const deep = path.join(dir, 'deep.eif');
    writeFileSync(deep, withDockerInfo('['.repeat(5000) + ']'.repeat(5000)));
    const r = run('describe-eif', '--eif-path', deep);
    assert.equal(r.status, 35, r.stderr);
    assert.match(
      r.stderr,
      /^\[ E35 \] EIF parsing error\. the metadata section nests arrays and objects more than 128 levels deep .*at most 128 levels are accepted/,
    );
    assert.equal(r.stdout, '');
    // Brackets inside strings do not count, and 128 levels in all (the top-level object is one) are fine.
    const fine = path.join(dir, 'fine.eif');
    writeFileSync(fine, withDockerInfo(`{"s":"${'['.repeat(500)}","a":${'['.repeat(126)}${']'.repeat(126)}}`));
    const ok = run('describe-eif', '--eif-path', fine);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).Metadata.DockerInfo.s, '['.repeat(500));
    writeFileSync(fine, withDockerInfo(`{"s":"\\"[","a":${'['.repeat(127)}${']'.repeat(127)}}`));
    assert.equal(run('describe-eif', '--eif-path', fine).status, 35, 'level 129 is refused');
  });

  describe('stop on the first Ctrl-C (exit 130) and leave nothing behind', function () {
    this.timeout(120_000);
    before(function () {
      if (process.platform !== 'linux') this.skip(); // "is working" is read from /proc
    });
    // A command that failed to stop is not left running after its test.
    afterEach(() => {
      for (const child of running) child.kill('SIGKILL');
    });

    it('describe-eif on a 4 GiB image', async () => {
      const eif = path.join(dir, 'big.eif');
      sparseEif(eif, 4 * 1024 ** 3);
      const r = await signalWhenWorking(['describe-eif', '--eif-path', eif], (pid) => hasOpen(pid, eif));
      assert.equal(r.status, 130, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /Cancelled\./);
      assert.deepEqual(readdirSync(dir), ['big.eif']);
    });

    it('pcr --input on a 4 GiB file', async () => {
      const file = path.join(dir, 'big.bin');
      writeFileSync(file, '');
      truncateSync(file, 4 * 1024 ** 3);
      const r = await signalWhenWorking(['pcr', '--input', file], (pid) => hasOpen(pid, file));
      assert.equal(r.status, 130, r.stderr);
      assert.equal(r.stdout, '');
      assert.deepEqual(readdirSync(dir), ['big.bin']);
    });

    it(
      'a command that takes no cancellation ends on the first ' +
        'Ctrl-C too (decode-attestation waiting for standard input)',
      async () => {
        // Ready when the CLI's signal handlers are installed. Node itself catches SIGINT and SIGTERM from
        // its start, but not SIGHUP, which the CLI handles with them: bit 0 (signal 1) of SigCgt in /proc/<pid>/status.
        const handlesSignals = (pid: number) => {
          try {
            const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
            return m !== null && (BigInt(`0x${m[1]}`) & 1n) !== 0n;
          } catch {
            return false;
          }
        };
        const r = await signalWhenWorking(['decode-attestation', '--document', '-'], handlesSignals);
        assert.equal(r.status, 130, r.stderr);
        assert.equal(r.stdout, '');
      },
    );

    it('sign-eif while it writes the signed image: the .partial file is removed, the image is untouched', async () => {
      const eif = path.join(dir, 'big.eif');
      sparseEif(eif, 1024 ** 3);
      const head = () => {
        const fd = openSync(eif, 'r');
        try {
          const b = Buffer.alloc(4096);
          return b.subarray(0, readSync(fd, b, 0, b.length, 0)).toString('hex') + statSync(eif).size;
        } finally {
          closeSync(fd);
        }
      };
      const before = head();
      const partial = () => readdirSync(dir).some((f) => f.endsWith('.partial'));
      const r = await signalWhenWorking(
        [
          'sign-eif',
          '--eif-path',
          eif,
          '--signing-certificate',
          fixture('test-cert.pem'),
          '--private-key',
          fixture('test-key.pem'),
        ],
        partial,
      );
      assert.equal(r.status, 130, r.stderr);
      assert.match(r.stderr, /Signing cancelled; the image was left as it was\./);
      assert.deepEqual(readdirSync(dir), ['big.eif'], 'no .partial file is left');
      assert.equal(head(), before, 'the image is as it was');
    });
  });
});
