// What the key-policy assistant knows about KMS's attestation condition keys, its operations and
// IAM's policy grammar (spec section 6.3; the IAM JSON policy grammar), shared by the generator,
// the linter and the dry run.

/**
 * The operations that take `Recipient` and to which the attestation condition keys apply (spec
 * 6.1 and 6.3): the original three and the two added later.
 */
export const RECIPIENT_OPERATIONS = [
  'Decrypt',
  'GenerateDataKey',
  'GenerateRandom',
  'GenerateDataKeyPair',
  'DeriveSharedSecret',
] as const;
export type RecipientOperation = (typeof RECIPIENT_OPERATIONS)[number];

/** What the generator grants the enclave by default: the three of the spec's sample statement (6.3). */
export const DEFAULT_OPERATIONS: readonly RecipientOperation[] = ['Decrypt', 'GenerateDataKey', 'GenerateRandom'];

export const IMAGE_SHA384_KEY = 'kms:RecipientAttestation:ImageSha384';
export const pcrKey = (n: number): string => `kms:RecipientAttestation:PCR${n}`;

/** A Nitro Enclaves attestation condition key, by its register: ImageSha384 reads PCR0 (spec 6.3). */
export interface AttestationKey {
  /** The key as written in the policy. */
  readonly name: string;
  /** The PCR the key compares with. */
  readonly pcr: number;
  readonly imageSha384: boolean;
}

/** Condition key names are case-insensitive in IAM; the value after the colon is the key's own. */
export function attestationKeyOf(name: string): AttestationKey | undefined {
  const m = /^kms:recipientattestation:(?:(imagesha384)|pcr(\d{1,3}))$/i.exec(name);
  if (!m) return undefined;
  if (m[1] !== undefined) return { name, pcr: 0, imageSha384: true };
  return { name, pcr: Number(m[2]), imageSha384: false };
}

/** NitroTPM's family (spec 6.3: "do not mix the two"). */
export const isNitroTpmKey = (name: string): boolean => /^kms:recipientattestation:nitrotpmpcr\d+$/i.test(name);

/** Any kms:RecipientAttestation:* key (the Nitro Enclaves ones, NitroTPM's, or a misspelt one). */
export const isRecipientAttestationKey = (name: string): boolean => /^kms:recipientattestation:/i.test(name);

/** An IAM condition operator taken apart: `ForAnyValue:StringLikeIfExists` → set, base, ifExists. */
export interface ConditionOperator {
  readonly text: string;
  readonly set: 'ForAnyValue' | 'ForAllValues' | undefined;
  readonly base: string;
  readonly ifExists: boolean;
}

export function operatorOf(text: string): ConditionOperator {
  let rest = text;
  let set: ConditionOperator['set'];
  const m = /^(ForAnyValue|ForAllValues):/i.exec(rest);
  if (m) {
    set = (m[1] as string).toLowerCase() === 'foranyvalue' ? 'ForAnyValue' : 'ForAllValues';
    rest = rest.slice(m[0].length);
  }
  const ifExists = /IfExists$/.test(rest) && rest !== 'IfExists';
  if (ifExists) rest = rest.slice(0, -'IfExists'.length);
  return { text, set, base: rest, ifExists };
}

/** The string operators IAM defines; the attestation keys are of type String, so only these apply. */
export const STRING_OPERATORS = new Set([
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
]);

/** IAM's other operators: real, but for other types (numbers, dates, booleans, ARNs, addresses, bytes). */
export const OTHER_OPERATORS = new Set([
  'NumericEquals',
  'NumericNotEquals',
  'NumericLessThan',
  'NumericLessThanEquals',
  'NumericGreaterThan',
  'NumericGreaterThanEquals',
  'DateEquals',
  'DateNotEquals',
  'DateLessThan',
  'DateLessThanEquals',
  'DateGreaterThan',
  'DateGreaterThanEquals',
  'Bool',
  'BinaryEquals',
  'IpAddress',
  'NotIpAddress',
  'ArnEquals',
  'ArnLike',
  'ArnNotEquals',
  'ArnNotLike',
]);

/** Whether a string operator is a negated one (true when the key is absent, in IAM's rules). */
export const isNegated = (base: string): boolean => /^String(Not)/.test(base);

/** IAM's wildcard match (`*` any run, `?` one character), case-insensitively for actions. */
export function wildcardMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const v = ignoreCase ? value.toLowerCase() : value;
  // Iterative glob matching with one backtrack point: linear-ish, never exponential.
  let pi = 0;
  let vi = 0;
  let star = -1;
  let mark = 0;
  while (vi < v.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === v[vi])) {
      pi++;
      vi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = vi;
    } else if (star >= 0) {
      pi = star + 1;
      vi = ++mark;
    } else return false;
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/** A policy element that is a string or a list of strings, as a list (anything else: undefined). */
export function stringList(v: unknown): string[] | undefined {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  return undefined;
}

/** Whether a statement's Action / NotAction covers `kms:<operation>`. */
export function statementCoversAction(statement: Record<string, unknown>, operation: string): boolean {
  const action = `kms:${operation}`;
  if ('Action' in statement) return (stringList(statement.Action) ?? []).some((p) => wildcardMatch(p, action, true));
  if ('NotAction' in statement)
    return !(stringList(statement.NotAction) ?? []).some((p) => wildcardMatch(p, action, true));
  return false;
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The statements of a policy with their index (a single statement object counts as index undefined). */
export function statementsOf(policy: unknown): { statement: unknown; index: number | undefined }[] {
  if (!isObject(policy)) return [];
  const s = policy.Statement;
  if (Array.isArray(s)) return (s as unknown[]).map((statement, index) => ({ statement, index }));
  if (s === undefined) return [];
  return [{ statement: s, index: undefined }];
}

/** 48 zero bytes in hex: a PCR in a debug-mode document (spec 4.4) or one never extended. */
export const ZERO_PCR = '0'.repeat(96);
export const PCR_HEX = /^[0-9a-fA-F]{96}$/;
