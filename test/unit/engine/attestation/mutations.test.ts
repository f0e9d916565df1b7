// Mutations of real documents and documents signed by CA hierarchies built here with openssl:
//  - a bounded single-byte flip sweep over the envelope, the protected header, the signature and the
//    payload (every byte of the PCR values and of the signing certificate, every Nth byte elsewhere),
//    where the expected outcome of every case is derived from this suite's own CBOR walker;
//  - cabundle entries swapped, missing, reordered; a leaf (or a whole chain) from another document,
//    with the payload re-encoded byte-exactly and the original signature kept;
//  - an untrusted root that otherwise chains correctly, pathLen / CA / keyUsage violations, an
//    expired intermediate, each cross-checked with `openssl verify -attime` where OpenSSL has a view.
import * as assert from 'node:assert/strict';
import { verifyAttestation, LinkCache, type VerifyOptions, type VerifyReport } from '../../../../src/engine';
import { nodeAttestationCrypto } from '../../../../src/engine/node';
import {
  C_NULL,
  ES384_PROTECTED,
  EXT,
  REAL_FILES,
  TAGGED_FILE,
  buildPayload,
  cArray,
  cBstr,
  cMap,
  cText,
  cUint,
  cabundleOf,
  certificateOf,
  concat,
  encodeSign1,
  expectedFor,
  hex,
  joinPayload,
  loadFixture,
  makeCerts,
  makeDocument,
  nodeVerifySign1,
  opensslVerify,
  removeDir,
  samplePcrs,
  setEntry,
  sign1Layout,
  signedDocument,
  splitPayload,
  spanContent,
  tempDir,
  walkCbor,
  type CertSpec,
  type MadeCert,
  type PayloadParts,
  type Sign1Layout,
  type Span,
} from './helpers';

const verify = (input: Uint8Array | string, options: VerifyOptions, cache?: LinkCache): VerifyReport =>
  verifyAttestation(input, options, nodeAttestationCrypto, cache);
const status = (r: VerifyReport, code: string): string | undefined => r.checks.find((c) => c.code === code)?.status;
const failed = (r: VerifyReport): string[] => r.checks.filter((c) => c.status === 'fail').map((c) => c.code);
const reasonOf = (r: VerifyReport, code: string): string => r.checks.find((c) => c.code === code)?.reason ?? '';
const CHAIN_CHECKS = [
  'chain.parse',
  'chain.root',
  'chain.signatures',
  'chain.names',
  'chain.validity',
  'chain.constraints',
];

/** Re-encodes a real document with a changed payload and its original protected header and signature. */
function withPayload(doc: Uint8Array, payload: PayloadParts): Uint8Array {
  const l = sign1Layout(doc);
  return encodeSign1({
    protectedBytes: l.protectedBytes,
    payload: joinPayload(payload),
    signature: l.signature,
    tagged: l.tagged,
  });
}

// ---------------------------------------------------------------------------------------------
// The flip sweep.

type Expectation =
  /** The envelope is no longer a COSE_Sign1 of the right types. */
  | { readonly kind: 'structure' }
  /** The signature is no longer 96 bytes (spec 1.1: require exactly 96). */
  | { readonly kind: 'signature-size' }
  /** Signed bytes changed: the signature (and what else is named) must fail. */
  | {
      readonly kind: 'signed';
      readonly part: 'protected' | 'signature' | 'pcr' | 'certificate' | 'cabundle' | 'payload';
      readonly algOk: boolean;
    }
  /** Only unsigned encoding changed and the meaning is the same: still valid (explained where it occurs). */
  | { readonly kind: 'unchanged' };

interface Regions {
  readonly pcrValues: [number, number][];
  readonly certificate: [number, number];
  readonly cabundle: [number, number][];
}

/** Where the PCR values, the certificate and the cabundle entries lie in the document (absolute offsets). */
function payloadRegions(l: Sign1Layout): Regions {
  const base = l.payloadSpan.headEnd;
  const map = walkCbor(l.payload);
  const value = (name: string): Span => {
    for (let i = 0; i < map.children.length; i += 2) {
      const k = map.children[i] as Span;
      if (k.major === 3 && Buffer.from(spanContent(l.payload, k)).toString() === name)
        return map.children[i + 1] as Span;
    }
    throw new Error(`no ${name}`);
  };
  const abs = (s: Span): [number, number] => [base + s.headEnd, base + s.end];
  const pcrs = value('pcrs');
  return {
    pcrValues: pcrs.children.filter((_, i) => i % 2 === 1).map(abs),
    certificate: abs(value('certificate')),
    cabundle: value('cabundle').children.map(abs),
  };
}

