// Sign Image…'s files (src/extension/commands/pemFiles.ts): PEM files read with a size limit, and
// the validity warning of the signing certificate.
import * as assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MAX_PEM_FILE_BYTES, readPemFile, signingCertificateExpiry } from '../../../src/extension/commands/pemFiles';
import { ensureOpenssl, openssl } from '../engine/eif/helpers';

const DAY = 24 * 3600 * 1000;

describe('(unit) Sign Image: the certificate and key files', () => {
  let dir: string;
  before(() => {
    ensureOpenssl();
    dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-pem-files-'));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  /** A self-signed P-384 certificate valid for `days` days from now (made by the openssl CLI). */
  function certificate(days: number): string {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const key = path.join(dir, `key-${days}.pem`);
    writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const cert = path.join(dir, `cert-${days}.pem`);
    openssl(['req', '-x509', '-new', '-key', key, '-subj', '/CN=sign-test', '-days', String(days), '-out', cert]);
    return readFileSync(cert, 'utf8');
  }

  it('warns of a certificate that expires in 10 days, not of one valid for a year', () => {
    const soon = signingCertificateExpiry(certificate(10), new Date(), 'cert.pem');
    assert.equal(soon?.state, 'expires-soon');
    assert.match(soon.message, /expires in 10 days/);
    assert.equal(signingCertificateExpiry(certificate(365), new Date(), 'cert.pem'), undefined);
    const later = signingCertificateExpiry(certificate(365), new Date(Date.now() + 400 * DAY), 'cert.pem');
    assert.equal(later?.state, 'expired');
  });

  it('refuses a file that holds no certificate, naming it', () => {
    assert.throws(
      () => signingCertificateExpiry('not a pem', new Date(), 'x.pem'),
      /x\.pem is not a usable signing certificate/,
    );
  });

  it('reads a PEM file, and refuses one over 1 MiB before reading it whole', async () => {
    const small = path.join(dir, 'small.pem');
    writeFileSync(small, '-----BEGIN X-----\n-----END X-----\n');
    assert.equal(await readPemFile(small, 'The certificate'), '-----BEGIN X-----\n-----END X-----\n');
    const large = path.join(dir, 'large.pem');
    writeFileSync(large, Buffer.alloc(MAX_PEM_FILE_BYTES + 1, 0x41));
    await assert.rejects(readPemFile(large, 'The private key'), /The private key large\.pem is over 1048576 bytes/);
  });
});
