// The AWS KMS JSON protocol as the local KMS endpoint speaks it (pure: no Node): the operation
// named by `X-Amz-Target: TrentService.<Op>`, the caller and region from the SigV4 Authorization
// header, KMS-shaped errors (`{"__type": ..., "message": ...}` with the HTTP status KMS uses), and
// the validation of each modelled operation's request. Blobs stay base64 text here; the server
// decodes them. Field limits are the KMS API reference's.

/** The operations the local endpoint performs. */
export const KMS_OPERATIONS = [
  'CreateKey',
  'DescribeKey',
  'ListKeys',
  'PutKeyPolicy',
  'GetKeyPolicy',
  'Encrypt',
  'Decrypt',
  'GenerateDataKey',
  'GenerateRandom',
] as const;
export type KmsOperation = (typeof KMS_OPERATIONS)[number];

/** Real KMS operations the local endpoint does not model: UnsupportedOperationException, not UnknownOperation. */
const UNMODELLED_OPERATIONS = new Set([
  'CancelKeyDeletion',
  'ConnectCustomKeyStore',
  'CreateAlias',
  'CreateCustomKeyStore',
  'CreateGrant',
  'DeleteAlias',
  'DeleteCustomKeyStore',
  'DeleteImportedKeyMaterial',
  'DeriveSharedSecret',
  'DescribeCustomKeyStores',
  'DisableKey',
  'DisableKeyRotation',
  'DisconnectCustomKeyStore',
  'EnableKey',
  'EnableKeyRotation',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'GenerateDataKeyWithoutPlaintext',
  'GenerateMac',
  'GetKeyRotationStatus',
  'GetParametersForImport',
  'GetPublicKey',
  'ImportKeyMaterial',
  'ListAliases',
  'ListGrants',
  'ListKeyPolicies',
  'ListKeyRotations',
  'ListResourceTags',
  'ListRetirableGrants',
  'ReEncrypt',
  'ReplicateKey',
  'RetireGrant',
  'RevokeGrant',
  'RotateKeyOnDemand',
  'ScheduleKeyDeletion',
  'Sign',
  'TagResource',
  'UntagResource',
  'UpdateAlias',
  'UpdateCustomKeyStore',
  'UpdateKeyDescription',
  'UpdatePrimaryRegion',
  'Verify',
  'VerifyMac',
]);

export const KMS_CONTENT_TYPE = 'application/x-amz-json-1.1';
export const KMS_TARGET_PREFIX = 'TrentService.';
/** The largest request body the endpoint reads (a Recipient document is at most 256 KiB, base64 about 342 KiB). */
export const KMS_MAX_BODY_BYTES = 1024 * 1024;
/** Recipient.AttestationDocument: 1..262144 bytes (spec 6.1). */
export const MAX_ATTESTATION_DOCUMENT_BYTES = 262144;
export const RECIPIENT_KEY_ENCRYPTION_ALGORITHM = 'RSAES_OAEP_SHA_256';
/** The key policy's size limit (KMS: 32 KiB). */
export const MAX_KEY_POLICY_CHARS = 32768;

/** A KMS error: its `__type`, the HTTP status KMS answers it with, and the message. */
export class KmsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status: number = 400,
  ) {
    super(message);
    this.name = 'KmsError';
  }

  /** The JSON body KMS sends. */
  body(): { __type: string; message: string } {
    return { __type: this.type, message: this.message };
  }
}

const validation = (message: string) => new KmsError('ValidationException', message);
/** AWS's wording for one failed constraint. */
const constraint = (field: string, what: string, value?: string) =>
  validation(`1 validation error detected: Value ${value ?? 'at'} '${field}' failed to satisfy constraint: ${what}`);

