// The emulated NSM against the rules of the attestation spec (4.2, 4.4, 4.5, 5.3): the initial PCR
// bank, PCR3/PCR4 formulas (checked against node:crypto and the spec's worked examples), extend
// and lock rules, limits and the error codes, debug mode, and what an Attestation request hands to
// the signing port. Everything goes through handle() with CBOR bytes, as an enclave would.
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { NsmDevice, type AttestationFields, type NsmDeviceOptions } from '../../../../src/engine/nsm/device';
import { decodeResponse, encodeRequest, type NsmRequest, type NsmResponse } from '../../../../src/engine/nsm/protocol';
import { nodeHashes } from '../../../../src/engine/node/nodeHashes';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const sha384 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha384');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const ZERO = new Uint8Array(48);
const fill = (b: number) => new Uint8Array(48).fill(b);

const PARENT = 'i-0123456789abcdef0';
const ENCLAVE = `${PARENT}-enc0123456789abcdef`;
const ROLE = 'arn:aws:iam::123456789012:role/Webserver';
const MEASUREMENTS = { pcr0: fill(0x10), pcr1: fill(0x11), pcr2: fill(0x12), pcr8: fill(0x18) };

function device(overrides: Partial<NsmDeviceOptions> = {}): { nsm: NsmDevice; attested: AttestationFields[] } {
  const attested: AttestationFields[] = [];
  const nsm = new NsmDevice({
    enclaveId: ENCLAVE,
    measurements: MEASUREMENTS,
    hashes: nodeHashes,
    random: (n) => new Uint8Array(randomBytes(n)),
    attest: async (fields) => {
      attested.push(fields);
      return Uint8Array.of(0x84, 0x40, 0xa0, 0x40, 0x40);
    },
    ...overrides,
  });
  return { nsm, attested };
}

async function call(nsm: NsmDevice, request: NsmRequest | Uint8Array): Promise<NsmResponse> {
  return decodeResponse(await nsm.handle(request instanceof Uint8Array ? request : encodeRequest(request)));
}

const error = (code: string): NsmResponse => ({ type: 'Error', code }) as NsmResponse;

