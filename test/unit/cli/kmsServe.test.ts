// `nitro-dev kms serve`: the local KMS in the foreground, as a user runs it: it prints its URL and
// one line per request (operation, key, caller, decision), trusts the emulator's development root
// of its state folder for Recipient documents, and stops cleanly on SIGINT and SIGTERM.
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateKeyCommand, GenerateRandomCommand, KMSClient } from '@aws-sdk/client-kms';
import { DevelopmentCa, developmentAttestPort } from '../../../src/engine/node/devAttestation';
import { nodeHashes } from '../../../src/engine/node/nodeHashes';
import { NsmDevice } from '../../../src/engine/nsm/device';
import { openEnvelope } from '../engine/kms/cmsReader';
import { repoPath } from '../repo';

const cli = repoPath('dist/cli.js');

/** The server's output so far, and a way to wait for a line matching a pattern. */
class Output {
  text = '';
  private waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  constructor(child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (c: Buffer) => {
      this.text += c.toString('utf8');
      this.waiters = this.waiters.filter((w) => {
        const m = this.text.match(w.re);
        if (m) w.resolve(m);
        return !m;
      });
    });
  }
  waitFor(re: RegExp): Promise<RegExpMatchArray> {
    const m = this.text.match(re);
    if (m) return Promise.resolve(m);
    return new Promise((resolve) => this.waiters.push({ re, resolve }));
  }
}

describe('(unit) nitro-dev kms serve', function () {
  this.timeout(120_000);
  let dir: string;
  let env: Record<string, string>;

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-kms-serve-'));
    env = { PATH: process.env.PATH ?? '', NITRO_DEV_STATE_DIR: path.join(dir, 'state'), HOME: dir };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const serve = () => {
    const child = spawn(process.execPath, [cli, 'kms', 'serve', '--port', '0'], { env, cwd: dir });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
      child.on('exit', (code) => resolve({ code, stderr })),
    );
    return { child, output: new Output(child), exited };
  };

  it('prints its URL and a line per request, trusts the emulator root, stops on SIGINT', async () => {
    const { child, output, exited } = serve();
    const [, url] = await output.waitFor(/Local KMS listening on (http:\/\/127\.0\.0\.1:\d+) \(keys in ([^)]+)\)/);
    assert.match(output.text, /AWS_ENDPOINT_URL_KMS=http:\/\/127\.0\.0\.1:\d+/);
    const client = new KMSClient({
      endpoint: url,
      region: 'ap-south-1',
      credentials: { accessKeyId: 'AKIACLITEST', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    try {
      const arn = (await client.send(new CreateKeyCommand({}))).KeyMetadata?.Arn as string;
      assert.match(arn, /^arn:aws:kms:ap-south-1:000000000000:key\//);
      await output.waitFor(new RegExp(`CreateKey key=${arn} caller=AKIACLITEST -> not-evaluated`));

      // An enclave document signed by the development CA of the same state folder.
      const ca = await DevelopmentCa.load(env.NITRO_DEV_STATE_DIR as string);
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const nsm = new NsmDevice({
        enclaveId: 'i-0123456789abcdef0-enc00000000000000aa',
        measurements: { pcr0: new Uint8Array(48).fill(1), pcr1: new Uint8Array(48), pcr2: new Uint8Array(48) },
        hashes: nodeHashes,
        random: (n) => new Uint8Array(n),
        attest: developmentAttestPort(ca),
      });
      const r = await nsm.handleRequest({
        type: 'Attestation',
        userData: null,
        nonce: null,
        publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
      });
      assert.equal(r.type, 'Attestation');
      const random = await client.send(
        new GenerateRandomCommand({
          NumberOfBytes: 16,
          Recipient: {
            KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
            AttestationDocument: (r as { document: Uint8Array }).document,
          },
        }),
      );
      assert.equal(random.Plaintext, undefined);
      assert.equal(openEnvelope(random.CiphertextForRecipient as Uint8Array, privateKey).length, 16);
      await output.waitFor(/GenerateRandom key=- caller=AKIACLITEST recipient=yes -> not-evaluated/);

      await assert.rejects(client.send(new CreateKeyCommand({ Policy: 'not json' })));
      await output.waitFor(/CreateKey key=- caller=AKIACLITEST -> error MalformedPolicyDocumentException: /);
    } finally {
      client.destroy();
    }
    child.kill('SIGINT');
    const { code, stderr } = await exited;
    assert.equal(code, 130, stderr);
    assert.match(output.text, /Local KMS stopped\n$/);
  });

  it('SIGTERM stops it too (exit 143)', async () => {
    const { child, output, exited } = serve();
    await output.waitFor(/Local KMS listening on/);
    child.kill('SIGTERM');
    const { code, stderr } = await exited;
    assert.equal(code, 143, stderr);
    assert.match(output.text, /Local KMS stopped/);
  });

  it('a bad --port or an extra argument is a usage error; the help names kms serve', () => {
    const bad = spawnSync(process.execPath, [cli, 'kms', 'serve', '--port', 'eighty'], { env, encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--port takes a TCP port number \(0 to 65535\), not 'eighty'/);
    const extra = spawnSync(process.execPath, [cli, 'kms', 'serve', 'file.json'], { env, encoding: 'utf8' });
    assert.equal(extra.status, 2);
    assert.match(extra.stderr, /unexpected argument 'file.json'/);
    const help = spawnSync(process.execPath, [cli, 'kms', '--help'], { env, encoding: 'utf8' });
    assert.match(help.stdout, /`kms serve \[--port P\]`/);
    assert.match(help.stdout, /--port <P> +The TCP port on 127\.0\.0\.1/);
  });
});
