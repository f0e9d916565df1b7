// verify-attestation on unsigned QEMU documents (exit 3, distinct from invalid's 1) and
// resign-attestation (issue 14, attestation): re-signing only on request, with the development CA of
// the state folder, labelled as a development signature; its output verifies with the development
// root from `dev-root --export` and not with the AWS root alone; signed documents are refused and
// nothing is written.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeSign1, sign1Layout } from '../engine/attestation/helpers';
import { repoPath } from '../repo';

const cli = repoPath('dist/cli.js');
const fixtures = repoPath('test/fixtures/attestation');
const QEMU_DOC = path.join(fixtures, 'qemu', 'qemu-attestation.cbor');
const PROD = path.join(fixtures, 'evervault-2022-10-13-prod.cbor');
const PCR0 = '54ec55fa04e1b25313304cb376a138c62e29cf112622ee1c40886fec43c026790d2ea284d59c92b3402c6d7913fba809';

describe('(unit) nitro-dev verify-attestation on unsigned QEMU documents, and resign-attestation', function () {
  this.timeout(120_000); // each test starts dist/cli.js (several times)
  let state: string;
  let tmp: string;

  const run = (args: string[], input?: Buffer) => {
    const r = spawnSync(process.execPath, [cli, ...args], {
      encoding: 'utf8',
      cwd: tmp,
      env: { ...process.env, NITRO_DEV_STATE_DIR: state },
      ...(input !== undefined ? { input } : {}),
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  beforeEach(() => {
    state = mkdtempSync(path.join(os.tmpdir(), 'nitro-resign-state-'));
    tmp = mkdtempSync(path.join(os.tmpdir(), 'nitro-resign-'));
  });
  afterEach(() => {
    rmSync(state, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  it('exits 3 for an unsigned QEMU document (not 0, not 1), and prints UNSIGNED with the reason', () => {
    const r = run(['verify-attestation', '--document', QEMU_DOC]);
    assert.equal(r.status, 3, r.stderr);
    assert.match(
      r.stdout,
      /\nVerdict: UNSIGNED: a document from QEMU's emulated NSM .*recognised by the protected header \{1: -1\}/,
    );
    assert.match(r.stdout, /no signature or certificate chain exists to check/);
    assert.match(r.stdout, /only as trustworthy as the machine that ran QEMU/);
    assert.match(r.stdout, /Note: nothing re-signs this document unless you ask.*nitro-dev resign-attestation/);
    assert.match(r.stdout, new RegExp(`PCR0 +${PCR0}\\n`));
    assert.match(r.stdout, /user_data +68656c6c6f2d66726f6d2d71656d7521/);
    const json = run(['verify-attestation', '--document', QEMU_DOC, '--json']);
    assert.equal(json.status, 3);
    const report = JSON.parse(json.stdout);
    assert.equal(report.verdict, 'unsigned');
    assert.equal(report.valid, false);
    // --help says what the exit statuses mean.
    assert.match(run(['verify-attestation', '--help']).stdout, /exit 0 valid, 1 invalid, 3 unsigned/);
  });

  it('compares the PCRs as unsigned values: matching stays 3, a mismatch or another nonce is 1', () => {
    const match = run(['verify-attestation', '--document', QEMU_DOC, '--pcrs', JSON.stringify({ PCR0 })]);
    assert.equal(match.status, 3, match.stdout);
    assert.match(match.stdout, /PASS +PCRs equal the expected values +comparing unsigned values/);
    assert.match(match.stdout, /PCR0 +[0-9a-f]{96} +\(matches, unsigned value\)/);
    const differ = run([
      'verify-attestation',
      '--document',
      QEMU_DOC,
      '--pcrs',
      JSON.stringify({ PCR0: 'ab'.repeat(48) }),
    ]);
    assert.equal(differ.status, 1);
    assert.match(differ.stdout, /Verdict: INVALID .*PCR0.*an unsigned document from QEMU's emulated NSM/);
    assert.match(differ.stdout, /\(MISMATCH, unsigned value\)/);
    assert.equal(run(['verify-attestation', '--document', QEMU_DOC, '--nonce', '0102030405060708']).status, 3);
    assert.equal(run(['verify-attestation', '--document', QEMU_DOC, '--nonce', '01']).status, 1);
  });

  it('exits 1 for a document with only some of the markers, naming them', () => {
    const l = sign1Layout(new Uint8Array(readFileSync(QEMU_DOC)));
    const partial = path.join(tmp, 'partial.cbor');
    writeFileSync(
      partial,
      encodeSign1({
        protectedBytes: Uint8Array.of(0xa1, 0x01, 0x38, 0x22),
        payload: l.payload,
        signature: l.signature,
      }),
    );
    const r = run(['verify-attestation', '--document', partial]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /FAIL +Markers of an unsigned document .*but also a protected header with alg -35/);
    assert.doesNotMatch(r.stdout, /UNSIGNED/);
  });

  it('resign-attestation writes a labelled development document that verifies only with the development root', () => {
    const out = path.join(tmp, 'resigned.att.cbor');
    const before = readFileSync(QEMU_DOC);
    const r = run(['resign-attestation', '--document', QEMU_DOC, '--output', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      /^Re-signed with the development CA: a development signature over the values QEMU reported, .*it is not an AWS attestation/,
    );
    assert.match(r.stderr, /Wrote the development attestation document \(\d+ bytes\) to .*resigned\.att\.cbor/);
    assert.deepEqual(readFileSync(QEMU_DOC), before, 'the QEMU document is not altered');
    assert.deepEqual(readdirSync(tmp).sort(), ['resigned.att.cbor'], 'no temporary file is left');

    const root = path.join(tmp, 'dev-root.pem');
    assert.equal(run(['dev-root', '--export', root]).status, 0);
    const dev = run(['verify-attestation', '--document', out, '--development-root', root]);
    assert.equal(dev.status, 0, dev.stdout);
    assert.match(
      dev.stdout,
      /Verdict: VALID at .*development attestation: signed by the local development root, not by AWS/,
    );
    assert.match(dev.stdout, new RegExp(`PCR0 +${PCR0}`));
    const aws = run(['verify-attestation', '--document', out]);
    assert.equal(aws.status, 1);
    assert.match(aws.stdout, /Verdict: INVALID .*is not a trusted root/);
    rmSync(root);

    // From standard input as base64 too.
    const again = run(
      ['resign-attestation', '--document', '-', '--output', 'from-stdin.cbor'],
      Buffer.from(before.toString('base64')),
    );
    assert.equal(again.status, 0, again.stderr);
    assert.ok(existsSync(path.join(tmp, 'from-stdin.cbor')));
  });

  it('refuses a signed document (exit 1, nothing written) and an output that is the input (exit 2)', () => {
    const out = path.join(tmp, 'out.cbor');
    const r = run(['resign-attestation', '--document', PROD, '--output', out]);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^nitro-dev: error: cannot re-sign: the document is signed \(.*\), not an unsigned document from QEMU's emulated NSM/,
    );
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(state), [], 'the development CA is not even created');
    const copy = path.join(tmp, 'qemu.cbor');
    writeFileSync(copy, readFileSync(QEMU_DOC));
    const same = run(['resign-attestation', '--document', 'qemu.cbor', '--output', copy]);
    assert.equal(same.status, 2);
    assert.match(same.stderr, /--output names the input document/);
    assert.deepEqual(readFileSync(copy), readFileSync(QEMU_DOC));
    assert.equal(run(['resign-attestation', '--document', QEMU_DOC]).status, 2, '--output is required');
  });
});
