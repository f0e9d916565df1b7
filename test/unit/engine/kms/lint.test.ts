import * as assert from 'node:assert/strict';
import { lintKeyPolicy, type KeyPolicyFinding } from '../../../../src/engine';

const P0 = 'ab'.repeat(48);
const P1 = 'cd'.repeat(48);
const P2 = 'ef'.repeat(48);
const ZERO = '0'.repeat(96);
const KEY0 = 'kms:RecipientAttestation:ImageSha384';
const pcr = (n: number) => `kms:RecipientAttestation:PCR${n}`;

/** A policy with one enclave statement (after the admin one), written as people write it. */
function policyText(condition: unknown, extra: Record<string, unknown> = {}): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'Admin',
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111122223333:root' },
          Action: 'kms:Describe*',
          Resource: '*',
        },
        {
          Sid: 'Enclave',
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111122223333:role/parent' },
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: '*',
          ...(condition === undefined ? {} : { Condition: condition }),
          ...extra,
        },
      ],
    },
    null,
    2,
  );
}

/** The 1-based line and column of the n-th occurrence of `needle`, found here by text search. */
function where(text: string, needle: string, nth = 0): { line: number; column: number } {
  let at = -1;
  for (let i = 0; i <= nth; i++) at = text.indexOf(needle, at + 1);
  assert.ok(at >= 0, `${needle} not in the text`);
  const before = text.slice(0, at);
  return { line: before.split('\n').length, column: at - before.lastIndexOf('\n') };
}

interface Case {
  readonly name: string;
  readonly text: string;
  readonly rule: KeyPolicyFinding['rule'];
  readonly severity: KeyPolicyFinding['severity'];
  readonly path: string;
  /** Where the finding points, as the text to search for (and which occurrence). */
  readonly at: readonly [string, number?];
  readonly message: RegExp;
}

const good = { StringEqualsIgnoreCase: { [KEY0]: P0, [pcr(1)]: P1, [pcr(2)]: P2 } };

