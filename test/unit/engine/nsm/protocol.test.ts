// The NSM CBOR protocol against the byte-exact examples of the attestation spec (section 5.2),
// round trips of every variant, tolerant decoding of what serde accepts, and hostile input: every
// failure must be an NsmProtocolError, sizes are bounded, and nothing is allocated from a
// declared length.
import * as assert from 'node:assert/strict';
import {
  NSM_ERROR_CODES,
  NsmProtocolError,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  requestFromJson,
  requestToJson,
  responseFromJson,
  responseToJson,
  type NsmRequest,
  type NsmResponse,
} from '../../../../src/engine/nsm/protocol';
import { Prng } from '../../prng';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const ascii = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

/** Spec 5.2's request examples, exactly as printed there. */
const REQUEST_VECTORS: readonly { request: NsmRequest; hex: string }[] = [
  { request: { type: 'DescribePCR', index: 0 }, hex: 'a16b4465736372696265504352a165696e64657800' },
  {
    request: { type: 'ExtendPCR', index: 16, data: Uint8Array.of(1, 2, 3) },
    hex: 'a169457874656e64504352a265696e64657810646461746143010203',
  },
  { request: { type: 'LockPCR', index: 16 }, hex: 'a1674c6f636b504352a165696e64657810' },
  { request: { type: 'LockPCRs', range: 32 }, hex: 'a1684c6f636b50435273a16572616e67651820' },
  { request: { type: 'DescribeNSM' }, hex: '6b44657363726962654e534d' },
  {
    request: { type: 'Attestation', userData: null, nonce: null, publicKey: null },
    hex: 'a16b4174746573746174696f6ea369757365725f64617461f6656e6f6e6365f66a7075626c69635f6b6579f6',
  },
  { request: { type: 'GetRandom' }, hex: '6947657452616e646f6d' },
];

const PCR = unhex('cb178fcd3f328244c05c6248723fd068b3a1dda878e1ab8be911098f199958add55d0c27f04826d27b44d949a650694e');

const SAMPLE_RESPONSES: readonly NsmResponse[] = [
  { type: 'DescribePCR', lock: true, data: PCR },
  { type: 'DescribePCR', lock: false, data: new Uint8Array(48) },
  { type: 'ExtendPCR', data: PCR },
  { type: 'LockPCR' },
  { type: 'LockPCRs' },
  {
    type: 'DescribeNSM',
    versionMajor: 1,
    versionMinor: 0,
    versionPatch: 0,
    moduleId: 'i-0123456789abcdef0-enc0123456789abcdef',
    maxPcrs: 32,
    lockedPcrs: Array.from({ length: 16 }, (_, i) => i),
    digest: 'SHA384',
  },
  { type: 'Attestation', document: new Uint8Array(5000).fill(7) },
  { type: 'GetRandom', random: new Uint8Array(256).fill(0xa5) },
  ...NSM_ERROR_CODES.map((code): NsmResponse => ({ type: 'Error', code })),
];

