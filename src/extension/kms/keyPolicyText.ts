// The KMS key-policy assistant's pieces that need no VS Code: the condition a PCR node copies, and
// the cheap test that tells a JSON document that is a key policy from any other JSON.
import { IMAGE_SHA384_KEY, MAX_POLICY_TEXT, pcrKey, type KeyPolicyFinding } from '../../engine';

/**
 * The key-policy condition entry for a PCR (spec 6.3): `"kms:RecipientAttestation:PCR<n>": "<hex>"`,
 * and for PCR0 the key AWS documents for the image digest, `kms:RecipientAttestation:ImageSha384`
 * (or, asked with `pcr0Key` 'PCR', `kms:RecipientAttestation:PCR0`: the same value).
 * The hex is lower-cased as the generated policy has it (the policy compares ignoring case).
 * Undefined when `name` is not an enclave PCR (`PCR0`..`PCR31`) or `value` not 48 bytes of hex.
 * The trees' Copy KMS Condition and both viewers' PCR rows copy this text.
 */
export function kmsConditionOf(
  name: string,
  value: string,
  pcr0Key: 'ImageSha384' | 'PCR' = 'ImageSha384',
): string | undefined {
  const m = /^PCR(\d{1,2})$/.exec(name);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (n > 31 || !/^[0-9a-fA-F]{96}$/.test(value)) return undefined;
  const key = n === 0 && pcr0Key === 'ImageSha384' ? IMAGE_SHA384_KEY : pcrKey(n);
  return `${JSON.stringify(key)}: ${JSON.stringify(value.toLowerCase())}`;
}

/** Documents longer than this are not linted as key policies (the linter's own bound on its input). */
export const MAX_LINTED_TEXT = MAX_POLICY_TEXT;

/**
 * Whether a JSON document's text looks like a KMS key policy: it names a
 * `kms:RecipientAttestation` condition key, or it has a `Statement` and a `kms:` action. Bounded:
 * text over MAX_LINTED_TEXT characters never counts, and the test is two regular-expression scans.
 */
export function looksLikeKeyPolicy(text: string): boolean {
  if (text.length > MAX_LINTED_TEXT) return false;
  if (/kms:RecipientAttestation/i.test(text)) return true;
  return /"Statement"\s*:/.test(text) && /"kms:[A-Za-z*]/i.test(text);
}

/** A finding's 0-based start position (line, character); a finding without a position: the start. */
export function findingStart(f: KeyPolicyFinding): { line: number; character: number } {
  return { line: Math.max(0, (f.line ?? 1) - 1), character: Math.max(0, (f.column ?? 1) - 1) };
}