/** The expected outcome of a mutated document, from this suite's walker and the original's layout. */
function expectation(original: Sign1Layout, regions: Regions, mutated: Uint8Array, offset: number): Expectation {
  let l: Sign1Layout;
  try {
    l = sign1Layout(mutated);
  } catch {
    return { kind: 'structure' };
  }
  const top = walkCbor(mutated);
  if (top.major === 6 && top.arg !== 18n) return { kind: 'structure' };
  if (l.array.major !== 4 || l.array.children.length !== 4) return { kind: 'structure' };
  if (
    l.protectedSpan.major !== 2 ||
    l.unprotectedSpan.major !== 5 ||
    l.payloadSpan.major !== 2 ||
    l.signatureSpan.major !== 2
  )
    return { kind: 'structure' };
  if (l.protectedSpan.indefinite || l.payloadSpan.indefinite || l.signatureSpan.indefinite)
    return { kind: 'structure' };
  // The protected header must decode to a map (an empty bstr counts as the empty map).
  let algOk = false;
  if (l.protectedBytes.length > 0) {
    let h: Span;
    try {
      h = walkCbor(l.protectedBytes);
    } catch {
      return { kind: 'structure' };
    }
    if (h.end !== l.protectedBytes.length || h.major !== 5) return { kind: 'structure' };
    algOk = hex(l.protectedBytes) === hex(ES384_PROTECTED);
  }
  // (A non-empty unprotected header is not signed and only warned about:
  // it falls through to the byte comparisons below.)
  const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
  if (!same(l.protectedBytes, original.protectedBytes)) return { kind: 'signed', part: 'protected', algOk };
  if (l.signature.length !== 96) return { kind: 'signature-size' };
  if (!same(l.signature, original.signature)) return { kind: 'signed', part: 'signature', algOk };
  if (!same(l.payload, original.payload)) {
    const inside = (r: [number, number]) => offset >= r[0] && offset < r[1];
    const part = regions.pcrValues.some(inside)
      ? 'pcr'
      : inside(regions.certificate)
        ? 'certificate'
        : regions.cabundle.some(inside)
          ? 'cabundle'
          : 'payload';
    return { kind: 'signed', part, algOk };
  }
  return { kind: 'unchanged' };
}

interface SweepResult {
  cases: number;
  byKind: Record<string, number>;
  byFailure: Record<string, number>;
}

function sweep(file: string, positions: Iterable<[number, number]>, cache?: LinkCache): SweepResult {
  const doc = loadFixture(file);
  const original = sign1Layout(doc);
  const regions = payloadRegions(original);
  const at = new Date(expectedFor(file).timestamp_ms as number);
  const result: SweepResult = { cases: 0, byKind: {}, byFailure: {} };
  for (const [offset, mask] of positions) {
    const m = new Uint8Array(doc);
    m[offset] = (m[offset] as number) ^ mask;
    const exp = expectation(original, regions, m, offset);
    const r = verify(m, { at }, cache);
    const f = failed(r);
    const label =
      `${file} byte ${offset} ^ 0x${mask.toString(16)} ` +
      `(${exp.kind}${exp.kind === 'signed' ? `/${exp.part}` : ''}): failed [${f.join(', ')}]; ${r.summary}`;
    result.cases++;
    const kindKey = exp.kind === 'signed' ? `signed/${exp.part}` : exp.kind;
    result.byKind[kindKey] = (result.byKind[kindKey] ?? 0) + 1;
    for (const code of f) result.byFailure[code] = (result.byFailure[code] ?? 0) + 1;
    switch (exp.kind) {
      case 'structure':
        assert.equal(r.valid, false, label);
        assert.deepEqual(f, ['cose.structure'], label);
        break;
      case 'signature-size':
        assert.equal(r.valid, false, label);
        assert.ok(f.includes('cose.signature-size'), label);
        break;
      case 'unchanged':
        // Never reached by a single flip of these documents (asserted on the counts below); kept so a
        // case that only touches unsigned encoding would be judged by its meaning, not by its bytes.
        assert.equal(r.valid, true, label);
        break;
      case 'signed':
        assert.equal(r.valid, false, label);
        switch (exp.part) {
          case 'protected':
            // The protected bytes are part of Sig_structure (spec 1.2), so the signature fails; the
            // header no longer says {1: -35}, so the algorithm check fails as well.
            assert.ok(f.includes('cose.signature'), label);
            assert.equal(f.includes('cose.algorithm'), !exp.algOk, label);
            for (const code of f) assert.ok(['cose.signature', 'cose.algorithm', 'cose.headers'].includes(code), label);
            break;
          case 'signature':
          case 'pcr':
            // Nothing but the signature check can notice: the fields still decode and the chain is intact.
            assert.deepEqual(f, ['cose.signature'], label);
            break;
          case 'certificate':
          case 'cabundle':
            // The certificate bytes are signed twice: by the issuer (chain) and,
            // inside the payload, by the document signature.
            assert.ok(
              f.includes('payload.syntax') ||
                f.includes('chain.parse') ||
                (f.includes('cose.signature') && f.some((c) => CHAIN_CHECKS.includes(c))),
              label,
            );
            break;
          case 'payload':
            assert.ok(f.length > 0, label);
            if (r.document && status(r, 'chain.parse') === 'pass' && status(r, 'leaf.key') === 'pass')
              assert.ok(f.includes('cose.signature'), label);
            break;
        }
        break;
    }
  }
  return result;
}

function* bitFlips(from: number, to: number): Generator<[number, number]> {
  for (let o = from; o < to; o++) for (let b = 0; b < 8; b++) yield [o, 1 << b];
}

/** One single-bit flip per byte (the bit cycles with the offset). */
function* oneFlipEach(offsets: Iterable<number>): Generator<[number, number]> {
  for (const o of offsets) yield [o, 1 << (o % 8)];
}

function* range(from: number, to: number, step = 1): Generator<number> {
  for (let o = from; o < to; o += step) yield o;
}

