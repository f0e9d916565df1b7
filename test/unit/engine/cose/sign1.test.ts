// The engine's one COSE_Sign1 module (src/engine/cose/sign1.ts) and its crypto port over node:crypto
// (src/engine/node/nodeCrypto.ts). Expected bytes come from cbor-x, an independent CBOR encoder, and
// expected signatures from node:crypto used directly; none comes from the engine.
import * as assert from 'node:assert/strict';
import { generateKeyPairSync, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { Encoder, Tag } from 'cbor-x';
import {
  COSE_ALGORITHMS,
  CoseFormatError,
  algorithmForCurve,
  coseAlgorithmName,
  decodeSign1,
  encodeCoseSign1,
  protectedHeader,
  sigStructure,
  signCoseSign1,
  verifyCoseSign1,
  type CoseAlgorithm,
  type CoseFault,
} from '../../../../src/engine/cose/sign1';
import { AttestationFormatError, decodeEnvelope } from '../../../../src/engine/attestation/document';
import { SignatureFormatError, decodeCoseSign1 } from '../../../../src/engine/eif/signature';
import { nodeAttestationCrypto } from '../../../../src/engine/node/attestationCrypto';
import { nodeCrypto } from '../../../../src/engine/node/nodeCrypto';

// Plain CBOR: byte strings untagged, maps as maps, no records.
const cbor = new Encoder({ tagUint8Array: false, useTag259ForMaps: false, useRecords: false } as ConstructorParameters<
  typeof Encoder
>[0]);
const enc = (v: unknown): Uint8Array => new Uint8Array(cbor.encode(v));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const filled = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

const CURVES: Record<CoseAlgorithm, string> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };
const ALGS = Object.keys(CURVES) as CoseAlgorithm[];

interface Pair {
  readonly privateKey: KeyObject;
  readonly pem: string;
  readonly spki: Uint8Array;
}
const pairs = new Map<string, Pair>();
/** An EC key pair on `curve`, made by node:crypto (`n` tells several apart). */
function pair(curve: string, n = 0): Pair {
  const id = `${curve}/${n}`;
  let p = pairs.get(id);
  if (!p) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
    p = {
      privateKey,
      pem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      spki: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
    };
    pairs.set(id, p);
  }
  return p;
}

/** The Sig_structure as cbor-x writes it (RFC 9052 section 4.4, empty external AAD). */
const cborXSigStructure = (prot: Uint8Array, payload: Uint8Array) =>
  enc(['Signature1', prot, new Uint8Array(0), payload]);

/** The fault of a decode that must fail. */
function faultOf(input: Uint8Array, scan = false): CoseFault {
  try {
    decodeSign1(input, { scan });
  } catch (e) {
    assert.ok(e instanceof CoseFormatError, `a CoseFormatError, not ${String(e)}`);
    return e.fault;
  }
  assert.fail(`${hex(input)} decoded`);
}

