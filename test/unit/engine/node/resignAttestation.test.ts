// Re-signing an unsigned QEMU document with the development CA (issue 14, attestation): the result is
// an ordinary COSE_Sign1 signed ES384 by a leaf under the development root, with QEMU's payload
// fields, checked independently of the engine: node:crypto over the Sig_structure this suite builds,
// OpenSSL for the chain and the signature. Signed documents, and documents with only some of QEMU's
// markers, are refused.
import * as assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { verifyAttestation, type VerifyReport } from '../../../../src/engine/attestation/verify';
import { nodeAttestationCrypto } from '../../../../src/engine/node/attestationCrypto';
import { DevelopmentCa } from '../../../../src/engine/node/devAttestation';
import { ResignError, resignUnsignedDocument } from '../../../../src/engine/node/resignAttestation';
import {
  cText,
  cabundleOf,
  certificateOf,
  encodeSign1,
  entryValue,
  hex,
  joinPayload,
  loadFixture,
  nodeVerifySign1,
  openssl,
  setEntry,
  sigStructure,
  sign1Layout,
  splitPayload,
  walkCbor,
  QEMU,
  QEMU_FILE,
} from '../attestation/helpers';

const pem = (der: Uint8Array): string => new X509Certificate(der).toString();

/** DER ECDSA-Sig-Value of a raw r‖s signature (for `openssl dgst -verify`). */
function derSignature(raw: Uint8Array): Buffer {
  const int = (b: Uint8Array) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    const v = b.subarray(i);
    const body = (v[0] as number) & 0x80 ? Buffer.concat([Buffer.of(0), v]) : Buffer.from(v);
    return Buffer.concat([Buffer.of(0x02, body.length), body]);
  };
  const seq = Buffer.concat([int(raw.subarray(0, 48)), int(raw.subarray(48))]);
  return Buffer.concat([Buffer.of(0x30, seq.length), seq]);
}

/** The payload's fields other than certificate and cabundle, as encoded bytes. */
function sameFields(payload: Uint8Array): Record<string, string> {
  const p = splitPayload(payload);
  const out: Record<string, string> = {};
  for (const k of ['module_id', 'digest', 'timestamp', 'pcrs', 'public_key', 'user_data', 'nonce'])
    out[k] = hex(entryValue(p, k));
  return out;
}

