// The key policy for an enclave image: who administers the key, and which enclave may use it.
//
// Choices (spec section 6.3 and the AWS KMS developer guide's "Condition keys for Nitro Enclaves"):
// - The enclave statement compares with StringEqualsIgnoreCase, as the spec and AWS's examples do:
//   hex case then never decides, whatever tool printed the value.
// - PCR0 is pinned through kms:RecipientAttestation:ImageSha384 (the key AWS documents for the
//   image digest; spec 6.3 says it "matches PCR0"), not through PCR0 as well: one key per register
//   keeps the policy free of the two-values-for-one-register confusion the linter reports.
// - PCR1 (kernel and boot ramdisk) and PCR2 (application) are pinned too: PCR0 alone already
//   covers them, but naming them tells a reader what a rebuild changes. PCR8 only for a signed
//   image. PCR3 only with a role ARN: SHA-384(0x00×48 ‖ utf8(ARN)), the same computation the
//   emulated NSM uses (pcrOfText, spec 4.2).
// - The operations are the spec sample's Decrypt, GenerateDataKey and GenerateRandom unless asked
//   otherwise; GenerateDataKeyPair and DeriveSharedSecret may be asked for (spec 6.1).
// - Key administration goes to the account root (so that the key can never be locked out) with
//   the administrative actions named one by one instead of `kms:*`: `kms:*` would also grant
//   Decrypt without any attestation condition, which is what the linter reports.
// - Member order is fixed (Version, Id, Statement; Sid, Effect, Principal, Action, Resource,
//   Condition; ImageSha384, then PCRs by number), so the same inputs give the same bytes.
import { toHex } from '../util/bytes';
import type { HashPort } from '../util/hashPort';
import { pcrOfText } from '../nsm/device';
import {
  DEFAULT_OPERATIONS,
  IMAGE_SHA384_KEY,
  PCR_HEX,
  RECIPIENT_OPERATIONS,
  pcrKey,
  type RecipientOperation,
} from './keys';

export class KeyPolicyInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyPolicyInputError';
  }
}

/** An image's measurements as describe-eif prints them (hex, either case). */
export interface PolicyMeasurements {
  readonly PCR0: string;
  readonly PCR1: string;
  readonly PCR2: string;
  /** Only for a signed image. */
  readonly PCR8?: string;
}

export interface KeyPolicyRequest {
  readonly measurements: PolicyMeasurements;
  /** The parent instance's IAM role: the enclave statement's principal, and PCR3. */
  readonly roleArn?: string;
  /** The 12-digit account that owns the key; default: the role ARN's account. */
  readonly account?: string;
  /** Default: Decrypt, GenerateDataKey, GenerateRandom. */
  readonly operations?: readonly string[];
  /** Needed for PCR3 (a role ARN). */
  readonly hashes?: HashPort;
}

/** The account placeholder when neither an account nor a role ARN is given. */
export const ACCOUNT_PLACEHOLDER = '<account-id>';

/** The key administration actions of AWS's default "key administrators" statement: no use of the key. */
export const ADMIN_ACTIONS = [
  'kms:CancelKeyDeletion',
  'kms:Create*',
  'kms:Delete*',
  'kms:Describe*',
  'kms:Disable*',
  'kms:Enable*',
  'kms:Get*',
  'kms:List*',
  'kms:Put*',
  'kms:Revoke*',
  'kms:ScheduleKeyDeletion',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:Update*',
] as const;

const ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):iam::(\d{12}):role\/[\w+=,.@\-/]{1,512}$/;

function hexOf(name: string, value: string | undefined): string {
  if (value === undefined || !PCR_HEX.test(value))
    throw new KeyPolicyInputError(`${name} must be 96 hex digits (a SHA-384 PCR), got ${JSON.stringify(value)}`);
  return value.toLowerCase();
}

/** The key policy (a JSON object) that lets only an enclave running this image use the key. */
export function keyPolicyFor(request: KeyPolicyRequest): Record<string, unknown> {
  const m = request.measurements;
  const pcr0 = hexOf('PCR0', m.PCR0);
  const pcr1 = hexOf('PCR1', m.PCR1);
  const pcr2 = hexOf('PCR2', m.PCR2);
  const pcr8 = m.PCR8 === undefined ? undefined : hexOf('PCR8', m.PCR8);

  let partition = 'aws';
  let account = request.account;
  if (account !== undefined && !/^\d{12}$/.test(account))
    throw new KeyPolicyInputError(`the account must be a 12-digit AWS account ID, got ${JSON.stringify(account)}`);
  let pcr3: string | undefined;
  if (request.roleArn !== undefined) {
    const r = ROLE_ARN.exec(request.roleArn);
    if (!r)
      throw new KeyPolicyInputError(
        `the role ARN must look like arn:aws:iam::123456789012:role/NAME, got ${JSON.stringify(request.roleArn)}`,
      );
    partition = r[1] as string;
    if (account === undefined) account = r[2];
    if (!request.hashes) throw new KeyPolicyInputError('PCR3 of a role ARN needs a SHA-384 implementation');
    pcr3 = toHex(pcrOfText(request.hashes, request.roleArn));
  }

  const operations = operationsOf(request.operations);
  const root = `arn:${partition}:iam::${account ?? ACCOUNT_PLACEHOLDER}:root`;

  const condition: Record<string, string> = { [IMAGE_SHA384_KEY]: pcr0, [pcrKey(1)]: pcr1, [pcrKey(2)]: pcr2 };
  if (pcr3 !== undefined) condition[pcrKey(3)] = pcr3;
  if (pcr8 !== undefined) condition[pcrKey(8)] = pcr8;

  return {
    Version: '2012-10-17',
    Id: 'nitro-enclave-key-policy',
    Statement: [
      {
        Sid: 'KeyAdministration',
        Effect: 'Allow',
        Principal: { AWS: root },
        Action: [...ADMIN_ACTIONS],
        Resource: '*',
      },
      {
        Sid: 'AllowOnlyAttestedEnclave',
        Effect: 'Allow',
        Principal: { AWS: request.roleArn ?? root },
        Action: operations.map((o) => `kms:${o}`),
        Resource: '*',
        Condition: { StringEqualsIgnoreCase: condition },
      },
    ],
  };
}

function operationsOf(asked: readonly string[] | undefined): RecipientOperation[] {
  if (asked === undefined) return [...DEFAULT_OPERATIONS];
  if (asked.length === 0) throw new KeyPolicyInputError('at least one operation is needed');
  const out: RecipientOperation[] = [];
  for (const a of asked) {
    const name = a.replace(/^kms:/i, '');
    const op = RECIPIENT_OPERATIONS.find((o) => o.toLowerCase() === name.toLowerCase());
    if (!op)
      throw new KeyPolicyInputError(
        `${JSON.stringify(a)} does not take an attestation document; ` +
          `the operations are ${RECIPIENT_OPERATIONS.join(', ')}`,
      );
    if (!out.includes(op)) out.push(op);
  }
  // The documented order, whatever order they were asked in.
  return RECIPIENT_OPERATIONS.filter((o) => out.includes(o));
}
