import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createHash, generateKeyPairSync } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoPath } from '../repo';

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

describe('(unit) nitro-dev describe-eif, pcr, sign-eif', function () {
  this.timeout(120_000); // each test starts dist/cli.js
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-cli-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('describe-eif prints nitro-cli JSON with the fixtures\' expected measurements', () => {
    for (const name of ['synthetic-v4-unsigned.eif', 'synthetic-v4-signed.eif']) {
      const r = run('describe-eif', '--eif-path', fixture(name));
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.ok(r.stdout.endsWith('}\n'));
      const json = JSON.parse(r.stdout);
      assert.equal(r.stdout, `${JSON.stringify(json, null, 2)}\n`, 'two-space layout, final newline');
      const want = expected(name);
      assert.deepEqual(Object.keys(json.Measurements), want.PCR8 ? ['HashAlgorithm', 'PCR0', 'PCR1', 'PCR2', 'PCR8'] : ['HashAlgorithm', 'PCR0', 'PCR1', 'PCR2']);
      for (const k of ['PCR0', 'PCR1', 'PCR2', 'PCR8']) assert.equal(json.Measurements[k], want[k], `${name} ${k}`);
      assert.equal(json.CheckCRC, true);
      assert.equal(json.IsSigned, Boolean(want.PCR8));
      assert.deepEqual(
        Object.keys(json),
        want.PCR8
          ? ['EifVersion', 'Measurements', 'IsSigned', 'SigningCertificate', 'CheckCRC', 'SignatureCheck', 'ImageName', 'ImageVersion', 'Metadata']
          : ['EifVersion', 'Measurements', 'IsSigned', 'CheckCRC', 'ImageName', 'ImageVersion', 'Metadata'],
      );
    }
  });

  it('pcr --input measures a file, pcr --signing-certificate a certificate\'s DER', () => {
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

  it('sign-eif signs an unsigned image in place: PCR0-2 unchanged, PCR8 of the certificate, nothing left behind', () => {
    const eif = path.join(dir, 'app.eif');
    copyFileSync(fixture('synthetic-v4-unsigned.eif'), eif);
    const r = run('sign-eif', '--eif-path', eif, '--signing-certificate', fixture('test-cert.pem'), '--private-key', fixture('test-key.pem'));
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
  });

  it('sign-eif with a key that does not match the certificate fails with E60 and leaves the image untouched', () => {
    const eif = path.join(dir, 'app.eif');
    copyFileSync(fixture('synthetic-v4-unsigned.eif'), eif);
    const before = readFileSync(eif);
    const other = path.join(dir, 'other.pem');
    writeFileSync(other, generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const r = run('sign-eif', '--eif-path', eif, '--signing-certificate', fixture('test-cert.pem'), '--private-key', other);
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
    assert.match(missing.stderr, /cli-errors\.html#E19\n$/);
    const garbage = path.join(dir, 'garbage.eif');
    writeFileSync(garbage, Buffer.alloc(600, 0x41));
    const bad = run('describe-eif', '--eif-path', garbage);
    assert.equal(bad.status, 35);
    assert.match(bad.stderr, /^\[ E35 \] EIF parsing error\. not an enclave image file: the magic bytes are 41 41 41 41/);
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
});
