// The engine's X.509 reader (DER) against Node's X509Certificate and the openssl CLI as
// independent sources, and its failure mode on truncated or garbage input.
import * as assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  CertificateError,
  firstCertificateDer,
  isValidAt,
  opensslTime,
  parseCertificate,
  signingCertificateJson,
  toColonHex,
} from '../../../../src/engine';
import { repoPath } from '../../repo';
import {
  CURVES,
  Prng,
  certSignatureBytes,
  ensureOpenssl,
  makeSigner,
  openssl,
  pemToDer,
  removeDir,
  tempDir,
  type Curve,
} from '../eif/helpers';

const FIXTURES = repoPath('test', 'fixtures', 'eif');
const certPem = readFileSync(`${FIXTURES}/test-cert.pem`, 'utf8');
const x509 = new X509Certificate(certPem);
const certDer = new Uint8Array(x509.raw);

/** Node prints names as "C=US\nO=...\nCN=..."; map OpenSSL short names to the long names the engine reports. */
const LONG: Record<string, string> = {
  C: 'countryName',
  O: 'organizationName',
  CN: 'commonName',
  ST: 'stateOrProvinceName',
  L: 'localityName',
  OU: 'organizationalUnitName',
};
const nodeName = (text: string) =>
  text.split('\n').map((line) => {
    const eq = line.indexOf('=');
    return { name: LONG[line.slice(0, eq)] ?? line.slice(0, eq), value: line.slice(eq + 1) };
  });

