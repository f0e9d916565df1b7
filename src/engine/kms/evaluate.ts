// A dry run of a key policy against an attestation document: would KMS release the key to this
// enclave? Only the part of IAM's evaluation that concerns enclave attestation is modelled:
// statements whose Action/NotAction covers the operation and whose Principal names the caller,
// their kms:RecipientAttestation:ImageSha384 / PCR<n> conditions checked against the document
// (ImageSha384 = PCR0, spec 6.3), an explicit Deny winning over any Allow, and deny by default.
// Other condition keys, IAM policies, grants, SCPs and the key's state are not evaluated.
import { toHex } from '../util/bytes';
import type { AttestationDocument } from '../attestation/document';
import {
  OTHER_OPERATORS,
  RECIPIENT_OPERATIONS,
  ZERO_PCR,
  attestationKeyOf,
  isNegated,
  isNitroTpmKey,
  isObject,
  operatorOf,
  statementCoversAction,
  statementsOf,
  stringList,
  wildcardMatch,
} from './keys';

export const EVALUATION_SCOPE =
  'Dry run of the attestation part of KMS authorization only: statements matching the action and principal, ' +
  'their kms:RecipientAttestation conditions against the document, explicit Deny over Allow, default deny. ' +
  'Not evaluated: other condition keys (assumed to hold), IAM policies, grants, SCPs, the key state, and the ' +
  "document's signature (check that with verify-attestation).";

export interface EvaluationRequest {
  /** The KMS operation, e.g. Decrypt (a `kms:` prefix is allowed). */
  readonly operation: string;
  /** The decoded document sent as Recipient.AttestationDocument; undefined: a request without Recipient. */
  readonly document: AttestationDocument | undefined;
  /** The caller's ARN; undefined: principals are not checked (every statement's Principal is taken to match). */
  readonly principal?: string;
}

export interface Evaluation {
  readonly decision: 'allow' | 'deny';
  /** Why, statement by statement, the deciding ones first. */
  readonly reasons: readonly string[];
  /** What the dry run did not check, for this request. */
  readonly notes: readonly string[];
  readonly scope: string;
}

interface StatementResult {
  readonly label: string;
  readonly effect: 'Allow' | 'Deny';
  readonly holds: boolean;
  readonly why: string[];
}

/** Evaluates `policy` (a parsed key policy) for one request. */
export function evaluateKeyPolicy(policy: unknown, request: EvaluationRequest): Evaluation {
  const operation = request.operation.replace(/^kms:/i, '');
  const notes: string[] = [];
  const doc = request.document;
  if (!RECIPIENT_OPERATIONS.some((o) => o.toLowerCase() === operation.toLowerCase()))
    notes.push(
      `${operation} does not take an attestation document: the kms:RecipientAttestation keys are absent for it`,
    );
  if (doc && doc.publicKey.state !== 'present')
    notes.push(
      'the document has no public_key: KMS has nothing to encrypt CiphertextForRecipient to, so a real request fails',
    );
  if (request.principal === undefined) notes.push("no principal given: every statement's Principal was taken to match");

  if (!isObject(policy) || policy.Statement === undefined)
    return {
      decision: 'deny',
      reasons: ['the policy has no statements: denied by default'],
      notes,
      scope: EVALUATION_SCOPE,
    };

  const results: StatementResult[] = [];
  for (const { statement, index } of statementsOf(policy)) {
    if (!isObject(statement)) continue;
    const sid = typeof statement.Sid === 'string' && statement.Sid !== '' ? ` (${statement.Sid})` : '';
    const label = `Statement${index === undefined ? '' : `[${index}]`}${sid}`;
    if (statement.Effect !== 'Allow' && statement.Effect !== 'Deny') continue;
    if (!statementCoversAction(statement, operation)) continue;
    if (request.principal !== undefined && !principalMatches(statement, request.principal)) continue;
    const why: string[] = [];
    const holds = conditionsHold(statement.Condition, doc, why, notes, label);
    results.push({ label, effect: statement.Effect, holds, why });
  }

  const line = (r: StatementResult) =>
    `${r.label} ${r.effect} ${r.holds ? 'applies' : 'does not apply'}: ${r.why.join('; ')}`;
  const denies = results.filter((r) => r.effect === 'Deny' && r.holds);
  const allows = results.filter((r) => r.effect === 'Allow' && r.holds);
  const rest = results.filter((r) => !denies.includes(r) && !allows.includes(r));
  if (denies.length > 0)
    return {
      decision: 'deny',
      reasons: [...denies.map((r) => `explicit deny: ${line(r)}`), ...allows.map(line), ...rest.map(line)],
      notes,
      scope: EVALUATION_SCOPE,
    };
  if (allows.length > 0)
    return { decision: 'allow', reasons: [...allows.map(line), ...rest.map(line)], notes, scope: EVALUATION_SCOPE };
  const none =
    results.length === 0
      ? `no statement allows kms:${operation}${request.principal !== undefined ? ` to ${request.principal}` : ''}` +
        ': denied by default'
      : "no Allow statement's conditions hold: denied by default";
  return { decision: 'deny', reasons: [none, ...rest.map(line)], notes, scope: EVALUATION_SCOPE };
}

