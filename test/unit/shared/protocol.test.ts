import * as assert from 'node:assert/strict';
import { isWebviewEnvelope, parseKmsConditionBody } from '../../../src/shared/protocol';

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

  it('checks a copyKmsCondition body: a PCR index 0..31 and a key, ImageSha384 for PCR0 only', () => {
    assert.deepEqual(parseKmsConditionBody({ pcr: 0, key: 'ImageSha384' }), {
      ok: true,
      body: { pcr: 0, key: 'ImageSha384' },
    });
    assert.deepEqual(parseKmsConditionBody({ pcr: 31, key: 'PCR', extra: 1 }), {
      ok: true,
      body: { pcr: 31, key: 'PCR' },
    });
    for (const bad of [
      null,
      [],
      'PCR0',
      { pcr: -1, key: 'PCR' },
      { pcr: 32, key: 'PCR' },
      { pcr: 1.5, key: 'PCR' },
      { pcr: '0', key: 'PCR' },
      { pcr: 0, key: 'pcr' },
      { pcr: 0 },
      { pcr: 8, key: 'ImageSha384' },
    ])
      assert.equal(parseKmsConditionBody(bad).ok, false, JSON.stringify(bad));
  });
});
