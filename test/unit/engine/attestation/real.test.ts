// The verifier on the real Nitro hardware documents (test/fixtures/attestation) and on the
// negative vectors of SOURCES.md. Every expected value comes from expected.json (written by an
// independent node:crypto + cbor-x verifier and cross-checked with `openssl verify -attime`),
// from SOURCES.md, or from this suite's own CBOR walker; none comes from the engine.
import * as assert from 'node:assert/strict';
import {
  LinkCache,
  verifyAttestation,
  type OptionalBytes,
  type VerifyOptions,
  type VerifyReport,
} from '../../../../src/engine';
import { nodeAttestationCrypto } from '../../../../src/engine/node';
import {
  EXPECTED,
  NEGATIVE_FILES,
  REAL_FILES,
  TAGGED_FILE,
  cArray,
  cBstr,
  cabundleOf,
  certificateOf,
  encodeSign1,
  expectedFor,
  hex,
  joinPayload,
  loadFixture,
  nodeVerifySign1,
  opensslDate,
  setEntry,
  sha256Hex,
  sign1Layout,
  splitPayload,
  walkCbor,
  type ExpectedDoc,
  type PayloadParts,
} from './helpers';

const verify = (input: Uint8Array | string, options: VerifyOptions): VerifyReport =>
  verifyAttestation(input, options, nodeAttestationCrypto);

const status = (r: VerifyReport, code: string): string | undefined => r.checks.find((c) => c.code === code)?.status;
const failed = (r: VerifyReport): string[] => r.checks.filter((c) => c.status === 'fail').map((c) => c.code);
const reasonOf = (r: VerifyReport, code: string): string => r.checks.find((c) => c.code === code)?.reason ?? '';

/** The checks every valid document must pass (spec 3.4 steps 1-6). */
const CORE_CHECKS = [
  'cose.structure',
  'cose.algorithm',
  'cose.signature-size',
  'payload.syntax',
  'chain.parse',
  'chain.root',
  'chain.signatures',
  'chain.names',
  'chain.validity',
  'chain.constraints',
  'leaf.key',
  'cose.signature',
];
const CHAIN_CHECKS = [
  'chain.parse',
  'chain.root',
  'chain.signatures',
  'chain.names',
  'chain.validity',
  'chain.constraints',
];

const optionalHex = (o: OptionalBytes): string | null => (o.state === 'present' ? hex(o.value) : null);
const cn = (subject: string): string | undefined => /(?:^|, )CN=([^,]+)/.exec(subject)?.[1];
/** The engine reports times as ISO strings; compare on the second. */
const isoSecond = (d: Date): string => d.toISOString().slice(0, 19);

const POSITIVE_FILES = [...REAL_FILES, TAGGED_FILE];

