// The key-policy linter: the mistakes people make with KMS and Nitro Enclaves attestation
// (landscape "KMS policy and attestation confusion"; spec section 6.3), each reported with the
// JSON path of what it is about and, when the policy was given as text, its line and column.
import { PolicyJsonError, parsePolicyJson, pathText, type PathPart, type TextPosition } from './policyJson';
import {
  OTHER_OPERATORS,
  PCR_HEX,
  RECIPIENT_OPERATIONS,
  STRING_OPERATORS,
  ZERO_PCR,
  attestationKeyOf,
  isNegated,
  isNitroTpmKey,
  isObject,
  isRecipientAttestationKey,
  operatorOf,
  statementCoversAction,
  statementsOf,
  stringList,
} from './keys';

/** PutKeyPolicy's limit on the Policy parameter. */
export const KMS_POLICY_MAX_BYTES = 32768;

export type KeyPolicyRule =
  | 'json'
  | 'shape'
  | 'unattested-grant'
  | 'zero-pcr'
  | 'image-sha384-pcr0'
  | 'pcr-hex'
  | 'operator'
  | 'pcr-index'
  | 'mixed-tpm'
  | 'duplicate-key';

export interface KeyPolicyFinding {
  readonly severity: 'error' | 'warning';
  readonly rule: KeyPolicyRule;
  readonly message: string;
  /** `Statement[1].Condition.StringEqualsIgnoreCase`, or `$` for the whole policy. */
  readonly path: string;
  /** 1-based, when the policy was given as text. */
  readonly line?: number;
  readonly column?: number;
}

/** Lints a key policy given as JSON text (positions reported) or as a parsed value. */
export function lintKeyPolicy(policy: unknown): KeyPolicyFinding[] {
  let value: unknown;
  let positions: ReadonlyMap<string, TextPosition> | undefined;
  const out: KeyPolicyFinding[] = [];
  if (typeof policy === 'string') {
    try {
      const parsed = parsePolicyJson(policy);
      value = parsed.value;
      positions = parsed.positions;
      for (const d of parsed.duplicates)
        out.push({
          severity: 'warning',
          rule: 'duplicate-key',
          message: `${d.path.split(/[.[]/).pop()?.replace(/[\]"]/g, '')} is given twice in one object; KMS refuses such a policy (and JSON readers keep only the last)`,
          path: d.path,
          line: d.position.line,
          column: d.position.column,
        });
    } catch (e) {
      if (!(e instanceof PolicyJsonError)) throw e;
      return [
        { severity: 'error', rule: 'json', message: `not JSON: ${e.message}`, path: '$', ...lineColumn(e.position) },
      ];
    }
    const bytes = new TextEncoder().encode(policy).length;
    if (bytes > KMS_POLICY_MAX_BYTES)
      out.push({
        severity: 'error',
        rule: 'shape',
        message: `the policy is ${bytes} bytes; KMS accepts key policies of at most ${KMS_POLICY_MAX_BYTES} bytes`,
        path: '$',
        line: 1,
        column: 1,
      });
  } else {
    value = policy;
  }
  const add = (severity: KeyPolicyFinding['severity'], rule: KeyPolicyRule, parts: PathPart[], message: string) => {
    const path = pathText(parts);
    const at = positions?.get(path);
    out.push({ severity, rule, message, path, ...(at ? lineColumn(at) : {}) });
  };
  lintValue(value, add);
  // Document order (by position when known, else by path), errors before warnings at one place.
  return out.sort(
    (a, b) =>
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.column ?? 0) - (b.column ?? 0) ||
      (a.path < b.path ? -1 : a.path > b.path ? 1 : 0) ||
      (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1),
  );
}

const lineColumn = (p: TextPosition) => ({ line: p.line, column: p.column });

type Add = (severity: KeyPolicyFinding['severity'], rule: KeyPolicyRule, parts: PathPart[], message: string) => void;

function lintValue(policy: unknown, add: Add): void {
  if (!isObject(policy)) {
    add('error', 'shape', [], 'a key policy is a JSON object with a Statement list');
    return;
  }
  if (policy.Version !== '2012-10-17')
    add(
      'warning',
      'shape',
      policy.Version === undefined ? [] : ['Version'],
      'the policy language version should be "2012-10-17"',
    );
  if (policy.Statement === undefined) {
    add('error', 'shape', [], 'the policy has no Statement');
    return;
  }
  for (const { statement, index } of statementsOf(policy)) {
    const at: PathPart[] = index === undefined ? ['Statement'] : ['Statement', index];
    if (!isObject(statement)) {
      add('error', 'shape', at, 'a statement is a JSON object');
      continue;
    }
    lintStatement(statement, at, add);
  }
}

