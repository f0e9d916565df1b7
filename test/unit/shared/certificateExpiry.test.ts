// The expiry warning of a signing certificate: the facts (src/shared/certificateExpiry.ts) and the
// sentence the extension words from them (src/extension/certificateExpiryWords.ts).
import * as assert from 'node:assert/strict';
import { withExpiryMessage } from '../../../src/extension/certificateExpiryWords';
import { certificateExpiry as expiryFacts, EXPIRY_WARNING_DAYS } from '../../../src/shared/certificateExpiry';

const DAY = 24 * 3600 * 1000;
const FROM = Date.parse('2026-01-01T00:00:00Z');
const TO = Date.parse('2026-12-31T00:00:00Z');

/** The facts with their sentence. */
function certificateExpiry(notBefore: number, notAfter: number, now: number) {
  const facts = expiryFacts(notBefore, notAfter, now);
  return facts && withExpiryMessage(facts);
}

describe('(unit) the expiry warning of a signing certificate', () => {
  it('says nothing while more than 30 days are left', () => {
    assert.equal(EXPIRY_WARNING_DAYS, 30);
    assert.equal(certificateExpiry(FROM, TO, FROM), undefined);
    assert.equal(certificateExpiry(FROM, TO, TO - 30 * DAY - 1), undefined);
  });

  it('warns with the days left, rounded up, from 30 days before the end', () => {
    const at30 = certificateExpiry(FROM, TO, TO - 30 * DAY);
    assert.equal(at30?.state, 'expires-soon');
    assert.equal(at30.state === 'expires-soon' && at30.days, 30);
    const at10 = certificateExpiry(FROM, TO, TO - 9.5 * DAY);
    assert.deepEqual(at10?.state === 'expires-soon' && [at10.days, at10.message.slice(0, 56)], [
      10,
      'The signing certificate expires in 10 days (on 2026-12-3',
    ]);
    const last = certificateExpiry(FROM, TO, TO - 1000);
    assert.match(last?.message ?? '', /expires in 1 day \(on 2026-12-31\)/);
  });

  it('says when the certificate has expired or is not valid yet, and that run-enclave refuses it', () => {
    const expired = certificateExpiry(FROM, TO, TO + 1);
    assert.equal(expired?.state, 'expired');
    assert.match(expired.message, /expired on 2026-12-31.*refuses.*\(E59\)/);
    const early = certificateExpiry(FROM, TO, FROM - 1);
    assert.equal(early?.state, 'not-yet-valid');
    assert.match(early.message, /not valid before 2026-01-01/);
  });

  it('gives the facts without words: the state, the days left and the day it is about', () => {
    assert.deepEqual(expiryFacts(FROM, TO, TO - 9.5 * DAY), { state: 'expires-soon', days: 10, date: '2026-12-31' });
    assert.deepEqual(expiryFacts(FROM, TO, TO + 1), { state: 'expired', date: '2026-12-31' });
    assert.deepEqual(expiryFacts(FROM, TO, FROM - 1), { state: 'not-yet-valid', date: '2026-01-01' });
  });
});
