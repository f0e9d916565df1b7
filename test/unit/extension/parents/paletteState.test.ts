import * as assert from 'node:assert/strict';
import type { DescribeEnclaveJson } from '../../../../src/engine';
import { paletteStateOf } from '../../../../src/extension/parents/paletteState';

const enclave = (State: DescribeEnclaveJson['State']) => ({ State }) as DescribeEnclaveJson;

describe('(unit) the palette state keys (which commands can work)', () => {
  it('no parent: nothing to run on, and no enclave', () => {
    assert.deepEqual(paletteStateOf([]), { noParent: true, noEnclave: true });
  });

  it('parents without running enclaves: Run shows, the enclave commands hide', () => {
    assert.deepEqual(paletteStateOf([[], [enclave('TERMINATING')]]), { noParent: false, noEnclave: true });
  });

  it('an enclave running on any parent shows the enclave commands', () => {
    assert.deepEqual(paletteStateOf([[], [enclave('EMPTY'), enclave('RUNNING')]]), {
      noParent: false,
      noEnclave: false,
    });
  });

  it('a parent that could not be asked may run enclaves: the enclave commands stay', () => {
    assert.deepEqual(paletteStateOf([[], undefined]), { noParent: false, noEnclave: false });
  });
});
