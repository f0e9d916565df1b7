// An independent reader of KMS's CiphertextForRecipient (attestation spec 6.2), written for the
// tests from the spec's description and not from the endpoint's encoder: a small BER walker (both
// definite and indefinite lengths), the shape checks the spec lists, and decryption with
// node:crypto (RSA-OAEP with SHA-256 and MGF1-SHA-256, then AES-256-CBC with PKCS#7 padding).
import * as assert from 'node:assert/strict';
import { constants, createDecipheriv, privateDecrypt, type KeyObject } from 'node:crypto';

export interface Tlv {
  readonly tag: number;
  readonly constructed: boolean;
  readonly indefinite: boolean;
  /** Primitive content (empty for constructed). */
  readonly content: Buffer;
  readonly children: readonly Tlv[];
  readonly end: number;
}

/** Reads one TLV at `at`; with `indefinite` constructed values ends at the 00 00 end-of-contents. */
export function readTlv(b: Buffer, at: number): Tlv {
  assert.ok(at + 2 <= b.length, `a TLV at ${at} runs past the end`);
  const id = b[at] as number;
  assert.notEqual(id & 0x1f, 0x1f, 'high tag numbers are not used here');
  const constructed = (id & 0x20) !== 0;
  let p = at + 1;
  const first = b[p++] as number;
  if (first === 0x80) {
    assert.ok(constructed, `a primitive value at ${at} has an indefinite length`);
    const children: Tlv[] = [];
    for (;;) {
      assert.ok(p + 2 <= b.length, `no end-of-contents for the value at ${at}`);
      if (b[p] === 0 && b[p + 1] === 0)
        return { tag: id, constructed, indefinite: true, content: Buffer.alloc(0), children, end: p + 2 };
      const child = readTlv(b, p);
      children.push(child);
      p = child.end;
    }
  }
  let length = first;
  if (first & 0x80) {
    const n = first & 0x7f;
    assert.ok(n >= 1 && n <= 4, `length of ${n} bytes at ${at}`);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (b[p++] as number);
  }
  const end = p + length;
  assert.ok(end <= b.length, `the value at ${at} runs past the end`);
  if (!constructed) return { tag: id, constructed, indefinite: false, content: b.subarray(p, end), children: [], end };
  const children: Tlv[] = [];
  while (p < end) {
    const child = readTlv(b, p);
    children.push(child);
    p = child.end;
  }
  assert.equal(p, end, `the children of the value at ${at} overrun it`);
  return { tag: id, constructed, indefinite: false, content: Buffer.alloc(0), children, end };
}

