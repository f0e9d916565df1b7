// Differential test against an independent verifier, @0xsequence/tee-verifier 0.1.2 (cbor2 + pkijs +
// WebCrypto): on every real and negative document both must reach the same verdict on the signature
// and on the chain at the document's time with the G1 root. Where they disagree, the test asserts
// the specific known difference and settles who is right with node:crypto, `openssl verify` and the
// spec. A few chains made with openssl extend the comparison to the certificate rules.
//
// How the peer is driven (its README and dist/index.js): SignedAttestation.fromDocument(base64),
// verifySignature() (WebCrypto ECDSA P-384/SHA-384 over a Sig_structure it re-encodes with cbor2),
// verifyRootOfTrust(checkDate) (pkijs CertificateChainValidationEngine with cabundle[0] as the only
// trusted certificate), and rootCertFingerprint() compared with the pin (it reads window.crypto, so
// a `window` alias is set only around that call: pkijs itself must not see `window` in Node).
import * as assert from 'node:assert/strict';
import { SignedAttestation } from '@0xsequence/tee-verifier';
import { verifyAttestation, type VerifyReport } from '../../../../src/engine';
import { nodeAttestationCrypto } from '../../../../src/engine/node';
import {
  EXPECTED,
  EXT,
  FIXTURES,
  NEGATIVE_FILES,
  Prng,
  REAL_FILES,
  TAGGED_FILE,
  certificateOf,
  expectedFor,
  loadFixture,
  makeCerts,
  makeDocument,
  nodeVerifySign1,
  opensslDate,
  opensslVerify,
  removeDir,
  sha256Hex,
  sign1Layout,
  splitPayload,
  tempDir,
  type MadeCert,
} from './helpers';

interface Verdict {
  /** The document was read (COSE_Sign1 and payload). */
  readonly decoded: boolean;
  readonly signature: boolean;
  readonly chain: boolean;
}

const CHAIN_CHECKS = [
  'chain.parse',
  'chain.root',
  'chain.signatures',
  'chain.names',
  'chain.validity',
  'chain.constraints',
];

function ours(doc: Uint8Array, at: Date, rootPem?: string): Verdict & { report: VerifyReport } {
  const report = verifyAttestation(
    doc,
    { at, ...(rootPem ? { roots: [{ pem: rootPem }] } : {}) },
    nodeAttestationCrypto,
  );
  const st = (code: string) => report.checks.find((c) => c.code === code)?.status;
  return {
    report,
    decoded: report.document !== undefined,
    signature: st('cose.signature') === 'pass',
    chain: CHAIN_CHECKS.every((c) => st(c) === 'pass'),
  };
}

async function peer(doc: Uint8Array, at: Date, pinSha256: string): Promise<Verdict & { error?: string }> {
  let att: SignedAttestation;
  try {
    att = SignedAttestation.fromDocument(Buffer.from(doc).toString('base64'));
  } catch (e) {
    return { decoded: false, signature: false, chain: false, error: e instanceof Error ? e.message : String(e) };
  }
  let signature: boolean;
  try {
    signature = await att.verifySignature();
  } catch {
    signature = false;
  }
  let rootOfTrust: boolean;
  try {
    rootOfTrust = await att.verifyRootOfTrust(at);
  } catch {
    rootOfTrust = false; // pkijs throws a result object or a ChainValidationError when no valid path exists
  }
  const g = globalThis as { window?: unknown };
  let fingerprint: string;
  g.window = globalThis;
  try {
    fingerprint = await att.rootCertFingerprint();
  } finally {
    delete g.window;
  }
  return { decoded: true, signature, chain: rootOfTrust && fingerprint === pinSha256 };
}

const docTime = (file: string) => new Date(expectedFor(file).timestamp_ms as number);
const PIN = EXPECTED.root_der_sha256;

