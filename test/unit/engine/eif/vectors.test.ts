// Known-answer vectors from the spec (sections 2, 3.1 and 8.2).
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MemoryByteSource, crc32, extendFromZero, pcrOfSource, toHex, utf8 } from '../../../../src/engine';
import { nodeHashes } from '../../../../src/engine/node';
import { Prng, ascii, pcrHex, zcrc32 } from './helpers';

const PCR_EMPTY = '21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a';
const PCR_ABC = '93732e3733514a841c982cfa75ea76ab55fe011acb9cd980ef4523913c65be1b0998e04d77f8c174f81a82151619ca40';

describe('(unit) EIF known vectors', () => {
  it('CRC-32("123456789") = 0xcbf43926 with the portable crc32', () => {
    assert.equal(crc32(utf8('123456789')), 0xcbf43926);
    assert.equal(crc32(new Uint8Array(0)), 0);
    // Continuation: splitting the input anywhere gives the same value.
    for (let i = 0; i <= 9; i++)
      assert.equal(
        crc32(ascii('123456789').subarray(i), crc32(ascii('123456789').subarray(0, i))),
        0xcbf43926,
        `split at ${i}`,
      );
  });

  it('CRC-32("123456789") = 0xcbf43926 with the node HashPort, also fed in pieces', () => {
    const whole = nodeHashes.crc32();
    whole.update(ascii('123456789'));
    assert.equal(whole.value, 0xcbf43926);
    const parts = nodeHashes.crc32();
    for (const p of ['1', '', '234', '56789']) parts.update(ascii(p));
    assert.equal(parts.value, 0xcbf43926);
    assert.equal(nodeHashes.crc32().value, 0);
  });

  it('the portable crc32 equals zlib.crc32 on random data, whole and in pieces', () => {
    const rng = new Prng(0xc3c3);
    for (let n = 0; n < 50; n++) {
      const data = rng.bytes(rng.int(0, 5000));
      const cut = rng.int(0, data.length);
      const expected = zcrc32(data);
      assert.equal(crc32(data), expected, `case ${n}`);
      assert.equal(crc32(data.subarray(cut), crc32(data.subarray(0, cut))), expected, `case ${n} cut ${cut}`);
    }
  });

  it('PCR of empty content and of "abc" (spec 3.1) via pcrOfSource', async () => {
    assert.equal(pcrHex(), PCR_EMPTY, 'node:crypto agrees with the spec');
    assert.equal(pcrHex(ascii('abc')), PCR_ABC, 'node:crypto agrees with the spec');
    assert.equal(toHex(await pcrOfSource(new MemoryByteSource(new Uint8Array(0)), nodeHashes)), PCR_EMPTY);
    assert.equal(toHex(await pcrOfSource(new MemoryByteSource(ascii('abc')), nodeHashes)), PCR_ABC);
    assert.equal(toHex(await pcrOfSource(new MemoryByteSource(ascii('abc')), nodeHashes, { chunkSize: 1 })), PCR_ABC);
    assert.equal(toHex(await pcrOfSource(new MemoryByteSource(ascii('abc')), nodeHashes, { chunkSize: 2 })), PCR_ABC);
    assert.notEqual(toHex(await pcrOfSource(new MemoryByteSource(ascii('abd')), nodeHashes)), PCR_ABC);
  });

  it(
    'pcrOfSource equals sha384(zero48 || sha384(data)) ' + 'for random data and chunk sizes, and reports progress',
    async () => {
      const rng = new Prng(0x5eed);
      for (let n = 0; n < 20; n++) {
        const data = rng.bytes(rng.int(0, 20000));
        const chunkSize = rng.pick([1, 3, 7, 64, 4096, 1 << 22]);
        const seen: number[] = [];
        const got = await pcrOfSource(new MemoryByteSource(data), nodeHashes, {
          chunkSize,
          onProgress: (d, t) => (assert.equal(t, data.length), seen.push(d)),
        });
        assert.equal(toHex(got), pcrHex(data), `case ${n}, chunk ${chunkSize}`);
        assert.equal(seen.at(-1) ?? 0, data.length);
      }
    },
  );

  it('extendFromZero is the extend rule', () => {
    const d = new Uint8Array(48).fill(7);
    assert.equal(
      toHex(extendFromZero(nodeHashes, d)),
      createHash('sha384').update(Buffer.alloc(48)).update(d).digest('hex'),
    );
  });
});
