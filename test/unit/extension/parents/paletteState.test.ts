import * as assert from 'node:assert/strict';
import type { DescribeEnclaveJson } from '../../../../src/engine';
import { paletteStateOf, type ParentReading } from '../../../../src/extension/parents/paletteState';

const enclave = (State: DescribeEnclaveJson['State']) => ({ State }) as DescribeEnclaveJson;
/** A parent whose backend answers its enclaves' NSM (the emulator). */
const emulated = (...enclaves: DescribeEnclaveJson[]): ParentReading => ({ enclaves, parentNsm: true });
/** A parent whose enclaves only their application can attest (nitro-cli, QEMU). */
const real = (...enclaves: DescribeEnclaveJson[]): ParentReading => ({ enclaves, parentNsm: false });

describe('(unit) the palette state keys (which commands can work)', () => {
  it('no parent: nothing to run on, and no enclave', () => {
    assert.deepEqual(paletteStateOf([]), { noParent: true, noEnclave: true, noAttestable: true });
  });

  it('parents without running enclaves: Run shows, the enclave commands hide', () => {
    assert.deepEqual(paletteStateOf([emulated(), emulated(enclave('TERMINATING'))]), {
      noParent: false,
      noEnclave: true,
      noAttestable: true,
    });
  });

  it('an enclave running on any parent shows the enclave commands', () => {
    assert.deepEqual(paletteStateOf([emulated(), emulated(enclave('EMPTY'), enclave('RUNNING'))]), {
      noParent: false,
      noEnclave: false,
      noAttestable: false,
    });
  });

  it('an enclave whose NSM only its application reaches: Get Attestation Document hides, the others show', () => {
    assert.deepEqual(paletteStateOf([emulated(enclave('TERMINATING')), real(enclave('RUNNING'))]), {
      noParent: false,
      noEnclave: false,
      noAttestable: true,
    });
  });

  it('a parent that could not be asked may run enclaves: the enclave commands stay', () => {
    assert.deepEqual(paletteStateOf([emulated(), { enclaves: undefined, parentNsm: true }]), {
      noParent: false,
      noEnclave: false,
      noAttestable: false,
    });
    // Such a parent of a backend without parentNsm still has nothing to attest.
    assert.deepEqual(paletteStateOf([emulated(), { enclaves: undefined, parentNsm: false }]).noAttestable, true);
  });
});
