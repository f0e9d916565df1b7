import * as assert from 'node:assert/strict';
import { keyPolicyFor, lintKeyPolicy } from '../../../../src/engine';
import { nodeHashes } from '../../../../src/engine/node';
import {
  MAX_LINTED_TEXT,
  findingStart,
  kmsConditionOf,
  looksLikeKeyPolicy,
} from '../../../../src/extension/kms/keyPolicyText';

const HEX = 'AB'.repeat(48);

describe('(unit) extension: KMS conditions of PCR nodes and key-policy detection', () => {
  it('copies PCR0 as kms:RecipientAttestation:ImageSha384 and PCRn as kms:RecipientAttestation:PCRn (spec 6.3)', () => {
    assert.equal(kmsConditionOf('PCR0', HEX), `"kms:RecipientAttestation:ImageSha384": "${HEX.toLowerCase()}"`);
    assert.equal(kmsConditionOf('PCR3', HEX), `"kms:RecipientAttestation:PCR3": "${HEX.toLowerCase()}"`);
    assert.equal(kmsConditionOf('PCR8', HEX), `"kms:RecipientAttestation:PCR8": "${HEX.toLowerCase()}"`);
  });

  it('copies PCR0 under its own key when asked (the viewers offer both keys for PCR0)', () => {
    assert.equal(kmsConditionOf('PCR0', HEX, 'PCR'), `"kms:RecipientAttestation:PCR0": "${HEX.toLowerCase()}"`);
    assert.equal(kmsConditionOf('PCR0', HEX, 'ImageSha384'), kmsConditionOf('PCR0', HEX));
    assert.equal(kmsConditionOf('PCR4', HEX, 'PCR'), kmsConditionOf('PCR4', HEX));
  });

  it('gives the same key and value the generated policy has', () => {
    const m = { PCR0: '0a'.repeat(48), PCR1: '1b'.repeat(48), PCR2: '2c'.repeat(48), PCR8: '8d'.repeat(48) };
    const policy = keyPolicyFor({ measurements: m, hashes: nodeHashes }) as {
      Statement: { Condition?: { StringEqualsIgnoreCase: Record<string, string> } }[];
    };
    const condition = policy.Statement[1]?.Condition?.StringEqualsIgnoreCase;
    assert.ok(condition);
    for (const name of ['PCR0', 'PCR1', 'PCR2', 'PCR8'] as const) {
      const entry = JSON.parse(`{${kmsConditionOf(name, m[name].toUpperCase()) ?? ''}}`) as Record<string, string>;
      const [[key, value]] = Object.entries(entry) as [[string, string]];
      assert.equal(condition[key], value, name);
    }
  });

  it('refuses what is not an enclave PCR', () => {
    assert.equal(kmsConditionOf('PCR32', HEX), undefined);
    assert.equal(kmsConditionOf('NitroTPMPCR4', HEX), undefined);
    assert.equal(kmsConditionOf('PCR1', 'ab'), undefined);
    assert.equal(kmsConditionOf('PCR1', `${HEX.slice(2)}zz`), undefined);
  });

  it('tells key policies from other JSON, cheaply and within a bound', () => {
    assert.ok(looksLikeKeyPolicy('{"Condition": {"StringEquals": {"kms:RecipientAttestation:PCR0": "x"}}}'));
    assert.ok(looksLikeKeyPolicy('{"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt"}]}'));
    assert.ok(!looksLikeKeyPolicy('{"name": "x", "version": "1.0.0", "scripts": {}}'));
    assert.ok(!looksLikeKeyPolicy('{"Statement": [{"Action": "s3:GetObject"}]}'));
    const huge = `{"Statement": [{"Action": "kms:Decrypt"}], "pad": "${' '.repeat(MAX_LINTED_TEXT)}"}`;
    assert.ok(!looksLikeKeyPolicy(huge));
  });

  it('places a finding at its 0-based line and column, and one without a position at the start', () => {
    const text =
      '{\n  "Statement": [\n' +
      '    {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}\n  ]\n}\n';
    const [finding] = lintKeyPolicy(text).filter((f) => f.rule === 'unattested-grant');
    assert.ok(finding, 'the linter reports the unattested Decrypt');
    assert.equal(findingStart(finding).line, 2);
    assert.deepEqual(findingStart({ severity: 'error', rule: 'shape', message: 'm', path: '$' }), {
      line: 0,
      character: 0,
    });
  });
});
