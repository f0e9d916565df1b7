// The local KMS endpoint, driven by a real client (@aws-sdk/client-kms) and by raw HTTP: every
// operation, Recipient with a document from an emulated enclave's NSM (signed by the development
// CA) whose CiphertextForRecipient is opened by Debian's `openssl cms -decrypt` and by an
// independent reader (cmsReader.ts), the key policy's attestation conditions, real AWS documents at
// their own time, the spec's two CMS vectors, hostile requests, and the key file's mode.
import * as assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateRandomCommand,
  GetKeyPolicyCommand,
  KMSClient,
  ListKeysCommand,
  PutKeyPolicyCommand,
} from '@aws-sdk/client-kms';
import { keyPolicyFor } from '../../../../src/engine/kms/policy';
import { DevelopmentCa, developmentAttestPort } from '../../../../src/engine/node/devAttestation';
import { EmulatorBackend } from '../../../../src/engine/node/emulator/backend';
import { inspectEif } from '../../../../src/engine/node/eifFile';
import { startKmsServer, type KmsRequestRecord, type KmsServer } from '../../../../src/engine/node/kms/server';
import { nodeHashes } from '../../../../src/engine/node/nodeHashes';
import { NsmDevice } from '../../../../src/engine/nsm/device';
import { repoPath } from '../../repo';
import { openEnvelope, readEnvelope } from './cmsReader';

const FIXTURES = repoPath('test/fixtures/attestation');
const EIF = repoPath('test/fixtures/eif/synthetic-v4-signed.eif');
const REGION = 'eu-west-1';
const CALLER = 'AKIAEXAMPLECALLER01';
const unhex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const text = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('utf8');

interface Enclave {
  readonly document: Uint8Array;
  readonly privateKey: KeyObject;
}

/** Fields of a KMS error as the SDK reports it. */
async function kmsError(p: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return {
      name: err.name,
      message: err.message,
      ...(err.$metadata?.httpStatusCode !== undefined ? { status: err.$metadata.httpStatusCode } : {}),
    };
  }
  assert.fail('the request succeeded');
}

/** A raw request: returns status and parsed body. */
function raw(
  url: string,
  options: { headers?: Record<string, string>; body?: string | Buffer; method?: string; chunks?: number },
): Promise<{ status: number; body: { __type?: string; message?: string } & Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'POST', headers: options.headers ?? {} }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const t = Buffer.concat(parts).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: t === '' ? {} : JSON.parse(t) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.chunks !== undefined) {
      // Streams a body (no Content-Length) until the server answers or the connection closes.
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let sent = 0;
      const pump = () => {
        while (sent < (options.chunks as number)) {
          sent++;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      req.on('response', () => (sent = options.chunks as number));
      pump();
    } else req.end(options.body);
  });
}

const SIGV4 =
  `AWS4-HMAC-SHA256 Credential=${CALLER}/20260101/${REGION}/kms/aws4_request, ` +
  'SignedHeaders=host;x-amz-date, Signature=00';
const kmsHeaders = (op: string, extra: Record<string, string> = {}) => ({
  'Content-Type': 'application/x-amz-json-1.1',
  'X-Amz-Target': `TrentService.${op}`,
  Authorization: SIGV4,
  ...extra,
});

