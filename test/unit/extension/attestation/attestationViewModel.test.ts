// The Attestation Document Viewer's view model, built in Node from the real documents in
// test/fixtures/attestation. Expected values are read from expected.json (and the image's from
// test/fixtures/eif), never written into the test; the messages' validators get hostile input.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { LinkCache, expectedPcrsOf, pcrMeaning, type VerifyReport } from '../../../../src/engine';
import { nodeAttestationCrypto } from '../../../../src/engine/node';
import {
  bytesView,
  toAttestationViewModel,
  unreadableReason,
  utcText,
  verifyForView,
  type ViewContext,
} from '../../../../src/extension/attestation/attestationViewModel';
import {
  MAX_COPY_BYTES,
  MAX_PERSISTED_BASE64,
  parsePanelState,
  parseTimeChoice,
  parseWebviewState,
  parseWebviewMessage,
  type AttestationViewModel,
  type BytesView,
  type TimeChoice,
} from '../../../../src/shared/attestationViewer';
import {
  duration,
  fingerprintCopyWhat,
  fromLocalInput,
  toLocalInput,
} from '../../../../src/webview/attestationViewer/format';
import { repoPath } from '../../repo';

const FIXTURES = repoPath('test', 'fixtures', 'attestation');

interface ExpectedDoc {
  file: string;
  decodes: boolean;
  module_id: string;
  digest: string;
  timestamp_ms: number;
  timestamp_iso: string;
  pcr_indices: number[];
  pcrs: Record<string, string>;
  public_key: string;
  public_key_hex: string | null;
  user_data: string;
  user_data_hex: string | null;
  nonce: string;
  nonce_hex: string | null;
  tagged: boolean;
  signature_valid: boolean;
  leaf_not_before: string;
  leaf_not_after: string;
  image_pcrs_all_zero_debug: boolean;
  chain: { role: string; cn: string; not_before: string; not_after: string }[];
}

