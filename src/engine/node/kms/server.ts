// The local KMS endpoint: the AWS KMS JSON protocol over HTTP on 127.0.0.1 only (POST /,
// `X-Amz-Target: TrentService.<Op>`, `Content-Type: application/x-amz-json-1.1`), so that any AWS
// SDK pointed at its URL works: CreateKey, DescribeKey, ListKeys, PutKeyPolicy, GetKeyPolicy,
// Encrypt, Decrypt, GenerateDataKey and GenerateRandom, with `Recipient` on the last three.
//
// What is modelled: symmetric keys (SYMMETRIC_DEFAULT) in <state>/kms/keys.json; any SigV4
// credentials are accepted (the signature is not checked) and the access key id is recorded as the
// caller, the region taken from the credential scope; the key policy is evaluated for Encrypt,
// Decrypt and GenerateDataKey with evaluateKeyPolicy (its attestation conditions against the
// Recipient document; principals are not checked, the caller being only an access key id); a
// Recipient document is verified (the AWS Nitro root, and the emulator's development roots when
// given) at the endpoint's clock, and its public_key must be an RSA DER SubjectPublicKeyInfo; the
// secret then comes back as CiphertextForRecipient (cms.ts), Plaintext omitted. Not modelled: IAM
// policies, grants, aliases, key states, rotation, other key specs. GenerateRandom has no key, so no
// key policy: in AWS IAM policies govern it, which are not modelled. Ciphertext blobs are this
// endpoint's own format (ciphertext.ts).
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  KMS_CONTENT_TYPE,
  KMS_MAX_BODY_BYTES,
  KmsError,
  callerOf,
  isKmsContentType,
  keyArn,
  keyIdOf,
  operationOfTarget,
  parseRequestBody,
  validateRequest,
  type Caller,
  type KmsOperation,
  type RecipientInput,
} from '../../kms/protocol';
import { evaluateKeyPolicy } from '../../kms/evaluate';
import { LinkCache, verifyAttestation, type VerifyOptions } from '../../attestation/verify';
import type { AttestationDocument } from '../../attestation/document';
import { nodeAttestationCrypto } from '../attestationCrypto';
import { blobKeyId, openBlob, sealBlob } from './ciphertext';
import { RecipientKeyError, envelopeForRecipient, recipientKey } from './cms';
import { KmsKeyStore, KmsStoreError, type StoredKey } from './keyStore';

/** The account of the keys' ARNs when none is given (the local KMS knows no accounts). */
export const DEFAULT_KMS_ACCOUNT = '000000000000';

type RootOption = NonNullable<VerifyOptions['roots']>[number];

export interface KmsServerOptions {
  /** The emulator's state folder (emulatorStateDir); keys live in `<stateDir>/kms/keys.json`. */
  readonly stateDir: string;
  /** The TCP port on 127.0.0.1; 0 (default): any free port. */
  readonly port?: number;
  /**
   * Roots trusted for Recipient documents besides the AWS Nitro root: the emulator's development roots (e.g.
   * `EmulatorBackend.developmentRoots()`), or a function giving them (asked for each Recipient request).
   */
  readonly developmentRoots?: readonly RootOption[] | (() => Promise<readonly RootOption[]>);
  /** The clock (ms since 1970) documents are verified at, and keys dated with. Default: Date.now. */
  readonly now?: () => number;
  /** One line per request: operation, key, caller, decision. */
  readonly log?: (line: string) => void;
  /** The account in key ARNs. Default: 000000000000. */
  readonly account?: string;
}

/** What one request did. */
export interface KmsRequestRecord {
  readonly operation: string;
  /** The key's ARN, when the request named or used one. */
  readonly keyArn?: string;
  /** The access key id of the SigV4 credentials. */
  readonly caller?: string;
  readonly region?: string;
  readonly recipient: boolean;
  /** `allow`/`deny`: the key policy's decision; `not-evaluated`: an operation the policy is not evaluated for. */
  readonly decision: 'allow' | 'deny' | 'not-evaluated' | 'error';
  readonly status: number;
  /** The KMS error type, for a failed request. */
  readonly error?: string;
  readonly message?: string;
}

export interface KmsKeyInfo {
  readonly keyId: string;
  readonly arn: string;
  readonly region: string;
  readonly description: string;
  readonly creationDate: Date;
  readonly policy: string;
}

