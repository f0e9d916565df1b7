// Issue 9, attestation verification: a real NitroTPM (instance) document, --at-document-time with a
// readable timestamp, separated failure reasons, hints, out-of-range timestamps, and root
// certificate files in DER or as several PEM blocks. Expected values come from SOURCES.md, from
// node:crypto and OpenSSL, or from this suite's CBOR walker; none comes from the engine.
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeAttestation } from '../../../../src/engine/attestation/document';
import { decodedToJson, reportToJson } from '../../../../src/engine/attestation/json';
import {
  EMULATOR_DEVELOPMENT_ROOT_CN,
  verifyAttestation,
  type VerifyOptions,
  type VerifyReport,
} from '../../../../src/engine/attestation/verify';
import { nodeAttestationCrypto } from '../../../../src/engine/node/attestationCrypto';
import {
  DEVELOPMENT_ROOT_CN,
  DevelopmentCa,
  createAttestationDocument,
} from '../../../../src/engine/node/devAttestation';
import { certificatesFromFile } from '../../../../src/engine/util/pem';
import {
  ROOT_PEM,
  cBstr,
  cMap,
  cUint,
  certificateOf,
  encodeSign1,
  entryValue,
  ensureOpenssl,
  hex,
  joinPayload,
  loadFixture,
  nodeVerifySign1,
  openssl,
  sha256Hex,
  setEntry,
  sign1Layout,
  splitPayload,
  walkCbor,
  type PayloadParts,
} from './helpers';

const verify = (input: Uint8Array | string, options: VerifyOptions): VerifyReport =>
  verifyAttestation(input, options, nodeAttestationCrypto);
const status = (r: VerifyReport, code: string): string | undefined => r.checks.find((c) => c.code === code)?.status;
const reasonOf = (r: VerifyReport, code: string): string => r.checks.find((c) => c.code === code)?.reason ?? '';
const failed = (r: VerifyReport): string[] => r.checks.filter((c) => c.status === 'fail').map((c) => c.code);

export const TPM_FILE = 'nitrotpm-2026-06-18-use2.cbor';
const PROD = 'evervault-2022-10-13-prod.cbor';
/** From SOURCES.md (and the leaf certificate, read with node:crypto / OpenSSL). */
const TPM = {
  sha256: '020ed8bb353d9d9a5d8245621fea6a4555b26d41d4991a2e6b17866b11fdfb8d',
  bytes: 4901,
  timestamp: 1781759449634,
  moduleId: 'i-05473b8eb5f575457-tpm0000000000000000',
  pcr4: '40811f47db13c1d188559123a3e491aa6203167c861d0fcbad5fe24e9a469545dd0ff54e362255a03d3ac6ece636401d',
  pcr7: '98441c7f7625d10058c47683aec486ce311c633235eb555593a7ee791121e3578ae72d04ecef661f272d59058b77af35',
  nonce: '31656a09057eb192a0b8a68b6fe6eaa002d797f1fdc130f8e826403ee4642a9a',
  leafNotAfter: '2026-06-18T08:10:49.000Z',
};
const PROD_TIMESTAMP = 1665651482136;

/** The document with its payload changed by `change` (the signature is kept, so it no longer verifies). */
function withPayload(doc: Uint8Array, change: (p: PayloadParts) => PayloadParts): Uint8Array {
  const l = sign1Layout(doc);
  return encodeSign1({
    protectedBytes: l.protectedBytes,
    payload: joinPayload(change(splitPayload(l.payload))),
    signature: l.signature,
    tagged: l.tagged,
  });
}

/** Renames a payload key (same length or not): the entry keeps its value. */
function renameKey(p: PayloadParts, from: string, to: string): PayloadParts {
  const k = hex(Uint8Array.from(Buffer.concat([Buffer.of(0x60 + from.length), Buffer.from(from)])));
  const entries = p.entries.map((e) =>
    hex(e.key) === k
      ? { key: Uint8Array.from(Buffer.concat([Buffer.of(0x60 + to.length), Buffer.from(to)])), value: e.value }
      : { ...e },
  );
  return { entries, indefinite: p.indefinite };
}