const EXPECTED: ExpectedDoc[] = JSON.parse(readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')).documents;
const expectedOf = (file: string): ExpectedDoc => {
  const e = EXPECTED.find((d) => d.file === file);
  assert.ok(e, `${file} is in expected.json`);
  return e;
};
const bytesOf = (file: string): Uint8Array => new Uint8Array(readFileSync(path.join(FIXTURES, file)));
/** expected.json writes certificate times as OpenSSL prints them (`Oct 13 11:58:02 2022 GMT`). */
const opensslDate = (text: string): Date => {
  const d = new Date(text.replace(/\s+/g, ' '));
  assert.ok(!Number.isNaN(d.getTime()), `a date: ${text}`);
  return d;
};

const cache = new LinkCache();

function modelOf(
  file: string,
  time: TimeChoice,
  extra: Partial<ViewContext> & { expectedPcrs?: ReadonlyMap<number, string> } = {},
): { model: AttestationViewModel; report: VerifyReport } {
  const bytes = bytesOf(file);
  const { expectedPcrs, ...context } = extra;
  const nonce = extra.nonce;
  const run = verifyForView(
    bytes,
    { time, ...(expectedPcrs ? { expectedPcrs } : {}), ...(nonce ? { nonce } : {}) },
    nodeAttestationCrypto,
    cache,
  );
  const model = toAttestationViewModel(run.report, {
    source: { kind: 'file', label: file, detail: path.join(FIXTURES, file), inputSize: bytes.length },
    time,
    ...(run.atDocumentTime ? { atDocumentTime: run.atDocumentTime } : {}),
    ...context,
  });
  return { model, report: run.report };
}

/** What expected.json says an optional field is: `null`, `bytes(0)`, `bytes(N)` (or absent). */
function expectBytesField(actual: BytesView, kind: string, hex: string | null, what: string): void {
  if (kind === 'null') return assert.deepEqual(actual, { state: 'null' }, what);
  if (kind === 'absent') return assert.deepEqual(actual, { state: 'absent' }, what);
  const size = Number(/^bytes\((\d+)\)$/.exec(kind)?.[1]);
  assert.ok(Number.isInteger(size), `${what}: expected.json says ${kind}`);
  if (size === 0) return assert.deepEqual(actual, { state: 'empty' }, what);
  assert.equal(actual.state, 'present', what);
  assert.ok(actual.state === 'present');
  assert.equal(actual.size, size, what);
  assert.equal(actual.hex, hex, what);
}

// Real hardware documents with different shapes: production with PCR8 and a nonce; 2024 with a raw
// EC point as public key; debug mode with ASCII public key and user data; an empty public key; an
// 800-byte PEM public key; an indefinite-length payload map; the tagged variant.
const POSITIVE = [
  'evervault-2022-10-13-prod.cbor',
  'base-2024-11-30.cbor',
  'evervault-2022-10-12-debug.cbor',
  'brave-2022-07-26-usw2-debug.cbor',
  'qos-2022-07-06-pemkey.cbor',
  'base-2026-01-03-indef.cbor',
  'derived-evervault-2022-10-13-prod-tagged18.cbor',
];

describe('(unit) Attestation Document Viewer view model', () => {
  for (const file of POSITIVE) {
    describe(file, () => {
      const exp = expectedOf(file);
      let atDoc: AttestationViewModel;
      let now: AttestationViewModel;
      before(() => {
        atDoc = modelOf(file, { mode: 'document' }).model;
        now = modelOf(file, { mode: 'now' }).model;
      });

      it('is plain JSON', () => {
        assert.deepEqual(JSON.parse(JSON.stringify(atDoc)), atDoc);
        assert.deepEqual(JSON.parse(JSON.stringify(now)), now);
      });

      it('carries module_id, digest and the timestamp of expected.json', () => {
        assert.ok(atDoc.document);
        assert.equal(atDoc.document.moduleId, exp.module_id);
        assert.equal(atDoc.document.digest, exp.digest);
        assert.equal(atDoc.document.timestamp.ms, exp.timestamp_ms);
        assert.equal(atDoc.document.timestamp.iso, exp.timestamp_iso);
        assert.equal(atDoc.document.timestamp.utc, utcText(new Date(exp.timestamp_iso)));
        assert.equal(atDoc.envelope?.tagged, exp.tagged);
      });

      it('carries every PCR in hex, in index order, with its meaning', () => {
        assert.deepEqual(
          atDoc.pcrs.map((p) => p.index),
          exp.pcr_indices,
        );
        for (const p of atDoc.pcrs) {
          assert.equal(p.value, exp.pcrs[String(p.index)], p.name);
          assert.equal(p.name, `PCR${p.index}`);
          assert.equal(p.meaning, pcrMeaning(p.index));
          assert.equal(p.reserved, ![0, 1, 2, 3, 4, 8].includes(p.index), p.name);
          assert.equal(p.allZero, /^0+$/.test(p.value), p.name);
          assert.equal(p.expected, undefined, 'nothing compared');
        }
      });

      it('tells absent, null, empty and present optional fields apart', () => {
        assert.ok(atDoc.document);
        expectBytesField(atDoc.document.nonce, exp.nonce, exp.nonce_hex, 'nonce');
        expectBytesField(atDoc.document.userData, exp.user_data, exp.user_data_hex, 'user_data');
        expectBytesField(atDoc.document.publicKey, exp.public_key, exp.public_key_hex, 'public_key');
      });

      it('is valid at document time, with every certificate valid then', () => {
        assert.equal(atDoc.verdict.valid, exp.signature_valid);
        assert.equal(atDoc.time.mode, 'document');
        assert.equal(atDoc.time.at.ms, exp.timestamp_ms);
        assert.match(atDoc.verdict.headline, /^Valid at document time/);
        assert.deepEqual(atDoc.verdict.reasons, []);
        assert.equal(atDoc.verdict.validAtDocumentTime, undefined, 'already at document time');
        assert.equal(atDoc.checks.filter((c) => c.status === 'fail').length, 0);
        assert.ok(atDoc.chain.every((c) => c.status === 'valid'));
      });

      it('is invalid now because the signing certificate expired, and says it was valid at document time', () => {
        const leafNotAfter = opensslDate(exp.leaf_not_after);
        assert.equal(now.verdict.valid, false);
        assert.equal(now.time.mode, 'now');
        const failed = now.checks.filter((c) => c.status === 'fail').map((c) => c.code);
        assert.deepEqual(failed, ['chain.validity']);
        assert.equal(now.verdict.headline, `Invalid now: its signing certificate expired at ${utcText(leafNotAfter)}`);
        assert.equal(now.verdict.reasons.length, 1);
        assert.match(
          now.verdict.reasons[0] as string,
          /^Its signing certificate expired at .* \(\d+ more certificates? of the chain (is|are) not valid at that time either\)$/,
        );
        assert.equal(now.verdict.validAtDocumentTime, true);
        assert.ok(
          now.verdict.notes.some((n) =>
            n.startsWith(`At document time (${utcText(new Date(exp.timestamp_ms))}) it is valid`),
          ),
        );
      });

      it('shows the chain root first, with subjects, validity at the chosen time and SHA-256 fingerprints', () => {
        assert.deepEqual(
          atDoc.chain.map((c) => [c.role, c.commonName]),
          exp.chain.map((c) => [c.role, c.cn]),
        );
        atDoc.chain.forEach((c, i) => {
          const e = exp.chain[i] as ExpectedDoc['chain'][number];
          assert.equal(c.notBefore.ms, opensslDate(e.not_before).getTime(), `${c.commonName} notBefore`);
          assert.equal(c.notAfter.ms, opensslDate(e.not_after).getTime(), `${c.commonName} notAfter`);
          assert.match(c.sha256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
          assert.match(c.subject, new RegExp(`CN=${c.commonName.replace(/\./g, '\\.')}`));
        });
        assert.equal(atDoc.chain[0]?.trusted, true, 'the root is the pinned AWS root');
        assert.equal(
          atDoc.chain[0]?.sha256.replace(/:/g, '').toLowerCase(),
          JSON.parse(readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')).root_der_sha256,
        );
        assert.deepEqual(
          atDoc.chain.map((c) => c.roleLabel),
          ['Root', 'Regional', 'Zonal', 'Instance', 'Signing certificate'],
        );
        // Now, every certificate but the 30-year root has expired.
        assert.deepEqual(
          now.chain.map((c) => c.status),
          ['valid', 'expired', 'expired', 'expired', 'expired'],
        );
      });

      it('says "debug mode" exactly when PCR0 is all zeros', () => {
        assert.equal(atDoc.verdict.debugMode, exp.image_pcrs_all_zero_debug);
        assert.equal(/debug mode/.test(atDoc.verdict.headline), exp.image_pcrs_all_zero_debug);
        assert.equal(atDoc.verdict.development, false);
        assert.equal(atDoc.verdict.trustedRoot?.kind, 'aws');
      });
    });
  }

  it('shows printable optional fields as text too, and binary ones as hex only', () => {
    const debug = expectedOf('evervault-2022-10-12-debug.cbor');
    const { model } = modelOf(debug.file, { mode: 'document' });
    const pk = model.document?.publicKey;
    const ud = model.document?.userData;
    assert.ok(pk?.state === 'present' && ud?.state === 'present');
    assert.equal(pk.text, Buffer.from(debug.public_key_hex as string, 'hex').toString('utf8'));
    assert.equal(ud.text, Buffer.from(debug.user_data_hex as string, 'hex').toString('utf8'));
    const qos = expectedOf('qos-2022-07-06-pemkey.cbor');
    const pem = modelOf(qos.file, { mode: 'document' }).model.document?.publicKey;
    assert.ok(pem?.state === 'present');
    assert.equal(
      pem.text,
      Buffer.from(qos.public_key_hex as string, 'hex').toString('utf8'),
      'PEM text with line breaks is printable',
    );
    const prod = modelOf('evervault-2022-10-13-prod.cbor', { mode: 'document' }).model.document?.nonce;
    assert.ok(prod?.state === 'present');
    assert.equal(prod.text, undefined, 'random bytes are not text');
    const brave = modelOf('brave-2022-07-26-usw2-debug.cbor', { mode: 'document' }).model.document?.userData;
    assert.ok(brave?.state === 'present');
    assert.equal(brave.text, undefined, '32 zero bytes are not text');
  });

  it('names the states of optional fields, including "absent"', () => {
    assert.deepEqual(bytesView({ state: 'absent' }), { state: 'absent' });
    assert.deepEqual(bytesView({ state: 'null' }), { state: 'null' });
    assert.deepEqual(bytesView({ state: 'present', value: new Uint8Array(0) }), { state: 'empty' });
    assert.deepEqual(bytesView({ state: 'present', value: Uint8Array.of(0x68, 0x69) }), {
      state: 'present',
      size: 2,
      hex: '6869',
      text: 'hi',
    });
    assert.deepEqual(
      bytesView({ state: 'present', value: Uint8Array.of(0x1b, 0x5b) }),
      { state: 'present', size: 2, hex: '1b5b' },
      'control characters are not printable',
    );
  });

  it('names the PCRs as the spec does', () => {
    const meanings = Array.from({ length: 32 }, (_, i) => pcrMeaning(i));
    assert.deepEqual(meanings.slice(0, 5), [
      'Enclave image file',
      'Linux kernel and bootstrap',
      'Application',
      'IAM role of the parent instance',
      'Parent instance ID',
    ]);
    assert.equal(meanings[8], 'Signing certificate of the image');
    for (const i of [5, 6, 7, 9, 10, 11, 12, 13, 14, 15]) assert.equal(meanings[i], 'Reserved', `PCR${i}`);
    for (let i = 16; i < 32; i++) assert.equal(meanings[i], 'Application-defined', `PCR${i}`);
  });

  describe('at a chosen time', () => {
    const exp = expectedOf('evervault-2022-10-13-prod.cbor');
    const leafNotBefore = opensslDate(exp.leaf_not_before);
    const leafNotAfter = opensslDate(exp.leaf_not_after);

    it('one second after the signing certificate expired: invalid, naming the expiry', () => {
      const at = new Date(leafNotAfter.getTime() + 1000);
      const { model } = modelOf(exp.file, { mode: 'custom', at: at.toISOString() });
      assert.equal(model.verdict.valid, false);
      assert.equal(model.time.mode, 'custom');
      assert.equal(model.time.at.iso, at.toISOString());
      assert.equal(
        model.verdict.headline,
        `Invalid at ${utcText(at)}: its signing certificate expired at ${utcText(leafNotAfter)}`,
      );
      assert.deepEqual(
        model.chain.map((c) => c.status),
        ['valid', 'valid', 'valid', 'valid', 'expired'],
      );
      assert.equal(
        model.verdict.reasons[0],
        `Its signing certificate expired at ${utcText(leafNotAfter)}`,
        'only the leaf: no "more certificates"',
      );
    });

    it('before the signing certificate was issued: invalid, "not valid before"', () => {
      const at = new Date(leafNotBefore.getTime() - 3000);
      const { model } = modelOf(exp.file, { mode: 'custom', at: at.toISOString() });
      assert.equal(model.verdict.valid, false);
      assert.equal(
        model.verdict.headline,
        `Invalid at ${utcText(at)}: its signing certificate is not valid before ${utcText(leafNotBefore)}`,
      );
      assert.equal(model.chain.at(-1)?.status, 'not-yet-valid');
    });

    it("inside every certificate's validity: valid", () => {
      const at = new Date(exp.timestamp_ms + 60_000);
      const { model } = modelOf(exp.file, { mode: 'custom', at: at.toISOString() });
      assert.equal(model.verdict.valid, true);
      assert.equal(model.verdict.headline, `Valid at ${utcText(at)}`);
      assert.equal(model.verdict.validAtDocumentTime, true);
      assert.deepEqual(model.verdict.notes, []);
    });
  });

  describe('negative documents', () => {
    it('a tampered PCR0 byte: invalid at document time because the signature does not verify', () => {
      const { model } = modelOf('neg-tampered-pcr0-byte.cbor', { mode: 'document' });
      assert.equal(model.verdict.valid, false);
      const failed = model.checks.filter((c) => c.status === 'fail');
      assert.deepEqual(
        failed.map((c) => c.code),
        ['cose.signature'],
      );
      assert.equal(model.verdict.headline, `Invalid at document time: ${failed[0]?.reason}`);
      assert.match(model.verdict.headline, /signature does not verify/);
      // The fields are still shown (they are just not trustworthy).
      assert.equal(model.pcrs[0]?.value, 'f5' + expectedOf('neg-tampered-pcr0-byte.cbor').pcrs['0']?.slice(2));
    });

    it('a forged signature checked now: the signature is named before the expired certificates', () => {
      const { model } = modelOf('neg-veracruz-bad-sig.cbor', { mode: 'now' });
      assert.equal(model.verdict.valid, false);
      assert.deepEqual(
        model.checks
          .filter((c) => c.status === 'fail')
          .map((c) => c.code)
          .sort(),
        ['chain.validity', 'cose.signature'],
      );
      assert.match(model.verdict.headline, /^Invalid now: the signature does not verify/);
      assert.equal(model.verdict.reasons.length, 2);
      assert.match(model.verdict.reasons[1] as string, /^Its signing certificate expired at/);
      assert.equal(model.verdict.validAtDocumentTime, false);
      assert.ok(
        !model.verdict.notes.some((n) => n.startsWith('At document time')),
        'a forged document is not "valid at document time"',
      );
    });

    it('an ES512 protected header: the algorithm check fails', () => {
      const { model } = modelOf('neg-alg-es512-header.cbor', { mode: 'document' });
      assert.equal(model.verdict.valid, false);
      assert.equal(model.checks.find((c) => c.code === 'cose.algorithm')?.status, 'fail');
      assert.match(model.verdict.headline, /^Invalid at document time: the protected header names algorithm -36/);
    });

    it('a truncated document: no COSE envelope, so the viewer shows why instead of a model', () => {
      const { report, model } = modelOf('neg-truncated.cbor', { mode: 'now' });
      const reason = unreadableReason(report);
      assert.ok(reason);
      assert.match(reason, /^The document is not well-formed CBOR/);
      assert.equal(model.envelope, undefined);
      assert.equal(model.document, undefined);
      assert.deepEqual(model.pcrs, []);
      assert.deepEqual(model.chain, []);
      assert.equal(model.verdict.valid, false);
      assert.equal(model.checks[0]?.code, 'cose.structure');
      assert.equal(model.checks[0]?.status, 'fail');
    });

    it('text that is no document at all: a reason, never an exception', () => {
      for (const input of [
        'hello, this is not an attestation document',
        '',
        '0xabc',
        new Uint8Array([0, 1, 2, 3]),
        new Uint8Array(300_000).fill(0x41),
      ]) {
        const run = verifyForView(input, { time: { mode: 'now' } }, nodeAttestationCrypto);
        assert.equal(run.report.valid, false);
        assert.ok(
          unreadableReason(run.report),
          `a reason for ${typeof input === 'string' ? JSON.stringify(input) : `${input.length} bytes`}`,
        );
        assert.equal(run.atDocumentTime, undefined);
      }
      assert.equal(
        unreadableReason(
          verifyForView(bytesOf('evervault-2022-10-13-prod.cbor'), { time: { mode: 'now' } }, nodeAttestationCrypto)
            .report,
        ),
        undefined,
      );
    });
  });

  describe('compared with an enclave image', () => {
    const exp = expectedOf('evervault-2022-10-13-prod.cbor');
    const image = JSON.parse(
      readFileSync(repoPath('test', 'fixtures', 'eif', 'synthetic-v4-signed.expected.json'), 'utf8'),
    );

    it('expects PCR0, 1, 2 and 8 of a signed image, and 0, 1, 2 of an unsigned one', () => {
      assert.deepEqual(
        [...expectedPcrsOf(image)],
        [
          [0, image.PCR0],
          [1, image.PCR1],
          [2, image.PCR2],
          [8, image.PCR8],
        ],
      );
      assert.deepEqual([...expectedPcrsOf({ PCR0: 'a', PCR1: 'b', PCR2: 'c' }).keys()], [0, 1, 2]);
    });

    it("an image with the document's own PCRs: every compared PCR matches", () => {
      const own = {
        PCR0: exp.pcrs['0'] as string,
        PCR1: exp.pcrs['1'] as string,
        PCR2: exp.pcrs['2'] as string,
        PCR8: exp.pcrs['8'] as string,
      };
      const { model } = modelOf(
        exp.file,
        { mode: 'document' },
        { expectedPcrs: expectedPcrsOf(own), comparison: { name: 'same.eif', detail: '/tmp/same.eif' } },
      );
      assert.equal(model.verdict.valid, true);
      assert.ok(model.comparison?.ok);
      assert.equal(model.comparison.matches, 4);
      assert.equal(model.comparison.mismatches, 0);
      assert.deepEqual(model.comparison.image, { name: 'same.eif', detail: '/tmp/same.eif' });
      assert.deepEqual(
        model.pcrs.filter((p) => p.expected).map((p) => [p.name, p.expected?.match]),
        [
          ['PCR0', true],
          ['PCR1', true],
          ['PCR2', true],
          ['PCR8', true],
        ],
      );
      assert.equal(model.checks.find((c) => c.code === 'pcrs.expected')?.status, 'pass');
    });

    it('another image (synthetic-v4-signed.eif): every compared PCR differs, and the verdict says so', () => {
      const { model } = modelOf(
        exp.file,
        { mode: 'document' },
        {
          expectedPcrs: expectedPcrsOf(image),
          comparison: { name: 'synthetic-v4-signed.eif', detail: 'test/fixtures/eif' },
        },
      );
      assert.equal(model.verdict.valid, false);
      assert.equal(
        model.verdict.headline,
        'Invalid at document time: its PCRs do not match synthetic-v4-signed.eif (PCR0, PCR1, PCR2 and PCR8 differ)',
      );
      assert.match(model.verdict.reasons[0] as string, /^Its PCRs do not match synthetic-v4-signed\.eif: PCR0 is /);
      assert.ok(model.comparison?.ok);
      assert.equal(model.comparison.matches, 0);
      assert.equal(model.comparison.mismatches, 4);
      assert.deepEqual(
        model.comparison.rows.map((r) => [r.name, r.expected, r.actual]),
        [0, 1, 2, 8].map((i) => [`PCR${i}`, image[`PCR${i}`], exp.pcrs[String(i)]]),
      );
      const pcr0 = model.pcrs.find((p) => p.index === 0);
      assert.deepEqual(pcr0?.expected, { value: image.PCR0, match: false });
      assert.equal(model.pcrs.find((p) => p.index === 3)?.expected, undefined, 'PCR3 is not compared');
    });

    it('an image that cannot be measured: the comparison says why, and nothing is compared', () => {
      const { model } = modelOf(
        exp.file,
        { mode: 'document' },
        { comparison: { name: 'broken.eif', detail: '/x/broken.eif', error: 'not an enclave image file' } },
      );
      assert.deepEqual(model.comparison, {
        ok: false,
        image: { name: 'broken.eif', detail: '/x/broken.eif' },
        error: 'not an enclave image file',
      });
      assert.equal(model.verdict.valid, true);
    });
  });

  describe('messages from the webview', () => {
    const rejects = (message: unknown, why: RegExp) => {
      const parsed = parseWebviewMessage(message);
      assert.equal(parsed.ok, false, JSON.stringify(message));
      assert.ok(!parsed.ok);
      assert.match(parsed.reason, why);
    };

    it('accepts every well-formed message', () => {
      assert.deepEqual(parseWebviewMessage({ type: 'ready' }), { ok: true, message: { type: 'ready' } });
      assert.deepEqual(parseWebviewMessage({ type: 'compare' }), { ok: true, message: { type: 'compare' } });
      assert.deepEqual(parseWebviewMessage({ type: 'clearComparison' }), {
        ok: true,
        message: { type: 'clearComparison' },
      });
      assert.deepEqual(parseWebviewMessage({ type: 'reload' }), { ok: true, message: { type: 'reload' } });
      assert.deepEqual(parseWebviewMessage({ type: 'copy', body: { text: 'ab', what: 'PCR0' } }), {
        ok: true,
        message: { type: 'copy', body: { text: 'ab', what: 'PCR0' } },
      });
      assert.deepEqual(parseWebviewMessage({ type: 'setTime', body: { mode: 'document' } }), {
        ok: true,
        message: { type: 'setTime', body: { mode: 'document' } },
      });
      assert.deepEqual(parseWebviewMessage({ type: 'setTime', body: { mode: 'now', at: 'ignored' } }), {
        ok: true,
        message: { type: 'setTime', body: { mode: 'now' } },
      });
      assert.deepEqual(
        parseWebviewMessage({ type: 'setTime', body: { mode: 'custom', at: '2022-10-13T10:00:00+02:00' } }),
        {
          ok: true,
          message: { type: 'setTime', body: { mode: 'custom', at: '2022-10-13T08:00:00.000Z' } },
        },
      );
      assert.ok(parseWebviewMessage({ type: 'copy', id: 3, body: { text: '', what: 'x' } }).ok);
    });

    it('rejects what is not a message of the protocol', () => {
      for (const m of [
        null,
        undefined,
        42,
        'ready',
        [],
        ['ready'],
        {},
        { type: 7 },
        { type: 'init' },
        { type: 'describe' },
        { type: '__proto__' },
      ])
        rejects(m, /not a message/);
      rejects({ type: 'ready', id: -1 }, /not a message/);
      rejects({ type: 'ready', id: 1.5 }, /not a message/);
    });

    it('rejects malformed bodies', () => {
      rejects({ type: 'copy' }, /copy: the body is not an object/);
      rejects({ type: 'copy', body: [] }, /copy: the body is not an object/);
      rejects({ type: 'copy', body: { text: 5, what: 'x' } }, /"text" is not a string/);
      rejects({ type: 'copy', body: { text: 'x'.repeat(MAX_COPY_BYTES + 1), what: 'x' } }, /longer than/);
      rejects({ type: 'copy', body: { text: 'é'.repeat(MAX_COPY_BYTES / 2 + 1), what: 'x' } }, /longer than/);
      rejects({ type: 'copy', body: { text: 'x', what: '' } }, /"what"/);
      rejects({ type: 'copy', body: { text: 'x', what: 'w'.repeat(201) } }, /"what"/);
      rejects({ type: 'setTime' }, /setTime: the time is not an object/);
      rejects({ type: 'setTime', body: { mode: 'yesterday' } }, /setTime: the time mode "yesterday"/);
      rejects({ type: 'setTime', body: { mode: 'custom' } }, /ISO 8601/);
      rejects({ type: 'setTime', body: { mode: 'custom', at: 1665651482136 } }, /ISO 8601/);
      rejects({ type: 'setTime', body: { mode: 'custom', at: '2022-10-13T10:00:00' } }, /with a zone/);
      rejects({ type: 'setTime', body: { mode: 'custom', at: '2022-13-45T10:00:00Z' } }, /not a valid date/);
      rejects({ type: 'setTime', body: { mode: 'custom', at: '0001-01-01T00:00:00Z' } }, /years 1950 to 9999/);
      rejects({ type: 'setTime', body: { mode: 'custom', at: `2022-10-13T10:00:00Z${' '.repeat(50)}` } }, /ISO 8601/);
      rejects({ type: 'compare', body: { uri: 'file:///etc/passwd' } }, /takes no body/);
      rejects({ type: 'reload', body: 1 }, /takes no body/);
    });

    it('checks time choices on their own', () => {
      assert.deepEqual(parseTimeChoice({ mode: 'now' }), { ok: true, value: { mode: 'now' } });
      assert.equal(parseTimeChoice('now').ok, false);
    });
  });

  describe('the state a panel keeps for the serializer', () => {
    const doc = Buffer.from(bytesOf('evervault-2022-10-13-prod.cbor')).toString('base64');

    it('accepts a file URI or the base64 of the bytes, with the time and the compared image', () => {
      assert.deepEqual(parsePanelState({ source: { kind: 'file', uri: 'file:///tmp/a.att.cbor' } }), {
        ok: true,
        value: { source: { kind: 'file', uri: 'file:///tmp/a.att.cbor' }, time: { mode: 'now' } },
      });
      const full = {
        source: { kind: 'bytes', label: 'Clipboard', base64: doc, encoding: 'hex' },
        time: { mode: 'custom', at: '2022-10-13T09:00:00.000Z' },
        compareWith: 'file:///w/hello.eif',
        collapsed: ['checks'],
      };
      assert.deepEqual(parsePanelState(full), {
        ok: true,
        value: { source: full.source, time: full.time, compareWith: full.compareWith },
      });
      // The development-root flag is kept when set, and only the flag.
      assert.deepEqual(parsePanelState({ ...full, developmentRoot: true }), {
        ok: true,
        value: { source: full.source, time: full.time, compareWith: full.compareWith, developmentRoot: true },
      });
      assert.deepEqual(parsePanelState({ ...full, developmentRoot: false }), {
        ok: true,
        value: { source: full.source, time: full.time, compareWith: full.compareWith },
      });
    });

    it('is found inside the whole webview state, which the serializer is handed', () => {
      const panel = { source: { kind: 'file', uri: 'file:///tmp/a.att.cbor' }, time: { mode: 'document' } };
      assert.deepEqual(parseWebviewState({ collapsed: ['checks'], showAllPcrs: true, panel }), {
        ok: true,
        value: panel,
      });
      assert.deepEqual(parseWebviewState({ collapsed: [] }), { ok: false, reason: 'the panel kept no state' });
      assert.deepEqual(
        parseWebviewState(panel),
        { ok: false, reason: 'the panel kept no state' },
        'a bare panel state is not a webview state',
      );
      assert.equal(parseWebviewState(null).ok, false);
    });

    it('refuses state it cannot trust', () => {
      const bad: [unknown, RegExp][] = [
        [undefined, /no state/],
        [{}, /no document/],
        [{ source: { kind: 'url', uri: 'https://x' } }, /neither a file nor bytes/],
        [{ source: { kind: 'file', uri: '/no/scheme' } }, /not a URI/],
        [{ source: { kind: 'file', uri: 42 } }, /not a URI/],
        [{ source: { kind: 'bytes', label: 'Clipboard', base64: 'not base64!' } }, /not base64/],
        [
          { source: { kind: 'bytes', label: 'Clipboard', base64: 'A'.repeat(MAX_PERSISTED_BASE64 + 4) } },
          /at most 262144/,
        ],
        [{ source: { kind: 'bytes', label: '', base64: doc } }, /no label/],
        [{ source: { kind: 'bytes', label: 'Clipboard', base64: doc, encoding: 'utf-16' } }, /unknown encoding/],
        [{ source: { kind: 'bytes', label: 'Clipboard', base64: doc }, time: { mode: 'later' } }, /time mode/],
        [{ source: { kind: 'bytes', label: 'Clipboard', base64: doc }, compareWith: 7 }, /image URI/],
        [
          {
            source: { kind: 'bytes', label: 'Clipboard', base64: doc },
            developmentRoot: '-----BEGIN CERTIFICATE-----',
          },
          /development-root flag/,
        ],
      ];
      for (const [state, why] of bad) {
        const parsed = parsePanelState(state);
        assert.ok(!parsed.ok, JSON.stringify(state)?.slice(0, 80));
        assert.match(parsed.reason, why);
      }
    });
  });

  describe("the webview's time helpers", () => {
    it('round-trips a local date-time input to the instant it names', () => {
      const ms = Date.UTC(2022, 9, 13, 8, 58, 2);
      const local = toLocalInput(ms);
      assert.match(local, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
      assert.equal(fromLocalInput(local), new Date(ms).toISOString());
      assert.equal(fromLocalInput('2022-10-13T08:58'), new Date(2022, 9, 13, 8, 58).toISOString());
      assert.equal(fromLocalInput(''), undefined);
      assert.equal(fromLocalInput('yesterday'), undefined);
    });

    it('says how long a certificate lives', () => {
      assert.equal(duration(3 * 3600_000 + 3000), '3 h 0 min 3 s');
      assert.equal(duration(86400_000), '24 h');
      assert.equal(duration(20 * 86400_000 + 3600_000), '20 days 1 h');
      assert.equal(duration(30 * 365.25 * 86400_000), '30 years');
    });
  });
  describe('issue 9: NitroTPM documents, hints, out-of-range timestamps, labels', () => {
    const TPM = 'nitrotpm-2026-06-18-use2.cbor';

    it('a NitroTPM document says its kind, and its PCRs carry the NitroTPM meanings (AWS EC2 User Guide)', () => {
      const { model } = modelOf(TPM, { mode: 'document' });
      assert.equal(model.kind, 'nitrotpm');
      assert.equal(model.kindLabel, 'NitroTPM (instance) attestation');
      assert.equal(model.verdict.valid, true, model.verdict.summary);
      assert.equal(model.verdict.debugMode, false);
      assert.ok(
        model.verdict.notes.some((n) =>
          /^NitroTPM \(instance\) attestation: its PCRs \(nitrotpm_pcrs\) measure an EC2 instance's boot/.test(n),
        ),
      );
      assert.equal(model.pcrs.length, 24);
      const meaning = (i: number) => model.pcrs.find((p) => p.index === i)?.meaning;
      assert.equal(meaning(0), 'Core system firmware code');
      assert.equal(meaning(4), 'Boot manager code');
      assert.equal(meaning(7), 'Secure Boot policy');
      assert.equal(meaning(12), 'Static operating system');
      assert.equal(meaning(23), 'Application support');
      assert.equal(modelOf('evervault-2022-10-13-prod.cbor', { mode: 'document' }).model.kind, 'enclave');
    });

    it('Compare with Enclave Image on a NitroTPM document says it does not apply', () => {
      const image = JSON.parse(
        readFileSync(repoPath('test', 'fixtures', 'eif', 'synthetic-v4-signed.expected.json'), 'utf8'),
      );
      const { model } = modelOf(
        TPM,
        { mode: 'document' },
        { expectedPcrs: expectedPcrsOf(image), comparison: { name: 'synthetic-v4-signed.eif', detail: '/tmp/x.eif' } },
      );
      assert.ok(model.comparison && !model.comparison.ok);
      assert.match(model.comparison.error, /^Does not apply: this is a NitroTPM \(instance\) attestation document/);
      assert.ok(
        model.pcrs.every((p) => p.expected === undefined),
        'nothing compared',
      );
      assert.equal(model.verdict.valid, false);
      assert.match(model.verdict.headline, /an enclave image's PCRs do not apply to a NitroTPM/);
    });

    it('an out-of-range timestamp is shown as its number, never as an invalid date', () => {
      const bytes = bytesOf('evervault-2022-10-13-prod.cbor');
      // Synthetic: the timestamp field's 8-byte value replaced
      // by 0x001fffffffffffff (the signature no longer verifies).
      const at = Buffer.from(bytes).indexOf(Buffer.from('1b00000183d0909e18', 'hex'));
      assert.ok(at > 0, 'the timestamp as stored (1b + 8 bytes)');
      const changed = Uint8Array.from(bytes);
      changed.set(Buffer.from('1b001fffffffffffff', 'hex'), at);
      for (const time of [{ mode: 'now' }, { mode: 'document' }] as const) {
        const run = verifyForView(changed, { time }, nodeAttestationCrypto);
        const model = toAttestationViewModel(run.report, {
          source: { kind: 'bytes', label: 'x', inputSize: changed.length },
          time,
        });
        assert.equal(model.document?.timestamp.outOfRange, true);
        assert.equal(model.document?.timestamp.ms, 9007199254740991);
        assert.match(model.document?.timestamp.utc ?? '', /^9007199254740991 ms, beyond the range of dates$/);
        assert.equal(model.verdict.valid, false);
        assert.doesNotThrow(() => JSON.stringify(model));
      }
    });

    it(
      'the copy label of a fingerprint names each certificate once ' +
        '("signing certificate", not "signing certificate certificate")',
      () => {
        const { model } = modelOf('evervault-2022-10-13-prod.cbor', { mode: 'document' });
        const labels = model.chain.map((c) => fingerprintCopyWhat(c));
        assert.deepEqual(labels, [
          'SHA-256 fingerprint of the root certificate',
          'SHA-256 fingerprint of the regional certificate',
          'SHA-256 fingerprint of the zonal certificate',
          'SHA-256 fingerprint of the instance certificate',
          'SHA-256 fingerprint of the signing certificate',
        ]);
        for (const l of labels) assert.doesNotMatch(l, /certificate certificate/);
        // The view uses this function for the button (and nothing else builds the label).
        const view = readFileSync(repoPath('src', 'webview', 'attestationViewer', 'view.ts'), 'utf8');
        assert.match(view, /withCopy\(actions, colonHex\(c\.sha256\), c\.sha256, fingerprintCopyWhat\(c\)\)/);
      },
    );
  });

  describe('the nonce the viewer asked for (Get Attestation Document)', () => {
    const FILE = 'brave-2022-07-26-usw2-debug.cbor';
    const asked = () => Buffer.from(expectedOf(FILE).nonce_hex ?? '', 'hex');

    it('passes when the document carries the nonce asked for: a pass row, and the check in the list', () => {
      const nonce = new Uint8Array(asked());
      assert.equal(nonce.length, 20);
      const { model } = modelOf(FILE, { mode: 'document' }, { nonce });
      assert.deepEqual(model.nonceCheck, {
        expected: expectedOf(FILE).nonce_hex,
        actual: expectedOf(FILE).nonce_hex,
        match: true,
      });
      assert.equal(model.checks.find((c) => c.code === 'nonce.expected')?.status, 'pass');
    });

    it('fails when the document carries another nonce: a fail row, and the verdict is invalid because of it', () => {
      const other = new Uint8Array(asked());
      other[0] = (other[0] as number) ^ 0xff;
      const { model } = modelOf(FILE, { mode: 'document' }, { nonce: other });
      assert.deepEqual(model.nonceCheck, {
        expected: Buffer.from(other).toString('hex'),
        actual: expectedOf(FILE).nonce_hex,
        match: false,
      });
      assert.equal(model.checks.find((c) => c.code === 'nonce.expected')?.status, 'fail');
      assert.equal(model.verdict.valid, false);
      assert.match(model.verdict.headline, /nonce/);
    });

    it('fails when the document carries no nonce at all', () => {
      const { model } = modelOf('base-2024-11-30.cbor', { mode: 'document' }, { nonce: new Uint8Array([1, 2, 3]) });
      assert.deepEqual(model.nonceCheck, { expected: '010203', match: false });
    });

    it('has no nonce row when no nonce was asked for here', () => {
      const { model } = modelOf(FILE, { mode: 'document' });
      assert.equal(model.nonceCheck, undefined);
      assert.equal(
        model.checks.find((c) => c.code === 'nonce.expected'),
        undefined,
      );
    });

    it('save and copyBase64 are messages without a body; a panel keeps its nonce as lower-case hex', () => {
      assert.deepEqual(parseWebviewMessage({ type: 'save' }), { ok: true, message: { type: 'save' } });
      assert.deepEqual(parseWebviewMessage({ type: 'copyBase64' }), { ok: true, message: { type: 'copyBase64' } });
      assert.equal(parseWebviewMessage({ type: 'save', body: { path: '/etc/passwd' } }).ok, false);
      const source = { kind: 'file', uri: 'file:///tmp/a.att.cbor' };
      assert.deepEqual(parsePanelState({ source, nonce: '00ff' }), {
        ok: true,
        value: { source, time: { mode: 'now' }, nonce: '00ff' },
      });
      for (const nonce of ['', '0', 'zz', '00FF', 7, 'ab'.repeat(1025)])
        assert.equal(parsePanelState({ source, nonce }).ok, false, JSON.stringify(nonce).slice(0, 20));
    });
  });

  describe("an unsigned document from QEMU's emulated NSM", () => {
    const FILE = 'qemu/qemu-attestation.cbor';
    const PCR0 = '54ec55fa04e1b25313304cb376a138c62e29cf112622ee1c40886fec43c026790d2ea284d59c92b3402c6d7913fba809';

    it('shows the UNSIGNED verdict and its explanation, at any time, never valid', () => {
      for (const time of [{ mode: 'now' }, { mode: 'document' }] as const) {
        const { model } = modelOf(FILE, time);
        assert.equal(model.verdict.verdict, 'unsigned');
        assert.equal(model.verdict.valid, false);
        assert.match(model.verdict.headline, /^Unsigned: a document from QEMU's emulated NSM/);
        assert.deepEqual(model.verdict.reasons, []);
        const note = model.verdict.notes.join('\n');
        assert.match(note, /recognised by the protected header \{1: -1\}.*a signature of 64 zero bytes/);
        assert.match(note, /No signature or certificate chain exists to check/);
        assert.match(note, /only as trustworthy as the machine that ran QEMU/);
        assert.match(model.verdict.unsigned?.markers ?? '', /a cabundle of 1 all-zero entry/);
        assert.equal(model.verdict.development, false);
        assert.notEqual(model.verdict.validAtDocumentTime, true, 'an unsigned document is valid at no time');
        assert.equal(model.document?.moduleId, 'i-0123456789abcdef0-enc0123456789abcdef');
        assert.equal(model.pcrs[0]?.value, PCR0);
        assert.deepEqual(model.chain, []);
      }
    });

    it('compares with an image as unsigned values; a mismatch makes it invalid, still marked unsigned', () => {
      const same = modelOf(
        FILE,
        { mode: 'now' },
        { expectedPcrs: new Map([[0, PCR0]]), comparison: { name: 'qemu.eif', detail: '/tmp/qemu.eif' } },
      ).model;
      assert.equal(same.verdict.verdict, 'unsigned');
      assert.ok(same.comparison?.ok);
      assert.equal(same.comparison.unsigned, true);
      assert.equal(same.comparison.matches, 1);
      const other = modelOf(
        FILE,
        { mode: 'now' },
        { expectedPcrs: new Map([[0, 'ab'.repeat(48)]]), comparison: { name: 'other.eif', detail: '/tmp/other.eif' } },
      ).model;
      assert.equal(other.verdict.verdict, 'invalid');
      assert.match(other.verdict.headline, /^Invalid now: its PCRs do not match other\.eif \(PCR0 differs\)/);
      assert.ok(other.verdict.unsigned, 'still offered for re-signing: it is a QEMU document');
      assert.ok(other.verdict.notes.some((n) => /^Unsigned: /.test(n)));
    });

    it('checks the nonce asked for', () => {
      const ok = modelOf(FILE, { mode: 'now' }, { nonce: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) }).model;
      assert.deepEqual(ok.nonceCheck, { expected: '0102030405060708', actual: '0102030405060708', match: true });
      assert.equal(ok.verdict.verdict, 'unsigned');
      const bad = modelOf(FILE, { mode: 'now' }, { nonce: Uint8Array.of(9) }).model;
      assert.equal(bad.nonceCheck?.match, false);
      assert.equal(bad.verdict.verdict, 'invalid');
    });

    it('signed documents carry their verdict and no unsigned marking', () => {
      const { model } = modelOf('evervault-2022-10-13-prod.cbor', { mode: 'document' });
      assert.equal(model.verdict.verdict, 'valid');
      assert.equal(model.verdict.unsigned, undefined);
    });

    it('resign is a message without a body', () => {
      assert.deepEqual(parseWebviewMessage({ type: 'resign' }), { ok: true, message: { type: 'resign' } });
      assert.equal(parseWebviewMessage({ type: 'resign', body: { path: '/tmp/x' } }).ok, false);
    });
  });
});
