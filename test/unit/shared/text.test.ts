// The text rules the host and both webviews share (src/shared/text.ts).
import * as assert from 'node:assert/strict';
import { colonPairs, colonParts, sentence } from '../../../src/shared/text';

describe('(unit) shared text rules', () => {
  it('sentence: capitalizes a leading plain word, including one followed by punctuation', () => {
    assert.equal(sentence('the signature does not verify'), 'The signature does not verify');
    assert.equal(sentence("header's CRC is wrong"), "Header's CRC is wrong");
    assert.equal(sentence('truncated'), 'Truncated');
    assert.equal(sentence('section 3: too large'), 'Section 3: too large');
  });

  it('sentence: leaves names, capitals and other starts alone', () => {
    for (const text of [
      'public_key is null',
      'cabundle[0] is not a certificate',
      'x86_64 only',
      'PCR0 is zero',
      '"ImageName" is missing',
      '',
      '3 sections',
    ]) {
      assert.equal(sentence(text), text);
    }
  });

  it('colonPairs: hex in colon-separated pairs, case kept', () => {
    assert.equal(colonPairs('0a1B2c'), '0a:1B:2c');
    assert.equal(colonPairs(''), '');
    assert.equal(colonPairs('ab'), 'ab');
  });

  it('colonParts: split after each colon, nothing lost', () => {
    assert.deepEqual(colonParts('0A:1B:2C'), ['0A:', '1B:', '2C']);
    assert.deepEqual(colonParts('0A'), ['0A']);
    for (const v of ['0A:1B:2C', 'a::b:', ':']) assert.equal(colonParts(v).join(''), v);
  });
});