export interface KmsCounters {
  readonly requests: number;
  readonly allowed: number;
  readonly denied: number;
  readonly errors: number;
}

export interface KmsServer {
  readonly port: number;
  /** `http://127.0.0.1:<port>`: the endpoint URL for an AWS SDK. */
  readonly url: string;
  /** The key store file. */
  readonly keyFile: string;
  close(): Promise<void>;
  listKeys(): Promise<KmsKeyInfo[]>;
  onRequest(listener: (record: KmsRequestRecord) => void): { dispose(): void };
  counters(): KmsCounters;
}

/** The line `kms serve` prints for a request. */
export function requestLine(r: KmsRequestRecord): string {
  const outcome = r.error ? `${r.decision === 'deny' ? 'deny' : 'error'} ${r.error}: ${r.message ?? ''}` : r.decision;
  return (
    `${r.operation} key=${r.keyArn ?? '-'} caller=${r.caller ?? '-'}` +
    `${r.recipient ? ' recipient=yes' : ''} -> ${outcome}`
  ).replace(/[\r\n]+/g, ' ');
}

/** A request's record while it is answered. */
type Draft = { -readonly [K in keyof KmsRequestRecord]?: KmsRequestRecord[K] };

interface Context {
  readonly caller: Caller;
  readonly account: string;
  record: { keyArn?: string; recipient: boolean; decision: KmsRequestRecord['decision'] };
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const unb64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64'));

function defaultPolicy(account: string): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${account}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    },
    null,
    2,
  );
}