describe('(unit) re-signing an unsigned QEMU document with the development CA', function () {
  this.timeout(60_000);
  let dir: string;
  let ca: DevelopmentCa;
  let resigned: Uint8Array;
  const NOW = Date.parse('2026-12-07T10:00:00Z');

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-resign-'));
    ca = await DevelopmentCa.load(dir, { now: () => NOW - 3600_000 });
    resigned = await resignUnsignedDocument(ca, loadFixture(QEMU_FILE), () => NOW);
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is an untagged COSE_Sign1 with {1: -35}, a 96-byte signature, and the same fields as QEMU wrote', () => {
    const l = sign1Layout(resigned);
    assert.equal(l.tagged, false);
    assert.equal(hex(l.protectedBytes), 'a1013822');
    assert.equal(l.signature.length, 96);
    const original = sign1Layout(loadFixture(QEMU_FILE));
    assert.deepEqual(sameFields(l.payload), {
      ...sameFields(original.payload),
      // The development CA writes the timestamp in hardware's 8-byte form, as QEMU did.
      timestamp: hex(entryValue(splitPayload(original.payload), 'timestamp')),
    });
    const p = splitPayload(l.payload);
    assert.equal(Buffer.from(entryValue(p, 'timestamp')).readBigUInt64BE(1), BigInt(QEMU.timestamp));
    assert.equal(hex(entryValue(p, 'public_key')), 'f6', 'public_key stays null');
    const bundle = cabundleOf(p);
    assert.equal(bundle.length, 4);
    assert.equal(hex(bundle[0] as Uint8Array), hex(ca.rootDer), 'cabundle[0] is the development root');
    assert.notEqual(hex(certificateOf(p)), '00'.repeat(64));
  });

  it('its signature verifies over the Sig_structure with node:crypto and the leaf key, and with OpenSSL', () => {
    const l = sign1Layout(resigned);
    const p = splitPayload(l.payload);
    const leaf = certificateOf(p);
    assert.equal(nodeVerifySign1(resigned, leaf), true);
    // Altering one payload byte breaks it: the check is real.
    const tampered = encodeSign1({
      protectedBytes: l.protectedBytes,
      payload: joinPayload(setEntry(p, 'digest', cText('SHA385'))),
      signature: l.signature,
    });
    assert.equal(nodeVerifySign1(tampered, leaf), false);

    writeFileSync(path.join(dir, 'leaf.pem'), pem(leaf));
    writeFileSync(path.join(dir, 'root.pem'), pem(ca.rootDer));
    writeFileSync(path.join(dir, 'chain.pem'), cabundleOf(p).slice(1).map(pem).join(''));
    writeFileSync(path.join(dir, 'tbs.bin'), sigStructure(l.protectedBytes, l.payload));
    writeFileSync(path.join(dir, 'sig.der'), derSignature(l.signature));
    const key = openssl(['x509', '-in', 'leaf.pem', '-pubkey', '-noout', '-out', 'leaf.pub'], dir);
    assert.equal(key.status, 0, key.stderr);
    const sig = openssl(['dgst', '-sha384', '-verify', 'leaf.pub', '-signature', 'sig.der', 'tbs.bin'], dir);
    assert.equal(sig.status, 0, sig.stderr);
    assert.match(sig.stdout, /Verified OK/);
    const chain = openssl(
      ['verify', '-attime', String(NOW / 1000), '-CAfile', 'root.pem', '-untrusted', 'chain.pem', 'leaf.pem'],
      dir,
    );
    assert.equal(chain.status, 0, chain.stderr);
    assert.match(chain.stdout, /leaf\.pem: OK/);
  });

  it('the certificates are valid when it was signed, whatever the QEMU timestamp says', () => {
    const leaf = new X509Certificate(certificateOf(splitPayload(sign1Layout(resigned).payload)));
    assert.ok(Date.parse(leaf.validFrom) <= NOW && NOW <= Date.parse(leaf.validTo));
    assert.match(leaf.subject, /development/);
  });

  it('verifies VALID (development root) with the development root trusted, INVALID with the AWS root only', () => {
    const at = new Date(NOW + 60_000);
    const dev: VerifyReport = verifyAttestation(
      resigned,
      { at, roots: [{ pem: ca.rootPem, kind: 'development', label: 'the development root' }] },
      nodeAttestationCrypto,
    );
    assert.equal(dev.verdict, 'valid', dev.summary);
    assert.equal(dev.development, true);
    assert.match(dev.summary, /^VALID at .*development attestation: signed by the local development root, not by AWS/);
    assert.equal(dev.document?.moduleId, QEMU.moduleId);
    const aws = verifyAttestation(resigned, { at }, nodeAttestationCrypto);
    assert.equal(aws.verdict, 'invalid');
    assert.equal(aws.checks.find((c) => c.code === 'chain.root')?.status, 'fail');
    assert.equal(aws.unsigned, undefined);
  });

  it('refuses a signed document (a real one, and a development one), saying it is signed', async () => {
    for (const signed of [loadFixture('evervault-2022-10-13-prod.cbor'), resigned]) {
      await assert.rejects(
        resignUnsignedDocument(ca, signed, () => NOW),
        (e: unknown) =>
          e instanceof ResignError &&
          /the document is signed \(a protected header with alg -35, a 96-byte signature that is not all zeros/.test(
            e.message,
          ) &&
          /only unsigned QEMU documents are re-signed/.test(e.message),
      );
    }
  });

  it('refuses a document with only some markers, and one whose module_id names no enclave', async () => {
    const l = sign1Layout(loadFixture(QEMU_FILE));
    const partial = encodeSign1({
      protectedBytes: l.protectedBytes,
      payload: l.payload,
      signature: new Uint8Array(96).fill(1),
    });
    await assert.rejects(
      resignUnsignedDocument(ca, partial, () => NOW),
      /altered or made to look unsigned; it is not re-signed/,
    );
    const p = splitPayload(l.payload);
    const defaultId = encodeSign1({
      protectedBytes: l.protectedBytes,
      payload: joinPayload(setEntry(p, 'module_id', cText('i-234-enc5678'))),
      signature: l.signature,
    });
    assert.equal(walkCbor(defaultId).end, defaultId.length);
    await assert.rejects(
      resignUnsignedDocument(ca, defaultId, () => NOW),
      /module_id "i-234-enc5678" is not an enclave ID/,
    );
  });
});
