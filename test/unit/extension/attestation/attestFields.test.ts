// Get Attestation Document's request fields (src/extension/attestation/attestFields.ts): the checks
// its input steps run as you type, and the request read from the command's argument.
import * as assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  checkHexField,
  checkTextField,
  hexField,
  readUserDataFile,
  requestFromOptions,
} from '../../../../src/extension/attestation/attestFields';

describe('(unit) Get Attestation Document: the request fields', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-attest-fields-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('checks hex as it is typed: pairs of 0-9 a-f, at most 1024 bytes, empty for none', () => {
    assert.equal(checkHexField('', 'nonce'), undefined);
    assert.equal(checkHexField('  0aFf  ', 'nonce'), undefined);
    assert.equal(checkHexField('ab'.repeat(1024), 'nonce'), undefined);
    assert.match(checkHexField('abc', 'nonce') ?? '', /Write the nonce as hex: an even number/);
    assert.match(checkHexField('zz', 'user data') ?? '', /Write the user data as hex/);
    assert.match(
      checkHexField('ab'.repeat(1025), 'nonce') ?? '',
      /The nonce is 1025 bytes; the NSM takes at most 1024/,
    );
    assert.deepEqual(hexField(' 0aff ', 'nonce'), new Uint8Array([0x0a, 0xff]));
    assert.equal(hexField('', 'nonce'), undefined);
    assert.throws(() => hexField('0', 'nonce'), /Write the nonce as hex/);
  });

  it('counts text in UTF-8 bytes', () => {
    assert.equal(checkTextField('é'.repeat(512)), undefined);
    assert.match(checkTextField('é'.repeat(513)) ?? '', /1026 bytes in UTF-8; the NSM takes at most 1024/);
  });

  it('reads user data from a file of at most 1024 bytes, and refuses a larger one', async () => {
    const small = path.join(dir, 'small.bin');
    writeFileSync(small, Buffer.from([0, 1, 2, 255]));
    assert.deepEqual(await readUserDataFile(small), new Uint8Array([0, 1, 2, 255]));
    const large = path.join(dir, 'large.bin');
    writeFileSync(large, Buffer.alloc(1025));
    await assert.rejects(readUserDataFile(large), /large\.bin is 1025 bytes; the NSM's user data holds at most 1024/);
    await assert.rejects(readUserDataFile(path.join(dir, 'missing.bin')), /ENOENT/);
  });

  it('builds the request from the argument: nonce, user data as text, hex or file, and a public key', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
    const pem = path.join(dir, 'key.pem');
    writeFileSync(pem, publicKey.export({ type: 'spki', format: 'pem' }));
    const der = path.join(dir, 'key.der');
    writeFileSync(der, spki);
    const data = path.join(dir, 'data.bin');
    writeFileSync(data, 'from a file');

    assert.deepEqual(await requestFromOptions({}), {});
    assert.deepEqual(await requestFromOptions({ nonce: '0102', userData: 'hi', publicKeyFile: pem }), {
      nonce: new Uint8Array([1, 2]),
      userData: new TextEncoder().encode('hi'),
      publicKey: spki,
    });
    assert.deepEqual(await requestFromOptions({ userDataHex: 'ff00', publicKeyFile: { fsPath: der } }), {
      userData: new Uint8Array([0xff, 0]),
      publicKey: spki,
    });
    assert.deepEqual(await requestFromOptions({ userDataFile: { fsPath: data } }), {
      userData: new TextEncoder().encode('from a file'),
    });
    await assert.rejects(requestFromOptions({ userData: 'a', userDataHex: '00' }), /Give the user data one way/);
    await assert.rejects(requestFromOptions({ nonce: 'xyz' }), /Write the nonce as hex/);
    // A private key never goes into a document: refused with the reason, as nitro-dev attest --public-key does.
    const priv = path.join(dir, 'private.pem');
    writeFileSync(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await assert.rejects(requestFromOptions({ publicKeyFile: priv }), /private\.pem holds a private key/);
  });
});
