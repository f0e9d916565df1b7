// A bounded reader of DER (X.690) tag-length-value items: just enough to pick fields out of an
// X.509 certificate that Node's X509Certificate does not expose (signature algorithm and value,
// issuer attributes in order). Lengths are checked against the enclosing item before any use.

export interface DerItem {
  /** Tag class and number as the first identifier octet (e.g. 0x30 SEQUENCE, 0xa0 [0]). */
  readonly tag: number;
  readonly constructed: boolean;
  /** Offset of the first identifier octet within the outermost buffer. */
  readonly start: number;
  /** Offset and length of the contents. */
  readonly contentStart: number;
  readonly length: number;
  readonly bytes: Uint8Array; // the contents
  readonly end: number;
}

export class DerError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`);
    this.name = 'DerError';
  }
}

/** Reads one item at `offset` of `buf`, which must end by `limit`. */
export function readDer(buf: Uint8Array, offset = 0, limit = buf.length): DerItem {
  if (offset + 2 > limit) throw new DerError('truncated DER item', offset);
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte DER tags are not supported', offset);
  let lenByte = buf[offset + 1] as number;
  let pos = offset + 2;
  let length: number;
  if (lenByte < 0x80) {
    length = lenByte;
  } else {
    lenByte &= 0x7f;
    if (lenByte === 0) throw new DerError('indefinite length is not allowed in DER', offset);
    if (lenByte > 4) throw new DerError('DER length field too long', offset);
    if (pos + lenByte > limit) throw new DerError('truncated DER length', offset);
    length = 0;
    for (let i = 0; i < lenByte; i++) length = length * 256 + (buf[pos + i] as number);
    pos += lenByte;
  }
  if (pos + length > limit)
    throw new DerError(`DER item claims ${length} bytes but only ${limit - pos} remain`, offset);
  return {
    tag,
    constructed: (tag & 0x20) !== 0,
    start: offset,
    contentStart: pos,
    length,
    bytes: buf.subarray(pos, pos + length),
    end: pos + length,
  };
}

/** The items directly inside a constructed item. */
export function derChildren(buf: Uint8Array, item: DerItem): DerItem[] {
  if (!item.constructed) throw new DerError('expected a constructed DER item', item.start);
  const out: DerItem[] = [];
  for (let pos = item.contentStart; pos < item.end;) {
    const child = readDer(buf, pos, item.end);
    out.push(child);
    pos = child.end;
  }
  return out;
}

export function expectTag(item: DerItem | undefined, tag: number, what: string): DerItem {
  if (!item) throw new DerError(`missing ${what}`, 0);
  if (item.tag !== tag)
    throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${item.tag.toString(16)}`, item.start);
  return item;
}

/** Dotted-decimal text of an OBJECT IDENTIFIER's contents. */
export function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0) throw new DerError('empty OBJECT IDENTIFIER', 0);
  const parts: number[] = [];
  let value = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER) throw new DerError('OBJECT IDENTIFIER arc too large', i);
    if ((b & 0x80) === 0) {
      if (parts.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        parts.push(first, value - first * 40);
      } else {
        parts.push(value);
      }
      value = 0;
    } else if (i === bytes.length - 1) {
      throw new DerError('truncated OBJECT IDENTIFIER', i);
    }
  }
  return parts.join('.');
}
