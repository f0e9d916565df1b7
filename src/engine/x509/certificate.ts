// The facts of an X.509 certificate that the EIF and attestation tools print, read from its DER:
// issuer and subject attributes (with OpenSSL's long names), validity (in OpenSSL's print format),
// signature algorithm and signature bytes, and the public key's algorithm and curve.
// Cryptographic checks (signatures, chains) are done by the Node adapters with node:crypto.
import { DerError, decodeOid, derChildren, expectTag, readDer, type DerItem } from '../util/der';

/** OpenSSL long names of the attribute types found in certificate names. */
const ATTRIBUTE_NAMES: Record<string, string> = {
  '2.5.4.3': 'commonName',
  '2.5.4.4': 'surname',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'countryName',
  '2.5.4.7': 'localityName',
  '2.5.4.8': 'stateOrProvinceName',
  '2.5.4.9': 'streetAddress',
  '2.5.4.10': 'organizationName',
  '2.5.4.11': 'organizationalUnitName',
  '2.5.4.12': 'title',
  '2.5.4.17': 'postalCode',
  '2.5.4.42': 'givenName',
  '2.5.4.43': 'initials',
  '2.5.4.44': 'generationQualifier',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.65': 'pseudonym',
  '2.5.4.97': 'organizationIdentifier',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '0.9.2342.19200300.100.1.1': 'userId',
  '0.9.2342.19200300.100.1.25': 'domainComponent',
};

/** OpenSSL long names of signature algorithms. */
const SIGNATURE_ALGORITHMS: Record<string, string> = {
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.1': 'ecdsa-with-SHA224',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'rsassaPss',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.3.101.112': 'ED25519',
  '1.3.101.113': 'ED448',
};

const CURVES: Record<string, string> = {
  '1.2.840.10045.3.1.7': 'prime256v1',
  '1.3.132.0.34': 'secp384r1',
  '1.3.132.0.35': 'secp521r1',
};

const KEY_ALGORITHMS: Record<string, string> = {
  '1.2.840.10045.2.1': 'id-ecPublicKey',
  '1.2.840.113549.1.1.1': 'rsaEncryption',
  '1.3.101.112': 'ED25519',
};

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export interface NameAttribute {
  readonly oid: string;
  /** OpenSSL long name, or the dotted OID when OpenSSL has none. */
  readonly name: string;
  readonly value: string;
}

export interface BasicConstraints {
  readonly critical: boolean;
  readonly ca: boolean;
  readonly pathLen: number | undefined;
}

/** keyUsage bits by name (RFC 5280 4.2.1.3). */
export const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
export type KeyUsageName = (typeof KEY_USAGE_BITS)[number];

export interface KeyUsage {
  readonly critical: boolean;
  readonly usages: readonly KeyUsageName[];
}

export interface CertificateInfo {
  readonly der: Uint8Array;
  /** The signed part (TBSCertificate), exactly as encoded. */
  readonly tbs: Uint8Array;
  /** Issuer and subject Name, exactly as encoded (compared byte for byte when chaining). */
  readonly issuerDer: Uint8Array;
  readonly subjectDer: Uint8Array;
  readonly basicConstraints: BasicConstraints | undefined;
  readonly keyUsage: KeyUsage | undefined;
  /** OIDs of every extension, with their criticality. */
  readonly extensions: readonly { readonly oid: string; readonly critical: boolean }[];
  readonly issuer: readonly NameAttribute[];
  readonly subject: readonly NameAttribute[];
  readonly serialNumberHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly signatureAlgorithmOid: string;
  /** OpenSSL long name, e.g. `ecdsa-with-SHA384`. */
  readonly signatureAlgorithm: string;
  /** The certificate's own signature (BIT STRING contents without the unused-bits byte). */
  readonly signature: Uint8Array;
  readonly publicKeyAlgorithm: string;
  /** Named curve of an EC key (`prime256v1`, `secp384r1`, `secp521r1`), if any. */
  readonly curve: string | undefined;
  /** The SubjectPublicKeyInfo DER. */
  readonly spki: Uint8Array;
}

