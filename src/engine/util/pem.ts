// PEM (RFC 7468) text to DER, as the EIF tools read certificates.

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
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) throw new Error(`PEM block "${label}" is not valid base64`);
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