function lintStatement(s: Record<string, unknown>, at: PathPart[], add: Add): void {
  const allow = s.Effect === 'Allow';
  const granted = RECIPIENT_OPERATIONS.filter((o) => statementCoversAction(s, o));
  const condition = s.Condition;
  let attested = false;
  // Values per register, to find two keys that pin one register (ImageSha384 and PCR0) differently.
  const byRegister = new Map<number, { key: string; value: string; path: PathPart[] }[]>();
  let tpm = false;

  if (condition !== undefined && !isObject(condition))
    add('error', 'shape', [...at, 'Condition'], 'Condition is a JSON object');
  if (isObject(condition)) {
    for (const [opText, block] of Object.entries(condition)) {
      const opPath = [...at, 'Condition', opText];
      if (!isObject(block)) {
        add('error', 'shape', opPath, `${opText} takes an object of condition keys`);
        continue;
      }
      const op = operatorOf(opText);
      for (const [key, raw] of Object.entries(block)) {
        if (isNitroTpmKey(key)) tpm = true;
        const ak = attestationKeyOf(key);
        const keyPath = [...opPath, key];
        if (!ak) {
          if (isRecipientAttestationKey(key) && !isNitroTpmKey(key))
            add(
              'error',
              'shape',
              keyPath,
              `${key} is not a Nitro Enclaves condition key; they are kms:RecipientAttestation:ImageSha384 ` +
                'and kms:RecipientAttestation:PCR<n>',
            );
          continue;
        }
        if (ak.pcr > 31) add('error', 'pcr-index', keyPath, `${key}: an enclave has PCR0 to PCR31`);
        const effective = lintOperator(op, key, allow, opPath, add);
        if (effective) attested = true;
        const values = stringList(raw);
        if (values === undefined) {
          add('error', 'shape', keyPath, `the value of ${key} must be a string (or a list of strings)`);
          continue;
        }
        if (op.base === 'Null') continue;
        for (const [i, v] of values.entries()) {
          const vPath = Array.isArray(raw) ? [...keyPath, i] : keyPath;
          lintValueOf(ak.imageSha384, ak.pcr, key, v, op.base, vPath, add);
          if (PCR_HEX.test(v)) {
            const list = byRegister.get(ak.pcr) ?? [];
            list.push({ key, value: v.toLowerCase(), path: vPath });
            byRegister.set(ak.pcr, list);
          }
        }
      }
    }
  }

  // ImageSha384 and PCR0 name one register; two different values can never both match.
  for (const entries of byRegister.values()) {
    const first = entries[0];
    if (!first) continue;
    const other = entries.find((e) => e.value !== first.value && e.key.toLowerCase() !== first.key.toLowerCase());
    if (other && first.value !== other.value)
      add(
        'error',
        'image-sha384-pcr0',
        other.path,
        `${other.key} and ${first.key} both compare with PCR0 (ImageSha384 is PCR0) but with different values: ` +
          'no enclave can match both',
      );
  }
  // One value under two different registers: almost always a value pasted under the wrong key.
  const seen = new Map<string, { key: string; pcr: number }>();
  for (const [pcr, entries] of byRegister)
    for (const e of entries) {
      if (e.value === ZERO_PCR) continue;
      const prior = seen.get(e.value);
      if (prior && prior.pcr !== pcr)
        add(
          'warning',
          'image-sha384-pcr0',
          e.path,
          `${e.key} has the same value as ${prior.key}; PCR${prior.pcr} and PCR${pcr} are different registers ` +
            `(ImageSha384 is PCR0): the value is probably under the wrong key`,
        );
      else seen.set(e.value, { key: e.key, pcr });
    }

  if (tpm && byRegister.size > 0)
    add(
      'warning',
      'mixed-tpm',
      [...at, 'Condition'],
      'NitroTPM keys (NitroTPMPCR<n>) and Nitro Enclaves keys in one statement: a document is one or the other, ' +
        'so no request satisfies both',
    );

  if (allow && granted.length > 0 && !attested) {
    add(
      'error',
      'unattested-grant',
      at,
      `this statement allows ${granted.map((g) => `kms:${g}`).join(', ')} without an attestation condition: ` +
        `its principals get the plaintext outside any enclave. Add a StringEqualsIgnoreCase condition on ` +
        `kms:RecipientAttestation:ImageSha384 (PCR0) and the other PCRs, or leave these actions out of it`,
    );
  }
}

