// CBOR: decoding through cbor-x (its no-eval build, so it runs under a strict CSP too), with maps
// decoded as Map (no prototype games with hostile keys); encoding of the few exact shapes the EIF
// format needs is done here by hand, because the format fixes their bytes (shortest heads,
// arrays of small uints instead of byte strings).
import { Decoder, Tag } from 'cbor-x/index-no-eval';
import { concatBytes } from './bytes';

// Made on first use, not when the module loads: the extension takes cbor-x from a sibling bundle
// that it loads only when something is decoded (esbuild.config.mjs).
let decoder: Decoder | undefined;
const theDecoder = (): Decoder =>
  (decoder ??= new Decoder({
    useRecords: false,
    mapsAsObjects: false,
    useTag259ForMaps: false,
  } as ConstructorParameters<typeof Decoder>[0]));

export { Tag as CborTag };

/** Decodes exactly one CBOR item filling all of `bytes`; throws (with cbor-x's reason) otherwise. */
export function decodeCbor(bytes: Uint8Array): unknown {
  return theDecoder().decode(bytes);
}

/** A CBOR head: major type and argument, in the shortest form. */
export function cborHead(major: number, value: number): Uint8Array {
  const m = major << 5;
  if (value < 24) return Uint8Array.of(m | value);
  if (value < 0x100) return Uint8Array.of(m | 24, value);
  if (value < 0x10000) return Uint8Array.of(m | 25, value >> 8, value & 0xff);
  if (value < 0x100000000)
    return Uint8Array.of(m | 26, value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
  throw new RangeError('CBOR argument too large');
}

export const cborUint = (n: number): Uint8Array => cborHead(0, n);
export const cborNegInt = (n: number): Uint8Array => cborHead(1, -1 - n);

export function cborBytes(bytes: Uint8Array): Uint8Array {
  return concatBytes(cborHead(2, bytes.length), bytes);
}

export function cborText(text: string): Uint8Array {
  const b = new TextEncoder().encode(text);
  return concatBytes(cborHead(3, b.length), b);
}

/** A byte sequence as serde_cbor writes a Rust Vec<u8>: an array with one uint per byte. */
export function cborUintArray(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [cborHead(4, bytes.length)];
  for (const b of bytes) parts.push(cborUint(b));
  return concatBytes(...parts);
}

export function cborArrayHead(length: number): Uint8Array {
  return cborHead(4, length);
}

export function cborMapHead(pairs: number): Uint8Array {
  return cborHead(5, pairs);
}