describe('(unit) attestation: differential against @0xsequence/tee-verifier', function () {
  this.timeout(120_000);

  it('the peer runs in this process and verifies a real document (so agreement below means something)', async () => {
    const file = 'evervault-2022-10-13-prod.cbor';
    const p = await peer(loadFixture(file), docTime(file), PIN);
    assert.deepEqual(p, { decoded: true, signature: true, chain: true });
    // …and it does check time: the same chain today is not valid for it.
    const now = await peer(loadFixture(file), new Date(), PIN);
    assert.equal(now.chain, false);
  });

  it('all 10 real documents: both verifiers say signature valid and chain valid at the document time', async () => {
    let consumed = 0;
    for (const file of REAL_FILES) {
      const doc = loadFixture(file);
      const a = ours(doc, docTime(file));
      const b = await peer(doc, docTime(file), PIN);
      assert.deepEqual(
        { decoded: a.decoded, signature: a.signature, chain: a.chain },
        { decoded: true, signature: true, chain: true },
        `${file}: ${a.report.summary}`,
      );
      assert.deepEqual(b, { decoded: true, signature: true, chain: true }, file);
      consumed++;
    }
    assert.equal(consumed, 10);
  });

  it('all 6 negative documents: same verdict on decoding, signature and chain', async () => {
    let consumed = 0;
    for (const file of NEGATIVE_FILES) {
      const doc = loadFixture(file);
      const e = expectedFor(file);
      // undecodable ones have no time of their own
      const at = e.timestamp_ms ? docTime(file) : new Date('2026-01-03T20:41:07.402Z');
      const a = ours(doc, at);
      const b = await peer(doc, at, PIN);
      const mine = { decoded: a.decoded, signature: a.signature, chain: a.chain };
      const theirs = { decoded: b.decoded, signature: b.signature, chain: b.chain };
      assert.deepEqual(
        mine,
        theirs,
        `${file}: ours ${JSON.stringify(mine)} (${a.report.summary}), peer ${JSON.stringify(b)}`,
      );
      // And both match expected.json.
      assert.equal(mine.decoded, e.decodes, file);
      if (e.decodes) {
        assert.equal(mine.signature, e.signature_valid, file);
        assert.equal(mine.chain, e.chain_valid_at_doc_timestamp, file);
      }
      consumed++;
    }
    assert.equal(consumed, 6);
  });

  it('the time negatives of SOURCES.md and "now": both reject the chain and keep the signature', async () => {
    const file = 'evervault-2022-10-13-prod.cbor';
    const e = expectedFor(file);
    const times = [
      new Date(opensslDate(e.leaf_not_after as string).getTime() + 1000),
      new Date(opensslDate(e.leaf_not_before as string).getTime() - 1000),
      new Date(),
    ];
    for (const at of times) {
      const a = ours(loadFixture(file), at);
      const b = await peer(loadFixture(file), at, PIN);
      assert.deepEqual({ signature: a.signature, chain: a.chain }, { signature: true, chain: false }, at.toISOString());
      assert.deepEqual({ signature: b.signature, chain: b.chain }, { signature: true, chain: false }, at.toISOString());
    }
  });

  it(
    'known difference: the tag-18 document: the peer refuses it ("Invalid COSE Sign1"), ' +
      'the engine verifies it, and the engine is right',
    async () => {
      const doc = loadFixture(TAGGED_FILE);
      const at = docTime(TAGGED_FILE);
      const b = await peer(doc, at, PIN);
      // The peer decodes with cbor2, gets a Tag object instead of an array and throws in fromDocument.
      assert.equal(b.decoded, false);
      assert.match(b.error ?? '', /Invalid COSE Sign1/);
      const a = ours(doc, at);
      assert.deepEqual(
        { decoded: a.decoded, signature: a.signature, chain: a.chain },
        { decoded: true, signature: true, chain: true },
      );
      // Who is right: spec 1.1 says a verifier must accept the tagged form (COSE_Sign1_Tagged, RFC 9052
      // section 2), the tag is outside Sig_structure, and node:crypto verifies the signature of the
      // tagged document with its leaf key. The untagged original is accepted by both.
      assert.equal(doc[0], 0xd2);
      assert.equal(nodeVerifySign1(doc, certificateOf(splitPayload(sign1Layout(doc).payload))), true);
      const untagged = await peer(doc.subarray(1), at, PIN);
      assert.deepEqual(untagged, { decoded: true, signature: true, chain: true });
    },
  );

  it('60 seeded single-byte changes of a real document: neither verifier accepts any of them', async () => {
    const file = 'veracruz-2022-11-09-euw1.cbor';
    const doc = loadFixture(file);
    const at = docTime(file);
    const rng = new Prng(0xd1ff);
    let consumed = 0;
    for (let i = 0; i < 60; i++) {
      const m = new Uint8Array(doc);
      const at0 = rng.int(0, m.length - 1);
      m[at0] = (m[at0] as number) ^ rng.int(1, 255);
      const a = ours(m, at);
      const b = await peer(m, at, PIN);
      const label = `case ${i}: byte ${at0}`;
      assert.equal(a.report.valid, false, label);
      // The peer has no single verdict; "accepts" means it decodes, the signature verifies and the chain holds.
      assert.equal(b.decoded && b.signature && b.chain, false, `${label}: the peer accepts`);
      // When both read the document, they agree on the signature.
      if (a.decoded && b.decoded && a.report.checks.find((c) => c.code === 'chain.parse')?.status === 'pass')
        assert.equal(a.signature, b.signature, label);
      consumed++;
    }
    assert.equal(consumed, 60);
  });

  describe('chains made with openssl (own root as the pin for both)', () => {
    let dir: string | undefined;
    const certs = new Map<string, MadeCert>();
    const c = (name: string): MadeCert => {
      const x = certs.get(name);
      if (!x) throw new Error(`no certificate ${name}`);
      return x;
    };
    before(function () {
      this.timeout(120_000);
      dir = tempDir('differential');
      const made = makeCerts(dir, [
        { name: 'root', ext: EXT.root, days: 3650 }, // 0
        { name: 'regional', issuer: 0, ext: EXT.intermediate(2) }, // 1
        { name: 'zonal', issuer: 1, ext: EXT.intermediate(1) }, // 2
        {
          name: 'instance',
          issuer: 2,
          ext: [
            'basicConstraints=critical,CA:TRUE,pathlen:0',
            'keyUsage=critical,keyCertSign',
            'subjectKeyIdentifier=hash',
            'authorityKeyIdentifier=keyid',
          ],
        }, // 3
        { name: 'leaf', issuer: 3, ext: EXT.leaf }, // 4
        { name: 'int-pathlen0', issuer: 0, ext: EXT.intermediate(0) }, // 5
        { name: 'int-below', issuer: 5, ext: EXT.intermediate(0) }, // 6
        { name: 'leaf-pathlen', issuer: 6, ext: EXT.leaf }, // 7
        {
          name: 'int-cafalse',
          issuer: 0,
          ext: ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyCertSign,cRLSign'],
        }, // 8
        { name: 'leaf-cafalse', issuer: 8, ext: EXT.leaf }, // 9
        { name: 'int-ok', issuer: 0, ext: EXT.intermediate(0) }, // 10
        {
          name: 'leaf-no-digsig',
          issuer: 10,
          ext: ['basicConstraints=critical,CA:FALSE', 'keyUsage=keyAgreement'],
        }, // 11
        {
          name: 'leaf-unknown-critical',
          issuer: 10,
          ext: [...EXT.leaf, '1.3.6.1.4.1.99999.1=critical,DER:05:00'],
        }, // 12
      ]);
      for (const m of made) certs.set(m.name, m);
    });
    after(() => removeDir(dir));

    const both = async (leaf: string, bundle: string[]) => {
      const doc = makeDocument(c(leaf), bundle.map(c));
      const at = new Date();
      const root = c(bundle[0] as string);
      return { a: ours(doc, at, root.certPem), b: await peer(doc, at, sha256Hex(root.der)), at };
    };

    it('an AWS-shaped chain (4 CAs and a leaf): both valid', async () => {
      const { a, b } = await both('leaf', ['root', 'regional', 'zonal', 'instance']);
      assert.deepEqual(
        { decoded: a.decoded, signature: a.signature, chain: a.chain },
        { decoded: true, signature: true, chain: true },
        a.report.summary,
      );
      assert.deepEqual(b, { decoded: true, signature: true, chain: true });
    });

    it('a CA:FALSE intermediate: both reject the chain (and openssl agrees)', async () => {
      const { a, b, at } = await both('leaf-cafalse', ['root', 'int-cafalse']);
      assert.equal(opensslVerify(dir as string, c('root'), [c('int-cafalse')], c('leaf-cafalse'), at).ok, false);
      assert.equal(a.chain, false);
      assert.equal(b.chain, false);
      assert.equal(a.signature && b.signature, true);
    });

    it(
      'known difference: a pathLen 0 intermediate above another CA: ' +
        'the peer accepts it, the engine rejects it, and the engine is right',
      async () => {
        const { a, b, at } = await both('leaf-pathlen', ['root', 'int-pathlen0', 'int-below']);
        // pkijs' chain engine never reads pathLenConstraint (0.1.2 with pkijs 3.x).
        assert.equal(b.chain, true);
        assert.equal(a.chain, false);
        assert.equal(a.report.checks.find((x) => x.code === 'chain.constraints')?.status, 'fail');
        // Who is right: RFC 5280 6.1.4 (m) and spec 3.3 rule 4; openssl says so too.
        const v = opensslVerify(dir as string, c('root'), [c('int-pathlen0'), c('int-below')], c('leaf-pathlen'), at);
        assert.equal(v.ok, false);
        assert.match(v.output, /path length constraint exceeded/);
      },
    );

    it(
      'known difference: cabundle out of order (zonal before regional): ' +
        "the peer builds the path anyway, the engine follows the spec's fixed order",
      async () => {
        const { a, b, at } = await both('leaf', ['root', 'zonal', 'regional', 'instance']);
        assert.equal(b.chain, true);
        assert.equal(a.chain, false);
        assert.equal(a.report.checks.find((x) => x.code === 'chain.names')?.status, 'fail');
        // openssl (which also builds paths from an unordered -untrusted set) finds the chain valid: the
        // certificates are sound. The engine is right by the spec (3.2: cabundle is [ROOT, INTERM_1, …,
        // INTERM_N], and the path is the leaf then cabundle from the end); the peer is lenient, which is
        // not unsafe (every link it uses is verified) but accepts documents that do not follow the format.
        const v = opensslVerify(dir as string, c('root'), [c('zonal'), c('regional'), c('instance')], c('leaf'), at);
        assert.equal(v.ok, true, v.output);
      },
    );

    it(
      'known difference: a leaf without digitalSignature: the peer (and openssl ' +
        'without a purpose) accept it, the engine rejects it per spec 3.3 rule 5',
      async () => {
        const { a, b, at } = await both('leaf-no-digsig', ['root', 'int-ok']);
        assert.equal(b.chain, true);
        assert.equal(a.chain, false);
        assert.equal(a.report.checks.find((x) => x.code === 'chain.constraints')?.status, 'fail');
        assert.equal(opensslVerify(dir as string, c('root'), [c('int-ok')], c('leaf-no-digsig'), at).ok, true);
        // The spec (3.3, keyUsage: "The leaf must have digitalSignature") decides for the engine: the leaf's
        // key signs the document, and RFC 5280 4.2.1.3 reserves that use to digitalSignature.
      },
    );

    it(
      'known difference: a leaf with an unrecognised critical extension: ' +
        'openssl and the engine reject it, the peer accepts it',
      async () => {
        const { a, b, at } = await both('leaf-unknown-critical', ['root', 'int-ok']);
        const v = opensslVerify(dir as string, c('root'), [c('int-ok')], c('leaf-unknown-critical'), at);
        assert.equal(v.ok, false);
        assert.match(v.output, /unhandled critical extension/);
        // pkijs checks critical extensions only on CA certificates (its checkForCA skips the end entity),
        // so the peer accepts the chain; RFC 5280 4.2 says a certificate with a critical extension the
        // verifier does not process must be rejected, as openssl and the engine do.
        assert.equal(b.chain, true);
        assert.equal(a.chain, false);
      },
    );
  });

  it('the fixtures directory holds nothing the comparison skipped', () => {
    assert.ok(FIXTURES.endsWith('attestation'));
    assert.equal(REAL_FILES.length + NEGATIVE_FILES.length + 1, EXPECTED.documents.length);
  });
});
