// Byte helpers for Uint8Array (the engine core has no Buffer).

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += HEX[b];
  return out;
}

/** Parses hex (even length, case-insensitive); throws on anything else. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error('not a hex string');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Upper-case hex pairs joined by ':' (OpenSSL's way of printing a signature). */
export function toColonHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => (HEX[b] as string).toUpperCase()).join(':');
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const encoder = new TextEncoder();
export const utf8 = (text: string): Uint8Array => encoder.encode(text);

/** Decodes UTF-8; invalid sequences throw (fatal) rather than turning into U+FFFD. */
export function fromUtf8(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

export function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A big-endian u64 as a bigint (exact). */
export function readU64(bytes: Uint8Array, offset: number): bigint {
  return view(bytes).getBigUint64(offset, false);
}

export function writeU64(bytes: Uint8Array, offset: number, value: number | bigint): void {
  view(bytes).setBigUint64(offset, BigInt(value), false);
}
