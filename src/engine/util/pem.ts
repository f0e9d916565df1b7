// PEM (RFC 7468) text to DER, as the EIF tools read certificates, and certificate files in either form.
import { DerError, readDer } from './der';

const BEGIN = /-----BEGIN ([A-Z0-9 ]+)-----/g;

/** The DER bytes of every PEM block with the given label, in order. */
export function pemBlocks(text: string, label: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  BEGIN.lastIndex = 0;
  for (let m = BEGIN.exec(text); m; m = BEGIN.exec(text)) {
    if (m[1] !== label) continue;
    const start = m.index + m[0].length;
    const end = text.indexOf(`-----END ${label}-----`, start);
    if (end === -1) throw new Error(`PEM block "${label}" has no END line`);
    const body = text.slice(start, end).replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0)
      throw new Error(`PEM block "${label}" is not valid base64`);
    const bin = atob(body);
    const der = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) der[i] = bin.charCodeAt(i);
    out.push(der);
    BEGIN.lastIndex = end;
  }
  return out;
}

/** The first certificate of a PEM file, as DER. Throws when there is none. */
export function firstCertificateDer(pem: string): Uint8Array {
  const [der] = pemBlocks(pem, 'CERTIFICATE');
  if (!der) throw new Error('no PEM certificate (-----BEGIN CERTIFICATE-----) found');
  return der;
}

/**
 * The certificates of a certificate file as DER, in order: binary DER (one certificate, or several
 * written one after another), or PEM text with one or more CERTIFICATE blocks. Throws with a
 * sentence saying what the file is not. Only the framing is checked here; callers parse each one.
 */
export function certificatesFromFile(bytes: Uint8Array): Uint8Array[] {
  if (bytes.length === 0) throw new Error('the file is empty');
  if (bytes[0] === 0x30) {
    const out: Uint8Array[] = [];
    try {
      for (let pos = 0; pos < bytes.length;) {
        const item = readDer(bytes, pos);
        if (item.tag !== 0x30)
          throw new DerError(`expected a certificate (a DER SEQUENCE), found tag 0x${item.tag.toString(16)}`, pos);
        out.push(bytes.slice(item.start, item.end));
        pos = item.end;
      }
      return out;
    } catch (e) {
      throw new Error(
        `the file starts like DER but is not a DER certificate: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error('the file is neither a DER certificate (binary, starting with 0x30) nor PEM text');
  }
  const ders = pemBlocks(text, 'CERTIFICATE');
  if (ders.length === 0)
    throw new Error('no certificate: the file is neither DER nor PEM with a -----BEGIN CERTIFICATE----- block');
  return ders;
}