/** The operation an `X-Amz-Target` header names. */
export function operationOfTarget(target: string | undefined): KmsOperation {
  if (target === undefined || target === '')
    throw new KmsError('UnknownOperationException', 'The request has no X-Amz-Target header naming a KMS operation');
  const name = target.startsWith(KMS_TARGET_PREFIX) ? target.slice(KMS_TARGET_PREFIX.length) : undefined;
  if (name !== undefined && (KMS_OPERATIONS as readonly string[]).includes(name)) return name as KmsOperation;
  if (name !== undefined && UNMODELLED_OPERATIONS.has(name))
    throw new KmsError(
      'UnsupportedOperationException',
      `${name} is a KMS operation the local KMS does not model; it performs ${KMS_OPERATIONS.join(', ')}`,
    );
  throw new KmsError(
    'UnknownOperationException',
    `${JSON.stringify(target.slice(0, 100))} is not a KMS operation (X-Amz-Target: ${KMS_TARGET_PREFIX}<Operation>)`,
  );
}

/** Whether a Content-Type header is KMS's (`application/x-amz-json-1.1`, parameters allowed). */
export function isKmsContentType(value: string | undefined): boolean {
  return value !== undefined && value.split(';')[0]?.trim().toLowerCase() === KMS_CONTENT_TYPE;
}

export interface Caller {
  /** The access key id of the SigV4 credential (recorded as the caller; the signature is not checked). */
  readonly accessKeyId: string;
  readonly region: string;
}

/**
 * The caller of a SigV4-signed request: `AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/<service>/aws4_request,
 * SignedHeaders=..., Signature=...`. Any credentials are accepted: the signature is not verified.
 */
export function callerOf(authorization: string | undefined): Caller {
  if (authorization === undefined || authorization.trim() === '')
    throw new KmsError('MissingAuthenticationTokenException', 'Request is missing Authentication Token');
  const m =
    /^AWS4-HMAC-SHA256\s+Credential=([A-Za-z0-9+/=_.-]{1,128})\/(\d{8})\/([a-z0-9-]{1,32})\/([a-z0-9-]{1,32})\/aws4_request\s*,/.exec(
      authorization.slice(0, 1024),
    );
  if (!m)
    throw new KmsError(
      'IncompleteSignatureException',
      'The Authorization header is not an AWS Signature Version 4 header ' +
        '(AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/kms/aws4_request, ...)',
    );
  return { accessKeyId: m[1] as string, region: m[3] as string };
}

