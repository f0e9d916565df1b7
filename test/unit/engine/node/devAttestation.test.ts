// Development attestation documents: byte layout like Nitro hardware's (spec 1.1, 2.1), decoded by
// the engine's decoder, verified by the engine's verifier only with the development root trusted
// (and then labelled development), the chain accepted by `openssl verify`, the chain shaped like
// AWS's (spec 3.2) without claiming to be AWS, key files private, the CA reused across loads, and
// the NSM device's Attestation answered end to end.
import * as assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeAttestation } from '../../../../src/engine/attestation/document';
import { verifyAttestation, type VerifyReport } from '../../../../src/engine/attestation/verify';
import { nodeAttestationCrypto } from '../../../../src/engine/node/attestationCrypto';
import {
  DevelopmentCa,
  DevelopmentCaError,
  createAttestationDocument,
  developmentAttestPort,
  exportDevelopmentRoot,
} from '../../../../src/engine/node/devAttestation';
import { nodeHashes } from '../../../../src/engine/node/nodeHashes';
import { NsmDevice } from '../../../../src/engine/nsm/device';
import { decodeResponse, encodeRequest } from '../../../../src/engine/nsm/protocol';
import { openssl } from '../attestation/helpers';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const pem = (der: Uint8Array): string => new X509Certificate(der).toString();
const ENCLAVE = 'i-0123456789abcdef0-enc0123456789abcdef';
const T0 = Date.parse('2026-03-01T12:00:00.123Z');
const pcrsOf = (seed: number, count = 16): Map<number, Uint8Array> =>
  new Map(Array.from({ length: count }, (_, i) => [i, new Uint8Array(48).fill(seed + i)]));

const statusOf = (r: VerifyReport, code: string): string | undefined => r.checks.find((c) => c.code === code)?.status;
const failedOf = (r: VerifyReport): string[] => r.checks.filter((c) => c.status === 'fail').map((c) => c.code);

function walkFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walkFiles(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

describe('(unit) nsm: development attestation', function () {
  this.timeout(120_000);
  let stateDir: string;
  let ca: DevelopmentCa;
  const devRoot = () => ({ der: ca.rootDer, label: 'the development root', kind: 'development' as const });

  before(async () => {
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'nitro-devca-'));
    ca = await DevelopmentCa.load(stateDir, { now: () => T0 });
  });
  after(() => rmSync(stateDir, { recursive: true, force: true }));

  it(
    'lays a document out like Nitro hardware: ' +
      '84 44 a1 01 38 22 a0 59 …, indefinite payload map, 96-byte signature',
    async () => {
      const userData = new Uint8Array(32).fill(0xab);
      const doc = await createAttestationDocument({ ca, enclaveId: ENCLAVE, pcrs: pcrsOf(1), userData, timestamp: T0 });
      assert.equal(hex(doc.subarray(0, 8)), '8444a1013822a059');
      const payloadLength = (doc[8] as number) * 256 + (doc[9] as number);
      const payload = doc.subarray(10, 10 + payloadLength);
      assert.equal(hex(doc.subarray(10 + payloadLength, 12 + payloadLength)), '5860');
      assert.equal(doc.length, 12 + payloadLength + 96);
      assert.equal(payload[0], 0xbf, 'an indefinite-length map, like 2025+ hardware');
      assert.equal(payload[payload.length - 1], 0xff);
      const text = Buffer.from(payload).toString('latin1');
      const keys = [
        'module_id',
        'digest',
        'timestamp',
        'pcrs',
        'certificate',
        'cabundle',
        'public_key',
        'user_data',
        'nonce',
      ];
      const positions = keys.map((k) => text.indexOf(k));
      assert.deepEqual(
        [...positions].sort((a, b) => a - b),
        positions,
        'keys in the hardware order',
      );
      // timestamp in the 8-byte form; pcrs a definite map of 16 with 48-byte values; absent fields null.
      assert.equal(
        hex(payload.subarray(positions[2]! + 9, positions[2]! + 18)),
        '1b' + T0.toString(16).padStart(16, '0'),
      );
      assert.equal(hex(payload.subarray(positions[3]! + 4, positions[3]! + 7)), 'b00058');
      assert.equal(payload[positions[6]! + 10], 0xf6, 'public_key null');
      assert.equal(payload[positions[8]! + 5], 0xf6, 'nonce null');

      const decoded = decodeAttestation(doc);
      assert.equal(decoded.cose.tagged, false);
      assert.equal(decoded.cose.unprotected.size, 0);
      assert.deepEqual(
        decoded.problems.filter((p) => p.severity === 'error'),
        [],
      );
      const d = decoded.document!;
      assert.equal(d.moduleId, ENCLAVE);
      assert.equal(d.digest, 'SHA384');
      assert.equal(d.timestamp, T0);
      assert.equal(d.indefiniteLengthMap, true);
      assert.deepEqual(
        [...d.pcrs.keys()],
        Array.from({ length: 16 }, (_, i) => i),
      );
      assert.deepEqual(d.pcrs.get(5), new Uint8Array(48).fill(6));
      assert.equal(d.cabundle.length, 4);
      assert.deepEqual(d.cabundle[0], ca.rootDer);
      assert.deepEqual(d.userData, { state: 'present', value: userData });
      assert.deepEqual(d.nonce, { state: 'null' });
      assert.deepEqual(d.publicKey, { state: 'null' });
    },
  );

  it('verifies with the development root trusted, labelled development; fails at chain.root without it', async () => {
    const nonce = Uint8Array.of(1, 2, 3);
    const doc = await createAttestationDocument({
      ca,
      enclaveId: ENCLAVE,
      pcrs: pcrsOf(1),
      nonce,
      publicKey: new Uint8Array(91).fill(4),
      timestamp: T0,
    });
    const ok = verifyAttestation(
      doc,
      { roots: [devRoot()], at: 'document', nonce, expectedPcrs: new Map([[0, hex(new Uint8Array(48).fill(1))]]) },
      nodeAttestationCrypto,
    );
    assert.deepEqual(failedOf(ok), [], ok.summary);
    assert.equal(ok.valid, true);
    assert.equal(ok.development, true);
    assert.deepEqual(ok.trustedRoot, { label: 'the development root', kind: 'development' });
    assert.match(ok.summary, /development attestation/);
    assert.equal(ok.debugMode, false);
    for (const code of [
      'cose.signature',
      'chain.signatures',
      'chain.names',
      'chain.validity',
      'chain.constraints',
      'leaf.key',
      'document.time',
      'pcrs.expected',
      'nonce.expected',
    ])
      assert.equal(statusOf(ok, code), 'pass', code);
    assert.equal(statusOf(ok, 'payload.deviations'), 'warn', 'user_data is null, as hardware writes it');

    const pem = verifyAttestation(
      doc,
      { roots: [{ pem: ca.rootPem, kind: 'development', label: 'dev' }], at: 'document' },
      nodeAttestationCrypto,
    );
    assert.equal(pem.valid, true, pem.summary);

    const untrusted = verifyAttestation(doc, { at: 'document' }, nodeAttestationCrypto);
    assert.equal(untrusted.valid, false);
    assert.deepEqual(failedOf(untrusted), ['chain.root']);
    assert.equal(untrusted.development, false);

    const tampered = doc.slice();
    tampered[200] = (tampered[200] as number) ^ 1;
    assert.equal(
      verifyAttestation(tampered, { roots: [devRoot()], at: 'document' }, nodeAttestationCrypto).valid,
      false,
    );
  });

  it(
    "the chain is shaped like AWS's (root, regional, " + 'zonal, instance, leaf) and says development, never AWS',
    async () => {
      const doc = await createAttestationDocument({ ca, enclaveId: ENCLAVE, pcrs: pcrsOf(1), timestamp: T0 });
      const r = verifyAttestation(doc, { roots: [devRoot()], at: 'document' }, nodeAttestationCrypto);
      const chain = r.chain;
      assert.equal(chain.length, 5);
      const cns = chain.map((c) => /CN=([^,]+)/.exec(c.subject)?.[1] ?? '');
      assert.equal(cns[0], 'development.nitro-emulator');
      assert.match(cns[1]!, /^[0-9a-f]{16}\.local\.development\.nitro-emulator$/);
      assert.match(cns[2]!, /^[0-9a-f]{16}\.zonal\.local\.development\.nitro-emulator$/);
      assert.equal(cns[3], 'i-0123456789abcdef0.local.development.nitro-emulator');
      assert.equal(cns[4], `${ENCLAVE}.local.development`);
      for (const c of chain) {
        assert.doesNotMatch(c.subject, /amazon|aws/i);
        assert.ok(c.subject.includes('development'));
        assert.ok(
          cns.every((cn) => cn.length <= 64),
          'CN within the X.520 upper bound of 64',
        );
        assert.equal(c.info.signatureAlgorithm, 'ecdsa-with-SHA384');
        assert.equal(c.info.curve, 'secp384r1');
      }
      const bc = chain.map((c) => c.info.basicConstraints);
      assert.deepEqual(
        bc.map((b) => [b?.ca, b?.pathLen, b?.critical]),
        [
          [true, undefined, true],
          [true, 2, true],
          [true, 1, true],
          [true, 0, true],
          [false, undefined, true],
        ],
      );
      const ku = chain.map((c) => [c.info.keyUsage?.critical, [...(c.info.keyUsage?.usages ?? [])].sort()]);
      const caUsages = ['cRLSign', 'digitalSignature', 'keyCertSign'];
      assert.deepEqual(ku, [
        [true, caUsages],
        [true, caUsages],
        [true, caUsages],
        [true, ['keyCertSign']],
        [false, ['digitalSignature', 'nonRepudiation']],
      ]);
      const hours = (c: (typeof chain)[number]) => (c.notAfter.getTime() - c.notBefore.getTime()) / 3600000;
      assert.equal(chain[0]!.notAfter.getUTCFullYear() - chain[0]!.notBefore.getUTCFullYear(), 30, 'root: 30 years');
      assert.equal(chain[0]!.notAfter.toISOString().slice(4), chain[0]!.notBefore.toISOString().slice(4));
      assert.equal(hours(chain[1]!), 20 * 24);
      assert.equal(hours(chain[2]!), 6 * 24);
      assert.equal(hours(chain[3]!), 24);
      assert.equal(hours(chain[4]!) * 3600, 3 * 3600 + 3, 'leaf: 3 h 3 s');
      assert.ok(
        chain[4]!.serialNumberHex.toLowerCase().replace(/^0+/, '').startsWith('123456789abcdef'),
        'the leaf serial starts with the enclave ID',
      );
      const leafExt = chain[4]!.info.extensions.map((e) => e.oid);
      assert.deepEqual(leafExt, ['2.5.29.19', '2.5.29.15'], 'the leaf carries no AKI, SKI or CDP');
    },
  );

  it('openssl verify accepts the chain with the development root as CAfile (at the document time)', async () => {
    const doc = await createAttestationDocument({ ca, enclaveId: ENCLAVE, pcrs: pcrsOf(1), timestamp: T0 });
    const d = decodeAttestation(doc).document!;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-devca-openssl-'));
    try {
      writeFileSync(path.join(dir, 'root.pem'), ca.rootPem);
      writeFileSync(path.join(dir, 'untrusted.pem'), d.cabundle.slice(1).map(pem).join(''));
      writeFileSync(path.join(dir, 'leaf.pem'), pem(d.certificate));
      const at = String(Math.floor(T0 / 1000) + 60);
      const r = openssl(
        ['verify', '-attime', at, '-CAfile', 'root.pem', '-untrusted', 'untrusted.pem', 'leaf.pem'],
        dir,
      );
      assert.equal(r.status, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /leaf\.pem: OK/);
      const without = openssl(
        ['verify', '-attime', at, '-no-CAfile', '-no-CApath', '-untrusted', 'untrusted.pem', 'leaf.pem'],
        dir,
      );
      assert.notEqual(without.status, 0, 'without the development root openssl refuses the chain');
      const late = openssl(
        [
          'verify',
          '-attime',
          String(Math.floor(T0 / 1000) + 4 * 3600),
          '-CAfile',
          'root.pem',
          '-untrusted',
          'untrusted.pem',
          'leaf.pem',
        ],
        dir,
      );
      assert.notEqual(late.status, 0, 'the leaf has expired 4 hours later');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(
    'private keys are in files of mode 0600 in a 0700 folder; ' + 'root.crt holds the certificate only (0600 as well)',
    () => {
      const dir = path.join(stateDir, 'dev-ca');
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      const files = walkFiles(dir);
      const withKeys = files.filter((f) => readFileSync(f, 'utf8').includes('PRIVATE KEY'));
      assert.deepEqual(withKeys.map((f) => path.relative(dir, f)).sort(), [
        'instances/i-0123456789abcdef0.pem',
        'regional.pem',
        'root.pem',
        'zonal.pem',
      ]);
      for (const f of withKeys) assert.equal(statSync(f).mode & 0o777, 0o600, f);
      const crt = readFileSync(path.join(dir, 'root.crt'), 'utf8');
      assert.ok(!crt.includes('PRIVATE KEY'));
      assert.equal(crt.trim(), ca.rootPem.trim());
      assert.equal(statSync(path.join(dir, 'root.crt')).mode & 0o777, 0o600);
      assert.ok(!files.some((f) => f.endsWith('.partial')), 'no temporary files left');
    },
  );

  it('a second load reuses the same root and intermediates; exportDevelopmentRoot gives the root', async () => {
    const first = decodeAttestation(
      await createAttestationDocument({ ca, enclaveId: ENCLAVE, pcrs: pcrsOf(1), timestamp: T0 + 1000 }),
    ).document!;
    const again = await DevelopmentCa.load(stateDir, { now: () => T0 + 5000 });
    assert.deepEqual(again.rootDer, ca.rootDer);
    const second = decodeAttestation(
      await createAttestationDocument({ ca: again, enclaveId: ENCLAVE, pcrs: pcrsOf(1), timestamp: T0 + 2000 }),
    ).document!;
    assert.deepEqual(second.cabundle, first.cabundle);
    assert.equal(await exportDevelopmentRoot(stateDir), ca.rootPem);
  });

  it('reissues intermediates and the leaf when they no longer cover the document time', async () => {
    const early = decodeAttestation(
      await createAttestationDocument({ ca, enclaveId: ENCLAVE, pcrs: pcrsOf(1), timestamp: T0 }),
    ).document!;
    const later = T0 + 30 * 24 * 3600 * 1000;
    const doc = await createAttestationDocument({ ca, enclaveId: ENCLAVE, pcrs: pcrsOf(1), timestamp: later });
    const d = decodeAttestation(doc).document!;
    assert.deepEqual(d.cabundle[0], early.cabundle[0]);
    for (const i of [1, 2, 3]) assert.notDeepEqual(d.cabundle[i], early.cabundle[i], `cabundle[${i}] reissued`);
    const r = verifyAttestation(doc, { roots: [devRoot()], at: 'document' }, nodeAttestationCrypto);
    assert.equal(r.valid, true, r.summary);
    // A leaf 4 hours on is a new one; a second enclave on the same parent shares the instance CA.
    const other = 'i-0123456789abcdef0-encfedcba9876543210';
    const o = decodeAttestation(
      await createAttestationDocument({ ca, enclaveId: other, pcrs: pcrsOf(1), timestamp: later + 1000 }),
    ).document!;
    assert.deepEqual(o.cabundle, d.cabundle);
    assert.notDeepEqual(o.certificate, d.certificate);
    const next = decodeAttestation(
      await createAttestationDocument({ ca, enclaveId: ENCLAVE, pcrs: pcrsOf(1), timestamp: later + 4 * 3600 * 1000 }),
    ).document!;
    assert.notDeepEqual(next.certificate, d.certificate);
  });

  it('answers an NSM Attestation request end to end; debug-mode documents verify with debugMode set', async () => {
    for (const debugMode of [false, true]) {
      const measurements = {
        pcr0: new Uint8Array(48).fill(0xa0),
        pcr1: new Uint8Array(48).fill(0xa1),
        pcr2: new Uint8Array(48).fill(0xa2),
      };
      const nsm = new NsmDevice({
        enclaveId: ENCLAVE,
        measurements,
        debugMode,
        iamRoleArn: 'arn:aws:iam::123456789012:role/Webserver',
        hashes: nodeHashes,
        random: (n) => new Uint8Array(n),
        attest: developmentAttestPort(ca, () => T0 + 10),
      });
      const response = decodeResponse(
        await nsm.handle(
          encodeRequest({ type: 'Attestation', userData: Uint8Array.of(7), nonce: Uint8Array.of(8), publicKey: null }),
        ),
      );
      assert.equal(response.type, 'Attestation');
      const doc = (response as { document: Uint8Array }).document;
      const r = verifyAttestation(doc, { roots: [devRoot()], at: 'document' }, nodeAttestationCrypto);
      assert.equal(r.valid, true, r.summary);
      assert.equal(r.debugMode, debugMode);
      assert.deepEqual(r.document?.pcrs.get(0), debugMode ? new Uint8Array(48) : measurements.pcr0);
      assert.deepEqual(r.document?.pcrs.get(3), nsm.pcr(3));
      assert.deepEqual(r.document?.pcrs.get(4), nsm.pcr(4));
      assert.equal(r.document?.timestamp, T0 + 10);
    }
  });

  it('refuses what it cannot sign: a malformed enclave ID, bad PCRs, oversized fields', async () => {
    await assert.rejects(
      createAttestationDocument({ ca, enclaveId: '../../etc', pcrs: pcrsOf(1), timestamp: T0 }),
      DevelopmentCaError,
    );
    await assert.rejects(
      createAttestationDocument({ ca, enclaveId: ENCLAVE, pcrs: new Map(), timestamp: T0 }),
      DevelopmentCaError,
    );
    await assert.rejects(
      createAttestationDocument({ ca, enclaveId: ENCLAVE, pcrs: new Map([[0, new Uint8Array(32)]]), timestamp: T0 }),
      DevelopmentCaError,
    );
    await assert.rejects(
      createAttestationDocument({ ca, enclaveId: ENCLAVE, pcrs: new Map([[32, new Uint8Array(48)]]), timestamp: T0 }),
      DevelopmentCaError,
    );
    await assert.rejects(
      createAttestationDocument({
        ca,
        enclaveId: ENCLAVE,
        pcrs: pcrsOf(1),
        nonce: new Uint8Array(1025),
        timestamp: T0,
      }),
      DevelopmentCaError,
    );
  });
});