describe('(unit) attestation: NitroTPM (instance) documents', function () {
  this.timeout(30000);
  const doc = loadFixture(TPM_FILE);

  it('the fixture is the real document SOURCES.md describes, and node:crypto alone verifies its signature', () => {
    assert.equal(doc.length, TPM.bytes);
    assert.equal(sha256Hex(doc), TPM.sha256);
    const l = sign1Layout(doc);
    const parts = splitPayload(l.payload);
    assert.equal(nodeVerifySign1(doc, certificateOf(parts)), true);
    // The PCR map is under nitrotpm_pcrs: 24 entries (0-23) of 48 bytes, by this suite's own walker.
    const pcrs = walkCbor(entryValue(parts, 'nitrotpm_pcrs'));
    assert.equal(pcrs.major, 5);
    assert.equal(pcrs.children.length, 48);
    assert.throws(() => entryValue(parts, 'pcrs'), /no key pcrs/);
  });

  it('decodes as a NitroTPM document: the kind, every PCR, the optional fields', () => {
    const d = decodeAttestation(doc);
    assert.ok(d.document, JSON.stringify(d.problems));
    assert.equal(d.kind, 'nitrotpm');
    assert.equal(d.document.kind, 'nitrotpm');
    assert.equal(d.document.moduleId, TPM.moduleId);
    assert.equal(d.document.timestamp, TPM.timestamp);
    assert.deepEqual(
      [...d.document.pcrs.keys()],
      Array.from({ length: 24 }, (_, i) => i),
    );
    assert.equal(hex(d.document.pcrs.get(4) as Uint8Array), TPM.pcr4);
    assert.equal(hex(d.document.pcrs.get(7) as Uint8Array), TPM.pcr7);
    assert.equal(d.document.publicKey.state, 'null');
    assert.equal(d.document.userData.state, 'null');
    assert.equal(d.document.nonce.state === 'present' ? hex(d.document.nonce.value) : '', TPM.nonce);
    assert.deepEqual(
      d.problems.filter((p) => p.severity === 'error'),
      [],
    );
    const json = decodedToJson(d);
    assert.equal(json['kind'], 'nitrotpm');
    assert.equal(json['kind_label'], 'NitroTPM (instance) attestation');
    const jdoc = json['document'] as Record<string, unknown>;
    assert.equal((jdoc['nitrotpm_pcrs'] as Record<string, string>)['4'], TPM.pcr4);
    assert.equal(jdoc['pcrs'], undefined, 'never shown as an enclave document');
  });

  it('verifies at its own time against the pinned AWS root, labelled as NitroTPM (instance) attestation', () => {
    const r = verify(doc, { at: 'document' });
    assert.equal(r.valid, true, r.summary);
    assert.equal(r.kind, 'nitrotpm');
    assert.equal(r.at.getTime(), TPM.timestamp);
    assert.deepEqual(r.trustedRoot, { label: 'AWS Nitro Enclaves Root G1', kind: 'aws' });
    assert.match(r.summary, /^VALID as NitroTPM \(instance\) attestation at 2026-06-18T05:10:49\.634Z\.$/);
    assert.equal(status(r, 'cose.signature'), 'pass');
    assert.equal(status(r, 'chain.root'), 'pass');
    assert.equal(status(r, 'debug-mode'), 'skip', 'an instance has no enclave debug mode');
    assert.equal(r.debugMode, false);
    assert.equal(r.chain.length, 5);
    assert.equal(r.chain[4]?.notAfter.toISOString(), TPM.leafNotAfter);
    assert.equal(reportToJson(r)['kind'], 'nitrotpm');
    // One second after the leaf expired: invalid, and only the validity check fails.
    const late = verify(doc, { at: new Date(Date.parse(TPM.leafNotAfter) + 1000) });
    assert.deepEqual(failed(late), ['chain.validity']);
  });

  it('a signature over a changed PCR fails (the signature covers nitrotpm_pcrs)', () => {
    const l = sign1Layout(doc);
    const payload = Uint8Array.from(l.payload);
    const at = Buffer.from(payload).indexOf(Buffer.from(TPM.pcr4, 'hex'));
    assert.ok(at > 0);
    payload[at] = (payload[at] as number) ^ 1;
    const r = verify(encodeSign1({ protectedBytes: l.protectedBytes, payload, signature: l.signature }), {
      at: 'document',
    });
    assert.equal(r.valid, false);
    assert.equal(status(r, 'cose.signature'), 'fail');
  });

  it('an enclave image does not apply to it; PCR values given as such are compared with nitrotpm_pcrs', () => {
    const image = verify(doc, {
      at: 'document',
      expectedPcrs: new Map([[0, '00'.repeat(48)]]),
      expectedPcrsFrom: 'enclave-image',
    });
    assert.equal(image.valid, false);
    assert.equal(status(image, 'pcrs.expected'), 'fail');
    assert.match(
      reasonOf(image, 'pcrs.expected'),
      /an enclave image's PCRs do not apply to a NitroTPM \(instance\) attestation document/,
    );
    assert.deepEqual(image.pcrComparisons, []);
    const values = verify(doc, {
      at: 'document',
      expectedPcrs: new Map([
        [4, TPM.pcr4],
        [7, TPM.pcr7],
      ]),
    });
    assert.equal(values.valid, true, values.summary);
    assert.deepEqual(
      values.pcrComparisons.map((p) => p.match),
      [true, true],
    );
  });

  it('synthetic rule tests: both PCR maps, bad PCR keys and sizes, and a mislabelled module_id', () => {
    // Synthetic (derived from the real document; signatures no longer verify, syntax is what is checked).
    const both = withPayload(doc, (p) => ({
      entries: [
        ...p.entries,
        {
          key: Uint8Array.from(Buffer.from('6470637273', 'hex')),
          value: cMap([[cUint(0), cBstr(new Uint8Array(48))]]),
        },
      ],
      indefinite: p.indefinite,
    }));
    const rb = verify(both, { at: 'document' });
    assert.equal(status(rb, 'payload.syntax'), 'fail');
    assert.match(reasonOf(rb, 'payload.syntax'), /both pcrs \(an enclave document\) and nitrotpm_pcrs/);
    assert.equal(decodeAttestation(both).kind, undefined);
    const badKey = withPayload(doc, (p) =>
      setEntry(p, 'nitrotpm_pcrs', cMap([[cUint(32), cBstr(new Uint8Array(48))]])),
    );
    assert.match(
      reasonOf(verify(badKey, {}), 'payload.syntax'),
      /nitrotpm_pcrs has the key 32; keys must be integers 0 to 31/,
    );
    const badSize = withPayload(doc, (p) =>
      setEntry(p, 'nitrotpm_pcrs', cMap([[cUint(4), cBstr(new Uint8Array(20))]])),
    );
    assert.match(
      reasonOf(verify(badSize, {}), 'payload.syntax'),
      /PCR4 is 20 bytes; a PCR value is 32, 48 or 64 bytes/,
    );
    const empty = withPayload(doc, (p) => setEntry(p, 'nitrotpm_pcrs', cMap([])));
    assert.match(reasonOf(verify(empty, {}), 'payload.syntax'), /nitrotpm_pcrs has 0 entries; it must have 1 to 32/);
    // An enclave document whose PCR map is renamed to nitrotpm_pcrs: a NitroTPM document whose module_id says enclave.
    const renamed = withPayload(loadFixture(PROD), (p) => renameKey(p, 'pcrs', 'nitrotpm_pcrs'));
    const d = decodeAttestation(renamed);
    assert.equal(d.kind, 'nitrotpm');
    assert.ok(d.problems.some((p) => p.field === 'module_id' && /names an enclave/.test(p.message)));
    // And a NitroTPM document with its map renamed to pcrs is an enclave document that names a NitroTPM.
    const back = decodeAttestation(withPayload(doc, (p) => renameKey(p, 'nitrotpm_pcrs', 'pcrs')));
    assert.equal(back.kind, 'enclave');
    assert.ok(back.problems.some((p) => p.field === 'module_id' && /names a NitroTPM/.test(p.message)));
  });
});