/** A certificate that could not be parsed. */
export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateError';
  }
}

function decodeString(item: DerItem): string {
  switch (item.tag) {
    case 0x0c: // UTF8String
      return new TextDecoder('utf-8', { fatal: true }).decode(item.bytes);
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x12: // NumericString
    case 0x1a: // VisibleString
    case 0x14: // TeletexString (read as Latin-1, as OpenSSL does)
      return Array.from(item.bytes, (b) => String.fromCharCode(b)).join('');
    case 0x1e: {
      // BMPString: UTF-16BE
      let s = '';
      for (let i = 0; i + 1 < item.bytes.length; i += 2)
        s += String.fromCharCode(((item.bytes[i] as number) << 8) | (item.bytes[i + 1] as number));
      return s;
    }
    case 0x1c: {
      // UniversalString: UTF-32BE
      let s = '';
      for (let i = 0; i + 3 < item.bytes.length; i += 4) {
        const cp =
          (((item.bytes[i] as number) << 24) |
            ((item.bytes[i + 1] as number) << 16) |
            ((item.bytes[i + 2] as number) << 8) |
            (item.bytes[i + 3] as number)) >>>
          0;
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
          throw new DerError(
            `UniversalString holds U+${cp.toString(16)}, which is not a Unicode scalar value`,
            item.start,
          );
        s += String.fromCodePoint(cp);
      }
      return s;
    }
    default:
      throw new DerError(`unsupported string type 0x${item.tag.toString(16)} in a name`, item.start);
  }
}

function decodeName(buf: Uint8Array, item: DerItem): NameAttribute[] {
  expectTag(item, 0x30, 'Name');
  const out: NameAttribute[] = [];
  for (const rdn of derChildren(buf, item)) {
    expectTag(rdn, 0x31, 'RelativeDistinguishedName');
    for (const atv of derChildren(buf, rdn)) {
      const [type, value] = derChildren(buf, expectTag(atv, 0x30, 'AttributeTypeAndValue'));
      const oid = decodeOid(expectTag(type, 0x06, 'attribute type').bytes);
      if (!value) throw new DerError('attribute without a value', atv.start);
      out.push({ oid, name: ATTRIBUTE_NAMES[oid] ?? oid, value: decodeString(value) });
    }
  }
  return out;
}

function decodeTime(item: DerItem): Date {
  const text = Array.from(item.bytes, (b) => String.fromCharCode(b)).join('');
  let m: RegExpExecArray | null;
  if (item.tag === 0x17 && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
    const yy = Number(m[1]);
    return new Date(
      Date.UTC(
        yy >= 50 ? 1900 + yy : 2000 + yy,
        Number(m[2]) - 1,
        Number(m[3]),
        Number(m[4]),
        Number(m[5]),
        Number(m[6]),
      ),
    );
  }
  if (item.tag === 0x18 && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d+))?Z$/.exec(text))) {
    const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
    return new Date(
      Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms),
    );
  }
  throw new DerError(`unsupported time "${text}"`, item.start);
}

function algorithmOid(
  buf: Uint8Array,
  item: DerItem | undefined,
  what: string,
): { oid: string; params: DerItem | undefined } {
  const [oid, params] = derChildren(buf, expectTag(item, 0x30, what));
  return { oid: decodeOid(expectTag(oid, 0x06, `${what} OID`).bytes), params };
}