/** Reports a wrong operator; returns whether the condition actually requires an attested enclave. */
function lintOperator(
  op: ReturnType<typeof operatorOf>,
  key: string,
  allow: boolean,
  opPath: PathPart[],
  add: Add,
): boolean {
  if (op.base === 'Null') {
    add(
      'error',
      'operator',
      opPath,
      `Null on ${key} only asks whether some attestation document came with the request: any enclave, ` +
        `in debug mode or running another image, passes. Compare the value with StringEqualsIgnoreCase`,
    );
    return false;
  }
  if (OTHER_OPERATORS.has(op.base)) {
    add(
      'error',
      'operator',
      opPath,
      `${key} is a string; KMS does not allow ${op.base} with it. Use StringEqualsIgnoreCase`,
    );
    return false;
  }
  if (!STRING_OPERATORS.has(op.base)) {
    add('error', 'operator', opPath, `${op.text} is not an IAM condition operator`);
    return false;
  }
  if (op.set === 'ForAllValues') {
    add(
      'error',
      'operator',
      opPath,
      `ForAllValues on the single-valued ${key} holds when the request has no attestation document at all: ` +
        'use StringEqualsIgnoreCase',
    );
    return false;
  }
  if (op.set === 'ForAnyValue')
    add('warning', 'operator', opPath, `${key} is single-valued: drop ForAnyValue and use StringEqualsIgnoreCase`);
  if (op.ifExists && allow) {
    add(
      'error',
      'operator',
      opPath,
      `${op.text} holds when the request carries no attestation document, ` +
        'so this Allow lets requests from outside any enclave through',
    );
    return false;
  }
  if (isNegated(op.base)) {
    if (allow) {
      add(
        'error',
        'operator',
        opPath,
        `${op.base} in an Allow grants every enclave except the one named (and requests with no document at all); ` +
          `use StringEqualsIgnoreCase`,
      );
      return false;
    }
    return true;
  }
  if (op.base === 'StringEquals')
    add(
      'warning',
      'operator',
      opPath,
      `StringEquals is case-sensitive; AWS documents StringEqualsIgnoreCase for ${key}`,
    );
  if (op.base === 'StringLike')
    add('warning', 'operator', opPath, `StringLike on ${key}: a PCR is compared whole; use StringEqualsIgnoreCase`);
  return allow;
}

function lintValueOf(
  imageSha384: boolean,
  pcr: number,
  key: string,
  v: string,
  base: string,
  path: PathPart[],
  add: Add,
): void {
  if (/Like$/.test(base) && /[*?]/.test(v)) {
    add(
      'error',
      'operator',
      path,
      `the wildcard in ${key}'s value lets any image whose PCR${pcr} fits the pattern through; ` +
        'give the full 96-digit value',
    );
    return;
  }
  if (!PCR_HEX.test(v)) {
    const hint =
      imageSha384 && /^(sha256:)?[0-9a-fA-F]{64}$/.test(v)
        ? ': this looks like a SHA-256 image digest (a Docker one?); ' +
          "ImageSha384 is the enclave image's PCR0 as describe-eif prints it"
        : /^0x/i.test(v) || /:/.test(v)
          ? ': write the bare hex, without 0x or colons'
          : '';
    add('error', 'pcr-hex', path, `${key} must be 96 hex digits (a SHA-384 PCR), not ${v.length} characters${hint}`);
    return;
  }
  if (v === ZERO_PCR && (pcr <= 2 || pcr === 8))
    add(
      'error',
      'zero-pcr',
      path,
      `${key} is all zeros: that is what a debug-mode enclave reports, so any image run in debug mode matches. ` +
        `Use the PCR${pcr} from describe-eif`,
    );
  else if (v === ZERO_PCR)
    add('warning', 'zero-pcr', path, `${key} is all zeros: it matches any enclave in which PCR${pcr} was never set`);
}