/** An OBJECT IDENTIFIER's dotted text. */
export function oidText(t: Tlv): string {
  assert.equal(t.tag, 0x06, 'an OBJECT IDENTIFIER');
  const c = t.content;
  const parts = [Math.floor((c[0] as number) / 40), (c[0] as number) % 40];
  let v = 0;
  for (let i = 1; i < c.length; i++) {
    v = v * 128 + ((c[i] as number) & 0x7f);
    if (((c[i] as number) & 0x80) === 0) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

const child = (t: Tlv, i: number): Tlv => {
  const c = t.children[i];
  assert.ok(c, `child ${i} of tag 0x${t.tag.toString(16)}`);
  return c;
};
const intValue = (t: Tlv): number => {
  assert.equal(t.tag, 0x02, 'an INTEGER');
  return t.content.reduce((n, x) => n * 256 + x, 0);
};
const sha256AlgorithmId = (t: Tlv) => {
  assert.equal(t.tag, 0x30);
  assert.equal(oidText(child(t, 0)), '2.16.840.1.101.3.4.2.1', 'sha256');
  if (t.children.length > 1)
    assert.deepEqual([child(t, 1).tag, child(t, 1).content.length], [0x05, 0], 'NULL parameters');
};

export interface EnvelopeFields {
  readonly subjectKeyIdentifier: Buffer;
  readonly encryptedKey: Buffer;
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  /** encryptedContent was a constructed, indefinite-length [0] (chunks), else a primitive [0]. */
  readonly chunked: boolean;
  readonly chunks: number;
}

/** Reads a CiphertextForRecipient and checks every point of the spec's shape (6.2). */
export function readEnvelope(ber: Uint8Array): EnvelopeFields {
  const b = Buffer.from(ber);
  const ci = readTlv(b, 0);
  assert.equal(ci.end, b.length, 'nothing after the ContentInfo');
  assert.equal(ci.tag, 0x30, 'ContentInfo is a SEQUENCE');
  assert.ok(ci.indefinite, 'ContentInfo has an indefinite length');
  assert.equal(oidText(child(ci, 0)), '1.2.840.113549.1.7.3', 'contentType envelopedData');
  const explicit = child(ci, 1);
  assert.equal(explicit.tag, 0xa0, '[0] EXPLICIT');
  assert.ok(explicit.indefinite, '[0] has an indefinite length');
  const ed = child(explicit, 0);
  assert.equal(ed.tag, 0x30, 'EnvelopedData is a SEQUENCE');
  assert.ok(ed.indefinite, 'EnvelopedData has an indefinite length');
  assert.equal(
    ed.children.length,
    3,
    'version, recipientInfos, encryptedContentInfo (no originatorInfo, no attributes)',
  );
  assert.equal(intValue(child(ed, 0)), 2, 'EnvelopedData version 2');
  const ris = child(ed, 1);
  assert.equal(ris.tag, 0x31, 'recipientInfos is a SET');
  assert.equal(ris.children.length, 1, 'one recipient');
  const ktri = child(ris, 0);
  assert.equal(ktri.tag, 0x30, 'KeyTransRecipientInfo is a SEQUENCE');
  assert.equal(intValue(child(ktri, 0)), 2, 'ktri version 2');
  const rid = child(ktri, 1);
  assert.equal(rid.tag, 0x80, 'rid is [0] subjectKeyIdentifier');
  assert.equal(rid.content.length, 32, 'a 32-byte subjectKeyIdentifier');
  const kea = child(ktri, 2);
  assert.equal(oidText(child(kea, 0)), '1.2.840.113549.1.1.7', 'rsaesOaep');
  const params = child(kea, 1);
  assert.equal(params.tag, 0x30, 'RSAES-OAEP-params');
  assert.equal(params.children.length, 2, 'hashAlgorithm and maskGenAlgorithm, pSource default');
  assert.equal(child(params, 0).tag, 0xa0);
  sha256AlgorithmId(child(child(params, 0), 0));
  assert.equal(child(params, 1).tag, 0xa1);
  const mgf = child(child(params, 1), 0);
  assert.equal(oidText(child(mgf, 0)), '1.2.840.113549.1.1.8', 'mgf1');
  sha256AlgorithmId(child(mgf, 1));
  const ek = child(ktri, 3);
  assert.equal(ek.tag, 0x04, 'encryptedKey is an OCTET STRING');
  const eci = child(ed, 2);
  assert.equal(eci.tag, 0x30);
  assert.ok(eci.indefinite, 'encryptedContentInfo has an indefinite length');
  assert.equal(oidText(child(eci, 0)), '1.2.840.113549.1.7.1', 'id-data');
  const alg = child(eci, 1);
  assert.equal(oidText(child(alg, 0)), '2.16.840.1.101.3.4.1.42', 'aes-256-cbc');
  const iv = child(alg, 1);
  assert.equal(iv.tag, 0x04);
  assert.equal(iv.content.length, 16, 'a 16-byte IV');
  const content = child(eci, 2);
  let ciphertext: Buffer;
  let chunked: boolean;
  if (content.tag === 0x80) {
    chunked = false;
    ciphertext = content.content;
  } else {
    assert.equal(content.tag, 0xa0, 'encryptedContent is [0]');
    assert.ok(content.indefinite, 'a constructed encryptedContent has an indefinite length');
    for (const c of content.children) assert.equal(c.tag, 0x04, 'chunks are OCTET STRINGs');
    chunked = true;
    ciphertext = Buffer.concat(content.children.map((c) => c.content));
  }
  return {
    subjectKeyIdentifier: rid.content,
    encryptedKey: ek.content,
    iv: iv.content,
    ciphertext,
    chunked,
    chunks: content.children.length,
  };
}

/** Decrypts a CiphertextForRecipient with the recipient's private key, as the spec's three steps say. */
export function openEnvelope(ber: Uint8Array, privateKey: KeyObject): Buffer {
  const f = readEnvelope(ber);
  const cek = privateDecrypt(
    { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    f.encryptedKey,
  );
  assert.equal(cek.length, 32, 'a 32-byte AES key');
  const d = createDecipheriv('aes-256-cbc', cek, f.iv);
  return Buffer.concat([d.update(f.ciphertext), d.final()]);
}