/** The request body as JSON: an object, else a SerializationException. */
export function parseRequestBody(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new KmsError(
      'SerializationException',
      `The request body is not JSON: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300),
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new KmsError('SerializationException', 'The request body is not a JSON object');
  return value as Record<string, unknown>;
}

// --- field readers --------------------------------------------------------------------------------

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

function optionalString(body: Record<string, unknown>, field: string, min: number, max: number): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw constraint(lowerFirst(field), 'Member must be a string');
  if (v.length < min) throw constraint(lowerFirst(field), `Member must have length greater than or equal to ${min}`);
  if (v.length > max) throw constraint(lowerFirst(field), `Member must have length less than or equal to ${max}`);
  return v;
}

function requiredString(body: Record<string, unknown>, field: string, min: number, max: number): string {
  const v = optionalString(body, field, min, max);
  if (v === undefined) throw constraint(lowerFirst(field), 'Member must not be null', 'null at');
  return v;
}

function optionalInteger(body: Record<string, unknown>, field: string, min: number, max: number): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw constraint(lowerFirst(field), 'Member must be an integer');
  if (v < min)
    throw constraint(lowerFirst(field), `Member must have value greater than or equal to ${min}`, `'${v}' at`);
  if (v > max) throw constraint(lowerFirst(field), `Member must have value less than or equal to ${max}`, `'${v}' at`);
  return v;
}

function optionalBoolean(body: Record<string, unknown>, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw constraint(lowerFirst(field), 'Member must be a boolean');
  return v;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The decoded length of canonical base64 text. */
export function base64Length(text: string): number {
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return (text.length / 4) * 3 - pad;
}

/** A blob member (base64 in JSON) of `min`..`max` decoded bytes, as its base64 text. */
function blob(body: Record<string, unknown>, field: string, min: number, max: number, required: true): string;
function blob(
  body: Record<string, unknown>,
  field: string,
  min: number,
  max: number,
  required: false,
): string | undefined;
function blob(body: Record<string, unknown>, field: string, min: number, max: number, required: boolean) {
  const v = body[field];
  if (v === undefined || v === null) {
    if (required) throw constraint(lowerFirst(field), 'Member must not be null', 'null at');
    return undefined;
  }
  if (typeof v !== 'string' || !BASE64.test(v))
    throw new KmsError('SerializationException', `${field} must be base64 text (a blob in the JSON protocol)`);
  const n = base64Length(v);
  if (n < min) throw constraint(lowerFirst(field), `Member must have length greater than or equal to ${min}`);
  if (n > max) throw constraint(lowerFirst(field), `Member must have length less than or equal to ${max}`);
  return v;
}

/** EncryptionContext: a map of strings to strings. */
function encryptionContext(body: Record<string, unknown>): Readonly<Record<string, string>> {
  const v = body.EncryptionContext;
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v))
    throw constraint('encryptionContext', 'Member must be a map of strings to strings');
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(v as Record<string, unknown>)) {
    if (typeof value !== 'string')
      throw constraint(
        'encryptionContext',
        `Member must be a map of strings to strings (the value of ${JSON.stringify(k.slice(0, 64))} is not)`,
      );
    out[k] = value;
  }
  if (JSON.stringify(out).length > 8192)
    throw constraint('encryptionContext', 'Member must be at most 8192 characters in all');
  return out;
}

function grantTokens(body: Record<string, unknown>): void {
  const v = body.GrantTokens;
  if (v === undefined || v === null) return;
  if (!Array.isArray(v) || v.length > 10 || v.some((t) => typeof t !== 'string'))
    throw constraint('grantTokens', 'Member must be a list of at most 10 strings');
}

/** EncryptionAlgorithm: only SYMMETRIC_DEFAULT for the symmetric keys the endpoint has. */
function encryptionAlgorithm(body: Record<string, unknown>): void {
  const v = optionalString(body, 'EncryptionAlgorithm', 1, 64);
  if (v === undefined || v === 'SYMMETRIC_DEFAULT') return;
  if (/^(RSAES_OAEP_SHA_(1|256)|SM2PKE)$/.test(v))
    throw new KmsError(
      'InvalidKeyUsageException',
      `${v} is for asymmetric keys; the local KMS's keys are symmetric (SYMMETRIC_DEFAULT)`,
    );
  throw constraint(
    'encryptionAlgorithm',
    'Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]',
    `'${v.slice(0, 64)}' at`,
  );
}

function dryRun(body: Record<string, unknown>): void {
  if (optionalBoolean(body, 'DryRun') === true)
    throw new KmsError('UnsupportedOperationException', 'DryRun is not modelled by the local KMS');
}

export interface RecipientInput {
  readonly keyEncryptionAlgorithm: typeof RECIPIENT_KEY_ENCRYPTION_ALGORITHM;
  /** Base64 of the COSE_Sign1 bytes. */
  readonly attestationDocument: string;
}

function recipient(body: Record<string, unknown>): RecipientInput | undefined {
  const v = body.Recipient;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw constraint('recipient', 'Member must be a structure');
  const r = v as Record<string, unknown>;
  const alg = optionalString(r, 'KeyEncryptionAlgorithm', 1, 64);
  if (alg !== undefined && alg !== RECIPIENT_KEY_ENCRYPTION_ALGORITHM)
    throw constraint(
      'recipient.keyEncryptionAlgorithm',
      `Member must satisfy enum value set: [${RECIPIENT_KEY_ENCRYPTION_ALGORITHM}]`,
      `'${alg}' at`,
    );
  const doc = blob(r, 'AttestationDocument', 1, MAX_ATTESTATION_DOCUMENT_BYTES, false);
  if (doc === undefined) throw constraint('recipient.attestationDocument', 'Member must not be null', 'null at');
  return { keyEncryptionAlgorithm: RECIPIENT_KEY_ENCRYPTION_ALGORITHM, attestationDocument: doc };
}

const KEY_ID_MAX = 2048;

// --- the requests ---------------------------------------------------------------------------------