describe('(unit) attestation: verification time, reasons, hints, out-of-range timestamps', function () {
  this.timeout(60000);

  it('--at-document-time uses the timestamp even when another field is wrong (no false expiry failures)', () => {
    const prod = loadFixture(PROD);
    // digest is wrong: the document is unreadable as a whole, but its timestamp is not.
    const bad = withPayload(prod, (p) =>
      setEntry(p, 'digest', Uint8Array.from(Buffer.concat([Buffer.of(0x66), Buffer.from('SHA256')]))),
    );
    const r = verify(bad, { at: 'document' });
    assert.equal(r.at.getTime(), PROD_TIMESTAMP);
    assert.equal(r.timeNote, undefined);
    assert.match(r.summary, /^INVALID at 2022-10-13T08:58:02\.136Z/);
    assert.equal(status(r, 'chain.validity'), 'pass', reasonOf(r, 'chain.validity'));
    assert.equal(status(r, 'payload.syntax'), 'fail');
  });

  it('--at-document-time says plainly when the timestamp cannot be read', () => {
    const prod = loadFixture(PROD);
    const noTime = withPayload(prod, (p) => setEntry(p, 'timestamp', Uint8Array.of(0x60))); // the empty text string
    const before = Date.now();
    const r = verify(noTime, { at: 'document' });
    assert.ok(r.at.getTime() >= before, 'the current time');
    assert.match(
      r.timeNote ?? '',
      /the current time: the document's timestamp cannot be read, so it cannot be checked at its own time/,
    );
    assert.match(r.summary, /^INVALID at \S+ \(the current time: the document's timestamp cannot be read/);
    assert.equal(reportToJson(r)['timeNote'], r.timeNote);
  });

  it('separates failure reasons in the summary: numbered, never run together', () => {
    const prod = loadFixture(PROD);
    const noPcrs = withPayload(prod, (p) => renameKey(p, 'pcrs', 'pcrz'));
    const r = verify(noPcrs, {});
    const reasons = r.checks.filter((c) => c.status === 'fail').map((c) => c.reason);
    assert.ok(reasons.length >= 2, reasons.join(' | '));
    assert.match(r.summary, new RegExp(`: ${reasons.length} checks failed: \\(1\\) `));
    for (const [i, reason] of reasons.entries())
      assert.ok(r.summary.includes(`(${i + 1}) ${reason.replace(/\.$/, '')}`), `reason ${i + 1} in ${r.summary}`);
    assert.ok(
      !/pcrs is missing[^;]*\) intermediate/.test(r.summary) && !/missing intermediate/.test(r.summary),
      r.summary,
    );
  });

  it('a real document that fails only on validity now suggests verifying at its own time', () => {
    const r = verify(loadFixture(PROD), {});
    assert.deepEqual(failed(r), ['chain.validity']);
    assert.deepEqual(
      r.hints.map((h) => h.code),
      ['at-document-time'],
    );
    assert.match(r.hints[0]?.message ?? '', /valid at its own time \(2022-10-13T08:58:02\.136Z\)/);
    assert.deepEqual(reportToJson(r)['hints'], r.hints);
    assert.deepEqual(verify(loadFixture(PROD), { at: 'document' }).hints, [], 'no hint when it is valid');
    // A forged one that also fails its signature gets no such hint.
    assert.deepEqual(verify(loadFixture('neg-veracruz-bad-sig.cbor'), {}).hints, []);
  });

  it('out-of-range timestamps (0x001fffffffffffff ms) give a report, never "Invalid time value"', () => {
    const big = withPayload(loadFixture(PROD), (p) => setEntry(p, 'timestamp', cUint(0x1fffffffffffffn, 8)));
    for (const at of [undefined, 'document' as const, new Date(PROD_TIMESTAMP)]) {
      const r = verify(big, at ? { at } : {});
      assert.equal(r.valid, false);
      assert.equal(status(r, 'document.time'), 'fail');
      assert.match(reasonOf(r, 'document.time'), /timestamp 9007199254740991 ms lies beyond the range of dates/);
      assert.doesNotThrow(() => JSON.stringify(reportToJson(r)));
      if (at === 'document') assert.match(r.timeNote ?? '', /9007199254740991 ms lies beyond the range of dates/);
    }
    const d = decodeAttestation(big);
    const json = decodedToJson(d);
    const jdoc = json['document'] as Record<string, unknown>;
    assert.equal(jdoc['timestamp'], 9007199254740991);
    assert.equal(jdoc['timestamp_iso'], null);
    assert.equal(jdoc['timestamp_out_of_range'], true);
    assert.ok(d.problems.some((p) => p.field === 'timestamp' && /beyond the range of dates/.test(p.message)));
  });

  describe("a document of the emulator's development CA", () => {
    let stateDir: string;
    let devDoc: Uint8Array;
    let ca: DevelopmentCa;
    const T0 = Date.parse('2026-03-01T12:00:00.123Z');
    before(async () => {
      stateDir = mkdtempSync(path.join(os.tmpdir(), 'nitro-attest-hint-'));
      ca = await DevelopmentCa.load(stateDir, { now: () => T0 });
      devDoc = await createAttestationDocument({
        ca,
        enclaveId: 'i-0123456789abcdef0-enc0123456789abcdef',
        pcrs: new Map([[0, new Uint8Array(48).fill(1)]]),
        timestamp: T0,
      });
    });
    after(() => rmSync(stateDir, { recursive: true, force: true }));

    it('the verifier knows the emulator root by the name the CA gives it', () => {
      assert.equal(EMULATOR_DEVELOPMENT_ROOT_CN, DEVELOPMENT_ROOT_CN);
    });

    it('verified without the development root: suggests trusting it; with it: no hint', () => {
      const r = verify(devDoc, { at: 'document' });
      assert.equal(status(r, 'chain.root'), 'fail');
      assert.deepEqual(
        r.hints.map((h) => h.code),
        ['development-root'],
      );
      const ok = verify(devDoc, { at: 'document', roots: [{ der: ca.rootDer, label: 'dev', kind: 'development' }] });
      assert.equal(ok.valid, true, ok.summary);
      assert.deepEqual(ok.hints, []);
      // An unknown root of another name gets no such hint.
      assert.deepEqual(verify(loadFixture('neg-veracruz-bad-sig.cbor'), { at: 'document' }).hints, []);
    });
  });
});

describe('(unit) attestation: root certificate files (PEM, several PEM, DER)', function () {
  this.timeout(30000);
  let dir: string;
  before(() => {
    ensureOpenssl();
    dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-roots-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads DER written by OpenSSL, a bundle of PEM certificates, and refuses what is neither', () => {
    writeFileSync(path.join(dir, 'root.pem'), ROOT_PEM);
    const made = openssl(['x509', '-in', 'root.pem', '-outform', 'DER', '-out', 'root.der'], dir);
    assert.equal(made.status, 0, made.stderr);
    const der = new Uint8Array(readFileSync(path.join(dir, 'root.der')));
    const [fromDer] = certificatesFromFile(der);
    assert.equal(sha256Hex(fromDer as Uint8Array), '641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b');
    // Two DER certificates one after another.
    assert.equal(certificatesFromFile(new Uint8Array(Buffer.concat([der, der]))).length, 2);
    // A PEM bundle: another certificate first (made by OpenSSL), then the AWS root.
    const other = openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-384',
        '-nodes',
        '-keyout',
        'k.pem',
        '-subj',
        '/CN=other root',
        '-days',
        '2',
        '-out',
        'other.pem',
      ],
      dir,
    );
    assert.equal(other.status, 0, other.stderr);
    const bundle = `${readFileSync(path.join(dir, 'other.pem'), 'utf8')}\n${ROOT_PEM}\n`;
    const ders = certificatesFromFile(new Uint8Array(Buffer.from(bundle)));
    assert.equal(ders.length, 2);
    assert.equal(sha256Hex(ders[1] as Uint8Array), '641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b');
    assert.throws(() => certificatesFromFile(new Uint8Array(Buffer.from('hello'))), /neither DER nor PEM/);
    assert.throws(
      () => certificatesFromFile(Uint8Array.of(0x30, 0x82, 0x10)),
      /starts like DER but is not a DER certificate/,
    );
    assert.throws(() => certificatesFromFile(new Uint8Array(0)), /empty/);
  });
});
