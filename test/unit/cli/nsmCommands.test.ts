import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createHash, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoPath } from '../repo';

const cli = repoPath('dist/cli.js');
const eif = repoPath('test/fixtures/eif/synthetic-v4-signed.eif');

describe('(unit) nitro-dev nsm, attest and dev-root on the embedded emulator', function () {
  this.timeout(120_000);
  let dir: string;
  let env: Record<string, string>;
  let id: string;
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env, cwd: dir });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-nsm-cli-'));
    env = { PATH: process.env.PATH ?? '', NITRO_DEV_STATE_DIR: path.join(dir, 'state'), HOME: dir };
    const r = run('run-enclave', '--eif-path', eif, '--memory', '64', '--cpu-count', '2', '--enclave-name', 'nsm-test');
    assert.equal(r.status, 0, r.stderr);
    id = JSON.parse(r.stdout).EnclaveID;
  });

  after(() => {
    run('terminate-enclave', '--all');
    rmSync(dir, { recursive: true, force: true });
  });

  it('nsm DescribePCR of PCR0 answers the image PCR0, locked', () => {
    const pcr0 = JSON.parse(run('describe-eif', '--eif-path', eif).stdout).Measurements.PCR0;
    const r = run('nsm', '--enclave-id', id, '{"DescribePCR":{"index":0}}');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { DescribePCR: { lock: true, data: pcr0 } });
  });

  it('nsm ExtendPCR extends PCR16 as SHA-384(old || data), and refuses a locked PCR with exit 1', () => {
    const data = 'c0ffee';
    const r = run('nsm', '--enclave-id', id, JSON.stringify({ ExtendPCR: { index: 16, data } }));
    assert.equal(r.status, 0, r.stderr);
    const expected = createHash('sha384').update(Buffer.alloc(48)).update(Buffer.from(data, 'hex')).digest('hex');
    assert.deepEqual(JSON.parse(r.stdout), { ExtendPCR: { data: expected } });
    const locked = run('nsm', '--enclave-id', id, JSON.stringify({ ExtendPCR: { index: 0, data } }));
    assert.equal(locked.status, 1);
    assert.deepEqual(JSON.parse(locked.stdout), { Error: 'ReadOnlyIndex' });
  });

  it('nsm refuses a request that is not NSM JSON (exit 2) and an unknown enclave', () => {
    const bad = run('nsm', '--enclave-id', id, '{"Reboot":{}}');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /REQUEST must be an NSM request/);
    const other = `${id.slice(0, -1)}${id.endsWith('0') ? '1' : '0'}`; // an id no enclave has
    const unknown = run('nsm', '--enclave-id', other, '"GetRandom"');
    assert.notEqual(unknown.status, 0);
    assert.match(unknown.stderr, /\[ E\d\d \]/);
  });

  it('nsm takes the bare name of a request without fields (DescribeNSM, GetRandom) as well as its JSON', () => {
    const bare = run('nsm', '--enclave-id', id, 'DescribeNSM');
    assert.equal(bare.status, 0, bare.stderr);
    const described = JSON.parse(bare.stdout);
    assert.equal(described.DescribeNSM.module_id, id);
    const quoted = run('nsm', '--enclave-id', id, '"DescribeNSM"');
    assert.equal(quoted.status, 0, quoted.stderr);
    assert.deepEqual(JSON.parse(quoted.stdout), described);
    const random = run('nsm', '--enclave-id', id, 'GetRandom');
    assert.equal(random.status, 0, random.stderr);
    assert.match(JSON.parse(random.stdout).GetRandom.random, /^[0-9a-f]+$/);
    // A bare name whose request has fields says which field it needs; a word that is no request is refused.
    const noIndex = run('nsm', '--enclave-id', id, 'DescribePCR');
    assert.equal(noIndex.status, 2);
    assert.match(noIndex.stderr, /REQUEST must be an NSM request[^\n]*index/);
    const unknown = run('nsm', '--enclave-id', id, 'Reboot');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /REQUEST must be an NSM request/);
  });

  it(
    'nsm and attest take --enclave-name as the other enclave ' +
      'commands do (exactly one of the two; E58 for no such name)',
    () => {
      const byName = run('nsm', '--enclave-name', 'nsm-test', '{"DescribePCR":{"index":0}}');
      assert.equal(byName.status, 0, byName.stderr);
      assert.deepEqual(
        JSON.parse(byName.stdout),
        JSON.parse(run('nsm', '--enclave-id', id, '{"DescribePCR":{"index":0}}').stdout),
      );
      assert.equal(
        JSON.parse(run('nsm', '--enclave-name', 'nsm-test', 'DescribeNSM').stdout).DescribeNSM.module_id,
        id,
      );
      const doc = path.join(dir, 'by-name.cbor');
      const a = run('attest', '--enclave-name', 'nsm-test', '--nonce', '01', '--output', doc);
      assert.equal(a.status, 0, a.stderr);
      assert.equal(JSON.parse(run('decode-attestation', '--document', doc).stdout).document.module_id, id);
      for (const command of [
        ['nsm', 'DescribeNSM'],
        ['attest', '--output', path.join(dir, 'none.cbor')],
      ]) {
        const [name, ...rest] = command as [string, ...string[]];
        const missing = run(name, ...rest);
        assert.equal(missing.status, 2, name);
        assert.match(missing.stderr, /one of the following arguments is required: --enclave-id, --enclave-name/, name);
        const both = run(name, '--enclave-id', id, '--enclave-name', 'nsm-test', ...rest);
        assert.equal(both.status, 2, name);
        assert.match(both.stderr, /cannot be used with/, name);
        const nobody = run(name, '--enclave-name', 'no-such-enclave', ...rest);
        assert.equal(nobody.status, 58, name);
        assert.match(
          nobody.stderr,
          /\[ E58 \] Enclave naming error\. No running enclave is named 'no-such-enclave'/,
          name,
        );
      }
    },
  );

  it('attest writes a document that verifies only with the development root, as development attestation', () => {
    const doc = path.join(dir, 'doc.cbor');
    const root = path.join(dir, 'root.pem');
    const a = run('attest', '--enclave-id', id, '--nonce', '0a0b0c', '--user-data', 'ff', '--output', doc);
    assert.equal(a.status, 0, a.stderr);
    assert.equal(run('dev-root', '--export', root).status, 0);
    const pem = readFileSync(root, 'utf8');
    assert.equal(run('dev-root', '--export', '-').stdout, pem);
    const cert = new X509Certificate(pem);
    assert.ok(cert.ca);
    assert.doesNotMatch(cert.subject, /Amazon|AWS/i, 'the development root never claims to be AWS');
    const ok = run(
      'verify-attestation',
      '--document',
      doc,
      '--development-root',
      root,
      '--eif-path',
      eif,
      '--nonce',
      '0a0b0c',
      '--json',
    );
    assert.equal(ok.status, 0, ok.stdout);
    const report = JSON.parse(ok.stdout);
    assert.equal(report.valid, true);
    assert.equal(report.development, true);
    assert.match(
      run('verify-attestation', '--document', doc, '--development-root', root).stdout,
      /development attestation/,
    );
    const without = run('verify-attestation', '--document', doc);
    assert.equal(without.status, 1);
    const wrongNonce = run('verify-attestation', '--document', doc, '--development-root', root, '--nonce', '00');
    assert.equal(wrongNonce.status, 1);
    const decoded = JSON.parse(run('decode-attestation', '--document', doc).stdout);
    assert.equal(decoded.document.module_id, id);
    assert.equal(decoded.document.nonce, '0a0b0c');
    assert.equal(decoded.document.user_data, 'ff');
  });

  describe('attest --public-key: the key as enclave SDKs write it, public_key as DER SubjectPublicKeyInfo', () => {
    const openssl = (...args: string[]) => {
      const r = spawnSync('openssl', args, { cwd: dir });
      assert.equal(r.status, 0, r.stderr?.toString());
      return r.stdout;
    };
    // public_key of the document attest writes with --public-key FILE (hex), or the failed run.
    const attestWith = (file: string) => {
      const doc = path.join(dir, `${path.basename(file)}.cbor`);
      rmSync(doc, { force: true });
      const r = run('attest', '--enclave-id', id, '--public-key', file, '--output', doc);
      if (r.status !== 0) return { ...r, publicKey: undefined, doc };
      const decoded = run('decode-attestation', '--document', doc);
      assert.equal(decoded.status, 0, decoded.stderr);
      return { ...r, publicKey: JSON.parse(decoded.stdout).document.public_key as string, doc };
    };
    let opensslSpki: string;

    before(() => {
      openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'rsa-private.pem');
      openssl('pkey', '-in', 'rsa-private.pem', '-pubout', '-out', 'rsa.pem');
      openssl('pkey', '-pubin', '-in', 'rsa.pem', '-outform', 'DER', '-out', 'rsa.der');
      openssl('rsa', '-pubin', '-in', 'rsa.pem', '-RSAPublicKey_out', '-out', 'rsa-pkcs1.pem');
      openssl('rsa', '-pubin', '-in', 'rsa.pem', '-RSAPublicKey_out', '-outform', 'DER', '-out', 'rsa-pkcs1.der');
      opensslSpki = openssl('pkey', '-pubin', '-in', 'rsa.pem', '-outform', 'DER').toString('hex');
    });

    it('takes an OpenSSL RSA-2048 key as PEM, as DER SPKI and as PKCS#1 (PEM, DER): public_key is its DER SPKI', () => {
      assert.match(readFileSync(path.join(dir, 'rsa.pem'), 'utf8'), /^-----BEGIN PUBLIC KEY-----/);
      assert.match(readFileSync(path.join(dir, 'rsa-pkcs1.pem'), 'utf8'), /^-----BEGIN RSA PUBLIC KEY-----/);
      for (const file of ['rsa.pem', 'rsa.der', 'rsa-pkcs1.pem', 'rsa-pkcs1.der']) {
        const a = attestWith(file);
        assert.equal(a.status, 0, `${file}: ${a.stderr}`);
        assert.equal(a.publicKey, opensslSpki, file);
      }
      // The document still verifies with the development root.
      const root = path.join(dir, 'root-pk.pem');
      assert.equal(run('dev-root', '--export', root).status, 0);
      const doc = attestWith('rsa.pem').doc;
      assert.equal(run('verify-attestation', '--document', doc, '--development-root', root).status, 0);
    });

    it('takes a node:crypto RSA key (PEM SPKI and DER SPKI) the same way', () => {
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const der = publicKey.export({ type: 'spki', format: 'der' });
      writeFileSync(path.join(dir, 'node.der'), der);
      writeFileSync(path.join(dir, 'node.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
      writeFileSync(path.join(dir, 'node-pkcs1.pem'), publicKey.export({ type: 'pkcs1', format: 'pem' }));
      for (const file of ['node.der', 'node.pem', 'node-pkcs1.pem']) {
        const a = attestWith(file);
        assert.equal(a.status, 0, `${file}: ${a.stderr}`);
        assert.equal(a.publicKey, der.toString('hex'), file);
      }
      // OpenSSL reads the public_key back as the same key.
      writeFileSync(path.join(dir, 'back.der'), Buffer.from(attestWith('node.pem').publicKey as string, 'hex'));
      const text = openssl('pkey', '-pubin', '-inform', 'DER', '-in', 'back.der', '-text', '-noout').toString();
      assert.match(text, /Public-Key: \(2048 bit\)/);
    });

    const refused = (file: string, message: RegExp) => {
      const a = attestWith(file);
      assert.equal(a.status, 2, `${file}: ${a.stderr}`);
      assert.match(a.stderr, message, file);
      assert.doesNotMatch(a.stderr, /at .*\.js:\d+/, 'no stack trace');
      assert.throws(() => readFileSync(a.doc), /ENOENT/, 'no document is written');
    };

    it('refuses a private key, PEM or DER, and says how to get its public key', () => {
      refused(
        'rsa-private.pem',
        /--public-key: rsa-private\.pem holds a private key \(PEM "PRIVATE KEY"\)[^\n]*openssl pkey/,
      );
      openssl('pkey', '-in', 'rsa-private.pem', '-outform', 'DER', '-out', 'rsa-private.der');
      refused('rsa-private.der', /rsa-private\.der holds a private key \(DER\)/);
    });

    it('refuses a file that is no key, a certificate, and truncated DER, saying which', () => {
      // Opaque bytes still reach public_key through nsm, as the refusal says.
      const opaque = run('nsm', '--enclave-id', id, '{"Attestation":{"public_key":"0a0b"}}');
      assert.equal(opaque.status, 0, opaque.stderr);
      writeFileSync(path.join(dir, 'text.txt'), 'hello, this is not a key\n');
      refused('text.txt', /text\.txt is not a public key: neither PEM[^\n]*nitro-dev nsm/);
      writeFileSync(path.join(dir, 'empty.der'), '');
      refused('empty.der', /empty\.der is empty/);
      refused('root-pk.pem', /root-pk\.pem holds a PEM "CERTIFICATE" block, not a public key[^\n]*openssl x509/);
      const der = readFileSync(path.join(dir, 'rsa.der'));
      writeFileSync(path.join(dir, 'short.der'), der.subarray(0, 200));
      refused(
        'short.der',
        new RegExp(`short\\.der is truncated: its DER SEQUENCE declares ${der.length} bytes but the file has 200`),
      );
      writeFileSync(path.join(dir, 'long.der'), Buffer.concat([der, Buffer.of(0, 0)]));
      refused('long.der', /long\.der has 2 bytes after its DER SEQUENCE/);
      const pem = readFileSync(path.join(dir, 'rsa.pem'), 'utf8');
      writeFileSync(path.join(dir, 'two.pem'), pem + pem);
      refused('two.pem', /two\.pem holds 2 PEM blocks/);
      const missing = attestWith('missing.pem');
      assert.equal(missing.status, 19, missing.stderr);
      assert.match(missing.stderr, /\[ E19 \] File operation failure\.[^\n]*missing\.pem/);
    });

    it("refuses a key over the NSM's 1024-byte public_key, as DER and as PEM, and an oversized file", () => {
      // An RSA public key with an 8192-bit modulus: its SPKI is over 1024 bytes.
      const n = randomBytes(1024);
      n[0] = (n[0] as number) | 0x80;
      const big = createPublicKey({ key: { kty: 'RSA', n: n.toString('base64url'), e: 'AQAB' }, format: 'jwk' });
      const der = big.export({ type: 'spki', format: 'der' });
      assert.ok(der.length > 1024);
      writeFileSync(path.join(dir, 'big.der'), der);
      refused(
        'big.der',
        new RegExp(`big\\.der: the key's DER SubjectPublicKeyInfo is ${der.length} bytes, over the 1024`),
      );
      writeFileSync(path.join(dir, 'big.pem'), big.export({ type: 'spki', format: 'pem' }));
      refused(
        'big.pem',
        new RegExp(`big\\.pem: the key's DER SubjectPublicKeyInfo is ${der.length} bytes, over the 1024`),
      );
      writeFileSync(path.join(dir, 'huge.pem'), Buffer.alloc(200_000, 0x41));
      refused('huge.pem', /huge\.pem is over 65536 bytes/);
    });
  });
});
