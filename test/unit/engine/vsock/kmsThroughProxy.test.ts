/* eslint-disable max-len -- the attached application is a script in a string, kept as one would write it */
// The whole path an enclave's secret takes on the emulator, as on EC2: the attached application asks
// its NSM for an attestation document carrying its RSA public key, calls KMS Decrypt with Recipient
// over vsock to the parent's port 8000, where a vsock-proxy forwards to the local KMS; KMS checks the
// document and the key policy's ImageSha384 condition and answers with CiphertextForRecipient,
// which only the application's private key opens (checked with Debian's `openssl cms -decrypt`).
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeRequest } from '../../../../src/engine/nsm/protocol';
import { EmulatorBackend } from '../../../../src/engine/node/emulator/backend';
import { startKmsServer, type KmsServer } from '../../../../src/engine/node/kms/server';
import { vsockDirOf } from '../../../../src/engine/node/vsock/endpoints';
import { startVsockProxy, type VsockProxy } from '../../../../src/engine/node/vsockproxy/proxy';
import { toHex } from '../../../../src/engine/util/bytes';
import { expectedEif } from '../../eifFixtures';
import { repoPath } from '../../repo';

const cli = repoPath('dist/cli.js');
const signed = repoPath('test/fixtures/eif/synthetic-v4-signed.eif');

/** The attached application: NSM Attestation with its key, then a Decrypt with Recipient per blob, over vsock 3:8000. */
const APP = `
const net = require('node:net'), http = require('node:http'), path = require('node:path');
const { decode } = require(process.argv[2]);
const request = Buffer.from(process.argv[3], 'hex');
const blobs = process.argv.slice(4);
function nsm() {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(process.env.NITRO_NSM_SOCKET, () => {
      const h = Buffer.alloc(4); h.writeUInt32BE(request.length); s.write(Buffer.concat([h, request]));
    });
    let b = Buffer.alloc(0);
    s.on('data', (d) => {
      b = Buffer.concat([b, d]);
      if (b.length >= 4 && b.length >= 4 + b.readUInt32BE(0)) { s.end(); resolve(b.subarray(4, 4 + b.readUInt32BE(0))); }
    });
    s.on('error', reject);
  });
}
function decrypt(blob, document) {
  const body = JSON.stringify({
    CiphertextBlob: blob,
    Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: Buffer.from(document).toString('base64') },
  });
  const endpoint = path.join(process.env.NITRO_VSOCK_DIR, process.env.NITRO_PARENT_CID + '.8000.sock');
  return new Promise((resolve, reject) => {
    const req = http.request({
      method: 'POST', path: '/', host: 'kms.us-east-1.amazonaws.com',
      createConnection: () => net.createConnection(endpoint),
      headers: {
        'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'TrentService.Decrypt',
        'X-Amz-Date': '20261207T000000Z',
        Authorization: 'AWS4-HMAC-SHA256 Credential=AKIDENCLAVEAPP/20261207/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=00',
        'Content-Length': Buffer.byteLength(body),
      },
    }, (res) => { let t = ''; res.on('data', (d) => (t += d)); res.on('end', () => resolve(res.statusCode + ' ' + t)); });
    req.on('error', reject);
    req.end(body);
  });
}
(async () => {
  const document = decode(await nsm()).Attestation.document;
  for (const blob of blobs) console.log('KMS ' + (await decrypt(blob, document)));
  console.log('APP done');
  setInterval(() => {}, 1000);
})().catch((e) => console.log('APP failed ' + e.message));
`;

