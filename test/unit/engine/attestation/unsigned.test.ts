// Unsigned documents from QEMU's emulated NSM (issue 14, attestation): the real document QEMU 10.0.13
// returned decodes fully and is reported UNSIGNED (never VALID, never a parse failure), its PCRs are
// still compared (as unsigned values) and its nonce checked; documents with only some of QEMU's four
// markers are INVALID with a reason naming them. Expected values come from qemu/SOURCES.md (read
// from the bytes with Python) and this suite's own CBOR walker, not from the engine.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { decodeAttestation } from '../../../../src/engine/attestation/document';
import { reportToJson } from '../../../../src/engine/attestation/json';
import { verifyAttestation, type VerifyOptions, type VerifyReport } from '../../../../src/engine/attestation/verify';
import { nodeAttestationCrypto } from '../../../../src/engine/node/attestationCrypto';
import { decodeResponse } from '../../../../src/engine/nsm/protocol';
import {
  FIXTURES,
  QEMU,
  QEMU_FILE,
  cArray,
  cBstr,
  cText,
  certificateOf,
  encodeSign1,
  entryValue,
  hex,
  joinPayload,
  loadFixture,
  setEntry,
  sha256Hex,
  sign1Layout,
  splitPayload,
} from './helpers';

const PROD = 'evervault-2022-10-13-prod.cbor';
const PROD_TIME = new Date(1665651482136);
const ZERO48 = '00'.repeat(48);

const verify = (input: Uint8Array | string, options: VerifyOptions = {}): VerifyReport =>
  verifyAttestation(input, options, nodeAttestationCrypto);
const statusOf = (r: VerifyReport, code: string) => r.checks.find((c) => c.code === code)?.status;
const reasonOf = (r: VerifyReport, code: string) => r.checks.find((c) => c.code === code)?.reason ?? '';
const failedOf = (r: VerifyReport) => r.checks.filter((c) => c.status === 'fail').map((c) => c.code);

/** The QEMU document with one part changed (its payload re-encoded entry by entry, the rest kept). */
function qemuWith(change: {
  protectedBytes?: Uint8Array;
  signature?: Uint8Array;
  entries?: Record<string, Uint8Array>;
}): Uint8Array {
  const layout = sign1Layout(loadFixture(QEMU_FILE));
  let payload = splitPayload(layout.payload);
  for (const [k, v] of Object.entries(change.entries ?? {})) payload = setEntry(payload, k, v);
  return encodeSign1({
    protectedBytes: change.protectedBytes ?? layout.protectedBytes,
    payload: joinPayload(payload),
    signature: change.signature ?? layout.signature,
  });
}