export interface CreateKeyInput {
  readonly policy?: string;
  readonly description: string;
}
export interface KeyIdInput {
  readonly keyId: string;
}
export interface ListKeysInput {
  readonly limit: number;
  readonly marker?: string;
}
export interface PutKeyPolicyInput {
  readonly keyId: string;
  readonly policy: string;
}
export interface EncryptInput {
  readonly keyId: string;
  readonly plaintext: string;
  readonly encryptionContext: Readonly<Record<string, string>>;
}
export interface DecryptInput {
  readonly keyId?: string;
  readonly ciphertextBlob: string;
  readonly encryptionContext: Readonly<Record<string, string>>;
  readonly recipient?: RecipientInput;
}
export interface GenerateDataKeyInput {
  readonly keyId: string;
  readonly numberOfBytes: number;
  readonly encryptionContext: Readonly<Record<string, string>>;
  readonly recipient?: RecipientInput;
}
export interface GenerateRandomInput {
  readonly numberOfBytes: number;
  readonly recipient?: RecipientInput;
}

export interface KmsInputs {
  CreateKey: CreateKeyInput;
  DescribeKey: KeyIdInput;
  ListKeys: ListKeysInput;
  PutKeyPolicy: PutKeyPolicyInput;
  GetKeyPolicy: KeyIdInput;
  Encrypt: EncryptInput;
  Decrypt: DecryptInput;
  GenerateDataKey: GenerateDataKeyInput;
  GenerateRandom: GenerateRandomInput;
}

function policyName(body: Record<string, unknown>): void {
  const name = optionalString(body, 'PolicyName', 1, 128);
  if (name !== undefined && name !== 'default')
    throw new KmsError(
      'NotFoundException',
      `The key has no policy named ${JSON.stringify(name)}; its one policy is "default"`,
    );
}

function enumValue(body: Record<string, unknown>, field: string, allowed: readonly string[]): string | undefined {
  const v = optionalString(body, field, 1, 64);
  if (v !== undefined && !allowed.includes(v))
    throw new KmsError(
      'UnsupportedOperationException',
      `${field} ${v} is not modelled by the local KMS, which makes ` +
        `${field === 'Origin' ? 'AWS_KMS' : 'symmetric encryption'} keys only (${allowed.join(', ')})`,
    );
  return v;
}

/** Validates one operation's request body into its input; a KmsError names what is wrong. */
export function validateRequest<Op extends KmsOperation>(op: Op, body: Record<string, unknown>): KmsInputs[Op] {
  return VALIDATORS[op](body);
}