/** The AWS principals a Principal element names (`*` for everyone). */
function principalsOf(p: unknown): string[] {
  if (p === '*') return ['*'];
  if (isObject(p)) return stringList(p.AWS) ?? [];
  return [];
}

function principalMatches(s: Record<string, unknown>, caller: string): boolean {
  const matches = (names: string[]) =>
    names.some((n) => {
      if (n === '*') return true;
      if (n === caller) return true;
      // The account (`arn:…:root` or the bare ID) stands for its principals, as far as IAM lets them.
      const account = /^arn:[\w-]+:iam::(\d{12}):root$/.exec(n)?.[1] ?? (/^\d{12}$/.test(n) ? n : undefined);
      return account !== undefined && new RegExp(`^arn:[\\w-]+:(?:iam|sts)::${account}:`).test(caller);
    });
  if ('Principal' in s) return matches(principalsOf(s.Principal));
  if ('NotPrincipal' in s) return !matches(principalsOf(s.NotPrincipal));
  return false;
}

/** The document's value for an attestation key, as lower-case hex; undefined when the request has none. */
function documentValue(doc: AttestationDocument | undefined, pcr: number): string | undefined {
  if (!doc || doc.kind !== 'enclave') return undefined;
  const v = doc.pcrs.get(pcr);
  return v === undefined ? undefined : toHex(v).toLowerCase();
}

function conditionsHold(
  condition: unknown,
  doc: AttestationDocument | undefined,
  why: string[],
  notes: string[],
  label: string,
): boolean {
  if (condition === undefined) {
    why.push('no conditions');
    return true;
  }
  if (!isObject(condition)) {
    why.push('its Condition is not an object (KMS would refuse the policy)');
    return false;
  }
  let all = true;
  for (const [opText, block] of Object.entries(condition)) {
    if (!isObject(block)) continue;
    const op = operatorOf(opText);
    for (const [key, raw] of Object.entries(block)) {
      const ak = attestationKeyOf(key);
      if (!ak) {
        const tpm = isNitroTpmKey(key);
        if (tpm && doc?.kind !== 'nitrotpm') {
          why.push(`${key}: the request carries no NitroTPM document`);
          all = false;
        } else {
          notes.push(`${label}: ${opText} on ${key} was not evaluated (assumed to hold)`);
        }
        continue;
      }
      const values = stringList(raw) ?? [];
      const actual = documentValue(doc, ak.pcr);
      const ok = keyHolds(op, values, actual);
      const shown =
        actual === undefined
          ? doc === undefined
            ? 'no attestation document in the request'
            : doc.kind !== 'enclave'
              ? 'the document is not a Nitro Enclaves document'
              : `the document has no PCR${ak.pcr}`
          : `the document's PCR${ak.pcr} is ${actual}${actual === ZERO_PCR ? ' (all zeros: debug mode)' : ''}`;
      why.push(`${opText} ${key} ${ok ? 'holds' : 'fails'} (${shown})`);
      if (!ok) all = false;
    }
  }
  if (why.length === 0) why.push('no conditions on attestation');
  return all;
}

/** IAM's rules for one condition key: values OR-ed, negated operators true on an absent key. */
function keyHolds(op: ReturnType<typeof operatorOf>, values: readonly string[], actual: string | undefined): boolean {
  if (op.base === 'Null') {
    const wantAbsent = values.some((v) => v.toLowerCase() === 'true');
    return wantAbsent === (actual === undefined);
  }
  if (OTHER_OPERATORS.has(op.base) || !/^String/.test(op.base)) return false;
  if (actual === undefined) {
    if (op.ifExists) return true;
    // ForAllValues over an empty set is true; negated string operators hold on an absent key.
    if (op.set === 'ForAllValues') return true;
    return isNegated(op.base);
  }
  const ignoreCase = /IgnoreCase$/.test(op.base);
  const like = /Like$/.test(op.base);
  const positive = values.some((v) =>
    like ? wildcardMatch(v, actual, false) : ignoreCase ? v.toLowerCase() === actual.toLowerCase() : v === actual,
  );
  return isNegated(op.base) ? !positive : positive;
}