/** The extensions in the fields after subjectPublicKeyInfo (the [3] wrapper), with basic constraints and key usage. */
function readExtensions(
  der: Uint8Array,
  rest: DerItem[],
): {
  basicConstraints: BasicConstraints | undefined;
  keyUsage: KeyUsage | undefined;
  extensions: { oid: string; critical: boolean }[];
} {
  let basicConstraints: BasicConstraints | undefined;
  let keyUsage: KeyUsage | undefined;
  const extensions: { oid: string; critical: boolean }[] = [];
  const extsWrapper = rest.find((f) => f.tag === 0xa3);
  if (extsWrapper) {
    const [exts] = derChildren(der, extsWrapper);
    for (const ext of derChildren(der, expectTag(exts, 0x30, 'extensions'))) {
      const parts = derChildren(der, expectTag(ext, 0x30, 'extension'));
      const oid = decodeOid(expectTag(parts[0], 0x06, 'extension id').bytes);
      const critical = parts[1]?.tag === 0x01 ? (parts[1].bytes[0] ?? 0) !== 0 : false;
      const value = expectTag(parts[parts.length - 1], 0x04, 'extension value');
      extensions.push({ oid, critical });
      if (oid === '2.5.29.19') basicConstraints = decodeBasicConstraints(value, critical);
      else if (oid === '2.5.29.15') keyUsage = decodeKeyUsage(value, critical);
    }
  }
  return { basicConstraints, keyUsage, extensions };
}

/** The basicConstraints extension's value: cA and pathLenConstraint. */
function decodeBasicConstraints(value: DerItem, critical: boolean): BasicConstraints {
  const seq = readDer(value.bytes);
  const items = seq.tag === 0x30 && seq.length > 0 ? derChildren(value.bytes, seq) : [];
  let ca = false;
  let pathLen: number | undefined;
  for (const item of items) {
    if (item.tag === 0x01) ca = (item.bytes[0] ?? 0) !== 0;
    else if (item.tag === 0x02) pathLen = item.bytes.reduce((n, b) => n * 256 + b, 0);
  }
  return { critical, ca, pathLen };
}

/** The keyUsage extension's value: the names of the bits set. */
function decodeKeyUsage(value: DerItem, critical: boolean): KeyUsage {
  const bits = expectTag(readDer(value.bytes), 0x03, 'keyUsage');
  const usages: KeyUsageName[] = [];
  KEY_USAGE_BITS.forEach((name, bit) => {
    const byte = bits.bytes[1 + (bit >> 3)];
    if (byte !== undefined && byte & (0x80 >> (bit & 7))) usages.push(name);
  });
  return { critical, usages };
}

/** The public key's algorithm and, for an EC key, its curve's name. */
function publicKeyAlgorithm(
  der: Uint8Array,
  spkiItem: DerItem,
): { keyAlg: { oid: string; params: DerItem | undefined }; curve: string | undefined } {
  const [keyAlgItem] = derChildren(der, spkiItem);
  const keyAlg = algorithmOid(der, keyAlgItem, 'public key algorithm');
  const curve =
    keyAlg.params?.tag === 0x06
      ? (CURVES[decodeOid(keyAlg.params.bytes)] ?? decodeOid(keyAlg.params.bytes))
      : undefined;
  return { keyAlg, curve };
}