describe('(unit) attestation: mutations', function () {
  this.timeout(120_000);

  describe('single-byte flips (bounded sweep)', () => {
    it(
      'bit flips in the envelope heads, the protected header and the signature ' +
        'of two real documents are all rejected, each by the right check',
      () => {
        let total = 0;
        // The first document: all 8 single-bit flips of every byte, without a cache (each case verifies
        // the whole chain too). The second: all 8 bits of the heads and the protected header, one bit
        // (cycling) per signature byte, with a warm cache.
        for (const [file, allSignatureBits] of [
          ['evervault-2022-10-13-prod.cbor', true],
          ['base-2026-01-03-indef.cbor', false],
        ] as const) {
          const l = sign1Layout(loadFixture(file));
          const sigBytes = range(l.signatureSpan.headEnd, l.signatureSpan.end);
          const positions = [
            ...bitFlips(l.array.start, l.array.headEnd), // 0x84
            ...bitFlips(l.protectedSpan.start, l.protectedSpan.end), // 44 a1 01 38 22
            // a0 (not signed, but every flip breaks the structure)
            ...bitFlips(l.unprotectedSpan.start, l.unprotectedSpan.end),
            ...bitFlips(l.payloadSpan.start, l.payloadSpan.headEnd), // 59 LL LL
            ...bitFlips(l.signatureSpan.start, l.signatureSpan.headEnd), // 58 60
            // the 96 bytes r‖s
            ...(allSignatureBits ? bitFlips(l.signatureSpan.headEnd, l.signatureSpan.end) : oneFlipEach(sigBytes)),
          ];
          const r = sweep(file, positions, allSignatureBits ? undefined : new LinkCache());
          assert.equal(r.cases, (1 + 5 + 1 + 3 + 2) * 8 + 96 * (allSignatureBits ? 8 : 1), file);
          assert.equal(r.byKind.unchanged, undefined, `${file}: no single flip of these bytes keeps the meaning`);
          // Every flip of the 96 signature bytes fails the signature and nothing else.
          assert.equal(r.byKind['signed/signature'], 96 * (allSignatureBits ? 8 : 1), file);
          // Every other flip either breaks the structure or changes the (signed) protected header; some of
          // the latter still decode to a map (another label or algorithm) and fail cose.algorithm + cose.signature.
          assert.equal(
            (r.byKind.structure ?? 0) + (r.byKind['signed/protected'] ?? 0) + (r.byKind['signed/signature'] ?? 0),
            r.cases,
            file,
          );
          assert.ok((r.byKind['signed/protected'] ?? 0) > 0, file);
          total += r.cases;
        }
        assert.equal(total, 96 * 8 + 96 + 2 * 12 * 8);
      },
    );

    it(
      'flips across the payload (all PCR and signing-certificate bytes ' +
        'of one document, every Nth byte elsewhere) are all rejected',
      () => {
        const cache = new LinkCache(); // the warm path, as a long-lived verifier would run it
        let total = 0;
        const plans = [
          // Definite-length payload map (a9): every PCR and certificate byte,
          // every 5th cabundle byte, every 7th elsewhere.
          { file: 'evervault-2022-10-13-prod.cbor', pcr: 1, cert: 1, bundle: 5, rest: 7 },
          // Indefinite-length payload map (bf … ff): a lighter pass over the same regions.
          { file: 'base-2026-01-03-indef.cbor', pcr: 3, cert: 2, bundle: 11, rest: 13 },
        ];
        for (const plan of plans) {
          const doc = loadFixture(plan.file);
          const l = sign1Layout(doc);
          const reg = payloadRegions(l);
          const offsets = new Set<number>();
          assert.deepEqual(
            reg.pcrValues.map(([x, y]) => y - x),
            new Array(16).fill(48),
            plan.file,
          );
          for (const [x, y] of reg.pcrValues) for (const o of range(x, y, plan.pcr)) offsets.add(o);
          for (const o of range(reg.certificate[0], reg.certificate[1], plan.cert)) offsets.add(o);
          for (const [x, y] of reg.cabundle) for (const o of range(x, y, plan.bundle)) offsets.add(o);
          for (const o of range(l.payloadSpan.headEnd, l.payloadSpan.end, plan.rest)) offsets.add(o);
          const within = (w: [number, number]) => [...offsets].filter((o) => o >= w[0] && o < w[1]).length;
          const pcrCases = reg.pcrValues.reduce((n, w) => n + within(w), 0);
          const certCases = within(reg.certificate);
          if (plan.pcr === 1) assert.equal(pcrCases, 16 * 48, plan.file);
          if (plan.cert === 1) assert.equal(certCases, reg.certificate[1] - reg.certificate[0], plan.file);
          const r = sweep(plan.file, oneFlipEach([...offsets].sort((x, y) => x - y)), cache);
          assert.equal(r.cases, offsets.size, plan.file);
          assert.equal(r.byKind['signed/pcr'], pcrCases, `${plan.file}: PCR bytes`);
          assert.equal(r.byKind['signed/certificate'], certCases, `${plan.file}: certificate bytes`);
          assert.equal(r.byKind.unchanged, undefined, plan.file);
          total += r.cases;
        }
        assert.ok(total > 3000, `${total} cases`);
      },
    );

    it(
      'the tag byte of the tagged document: ' + 'every flip gives another tag or no tag at all, and both are rejected',
      () => {
        // 0xd2 is outside Sig_structure, so a flip cannot break the signature; it is rejected because any
        // tag other than 18 is not a COSE_Sign1 (spec 1.1), and a non-tag initial byte breaks the structure.
        const r = sweep(TAGGED_FILE, bitFlips(0, 1));
        assert.equal(r.cases, 8);
        assert.deepEqual(r.byFailure, { 'cose.structure': 8 });
      },
    );
  });

  describe('changes that keep the meaning (and so the verdict)', () => {
    const file = 'evervault-2022-10-13-prod.cbor';
    const doc = loadFixture(file);
    const l = sign1Layout(doc);
    const at = new Date(expectedFor(file).timestamp_ms as number);

    it(
      'the envelope heads are not signed: longer-than-needed heads ' +
        'for the protected header, payload and signature still verify',
      () => {
        // The verifier rebuilds Sig_structure with the shortest heads (spec 1.2; RFC 9052 section 9 restricts
        // only Sig_structure to the shortest form), as the signer did, so how the envelope spells its own
        // lengths does not matter. (The array head stays 0x84: the engine recognises binary input by it.)
        const longHeads = concat(
          Uint8Array.of(0x84),
          cBstr(l.protectedBytes, 1),
          Uint8Array.of(0xa0),
          cBstr(l.payload, 4),
          cBstr(l.signature, 2),
        );
        assert.notDeepEqual(longHeads, doc);
        const r = verify(longHeads, { at });
        assert.equal(r.valid, true, r.summary);
        assert.equal(status(r, 'cose.signature'), 'pass');
      },
    );

    it('the unprotected header is not signed: {} written as an indefinite-length empty map is the same header', () => {
      const indefEmpty = concat(
        Uint8Array.of(0x84),
        cBstr(l.protectedBytes),
        Uint8Array.of(0xbf, 0xff),
        cBstr(l.payload),
        cBstr(l.signature),
      );
      const r = verify(indefEmpty, { at });
      assert.equal(r.valid, true, r.summary);
      assert.equal(status(r, 'cose.headers'), 'pass');
    });

    it(
      'a non-empty unprotected header changes nothing signed: ' + 'still valid, with a warning (spec 1.2: suspicious)',
      () => {
        const withKid = concat(
          Uint8Array.of(0x84),
          cBstr(l.protectedBytes),
          cMap([[cUint(4), cBstr(new Uint8Array([1, 2, 3]))]]),
          cBstr(l.payload),
          cBstr(l.signature),
        );
        const r = verify(withKid, { at });
        assert.equal(r.valid, true, r.summary);
        assert.equal(status(r, 'cose.headers'), 'warn');
      },
    );

    it(
      'the ECDSA twin (r, n − s) of a real signature verifies too (spec 1.2: ' +
        'ECDSA is malleable; never use signature bytes as an identity)',
      () => {
        const n = BigInt(
          '0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973',
        );
        const r = l.signature.subarray(0, 48);
        const s = BigInt(`0x${hex(l.signature.subarray(48))}`);
        const twinS = Buffer.from((n - s).toString(16).padStart(96, '0'), 'hex');
        const twin = concat(r, twinS);
        assert.notDeepEqual(twin, l.signature);
        const m = encodeSign1({ protectedBytes: l.protectedBytes, payload: l.payload, signature: twin });
        // node:crypto, independently of the engine, accepts the twin.
        assert.equal(nodeVerifySign1(m, certificateOf(splitPayload(l.payload))), true);
        const rep = verify(m, { at });
        assert.equal(rep.valid, true, rep.summary);
      },
    );
  });

  describe('cabundle and leaf tampering in real documents (payload re-encoded, original signature kept)', () => {
    it('the test writer re-encodes every real payload byte for byte (so a change below is the only change)', () => {
      let consumed = 0;
      for (const file of [...REAL_FILES, TAGGED_FILE]) {
        const doc = loadFixture(file);
        assert.deepEqual(withPayload(doc, splitPayload(sign1Layout(doc).payload)), doc, file);
        consumed++;
      }
      assert.equal(consumed, 11);
    });

    const file = 'turnkey-2025-09-16-a.cbor';
    const doc = loadFixture(file);
    const p = splitPayload(sign1Layout(doc).payload);
    const bundle = cabundleOf(p);
    const at = new Date(expectedFor(file).timestamp_ms as number);
    const withBundle = (entries: Uint8Array[]) =>
      withPayload(doc, setEntry(p, 'cabundle', cArray(entries.map((c) => cBstr(c)))));
    const [root, regional, zonal, instance] = bundle as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];

    const cases: [string, Uint8Array[], string[]][] = [
      ['regional and zonal swapped', [root, zonal, regional, instance], ['chain.names', 'chain.signatures']],
      ['zonal missing', [root, regional, instance], ['chain.names', 'chain.signatures']],
      [
        'instance missing (the leaf hangs from the zonal CA)',
        [root, regional, zonal],
        ['chain.names', 'chain.signatures'],
      ],
      ['root missing (cabundle[0] is then the regional CA)', [regional, zonal, instance], ['chain.root']],
      [
        'reversed (leaf side first)',
        [instance, zonal, regional, root],
        ['chain.root', 'chain.names', 'chain.signatures'],
      ],
      ['regional duplicated', [root, regional, regional, zonal, instance], ['chain.names', 'chain.signatures']],
      ['root only', [root], ['chain.names', 'chain.signatures']],
    ];
    for (const [name, entries, mustFail] of cases) {
      it(`${name}: ${mustFail.join(' and ')} fail, and so does the signature`, () => {
        const r = verify(withBundle(entries), { at });
        assert.equal(r.valid, false);
        const f = failed(r);
        for (const code of [...mustFail, 'cose.signature'])
          assert.ok(f.includes(code), `${code} must fail; failed: ${f.join(', ')}`);
        assert.equal(status(r, 'chain.parse'), 'pass');
      });
    }

    it('an empty cabundle breaks the syntax rules (spec 2.3: at least one entry)', () => {
      const r = verify(withBundle([]), { at });
      assert.equal(r.valid, false);
      assert.equal(status(r, 'payload.syntax'), 'fail');
    });

    it(
      'the leaf of another document (same enclave image, another instance): ' +
        'the leaf does not chain to this instance CA, and the signature fails',
      () => {
        const other = splitPayload(sign1Layout(loadFixture('turnkey-2025-09-16-b.cbor')).payload);
        const otherLeaf = certificateOf(other);
        assert.notDeepEqual(otherLeaf, certificateOf(p));
        const r = verify(withPayload(doc, setEntry(p, 'certificate', cBstr(otherLeaf))), { at });
        assert.equal(r.valid, false);
        const f = failed(r);
        for (const code of ['chain.names', 'chain.signatures', 'cose.signature'])
          assert.ok(f.includes(code), `${code}: ${f.join(', ')}`);
        assert.ok(!f.includes('chain.root'));
      },
    );

    it(
      'the leaf and the whole cabundle of another document: ' +
        'the chain is then perfect, and only the document signature fails',
      () => {
        const otherFile = 'turnkey-2025-09-16-b.cbor';
        const other = splitPayload(sign1Layout(loadFixture(otherFile)).payload);
        const swapped = setEntry(
          setEntry(p, 'certificate', cBstr(certificateOf(other))),
          'cabundle',
          cArray(cabundleOf(other).map((c) => cBstr(c))),
        );
        const r = verify(withPayload(doc, swapped), { at: new Date(expectedFor(otherFile).timestamp_ms as number) });
        assert.equal(r.valid, false);
        assert.deepEqual(failed(r), ['cose.signature']);
        for (const code of CHAIN_CHECKS) assert.equal(status(r, code), 'pass', code);
      },
    );
  });

  describe('CA hierarchies made with openssl (P-384, AWS-like extensions)', () => {
    let dir: string | undefined;
    const certs = new Map<string, MadeCert>();
    const c = (name: string): MadeCert => {
      const x = certs.get(name);
      if (!x) throw new Error(`no certificate ${name}`);
      return x;
    };
    const later = new Date(Date.now() + 3 * 86400_000);

    before(function () {
      this.timeout(120_000);
      dir = tempDir('mutations');
      const specs: CertSpec[] = [];
      const idx = (name: string) => specs.findIndex((s) => s.name === name);
      const add = (name: string, issuer: string | undefined, ext: readonly string[], extra: Partial<CertSpec> = {}) =>
        specs.push({ name, ext, ...(issuer === undefined ? {} : { issuer: idx(issuer) }), days: 30, ...extra });
      // An AWS-shaped hierarchy: root, regional (pathLen 2), zonal (1), instance (0, keyCertSign only), leaf.
      add('root', undefined, EXT.root, { days: 3650 });
      add('regional', 'root', EXT.intermediate(2));
      add('zonal', 'regional', EXT.intermediate(1));
      add('instance', 'zonal', [
        'basicConstraints=critical,CA:TRUE,pathlen:0',
        'keyUsage=critical,keyCertSign',
        'subjectKeyIdentifier=hash',
        'authorityKeyIdentifier=keyid',
      ]);
      add('leaf', 'instance', EXT.leaf);
      // Violations, each under the same root with one intermediate.
      add('int-pathlen0', 'root', EXT.intermediate(0));
      add('int-pathlen0-below', 'int-pathlen0', EXT.intermediate(0));
      add('leaf-pathlen', 'int-pathlen0-below', EXT.leaf);
      add(
        'root-pathlen0',
        undefined,
        [
          'basicConstraints=critical,CA:TRUE,pathlen:0',
          'keyUsage=critical,digitalSignature,keyCertSign,cRLSign',
          'subjectKeyIdentifier=hash',
        ],
        { days: 3650 },
      );
      add('int-under-root-pathlen0', 'root-pathlen0', EXT.intermediate(0));
      add('leaf-root-pathlen', 'int-under-root-pathlen0', EXT.leaf);
      add('int-cafalse', 'root', [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyCertSign,cRLSign',
      ]);
      add('leaf-cafalse', 'int-cafalse', EXT.leaf);
      add('int-nobc', 'root', ['keyUsage=critical,digitalSignature,keyCertSign,cRLSign']);
      add('leaf-nobc', 'int-nobc', EXT.leaf);
      add('int-bc-noncritical', 'root', [
        'basicConstraints=CA:TRUE,pathlen:0',
        'keyUsage=critical,digitalSignature,keyCertSign,cRLSign',
      ]);
      add('leaf-bc-noncritical', 'int-bc-noncritical', EXT.leaf);
      add('int-no-certsign', 'root', [
        'basicConstraints=critical,CA:TRUE,pathlen:0',
        'keyUsage=critical,digitalSignature,cRLSign',
      ]);
      add('leaf-no-certsign', 'int-no-certsign', EXT.leaf);
      add('int-ok', 'root', EXT.intermediate(0));
      add('leaf-no-digsig', 'int-ok', ['basicConstraints=critical,CA:FALSE', 'keyUsage=keyAgreement']);
      add('leaf-no-ku', 'int-ok', ['basicConstraints=critical,CA:FALSE']);
      add('leaf-ca', 'int-ok', ['basicConstraints=critical,CA:TRUE', 'keyUsage=digitalSignature,keyCertSign']);
      add('leaf-p256', 'int-ok', EXT.leaf, { curve: 'prime256v1' });
      add('leaf-unknown-critical', 'int-ok', [...EXT.leaf, '1.3.6.1.4.1.99999.1=critical,DER:05:00']);
      add('int-expiring', 'root', EXT.intermediate(0), { days: 1 });
      add('leaf-under-expiring', 'int-expiring', EXT.leaf);
      add('int-sha256', 'root', EXT.intermediate(0), { md: 'sha256' });
      add('leaf-under-sha256', 'int-sha256', EXT.leaf);
      for (const m of makeCerts(dir, specs)) certs.set(m.name, m);
    });

    after(() => removeDir(dir));

    const chainOf = (...names: string[]) => names.map(c);
    const ownRoot = (root = 'root') => ({ roots: [{ pem: c(root).certPem }] });

    it(
      'openssl accepts the AWS-shaped hierarchy (4 CAs and a leaf), ' +
        'and the engine reads its constraints as openssl wrote them',
      () => {
        const v = opensslVerify(
          dir as string,
          c('root'),
          chainOf('regional', 'zonal', 'instance'),
          c('leaf'),
          new Date(),
        );
        assert.equal(v.ok, true, v.output);
        const r = verify(makeDocument(c('leaf'), chainOf('root', 'regional', 'zonal', 'instance')), {
          ...ownRoot(),
          at: 'document',
        });
        assert.deepEqual(
          r.chain.map((x) => x.info.basicConstraints?.pathLen),
          [undefined, 2, 1, 0, undefined],
        );
        assert.deepEqual(
          r.chain.map((x) => x.info.basicConstraints?.ca),
          [true, true, true, true, false],
        );
      },
    );

    it('an untrusted root that otherwise chains correctly: only chain.root fails', () => {
      const doc = makeDocument(c('leaf'), chainOf('root', 'regional', 'zonal', 'instance'));
      const r = verify(doc, { at: 'document' });
      assert.equal(r.valid, false);
      assert.deepEqual(failed(r), ['chain.root']);
      assert.equal(r.trustedRoot, undefined);
      assert.equal(status(r, 'cose.signature'), 'pass');
      for (const code of CHAIN_CHECKS.filter((x) => x !== 'chain.root')) assert.equal(status(r, code), 'pass', code);
    });

    it(
      'the same document is valid once its root is passed: ' +
        'kind "custom" by default, "development" (and report.development) when asked',
      () => {
        const doc = makeDocument(c('leaf'), chainOf('root', 'regional', 'zonal', 'instance'));
        const custom = verify(doc, { ...ownRoot(), at: 'document' });
        assert.equal(custom.valid, true, custom.summary);
        assert.equal(custom.trustedRoot?.kind, 'custom');
        assert.equal(custom.development, false);
        const dev = verify(doc, {
          roots: [{ pem: c('root').certPem, kind: 'development', label: 'test development root' }],
          at: 'document',
        });
        assert.equal(dev.valid, true, dev.summary);
        assert.equal(dev.trustedRoot?.kind, 'development');
        assert.equal(dev.trustedRoot?.label, 'test development root');
        assert.equal(dev.development, true);
        // As DER too.
        const der = verify(doc, { roots: [{ der: c('root').der, label: 'by DER', kind: 'custom' }], at: 'document' });
        assert.equal(der.valid, true, der.summary);
        assert.equal(der.trustedRoot?.label, 'by DER');
        // Another root does not help.
        const wrong = verify(doc, { ...ownRoot('root-pathlen0'), at: 'document' });
        assert.deepEqual(failed(wrong), ['chain.root']);
      },
    );

    it('tagged documents and an indefinite-length payload map are accepted (spec 1.1, 2.1)', () => {
      const chain = chainOf('root', 'regional', 'zonal', 'instance');
      for (const o of [{ tagged: true }, { indefinite: true }, { tagged: true, indefinite: true }]) {
        const r = verify(makeDocument(c('leaf'), chain, o), { ...ownRoot(), at: 'document' });
        assert.equal(r.valid, true, `${JSON.stringify(o)}: ${r.summary}`);
        assert.equal(r.decoded?.cose.tagged, o.tagged === true);
        assert.equal(r.document?.indefiniteLengthMap, o.indefinite === true);
      }
    });

    it('a re-signed document with the cabundle out of order or incomplete fails the chain, not the signature', () => {
      const [root, regional, zonal, instance] = chainOf('root', 'regional', 'zonal', 'instance') as [
        MadeCert,
        MadeCert,
        MadeCert,
        MadeCert,
      ];
      for (const [name, bundle, mustFail] of [
        ['regional and zonal swapped', [root, zonal, regional, instance], ['chain.names', 'chain.signatures']],
        ['zonal missing', [root, regional, instance], ['chain.names', 'chain.signatures']],
        ['reversed', [instance, zonal, regional, root], ['chain.root', 'chain.names', 'chain.signatures']],
      ] as const) {
        const r = verify(makeDocument(c('leaf'), bundle), { ...ownRoot(), at: 'document' });
        assert.equal(r.valid, false, name);
        const f = failed(r);
        for (const code of mustFail) assert.ok(f.includes(code), `${name}: ${code}; failed ${f.join(', ')}`);
        assert.equal(status(r, 'cose.signature'), 'pass', name);
      }
    });

    /** Verifies `leaf` under `bundle` (root first) with the bundle's root trusted, at `at`; returns the report. */
    const judge = (leaf: string, bundle: string[], at: Date | 'document' = 'document') =>
      verify(makeDocument(c(leaf), chainOf(...bundle)), { ...ownRoot(bundle[0]), at });

    const violations: [string, string, string[], string, RegExp | null][] = [
      // [what, leaf, bundle (root first), the check that must fail,
      // what `openssl verify` says (null: OpenSSL accepts or has no rule)]
      [
        'an intermediate with pathLen 0 above another CA',
        'leaf-pathlen',
        ['root', 'int-pathlen0', 'int-pathlen0-below'],
        'chain.constraints',
        /path length constraint exceeded/,
      ],
      [
        "a root with pathLen 0 above an intermediate (spec 3.3 rule 4: any pathLen, the root's included)",
        'leaf-root-pathlen',
        ['root-pathlen0', 'int-under-root-pathlen0'],
        'chain.constraints',
        null,
      ],
      [
        'a CA:FALSE intermediate',
        'leaf-cafalse',
        ['root', 'int-cafalse'],
        'chain.constraints',
        /invalid CA certificate/,
      ],
      [
        'an intermediate without basicConstraints',
        'leaf-nobc',
        ['root', 'int-nobc'],
        'chain.constraints',
        /invalid CA certificate/,
      ],
      [
        'an intermediate whose basicConstraints is not critical (spec 3.3 rule 4)',
        'leaf-bc-noncritical',
        ['root', 'int-bc-noncritical'],
        'chain.constraints',
        null,
      ],
      [
        'an intermediate without keyCertSign',
        'leaf-no-certsign',
        ['root', 'int-no-certsign'],
        'chain.constraints',
        /key usage does not include certificate signing|invalid CA certificate/,
      ],
      [
        'a leaf without digitalSignature (keyAgreement only)',
        'leaf-no-digsig',
        ['root', 'int-ok'],
        'chain.constraints',
        null,
      ],
      [
        'a leaf without keyUsage (spec 3.3 rule 5: the leaf must have digitalSignature)',
        'leaf-no-ku',
        ['root', 'int-ok'],
        'chain.constraints',
        null,
      ],
      ['a leaf that is a CA', 'leaf-ca', ['root', 'int-ok'], 'chain.constraints', null],
      [
        'an intermediate signed with ecdsa-with-SHA256 (spec 3.3 rule 1: only ecdsa-with-SHA384)',
        'leaf-under-sha256',
        ['root', 'int-sha256'],
        'chain.signatures',
        null,
      ],
      ['a P-256 leaf key (spec 3.3 rule 7)', 'leaf-p256', ['root', 'int-ok'], 'leaf.key', null],
    ];
    for (const [what, leaf, bundle, code, opensslSays] of violations) {
      it(`${what}: ${code} fails`, () => {
        if (opensslSays) {
          const v = opensslVerify(
            dir as string,
            c(bundle[0] as string),
            chainOf(...bundle.slice(1)),
            c(leaf),
            new Date(),
          );
          assert.equal(v.ok, false, v.output);
          assert.match(v.output, opensslSays);
        }
        const r = judge(leaf, bundle);
        assert.equal(r.valid, false, r.summary);
        assert.ok(failed(r).includes(code), `${code} must fail; failed: ${failed(r).join(', ')}`);
        // Apart from the named check, the chain is sound: each violation is caught for its own reason.
        for (const other of CHAIN_CHECKS.filter((x) => x !== code))
          assert.equal(status(r, other), 'pass', `${other}: ${reasonOf(r, other)}`);
      });
    }

    it(
      'the control for the violations: the same root and a sound ' +
        'intermediate give a valid document (and openssl agrees)',
      () => {
        const v = opensslVerify(dir as string, c('root'), chainOf('int-ok'), c('leaf-no-ku'), new Date());
        // the chain itself is fine for OpenSSL; only the spec's leaf rule rejects it
        assert.equal(v.ok, true, v.output);
        const ok = makeCerts(dir as string, [
          { name: 'ctl-root', ext: EXT.root, days: 3650 },
          { name: 'ctl-int', issuer: 0, ext: EXT.intermediate(0) },
          { name: 'ctl-leaf', issuer: 1, ext: EXT.leaf },
        ]);
        const [root, int, leaf] = ok as [MadeCert, MadeCert, MadeCert];
        const r = verify(makeDocument(leaf, [root, int]), { roots: [{ pem: root.certPem }], at: 'document' });
        assert.equal(r.valid, true, r.summary);
      },
    );

    it(
      'an expired intermediate (1 day, checked 3 days later): ' + 'chain.validity fails and names it; openssl agrees',
      () => {
        const v = opensslVerify(dir as string, c('root'), chainOf('int-expiring'), c('leaf-under-expiring'), later);
        assert.equal(v.ok, false);
        assert.match(v.output, /certificate has expired/);
        const r = judge('leaf-under-expiring', ['root', 'int-expiring'], later);
        assert.equal(r.valid, false);
        assert.deepEqual(failed(r), ['chain.validity']);
        assert.match(reasonOf(r, 'chain.validity'), /int-expiring/);
        assert.doesNotMatch(reasonOf(r, 'chain.validity'), /signing certificate/);
        assert.deepEqual(
          r.chain.map((x) => x.validAtTime),
          [true, false, true],
        );
        // Today it is still valid.
        assert.equal(judge('leaf-under-expiring', ['root', 'int-expiring']).valid, true);
      },
    );

    it('a leaf with an unrecognised critical extension is rejected, as PKIX (and openssl) require', () => {
      // Regression (an engine bug this suite found, now fixed): RFC 5280 4.2 and 6.1.4: a certificate with a critical
      // extension the verifier does not recognise must be rejected; the spec (3.3, "Pitfalls") asks for normal PKIX
      // path validation. `openssl verify` says "unhandled critical extension". The engine reads only
      // basicConstraints and keyUsage and ignores the criticality of everything else, so it reports
      // this document as valid.
      const v = opensslVerify(dir as string, c('root'), chainOf('int-ok'), c('leaf-unknown-critical'), new Date());
      assert.equal(v.ok, false);
      assert.match(v.output, /unhandled critical extension/);
      const r = judge('leaf-unknown-critical', ['root', 'int-ok']);
      assert.equal(r.valid, false, `accepted: ${r.summary}`);
      assert.equal(status(r, 'chain.constraints'), 'fail');
    });

    describe('protected header and payload types (documents re-signed by the test leaf)', () => {
      const payload = () =>
        buildPayload({
          moduleId: 'i-0123456789abcdef0-enc0123456789abcdef',
          timestamp: Date.now(),
          pcrs: samplePcrs(),
          certificate: c('leaf').der,
          cabundle: chainOf('root', 'regional', 'zonal', 'instance').map((x) => x.der),
        });
      const judgeSigned = (p: PayloadParts, protectedBytes: Uint8Array = ES384_PROTECTED) =>
        verify(signedDocument(c('leaf').keyPem, joinPayload(p), protectedBytes), { ...ownRoot(), at: new Date() });

      it('control: the re-signed document is valid', () => {
        const r = judgeSigned(payload());
        assert.equal(r.valid, true, r.summary);
      });

      it(
        '"crit" in the protected header is rejected (cose.headers), ' +
          'alg as the text "ES384" is rejected (cose.algorithm)',
        () => {
          const crit = judgeSigned(payload(), concat(Uint8Array.of(0xa2, 0x01, 0x38, 0x22, 0x02), cArray([cUint(4)])));
          assert.equal(crit.valid, false);
          assert.equal(status(crit, 'cose.headers'), 'fail');
          const text = judgeSigned(payload(), concat(Uint8Array.of(0xa1, 0x01), cText('ES384')));
          assert.equal(text.valid, false);
          assert.equal(status(text, 'cose.algorithm'), 'fail');
          assert.equal(status(text, 'cose.signature'), 'pass');
        },
      );

      it('an unexpected label in the protected header (kid, 4) is rejected (spec 1.2)', () => {
        // Regression (an engine bug this suite found, now fixed): spec 1.2 "Header check": "decode the protected bytes,
        // require label 1 to be −35, and reject crit and any other unexpected labels". Real documents carry exactly
        // {1: -35}. The engine rejects crit but lets {1: -35, 4: h'6b6964'} through with cose.headers = warn.
        const r = judgeSigned(
          payload(),
          concat(Uint8Array.of(0xa2, 0x01, 0x38, 0x22, 0x04), cBstr(Buffer.from('kid'))),
        );
        assert.equal(status(r, 'cose.signature'), 'pass');
        assert.equal(status(r, 'cose.headers'), 'fail', reasonOf(r, 'cose.headers'));
        assert.equal(r.valid, false);
      });

      it('a byte string where text is required (module_id) is rejected (payload.syntax)', () => {
        const r = judgeSigned(
          setEntry(payload(), 'module_id', cBstr(Buffer.from('i-0123456789abcdef0-enc0123456789abcdef'))),
        );
        assert.equal(r.valid, false);
        assert.equal(status(r, 'payload.syntax'), 'fail');
      });

      it('a timestamp written as a CBOR float is rejected (spec 2.1/2.3: an unsigned integer)', () => {
        // Regression (an engine bug this suite found, now fixed): spec 2.1 gives `timestamp` the type "unsigned int"
        // (`uint .size 8`) and 2.3 says "Reject a wrong type on any known key". The engine converts whatever number
        // cbor-x returns, so a float64 (0xfb …) with an integral value passes as a timestamp.
        const f = Buffer.alloc(9);
        f[0] = 0xfb;
        f.writeDoubleBE(Date.now(), 1);
        const r = judgeSigned(setEntry(payload(), 'timestamp', new Uint8Array(f)));
        assert.equal(status(r, 'cose.signature'), 'pass');
        assert.equal(status(r, 'payload.syntax'), 'fail', `accepted: ${r.summary}`);
      });

      it('a PCR index written as a CBOR float (3.0) is rejected (spec 2.3: keys are integers)', () => {
        // Regression (an engine bug this suite found, now fixed): spec 2.3: "pcrs has 1..32 entries. Each key is an
        // integer in [0, 32)" and "Reject a wrong type on any known key". The half-float 3.0 (f9 42 00) decodes to the
        // JS number 3 and is accepted as PCR3.
        const pcrs = cMap(
          [...samplePcrs()].map(([k, v]) => [k === 3 ? Uint8Array.of(0xf9, 0x42, 0x00) : cUint(k), cBstr(v)] as const),
        );
        const r = judgeSigned(setEntry(payload(), 'pcrs', pcrs));
        assert.equal(status(r, 'cose.signature'), 'pass');
        assert.equal(status(r, 'payload.syntax'), 'fail', `accepted: ${r.summary}`);
      });

      it('an optional field written as CBOR undefined (f7) is rejected (spec 2.1: bstr or null only)', () => {
        // Regression (an engine bug this suite found, now fixed): spec 2.1: public_key, user_data and nonce are
        // "bstr (or null)"; 2.3: "Reject a wrong type on any known key". The engine treats `undefined`
        // (simple value 23) like null.
        const r = judgeSigned(setEntry(payload(), 'nonce', Uint8Array.of(0xf7)));
        assert.equal(status(r, 'cose.signature'), 'pass');
        assert.equal(status(r, 'payload.syntax'), 'fail', `accepted: ${r.summary}`);
      });

      it('a module_id that is not valid UTF-8 makes the payload unreadable (RFC 8949: text must be UTF-8)', () => {
        // Regression (an engine bug this suite found, now fixed): `63 ff fe fd` used to decode to
        // "\ufffd\ufffd\ufffd" and the document was reported valid, so different signed bytes showed
        // the same module_id. Now the payload is refused as malformed CBOR, and with it the fields
        // that hold the certificates, so the signature cannot be checked either.
        const r = judgeSigned(setEntry(payload(), 'module_id', Uint8Array.of(0x63, 0xff, 0xfe, 0xfd)));
        assert.equal(r.valid, false);
        assert.equal(status(r, 'payload.syntax'), 'fail');
        assert.match(r.checks.find((c) => c.code === 'payload.syntax')?.reason ?? '', /not valid UTF-8/);
        assert.equal(status(r, 'cose.signature'), 'skip');
      });

      it('null optional fields are accepted as absent (spec 2.1: hardware writes null)', () => {
        const r = judgeSigned(setEntry(setEntry(payload(), 'user_data', C_NULL), 'public_key', C_NULL));
        assert.equal(r.valid, true, r.summary);
        assert.equal(r.document?.userData.state, 'null');
      });
    });
  });
});