async function waitFor(cond: () => boolean, what: string, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('(unit) an attached application reaches the local KMS through the emulated vsock-proxy', function () {
  this.timeout(180_000);
  let state: string;
  let backend: EmulatorBackend;
  let kms: KmsServer | undefined;
  let proxy: VsockProxy | undefined;

  beforeEach(() => {
    assert.ok(existsSync(cli), 'build dist/cli.js first');
    state = mkdtempSync(path.join(os.tmpdir(), 'ndkms-'));
    backend = new EmulatorBackend({ stateDir: state, watch: false, hostScript: cli });
  });

  afterEach(async () => {
    await proxy?.close();
    await kms?.close();
    await backend.terminateAllHosts();
    backend.dispose();
    rmSync(state, { recursive: true, force: true });
  });

  async function call(op: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const r = await fetch((kms as KmsServer).url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-amz-json-1.1',
        'X-Amz-Target': `TrentService.${op}`,
        'X-Amz-Date': '20261207T000000Z',
        Authorization:
          'AWS4-HMAC-SHA256 Credential=AKIDTEST/20261207/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00',
      },
      body: JSON.stringify(body),
    });
    return { status: r.status, json: (await r.json()) as Record<string, unknown> };
  }

  /** A key that lets the enclave decrypt only when the document's PCR0 is `pcr0`; `secret` encrypted under it. */
  async function keyFor(pcr0: string, secret: string): Promise<string> {
    const policy = {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'Admin',
          Effect: 'Allow',
          Principal: { AWS: '*' },
          Action: ['kms:Encrypt', 'kms:DescribeKey'],
          Resource: '*',
        },
        {
          Sid: 'Enclave',
          Effect: 'Allow',
          Principal: { AWS: '*' },
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': pcr0 } },
        },
      ],
    };
    const created = await call('CreateKey', {
      Policy: JSON.stringify(policy),
      Description: `PCR0 ${pcr0.slice(0, 8)}`,
    });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    const keyId = (created.json.KeyMetadata as { KeyId: string }).KeyId;
    const encrypted = await call('Encrypt', { KeyId: keyId, Plaintext: Buffer.from(secret).toString('base64') });
    assert.equal(encrypted.status, 200, JSON.stringify(encrypted.json));
    return encrypted.json.CiphertextBlob as string;
  }

  it('the matching image gets CiphertextForRecipient that opens with its key; another image is denied', async () => {
    const parentId = (await backend.listParents())[0]!.id;
    kms = await startKmsServer({ stateDir: state, port: 0, developmentRoots: () => backend.developmentRoots() });
    proxy = await startVsockProxy({
      vsockDir: vsockDirOf(state, parentId),
      localPort: 8000,
      remoteAddr: '127.0.0.1',
      remotePort: kms.port,
      allowlist: { text: `allowlist:\n- {address: 127.0.0.1, port: ${kms.port}}\n` },
    });
    const pcr0 = expectedEif(signed).PCR0;
    const allowedBlob = await keyFor(pcr0.toUpperCase(), 'the enclave secret');
    const deniedBlob = await keyFor('ab'.repeat(48), 'not for this image');

    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const request = encodeRequest({
      type: 'Attestation',
      userData: null,
      nonce: null,
      publicKey: new Uint8Array(spki),
    });
    const script = path.join(state, 'app.js');
    writeFileSync(script, APP);
    const run = await backend.runEnclave(parentId, {
      eifPath: signed,
      memoryMiB: 128,
      cpuCount: 2,
      app: {
        command: process.execPath,
        args: [script, require.resolve('cbor-x'), toHex(request), allowedBlob, deniedBlob],
      },
    });
    const log = path.join(state, 'enclaves', `${run.EnclaveID}.console.log`);
    await waitFor(() => /APP (done|failed)/.test(readFileSync(log, 'utf8')), 'the application to finish');
    const text = readFileSync(log, 'utf8');
    assert.doesNotMatch(text, /APP failed/, text);
    const [allowed, denied] = [...text.matchAll(/^KMS (\d+) (.*)$/gm)].map((m) => ({
      status: Number(m[1]),
      json: JSON.parse(m[2] as string) as Record<string, string>,
    }));

    assert.equal(allowed?.status, 200, JSON.stringify(allowed?.json));
    assert.equal(allowed?.json.Plaintext, undefined, 'Plaintext is omitted when Recipient is given');
    const cms = path.join(state, 'cms.ber');
    writeFileSync(cms, Buffer.from(allowed?.json.CiphertextForRecipient as string, 'base64'));
    const keyPem = path.join(state, 'key.pem');
    writeFileSync(keyPem, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const opened = execFileSync('openssl', [
      'cms',
      '-decrypt',
      '-inform',
      'DER',
      '-in',
      cms,
      '-inkey',
      keyPem,
      '-binary',
    ]);
    assert.equal(opened.toString(), 'the enclave secret');

    assert.equal(denied?.status, 400, JSON.stringify(denied?.json));
    assert.equal(denied?.json.__type, 'AccessDeniedException');
    assert.match(denied?.json.message ?? '', /ImageSha384/);
    assert.equal(proxy.stats().total, 2, 'both requests went through the vsock-proxy');
  });
});
