import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  ADMIN_ACTIONS,
  KeyPolicyInputError,
  keyPolicyFor,
  lintKeyPolicy,
  parsePolicyJson,
  pathText,
  PolicyJsonError,
  MAX_POLICY_TEXT,
} from '../../../../src/engine';
import { inspectEif, nodeHashes } from '../../../../src/engine/node';
import { repoPath } from '../../repo';

const ROLE = 'arn:aws:iam::123456789012:role/parent-role';
const expected = (name: string) =>
  JSON.parse(readFileSync(repoPath('test/fixtures/eif', `${name}.expected.json`), 'utf8')) as Record<string, string>;

/** PCR3 computed here independently: SHA-384(48 zero bytes ‖ utf8 ARN) (spec 4.2 and 6.3). */
const pcr3Of = (arn: string): string => createHash('sha384').update(Buffer.alloc(48)).update(arn, 'utf8').digest('hex');

type Statement = {
  Sid: string;
  Principal: { AWS: string };
  Action: string[];
  Condition?: Record<string, Record<string, string>>;
};

describe('(unit) KMS key policy from an image', () => {
  for (const name of ['synthetic-v4-signed', 'synthetic-v4-unsigned']) {
    it(`pins the PCRs of ${name}.eif, as describe-eif measures them, with StringEqualsIgnoreCase`, async () => {
      const inspection = await inspectEif(repoPath('test/fixtures/eif', `${name}.eif`));
      if ('error' in inspection.describe) throw inspection.describe.error;
      const m = inspection.describe.json.Measurements;
      const want = expected(name);
      assert.equal(m.PCR0, want.PCR0);
      const policy = keyPolicyFor({
        measurements: { PCR0: m.PCR0, PCR1: m.PCR1, PCR2: m.PCR2, ...(m.PCR8 ? { PCR8: m.PCR8 } : {}) },
        roleArn: ROLE,
        hashes: nodeHashes,
      });
      assert.equal(policy.Version, '2012-10-17');
      const [admin, enclave] = policy.Statement as Statement[];
      assert.deepEqual(admin?.Principal, { AWS: 'arn:aws:iam::123456789012:root' });
      assert.deepEqual(admin?.Action, [...ADMIN_ACTIONS]);
      assert.equal(admin?.Condition, undefined);
      assert.deepEqual(enclave?.Principal, { AWS: ROLE });
      assert.deepEqual(enclave?.Action, ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:GenerateRandom']);
      const cond: Record<string, string> = {
        'kms:RecipientAttestation:ImageSha384': want.PCR0 as string,
        'kms:RecipientAttestation:PCR1': want.PCR1 as string,
        'kms:RecipientAttestation:PCR2': want.PCR2 as string,
        'kms:RecipientAttestation:PCR3': pcr3Of(ROLE),
      };
      if (want.PCR8) cond['kms:RecipientAttestation:PCR8'] = want.PCR8;
      assert.deepEqual(enclave?.Condition, { StringEqualsIgnoreCase: cond });
      // Key order is part of the output: the same inputs give the same bytes.
      assert.deepEqual(Object.keys(enclave?.Condition?.StringEqualsIgnoreCase ?? {}), Object.keys(cond));
      assert.deepEqual(Object.keys(policy), ['Version', 'Id', 'Statement']);
      assert.deepEqual(Object.keys(enclave ?? {}), ['Sid', 'Effect', 'Principal', 'Action', 'Resource', 'Condition']);
      // The generated policy is clean by the linter's own rules.
      assert.deepEqual(lintKeyPolicy(JSON.stringify(policy, null, 2)), []);
    });
  }

  const M = { PCR0: 'A'.repeat(96), PCR1: 'b'.repeat(96), PCR2: 'c'.repeat(96) };

  it('without a role: account root principal, no PCR3, lower-case hex, operations in documented order', () => {
    const policy = keyPolicyFor({
      measurements: M,
      account: '111122223333',
      operations: ['GenerateRandom', 'kms:Decrypt'],
    });
    const enclave = (policy.Statement as Statement[])[1];
    assert.deepEqual(enclave?.Principal, { AWS: 'arn:aws:iam::111122223333:root' });
    assert.deepEqual(enclave?.Action, ['kms:Decrypt', 'kms:GenerateRandom']);
    assert.deepEqual(Object.keys(enclave?.Condition?.StringEqualsIgnoreCase ?? {}), [
      'kms:RecipientAttestation:ImageSha384',
      'kms:RecipientAttestation:PCR1',
      'kms:RecipientAttestation:PCR2',
    ]);
    assert.equal(enclave?.Condition?.StringEqualsIgnoreCase?.['kms:RecipientAttestation:ImageSha384'], 'a'.repeat(96));
    assert.equal(JSON.stringify(keyPolicyFor({ measurements: M })).includes('<account-id>'), true);
  });

  it("PCR3 of AWS's documented example role (spec 4.2)", () => {
    const policy = keyPolicyFor({
      measurements: M,
      roleArn: 'arn:aws:iam::123456789012:role/Webserver',
      hashes: nodeHashes,
    });
    assert.equal(
      (policy.Statement as Statement[])[1]?.Condition?.StringEqualsIgnoreCase?.['kms:RecipientAttestation:PCR3'],
      '78fce75db17cd4e0a3fb8dad3ad128ca5e77edbb2b2c7f75329dccd99aa5f6ef4fc1f1a452e315b9e98f9e312e6921e6',
    );
  });

  it('refuses bad input with a specific message', () => {
    const bad: [Parameters<typeof keyPolicyFor>[0], RegExp][] = [
      [{ measurements: { ...M, PCR0: 'ab' } }, /PCR0 must be 96 hex digits/],
      [{ measurements: { ...M, PCR8: 'zz'.repeat(48) } }, /PCR8 must be 96 hex digits/],
      [{ measurements: M, account: '12345' }, /12-digit/],
      [{ measurements: M, roleArn: 'parent-role', hashes: nodeHashes }, /role ARN must look like/],
      [{ measurements: M, roleArn: ROLE }, /SHA-384 implementation/],
      [{ measurements: M, operations: ['Encrypt'] }, /does not take an attestation document/],
      [{ measurements: M, operations: [] }, /at least one operation/],
    ];
    for (const [req, msg] of bad)
      assert.throws(
        () => keyPolicyFor(req),
        (e: Error) => e instanceof KeyPolicyInputError && msg.test(e.message),
      );
  });
});

describe('(unit) key policy JSON reader', () => {
  it('records the line and column of members and elements, and writes paths with brackets for odd keys', () => {
    const text = '{\n  "Statement": [\n    {"Condition": {"Null": {"kms:X": "true"}}}\n  ]\n}';
    const p = parsePolicyJson(text);
    assert.deepEqual(p.positions.get('Statement'), { line: 2, column: 3, offset: 4 });
    assert.deepEqual(p.positions.get('Statement[0]'), { line: 3, column: 5, offset: 23 });
    assert.equal(p.positions.get('Statement[0].Condition.Null["kms:X"]')?.column, 29);
    assert.equal(pathText(['Statement', 1, 'Condition', 'a b']), 'Statement[1].Condition["a b"]');
  });

  it('reports the position of the first fault, refuses deep nesting and oversized text', () => {
    const fault = (t: string) => {
      try {
        parsePolicyJson(t);
      } catch (e) {
        if (e instanceof PolicyJsonError) return e;
      }
      throw new Error('no error');
    };
    assert.deepEqual(fault('{\n  "a": 1,\n  }').position, { line: 3, column: 3, offset: 14 });
    assert.match(fault('[1 2]').message, /expected ',' or ']'/);
    assert.match(fault('"abc').message, /not closed/);
    assert.match(fault('['.repeat(10_000)).message, /nesting deeper than 64/);
    assert.match(fault(' '.repeat(MAX_POLICY_TEXT + 1)).message, /was not read/);
  });
});
