// CiphertextForRecipient (attestation spec 6.2): a CMS ContentInfo of type envelopedData, BER with
// indefinite lengths, in the exact shape KMS answers with:
//
//   ContentInfo SEQUENCE (indefinite) { envelopedData, [0] EXPLICIT (indefinite) {
//     EnvelopedData SEQUENCE (indefinite) { version 2,
//       recipientInfos SET { KeyTransRecipientInfo { version 2, rid [0] subjectKeyIdentifier (32 bytes),
//         rsaesOaep { [0] sha256, [1] mgf1(sha256) } (pSource default), encryptedKey } },
//       encryptedContentInfo SEQUENCE (indefinite) { id-data, aes-256-cbc with its 16-byte IV,
//         encryptedContent [0] constructed (indefinite) { OCTET STRING chunks } } } } }
//
// The encoding is done by asn1js (PeculiarVentures, the ASN.1 library under @peculiar/x509 and
// pkijs), which writes indefinite-length BER; the cryptography by node:crypto: the 32-byte content
// key is RSAES-OAEP encrypted (SHA-256 for both the OAEP hash and MGF1, no label) to the document's
// public key, the content AES-256-CBC with PKCS#7 padding. KMS does not say how its 32-byte SKI is
// derived (spec 6.2: UNCONFIRMED); here it is the SHA-256 of the recipient's SubjectPublicKeyInfo.
import * as asn1js from 'asn1js';
import {
  constants,
  createCipheriv,
  createHash,
  createPublicKey,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';

export const OID = {
  envelopedData: '1.2.840.113549.1.7.3',
  data: '1.2.840.113549.1.7.1',
  rsaesOaep: '1.2.840.113549.1.1.7',
  mgf1: '1.2.840.113549.1.1.8',
  sha256: '2.16.840.1.101.3.4.2.1',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
} as const;

/** encryptedContent is written as OCTET STRING chunks of at most this many bytes. */
export const CONTENT_CHUNK = 1024;

export class RecipientKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecipientKeyError';
  }
}

/**
 * The RSA public key of a DER SubjectPublicKeyInfo (the document's public_key), refused unless it is
 * exactly one RSA SPKI of 2048 to 4096 bits.
 */
export function recipientKey(spki: Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch {
    throw new RecipientKeyError('is not a DER SubjectPublicKeyInfo');
  }
  if (key.asymmetricKeyType !== 'rsa')
    throw new RecipientKeyError(`is a ${key.asymmetricKeyType ?? 'non-RSA'} key, not an RSA key (rsaEncryption)`);
  if (!Buffer.from(key.export({ format: 'der', type: 'spki' })).equals(Buffer.from(spki)))
    throw new RecipientKeyError('is not exactly one DER SubjectPublicKeyInfo (extra or non-canonical bytes)');
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < 2048 || bits > 4096) throw new RecipientKeyError(`is a ${bits}-bit RSA key; 2048 to 4096 bits are taken`);
  return key;
}

const indefinite = { lenBlock: { isIndefiniteForm: true } } as const;
const oid = (value: string) => new asn1js.ObjectIdentifier({ value });
const sha256Algorithm = () => new asn1js.Sequence({ value: [oid(OID.sha256), new asn1js.Null()] });
const context = (tagNumber: number) => ({ idBlock: { tagClass: 3, tagNumber } });

/** Encrypts `plaintext` to the RSA key of `spki` as CiphertextForRecipient (BER bytes). */
export function envelopeForRecipient(plaintext: Uint8Array, spki: Uint8Array): Uint8Array {
  const key = recipientKey(spki);
  const contentKey = randomBytes(32);
  const iv = randomBytes(16);
  const encryptedKey = publicEncrypt(
    { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    contentKey,
  );
  const cipher = createCipheriv('aes-256-cbc', contentKey, iv);
  const content = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  contentKey.fill(0);
  const chunks: asn1js.OctetString[] = [];
  for (let at = 0; at < content.length; at += CONTENT_CHUNK)
    chunks.push(new asn1js.OctetString({ valueHex: content.subarray(at, at + CONTENT_CHUNK) }));
  const ski = createHash('sha256').update(spki).digest();

  const recipientInfo = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 2 }),
      new asn1js.Primitive({ ...context(0), valueHex: ski }),
      new asn1js.Sequence({
        value: [
          oid(OID.rsaesOaep),
          new asn1js.Sequence({
            value: [
              new asn1js.Constructed({ ...context(0), value: [sha256Algorithm()] }),
              new asn1js.Constructed({
                ...context(1),
                value: [new asn1js.Sequence({ value: [oid(OID.mgf1), sha256Algorithm()] })],
              }),
            ],
          }),
        ],
      }),
      new asn1js.OctetString({ valueHex: encryptedKey }),
    ],
  });
  const contentInfo = new asn1js.Sequence({
    ...indefinite,
    value: [
      oid(OID.envelopedData),
      new asn1js.Constructed({
        ...context(0),
        ...indefinite,
        value: [
          new asn1js.Sequence({
            ...indefinite,
            value: [
              new asn1js.Integer({ value: 2 }),
              new asn1js.Set({ value: [recipientInfo] }),
              new asn1js.Sequence({
                ...indefinite,
                value: [
                  oid(OID.data),
                  new asn1js.Sequence({ value: [oid(OID.aes256Cbc), new asn1js.OctetString({ valueHex: iv })] }),
                  new asn1js.Constructed({ ...context(0), ...indefinite, value: chunks }),
                ],
              }),
            ],
          }),
        ],
      }),
    ],
  });
  const ber = contentInfo.toBER(false);
  if (ber.byteLength === 0) throw new Error('CiphertextForRecipient could not be encoded');
  return new Uint8Array(ber);
}