function expectProtocolError(f: () => unknown, code?: NsmProtocolError['code']): NsmProtocolError {
  try {
    f();
  } catch (e) {
    assert.ok(
      e instanceof NsmProtocolError,
      `expected an NsmProtocolError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
    );
    if (code) assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail('expected an NsmProtocolError, but nothing was thrown');
}

describe('(unit) nsm: protocol', () => {
  describe('spec 5.2 examples, byte for byte', () => {
    for (const v of REQUEST_VECTORS) {
      it(`${v.request.type} request encodes as ${v.hex.slice(0, 24)}… and decodes back`, () => {
        assert.equal(hex(encodeRequest(v.request)), v.hex);
        assert.deepEqual(decodeRequest(unhex(v.hex)), v.request);
      });
    }

    it('ExtendPCR response starts with the spec prefix a169457874656e64504352a164646174615830', () => {
      const bytes = encodeResponse({ type: 'ExtendPCR', data: PCR });
      assert.equal(hex(bytes), 'a169457874656e64504352a164646174615830' + hex(PCR));
    });

    it('LockPCR response is the text "LockPCR" (674c6f636b504352), LockPCRs the text "LockPCRs"', () => {
      assert.equal(hex(encodeResponse({ type: 'LockPCR' })), '674c6f636b504352');
      assert.equal(hex(encodeResponse({ type: 'LockPCRs' })), '68' + ascii('LockPCRs'));
    });

    it('Error(InvalidIndex) is a1654572726f726c496e76616c6964496e646578', () => {
      assert.equal(
        hex(encodeResponse({ type: 'Error', code: 'InvalidIndex' })),
        'a1654572726f726c496e76616c6964496e646578',
      );
      assert.deepEqual(decodeResponse(unhex('a1654572726f726c496e76616c6964496e646578')), {
        type: 'Error',
        code: 'InvalidIndex',
      });
    });

    it(
      'GetRandom response has the exact prefix the kernel hwrng expects: ' + 'a1 69 "GetRandom" a1 66 "random" 59 0100',
      () => {
        const bytes = encodeResponse({ type: 'GetRandom', random: new Uint8Array(256) });
        assert.equal(hex(bytes.subarray(0, 19)), 'a169' + ascii('GetRandom') + 'a166' + ascii('random'));
        assert.equal(hex(bytes.subarray(19, 22)), '590100');
        assert.equal(bytes.length, 22 + 256);
      },
    );

    it('DescribePCR response: {"DescribePCR":{"lock":true,"data":h\'…\'}} with lock first (declaration order)', () => {
      const bytes = encodeResponse({ type: 'DescribePCR', lock: true, data: PCR });
      assert.equal(
        hex(bytes),
        'a16b' + ascii('DescribePCR') + 'a264' + ascii('lock') + 'f5' + '64' + ascii('data') + '5830' + hex(PCR),
      );
    });

    it('DescribeNSM response: fields in declaration order, locked_pcrs an array of uints, digest text', () => {
      const r = SAMPLE_RESPONSES.find((x) => x.type === 'DescribeNSM') as NsmResponse;
      const expected =
        'a16b' +
        ascii('DescribeNSM') +
        'a7' +
        '6d' +
        ascii('version_major') +
        '01' +
        '6d' +
        ascii('version_minor') +
        '00' +
        '6d' +
        ascii('version_patch') +
        '00' +
        '69' +
        ascii('module_id') +
        '7827' +
        ascii('i-0123456789abcdef0-enc0123456789abcdef') +
        '68' +
        ascii('max_pcrs') +
        '1820' +
        '6b' +
        ascii('locked_pcrs') +
        '90' +
        '000102030405060708090a0b0c0d0e0f' +
        '66' +
        ascii('digest') +
        '66' +
        ascii('SHA384');
      assert.equal(hex(encodeResponse(r)), expected);
    });

    it('Attestation request with bytes: byte strings, shortest heads (58 for 24..255, 59 for 256..65535)', () => {
      const bytes = encodeRequest({
        type: 'Attestation',
        userData: new Uint8Array(24).fill(1),
        nonce: new Uint8Array(0),
        publicKey: new Uint8Array(256).fill(2),
      });
      const expected =
        'a16b' +
        ascii('Attestation') +
        'a3' +
        '69' +
        ascii('user_data') +
        '5818' +
        '01'.repeat(24) +
        '65' +
        ascii('nonce') +
        '40' +
        '6a' +
        ascii('public_key') +
        '590100' +
        '02'.repeat(256);
      assert.equal(hex(bytes), expected);
    });
  });

  describe('round trips', () => {
    it('every sample response decodes to what was encoded', () => {
      for (const r of SAMPLE_RESPONSES) assert.deepEqual(decodeResponse(encodeResponse(r)), r, r.type);
    });

    it('every request and response survives the JSON form', () => {
      for (const v of REQUEST_VECTORS) {
        const json = JSON.parse(JSON.stringify(requestToJson(v.request)));
        assert.deepEqual(requestFromJson(json), v.request);
      }
      for (const r of SAMPLE_RESPONSES) {
        const json = JSON.parse(JSON.stringify(responseToJson(r)));
        assert.deepEqual(responseFromJson(json), r);
      }
    });

    it('random requests round-trip through CBOR and JSON (seeded)', () => {
      const rng = new Prng(0x5eed01);
      for (let n = 0; n < 500; n++) {
        const opt = () => (rng.next() < 0.3 ? null : rng.bytes(rng.int(0, 300)));
        const req: NsmRequest = rng.pick<() => NsmRequest>([
          () => ({ type: 'DescribePCR', index: rng.int(0, 0xffff) }),
          () => ({ type: 'ExtendPCR', index: rng.int(0, 40), data: rng.bytes(rng.int(0, 600)) }),
          () => ({ type: 'LockPCR', index: rng.int(0, 0xffff) }),
          () => ({ type: 'LockPCRs', range: rng.int(0, 0xffff) }),
          () => ({ type: 'DescribeNSM' }),
          () => ({ type: 'GetRandom' }),
          () => ({ type: 'Attestation', userData: opt(), nonce: opt(), publicKey: opt() }),
        ])();
        assert.deepEqual(decodeRequest(encodeRequest(req)), req, `seed 0x5eed01, case ${n}`);
        assert.deepEqual(
          requestFromJson(JSON.parse(JSON.stringify(requestToJson(req)))),
          req,
          `seed 0x5eed01, case ${n}`,
        );
      }
    });
  });

  describe('what serde accepts', () => {
    it('non-shortest heads, indefinite-length maps and chunked strings decode', () => {
      // {"DescribePCR":{"index":0}} with the index as a 2-byte uint and the outer map indefinite.
      assert.deepEqual(decodeRequest(unhex('bf6b4465736372696265504352a165696e646578190000ff')), {
        type: 'DescribePCR',
        index: 0,
      });
      // ExtendPCR with data as an indefinite byte string of two chunks, and the variant name as a chunked text.
      const bytes = unhex(
        'a1' +
          '7f' +
          '63' +
          ascii('Ext') +
          '66' +
          ascii('endPCR') +
          'ff' +
          'a2' +
          '65' +
          ascii('index') +
          '1810' +
          '64' +
          ascii('data') +
          '5f' +
          '4101' +
          '420203' +
          'ff',
      );
      assert.deepEqual(decodeRequest(bytes), { type: 'ExtendPCR', index: 16, data: Uint8Array.of(1, 2, 3) });
    });

    it('fields in any order (QEMU writes DescribePCR data before lock), unknown fields ignored', () => {
      const bytes = unhex(
        'a16b' +
          ascii('DescribePCR') +
          'a3' +
          '64' +
          ascii('data') +
          '5830' +
          hex(PCR) +
          '65' +
          ascii('extra') +
          'f6' +
          '64' +
          ascii('lock') +
          'f4',
      );
      assert.deepEqual(decodeResponse(bytes), { type: 'DescribePCR', lock: false, data: PCR });
    });

    it('a missing optional Attestation field reads as null', () => {
      const bytes = unhex('a16b' + ascii('Attestation') + 'a1' + '65' + ascii('nonce') + '42abcd');
      assert.deepEqual(decodeRequest(bytes), {
        type: 'Attestation',
        userData: null,
        nonce: Uint8Array.of(0xab, 0xcd),
        publicKey: null,
      });
    });
  });

  describe('refusals', () => {
    const cases: readonly [string, string, NsmProtocolError['code']][] = [
      ['empty input', '', 'malformed'],
      ['trailing bytes', '6947657452616e646f6d00', 'malformed'],
      ['unknown variant', '6747657452616e64', 'unknown-variant'],
      ['a struct variant written as bare text', '6b4465736372696265504352', 'field'],
      ['a unit variant written as a map', 'a16947657452616e646f6da0', 'field'],
      ['index above u16', 'a16b4465736372696265504352a165696e6465781a00010000', 'field'],
      ['index negative', 'a16b4465736372696265504352a165696e64657820', 'field'],
      ['index as a float', 'a16b4465736372696265504352a165696e646578f93c00', 'field'],
      ['index missing', 'a16b4465736372696265504352a0', 'field'],
      ['data as text', 'a169457874656e64504352a265696e646578106464617461630102ff', 'malformed'],
      ['data as an array', 'a169457874656e64504352a265696e64657810646461746183010203', 'field'],
      ['two variants in one map', 'a26947657452616e646f6df66b44657363726962654e534df6', 'malformed'],
      ['duplicate field', 'a16b4465736372696265504352a265696e6465780065696e64657801', 'malformed'],
      [
        'duplicate field in another head size',
        'a16b4465736372696265504352a265696e646578007805696e64657801',
        'malformed',
      ],
      ['a tagged request', 'c06947657452616e646f6d', 'malformed'],
      [
        'a byte string longer than the input',
        'a169457874656e64504352a265696e646578106464617461' + '5bffffffffffffffff',
        'malformed',
      ],
      ['a map claiming 2^32 entries', 'ba' + 'ffffffff', 'malformed'],
      ['an array nested 100 deep', '81'.repeat(100) + '00', 'malformed'],
      ['a stray break', 'ff', 'malformed'],
      ['invalid UTF-8 in a variant name', '62c328', 'malformed'],
      ['reserved additional information', '1c', 'malformed'],
      ['an indefinite integer', '1f', 'malformed'],
      ['a text chunk inside a byte string', '5f6161ff', 'malformed'],
    ];
    for (const [name, h, code] of cases) {
      it(`${name}: NsmProtocolError(${code})`, () => expectProtocolError(() => decodeRequest(unhex(h)), code));
    }

    it('a request over 4096 bytes is too-large; 4096 exactly is read', () => {
      const body = (n: number) => encodeRequest({ type: 'ExtendPCR', index: 16, data: new Uint8Array(n) });
      const overhead = body(0x1000).length - 0x1000;
      assert.equal(body(0x1000 - overhead).length, 0x1000);
      assert.equal(decodeRequest(body(0x1000 - overhead)).type, 'ExtendPCR');
      expectProtocolError(() => decodeRequest(body(0x1000 - overhead + 1)), 'too-large');
    });

    it('a response over 12288 bytes is too-large', () => {
      expectProtocolError(
        () => decodeResponse(encodeResponse({ type: 'Attestation', document: new Uint8Array(0x3000) })),
        'too-large',
      );
    });

    it('responses: an unknown error name, a wrong digest, a non-boolean lock', () => {
      expectProtocolError(() => decodeResponse(unhex('a1654572726f72644e6f7065')), 'field');
      expectProtocolError(() => decodeResponse(unhex('a1654572726f7201')), 'field');
      const nsm = hex(encodeResponse(SAMPLE_RESPONSES.find((x) => x.type === 'DescribeNSM') as NsmResponse)).replace(
        ascii('SHA384'),
        ascii('MD5xxx'),
      );
      expectProtocolError(() => decodeResponse(unhex(nsm)), 'field');
      expectProtocolError(
        () =>
          decodeResponse(
            unhex('a16b' + ascii('DescribePCR') + 'a2' + '64' + ascii('lock') + '01' + '64' + ascii('data') + '40'),
          ),
        'field',
      );
    });

    it('the JSON form refuses what it cannot read, with NsmProtocolError(json)', () => {
      for (const bad of [
        42,
        null,
        [],
        'Nope',
        { DescribePCR: {} },
        { DescribePCR: { index: -1 } },
        { DescribePCR: { index: 1.5 } },
        { ExtendPCR: { index: 16, data: 'abc' } },
        { ExtendPCR: { index: 16, data: 'zz' } },
        { ExtendPCR: { index: 16 } },
        { GetRandom: { x: 1 } },
        { DescribePCR: { index: 0 }, GetRandom: null },
        { Attestation: { nonce: 5 } },
      ]) {
        expectProtocolError(() => requestFromJson(bad), 'json');
      }
    });

    it('the JSON form reads the CLI examples', () => {
      assert.deepEqual(requestFromJson({ DescribePCR: { index: 0 } }), { type: 'DescribePCR', index: 0 });
      assert.deepEqual(requestFromJson('GetRandom'), { type: 'GetRandom' });
      assert.deepEqual(requestFromJson({ GetRandom: null }), { type: 'GetRandom' });
      assert.deepEqual(requestFromJson({ ExtendPCR: { index: 16, data: '0x0A0b' } }), {
        type: 'ExtendPCR',
        index: 16,
        data: Uint8Array.of(10, 11),
      });
      assert.deepEqual(requestFromJson({ Attestation: { user_data: 'ff', nonce: null, public_key: null } }), {
        type: 'Attestation',
        userData: Uint8Array.of(255),
        nonce: null,
        publicKey: null,
      });
      assert.deepEqual(responseToJson({ type: 'Error', code: 'ReadOnlyIndex' }), { Error: 'ReadOnlyIndex' });
      assert.deepEqual(responseToJson({ type: 'ExtendPCR', data: Uint8Array.of(0xab) }), { ExtendPCR: { data: 'ab' } });
    });
  });

  describe('hostile bytes (seeded fuzz)', () => {
    const seeds = [1, 2, 3, 0xdecaf, 0xc0ffee];
    const valid = [...REQUEST_VECTORS.map((v) => unhex(v.hex)), ...SAMPLE_RESPONSES.map((r) => encodeResponse(r))];

    /**
     * Decodes with both decoders; anything but success or NsmProtocolError
     * fails. A success must re-encode and decode to the same value.
     */
    const probe = (bytes: Uint8Array, where: string) => {
      for (const [decode, encode] of [
        [decodeRequest, encodeRequest],
        [decodeResponse, encodeResponse],
      ] as const) {
        let value: unknown;
        try {
          value = decode(bytes);
        } catch (e) {
          if (!(e instanceof NsmProtocolError))
            assert.fail(`${where}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
          continue;
        }
        const again = (decode as (b: Uint8Array) => unknown)((encode as (v: unknown) => Uint8Array)(value));
        assert.deepEqual(again, value, `${where}: re-encoding changed the value`);
      }
    };

    for (const seed of seeds) {
      it(`random bytes and mutations of valid messages, seed ${seed}`, () => {
        const rng = new Prng(seed);
        for (let n = 0; n < 3000; n++) probe(rng.bytes(rng.int(0, 64)), `seed ${seed} random ${n}`);
        for (let n = 0; n < 3000; n++) {
          const base = rng.pick(valid);
          const m = base.slice();
          const kind = rng.int(0, 3);
          let mutated: Uint8Array = m;
          if (kind === 0)
            for (let k = rng.int(1, 4); k > 0; k--) {
              const at = rng.int(0, m.length - 1);
              m[at] = (m[at] as number) ^ (1 << rng.int(0, 7));
            }
          else if (kind === 1) mutated = m.subarray(0, rng.int(0, m.length - 1));
          else if (kind === 2) {
            const at = rng.int(0, m.length);
            mutated = new Uint8Array([...m.subarray(0, at), ...rng.bytes(rng.int(1, 8)), ...m.subarray(at)]);
          } else
            m[rng.int(0, m.length - 1)] = rng.pick([0x1b, 0x5b, 0x7b, 0x9b, 0xbb, 0xff, 0x9f, 0xbf, 0xf7, 0xf9, 0xc6]);
          probe(mutated, `seed ${seed} mutation ${n} (kind ${kind}) of ${hex(base).slice(0, 24)}`);
        }
      });
    }

    it('a large declared length is refused without allocating it', () => {
      const before = process.memoryUsage().arrayBuffers;
      for (let i = 0; i < 1000; i++)
        expectProtocolError(
          () => decodeRequest(unhex('a169457874656e64504352a265696e6465781064646174615a7fffffff')),
          'malformed',
        );
      assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
    });
  });
});
