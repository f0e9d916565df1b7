import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DevelopmentCa, createAttestationDocument } from '../../../src/engine/node/devAttestation';
import {
  cUint,
  encodeSign1,
  ensureOpenssl,
  joinPayload,
  openssl,
  setEntry,
  sign1Layout,
  splitPayload,
} from '../engine/attestation/helpers';
import { repoPath } from '../repo';

const cli = repoPath('dist/cli.js');
const dir = repoPath('test/fixtures/attestation');
const doc = (name: string) => path.join(dir, name);
const expected = JSON.parse(readFileSync(doc('expected.json'), 'utf8'));
const entry = (name: string) => expected.documents.find((d: { file: string }) => d.file === name);
const PROD = 'evervault-2022-10-13-prod.cbor';

function run(args: string[], input?: string | Buffer) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    ...(input !== undefined ? { input } : {}),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('(unit) nitro-dev verify-attestation and decode-attestation', function () {
  this.timeout(120_000); // each test starts dist/cli.js
  it('exits 0 for a real document at its own time, 1 now, and says why', () => {
    const ok = run(['verify-attestation', '--document', doc(PROD), '--at-document-time']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(
      ok.stdout,
      /^Attestation document: .*evervault-2022-10-13-prod\.cbor \(binary, 4654 bytes\)\nVerdict: VALID at 2022-10-13T08:58:02\.136Z\./,
    );
    assert.match(ok.stdout, new RegExp(`PCR0 +${entry(PROD).pcrs['0']}`));
    const now = run(['verify-attestation', '--document', doc(PROD)]);
    assert.equal(now.status, 1);
    assert.match(
      now.stdout,
      /Verdict: INVALID at .*the signing certificate is valid 2022-10-13T08:57:59Z to 2022-10-13T11:58:02Z, no longer at/,
    );
    assert.match(now.stdout, /FAIL +Certificates valid at the verification time/);
  });

  it('checks at a given time, and refuses a time that is not ISO 8601 (exit 2)', () => {
    assert.equal(run(['verify-attestation', '--document', doc(PROD), '--at', '2022-10-13T11:00:00Z']).status, 0);
    assert.equal(
      run(['verify-attestation', '--document', doc(PROD), '--at', '2022-10-13T11:58:03Z']).status,
      1,
      'one second after the leaf expired',
    );
    const bad = run(['verify-attestation', '--document', doc(PROD), '--at', 'yesterday']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--at takes an ISO 8601 time/);
    assert.equal(
      run(['verify-attestation', '--document', doc(PROD), '--at', '2022-10-13T11:00:00Z', '--at-document-time']).status,
      2,
    );
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
    const measurements = JSON.stringify({
      Measurements: { HashAlgorithm: 'Sha384 { ... }', PCR0: pcrs['0'], PCR1: pcrs['1'], PCR2: pcrs['2'] },
    });
    assert.equal(
      run(['verify-attestation', '--document', doc(PROD), '--at-document-time', '--pcrs', measurements]).status,
      0,
    );
    const wrong = run([
      'verify-attestation',
      '--document',
      doc(PROD),
      '--at-document-time',
      '--pcrs',
      JSON.stringify({ PCR2: '00'.repeat(48) }),
    ]);
    assert.equal(wrong.status, 1);
    assert.match(
      wrong.stdout,
      /FAIL +PCRs equal the expected values +PCR2 is d8f114da658de548…, expected 0000000000000000…/,
    );
    assert.match(wrong.stdout, /PCR2 +d8f1\w+ +\(MISMATCH\)/);
    assert.equal(
      run(['verify-attestation', '--document', doc(PROD), '--at-document-time', '--nonce', entry(PROD).nonce_hex])
        .status,
      0,
    );
    assert.equal(
      run(['verify-attestation', '--document', doc(PROD), '--at-document-time', '--nonce', 'abcd']).status,
      1,
    );
    assert.equal(run(['verify-attestation', '--document', doc(PROD), '--pcrs', '{"PCR99": "00"}']).status, 2);
  });

  it('compares against an enclave image: the synthetic fixture is not the image this document attests', () => {
    const r = run([
      'verify-attestation',
      '--document',
      doc(PROD),
      '--at-document-time',
      '--eif-path',
      repoPath('test/fixtures/eif/synthetic-v4-signed.eif'),
    ]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /PCR0 is f4d48b81a460c991…, expected eba412fda123b27b…/);
  });

  it('rejects the negative documents', () => {
    for (const name of [
      'neg-veracruz-bad-sig.cbor',
      'neg-tampered-pcr0-byte.cbor',
      'neg-truncated.cbor',
      'neg-sig-der-encoded.cbor',
      'neg-alg-es512-header.cbor',
    ]) {
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

describe('(unit) nitro-dev verify-attestation and decode-attestation: hardening', function () {
  // Each case spawns the CLI; a loaded machine may be slow.
  this.timeout(120000);
  const TPM = 'nitrotpm-2026-06-18-use2.cbor';
  let tmp: string;
  let preload: string;
  before(() => {
    ensureOpenssl();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'nitro-attest-cli-'));
    // Reports the process's peak resident memory on exit (no timing involved).
    preload = path.join(tmp, 'rss.cjs');
    writeFileSync(
      preload,
      "process.on('exit', () => process.stderr.write('\\nmaxRSS=' + process.resourceUsage().maxRSS + '\\n'));\n",
    );
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  /** Runs the CLI with the RSS reporter; `stdinFile` becomes its standard input. */
  function runMeasured(args: string[], stdinFile?: string) {
    const fd = stdinFile ? openSync(stdinFile, 'r') : undefined;
    try {
      const r = spawnSync(process.execPath, ['--require', preload, cli, ...args], {
        encoding: 'utf8',
        stdio: [fd ?? 'pipe', 'pipe', 'pipe'],
      });
      const kib = Number(/maxRSS=(\d+)/.exec(r.stderr)?.[1]);
      return { status: r.status, stdout: r.stdout, stderr: r.stderr, maxRssMiB: kib / 1024 };
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  it('refuses a 1 GiB file from its size, without reading it (small peak memory)', () => {
    const big = path.join(tmp, 'big.bin');
    writeFileSync(big, Uint8Array.of(0x84));
    truncateSync(big, 1024 ** 3); // sparse
    for (const command of ['decode-attestation', 'verify-attestation']) {
      const r = runMeasured([command, '--document', big]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(
        r.stderr,
        /nitro-dev: error: .*big\.bin is 1073741824 bytes; an attestation document is at most 262144 bytes \(525312 as hex or base64 text\), so it was not read/,
      );
      assert.ok(r.maxRssMiB > 0 && r.maxRssMiB < 300, `peak RSS ${r.maxRssMiB} MiB`);
    }
  });

  it('stops reading standard input after the limit (a 1 GiB file as stdin), and says so', () => {
    const big = path.join(tmp, 'big-stdin.bin');
    writeFileSync(big, Buffer.alloc(0));
    truncateSync(big, 1024 ** 3);
    const r = runMeasured(['decode-attestation', '--document', '-'], big);
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /nitro-dev: error: standard input is more than 525312 bytes; an attestation document is at most 262144 bytes/,
    );
    assert.ok(r.maxRssMiB > 0 && r.maxRssMiB < 300, `peak RSS ${r.maxRssMiB} MiB`);
    const piped = run(['verify-attestation', '--document', '-'], 'A'.repeat(600 * 1024));
    assert.equal(piped.status, 1);
    assert.match(piped.stderr, /standard input is more than 525312 bytes/);
  });

  it('NitroTPM documents: the kind in the report and the JSON; an enclave image does not apply', () => {
    const text = run(['verify-attestation', '--document', doc(TPM), '--at-document-time']);
    assert.equal(text.status, 0, text.stdout + text.stderr);
    assert.match(
      text.stdout,
      /\nVerdict: VALID as NitroTPM \(instance\) attestation at 2026-06-18T05:10:49\.634Z\.\nKind: NitroTPM \(instance\) attestation\n/,
    );
    const json = JSON.parse(run(['verify-attestation', '--document', doc(TPM), '--at-document-time', '--json']).stdout);
    assert.equal(json.kind, 'nitrotpm');
    assert.equal(json.kind_label, 'NitroTPM (instance) attestation');
    assert.equal(json.valid, true);
    const decoded = JSON.parse(run(['decode-attestation', '--document', doc(TPM)]).stdout);
    assert.equal(decoded.kind, 'nitrotpm');
    assert.equal(decoded.document.module_id, 'i-05473b8eb5f575457-tpm0000000000000000');
    assert.equal(Object.keys(decoded.document.nitrotpm_pcrs).length, 24);
    assert.equal(JSON.parse(run(['decode-attestation', '--document', doc(PROD)]).stdout).kind, 'enclave');
    const image = run([
      'verify-attestation',
      '--document',
      doc(TPM),
      '--at-document-time',
      '--eif-path',
      repoPath('test/fixtures/eif/synthetic-v4-signed.eif'),
    ]);
    assert.equal(image.status, 1);
    assert.match(
      image.stdout,
      /FAIL +PCRs equal the expected values +an enclave image's PCRs do not apply to a NitroTPM \(instance\) attestation document/,
    );
    const measurements = JSON.stringify({
      Measurements: {
        HashAlgorithm: 'Sha384 { ... }',
        PCR0: '00'.repeat(48),
        PCR1: '00'.repeat(48),
        PCR2: '00'.repeat(48),
      },
    });
    assert.match(
      run(['verify-attestation', '--document', doc(TPM), '--at-document-time', '--pcrs', measurements]).stdout,
      /do not apply to a NitroTPM/,
    );
  });

  it('hints: --at-document-time for a real document that fails only on validity now', () => {
    const r = run(['verify-attestation', '--document', doc(PROD)]);
    assert.equal(r.status, 1);
    assert.match(
      r.stdout,
      /\nHint: It is valid at its own time \(2022-10-13T08:58:02\.136Z\).*add --at-document-time\.\n/,
    );
    assert.equal(
      JSON.parse(run(['verify-attestation', '--document', doc(PROD), '--json']).stdout).hints[0].code,
      'at-document-time',
    );
    assert.doesNotMatch(run(['verify-attestation', '--document', doc(PROD), '--at-document-time']).stdout, /Hint:/);
  });

  it('failure reasons are numbered in the verdict, not run together', () => {
    const prod = new Uint8Array(readFileSync(doc(PROD)));
    const l = sign1Layout(prod);
    const parts = splitPayload(l.payload);
    // Rename the key "pcrs" to "pcrz": pcrs is missing, and the signature no longer verifies.
    const renamed = {
      entries: parts.entries.map((e) =>
        Buffer.from(e.key).toString('latin1') === '\x64pcrs'
          ? { key: Uint8Array.from(Buffer.from('\x64pcrz', 'latin1')), value: e.value }
          : e,
      ),
      indefinite: parts.indefinite,
    };
    const file = path.join(tmp, 'no-pcrs.cbor');
    writeFileSync(
      file,
      encodeSign1({ protectedBytes: l.protectedBytes, payload: joinPayload(renamed), signature: l.signature }),
    );
    const r = run(['verify-attestation', '--document', file]);
    assert.equal(r.status, 1);
    assert.match(
      r.stdout,
      /\nVerdict: INVALID at \S+: \d+ checks failed: \(1\) pcrs is missing \(a NitroTPM instance document has nitrotpm_pcrs instead\); \(2\) /,
    );
  });

  it('an out-of-range timestamp: decode prints the number and says it is out of range; verify reports', () => {
    const prod = new Uint8Array(readFileSync(doc(PROD)));
    const l = sign1Layout(prod);
    const file = path.join(tmp, 'far-future.cbor');
    writeFileSync(
      file,
      encodeSign1({
        protectedBytes: l.protectedBytes,
        payload: joinPayload(setEntry(splitPayload(l.payload), 'timestamp', cUint(0x1fffffffffffffn, 8))),
        signature: l.signature,
      }),
    );
    const d = run(['decode-attestation', '--document', file]);
    assert.doesNotMatch(d.stderr, /Invalid time value/);
    assert.equal(d.status, 0, d.stderr);
    const json = JSON.parse(d.stdout);
    assert.equal(json.document.timestamp, 9007199254740991);
    assert.equal(json.document.timestamp_iso, null);
    assert.equal(json.document.timestamp_out_of_range, true);
    assert.ok(json.problems.some((p: { message: string }) => /beyond the range of dates/.test(p.message)));
    for (const extra of [[], ['--at-document-time'], ['--json']]) {
      const v = run(['verify-attestation', '--document', file, ...extra]);
      assert.equal(v.status, 1, v.stderr);
      assert.doesNotMatch(v.stderr, /Invalid time value/);
      assert.match(v.stdout, /timestamp 9007199254740991 ms lies beyond the range of dates/);
    }
    assert.match(
      run(['verify-attestation', '--document', file]).stdout,
      /timestamp +9007199254740991 \(out of the range of dates\)/,
    );
  });

  describe('root files: DER, several PEM certificates, and the development-root hint', () => {
    let devDoc: string;
    let rootPem: string;
    before(async () => {
      const T0 = Date.parse('2026-03-01T12:00:00.123Z');
      const ca = await DevelopmentCa.load(path.join(tmp, 'state'), { now: () => T0 });
      devDoc = path.join(tmp, 'dev.cbor');
      writeFileSync(
        devDoc,
        await createAttestationDocument({
          ca,
          enclaveId: 'i-0123456789abcdef0-enc0123456789abcdef',
          pcrs: new Map([[0, new Uint8Array(48).fill(7)]]),
          timestamp: T0,
        }),
      );
      rootPem = path.join(tmp, 'dev-root.pem');
      writeFileSync(rootPem, ca.rootPem);
    });

    it('without --development-root: suggests it', () => {
      const r = run(['verify-attestation', '--document', devDoc, '--at-document-time']);
      assert.equal(r.status, 1);
      assert.match(
        r.stdout,
        /\nHint: The chain starts at the Nitro Enclaves emulator's development root.*Pass it with --development-root <file>/,
      );
      assert.equal(
        JSON.parse(run(['verify-attestation', '--document', devDoc, '--at-document-time', '--json']).stdout).hints[0]
          .code,
        'development-root',
      );
    });

    it('accepts the root as DER made by OpenSSL, and as one of several PEM certificates', () => {
      const made = openssl(['x509', '-in', rootPem, '-outform', 'DER', '-out', path.join(tmp, 'dev-root.der')]);
      assert.equal(made.status, 0, made.stderr);
      const der = run([
        'verify-attestation',
        '--document',
        devDoc,
        '--at-document-time',
        '--development-root',
        path.join(tmp, 'dev-root.der'),
      ]);
      assert.equal(der.status, 0, der.stdout + der.stderr);
      assert.match(der.stdout, /VALID at 2026-03-01T12:00:00\.123Z \(development attestation/);
      const bundle = path.join(tmp, 'bundle.pem');
      writeFileSync(bundle, `${readFileSync(doc('aws_nitro_root_g1.pem'), 'utf8')}\n${readFileSync(rootPem, 'utf8')}`);
      const multi = run([
        'verify-attestation',
        '--document',
        devDoc,
        '--at-document-time',
        '--development-root',
        bundle,
      ]);
      assert.equal(multi.status, 0, multi.stdout + multi.stderr);
      const customDer = run([
        'verify-attestation',
        '--document',
        devDoc,
        '--at-document-time',
        '--root',
        path.join(tmp, 'dev-root.der'),
      ]);
      assert.equal(customDer.status, 0, customDer.stdout + customDer.stderr);
      const junk = path.join(tmp, 'junk.txt');
      writeFileSync(junk, 'not a certificate');
      const bad = run(['verify-attestation', '--document', devDoc, '--root', junk]);
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /nitro-dev: error: --root .*junk\.txt: no certificate: the file is neither DER nor PEM/);
    });
  });
});