describe('(unit) kms: the local KMS endpoint', function () {
  this.timeout(120_000);
  let dir: string;
  let stateDir: string;
  let server: KmsServer;
  let client: KMSClient;
  let ca: DevelopmentCa;
  const records: KmsRequestRecord[] = [];
  const lines: string[] = [];
  let measurements: Record<string, string>;

  /** An emulated enclave of the image (or of other PCRs), its NSM's document carrying a fresh RSA key's SPKI. */
  async function enclave(
    opts: { pcr0?: string; debugMode?: boolean; publicKey?: Uint8Array | null } = {},
  ): Promise<Enclave> {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
    const nsm = new NsmDevice({
      enclaveId: 'i-0123456789abcdef0-enc0123456789abcdef',
      measurements: {
        pcr0: unhex(opts.pcr0 ?? (measurements.PCR0 as string)),
        pcr1: unhex(measurements.PCR1 as string),
        pcr2: unhex(measurements.PCR2 as string),
        pcr8: unhex(measurements.PCR8 as string),
      },
      ...(opts.debugMode ? { debugMode: true } : {}),
      hashes: nodeHashes,
      random: (n) => new Uint8Array(n),
      attest: developmentAttestPort(ca),
    });
    const r = await nsm.handleRequest({
      type: 'Attestation',
      userData: null,
      nonce: null,
      publicKey: opts.publicKey === undefined ? spki : opts.publicKey,
    });
    assert.equal(r.type, 'Attestation', JSON.stringify(r));
    return { document: (r as { document: Uint8Array }).document, privateKey };
  }

  /** A key whose policy is the one `nitro-dev kms policy` writes for the image (PCR0, 1, 2, 8). */
  async function attestedKey(): Promise<string> {
    const policy = keyPolicyFor({
      measurements: {
        PCR0: measurements.PCR0 as string,
        PCR1: measurements.PCR1 as string,
        PCR2: measurements.PCR2 as string,
        PCR8: measurements.PCR8,
      },
      account: '000000000000',
      hashes: nodeHashes,
    });
    const created = await client.send(
      new CreateKeyCommand({ Policy: JSON.stringify(policy), Description: 'attested' }),
    );
    return created.KeyMetadata?.Arn as string;
  }

  /** Opens a CiphertextForRecipient with `openssl cms -decrypt` and the enclave's private key. */
  function opensslOpen(ber: Uint8Array, key: KeyObject): Buffer {
    const work = mkdtempSync(path.join(dir, 'cms-'));
    writeFileSync(path.join(work, 'in.ber'), ber);
    writeFileSync(path.join(work, 'key.pem'), key.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    const r = spawnSync(
      'openssl',
      ['cms', '-decrypt', '-inform', 'DER', '-in', 'in.ber', '-inkey', 'key.pem', '-binary', '-out', 'out.bin'],
      { cwd: work, encoding: 'utf8' },
    );
    assert.equal(r.status, 0, `openssl cms -decrypt: ${r.stderr}`);
    return readFileSync(path.join(work, 'out.bin'));
  }

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-kms-'));
    stateDir = path.join(dir, 'state');
    ca = await DevelopmentCa.load(stateDir);
    const inspection = await inspectEif(EIF);
    if ('error' in inspection.describe) throw inspection.describe.error;
    measurements = inspection.describe.json.Measurements as unknown as Record<string, string>;
    const backend = new EmulatorBackend({ stateDir, watch: false });
    server = await startKmsServer({
      stateDir,
      developmentRoots: await backend.developmentRoots(),
      log: (l) => lines.push(l),
    });
    server.onRequest((r) => records.push(r));
    client = new KMSClient({
      endpoint: server.url,
      region: REGION,
      credentials: { accessKeyId: CALLER, secretAccessKey: 'not-checked' },
      maxAttempts: 1,
    });
  });

  after(async () => {
    client?.destroy();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('binds to 127.0.0.1 only, and does not answer on another address of this machine', async () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const other = Object.values(os.networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (other === undefined) return; // no other interface: the bound address above is the check
    const refused = await new Promise<string>((resolve) => {
      const s = connect({ host: other, port: server.port });
      s.on('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    assert.equal(refused, 'ECONNREFUSED', `the endpoint answered on ${other}`);
  });

  it('answers a client that ends its side as soon as the request is sent (a piped request)', async () => {
    const body = '{}';
    const request =
      'POST / HTTP/1.1\r\nHost: kms\r\nContent-Type: application/x-amz-json-1.1\r\n' +
      'X-Amz-Target: TrentService.ListKeys\r\n' +
      `Authorization: AWS4-HMAC-SHA256 Credential=${CALLER}/20261207/${REGION}/kms/aws4_request, ` +
      'SignedHeaders=host, Signature=00\r\n' +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    const answer = await new Promise<string>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: server.port }, () => s.end(request));
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString()));
      s.on('close', () => resolve(got));
      s.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.match(answer, /"Keys":\[/);
  });

  it('CreateKey, DescribeKey, ListKeys, GetKeyPolicy and PutKeyPolicy through @aws-sdk/client-kms', async () => {
    const created = await client.send(new CreateKeyCommand({ Description: 'first' }));
    const meta = created.KeyMetadata;
    assert.ok(meta?.KeyId);
    assert.match(meta.Arn as string, new RegExp(`^arn:aws:kms:${REGION}:000000000000:key/${meta.KeyId}$`));
    assert.equal(meta.KeySpec, 'SYMMETRIC_DEFAULT');
    assert.equal(meta.KeyUsage, 'ENCRYPT_DECRYPT');
    assert.equal(meta.KeyState, 'Enabled');
    assert.ok(meta.CreationDate instanceof Date);
    assert.deepEqual(meta.EncryptionAlgorithms, ['SYMMETRIC_DEFAULT']);

    for (const id of [meta.KeyId, meta.Arn as string]) {
      const described = await client.send(new DescribeKeyCommand({ KeyId: id }));
      assert.equal(described.KeyMetadata?.Arn, meta.Arn);
      assert.equal(described.KeyMetadata?.Description, 'first');
    }
    const second = await client.send(new CreateKeyCommand({ Description: 'second' }));
    const page1 = await client.send(new ListKeysCommand({ Limit: 1 }));
    assert.equal(page1.Keys?.length, 1);
    assert.equal(page1.Truncated, true);
    const page2 = await client.send(new ListKeysCommand({ Marker: page1.NextMarker }));
    const all = [...(page1.Keys ?? []), ...(page2.Keys ?? [])].map((k) => k.KeyArn);
    assert.ok(all.includes(meta.Arn) && all.includes(second.KeyMetadata?.Arn), JSON.stringify(all));

    const policy = JSON.parse((await client.send(new GetKeyPolicyCommand({ KeyId: meta.KeyId }))).Policy as string);
    assert.equal(policy.Statement[0].Principal.AWS, 'arn:aws:iam::000000000000:root');
    const mine = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' }],
    });
    await client.send(new PutKeyPolicyCommand({ KeyId: meta.Arn, Policy: mine, PolicyName: 'default' }));
    assert.equal((await client.send(new GetKeyPolicyCommand({ KeyId: meta.KeyId }))).Policy, mine);
    const malformed = await kmsError(client.send(new PutKeyPolicyCommand({ KeyId: meta.KeyId, Policy: '{"no":' })));
    assert.equal(malformed.name, 'MalformedPolicyDocumentException');

    const missing = await kmsError(
      client.send(new DescribeKeyCommand({ KeyId: '11111111-2222-3333-4444-555555555555' })),
    );
    assert.deepEqual([missing.name, missing.status], ['NotFoundException', 400]);
    assert.match(missing.message, /does not exist/);
    const otherRegion = new KMSClient({
      endpoint: server.url,
      region: 'us-east-2',
      credentials: { accessKeyId: CALLER, secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    try {
      const elsewhere = await kmsError(otherRegion.send(new DescribeKeyCommand({ KeyId: meta.KeyId })));
      assert.equal(elsewhere.name, 'NotFoundException', 'keys belong to the region they were made in');
    } finally {
      otherRegion.destroy();
    }

    const rec = records.find((r) => r.operation === 'CreateKey');
    assert.equal(rec?.caller, CALLER, 'the access key id is recorded as the caller');
    assert.equal(rec?.region, REGION);
    assert.ok(
      lines.some((l) => l.startsWith(`CreateKey key=${meta.Arn} caller=${CALLER}`)),
      lines.join('\n'),
    );
  });

  it('Encrypt, Decrypt (without KeyId), GenerateDataKey, GenerateRandom; blobs bind key and context', async () => {
    const a = (await client.send(new CreateKeyCommand({}))).KeyMetadata?.Arn as string;
    const b = (await client.send(new CreateKeyCommand({}))).KeyMetadata?.Arn as string;
    const context = { purpose: 'test', tenant: 't1' };
    const enc = await client.send(
      new EncryptCommand({ KeyId: a, Plaintext: Buffer.from('secret message'), EncryptionContext: context }),
    );
    assert.equal(enc.KeyId, a);
    const blob = enc.CiphertextBlob as Uint8Array;
    assert.equal(Buffer.from(blob.subarray(0, 4)).toString('ascii'), 'NDKM');
    const dec = await client.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context }));
    assert.equal(text(dec.Plaintext), 'secret message');
    assert.equal(dec.KeyId, a);
    assert.equal(dec.CiphertextForRecipient, undefined);

    const wrongContext = await kmsError(
      client.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { purpose: 'other', tenant: 't1' } })),
    );
    assert.equal(wrongContext.name, 'InvalidCiphertextException');
    const noContext = await kmsError(client.send(new DecryptCommand({ CiphertextBlob: blob })));
    assert.equal(noContext.name, 'InvalidCiphertextException');
    const tampered = Buffer.from(blob);
    tampered.writeUInt8((tampered.readUInt8(tampered.length - 20) ^ 1) & 0xff, tampered.length - 20);
    assert.equal(
      (await kmsError(client.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: context })))).name,
      'InvalidCiphertextException',
    );
    // The blob's key id changed to another existing key: it does not authenticate under that key.
    const moved = Buffer.from(blob);
    Buffer.from(b.slice(-36), 'ascii').copy(moved, 5);
    assert.equal(
      (await kmsError(client.send(new DecryptCommand({ CiphertextBlob: moved, EncryptionContext: context })))).name,
      'InvalidCiphertextException',
    );
    const incorrect = await kmsError(
      client.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context, KeyId: b })),
    );
    assert.equal(incorrect.name, 'IncorrectKeyException');
    const garbage = await kmsError(
      client.send(new DecryptCommand({ CiphertextBlob: Buffer.from('not a blob at all, just bytes of text') })),
    );
    assert.equal(garbage.name, 'InvalidCiphertextException');

    const dk = await client.send(new GenerateDataKeyCommand({ KeyId: a, KeySpec: 'AES_256' }));
    assert.equal(dk.Plaintext?.length, 32);
    const back = await client.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob }));
    assert.deepEqual(Buffer.from(back.Plaintext as Uint8Array), Buffer.from(dk.Plaintext));
    assert.equal(
      (await client.send(new GenerateDataKeyCommand({ KeyId: a, NumberOfBytes: 100 }))).Plaintext?.length,
      100,
    );
    const both = await kmsError(
      client.send(new GenerateDataKeyCommand({ KeyId: a, NumberOfBytes: 16, KeySpec: 'AES_128' })),
    );
    assert.equal(both.name, 'ValidationException');

    const random = await client.send(new GenerateRandomCommand({ NumberOfBytes: 64 }));
    assert.equal(random.Plaintext?.length, 64);
    const tooMany = await kmsError(client.send(new GenerateRandomCommand({ NumberOfBytes: 1025 })));
    assert.equal(tooMany.name, 'ValidationException');
  });

  it(
    'Decrypt, GenerateDataKey and GenerateRandom with Recipient: CiphertextForRecipient opens with openssl cms ' +
      'and the independent reader, Plaintext omitted',
    async () => {
      const arn = await attestedKey();
      const e = await enclave();
      const recipient = { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' as const, AttestationDocument: e.document };
      // Encrypt is not in the generated policy: seal the secret with a data key made for the enclave.
      const dk = await client.send(new GenerateDataKeyCommand({ KeyId: arn, NumberOfBytes: 32, Recipient: recipient }));
      assert.equal(dk.Plaintext, undefined, 'Plaintext is omitted');
      assert.ok(dk.CiphertextBlob && dk.CiphertextForRecipient);
      const dataKey = opensslOpen(dk.CiphertextForRecipient, e.privateKey);
      assert.equal(dataKey.length, 32);
      assert.deepEqual(openEnvelope(dk.CiphertextForRecipient, e.privateKey), dataKey);

      const dec = await client.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, Recipient: recipient }));
      assert.equal(dec.Plaintext, undefined);
      assert.equal(dec.KeyId, arn);
      const cfr = dec.CiphertextForRecipient as Uint8Array;
      assert.deepEqual(opensslOpen(cfr, e.privateKey), dataKey, 'openssl cms -decrypt yields the data key');
      assert.deepEqual(openEnvelope(cfr, e.privateKey), dataKey);
      const fields = readEnvelope(cfr);
      assert.equal(fields.encryptedKey.length, 256, 'RSA-2048');
      assert.ok(fields.chunked);
      assert.equal(fields.ciphertext.length, 48, '32 bytes and a full block of PKCS#7 padding');

      const random = await client.send(new GenerateRandomCommand({ NumberOfBytes: 1024, Recipient: recipient }));
      assert.equal(random.Plaintext, undefined);
      const bytes = opensslOpen(random.CiphertextForRecipient as Uint8Array, e.privateKey);
      assert.equal(bytes.length, 1024);
      assert.deepEqual(openEnvelope(random.CiphertextForRecipient as Uint8Array, e.privateKey), bytes);
      assert.ok(readEnvelope(random.CiphertextForRecipient as Uint8Array).chunks >= 2, 'long content comes in chunks');
      const rec = records.filter((r) => r.operation === 'Decrypt' && r.recipient).at(-1);
      assert.equal(rec?.decision, 'allow');
      assert.ok(
        lines.some((l) => /^Decrypt key=arn:aws:kms:.* caller=AKIAEXAMPLECALLER01 recipient=yes -> allow$/.test(l)),
        lines.join('\n'),
      );
    },
  );

  it(
    'the key policy: a mismatching PCR0 is denied naming the condition; no Recipient is denied; ' +
      'a debug-mode enclave is denied',
    async () => {
      const arn = await attestedKey();
      const good = await enclave();
      const dk = await client.send(
        new GenerateDataKeyCommand({
          KeyId: arn,
          NumberOfBytes: 32,
          Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: good.document },
        }),
      );
      const other = await enclave({ pcr0: 'ab'.repeat(48) });
      const denied = await kmsError(
        client.send(
          new DecryptCommand({
            CiphertextBlob: dk.CiphertextBlob,
            Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: other.document },
          }),
        ),
      );
      assert.deepEqual([denied.name, denied.status], ['AccessDeniedException', 400]);
      assert.match(denied.message, /kms:Decrypt on resource: arn:aws:kms:/);
      assert.match(denied.message, /AllowOnlyAttestedEnclave/);
      assert.match(
        denied.message,
        new RegExp(`kms:RecipientAttestation:ImageSha384 fails \\(the document's PCR0 is ${'ab'.repeat(48)}\\)`),
      );
      assert.doesNotMatch(denied.message, /PCR1 fails/, 'the other conditions hold');

      const none = await kmsError(client.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob })));
      assert.equal(none.name, 'AccessDeniedException');
      assert.match(none.message, /no attestation document in the request/);
      const gdk = await kmsError(client.send(new GenerateDataKeyCommand({ KeyId: arn, NumberOfBytes: 32 })));
      assert.equal(gdk.name, 'AccessDeniedException');

      const debug = await enclave({ debugMode: true });
      const dbg = await kmsError(
        client.send(
          new DecryptCommand({
            CiphertextBlob: dk.CiphertextBlob,
            Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: debug.document },
          }),
        ),
      );
      assert.equal(dbg.name, 'AccessDeniedException');
      assert.match(dbg.message, /all zeros: debug mode/);
      assert.ok(
        lines.some((l) => /^Decrypt key=arn:\S+ caller=\S+ recipient=yes -> deny AccessDeniedException: /.test(l)),
      );
      assert.ok(server.counters().denied >= 4);
    },
  );

  it(
    'Recipient documents that do not qualify: an untrusted root, no public_key, a key that is not RSA SPKI, ' +
      'another algorithm',
    async () => {
      const arn = (await client.send(new CreateKeyCommand({}))).KeyMetadata?.Arn as string;
      const { CiphertextBlob } = await client.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') }));
      const send = (doc: Uint8Array, c: KMSClient = client) =>
        kmsError(
          c.send(
            new DecryptCommand({
              CiphertextBlob,
              Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: doc },
            }),
          ),
        );
      const noKey = await send((await enclave({ publicKey: null })).document);
      assert.equal(noKey.name, 'ValidationException');
      assert.match(noKey.message, /no public_key/);
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
      const notRsa = await send((await enclave({ publicKey: new Uint8Array(ec) })).document);
      assert.equal(notRsa.name, 'ValidationException');
      assert.match(notRsa.message, /public_key .* is a ec key, not an RSA key/);
      const notDer = await send((await enclave({ publicKey: Buffer.from('-----BEGIN PUBLIC KEY-----') })).document);
      assert.match(notDer.message, /is not a DER SubjectPublicKeyInfo/);

      // The same server without the development root: the emulator's documents do not verify.
      const bare = await startKmsServer({ stateDir: path.join(dir, 'bare') });
      const c = new KMSClient({
        endpoint: bare.url,
        region: REGION,
        credentials: { accessKeyId: 'A', secretAccessKey: 'B' },
        maxAttempts: 1,
      });
      try {
        const random = await kmsError(
          c.send(
            new GenerateRandomCommand({
              NumberOfBytes: 8,
              Recipient: {
                KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
                AttestationDocument: (await enclave()).document,
              },
            }),
          ),
        );
        assert.equal(random.name, 'ValidationException');
        assert.match(random.message, /did not verify/);
        assert.match(random.message, /CN=development\.nitro-emulator.* is not a trusted root/);
      } finally {
        c.destroy();
        await bare.close();
      }

      const sha1 = await raw(server.url, {
        headers: kmsHeaders('GenerateRandom'),
        body: JSON.stringify({
          NumberOfBytes: 8,
          Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_1', AttestationDocument: 'AAAA' },
        }),
      });
      assert.equal(sha1.status, 400);
      assert.equal(sha1.body.__type, 'ValidationException');
      assert.match(sha1.body.message ?? '', /RSAES_OAEP_SHA_256/);
      const huge = await raw(server.url, {
        headers: kmsHeaders('GenerateRandom'),
        body: JSON.stringify({
          NumberOfBytes: 8,
          Recipient: { AttestationDocument: Buffer.alloc(262145).toString('base64') },
        }),
      });
      assert.equal(huge.body.__type, 'ValidationException');
      assert.match(huge.body.message ?? '', /262144/);
    },
  );

  it('real AWS documents at their own time: each verifies, then meets or misses a PCR0 pin', async () => {
    interface Expected {
      readonly file: string;
      readonly timestamp_ms: number;
      readonly signature_valid: boolean;
      readonly chain_valid_at_doc_timestamp: boolean;
      readonly public_key: unknown;
      readonly pcrs?: Record<string, string>;
    }
    const expected = JSON.parse(readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as {
      documents: Expected[];
    };
    let clock = 0;
    const at = await startKmsServer({ stateDir: path.join(dir, 'real'), now: () => clock });
    const atClient = new KMSClient({
      endpoint: at.url,
      region: REGION,
      credentials: { accessKeyId: 'A', secretAccessKey: 'B' },
      maxAttempts: 1,
    });
    const policy = (value: string) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'Pinned',
            Effect: 'Allow',
            Principal: '*',
            Action: 'kms:*',
            Resource: '*',
            Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': value } },
          },
        ],
      });
    const keyFor = async (pcr0: string) =>
      (await atClient.send(new CreateKeyCommand({ Policy: policy(pcr0) }))).KeyMetadata?.Arn as string;
    const other = await keyFor('cd'.repeat(48));
    const request = (keyId: string, bytes: Uint8Array) =>
      kmsError(
        atClient.send(
          new GenerateDataKeyCommand({
            KeyId: keyId,
            NumberOfBytes: 32,
            Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: bytes },
          }),
        ),
      );
    const positives = expected.documents.filter((d) => d.signature_valid && d.chain_valid_at_doc_timestamp);
    assert.ok(positives.length >= 10);
    try {
      for (const d of positives) {
        const bytes = new Uint8Array(readFileSync(path.join(FIXTURES, d.file)));
        const pcr0 = d.pcrs?.['0'] as string;
        clock = d.timestamp_ms;
        // Verified and allowed: what stops it is its public_key, which no real sample has as an RSA SPKI.
        const allowed = await request(await keyFor(pcr0), bytes);
        assert.equal(allowed.name, 'ValidationException', `${d.file}: ${allowed.message}`);
        assert.match(
          allowed.message,
          d.public_key === 'null'
            ? /has no public_key/
            : /public_key of the attestation document in Recipient is not a DER SubjectPublicKeyInfo/,
          `${d.file}: ${allowed.message}`,
        );
        const denied = await request(other, bytes);
        assert.equal(denied.name, 'AccessDeniedException', `${d.file}: ${denied.message}`);
        assert.match(
          denied.message,
          new RegExp(
            `ImageSha384 fails \\(the document's PCR0 is ${pcr0}${/^0+$/.test(pcr0) ? ' \\(all zeros: debug mode\\)' : ''}\\)`,
          ),
          d.file,
        );
        // A second after the leaf expired (3 h 3 s after the document), the chain no longer verifies.
        clock = d.timestamp_ms + 3 * 3600_000 + 4000;
        const expired = await request(other, bytes);
        assert.equal(expired.name, 'ValidationException', d.file);
        assert.match(expired.message, /did not verify/, d.file);
      }
      // The negative vectors do not verify even at their own time.
      for (const file of ['neg-tampered-pcr0-byte.cbor', 'neg-veracruz-bad-sig.cbor', 'neg-truncated.cbor']) {
        clock = 1665651482136;
        const e = await request(other, new Uint8Array(readFileSync(path.join(FIXTURES, file))));
        assert.equal(e.name, 'ValidationException', file);
        assert.match(e.message, /did not verify/, file);
      }
    } finally {
      atClient.destroy();
      await at.close();
    }
  });

  it("parses the spec's two KMS CiphertextForRecipient vectors with the same reader", () => {
    const chunked = readEnvelope(readFileSync(path.join(FIXTURES, 'kms-cms-enveloped-chunked.ber')));
    assert.ok(chunked.chunked);
    assert.equal(chunked.chunks, 1);
    assert.equal(chunked.subjectKeyIdentifier.toString('hex').slice(0, 8), '7087b55d');
    assert.equal(chunked.subjectKeyIdentifier.toString('hex').slice(-4), '2eb1');
    assert.equal(chunked.encryptedKey.length, 256);
    assert.equal(chunked.iv.toString('hex'), '688c6d5f7f31b0fecedf09f2e7c99ac9');
    assert.equal(chunked.ciphertext.length, 48);
    assert.equal(chunked.ciphertext.toString('hex').slice(0, 8), '70e5caaf');
    assert.equal(chunked.ciphertext.toString('hex').slice(-6), '19292e');
    const primitive = readEnvelope(readFileSync(path.join(FIXTURES, 'kms-cms-enveloped-primitive.ber')));
    assert.equal(primitive.chunked, false);
    assert.equal(primitive.iv.toString('hex'), 'e66c1172aee0f2f7be34e3afc6b0e4fe');
    assert.equal(primitive.ciphertext.toString('hex'), '1f943eb0105c1b0644df4f7130448a28');
  });

  it('hostile requests get KMS-style errors, and the endpoint goes on answering', async () => {
    const cases: {
      name: string;
      op?: string;
      headers?: Record<string, string>;
      body?: string | Buffer;
      method?: string;
      type: string;
      status: number;
      message?: RegExp;
    }[] = [
      { name: 'malformed JSON', op: 'Encrypt', body: '{"KeyId": "x", ', type: 'SerializationException', status: 400 },
      { name: 'a JSON array', op: 'ListKeys', body: '[1,2]', type: 'SerializationException', status: 400 },
      { name: 'an unknown operation', op: 'MakeCoffee', body: '{}', type: 'UnknownOperationException', status: 400 },
      {
        name: 'another service',
        headers: { 'X-Amz-Target': 'DynamoDB_20120810.ListTables' },
        body: '{}',
        type: 'UnknownOperationException',
        status: 400,
      },
      { name: 'an operation not modelled', op: 'Sign', body: '{}', type: 'UnsupportedOperationException', status: 400 },
      {
        name: 'a missing field',
        op: 'Encrypt',
        body: '{"Plaintext": "AAAA"}',
        type: 'ValidationException',
        status: 400,
        message: /'keyId' failed to satisfy constraint: Member must not be null/,
      },
      {
        name: 'a wrong-typed field',
        op: 'GenerateRandom',
        body: '{"NumberOfBytes": "8"}',
        type: 'ValidationException',
        status: 400,
        message: /numberOfBytes/,
      },
      {
        name: 'a wrong-typed context',
        op: 'Encrypt',
        body: '{"KeyId": "k", "Plaintext": "AAAA", "EncryptionContext": {"a": 1}}',
        type: 'ValidationException',
        status: 400,
      },
      {
        name: 'a blob that is not base64',
        op: 'Decrypt',
        body: '{"CiphertextBlob": "%%%"}',
        type: 'SerializationException',
        status: 400,
      },
      {
        name: 'a wrong Content-Type',
        op: 'ListKeys',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
        type: 'SerializationException',
        status: 400,
        message: /application\/x-amz-json-1\.1/,
      },
      {
        name: 'no Authorization',
        op: 'ListKeys',
        headers: { Authorization: '' },
        body: '{}',
        type: 'MissingAuthenticationTokenException',
        status: 400,
      },
      {
        name: 'an Authorization that is not SigV4',
        op: 'ListKeys',
        headers: { Authorization: 'Basic YTpi' },
        body: '{}',
        type: 'IncompleteSignatureException',
        status: 400,
      },
      { name: 'a GET', op: 'ListKeys', method: 'GET', type: 'UnknownOperationException', status: 400 },
      { name: 'an alias', op: 'DescribeKey', body: '{"KeyId": "alias/mine"}', type: 'NotFoundException', status: 400 },
      {
        name: 'bytes that are not UTF-8',
        op: 'ListKeys',
        body: Buffer.from([0x7b, 0xff, 0x7d]),
        type: 'SerializationException',
        status: 400,
      },
    ];
    for (const c of cases) {
      const headers = { ...kmsHeaders(c.op ?? 'ListKeys'), ...(c.headers ?? {}) };
      const r = await raw(server.url, {
        headers,
        ...(c.body !== undefined ? { body: c.body } : {}),
        ...(c.method ? { method: c.method } : {}),
      });
      assert.equal(r.body.__type, c.type, `${c.name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.status, c.status, c.name);
      assert.equal(typeof r.body.message, 'string', c.name);
      if (c.message) assert.match(r.body.message as string, c.message, c.name);
    }

    // Over 1 MiB: refused by its Content-Length before reading, and when streamed without one.
    const declared = await raw(server.url, {
      headers: { ...kmsHeaders('ListKeys'), 'Content-Length': String(2 * 1024 * 1024) },
      body: Buffer.alloc(2 * 1024 * 1024, 0x20),
    }).catch((e: NodeJS.ErrnoException) => ({ status: -1, body: { __type: e.code } }));
    assert.equal(declared.status, 413, JSON.stringify(declared));
    assert.equal(declared.body.__type, 'RequestEntityTooLargeException');
    const streamed = await raw(server.url, {
      headers: { ...kmsHeaders('ListKeys'), 'Transfer-Encoding': 'chunked' },
      chunks: 64,
    }).catch((e: NodeJS.ErrnoException) => ({ status: -1, body: { __type: e.code } }));
    assert.equal(streamed.status, 413, JSON.stringify(streamed));
    assert.equal(streamed.body.__type, 'RequestEntityTooLargeException');

    const after = await raw(server.url, { headers: kmsHeaders('ListKeys'), body: '{}' });
    assert.equal(after.status, 200);
    assert.ok(Array.isArray(after.body.Keys));
  });

  it(
    'keeps the keys in <state>/kms/keys.json, 0600 in a 0700 folder, with no temporary file left; ' +
      'a damaged file is never replaced',
    async () => {
      const created = (await client.send(new CreateKeyCommand({ Description: 'on disk' }))).KeyMetadata?.Arn;
      const file = path.join(stateDir, 'kms', 'keys.json');
      assert.equal(server.keyFile, file);
      assert.ok(existsSync(file));
      if (process.platform !== 'win32') {
        assert.equal(statSync(file).mode & 0o777, 0o600);
        assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
      }
      assert.deepEqual(readdirSync(path.dirname(file)), ['keys.json']);
      const keys = await server.listKeys();
      assert.ok(keys.some((k) => k.arn === created && k.description === 'on disk'));
      assert.ok(keys.every((k) => k.arn.endsWith(k.keyId)));

      const damaged = path.join(dir, 'damaged');
      const store = path.join(damaged, 'kms', 'keys.json');
      const s = await startKmsServer({ stateDir: damaged });
      try {
        const c = new KMSClient({
          endpoint: s.url,
          region: REGION,
          credentials: { accessKeyId: 'A', secretAccessKey: 'B' },
          maxAttempts: 1,
        });
        await c.send(new CreateKeyCommand({}));
        writeFileSync(store, '{"format": "nitro-dev local KMS keys", "version": 1, "keys": [');
        const e = await kmsError(c.send(new CreateKeyCommand({})));
        assert.deepEqual([e.name, e.status], ['KMSInternalException', 500]);
        assert.ok(e.message.includes(store), e.message);
        assert.equal(readFileSync(store, 'utf8'), '{"format": "nitro-dev local KMS keys", "version": 1, "keys": [');
        c.destroy();
      } finally {
        await s.close();
      }
    },
  );
});