/** Parses a DER certificate. Throws CertificateError saying what is wrong. */
export function parseCertificate(der: Uint8Array): CertificateInfo {
  try {
    const cert = readDer(der);
    if (cert.end !== der.length) throw new DerError(`${der.length - cert.end} bytes follow the certificate`, cert.end);
    const [tbs, sigAlg, sigValue] = derChildren(der, expectTag(cert, 0x30, 'Certificate'));
    const fields = derChildren(der, expectTag(tbs, 0x30, 'TBSCertificate'));
    let i = 0;
    if (fields[0]?.tag === 0xa0) i++; // [0] version
    const serial = expectTag(fields[i++], 0x02, 'serialNumber');
    i++; // signature AlgorithmIdentifier (must equal the outer one)
    const issuer = decodeName(der, expectTag(fields[i++], 0x30, 'issuer'));
    const [nb, na] = derChildren(der, expectTag(fields[i++], 0x30, 'validity'));
    if (!nb || !na) throw new DerError('validity needs notBefore and notAfter', 0);
    const subject = decodeName(der, expectTag(fields[i++], 0x30, 'subject'));
    const spkiItem = expectTag(fields[i++], 0x30, 'subjectPublicKeyInfo');
    const issuerItem = fields[i - 4] as DerItem;
    const subjectItem = fields[i - 2] as DerItem;
    const { basicConstraints, keyUsage, extensions } = readExtensions(der, fields.slice(i));
    const { keyAlg, curve } = publicKeyAlgorithm(der, spkiItem);
    const sig = algorithmOid(der, sigAlg, 'signatureAlgorithm');
    const bits = expectTag(sigValue, 0x03, 'signatureValue');
    if (bits.length < 1) throw new DerError('empty BIT STRING', bits.start);
    return {
      der,
      tbs: der.slice((tbs as DerItem).start, (tbs as DerItem).end),
      issuerDer: der.slice(issuerItem.start, issuerItem.end),
      subjectDer: der.slice(subjectItem.start, subjectItem.end),
      basicConstraints,
      keyUsage,
      extensions,
      issuer,
      subject,
      serialNumberHex: Array.from(serial.bytes, (b) => b.toString(16).padStart(2, '0')).join(''),
      notBefore: decodeTime(nb),
      notAfter: decodeTime(na),
      signatureAlgorithmOid: sig.oid,
      signatureAlgorithm: SIGNATURE_ALGORITHMS[sig.oid] ?? sig.oid,
      signature: bits.bytes.slice(1),
      publicKeyAlgorithm: KEY_ALGORITHMS[keyAlg.oid] ?? keyAlg.oid,
      curve,
      spki: der.slice(spkiItem.start, spkiItem.end),
    };
  } catch (e) {
    if (e instanceof DerError) throw new CertificateError(`not a valid X.509 certificate: ${e.message}`);
    if (e instanceof TypeError || e instanceof RangeError)
      throw new CertificateError(`not a valid X.509 certificate: ${e.message}`);
    throw e;
  }
}

/** OpenSSL's ASN1_TIME_print format: `Jan  1 00:00:00 2020 GMT` (day padded with a space). */
export function opensslTime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  const day = String(date.getUTCDate()).padStart(2, ' ');
  return `${MONTHS[date.getUTCMonth()]} ${day} ${time} ${date.getUTCFullYear()} GMT`;
}

/** A string as Rust's `{:?}` prints it, without the surrounding quotes. */
export function rustDebugEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (ch === '\\') out += '\\\\';
    else if (ch === '"') out += '\\"';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\0') out += '\\0';
    else if (cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0)) out += `\\u{${cp.toString(16)}}`;
    else out += ch;
  }
  return out;
}

export function isValidAt(cert: CertificateInfo, at: Date): boolean {
  return at.getTime() >= cert.notBefore.getTime() && at.getTime() <= cert.notAfter.getTime();
}

/** OpenSSL's short names of name attributes; other attributes print their long name. */
const OPENSSL_SHORT_NAMES: Readonly<Record<string, string>> = {
  commonName: 'CN',
  countryName: 'C',
  localityName: 'L',
  stateOrProvinceName: 'ST',
  organizationName: 'O',
  organizationalUnitName: 'OU',
  domainComponent: 'DC',
};

/** RFC 4514's short names: OpenSSL's, and STREET and UID. */
const RFC4514_SHORT_NAMES: Readonly<Record<string, string>> = {
  ...OPENSSL_SHORT_NAMES,
  streetAddress: 'STREET',
  userId: 'UID',
};

/** A name as `CN=…, O=…` (in certificate order), with OpenSSL's short names where it has one. */
export function nameToString(attrs: readonly NameAttribute[]): string {
  return attrs.map((a) => `${OPENSSL_SHORT_NAMES[a.name] ?? a.name}=${a.value}`).join(', ');
}

/** A name as `CN=…, O=…` (in certificate order), with RFC 4514's short names and escapes. */
export function nameToRfc4514(attrs: readonly NameAttribute[]): string {
  const escape = (v: string) =>
    v
      .replace(/[\\,+"<>;=]/g, (c) => `\\${c}`)
      .replace(/^[ #]/, (c) => `\\${c}`)
      .replace(/ $/, '\\ ');
  return attrs.map((a) => `${RFC4514_SHORT_NAMES[a.name] ?? a.name}=${escape(a.value)}`).join(', ');
}
