import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  EVALUATION_SCOPE,
  decodeAttestation,
  evaluateKeyPolicy,
  type AttestationDocument,
  type EvaluationRequest,
} from '../../../../src/engine';
import { repoPath } from '../../repo';

const FIXTURES = repoPath('test/fixtures/attestation');
interface ExpectedDoc {
  readonly file: string;
  readonly pcrs?: Record<string, string>;
}
const EXPECTED = JSON.parse(readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as { documents: ExpectedDoc[] };
const pcrsOf = (file: string): Record<string, string> => {
  const d = EXPECTED.documents.find((x) => x.file === file);
  if (!d?.pcrs) throw new Error(`no PCRs for ${file} in expected.json`);
  return d.pcrs;
};
function documentOf(file: string): AttestationDocument {
  const d = decodeAttestation(new Uint8Array(readFileSync(path.join(FIXTURES, file)))).document;
  if (!d) throw new Error(`${file} does not decode`);
  return d;
}

const PROD = 'base-2024-11-30.cbor';
const DEBUG = 'evervault-2022-10-12-debug.cbor';
const ROLE = 'arn:aws:iam::111122223333:role/parent';
const ZERO = '0'.repeat(96);
const KEY0 = 'kms:RecipientAttestation:ImageSha384';
const pcrKey = (n: number) => `kms:RecipientAttestation:PCR${n}`;

const enclaveStatement = (condition: unknown, extra: Record<string, unknown> = {}) => ({
  Sid: 'Enclave',
  Effect: 'Allow',
  Principal: { AWS: ROLE },
  Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
  Resource: '*',
  Condition: condition,
  ...extra,
});
const policyOf = (...statements: unknown[]) => ({ Version: '2012-10-17', Statement: statements });
/** Pins PCR0 (as ImageSha384), 1 and 2 of `file`, in upper case (the comparison ignores case). */
const pinned = (file: string, over: Record<string, string> = {}) => {
  const p = pcrsOf(file);
  return {
    StringEqualsIgnoreCase: {
      [KEY0]: (p['0'] as string).toUpperCase(),
      [pcrKey(1)]: p['1'] as string,
      [pcrKey(2)]: p['2'] as string,
      ...over,
    },
  };
};

interface Case {
  readonly name: string;
  readonly policy: unknown;
  readonly request: EvaluationRequest;
  readonly decision: 'allow' | 'deny';
  readonly reason: RegExp;
}

const CASES: Case[] = [
  {
    name: 'a real AWS document whose PCR0/1/2 match',
    policy: policyOf(enclaveStatement(pinned(PROD))),
    request: { operation: 'Decrypt', document: documentOf(PROD), principal: ROLE },
    decision: 'allow',
    reason:
      /Statement\[0\] \(Enclave\) Allow applies: StringEqualsIgnoreCase kms:RecipientAttestation:ImageSha384 holds/,
  },
  {
    name: 'a mismatching PCR1',
    policy: policyOf(enclaveStatement(pinned(PROD, { [pcrKey(1)]: 'ab'.repeat(48) }))),
    request: { operation: 'Decrypt', document: documentOf(PROD), principal: ROLE },
    decision: 'deny',
    reason: new RegExp(`PCR1 fails \\(the document's PCR1 is ${pcrsOf(PROD)['1']}\\)`),
  },
  {
    name: 'no document in the request',
    policy: policyOf(enclaveStatement(pinned(PROD))),
    request: { operation: 'Decrypt', document: undefined, principal: ROLE },
    decision: 'deny',
    reason: /ImageSha384 fails \(no attestation document in the request\)/,
  },
  {
    name: 'a PCR the document does not have',
    policy: policyOf(enclaveStatement(pinned(PROD, { [pcrKey(20)]: 'ab'.repeat(48) }))),
    request: { operation: 'Decrypt', document: documentOf(PROD), principal: ROLE },
    decision: 'deny',
    reason: /PCR20 fails \(the document has no PCR20\)/,
  },
  {
    name: 'a debug-mode document against the production PCRs',
    policy: policyOf(enclaveStatement(pinned(PROD))),
    request: { operation: 'Decrypt', document: documentOf(DEBUG), principal: ROLE },
    decision: 'deny',
    reason: /ImageSha384 fails \(the document's PCR0 is 0{96} \(all zeros: debug mode\)\)/,
  },
  {
    name: 'a debug-mode document against a policy pinned to zeros (what the linter warns about)',
    policy: policyOf(enclaveStatement({ StringEqualsIgnoreCase: { [KEY0]: ZERO } })),
    request: { operation: 'Decrypt', document: documentOf(DEBUG), principal: ROLE },
    decision: 'allow',
    reason: /ImageSha384 holds .*all zeros/,
  },
  {
    name: "a debug document's PCR3 (still set in debug mode)",
    policy: policyOf(enclaveStatement({ StringEqualsIgnoreCase: { [pcrKey(3)]: pcrsOf(DEBUG)['3'] } })),
    request: { operation: 'Decrypt', document: documentOf(DEBUG) },
    decision: 'allow',
    reason: /PCR3 holds/,
  },
  {
    name: 'an explicit Deny wins over a matching Allow',
    policy: policyOf(enclaveStatement(pinned(PROD)), {
      Sid: 'DenyOthers',
      Effect: 'Deny',
      Principal: '*',
      Action: 'kms:*',
      Resource: '*',
      Condition: { StringNotEqualsIgnoreCase: { [pcrKey(8)]: 'ab'.repeat(48) } },
    }),
    request: { operation: 'Decrypt', document: documentOf(PROD), principal: ROLE },
    decision: 'deny',
    reason: /^explicit deny: Statement\[1\] \(DenyOthers\) Deny applies/,
  },
  {
    name: 'a "deny unless this image" statement lets that image through',
    policy: policyOf(enclaveStatement(pinned(PROD)), {
      Sid: 'DenyOtherImages',
      Effect: 'Deny',
      Principal: '*',
      Action: 'kms:*',
      Resource: '*',
      Condition: { StringNotEqualsIgnoreCase: { [KEY0]: pcrsOf(PROD)['0'] } },
    }),
    request: { operation: 'Decrypt', document: documentOf(PROD), principal: ROLE },
    decision: 'allow',
    reason: /Statement\[1\] \(DenyOtherImages\) Deny does not apply: StringNotEqualsIgnoreCase .* fails/,
  },
  {
    name: 'another principal',
    policy: policyOf(enclaveStatement(pinned(PROD))),
    request: { operation: 'Decrypt', document: documentOf(PROD), principal: 'arn:aws:iam::111122223333:role/other' },
    decision: 'deny',
    reason: /no statement allows kms:Decrypt to arn:aws:iam::111122223333:role\/other: denied by default/,
  },
  {
    name: 'an action the statement does not grant',
    policy: policyOf(enclaveStatement(pinned(PROD))),
    request: { operation: 'GenerateRandom', document: documentOf(PROD), principal: ROLE },
    decision: 'deny',
    reason: /no statement allows kms:GenerateRandom/,
  },
  {
    name: "an account root principal covers the account's roles; kms:* covers Decrypt",
    policy: policyOf(
      enclaveStatement(pinned(PROD), { Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*' }),
    ),
    request: { operation: 'kms:Decrypt', document: documentOf(PROD), principal: ROLE },
    decision: 'allow',
    reason: /Allow applies/,
  },
  {
    name: 'Null false: any document passes',
    policy: policyOf(enclaveStatement({ Null: { [KEY0]: 'false' } })),
    request: { operation: 'Decrypt', document: documentOf(DEBUG) },
    decision: 'allow',
    reason: /Null kms:RecipientAttestation:ImageSha384 holds/,
  },
  {
    name: 'IfExists: no document passes',
    policy: policyOf(enclaveStatement({ StringEqualsIgnoreCaseIfExists: { [KEY0]: pcrsOf(PROD)['0'] } })),
    request: { operation: 'Decrypt', document: undefined },
    decision: 'allow',
    reason: /IfExists kms:RecipientAttestation:ImageSha384 holds \(no attestation document/,
  },
  {
    name: 'StringEquals is case-sensitive',
    policy: policyOf(enclaveStatement({ StringEquals: { [KEY0]: (pcrsOf(PROD)['0'] as string).toUpperCase() } })),
    request: { operation: 'Decrypt', document: documentOf(PROD) },
    decision: 'deny',
    reason: /StringEquals kms:RecipientAttestation:ImageSha384 fails/,
  },
  {
    name: 'a statement without conditions',
    policy: policyOf({ Effect: 'Allow', Principal: { AWS: '111122223333' }, Action: 'kms:Decrypt', Resource: '*' }),
    request: { operation: 'Decrypt', document: undefined, principal: ROLE },
    decision: 'allow',
    reason: /Statement\[0\] Allow applies: no conditions/,
  },
];

describe('(unit) KMS key policy dry run', () => {
  for (const c of CASES) {
    it(`${c.decision}: ${c.name}`, () => {
      const r = evaluateKeyPolicy(c.policy, c.request);
      assert.equal(r.decision, c.decision, JSON.stringify(r, null, 1));
      assert.ok(
        r.reasons.some((x) => c.reason.test(x)),
        `no reason matches ${c.reason}: ${JSON.stringify(r.reasons, null, 1)}`,
      );
      assert.equal(r.scope, EVALUATION_SCOPE);
    });
  }

  it('says it evaluates only the attestation subset, and what it could not check', () => {
    assert.match(EVALUATION_SCOPE, /attestation part of KMS authorization only/);
    assert.match(EVALUATION_SCOPE, /Not evaluated: other condition keys/);
    const r = evaluateKeyPolicy(
      policyOf(enclaveStatement({ ...pinned(PROD), StringEquals: { 'aws:SourceVpc': 'vpc-1' } })),
      { operation: 'Encrypt', document: documentOf('evervault-2022-10-13-prod.cbor') },
    );
    assert.equal(r.decision, 'deny');
    assert.ok(r.notes.some((n) => /Encrypt does not take an attestation document/.test(n)));
    assert.ok(r.notes.some((n) => /no public_key/.test(n)));
    assert.ok(r.notes.some((n) => /no principal given/.test(n)));
  });

  it('every PCR pinned from a real document allows that document and only it', () => {
    const pcrs = pcrsOf(PROD);
    const condition: Record<string, string> = {};
    for (const [i, v] of Object.entries(pcrs)) condition[pcrKey(Number(i))] = v;
    const policy = policyOf(enclaveStatement({ StringEqualsIgnoreCase: condition }));
    assert.equal(evaluateKeyPolicy(policy, { operation: 'Decrypt', document: documentOf(PROD) }).decision, 'allow');
    assert.equal(
      evaluateKeyPolicy(policy, { operation: 'Decrypt', document: documentOf('turnkey-2025-09-16-a.cbor') }).decision,
      'deny',
    );
  });

  it('a policy that is not an object, or has no statements, denies', () => {
    for (const p of [null, [], 'x', {}])
      assert.equal(evaluateKeyPolicy(p, { operation: 'Decrypt', document: undefined }).decision, 'deny');
  });
});