const VALIDATORS: { [Op in KmsOperation]: (body: Record<string, unknown>) => KmsInputs[Op] } = {
  CreateKey(body) {
    const policy = optionalString(body, 'Policy', 1, MAX_KEY_POLICY_CHARS);
    const description = optionalString(body, 'Description', 0, 8192) ?? '';
    enumValue(body, 'KeyUsage', ['ENCRYPT_DECRYPT']);
    enumValue(body, 'KeySpec', ['SYMMETRIC_DEFAULT']);
    enumValue(body, 'CustomerMasterKeySpec', ['SYMMETRIC_DEFAULT']);
    enumValue(body, 'Origin', ['AWS_KMS']);
    optionalBoolean(body, 'BypassPolicyLockoutSafetyCheck');
    if (optionalBoolean(body, 'MultiRegion') === true)
      throw new KmsError('UnsupportedOperationException', 'Multi-Region keys are not modelled by the local KMS');
    if (body.CustomKeyStoreId !== undefined && body.CustomKeyStoreId !== null)
      throw new KmsError('UnsupportedOperationException', 'Custom key stores are not modelled by the local KMS');
    if (body.Tags !== undefined && body.Tags !== null && !Array.isArray(body.Tags))
      throw constraint('tags', 'Member must be a list');
    return { ...(policy !== undefined ? { policy } : {}), description };
  },
  DescribeKey(body) {
    grantTokens(body);
    return { keyId: requiredString(body, 'KeyId', 1, KEY_ID_MAX) };
  },
  ListKeys(body) {
    const limit = optionalInteger(body, 'Limit', 1, 1000) ?? 100;
    const marker = optionalString(body, 'Marker', 1, 1024);
    return { limit, ...(marker !== undefined ? { marker } : {}) };
  },
  PutKeyPolicy(body) {
    const keyId = requiredString(body, 'KeyId', 1, KEY_ID_MAX);
    const policy = requiredString(body, 'Policy', 1, MAX_KEY_POLICY_CHARS);
    policyName(body);
    optionalBoolean(body, 'BypassPolicyLockoutSafetyCheck');
    return { keyId, policy };
  },
  GetKeyPolicy(body) {
    const keyId = requiredString(body, 'KeyId', 1, KEY_ID_MAX);
    policyName(body);
    return { keyId };
  },
  Encrypt(body) {
    const keyId = requiredString(body, 'KeyId', 1, KEY_ID_MAX);
    const plaintext = blob(body, 'Plaintext', 1, 4096, true);
    const context = encryptionContext(body);
    grantTokens(body);
    encryptionAlgorithm(body);
    dryRun(body);
    return { keyId, plaintext, encryptionContext: context };
  },
  Decrypt(body) {
    const ciphertextBlob = blob(body, 'CiphertextBlob', 1, 6144, true);
    const keyId = optionalString(body, 'KeyId', 1, KEY_ID_MAX);
    const context = encryptionContext(body);
    grantTokens(body);
    encryptionAlgorithm(body);
    dryRun(body);
    const r = recipient(body);
    return {
      ciphertextBlob,
      encryptionContext: context,
      ...(keyId !== undefined ? { keyId } : {}),
      ...(r ? { recipient: r } : {}),
    };
  },
  GenerateDataKey(body) {
    const keyId = requiredString(body, 'KeyId', 1, KEY_ID_MAX);
    const n = optionalInteger(body, 'NumberOfBytes', 1, 1024);
    const spec = optionalString(body, 'KeySpec', 1, 64);
    if (spec !== undefined && spec !== 'AES_256' && spec !== 'AES_128')
      throw constraint('keySpec', 'Member must satisfy enum value set: [AES_256, AES_128]', `'${spec}' at`);
    if (n !== undefined && spec !== undefined)
      throw validation('Please specify either number of bytes or key spec, not both.');
    if (n === undefined && spec === undefined) throw validation('Please specify either number of bytes or key spec.');
    const context = encryptionContext(body);
    grantTokens(body);
    dryRun(body);
    const r = recipient(body);
    return {
      keyId,
      numberOfBytes: n ?? (spec === 'AES_128' ? 16 : 32),
      encryptionContext: context,
      ...(r ? { recipient: r } : {}),
    };
  },
  GenerateRandom(body) {
    const n = optionalInteger(body, 'NumberOfBytes', 1, 1024);
    if (n === undefined) throw constraint('numberOfBytes', 'Member must not be null', 'null at');
    if (body.CustomKeyStoreId !== undefined && body.CustomKeyStoreId !== null)
      throw new KmsError('UnsupportedOperationException', 'Custom key stores are not modelled by the local KMS');
    const r = recipient(body);
    return { numberOfBytes: n, ...(r ? { recipient: r } : {}) };
  },
};

/** A key's ARN. */
export const keyArn = (region: string, account: string, keyId: string): string =>
  `arn:aws:kms:${region}:${account}:key/${keyId}`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The key id a KeyId parameter names in `region`: a bare key id, or a key ARN of that region. Aliases are not
 * modelled: NotFoundException.
 */
export function keyIdOf(keyId: string, region: string, account: string): string {
  if (UUID.test(keyId)) return keyId;
  const m = /^arn:aws:kms:([a-z0-9-]+):(\d{12}):key\/([0-9a-f-]{36})$/.exec(keyId);
  if (m && UUID.test(m[3] as string)) {
    if (m[1] !== region || m[2] !== account) throw new KmsError('NotFoundException', `Key '${keyId}' does not exist`);
    return m[3] as string;
  }
  if (/^(arn:aws:kms:[^:]*:[^:]*:)?alias\//.test(keyId))
    throw new KmsError('NotFoundException', `Alias ${keyId} is not found (the local KMS does not model aliases)`);
  throw new KmsError('NotFoundException', `Invalid keyId '${keyId.slice(0, 200)}'`);
}