describe('(unit) nsm: device', () => {
  it("PCR3 and PCR4 follow spec 4.2: the spec's worked examples and node:crypto", async () => {
    const { nsm } = device({ iamRoleArn: ROLE, parentInstanceId: 'i-1234567890abcdef0' });
    assert.equal(
      hex(nsm.pcr(3)),
      '78fce75db17cd4e0a3fb8dad3ad128ca5e77edbb2b2c7f75329dccd99aa5f6ef4fc1f1a452e315b9e98f9e312e6921e6',
    );
    assert.equal(
      hex(nsm.pcr(4)),
      '08f996b5d43e047a9eb51e7f548bfee7e164fd7dc8f65541f2ac09d6545ac812719327281c401a67a10fcba87ae79ce0',
    );
    const { nsm: derived } = device({ iamRoleArn: ROLE });
    assert.deepEqual(derived.pcr(3), sha384(ZERO, Buffer.from(ROLE, 'utf8')));
    assert.deepEqual(
      derived.pcr(4),
      sha384(ZERO, Buffer.from(PARENT, 'utf8')),
      'the parent instance ID comes from the enclave ID',
    );
    assert.deepEqual(await call(derived, { type: 'DescribePCR', index: 4 }), {
      type: 'DescribePCR',
      lock: true,
      data: sha384(ZERO, Buffer.from(PARENT, 'utf8')),
    });
  });

  it(
    'the initial bank: PCR0/1/2/8 from the image, ' + 'PCR3 zero without a role, the rest zero; 0-15 locked, 16-31 not',
    async () => {
      const { nsm } = device();
      const expected = new Map([
        [0, MEASUREMENTS.pcr0],
        [1, MEASUREMENTS.pcr1],
        [2, MEASUREMENTS.pcr2],
        [4, sha384(ZERO, Buffer.from(PARENT))],
        [8, MEASUREMENTS.pcr8],
      ]);
      for (let i = 0; i < 32; i++) {
        assert.deepEqual(
          await call(nsm, { type: 'DescribePCR', index: i }),
          { type: 'DescribePCR', lock: i < 16, data: expected.get(i) ?? ZERO },
          `PCR${i}`,
        );
      }
      const { nsm: unsigned } = device({ measurements: { pcr0: fill(1), pcr1: fill(2), pcr2: fill(3) } });
      assert.deepEqual(unsigned.pcr(8), ZERO, 'an unsigned image has a zero PCR8');
    },
  );

  it('DescribeNSM: module_id is the enclave ID, 32 PCRs, 0-15 locked, SHA384, version 1.0.0', async () => {
    const { nsm } = device();
    assert.deepEqual(await call(nsm, { type: 'DescribeNSM' }), {
      type: 'DescribeNSM',
      versionMajor: 1,
      versionMinor: 0,
      versionPatch: 0,
      moduleId: ENCLAVE,
      maxPcrs: 32,
      lockedPcrs: Array.from({ length: 16 }, (_, i) => i),
      digest: 'SHA384',
    });
  });

  it("ExtendPCR: new = SHA384(old ‖ data); the spec's worked example for 010203", async () => {
    const { nsm } = device();
    const first = await call(nsm, unhex('a169457874656e64504352a265696e64657810646461746143010203'));
    assert.deepEqual(first, {
      type: 'ExtendPCR',
      data: unhex('cb178fcd3f328244c05c6248723fd068b3a1dda878e1ab8be911098f199958add55d0c27f04826d27b44d949a650694e'),
    });
    const second = await call(nsm, { type: 'ExtendPCR', index: 16, data: Uint8Array.of(9) });
    assert.deepEqual(second, {
      type: 'ExtendPCR',
      data: sha384((first as { data: Uint8Array }).data, Uint8Array.of(9)),
    });
    assert.deepEqual(await call(nsm, { type: 'ExtendPCR', index: 31, data: new Uint8Array(0) }), {
      type: 'ExtendPCR',
      data: sha384(ZERO),
    });
    assert.deepEqual(nsm.pcr(17), ZERO, 'other PCRs are untouched');
  });

  it('ExtendPCR refuses locked PCRs (ReadOnlyIndex) and indices past 31 (InvalidIndex)', async () => {
    const { nsm } = device();
    for (const i of [0, 1, 4, 8, 15])
      assert.deepEqual(
        await call(nsm, { type: 'ExtendPCR', index: i, data: Uint8Array.of(1) }),
        error('ReadOnlyIndex'),
        `PCR${i}`,
      );
    for (const i of [32, 100, 65535])
      assert.deepEqual(
        await call(nsm, { type: 'ExtendPCR', index: i, data: Uint8Array.of(1) }),
        error('InvalidIndex'),
        `PCR${i}`,
      );
    assert.deepEqual(nsm.pcr(0), MEASUREMENTS.pcr0);
  });

  it(
    'LockPCR: 16-31 lock once; an already locked PCR (0-15 ' + 'included) is ReadOnlyIndex; past 31 is InvalidIndex',
    async () => {
      const { nsm } = device();
      await call(nsm, { type: 'ExtendPCR', index: 20, data: Uint8Array.of(1) });
      const value = nsm.pcr(20);
      assert.deepEqual(await call(nsm, unhex('a1674c6f636b504352a165696e64657814')), { type: 'LockPCR' });
      assert.deepEqual(await call(nsm, { type: 'LockPCR', index: 20 }), error('ReadOnlyIndex'));
      assert.deepEqual(
        await call(nsm, { type: 'ExtendPCR', index: 20, data: Uint8Array.of(1) }),
        error('ReadOnlyIndex'),
      );
      assert.deepEqual(await call(nsm, { type: 'DescribePCR', index: 20 }), {
        type: 'DescribePCR',
        lock: true,
        data: value,
      });
      assert.deepEqual(await call(nsm, { type: 'LockPCR', index: 3 }), error('ReadOnlyIndex'));
      assert.deepEqual(await call(nsm, { type: 'LockPCR', index: 32 }), error('InvalidIndex'));
      assert.deepEqual(((await call(nsm, { type: 'DescribeNSM' })) as unknown as { lockedPcrs: number[] }).lockedPcrs, [
        ...Array.from({ length: 16 }, (_, i) => i),
        20,
      ]);
    },
  );

  it('LockPCRs {range} locks [0, range); 32 succeeds even when all are locked; 33 is InvalidIndex', async () => {
    const { nsm } = device();
    assert.deepEqual(await call(nsm, { type: 'LockPCRs', range: 33 }), error('InvalidIndex'));
    assert.deepEqual(
      await call(nsm, { type: 'LockPCRs', range: 8 }),
      { type: 'LockPCRs' },
      'a range inside the boot-locked PCRs',
    );
    assert.deepEqual(await call(nsm, { type: 'LockPCRs', range: 20 }), { type: 'LockPCRs' });
    assert.equal(nsm.isLocked(19), true);
    assert.equal(nsm.isLocked(20), false);
    assert.deepEqual(await call(nsm, unhex('a1684c6f636b50435273a16572616e67651820')), { type: 'LockPCRs' });
    assert.deepEqual(await call(nsm, { type: 'LockPCRs', range: 32 }), { type: 'LockPCRs' });
    assert.deepEqual(
      nsm.lockedPcrs(),
      Array.from({ length: 32 }, (_, i) => i),
    );
  });

  it('DescribePCR past 31 is InvalidIndex', async () => {
    const { nsm } = device();
    assert.deepEqual(await call(nsm, { type: 'DescribePCR', index: 32 }), error('InvalidIndex'));
  });

  it('GetRandom: 256 bytes from the random port, with the hwrng prefix; a failing port is InternalError', async () => {
    let asked = 0;
    const { nsm } = device({ random: (n) => ((asked = n), new Uint8Array(n).fill(0x5a)) });
    const bytes = await nsm.handle(unhex('6947657452616e646f6d'));
    assert.equal(hex(bytes.subarray(0, 22)), 'a16947657452616e646f6da16672616e646f6d590100');
    assert.deepEqual(decodeResponse(bytes), { type: 'GetRandom', random: new Uint8Array(256).fill(0x5a) });
    assert.equal(asked, 256);
    const { nsm: broken } = device({
      random: () => {
        throw new Error('no entropy');
      },
    });
    assert.deepEqual(await call(broken, { type: 'GetRandom' }), error('InternalError'));
  });

  it('Attestation hands the port every locked PCR, the module ID and the fields; returns its document', async () => {
    const { nsm, attested } = device({ iamRoleArn: ROLE });
    await call(nsm, { type: 'ExtendPCR', index: 16, data: Uint8Array.of(1) });
    await call(nsm, { type: 'ExtendPCR', index: 17, data: Uint8Array.of(2) });
    await call(nsm, { type: 'LockPCR', index: 16 });
    const response = await call(nsm, {
      type: 'Attestation',
      userData: Uint8Array.of(1),
      nonce: null,
      publicKey: new Uint8Array(0),
    });
    assert.deepEqual(response, { type: 'Attestation', document: Uint8Array.of(0x84, 0x40, 0xa0, 0x40, 0x40) });
    const fields = attested[0] as AttestationFields;
    assert.equal(fields.moduleId, ENCLAVE);
    assert.equal(fields.digest, 'SHA384');
    assert.deepEqual(
      [...fields.pcrs.keys()],
      [...Array.from({ length: 16 }, (_, i) => i), 16],
      'PCRs 0-15 and the locked 16; not the unlocked 17',
    );
    assert.deepEqual(fields.pcrs.get(0), MEASUREMENTS.pcr0);
    assert.deepEqual(fields.pcrs.get(3), sha384(ZERO, Buffer.from(ROLE)));
    assert.deepEqual(fields.pcrs.get(16), nsm.pcr(16));
    assert.deepEqual(fields.userData, Uint8Array.of(1));
    assert.equal(fields.nonce, null);
    assert.deepEqual(fields.publicKey, new Uint8Array(0));
  });

  it(
    'Attestation limits: 1024 bytes in each of user_data, ' +
      'nonce and public_key at once succeed; 1025 is InputTooLarge',
    async () => {
      const { nsm, attested } = device();
      const k = new Uint8Array(1024).fill(1);
      assert.equal((await call(nsm, { type: 'Attestation', userData: k, nonce: k, publicKey: k })).type, 'Attestation');
      for (const big of [
        { userData: new Uint8Array(1025), nonce: null, publicKey: null },
        { userData: null, nonce: new Uint8Array(1025), publicKey: null },
        { userData: null, nonce: null, publicKey: new Uint8Array(1025) },
      ]) {
        assert.deepEqual(await call(nsm, { type: 'Attestation', ...big }), error('InputTooLarge'));
      }
      assert.equal(attested.length, 1);
    },
  );

  it('a failing or oversized signer is InternalError, without its message', async () => {
    const { nsm } = device({
      attest: async () => {
        throw new Error('secret detail');
      },
    });
    const bytes = await nsm.handle(
      encodeRequest({ type: 'Attestation', userData: null, nonce: null, publicKey: null }),
    );
    assert.deepEqual(decodeResponse(bytes), error('InternalError'));
    assert.ok(!Buffer.from(bytes).toString('latin1').includes('secret'));
    const { nsm: huge } = device({ attest: async () => new Uint8Array(0x3000) });
    assert.deepEqual(
      await call(huge, { type: 'Attestation', userData: null, nonce: null, publicKey: null }),
      error('InternalError'),
    );
  });

  it(
    'requests it cannot read: over 4096 bytes InputTooLarge, ' +
      'an unknown variant InvalidOperation, bad fields InvalidArgument',
    async () => {
      const { nsm } = device();
      assert.deepEqual(
        await call(nsm, encodeRequest({ type: 'ExtendPCR', index: 16, data: new Uint8Array(4096) })),
        error('InputTooLarge'),
      );
      assert.deepEqual(await call(nsm, unhex('6747657452616e64')), error('InvalidOperation'));
      assert.deepEqual(await call(nsm, unhex('a16b4465736372696265504352a0')), error('InvalidArgument'));
      assert.deepEqual(await call(nsm, unhex('ff')), error('InvalidArgument'));
      assert.deepEqual(await call(nsm, new Uint8Array(0)), error('InvalidArgument'));
      assert.deepEqual(nsm.pcr(16), ZERO);
    },
  );

  it(
    'debug mode: PCR0, 1, 2 and 8 are zero in DescribePCR ' + 'and in documents; PCR3 and PCR4 stay set (spec 4.4)',
    async () => {
      const { nsm, attested } = device({ debugMode: true, iamRoleArn: ROLE });
      for (const i of [0, 1, 2, 8])
        assert.deepEqual(
          await call(nsm, { type: 'DescribePCR', index: i }),
          { type: 'DescribePCR', lock: true, data: ZERO },
          `PCR${i}`,
        );
      await call(nsm, { type: 'Attestation', userData: null, nonce: null, publicKey: null });
      const pcrs = (attested[0] as AttestationFields).pcrs;
      for (const i of [0, 1, 2, 8]) assert.deepEqual(pcrs.get(i), ZERO, `PCR${i}`);
      assert.deepEqual(pcrs.get(3), sha384(ZERO, Buffer.from(ROLE)));
      assert.deepEqual(pcrs.get(4), sha384(ZERO, Buffer.from(PARENT)));
    },
  );

  it('requests run one at a time: concurrent extends of one PCR chain in call order', async () => {
    const { nsm } = device();
    const data = Array.from({ length: 20 }, (_, i) => Uint8Array.of(i));
    await Promise.all(data.map((d) => nsm.handle(encodeRequest({ type: 'ExtendPCR', index: 16, data: d }))));
    let expected: Uint8Array = ZERO;
    for (const d of data) expected = sha384(expected, d);
    assert.deepEqual(nsm.pcr(16), expected);
  });

  it('refuses a bad configuration: PCR values that are not 48 bytes, an enclave ID without a parent', () => {
    assert.throws(
      () => device({ measurements: { pcr0: new Uint8Array(32), pcr1: ZERO, pcr2: ZERO } }),
      /PCR0 is 32 bytes/,
    );
    assert.throws(() => device({ enclaveId: 'enclave' }), /parentInstanceId/);
    assert.doesNotThrow(() => device({ enclaveId: 'enclave', parentInstanceId: PARENT }));
  });
});