describe('(unit) engine/cose/sign1: COSE_Sign1 decoding, the Sig_structure and ECDSA through the crypto port', () => {
  describe('the algorithm table', () => {
    it('names ES256, ES384 and ES512 by COSE number, by name and by curve', () => {
      assert.deepEqual(
        ALGS.map((a) => COSE_ALGORITHMS[a].id),
        [-7, -35, -36],
      );
      for (const a of ALGS) {
        assert.equal(coseAlgorithmName(COSE_ALGORITHMS[a].id), a);
        assert.equal(coseAlgorithmName(a), a);
        assert.equal(algorithmForCurve(COSE_ALGORITHMS[a].curve), a);
      }
      assert.equal(coseAlgorithmName(-37), undefined);
      assert.equal(coseAlgorithmName('PS256'), undefined);
      assert.equal(coseAlgorithmName(undefined), undefined);
      assert.equal(algorithmForCurve('secp256k1'), undefined);
    });

    it('writes the protected header {1: alg} as cbor-x does', () => {
      for (const a of ALGS) assert.equal(hex(protectedHeader(a)), hex(enc(new Map([[1, COSE_ALGORITHMS[a].id]]))), a);
      assert.equal(hex(protectedHeader('ES384')), 'a1013822');
    });
  });

  describe('the Sig_structure', () => {
    it('is, byte for byte, the array cbor-x encodes, for every length class of header and payload', () => {
      // Lengths on both sides of each CBOR head size: 0, 23|24, 255|256, 65535|65536.
      const lengths = [0, 1, 23, 24, 255, 256, 65535, 65536];
      const headers = [new Uint8Array(0), protectedHeader('ES384'), filled(24, 7)];
      for (const prot of headers) {
        for (const n of lengths) {
          const payload = filled(n);
          assert.equal(
            hex(sigStructure(prot, payload)),
            hex(cborXSigStructure(prot, payload)),
            `header ${prot.length} bytes, payload ${n} bytes`,
          );
        }
      }
    });

    it('an untagged COSE_Sign1 with an empty unprotected header is written as cbor-x writes it', () => {
      const prot = protectedHeader('ES256');
      const payload = filled(300);
      const sig = filled(64, 3);
      assert.equal(hex(encodeCoseSign1(prot, payload, sig)), hex(enc([prot, new Map(), payload, sig])));
    });
  });

  describe('decoding', () => {
    const prot = protectedHeader('ES384');
    const payload = filled(40);
    const sig = filled(96, 5);

    it('reads an untagged and a tagged (18) COSE_Sign1 alike, and says which it was', () => {
      for (const [tagged, input] of [
        [false, enc([prot, new Map(), payload, sig])],
        [true, enc(new Tag([prot, new Map(), payload, sig], 18))],
      ] as const) {
        for (const scan of [false, true]) {
          const d = decodeSign1(input, { scan });
          assert.equal(d.tagged, tagged);
          assert.equal(hex(d.protectedBytes), hex(prot));
          assert.equal(d.alg, -35);
          assert.deepEqual([...d.protectedHeader], [[1, -35]]);
          assert.equal(d.unprotected.size, 0);
          assert.equal(hex(d.payload), hex(payload));
          assert.equal(hex(d.signature), hex(sig));
          // Plain views, not Buffer subclasses or copies of the input.
          assert.equal(Object.getPrototypeOf(d.payload), Uint8Array.prototype);
          assert.equal(d.payload.buffer, input.buffer);
        }
      }
    });

    it('an empty protected header is the empty map; alg is read only when it is a number or text', () => {
      const empty = decodeSign1(enc([new Uint8Array(0), new Map(), payload, sig]));
      assert.equal(empty.protectedHeader.size, 0);
      assert.equal(empty.alg, undefined);
      assert.equal(decodeSign1(enc([enc(new Map([[1, 'ES384']])), new Map(), payload, sig])).alg, 'ES384');
      assert.equal(decodeSign1(enc([enc(new Map([[1, [1]]])), new Map(), payload, sig])).alg, undefined);
      const kid = decodeSign1(
        enc([
          enc(
            new Map<number, unknown>([
              [1, -7],
              [4, new Uint8Array(2)],
            ]),
          ),
          new Map([[4, 1]]),
          payload,
          sig,
        ]),
      );
      assert.deepEqual([...kid.protectedHeader.keys()], [1, 4]);
      assert.equal(kid.unprotected.get(4), 1);
    });

    it('says which part is wrong', () => {
      const m = new Map();
      const cases: [string, Uint8Array, CoseFault][] = [
        [
          'not CBOR',
          bytes('84ff'),
          { kind: 'cbor', part: 'structure', scan: false, detail: faultDetail(bytes('84ff')) },
        ],
        ['tag 17 (COSE_Mac0)', enc(new Tag([prot, m, payload, sig], 17)), { kind: 'tag', tag: 17 }],
        ['tag 98 (COSE_Sign)', enc(new Tag([prot, m, payload, sig], 98)), { kind: 'tag', tag: 98 }],
        ['tag 18 twice', enc(new Tag(new Tag([prot, m, payload, sig], 18), 18)), { kind: 'not-array-of-4' }],
        ['a map', enc(new Map([[1, 2]])), { kind: 'not-array-of-4' }],
        ['an array of 3', enc([prot, m, payload]), { kind: 'not-array-of-4' }],
        ['an array of 5', enc([prot, m, payload, sig, sig]), { kind: 'not-array-of-4' }],
        [
          'a protected header that is a map',
          enc([new Map([[1, -35]]), m, payload, sig]),
          { kind: 'not-bytes', part: 'protected header' },
        ],
        [
          'an unprotected header that is a byte string',
          enc([prot, new Uint8Array(0), payload, sig]),
          { kind: 'not-map', part: 'unprotected header' },
        ],
        ['a payload that is text', enc([prot, m, 'payload', sig]), { kind: 'not-bytes', part: 'payload' }],
        ['a payload that is null (detached)', enc([prot, m, null, sig]), { kind: 'not-bytes', part: 'payload' }],
        ['a signature that is an array', enc([prot, m, payload, [1, 2]]), { kind: 'not-bytes', part: 'signature' }],
        [
          'protected header bytes that are not CBOR',
          enc([bytes('a101'), m, payload, sig]),
          { kind: 'cbor', part: 'protected header', scan: false, detail: faultDetail(bytes('a101')) },
        ],
        [
          'a protected header that is an array',
          enc([enc([1, -35]), m, payload, sig]),
          { kind: 'not-map', part: 'protected header' },
        ],
      ];
      for (const [label, input, fault] of cases) assert.deepEqual(faultOf(input), fault, label);
    });

    it('checks the four items in order, then decodes the protected header', () => {
      // Both the protected header's bytes and the unprotected header are wrong: the item comes first.
      assert.deepEqual(faultOf(enc([bytes('a101'), new Uint8Array(0), payload, sig])), {
        kind: 'not-map',
        part: 'unprotected header',
      });
      assert.deepEqual(faultOf(enc([enc([1]), new Map(), 'x', sig])), { kind: 'not-bytes', part: 'payload' });
    });

    it('with scan, refuses what the well-formedness scan refuses, saying so', () => {
      // A map with the same key twice: cbor-x would keep the last, the scan refuses it.
      const dupHeader = bytes('a201220126');
      const plain = decodeSign1(enc([dupHeader, new Map(), payload, sig]));
      assert.equal(plain.alg, -7);
      const f = faultOf(enc([dupHeader, new Map(), payload, sig]), true);
      assert.equal(f.kind, 'cbor');
      assert.ok(f.kind === 'cbor' && f.part === 'protected header' && f.scan === true, JSON.stringify(f));
      // Trailing bytes after the structure.
      const trailing = concat(enc([prot, new Map(), payload, sig]), Uint8Array.of(0));
      const t = faultOf(trailing, true);
      assert.ok(t.kind === 'cbor' && t.part === 'structure' && t.scan === true, JSON.stringify(t));
      assert.ok(faultOf(trailing).kind === 'cbor');
    });

    it('every fault has a message of its own', () => {
      const messages = new Set<string>();
      for (const input of [
        bytes('84ff'),
        enc(new Tag([1], 17)),
        enc([1]),
        enc([1, new Map(), payload, sig]),
        enc([prot, 1, payload, sig]),
        enc([prot, new Map(), 1, sig]),
        enc([prot, new Map(), payload, 1]),
        enc([enc([1]), new Map(), payload, sig]),
      ]) {
        try {
          decodeSign1(input);
        } catch (e) {
          assert.ok(e instanceof CoseFormatError);
          messages.add(e.message);
        }
      }
      assert.equal(messages.size, 8);
    });
  });

  describe('as its two callers word the faults (unchanged by the move)', () => {
    const prot = protectedHeader('ES384');
    const payload = filled(8);
    const sig = filled(96);
    const cases: [Uint8Array, string, string, AttestationFormatError['code']][] = [
      [
        enc(new Tag([prot, new Map(), payload, sig], 17)),
        'COSE structure has tag 17, not 18 (COSE_Sign1)',
        'the document has CBOR tag 17; only tag 18 (COSE_Sign1) is allowed',
        'cose',
      ],
      [
        enc([prot, new Map(), payload]),
        'COSE_Sign1 is not an array of 4 items',
        'the document is not a COSE_Sign1 (an array of 4 items)',
        'cose',
      ],
      [
        enc([1, new Map(), payload, sig]),
        'COSE_Sign1 protected header is not a byte string',
        'the COSE protected header is not a byte string',
        'cose',
      ],
      [
        enc([prot, [], payload, sig]),
        'COSE_Sign1 unprotected header is not a map',
        'the COSE unprotected header is not a map',
        'cose',
      ],
      [
        enc([prot, new Map(), 1, sig]),
        'COSE_Sign1 payload is not a byte string',
        'the COSE payload is not a byte string',
        'cose',
      ],
      [
        enc([prot, new Map(), payload, 'sig']),
        'COSE_Sign1 signature is not a byte string',
        'the COSE signature is not a byte string',
        'cose',
      ],
      [
        enc([enc([1]), new Map(), payload, sig]),
        'the COSE protected header is not a map',
        'the COSE protected header is not a map',
        'cose',
      ],
    ];

    it('the EIF reader: SignatureFormatError; the attestation reader: AttestationFormatError with its code', () => {
      for (const [input, eif, attestation, code] of cases) {
        assert.throws(
          () => decodeCoseSign1(input),
          (e: unknown) => e instanceof SignatureFormatError && e.message === eif,
          eif,
        );
        assert.throws(
          () => decodeEnvelope(input),
          (e: unknown) => e instanceof AttestationFormatError && e.message === attestation && e.code === code,
          attestation,
        );
      }
    });

    it('CBOR that cannot be read: "not valid CBOR" for EIFs, "not well-formed CBOR" (code cbor) for documents', () => {
      const bad = bytes('84ff');
      assert.throws(
        () => decodeCoseSign1(bad),
        (e: unknown) =>
          e instanceof SignatureFormatError && e.message.startsWith('the COSE_Sign1 structure is not valid CBOR: '),
      );
      assert.throws(
        () => decodeEnvelope(bad),
        (e: unknown) =>
          e instanceof AttestationFormatError &&
          e.code === 'cbor' &&
          e.message.startsWith('the document is not well-formed CBOR: '),
      );
      const header = enc([bytes('a101'), new Map(), payload, sig]);
      assert.throws(
        () => decodeCoseSign1(header),
        (e: unknown) =>
          e instanceof SignatureFormatError && e.message.startsWith('the COSE protected header is not valid CBOR: '),
      );
      assert.throws(
        () => decodeEnvelope(header),
        (e: unknown) =>
          e instanceof AttestationFormatError &&
          e.code === 'cbor' &&
          e.message.startsWith('the COSE protected header is not well-formed CBOR: '),
      );
    });
  });

  describe('ECDSA through the crypto port (node:crypto)', () => {
    it('is one port: the attestation verifier uses the same object', () => {
      assert.equal(nodeAttestationCrypto, nodeCrypto);
    });

    for (const alg of ALGS) {
      it(
        `${alg}: a signature made by node:crypto over the cbor-x Sig_structure verifies; ` +
          `another key, another algorithm, a changed payload and DER encoding do not`,
        () => {
          const { privateKey, spki } = pair(CURVES[alg]);
          const prot = protectedHeader(alg);
          const payload = filled(100, alg.length);
          const signature = new Uint8Array(
            nodeSign(COSE_ALGORITHMS[alg].hash, cborXSigStructure(prot, payload), {
              key: privateKey,
              dsaEncoding: 'ieee-p1363',
            }),
          );
          assert.equal(signature.length, COSE_ALGORITHMS[alg].signatureLength);
          const cose = decodeSign1(enc([prot, new Map(), payload, signature]));
          assert.equal(verifyCoseSign1(nodeCrypto, cose, alg, spki), true);

          assert.equal(
            verifyCoseSign1(nodeCrypto, cose, alg, pair(CURVES[alg], 1).spki),
            false,
            'another key on the same curve',
          );
          for (const other of ALGS.filter((a) => a !== alg)) {
            assert.equal(verifyCoseSign1(nodeCrypto, cose, other, spki), false, `verified as ${other}`);
            assert.equal(
              verifyCoseSign1(nodeCrypto, cose, alg, pair(CURVES[other]).spki),
              false,
              `with a ${CURVES[other]} key`,
            );
          }
          const changed = payload.slice();
          changed[0] = (changed[0] as number) ^ 1;
          assert.equal(
            verifyCoseSign1(nodeCrypto, { ...cose, payload: changed }, alg, spki),
            false,
            'a changed payload',
          );
          assert.equal(
            verifyCoseSign1(nodeCrypto, { ...cose, protectedBytes: new Uint8Array(0) }, alg, spki),
            false,
            'the protected header is signed',
          );
          const der = new Uint8Array(
            nodeSign(COSE_ALGORITHMS[alg].hash, cborXSigStructure(prot, payload), {
              key: privateKey,
              dsaEncoding: 'der',
            }),
          );
          assert.equal(
            verifyCoseSign1(nodeCrypto, { ...cose, signature: der }, alg, spki),
            false,
            'a DER signature is not a COSE signature',
          );
          assert.equal(
            nodeCrypto.verifyEcdsa(COSE_ALGORITHMS[alg].hash, spki, cborXSigStructure(prot, payload), der, 'der'),
            true,
            'the port reads DER when told to',
          );
        },
      );

      it(`${alg}: signCoseSign1 with a key read by the port makes a COSE_Sign1 that node:crypto verifies`, () => {
        const { pem, spki } = pair(CURVES[alg]);
        const key = nodeCrypto.readPrivateKey(pem);
        assert.equal(key.keyType, 'ec');
        assert.equal(algorithmForCurve(key.curve), alg);
        const payload = filled(33);
        const out = signCoseSign1(key, alg, payload);
        const parts = decodeSign1(out);
        assert.equal(parts.tagged, false);
        assert.equal(hex(parts.protectedBytes), hex(enc(new Map([[1, COSE_ALGORITHMS[alg].id]]))));
        assert.equal(hex(out), hex(enc([parts.protectedBytes, new Map(), payload, parts.signature])));
        const publicKey = { key: Buffer.from(spki), format: 'der', type: 'spki', dsaEncoding: 'ieee-p1363' } as const;
        assert.ok(
          nodeVerify(
            COSE_ALGORITHMS[alg].hash,
            cborXSigStructure(parts.protectedBytes, payload),
            publicKey,
            parts.signature,
          ),
        );
      });
    }

    it('keys the port cannot use: false, never a throw; publicKeyError says why', () => {
      const data = filled(10);
      const sig = filled(96);
      for (const spki of [new Uint8Array(0), filled(91), pair('P-384').spki.subarray(0, 50)]) {
        assert.equal(nodeCrypto.verifyEcdsa('sha384', spki, data, sig, 'p1363'), false);
        assert.equal(typeof nodeCrypto.publicKeyError(spki), 'string');
      }
      assert.equal(nodeCrypto.publicKeyError(pair('P-384').spki), undefined);
      const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' });
      assert.equal(nodeCrypto.verifyEcdsa('sha384', new Uint8Array(ed), data, sig, 'p1363'), false, 'not an EC key');
      assert.throws(() => nodeCrypto.readPrivateKey('not a key'));
      assert.equal(
        nodeCrypto.readPrivateKey(
          generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
        ).keyType,
        'ed25519',
      );
    });
  });
});

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** cbor-x's own reason for refusing `input` (the fault carries it as the detail). */
function faultDetail(input: Uint8Array): string {
  try {
    new Encoder({ useRecords: false }).decode(input);
  } catch (e) {
    return (e as Error).message;
  }
  return assert.fail('cbor-x decoded it');
}
