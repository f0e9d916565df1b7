import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { repoPath } from '../repo';

const cli = repoPath('dist/cli.js');
const dir = repoPath('test/fixtures/attestation');
const doc = (name: string) => path.join(dir, name);
const expected = JSON.parse(readFileSync(doc('expected.json'), 'utf8'));
const entry = (name: string) => expected.documents.find((d: { file: string }) => d.file === name);
const PROD = 'evervault-2022-10-13-prod.cbor';

function run(args: string[], input?: string | Buffer) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('(unit) nitro-dev verify-attestation and decode-attestation', function () {
  this.timeout(120_000); // each test starts dist/cli.js
  it('exits 0 for a real document at its own time, 1 now, and says why', () => {
    const ok = run(['verify-attestation', '--document', doc(PROD), '--at-document-time']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^Attestation document: .*evervault-2022-10-13-prod\.cbor \(binary, 4654 bytes\)\nVerdict: VALID at 2022-10-13T08:58:02\.136Z\./);
    assert.match(ok.stdout, new RegExp(`PCR0 +${entry(PROD).pcrs['0']}`));
    const now = run(['verify-attestation', '--document', doc(PROD)]);
    assert.equal(now.status, 1);
    assert.match(now.stdout, /Verdict: INVALID at .*the signing certificate is valid 2022-10-13T08:57:59Z to 2022-10-13T11:58:02Z, no longer at/);
    assert.match(now.stdout, /FAIL +Certificates valid at the verification time/);
  });

  it('checks at a given time, and refuses a time that is not ISO 8601 (exit 2)', () => {
    assert.equal(run(['verify-attestation', '--document', doc(PROD), '--at', '2022-10-13T11:00:00Z']).status, 0);
    assert.equal(run(['verify-attestation', '--document', doc(PROD), '--at', '2022-10-13T11:58:03Z']).status, 1, 'one second after the leaf expired');
    const bad = run(['verify-attestation', '--document', doc(PROD), '--at', 'yesterday']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--at takes an ISO 8601 time/);
    assert.equal(run(['verify-attestation', '--document', doc(PROD), '--at', '2022-10-13T11:00:00Z', '--at-document-time']).status, 2);
  });

  it('prints the JSON report with --json, and reads base64 from standard input', () => {
    const b64 = readFileSync(doc(PROD)).toString('base64');
    const r = run(['verify-attestation', '--document', '-', '--at-document-time', '--json'], b64);
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.equal(json.valid, true);
    assert.equal(json.document.module_id, entry(PROD).module_id);
    assert.deepEqual(json.trustedRoot, { label: 'AWS Nitro Enclaves Root G1', kind: 'aws' });
    assert.equal(json.chain.length, 5);
    assert.ok(json.checks.every((c: { status: string }) => c.status !== 'fail'));
  });

  it('compares PCRs from JSON (nitro-cli Measurements or PCRn keys) and the nonce', () => {
    const pcrs = entry(PROD).pcrs;
    const measurements = JSON.stringify({ Measurements: { HashAlgorithm: 'Sha384 { ... }', PCR0: pcrs['0'], PCR1: pcrs['1'], PCR2: pcrs['2'] } });
    assert.equal(run(['verify-attestation', '--document', doc(PROD), '--at-document-time', '--pcrs', measurements]).status, 0);
    const wrong = run(['verify-attestation', '--document', doc(PROD), '--at-document-time', '--pcrs', JSON.stringify({ PCR2: '00'.repeat(48) })]);
    assert.equal(wrong.status, 1);
    assert.match(wrong.stdout, /FAIL +PCRs equal the expected values +PCR2 is d8f114da658de548…, expected 0000000000000000…/);
    assert.match(wrong.stdout, /PCR2 +d8f1\w+ +\(MISMATCH\)/);
    assert.equal(run(['verify-attestation', '--document', doc(PROD), '--at-document-time', '--nonce', entry(PROD).nonce_hex]).status, 0);
    assert.equal(run(['verify-attestation', '--document', doc(PROD), '--at-document-time', '--nonce', 'abcd']).status, 1);
    assert.equal(run(['verify-attestation', '--document', doc(PROD), '--pcrs', '{"PCR99": "00"}']).status, 2);
  });

  it('compares against an enclave image: the synthetic fixture is not the image this document attests', () => {
    const r = run(['verify-attestation', '--document', doc(PROD), '--at-document-time', '--eif-path', repoPath('test/fixtures/eif/synthetic-v4-signed.eif')]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /PCR0 is f4d48b81a460c991…, expected eba412fda123b27b…/);
  });

  it('rejects the negative documents', () => {
    for (const name of ['neg-veracruz-bad-sig.cbor', 'neg-tampered-pcr0-byte.cbor', 'neg-truncated.cbor', 'neg-sig-der-encoded.cbor', 'neg-alg-es512-header.cbor']) {
      assert.equal(run(['verify-attestation', '--document', doc(name), '--at-document-time']).status, 1, name);
    }
  });

  it('decode-attestation prints the fields as JSON with binary as hex', () => {
    for (const name of ['base-2026-01-03-indef.cbor', 'brave-2022-07-26-usw2-debug.cbor']) {
      const r = run(['decode-attestation', '--document', doc(name)]);
      assert.equal(r.status, 0, r.stderr);
      const d = JSON.parse(r.stdout).document;
      const e = entry(name);
      assert.equal(d.module_id, e.module_id);
      assert.equal(d.timestamp, e.timestamp_ms);
      assert.deepEqual(d.pcrs, e.pcrs);
      assert.equal(d.public_key, e.public_key_hex);
      assert.equal(d.user_data, e.user_data_hex);
      assert.equal(d.nonce, e.nonce_hex);
    }
    const bad = run(['decode-attestation', '--document', doc('neg-truncated.cbor')]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^nitro-dev: error: the document is not well-formed CBOR/);
  });
});
