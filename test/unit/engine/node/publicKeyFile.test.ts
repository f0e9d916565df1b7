// Public key files for an attestation document's public_key (src/engine/node/publicKeyFile.ts): the
// forms enclave SDKs and OpenSSL write, all turned into DER SubjectPublicKeyInfo, and what is refused.
import * as assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  MAX_PUBLIC_KEY_FILE_BYTES,
  PublicKeyFileError,
  publicKeySpki,
  readPublicKeyFile,
} from '../../../../src/engine/node/publicKeyFile';

const bytes = (s: string | Buffer): Uint8Array => new Uint8Array(Buffer.from(s));

describe('(unit) engine node: public key files for public_key', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = new Uint8Array(rsa.publicKey.export({ type: 'spki', format: 'der' }));

  it('PEM SPKI, PEM PKCS#1, DER SPKI and DER PKCS#1 all give the DER SPKI', () => {
    const forms: Record<string, string | Buffer> = {
      'spki pem': rsa.publicKey.export({ type: 'spki', format: 'pem' }),
      'pkcs1 pem': rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }),
      'spki der': rsa.publicKey.export({ type: 'spki', format: 'der' }),
      'pkcs1 der': rsa.publicKey.export({ type: 'pkcs1', format: 'der' }),
      'pem with CRLF and a comment before it': `a comment\r\n${String(
        rsa.publicKey.export({ type: 'spki', format: 'pem' }),
      ).replace(/\n/g, '\r\n')}`,
    };
    for (const [name, form] of Object.entries(forms)) assert.deepEqual(publicKeySpki(bytes(form), name), spki, name);
  });

  it('takes keys of other types too (EC P-256, Ed25519): public_key is opaque to the NSM', () => {
    for (const pair of [generateKeyPairSync('ec', { namedCurve: 'P-256' }), generateKeyPairSync('ed25519')]) {
      const der = new Uint8Array(pair.publicKey.export({ type: 'spki', format: 'der' }));
      assert.deepEqual(publicKeySpki(bytes(pair.publicKey.export({ type: 'spki', format: 'pem' })), 'k'), der);
      assert.deepEqual(publicKeySpki(der, 'k'), der);
    }
  });

  it('refuses private keys of every form, naming the file', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const privates: Array<[string | Buffer, RegExp]> = [
      [rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }), /PEM "PRIVATE KEY"/],
      [rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }), /PEM "RSA PRIVATE KEY"/],
      [ec.export({ type: 'sec1', format: 'pem' }), /PEM "EC PRIVATE KEY"/],
      [rsa.privateKey.export({ type: 'pkcs8', format: 'der' }), /\(DER\)/],
      [rsa.privateKey.export({ type: 'pkcs1', format: 'der' }), /\(DER\)/],
      [ec.export({ type: 'sec1', format: 'der' }), /\(DER\)/],
    ];
    for (const [form, label] of privates) {
      assert.throws(
        () => publicKeySpki(bytes(form), 'k.key'),
        (e: unknown) =>
          e instanceof PublicKeyFileError && /^k\.key holds a private key/.test(e.message) && label.test(e.message),
      );
    }
  });

  it('refuses what is no key, with notAKey set only then', () => {
    const notKey = (e: unknown) => e instanceof PublicKeyFileError && e.notAKey;
    assert.throws(() => publicKeySpki(bytes('just text'), 'f'), notKey);
    assert.throws(() => publicKeySpki(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00), 'f'), notKey);
    assert.throws(() => publicKeySpki(bytes('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'), 'f'), {
      message: /f: its PEM "PUBLIC KEY" block does not hold a readable key/,
    });
    assert.throws(() => publicKeySpki(spki.subarray(0, 10), 'f'), { message: /f is truncated/ });
    assert.throws(() => publicKeySpki(Uint8Array.of(0x30, 0x84), 'f'), notKey);
    assert.throws(() => publicKeySpki(new Uint8Array(0), 'f'), { message: 'f is empty' });
  });

  it('reads at most MAX_PUBLIC_KEY_FILE_BYTES of a file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-pk-'));
    try {
      const ok = path.join(dir, 'k.der');
      writeFileSync(ok, spki);
      assert.deepEqual(await readPublicKeyFile(ok, 'k.der'), spki);
      const big = path.join(dir, 'big');
      writeFileSync(big, Buffer.alloc(MAX_PUBLIC_KEY_FILE_BYTES + 1, 0x41));
      await assert.rejects(readPublicKeyFile(big, 'big'), { message: /^big is over 65536 bytes/ });
      await assert.rejects(readPublicKeyFile(path.join(dir, 'none')), { code: 'ENOENT' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