describe("(unit) unsigned documents from QEMU's emulated NSM", () => {
  const bytes = loadFixture(QEMU_FILE);

  it('the fixture is the document SOURCES.md describes, with the four markers in its bytes', () => {
    assert.equal(sha256Hex(bytes), QEMU.sha256);
    const l = sign1Layout(bytes);
    assert.equal(l.tagged, false);
    assert.equal(hex(l.protectedBytes), 'a10120', 'protected header {1: -1}');
    assert.equal(hex(l.signature), '00'.repeat(64));
    const p = splitPayload(l.payload);
    assert.equal(hex(certificateOf(p)), '00'.repeat(64));
    assert.equal(hex(entryValue(p, 'cabundle')), `8158 40${'00'.repeat(64)}`.replace(' ', ''));
  });

  it('decodes fully: module_id, digest, timestamp, PCRs 0-15, public_key null, user_data, nonce', () => {
    const d = decodeAttestation(bytes);
    assert.deepEqual(
      d.problems.filter((p) => p.severity === 'error'),
      [],
    );
    const doc = d.document;
    assert.ok(doc, 'the payload is a readable document');
    assert.equal(doc.kind, 'enclave');
    assert.equal(doc.moduleId, QEMU.moduleId);
    assert.equal(doc.digest, 'SHA384');
    assert.equal(doc.timestamp, QEMU.timestamp);
    assert.deepEqual(
      [...doc.pcrs.keys()],
      Array.from({ length: 16 }, (_, i) => i),
    );
    for (const [i, v] of doc.pcrs) assert.equal(hex(v), QEMU.pcrs[i] ?? ZERO48, `PCR${i}`);
    assert.deepEqual(doc.publicKey, { state: 'null' });
    assert.equal(doc.userData.state === 'present' && Buffer.from(doc.userData.value).toString(), QEMU.userData);
    assert.equal(doc.nonce.state === 'present' && hex(doc.nonce.value), QEMU.nonce);
    assert.equal(doc.indefiniteLengthMap, false);
  });

  it("the raw NSM response holds exactly this document (the QEMU guest's /dev/nsm answer)", () => {
    const response = decodeResponse(
      new Uint8Array(readFileSync(path.join(FIXTURES, 'qemu/qemu-attestation-nsm-response.cbor'))),
    );
    assert.equal(response.type, 'Attestation');
    assert.ok(response.type === 'Attestation');
    assert.equal(hex(response.document), hex(bytes));
  });

  it('is UNSIGNED, naming QEMU, its markers, the missing signature and chain, and what its PCRs are worth', () => {
    for (const options of [{}, { at: 'document' as const }, { at: new Date('2030-01-01T00:00:00Z') }]) {
      const r = verify(bytes, options);
      assert.equal(r.verdict, 'unsigned');
      assert.equal(r.valid, false, 'never valid');
      assert.deepEqual(failedOf(r), []);
      assert.match(r.summary, /^UNSIGNED: /);
      assert.match(r.summary, /QEMU's emulated NSM/);
      assert.match(r.summary, /the protected header \{1: -1\}/);
      assert.match(r.summary, /a signature of 64 zero bytes/);
      assert.match(r.summary, /a certificate of 64 zero bytes/);
      assert.match(r.summary, /a cabundle of 1 all-zero entry/);
      assert.match(r.summary, /no signature or certificate chain exists to check/);
      assert.match(r.summary, /its PCRs are only as trustworthy as the machine that ran QEMU/);
      assert.doesNotMatch(r.summary, /VALID|INVALID/);
      assert.deepEqual(r.unsigned?.source, 'qemu');
      assert.equal(r.development, false);
      assert.equal(r.trustedRoot, undefined);
      assert.deepEqual(r.chain, []);
      assert.equal(r.document?.moduleId, QEMU.moduleId, 'the document is in the report');
      assert.equal(statusOf(r, 'unsigned.markers'), 'warn');
      assert.equal(statusOf(r, 'cose.signature'), 'skip');
      assert.equal(statusOf(r, 'chain.root'), 'skip');
      assert.equal(statusOf(r, 'payload.syntax'), 'pass');
      assert.equal(statusOf(r, 'debug-mode'), 'pass');
    }
  });

  it('stays UNSIGNED with a development or custom root trusted: trusting roots signs nothing', () => {
    const root = readFileSync(path.join(FIXTURES, 'aws_nitro_root_g1.pem'), 'utf8');
    const r = verify(bytes, { roots: [{ pem: root, kind: 'development', label: 'a development root' }] });
    assert.equal(r.verdict, 'unsigned');
    assert.equal(r.development, false);
  });

  it('its JSON report says unsigned, with the markers', () => {
    const json = reportToJson(verify(bytes));
    assert.equal(json['valid'], false);
    assert.equal(json['verdict'], 'unsigned');
    assert.match(JSON.stringify(json['unsigned']), /\{1: -1\}/);
    assert.equal((json['document'] as Record<string, unknown>)['module_id'], QEMU.moduleId);
  });

  it('compares PCRs with expected ones, labelled as unsigned values; a mismatch is INVALID', () => {
    const expected = new Map([0, 1, 2].map((i) => [i, QEMU.pcrs[i] as string]));
    const same = verify(bytes, { expectedPcrs: expected, expectedPcrsFrom: 'enclave-image' });
    assert.equal(same.verdict, 'unsigned');
    assert.equal(statusOf(same, 'pcrs.expected'), 'pass');
    assert.match(reasonOf(same, 'pcrs.expected'), /^comparing unsigned values .*: PCR0, PCR1, PCR2 match$/);
    assert.deepEqual(
      same.pcrComparisons.map((p) => [p.index, p.match]),
      [
        [0, true],
        [1, true],
        [2, true],
      ],
    );
    const other = new Map(expected).set(1, 'ab'.repeat(48));
    const differ = verify(bytes, { expectedPcrs: other, expectedPcrsFrom: 'enclave-image' });
    assert.equal(differ.verdict, 'invalid');
    assert.equal(differ.valid, false);
    assert.deepEqual(failedOf(differ), ['pcrs.expected']);
    assert.match(
      reasonOf(differ, 'pcrs.expected'),
      /^comparing unsigned values .*PCR1 is a970a0a8ff1add88…, expected abab/,
    );
    assert.match(differ.summary, /^INVALID at .*PCR1.*\(an unsigned document from QEMU's emulated NSM/);
  });

  it('checks the nonce: the one asked for passes, another makes it INVALID', () => {
    const ok = verify(bytes, { nonce: new Uint8Array(Buffer.from(QEMU.nonce, 'hex')) });
    assert.equal(ok.verdict, 'unsigned');
    assert.equal(statusOf(ok, 'nonce.expected'), 'pass');
    const bad = verify(bytes, { nonce: Uint8Array.of(1, 2, 3) });
    assert.equal(bad.verdict, 'invalid');
    assert.deepEqual(failedOf(bad), ['nonce.expected']);
  });

  it('a QEMU document with broken fields is INVALID (with the fields named), not unsigned', () => {
    const r = verify(qemuWith({ entries: { digest: cText('SHA256') } }));
    assert.equal(r.verdict, 'invalid');
    assert.match(reasonOf(r, 'payload.syntax'), /digest is "SHA256"/);
    assert.match(r.summary, /an unsigned document from QEMU's emulated NSM/);
  });

  describe('documents with only some of the markers are INVALID, with the reason', () => {
    const prod = sign1Layout(loadFixture(PROD));
    const prodPayload = splitPayload(prod.payload);
    const realCert = certificateOf(prodPayload);

    const cases: { name: string; doc: () => Uint8Array; has: RegExp; lacks: RegExp }[] = [
      {
        name: 'alg -1, but a real certificate, cabundle and signature (a real document with its header changed)',
        doc: () =>
          encodeSign1({
            protectedBytes: Uint8Array.of(0xa1, 0x01, 0x20),
            payload: prod.payload,
            signature: prod.signature,
          }),
        has: /it has the protected header \{1: -1\}/,
        lacks:
          /a 96-byte signature that is not all zeros, a 639-byte certificate that is not all zeros and a cabundle of 4 entries, not all zeros/,
      },
      {
        name: 'alg -1 and zeros everywhere, but a real certificate',
        doc: () => qemuWith({ entries: { certificate: cBstr(realCert) } }),
        has: /a signature of 64 zero bytes/,
        lacks: /but also a 639-byte certificate that is not all zeros/,
      },
      {
        name: 'ES384 in the header, the rest as QEMU wrote it',
        doc: () => qemuWith({ protectedBytes: Uint8Array.of(0xa1, 0x01, 0x38, 0x22) }),
        has: /a certificate of 64 zero bytes/,
        lacks: /but also a protected header with alg -35/,
      },
      {
        name: 'a 96-byte signature that is not zeros',
        doc: () => qemuWith({ signature: new Uint8Array(96).fill(7) }),
        has: /the protected header \{1: -1\}/,
        lacks: /but also a 96-byte signature that is not all zeros/,
      },
      {
        name: 'a cabundle with a real root',
        doc: () => qemuWith({ entries: { cabundle: cArray([cBstr(new Uint8Array(64)), cBstr(realCert)]) } }),
        has: /a certificate of 64 zero bytes/,
        lacks: /but also a cabundle of 2 entries, not all zeros/,
      },
      {
        name: 'a zero signature on a real document (the other three markers absent)',
        doc: () =>
          encodeSign1({ protectedBytes: prod.protectedBytes, payload: prod.payload, signature: new Uint8Array(96) }),
        has: /it has a signature of 96 zero bytes/,
        lacks: /but also a protected header with alg -35, a 639-byte certificate/,
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const r = verify(c.doc(), { at: PROD_TIME });
        assert.equal(r.verdict, 'invalid');
        assert.equal(r.valid, false);
        assert.equal(r.unsigned, undefined, 'not reported as unsigned');
        assert.equal(statusOf(r, 'unsigned.markers'), 'fail');
        const reason = reasonOf(r, 'unsigned.markers');
        assert.match(reason, c.has);
        assert.match(reason, c.lacks);
        assert.match(reason, /altered or made to look unsigned/);
        assert.match(r.summary, /^INVALID at /);
        assert.ok(r.decoded, 'decoded, not a parse failure');
      });
    }
  });

  it('real documents carry no marker: no markers check, and their verdicts are unchanged', () => {
    const r = verify(loadFixture(PROD), { at: PROD_TIME });
    assert.equal(r.verdict, 'valid');
    assert.equal(r.valid, true);
    assert.equal(statusOf(r, 'unsigned.markers'), undefined);
    const now = verify(loadFixture(PROD));
    assert.equal(now.verdict, 'invalid');
    assert.equal(statusOf(now, 'unsigned.markers'), undefined);
  });
});