/** Parses and returns the error, which must be a CertificateError. */
function certificateError(der: Uint8Array, label: string): CertificateError {
  try {
    parseCertificate(der);
  } catch (e) {
    assert.ok(e instanceof CertificateError, `${label}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return e;
  }
  assert.fail(`${label}: parsed without an error`);
}

describe('(unit) X.509 certificate reader', () => {
  it('the PEM decoder gives the same DER as Node and as a plain base64 decode', () => {
    assert.deepEqual(firstCertificateDer(certPem), certDer);
    assert.deepEqual(pemToDer(certPem), certDer);
  });

  it('reads the fixture certificate like Node and openssl do', () => {
    const c = parseCertificate(certDer);
    // Issuer and subject, in DER order, from Node's X509Certificate.
    assert.deepEqual(
      c.issuer.map((a) => ({ name: a.name, value: a.value })),
      nodeName(x509.issuer),
    );
    assert.deepEqual(
      c.subject.map((a) => ({ name: a.name, value: a.value })),
      nodeName(x509.subject),
    );
    assert.deepEqual(
      c.issuer.map((a) => a.oid),
      ['2.5.4.6', '2.5.4.10', '2.5.4.3'],
    );
    // Dates: Node's validFrom/validTo are OpenSSL's ASN1_TIME_print output.
    assert.equal(c.notBefore.getTime(), new Date(x509.validFrom).getTime());
    assert.equal(c.notAfter.getTime(), new Date(x509.validTo).getTime());
    assert.equal(opensslTime(c.notBefore), x509.validFrom);
    assert.equal(opensslTime(c.notAfter), x509.validTo);
    assert.equal(opensslTime(c.notBefore), 'Jan  1 00:00:00 2020 GMT');
    assert.equal(opensslTime(c.notAfter), 'Dec 31 23:59:59 2099 GMT');
    // Serial: Node prints it as upper-case hex without a sign byte.
    assert.equal(c.serialNumberHex.replace(/^(00)+(?=.)/, '').toUpperCase(), x509.serialNumber.toUpperCase());
    assert.equal(c.serialNumberHex, '01');
    // Algorithms and key, from openssl's text dump and Node's KeyObject.
    const text = openssl(['x509', '-in', `${FIXTURES}/test-cert.pem`, '-noout', '-text']);
    assert.equal(c.signatureAlgorithm, /Signature Algorithm: (\S+)/.exec(text)?.[1]);
    assert.equal(c.signatureAlgorithm, 'ecdsa-with-SHA384');
    assert.equal(c.signatureAlgorithmOid, '1.2.840.10045.4.3.3');
    assert.equal(c.publicKeyAlgorithm, 'id-ecPublicKey');
    assert.equal(c.curve, x509.publicKey.asymmetricKeyDetails?.namedCurve);
    assert.equal(c.curve, 'secp384r1');
    assert.deepEqual(c.spki, new Uint8Array(x509.publicKey.export({ type: 'spki', format: 'der' })));
    assert.deepEqual(c.signature, certSignatureBytes(certDer));
    assert.deepEqual(c.der, certDer);
    assert.equal(isValidAt(c, new Date('2019-12-31T23:59:59Z')), false);
    assert.equal(isValidAt(c, new Date('2020-01-01T00:00:00Z')), true);
    assert.equal(isValidAt(c, new Date('2099-12-31T23:59:59Z')), true);
    assert.equal(isValidAt(c, new Date('2100-01-01T00:00:00Z')), false);
  });

  it('signingCertificateJson: the describe-eif SigningCertificate object', () => {
    const json = signingCertificateJson(parseCertificate(certDer));
    assert.deepEqual(Object.keys(json), ['IssuerName', 'Algorithm', 'NotBefore', 'NotAfter', 'Signature']);
    assert.deepEqual(Object.keys(json.IssuerName), ['commonName', 'countryName', 'organizationName']);
    assert.equal(json.Signature, toColonHex(certSignatureBytes(certDer)));
    assert.match(json.Signature, /^30:66:02:31:00:C1:94:([0-9A-F]{2}:)+[0-9A-F]{2}$/);
  });

  it('certificates made by the openssl CLI for every curve', function () {
    this.timeout(120_000);
    ensureOpenssl();
    const dir = tempDir('cert');
    try {
      for (const curve of Object.keys(CURVES) as Curve[]) {
        const s = makeSigner(dir, curve);
        const x = new X509Certificate(s.certPem);
        const c = parseCertificate(s.certDer);
        assert.equal(c.curve, CURVES[curve].nodeCurve, curve);
        assert.deepEqual(
          c.issuer.map((a) => ({ name: a.name, value: a.value })),
          [{ name: 'commonName', value: 'test' }],
        );
        assert.equal(opensslTime(c.notBefore), x.validFrom, curve);
        assert.equal(opensslTime(c.notAfter), x.validTo, curve);
        assert.equal(c.serialNumberHex.replace(/^(00)+(?=.)/, '').toUpperCase(), x.serialNumber.toUpperCase(), curve);
        const text = openssl(['x509', '-noout', '-text', '-in', `${dir}/${curve}.cert.pem`]);
        assert.equal(c.signatureAlgorithm, /Signature Algorithm: (\S+)/.exec(text)?.[1], curve);
        assert.deepEqual(c.spki, new Uint8Array(x.publicKey.export({ type: 'spki', format: 'der' })), curve);
      }
    } finally {
      removeDir(dir);
    }
  });

  it('every truncation of the DER is a CertificateError', () => {
    for (let n = 0; n < certDer.length; n++) certificateError(certDer.subarray(0, n), `first ${n} bytes`);
  });

  it('trailing bytes after the certificate are a CertificateError', () => {
    certificateError(Uint8Array.from([...certDer, 0]), 'one trailing byte');
  });

  it('garbage is a CertificateError', () => {
    const rng = new Prng(0xde4);
    certificateError(new Uint8Array(0), 'empty');
    certificateError(Uint8Array.of(0x30, 0x00), 'empty SEQUENCE');
    certificateError(Uint8Array.of(0x30, 0x84, 0xff, 0xff, 0xff, 0xff), 'length past the end');
    certificateError(Uint8Array.of(0x30, 0x80, 0x00, 0x00), 'indefinite length');
    for (let n = 0; n < 300; n++) {
      const junk = rng.bytes(rng.int(1, 600));
      if (n % 2 === 0) junk[0] = 0x30; // a SEQUENCE, to get past the first check
      certificateError(junk, `random case ${n}`);
    }
  });

  // Regression (an engine bug this suite found, now fixed): a mutation that turns a name's string tag into
  // 0x1c (UniversalString) makes parseCertificate throw RangeError instead of CertificateError.
  it('single-byte mutations of the DER either parse or give a CertificateError', () => {
    const rng = new Prng(0x3e7);
    const others: string[] = [];
    for (let n = 0; n < 2000; n++) {
      const der = certDer.slice();
      const at = rng.int(0, der.length - 1);
      der[at] = rng.pick([
        0x00,
        0xff,
        0x80,
        0x1c,
        0x1e,
        0x0c,
        (der[at] as number) ^ (1 << rng.int(0, 7)),
        rng.int(0, 255),
      ]);
      try {
        parseCertificate(der);
      } catch (e) {
        if (!(e instanceof CertificateError))
          others.push(
            `case ${n} (byte ${at} = 0x${der[at].toString(16)}): ` +
              `${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
          );
      }
    }
    assert.deepEqual(others, []);
  });

  // Regression (an engine bug this suite found, now fixed): a UniversalString (tag 0x1c) holding a value
  // that is not a Unicode code point makes parseCertificate throw RangeError ("Invalid code point
  // 4294967295", from String.fromCodePoint in decodeString, src/engine/x509/certificate.ts);
  // parseCertificate maps only DerError and TypeError to CertificateError. Its contract ("Throws
  // CertificateError saying what is wrong") is broken.
  it('an issuer UniversalString with an invalid code point is a CertificateError', () => {
    const der = certDer.slice();
    const at = Buffer.from(der).indexOf('synthetic-eif-test-signer');
    assert.equal(der[at - 2], 0x0c, 'the issuer CN is a UTF8String of 25 bytes');
    der[at - 2] = 0x1c;
    der.fill(0xff, at, at + 4);
    certificateError(der, 'UniversalString 0xffffffff');
  });
});