describe('(unit) attestation: real hardware documents', function () {
  this.timeout(120_000);

  it(
    'the fixture set is the one expected.json and SOURCES.md ' +
      'describe (10 real, 1 tagged, 6 negative), byte for byte',
    () => {
      assert.equal(REAL_FILES.length, 10);
      assert.equal(NEGATIVE_FILES.length, 6);
      assert.ok(EXPECTED.documents.some((d) => d.file === TAGGED_FILE));
      let consumed = 0;
      for (const e of EXPECTED.documents) {
        const bytes = loadFixture(e.file);
        assert.equal(bytes.length, e.bytes, `${e.file}: size`);
        assert.equal(sha256Hex(bytes), e.sha256, `${e.file}: SHA-256`);
        consumed++;
      }
      assert.equal(consumed, 17);
    },
  );

  it(
    'every positive document verifies independently with node:crypto ' +
      '(sanity check of the fixtures and of the test helpers)',
    () => {
      let consumed = 0;
      for (const file of POSITIVE_FILES) {
        const doc = loadFixture(file);
        const l = sign1Layout(doc);
        const payload = walkCbor(l.payload);
        // certificate is the 5th key of the payload map in every real document (spec 2.1 key order).
        const certSpan = payload.children[9];
        assert.ok(certSpan, file);
        assert.equal(nodeVerifySign1(doc, l.payload.subarray(certSpan.headEnd, certSpan.end)), true, file);
        consumed++;
      }
      assert.equal(consumed, 11);
    },
  );

  it(
    'all 10 real documents and the tagged one are valid at their own timestamp ' +
      'against the built-in G1 root, with every field as in expected.json',
    () => {
      let consumed = 0;
      for (const file of POSITIVE_FILES) {
        const e = expectedFor(file) as Required<ExpectedDoc>;
        const doc = loadFixture(file);
        const r = verify(doc, { at: 'document' });
        const label = `${file}: `;
        assert.equal(r.valid, true, `${label}${r.summary}`);
        assert.deepEqual(failed(r), [], label);
        for (const code of CORE_CHECKS) assert.equal(status(r, code), 'pass', `${label}${code}: ${reasonOf(r, code)}`);
        assert.equal(r.trustedRoot?.kind, 'aws', label);
        assert.equal(r.development, false, label);
        assert.equal(r.at.getTime(), e.timestamp_ms, `${label}verification time is the document's timestamp`);

        // Envelope.
        const cose = r.decoded?.cose;
        assert.ok(cose, label);
        assert.equal(cose.tagged, e.tagged, `${label}tagged`);
        assert.equal(hex(cose.protectedBytes), e.protected_header_hex, `${label}protected header`);
        assert.equal(cose.protectedHeader.get(1), e.alg, `${label}alg`);
        assert.equal(cose.unprotected.size, 0, `${label}unprotected header`);
        assert.equal(cose.signature.length, e.signature_len, `${label}signature length`);
        assert.equal(cose.payload.length, e.payload_len, `${label}payload length`);
        assert.equal(r.decoded?.encoding, 'binary', label);

        // Payload fields.
        const d = r.document;
        assert.ok(d, label);
        assert.equal(d.moduleId, e.module_id, `${label}module_id`);
        assert.equal(d.digest, e.digest, `${label}digest`);
        assert.equal(d.timestamp, e.timestamp_ms, `${label}timestamp`);
        assert.equal(new Date(d.timestamp).toISOString(), e.timestamp_iso, `${label}timestamp (ISO)`);
        assert.deepEqual([...d.pcrs.keys()], e.pcr_indices, `${label}PCR indices`);
        for (const [index, value] of d.pcrs) assert.equal(hex(value), e.pcrs[String(index)], `${label}PCR${index}`);
        assert.equal(optionalHex(d.publicKey), e.public_key_hex, `${label}public_key`);
        assert.equal(optionalHex(d.userData), e.user_data_hex, `${label}user_data`);
        assert.equal(optionalHex(d.nonce), e.nonce_hex, `${label}nonce`);
        // An absent optional field is CBOR null on the wire (spec 2.1),
        // and must be reported as null, not as empty bytes.
        for (const [o, text] of [
          [d.publicKey, e.public_key],
          [d.userData, e.user_data],
          [d.nonce, e.nonce],
        ] as const)
          assert.equal(o.state, text === 'null' ? 'null' : 'present', `${label}${text}`);
        assert.equal(d.cabundle.length, e.cabundle_len, `${label}cabundle length`);
        // The payload map's form, read by this suite's own walker.
        assert.equal(d.indefiniteLengthMap, walkCbor(cose.payload).indefinite, `${label}indefinite-length map`);

        // Chain: root first, leaf last, every certificate as expected.json lists it.
        assert.equal(r.chain.length, e.cabundle_len + 1, label);
        const leaf = r.chain[r.chain.length - 1];
        assert.ok(leaf, label);
        assert.equal(leaf.subject, e.leaf_subject, `${label}leaf subject`);
        assert.equal(leaf.notBefore.getTime(), opensslDate(e.leaf_not_before).getTime(), `${label}leaf notBefore`);
        assert.equal(leaf.notAfter.getTime(), opensslDate(e.leaf_not_after).getTime(), `${label}leaf notAfter`);
        assert.equal(r.chain[0]?.sha256, EXPECTED.root_der_sha256, `${label}root fingerprint`);
        e.chain.forEach((x, i) => {
          const c = r.chain[i];
          const at = `${label}chain[${i}] `;
          assert.ok(c, at);
          assert.equal(c.role, x.role, `${at}role`);
          assert.equal(cn(c.subject), x.cn, `${at}CN`);
          assert.equal(c.notBefore.getTime(), opensslDate(x.not_before).getTime(), `${at}notBefore`);
          assert.equal(c.notAfter.getTime(), opensslDate(x.not_after).getTime(), `${at}notAfter`);
          assert.equal(c.validAtTime, true, `${at}valid at the document time`);
          assert.deepEqual(
            c.info.basicConstraints,
            {
              critical: x.basic_constraints.critical,
              ca: x.basic_constraints.ca,
              pathLen: x.basic_constraints.pathLen,
            },
            `${at}basicConstraints`,
          );
          assert.deepEqual([...(c.info.keyUsage?.usages ?? [])].sort(), [...x.key_usage].sort(), `${at}keyUsage`);
          assert.equal(c.info.keyUsage?.critical, x.key_usage_critical, `${at}keyUsage critical`);
          assert.equal(c.info.curve, 'secp384r1', `${at}curve`);
          assert.equal(c.info.signatureAlgorithm, 'ecdsa-with-SHA384', `${at}signature algorithm`);
        });

        // Debug mode (spec 4.4): PCR0 all zero. Reported, with a warning, but the document is genuine.
        assert.equal(r.debugMode, e.image_pcrs_all_zero_debug, `${label}debug flag`);
        assert.equal(
          status(r, 'debug-mode'),
          e.image_pcrs_all_zero_debug ? 'warn' : 'pass',
          `${label}debug-mode check`,
        );
        consumed++;
      }
      assert.equal(consumed, 11);
    },
  );

  it('the tagged document is the untagged one with 0xd2 in front, and verifies to the same fields', () => {
    const tagged = loadFixture(TAGGED_FILE);
    const plain = loadFixture('evervault-2022-10-13-prod.cbor');
    assert.equal(tagged[0], 0xd2);
    assert.deepEqual(tagged.subarray(1), plain);
    const a = verify(tagged, { at: 'document' });
    const b = verify(plain, { at: 'document' });
    assert.equal(a.valid, true);
    assert.equal(a.decoded?.cose.tagged, true);
    assert.equal(b.decoded?.cose.tagged, false);
    assert.deepEqual(a.document, b.document);
  });

  it(
    'all 10 real documents (and the tagged one) are invalid now: ' +
      'chain.validity fails and names the expired signing certificate',
    () => {
      let consumed = 0;
      const now = new Date();
      for (const file of POSITIVE_FILES) {
        const e = expectedFor(file) as Required<ExpectedDoc>;
        const leafNotAfter = opensslDate(e.leaf_not_after);
        assert.ok(leafNotAfter < now, `${file}: the leaf must have expired for this test to mean anything`);
        const r = verify(loadFixture(file), { at: now });
        assert.equal(r.valid, false, file);
        assert.equal(r.at.getTime(), now.getTime(), file);
        assert.deepEqual(failed(r), ['chain.validity'], `${file}: only the validity check may fail (${r.summary})`);
        const reason = reasonOf(r, 'chain.validity');
        assert.match(reason, /signing certificate/, `${file}: ${reason}`);
        assert.ok(
          reason.includes(isoSecond(leafNotAfter)),
          `${file}: the reason gives the leaf's notAfter ${isoSecond(leafNotAfter)}: ${reason}`,
        );
        // Every certificate but the root (valid to 2049) has expired (SOURCES.md).
        assert.deepEqual(
          r.chain.map((c) => c.validAtTime),
          r.chain.map((_, i) => i === 0),
          file,
        );
        // The signature is independent of time.
        assert.equal(status(r, 'cose.signature'), 'pass', file);
        assert.equal(status(r, 'chain.signatures'), 'pass', file);
        consumed++;
      }
      assert.equal(consumed, 11);
    },
  );

  it('a verification time left out means now (and so every real document is invalid)', () => {
    const before = Date.now();
    const r = verify(loadFixture('turnkey-2025-09-16-a.cbor'), {});
    assert.ok(r.at.getTime() >= before && r.at.getTime() <= Date.now());
    assert.equal(r.valid, false);
    assert.equal(status(r, 'chain.validity'), 'fail');
  });

  it(
    'binary, base64 (also wrapped, URL-safe, unpadded, as file bytes) and hex (also 0x, ' +
      'upper case) inputs of the same document give the same report, and decoded.encoding says which',
    () => {
      let consumed = 0;
      let variants = 0;
      for (const file of POSITIVE_FILES) {
        const bin = loadFixture(file);
        const b64 = Buffer.from(bin).toString('base64');
        const inputs: [string, Uint8Array | string, 'binary' | 'base64' | 'hex'][] = [
          ['binary', bin, 'binary'],
          ['base64', b64, 'base64'],
          ['base64 wrapped at 76 with CRLF', b64.replace(/.{76}/g, '$&\r\n'), 'base64'],
          ['base64url unpadded', Buffer.from(bin).toString('base64url'), 'base64'],
          ['base64 as file contents with a trailing newline', new Uint8Array(Buffer.from(`${b64}\n`)), 'base64'],
          ['hex', hex(bin), 'hex'],
          ['hex with 0x, upper case, spaced', `0x${hex(bin).toUpperCase().replace(/.{64}/g, '$& ')}`, 'hex'],
          ['hex as file contents', new Uint8Array(Buffer.from(`${hex(bin)}\n`)), 'hex'],
        ];
        const ref = verify(bin, { at: 'document' });
        assert.equal(ref.valid, true, file);
        for (const [name, input, encoding] of inputs) {
          const r = verify(input, { at: 'document' });
          const label = `${file} (${name})`;
          assert.equal(r.decoded?.encoding, encoding, label);
          assert.deepEqual(r.decoded?.bytes, bin, `${label}: the decoded bytes are the file`);
          assert.equal(r.valid, true, `${label}: ${r.summary}`);
          assert.deepEqual(
            r.checks.map((c) => [c.code, c.status]),
            ref.checks.map((c) => [c.code, c.status]),
            label,
          );
          assert.deepEqual(r.document, ref.document, label);
          variants++;
        }
        consumed++;
      }
      assert.equal(consumed, 11);
      assert.equal(variants, 88);
    },
  );

  describe('negative vectors (SOURCES.md)', () => {
    /** The checks that must fail, and the ones that may fail too, per SOURCES.md. */
    const NEGATIVES: Record<
      string,
      { readonly must: readonly string[]; readonly may: readonly string[]; readonly decodes: boolean }
    > = {
      'neg-veracruz-bad-sig.cbor': { must: ['cose.signature'], may: [], decodes: true },
      'neg-base-2026-01-03-corrupted-as-stored.cbor': { must: ['cose.structure'], may: [], decodes: false },
      'neg-tampered-pcr0-byte.cbor': { must: ['cose.signature'], may: [], decodes: true },
      'neg-alg-es512-header.cbor': { must: ['cose.algorithm', 'cose.signature'], may: [], decodes: true },
      'neg-sig-der-encoded.cbor': { must: ['cose.signature-size'], may: ['cose.signature'], decodes: true },
      'neg-truncated.cbor': { must: ['cose.structure'], may: [], decodes: false },
    };

    it('all 6 negative documents are invalid at their own timestamp, each failing the check SOURCES.md names', () => {
      assert.deepEqual(Object.keys(NEGATIVES).sort(), [...NEGATIVE_FILES].sort());
      let consumed = 0;
      for (const file of NEGATIVE_FILES) {
        const e = expectedFor(file);
        const want = NEGATIVES[file];
        assert.ok(want, file);
        assert.equal(e.decodes, want.decodes, `${file}: expected.json agrees about decoding`);
        const r = verify(loadFixture(file), { at: 'document' });
        assert.equal(r.valid, false, file);
        const f = failed(r);
        for (const code of want.must)
          assert.ok(f.includes(code), `${file}: ${code} must fail; failed: ${f.join(', ')}; ${r.summary}`);
        for (const code of f)
          assert.ok(
            want.must.includes(code) || want.may.includes(code),
            `${file}: ${code} failed but should not (${reasonOf(r, code)})`,
          );
        if (want.decodes) {
          // The chain of each decodable negative is the genuine one (expected.json: chain valid at the document time).
          assert.equal(e.chain_valid_at_doc_timestamp, true, file);
          for (const code of CHAIN_CHECKS) assert.equal(status(r, code), 'pass', `${file}: ${code}`);
          assert.equal(r.document?.moduleId, e.module_id, file);
          assert.equal(r.at.getTime(), e.timestamp_ms, file);
        } else {
          assert.equal(r.document, undefined, file);
          assert.equal(r.chain.length, 0, file);
        }
        consumed++;
      }
      assert.equal(consumed, 6);
    });

    it(
      'the tampered document carries the flipped PCR0 byte (f4… → ' +
        'f5…) and still fails, because the signature covers the payload',
      () => {
        const r = verify(loadFixture('neg-tampered-pcr0-byte.cbor'), { at: 'document' });
        const e = expectedFor('neg-tampered-pcr0-byte.cbor');
        const original = expectedFor('evervault-2022-10-13-prod.cbor');
        const pcr0 = r.document?.pcrs.get(0);
        assert.ok(pcr0);
        assert.equal(hex(pcr0), e.pcrs?.['0']);
        assert.equal(original.pcrs?.['0']?.slice(0, 2), 'f4');
        assert.equal(hex(pcr0).slice(0, 2), 'f5');
        assert.equal(hex(pcr0).slice(2), original.pcrs?.['0']?.slice(2));
        assert.equal(status(r, 'cose.signature'), 'fail');
      },
    );

    it('the ES512 header is reported by its algorithm number, and the DER signature by its length', () => {
      const es512 = verify(loadFixture('neg-alg-es512-header.cbor'), { at: 'document' });
      assert.equal(es512.decoded?.cose.protectedHeader.get(1), -36);
      assert.match(reasonOf(es512, 'cose.algorithm'), /-36/);
      const der = verify(loadFixture('neg-sig-der-encoded.cbor'), { at: 'document' });
      assert.equal(der.decoded?.cose.signature.length, expectedFor('neg-sig-der-encoded.cbor').signature_len);
      assert.match(reasonOf(der, 'cose.signature-size'), /102/);
    });

    describe('time negatives on evervault-2022-10-13-prod.cbor', () => {
      const file = 'evervault-2022-10-13-prod.cbor';
      const e = expectedFor(file) as Required<ExpectedDoc>;
      const notBefore = opensslDate(e.leaf_not_before);
      const notAfter = opensslDate(e.leaf_not_after);

      it('SOURCES.md times are one second outside the leaf validity from expected.json', () => {
        assert.equal(new Date(notAfter.getTime() + 1000).toISOString(), '2022-10-13T11:58:03.000Z');
        assert.equal(new Date(notBefore.getTime() - 1000).toISOString(), '2022-10-13T08:57:58.000Z');
      });

      it(
        'one second after the leaf notAfter (2022-10-13T11:58:03Z): ' +
          'chain.validity fails, naming the expired signing certificate',
        () => {
          const r = verify(loadFixture(file), { at: new Date('2022-10-13T11:58:03Z') });
          assert.equal(r.valid, false);
          assert.deepEqual(failed(r), ['chain.validity']);
          const reason = reasonOf(r, 'chain.validity');
          assert.match(reason, /signing certificate/);
          assert.match(reason, /no longer/);
          // Only the leaf has expired at that time.
          assert.deepEqual(
            r.chain.map((c) => c.validAtTime),
            [true, true, true, true, false],
          );
        },
      );

      it('before the leaf notBefore (2022-10-13T08:57:58Z): chain.validity fails (not yet valid)', () => {
        const r = verify(loadFixture(file), { at: new Date('2022-10-13T08:57:58Z') });
        assert.equal(r.valid, false);
        assert.deepEqual(failed(r), ['chain.validity']);
        const reason = reasonOf(r, 'chain.validity');
        assert.match(reason, /signing certificate/);
        assert.match(reason, /not yet/);
        assert.deepEqual(
          r.chain.map((c) => c.validAtTime),
          [true, true, true, true, false],
        );
      });

      it('exactly at notBefore and at notAfter the chain is valid (RFC 5280 validity is inclusive)', () => {
        for (const at of [notBefore, notAfter]) {
          const r = verify(loadFixture(file), { at });
          assert.equal(r.valid, true, `${at.toISOString()}: ${r.summary}`);
        }
      });
    });
  });

  it(
    'a long-lived LinkCache changes no verdict: same checks with and without it, ' +
      'on real, negative and tampered documents, cold and warm',
    () => {
      const inputs: [string, Uint8Array, VerifyOptions][] = [];
      for (const file of [...POSITIVE_FILES, ...NEGATIVE_FILES]) {
        inputs.push([`${file} at its time`, loadFixture(file), { at: 'document' }]);
        inputs.push([`${file} now`, loadFixture(file), { at: new Date() }]);
      }
      // Tampered chains: the regional and zonal CAs swapped, and each document given another one's leaf.
      for (const [i, file] of REAL_FILES.entries()) {
        const doc = loadFixture(file);
        const l = sign1Layout(doc);
        const p = splitPayload(l.payload);
        const bundle = cabundleOf(p);
        const swapped = [bundle[0], bundle[2], bundle[1], ...bundle.slice(3)] as Uint8Array[];
        const other = certificateOf(
          splitPayload(sign1Layout(loadFixture(REAL_FILES[(i + 1) % REAL_FILES.length] as string)).payload),
        );
        const re = (q: PayloadParts) =>
          encodeSign1({ protectedBytes: l.protectedBytes, payload: joinPayload(q), signature: l.signature });
        inputs.push([
          `${file} swapped`,
          re(setEntry(p, 'cabundle', cArray(swapped.map((c) => cBstr(c))))),
          { at: 'document' },
        ]);
        inputs.push([`${file} foreign leaf`, re(setEntry(p, 'certificate', cBstr(other))), { at: 'document' }]);
      }
      const cache = new LinkCache();
      let consumed = 0;
      for (const pass of ['cold cache', 'warm cache']) {
        for (const [label, doc, options] of inputs) {
          const without = verify(doc, options);
          const withCache = verifyAttestation(doc, options, nodeAttestationCrypto, cache);
          assert.deepEqual(
            withCache.checks.map((c) => [c.code, c.status]),
            without.checks.map((c) => [c.code, c.status]),
            `${label} (${pass})`,
          );
          consumed++;
        }
      }
      assert.equal(consumed, 2 * (2 * 17 + 2 * 10));
    },
  );

  describe('policy options on real documents', () => {
    const file = 'evervault-2022-10-13-prod.cbor';
    const e = expectedFor(file) as Required<ExpectedDoc>;

    it('expected PCRs from expected.json pass (in any hex case); a wrong or missing PCR fails pcrs.expected', () => {
      const good = new Map([0, 1, 2, 8].map((i) => [i, (e.pcrs[String(i)] as string).toUpperCase()] as const));
      const ok = verify(loadFixture(file), { at: 'document', expectedPcrs: good });
      assert.equal(ok.valid, true, ok.summary);
      assert.equal(status(ok, 'pcrs.expected'), 'pass');
      assert.deepEqual(
        ok.pcrComparisons.map((p) => [p.index, p.match]),
        [
          [0, true],
          [1, true],
          [2, true],
          [8, true],
        ],
      );
      const wrong = new Map(good);
      wrong.set(2, '00'.repeat(48));
      wrong.set(20, 'ab'.repeat(48));
      const bad = verify(loadFixture(file), { at: 'document', expectedPcrs: wrong });
      assert.equal(bad.valid, false);
      assert.deepEqual(failed(bad), ['pcrs.expected']);
      assert.deepEqual(
        bad.pcrComparisons.map((p) => [p.index, p.match]),
        [
          [0, true],
          [1, true],
          [2, false],
          [8, true],
          [20, false],
        ],
      );
    });

    it('the expected nonce passes; another nonce, or a document without one, fails nonce.expected', () => {
      const nonce = Buffer.from(e.nonce_hex ?? '', 'hex');
      assert.equal(nonce.length, 256);
      const ok = verify(loadFixture(file), { at: 'document', nonce });
      assert.equal(status(ok, 'nonce.expected'), 'pass');
      assert.equal(ok.valid, true);
      const other = Buffer.from(nonce);
      other[255] = (other[255] as number) ^ 1;
      const bad = verify(loadFixture(file), { at: 'document', nonce: other });
      assert.deepEqual(failed(bad), ['nonce.expected']);
      // base-2024-11-30 has nonce = null.
      const none = verify(loadFixture('base-2024-11-30.cbor'), { at: 'document', nonce });
      assert.deepEqual(failed(none), ['nonce.expected']);
    });
  });
});
