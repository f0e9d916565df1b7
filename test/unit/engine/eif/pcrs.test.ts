// The PCRs in words, from one home (eif/defs.ts for an enclave's, attestation/pcrs.ts for a
// NitroTPM's), and the PCRs an image makes an attestation document carry.
import * as assert from 'node:assert/strict';
import {
  IMAGE_PCRS,
  enclavePcrContents,
  enclavePcrMeaning,
  expectedPcrsOf,
  pcrIsReserved,
  pcrMeaning,
} from '../../../../src/engine';

describe('(unit) PCR meanings', () => {
  it('names an enclave PCR alike by index and by name', () => {
    for (let i = 0; i < 32; i++) assert.equal(enclavePcrMeaning(`PCR${i}`), enclavePcrMeaning(i), `PCR${i}`);
    assert.equal(enclavePcrMeaning('PCR0'), 'Enclave image file');
    assert.equal(enclavePcrMeaning(8), 'Signing certificate of the image');
    assert.equal(enclavePcrMeaning('PCR3'), 'IAM role of the parent instance');
    assert.equal(enclavePcrMeaning('PCR4'), 'Parent instance ID');
  });

  it('calls unknown names and unused indexes Reserved, 16 and up Application-defined', () => {
    assert.equal(enclavePcrMeaning('pcr0'), 'Reserved');
    assert.equal(enclavePcrMeaning('PCR'), 'Reserved');
    assert.equal(enclavePcrMeaning(7), 'Reserved');
    assert.equal(enclavePcrMeaning(16), 'Application-defined');
    assert.equal(enclavePcrMeaning('PCR31'), 'Application-defined');
  });

  it('says what goes into each PCR an image determines, and nothing for the others', () => {
    for (const name of IMAGE_PCRS) assert.ok(enclavePcrContents(name), name);
    assert.match(enclavePcrContents('PCR2') ?? '', /every ramdisk after the first/);
    assert.equal(enclavePcrContents('PCR3'), undefined);
    assert.equal(enclavePcrContents(4), undefined);
  });

  it("a document's enclave PCRs mean what the image's do; a NitroTPM's have their own words", () => {
    for (let i = 0; i < 32; i++) assert.equal(pcrMeaning(i), enclavePcrMeaning(i));
    assert.equal(pcrMeaning(0, 'nitrotpm'), 'Core system firmware code');
    assert.equal(pcrMeaning(7, 'nitrotpm'), 'Secure Boot policy');
    for (let i = 8; i <= 15; i++) assert.equal(pcrMeaning(i, 'nitrotpm'), 'Static operating system');
    assert.equal(pcrMeaning(16, 'nitrotpm'), 'Debug');
    assert.equal(pcrMeaning(23, 'nitrotpm'), 'Application support');
    assert.equal(pcrMeaning(17, 'nitrotpm'), 'Reserved');
  });

  it('pcrIsReserved says as data what pcrMeaning says as Reserved or Application-defined, for both kinds', () => {
    for (const kind of ['enclave', 'nitrotpm'] as const)
      for (let i = 0; i < 32; i++)
        assert.equal(
          pcrIsReserved(i, kind),
          ['Reserved', 'Application-defined'].includes(pcrMeaning(i, kind)),
          `${kind} PCR${i}`,
        );
    assert.equal(pcrIsReserved(4), false);
    assert.equal(pcrIsReserved(5), true);
    assert.equal(pcrIsReserved(16), true);
    assert.equal(pcrIsReserved(12, 'nitrotpm'), false);
    assert.equal(pcrIsReserved(17, 'nitrotpm'), true);
  });
});

describe('(unit) expectedPcrsOf', () => {
  it('takes PCR0, 1 and 2 of an image, and PCR8 only when the image is signed', () => {
    const m = { PCR0: 'a0', PCR1: 'a1', PCR2: 'a2' };
    assert.deepEqual(
      [...expectedPcrsOf(m)],
      [
        [0, 'a0'],
        [1, 'a1'],
        [2, 'a2'],
      ],
    );
    assert.deepEqual(
      [...expectedPcrsOf({ ...m, PCR8: 'a8' })],
      [
        [0, 'a0'],
        [1, 'a1'],
        [2, 'a2'],
        [8, 'a8'],
      ],
    );
  });
});
