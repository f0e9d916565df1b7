import * as assert from 'node:assert/strict';
import type { DescribeEnclaveJson } from '../../../../src/engine';
import { HEX_LINE, enclaveText, hexLines, imageHeaderText } from '../../../../src/extension/tree/nodeText';

const enclave = (over: Partial<DescribeEnclaveJson>): DescribeEnclaveJson =>
  ({
    EnclaveCID: 16,
    NumberOfCPUs: 2,
    MemoryMiB: 512,
    State: 'RUNNING',
    Flags: 'NONE',
    ...over,
  }) as DescribeEnclaveJson;

describe('(unit) tree row texts', () => {
  it('an enclave row says its state in words first, then CID, CPUs, memory and debug mode', () => {
    assert.equal(enclaveText(enclave({})), 'running · CID 16 · 2 CPUs · 512 MiB');
    assert.equal(enclaveText(enclave({ Flags: 'DEBUG_MODE' })), 'running · CID 16 · 2 CPUs · 512 MiB · debug mode');
    assert.equal(
      enclaveText(enclave({ State: 'TERMINATING', NumberOfCPUs: 1 })),
      'terminating · CID 16 · 1 CPU · 512 MiB',
    );
    assert.equal(enclaveText(enclave({ State: 'EMPTY' })), 'empty · CID 16 · 2 CPUs · 512 MiB');
  });

  it('a 96-digit PCR splits into two tooltip lines that a hover shows whole', () => {
    const pcr = 'ab'.repeat(48);
    const lines = hexLines(pcr).split('\n');
    assert.deepEqual(lines, [pcr.slice(0, 48), pcr.slice(48)]);
    for (const l of lines) assert.ok(l.length <= HEX_LINE);
    assert.equal(lines.join(''), pcr);
    assert.equal(hexLines(''), '');
    assert.equal(hexLines('abc'), 'abc');
  });

  it("an image row's header facts: architecture and EIF version", () => {
    assert.equal(imageHeaderText({ arch: 'aarch64', version: 4 }), 'aarch64 · EIF v4');
  });
});
