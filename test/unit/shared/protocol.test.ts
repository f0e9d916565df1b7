import * as assert from 'node:assert/strict';
import { isWebviewEnvelope } from '../../../src/shared/protocol';

describe('(unit) host/webview protocol envelopes', () => {
  const allowed = ['ready', 'copy'] as const;

  it('accepts well-formed messages of an allowed type', () => {
    assert.equal(isWebviewEnvelope({ type: 'ready' }, allowed), true);
    assert.equal(isWebviewEnvelope({ type: 'copy', id: 3, body: { text: 'x' } }, allowed), true);
  });

  it('rejects anything else a compromised or buggy webview could send', () => {
    for (const bad of [
      null,
      undefined,
      'ready',
      42,
      [],
      ['ready'],
      {},
      { type: 'run-shell' },
      { type: 7 },
      { type: 'copy', id: -1 },
      { type: 'copy', id: 1.5 },
      { type: 'copy', id: '1' },
      { type: 'toString' },
    ]) {
      assert.equal(isWebviewEnvelope(bad, allowed), false, JSON.stringify(bad));
    }
  });
});