/** A key policy must be a JSON object with a Statement (KMS: MalformedPolicyDocumentException). */
function checkPolicy(text: string): void {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new KmsError('MalformedPolicyDocumentException', `The key policy is not JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new KmsError('MalformedPolicyDocumentException', 'The key policy is not a JSON object');
  const s = (value as { Statement?: unknown }).Statement;
  if (s === undefined || (typeof s !== 'object' && !Array.isArray(s)) || s === null)
    throw new KmsError('MalformedPolicyDocumentException', 'The key policy has no Statement');
}

function metadata(k: StoredKey) {
  return {
    AWSAccountId: k.account,
    KeyId: k.keyId,
    Arn: keyArn(k.region, k.account, k.keyId),
    CreationDate: k.creationDate,
    Enabled: true,
    Description: k.description,
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeyState: 'Enabled',
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
    KeySpec: 'SYMMETRIC_DEFAULT',
    EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    MultiRegion: false,
  };
}

/** Starts the endpoint on 127.0.0.1. */
export async function startKmsServer(options: KmsServerOptions): Promise<KmsServer> {
  const store = KmsKeyStore.of(options.stateDir);
  const now = options.now ?? Date.now;
  const account = options.account ?? DEFAULT_KMS_ACCOUNT;
  if (!/^\d{12}$/.test(account)) throw new RangeError(`the account must be 12 digits, not ${JSON.stringify(account)}`);
  const links = new LinkCache();
  const listeners = new Set<(r: KmsRequestRecord) => void>();
  const counts = { requests: 0, allowed: 0, denied: 0, errors: 0 };

  async function trustedRoots(): Promise<readonly RootOption[]> {
    const r = options.developmentRoots;
    if (r === undefined) return [];
    return typeof r === 'function' ? await r() : r;
  }

  async function findKey(keyId: string, ctx: Context): Promise<StoredKey> {
    const id = keyIdOf(keyId, ctx.caller.region, ctx.account);
    const key = (await store.read()).find((k) => k.keyId === id && k.region === ctx.caller.region);
    if (!key)
      throw new KmsError('NotFoundException', `Key '${keyArn(ctx.caller.region, ctx.account, id)}' does not exist`);
    ctx.record.keyArn = keyArn(key.region, key.account, key.keyId);
    return key;
  }

  /** Verifies a Recipient's document. */
  async function recipientDocument(r: RecipientInput): Promise<AttestationDocument> {
    const bytes = unb64(r.attestationDocument);
    const report = verifyAttestation(
      bytes,
      { roots: await trustedRoots(), at: new Date(now()) },
      nodeAttestationCrypto,
      links,
    );
    if (!report.valid || !report.document)
      throw new KmsError(
        'ValidationException',
        `Recipient.AttestationDocument did not verify: ${report.summary}` +
          report.hints.map((h) => ` (${h.message})`).join(''),
      );
    return report.document;
  }

  /** The key policy's decision; AccessDeniedException naming the statements and conditions when it denies. */
  function authorize(op: KmsOperation, key: StoredKey, document: AttestationDocument | undefined, ctx: Context): void {
    const evaluation = evaluateKeyPolicy(JSON.parse(key.policy), { operation: op, document });
    ctx.record.decision = evaluation.decision;
    if (evaluation.decision === 'deny')
      throw new KmsError(
        'AccessDeniedException',
        `User: ${ctx.caller.accessKeyId} is not authorized to perform: kms:${op} on resource: ` +
          `${keyArn(key.region, key.account, key.keyId)} because the key policy does not allow it: ` +
          evaluation.reasons.join('; '),
      );
  }

  /** The secret for the response: Plaintext, or CiphertextForRecipient to the document's key. */
  function deliver(secret: Uint8Array, spki: Uint8Array | undefined): Record<string, string> {
    if (!spki) return { Plaintext: b64(secret) };
    return { CiphertextForRecipient: b64(recipientCall(() => envelopeForRecipient(secret, spki))) };
  }

  /** Runs `f`, turning a refused recipient key into KMS's ValidationException. */
  function recipientCall<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof RecipientKeyError)
        throw new KmsError(
          'ValidationException',
          `The public_key of the attestation document in Recipient ${e.message}; ` +
            'KMS takes an RSA public key as a DER SubjectPublicKeyInfo',
        );
      throw e;
    }
  }

  /** Recipient (if any) is verified, then the key policy evaluated, then the document's key checked. */
  async function recipientAndPolicy(
    op: KmsOperation,
    key: StoredKey | undefined,
    r: RecipientInput | undefined,
    ctx: Context,
  ): Promise<Uint8Array | undefined> {
    ctx.record.recipient = r !== undefined;
    const document = r ? await recipientDocument(r) : undefined;
    if (key) authorize(op, key, document, ctx);
    if (!document) return undefined;
    // The key's form is checked before any secret is made.
    const pk = document.publicKey;
    if (pk.state !== 'present')
      throw new KmsError(
        'ValidationException',
        'The attestation document in Recipient has no public_key: KMS needs an RSA public key ' +
          '(DER SubjectPublicKeyInfo) to encrypt CiphertextForRecipient to',
      );
    recipientCall(() => recipientKey(pk.value));
    return pk.value;
  }

  const handlers: { [Op in KmsOperation]: (body: Record<string, unknown>, ctx: Context) => Promise<unknown> } = {
    async CreateKey(body, ctx) {
      const input = validateRequest('CreateKey', body);
      const policy = input.policy ?? defaultPolicy(ctx.account);
      checkPolicy(policy);
      const key: StoredKey = {
        keyId: randomUUID(),
        region: ctx.caller.region,
        account: ctx.account,
        creationDate: Math.floor(now()) / 1000,
        description: input.description,
        policy,
        material: b64(randomBytes(32)),
      };
      await store.update((keys) => keys.push(key));
      ctx.record.keyArn = keyArn(key.region, key.account, key.keyId);
      return { KeyMetadata: metadata(key) };
    },
    async DescribeKey(body, ctx) {
      return { KeyMetadata: metadata(await findKey(validateRequest('DescribeKey', body).keyId, ctx)) };
    },
    async ListKeys(body, ctx) {
      const input = validateRequest('ListKeys', body);
      const keys = (await store.read()).filter((k) => k.region === ctx.caller.region);
      let start = 0;
      if (input.marker !== undefined) {
        start = Number(/^\d{1,9}$/.test(input.marker) ? input.marker : NaN);
        if (!Number.isInteger(start) || start > keys.length)
          throw new KmsError('InvalidMarkerException', 'The Marker is not one ListKeys returned');
      }
      const page = keys.slice(start, start + input.limit);
      const next = start + page.length;
      return {
        Keys: page.map((k) => ({ KeyId: k.keyId, KeyArn: keyArn(k.region, k.account, k.keyId) })),
        Truncated: next < keys.length,
        ...(next < keys.length ? { NextMarker: String(next) } : {}),
      };
    },
    async PutKeyPolicy(body, ctx) {
      const input = validateRequest('PutKeyPolicy', body);
      checkPolicy(input.policy);
      const key = await findKey(input.keyId, ctx);
      await store.update((keys) => {
        const i = keys.findIndex((k) => k.keyId === key.keyId && k.region === key.region);
        if (i < 0) throw new KmsError('NotFoundException', `Key '${ctx.record.keyArn}' does not exist`);
        keys[i] = { ...(keys[i] as StoredKey), policy: input.policy };
      });
      return undefined;
    },
    async GetKeyPolicy(body, ctx) {
      const key = await findKey(validateRequest('GetKeyPolicy', body).keyId, ctx);
      return { Policy: key.policy, PolicyName: 'default' };
    },
    async Encrypt(body, ctx) {
      const input = validateRequest('Encrypt', body);
      const key = await findKey(input.keyId, ctx);
      authorize('Encrypt', key, undefined, ctx);
      const blob = sealBlob(key.keyId, unb64(key.material), unb64(input.plaintext), input.encryptionContext);
      return { CiphertextBlob: b64(blob), KeyId: ctx.record.keyArn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    },
    async Decrypt(body, ctx) {
      const input = validateRequest('Decrypt', body);
      const blob = unb64(input.ciphertextBlob);
      const named = blobKeyId(blob);
      if (named === undefined)
        throw new KmsError('InvalidCiphertextException', 'The ciphertext is not a ciphertext blob of the local KMS');
      let key: StoredKey;
      try {
        key = await findKey(named, ctx);
      } catch (e) {
        if (e instanceof KmsError && e.type === 'NotFoundException')
          throw new KmsError(
            'InvalidCiphertextException',
            'The ciphertext names a key this local KMS does not have in this region',
          );
        throw e;
      }
      if (input.keyId !== undefined && keyIdOf(input.keyId, ctx.caller.region, ctx.account) !== key.keyId)
        throw new KmsError(
          'IncorrectKeyException',
          'The key ID in the request does not identify the KMS key used to encrypt the ciphertext ' +
            `(${ctx.record.keyArn})`,
        );
      const spki = await recipientAndPolicy('Decrypt', key, input.recipient, ctx);
      const plaintext = openBlob(blob, unb64(key.material), input.encryptionContext);
      if (!plaintext)
        throw new KmsError(
          'InvalidCiphertextException',
          'The ciphertext does not authenticate under its key with this encryption context ' +
            '(altered, or another context)',
        );
      return { KeyId: ctx.record.keyArn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT', ...deliver(plaintext, spki) };
    },
    async GenerateDataKey(body, ctx) {
      const input = validateRequest('GenerateDataKey', body);
      const key = await findKey(input.keyId, ctx);
      const spki = await recipientAndPolicy('GenerateDataKey', key, input.recipient, ctx);
      const dataKey = new Uint8Array(randomBytes(input.numberOfBytes));
      const blob = sealBlob(key.keyId, unb64(key.material), dataKey, input.encryptionContext);
      return { CiphertextBlob: b64(blob), KeyId: ctx.record.keyArn, ...deliver(dataKey, spki) };
    },
    async GenerateRandom(body, ctx) {
      const input = validateRequest('GenerateRandom', body);
      const spki = await recipientAndPolicy('GenerateRandom', undefined, input.recipient, ctx);
      return deliver(new Uint8Array(randomBytes(input.numberOfBytes)), spki);
    },
  };

  async function answer(req: IncomingMessage, bodyText: string, record: Draft): Promise<unknown> {
    if (req.method !== 'POST')
      throw new KmsError('UnknownOperationException', `The local KMS takes POST requests to /, not ${req.method}`);
    const op = operationOfTarget(req.headers['x-amz-target'] as string | undefined);
    record.operation = op;
    const caller = callerOf(req.headers.authorization);
    record.caller = caller.accessKeyId;
    record.region = caller.region;
    if (!isKmsContentType(req.headers['content-type']))
      throw new KmsError(
        'SerializationException',
        `The Content-Type is ${JSON.stringify(String(req.headers['content-type'] ?? '(none)').slice(0, 100))}; ` +
          `KMS takes ${KMS_CONTENT_TYPE}`,
      );
    const body = parseRequestBody(bodyText);
    const ctx: Context = { caller, account, record: { recipient: false, decision: 'not-evaluated' } };
    try {
      return await handlers[op](body, ctx);
    } finally {
      Object.assign(record, ctx.record);
    }
  }

  function finish(res: ServerResponse, status: number, payload: unknown, close: boolean): void {
    const text = payload === undefined ? '' : JSON.stringify(payload);
    res.writeHead(status, {
      'Content-Type': KMS_CONTENT_TYPE,
      'Content-Length': Buffer.byteLength(text),
      'x-amzn-RequestId': randomUUID(),
      ...(close ? { Connection: 'close' } : {}),
    });
    res.end(text);
  }

  function report(record: KmsRequestRecord): void {
    counts.requests++;
    if (record.error) {
      if (record.decision === 'deny') counts.denied++;
      else counts.errors++;
    } else if (record.decision === 'allow') counts.allowed++;
    options.log?.(requestLine(record));
    for (const l of listeners) {
      try {
        l(record);
      } catch {
        /* a listener's failure is its own */
      }
    }
  }

  function fail(res: ServerResponse, e: unknown, record: Draft, close = false): void {
    const error =
      e instanceof KmsError
        ? e
        : e instanceof KmsStoreError
          ? new KmsError('KMSInternalException', e.message, 500)
          : new KmsError(
              'KMSInternalException',
              `The local KMS failed: ${e instanceof Error ? e.message : String(e)}`,
              500,
            );
    finish(res, error.status, error.body(), close);
    report({
      operation: record.operation ?? '(unknown)',
      recipient: record.recipient ?? false,
      decision: record.decision === 'deny' ? 'deny' : 'error',
      status: error.status,
      error: error.type,
      message: error.message,
      ...(record.keyArn ? { keyArn: record.keyArn } : {}),
      ...(record.caller ? { caller: record.caller } : {}),
      ...(record.region ? { region: record.region } : {}),
    });
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const record: Draft = {};
    const tooLarge = () => {
      // Stop reading: the rest of the body is never buffered, and the connection ends with the answer.
      req.removeAllListeners('data');
      req.pause();
      fail(
        res,
        new KmsError(
          'RequestEntityTooLargeException',
          `The request body is larger than the ${KMS_MAX_BODY_BYTES} bytes the local KMS reads`,
          413,
        ),
        record,
        true,
      );
      res.on('finish', () => req.socket.destroySoon());
    };
    const declared = Number(req.headers['content-length'] ?? 0);
    if (Number.isFinite(declared) && declared > KMS_MAX_BODY_BYTES) {
      tooLarge();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > KMS_MAX_BODY_BYTES) {
        over = true;
        tooLarge();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      if (over) return;
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
      } catch {
        fail(res, new KmsError('SerializationException', 'The request body is not UTF-8 text'), record);
        return;
      }
      answer(req, text, record).then(
        (payload) => {
          finish(res, 200, payload, false);
          report({
            operation: record.operation ?? '(unknown)',
            recipient: record.recipient ?? false,
            decision: record.decision ?? 'not-evaluated',
            status: 200,
            ...(record.keyArn ? { keyArn: record.keyArn } : {}),
            ...(record.caller ? { caller: record.caller } : {}),
            ...(record.region ? { region: record.region } : {}),
          });
        },
        (e: unknown) => fail(res, e, record),
      );
    });
  }

  const server = createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => {
    try {
      handle(req, res);
    } catch (e) {
      fail(res, e, {});
    }
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  // A client that ends its side once the request is sent (`nitro-dev vsock connect` or socat piping a
  // request through a vsock-proxy) still gets its answer: Node's HTTP server would otherwise abort the
  // request at the client's end of stream (http.Server's long-standing httpAllowHalfOpen switch).
  (server as unknown as { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: options.port ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    keyFile: store.file,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    async listKeys() {
      return (await store.read()).map((k) => ({
        keyId: k.keyId,
        arn: keyArn(k.region, k.account, k.keyId),
        region: k.region,
        description: k.description,
        creationDate: new Date(k.creationDate * 1000),
        policy: k.policy,
      }));
    },
    onRequest(listener) {
      listeners.add(listener);
      return { dispose: () => void listeners.delete(listener) };
    },
    counters: () => ({ ...counts }),
  };
}