const CASES: Case[] = [
  (() => {
    const text = policyText(undefined);
    return {
      name: 'Decrypt without a condition',
      text,
      rule: 'unattested-grant',
      severity: 'error',
      path: 'Statement[1]',
      at: ['{\n      "Sid": "Enclave"'],
      message: /allows kms:Decrypt, kms:GenerateDataKey without an attestation condition/,
    } as const;
  })(),
  (() => {
    const text = policyText(undefined, { Action: 'kms:*' });
    return {
      name: 'kms:* without a condition',
      text,
      rule: 'unattested-grant',
      severity: 'error',
      path: 'Statement[1]',
      at: ['{\n      "Sid": "Enclave"'],
      message: /kms:Decrypt, kms:GenerateDataKey, kms:GenerateRandom, kms:GenerateDataKeyPair, kms:DeriveSharedSecret/,
    } as const;
  })(),
  (() => {
    const text = policyText({ StringEquals: { 'aws:SourceVpc': 'vpc-1' } }, { Action: 'kms:Decrypt*' });
    return {
      name: 'kms:Decrypt* with only a non-attestation condition',
      text,
      rule: 'unattested-grant',
      severity: 'error',
      path: 'Statement[1]',
      at: ['{\n      "Sid": "Enclave"'],
      message: /allows kms:Decrypt without/,
    } as const;
  })(),
  (() => {
    const text = policyText({ StringEqualsIgnoreCase: { [KEY0]: ZERO } });
    return {
      name: 'ImageSha384 all zeros (debug mode)',
      text,
      rule: 'zero-pcr',
      severity: 'error',
      path: 'Statement[1].Condition.StringEqualsIgnoreCase["kms:RecipientAttestation:ImageSha384"]',
      at: [`"${KEY0}"`],
      message: /all zeros: that is what a debug-mode enclave reports/,
    } as const;
  })(),
  (() => {
    const text = policyText({ StringEqualsIgnoreCase: { [KEY0]: P0, [pcr(0)]: P1 } });
    return {
      name: 'ImageSha384 and PCR0 with different values',
      text,
      rule: 'image-sha384-pcr0',
      severity: 'error',
      path: 'Statement[1].Condition.StringEqualsIgnoreCase["kms:RecipientAttestation:PCR0"]',
      at: [`"${pcr(0)}"`],
      message: /both compare with PCR0/,
    } as const;
  })(),
  (() => {
    const text = policyText({ StringEqualsIgnoreCase: { [KEY0]: P0, [pcr(2)]: P0 } });
    return {
      name: 'the PCR0 value under PCR2',
      text,
      rule: 'image-sha384-pcr0',
      severity: 'warning',
      path: 'Statement[1].Condition.StringEqualsIgnoreCase["kms:RecipientAttestation:PCR2"]',
      at: [`"${pcr(2)}"`],
      message: /same value as kms:RecipientAttestation:ImageSha384.*wrong key/,
    } as const;
  })(),
  (() => {
    const text = policyText({ StringEqualsIgnoreCase: { [KEY0]: `sha256:${'1f'.repeat(32)}` } });
    return {
      name: 'a Docker SHA-256 digest as ImageSha384',
      text,
      rule: 'pcr-hex',
      severity: 'error',
      path: 'Statement[1].Condition.StringEqualsIgnoreCase["kms:RecipientAttestation:ImageSha384"]',
      at: [`"${KEY0}"`],
      message: /not 71 characters: this looks like a SHA-256 image digest/,
    } as const;
  })(),
  (() => {
    const text = policyText({ StringEqualsIgnoreCase: { [KEY0]: P0, [pcr(1)]: ['zz', P1] } });
    return {
      name: 'malformed hex in a value list',
      text,
      rule: 'pcr-hex',
      severity: 'error',
      path: 'Statement[1].Condition.StringEqualsIgnoreCase["kms:RecipientAttestation:PCR1"][0]',
      at: ['"zz"'],
      message: /PCR1 must be 96 hex digits/,
    } as const;
  })(),
  (() => {
    const text = policyText({ StringLike: { [KEY0]: `${P0.slice(0, 20)}*` } });
    return {
      name: 'StringLike with a wildcard',
      text,
      rule: 'operator',
      severity: 'error',
      path: 'Statement[1].Condition.StringLike["kms:RecipientAttestation:ImageSha384"]',
      at: [`"${KEY0}"`],
      message: /wildcard/,
    } as const;
  })(),
  (() => {
    const text = policyText({ StringNotEquals: { [KEY0]: P0 } });
    return {
      name: 'StringNotEquals in an Allow',
      text,
      rule: 'operator',
      severity: 'error',
      path: 'Statement[1].Condition.StringNotEquals',
      at: ['"StringNotEquals"'],
      message: /every enclave except the one named/,
    } as const;
  })(),
  (() => {
    const text = policyText({ Null: { [KEY0]: 'false' } });
    return {
      name: 'Null only',
      text,
      rule: 'operator',
      severity: 'error',
      path: 'Statement[1].Condition.Null',
      at: ['"Null"'],
      message: /only asks whether some attestation document came/,
    } as const;
  })(),
  (() => {
    const text = policyText({ StringEqualsIgnoreCaseIfExists: { [KEY0]: P0 } });
    return {
      name: 'IfExists in an Allow',
      text,
      rule: 'operator',
      severity: 'error',
      path: 'Statement[1].Condition.StringEqualsIgnoreCaseIfExists',
      at: ['"StringEqualsIgnoreCaseIfExists"'],
      message: /no attestation document, so this Allow/,
    } as const;
  })(),
  (() => {
    const text = policyText({ NumericEquals: { [KEY0]: P0 } });
    return {
      name: 'a numeric operator',
      text,
      rule: 'operator',
      severity: 'error',
      path: 'Statement[1].Condition.NumericEquals',
      at: ['"NumericEquals"'],
      message: /KMS does not allow NumericEquals/,
    } as const;
  })(),
  (() => {
    const text = policyText({ 'ForAllValues:StringEqualsIgnoreCase': { [KEY0]: P0 } });
    return {
      name: 'ForAllValues',
      text,
      rule: 'operator',
      severity: 'error',
      path: 'Statement[1].Condition["ForAllValues:StringEqualsIgnoreCase"]',
      at: ['"ForAllValues:'],
      message: /holds when the request has no attestation document/,
    } as const;
  })(),
  (() => {
    const text = policyText({ StringEquals: { [KEY0]: P0 } });
    return {
      name: 'StringEquals (case-sensitive)',
      text,
      rule: 'operator',
      severity: 'warning',
      path: 'Statement[1].Condition.StringEquals',
      at: ['"StringEquals"'],
      message: /case-sensitive/,
    } as const;
  })(),
  (() => {
    const text = policyText({ StringEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR40': P0 } });
    return {
      name: 'a PCR past 31',
      text,
      rule: 'pcr-index',
      severity: 'error',
      path: 'Statement[1].Condition.StringEqualsIgnoreCase["kms:RecipientAttestation:PCR40"]',
      at: ['"kms:RecipientAttestation:PCR40"'],
      message: /PCR0 to PCR31/,
    } as const;
  })(),
  (() => {
    const text = policyText({ StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha256': P0 } });
    return {
      name: 'a misspelt attestation key',
      text,
      rule: 'shape',
      severity: 'error',
      path: 'Statement[1].Condition.StringEqualsIgnoreCase["kms:RecipientAttestation:ImageSha256"]',
      at: ['"kms:RecipientAttestation:ImageSha256"'],
      message: /not a Nitro Enclaves condition key/,
    } as const;
  })(),
  (() => {
    const text = '{"Version": "2012-10-17",\n "Statement": [\n  {"Effect": "Allow",, }\n ]}';
    return {
      name: 'bad JSON',
      text,
      rule: 'json',
      severity: 'error',
      path: '$',
      at: [',', 2],
      message: /not JSON: expected a member name/,
    } as const;
  })(),
];

describe('(unit) KMS key policy lint', () => {
  it('a policy pinning PCR0/1/2 with StringEqualsIgnoreCase has no findings', () => {
    assert.deepEqual(lintKeyPolicy(policyText(good)), []);
  });

  for (const c of CASES) {
    it(`${c.name}: ${c.severity} ${c.rule} at ${c.path}`, () => {
      const findings = lintKeyPolicy(c.text);
      const f = findings.find((x) => x.rule === c.rule && x.path === c.path);
      assert.ok(f, `no ${c.rule} finding at ${c.path}; got ${JSON.stringify(findings, null, 1)}`);
      assert.equal(f.severity, c.severity);
      assert.match(f.message, c.message);
      const at = where(c.text, c.at[0], c.at[1]);
      assert.deepEqual({ line: f.line, column: f.column }, at);
      if (c.rule === 'json') assert.equal(findings.length, 1);
    });
  }

  it('a Deny with StringNotEqualsIgnoreCase (deny unless attested) is not a finding', () => {
    const text = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Deny',
          Principal: '*',
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: { StringNotEqualsIgnoreCase: { [KEY0]: P0 } },
        },
      ],
    });
    assert.deepEqual(lintKeyPolicy(text), []);
  });

  it('NotAction that leaves Decrypt in is a grant of Decrypt', () => {
    const text = policyText(undefined, { Action: undefined, NotAction: ['kms:Encrypt'] });
    const f = lintKeyPolicy(text).find((x) => x.rule === 'unattested-grant');
    assert.match(f?.message ?? '', /kms:Decrypt/);
  });

  it('a parsed object is linted too, without positions; duplicate keys are warned about', () => {
    const findings = lintKeyPolicy(JSON.parse(policyText({ Null: { [KEY0]: 'false' } })));
    assert.ok(findings.length > 0 && findings.every((f) => f.line === undefined));
    const dup = '{"Version":"2012-10-17","Statement":[],\n"Statement":[]}';
    assert.deepEqual(
      lintKeyPolicy(dup).map((f) => [f.rule, f.path, f.line, f.column]),
      [['duplicate-key', 'Statement', 2, 1]],
    );
  });

  it('a policy over the 32 KiB KMS accepts is an error; past 128 KiB it is not read at all', () => {
    const big = policyText(good, { Sid: 'x'.repeat(33_000) });
    assert.deepEqual(
      lintKeyPolicy(big).map((f) => [f.rule, f.path, f.line, f.column]),
      [['shape', '$', 1, 1]],
    );
    const huge = lintKeyPolicy(' '.repeat(200_000));
    assert.equal(huge.length, 1);
    assert.match(huge[0]?.message ?? '', /was not read/);
  });

  it('non-objects and missing statements are shape errors, never a crash', () => {
    for (const t of ['[]', '"x"', '{}', '{"Statement": [1]}', '{"Statement": [{"Condition": 3}]}'])
      assert.ok(
        lintKeyPolicy(t).some((f) => f.rule === 'shape' && f.severity === 'error'),
        t,
      );
  });
});
