// A bounded, non-recursive well-formedness check of one CBOR data item (RFC 8949), run before
// decoding untrusted input: every length is checked against the bytes that remain (so nothing is
// allocated by a declared length), nesting is capped, text must be valid UTF-8, and a map with two
// equal keys is refused (keys compared by value, so `69 "module_id"` equals `78 09 "module_id"`).

const utf8 = new TextDecoder('utf-8', { fatal: true });

function latin1(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 4096) out += String.fromCharCode(...bytes.subarray(i, i + 4096));
  return out;
}

export class CborScanError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`);
    this.name = 'CborScanError';
  }
}

export interface ScanOptions {
  /** Deepest nesting of arrays, maps and tags (default 16). */
  readonly maxDepth?: number;
}

interface Frame {
  /** Items still expected; -1 for indefinite length. Maps count keys and values. */
  remaining: number;
  readonly map: boolean;
  readonly keys?: Set<string>;
  /** Offset where the current map key started (to compare keys by their encoding). */
  keyStart?: number;
  itemIndex: number;
}

/** Checks that `bytes` hold exactly one well-formed CBOR item. Throws CborScanError otherwise. */
export function scanCbor(bytes: Uint8Array, options: ScanOptions = {}): void {
  const maxDepth = options.maxDepth ?? 16;
  const stack: Frame[] = [];
  let pos = 0;
  const need = (n: number, what: string) => {
    if (n > bytes.length - pos)
      throw new CborScanError(`${what} needs ${n} bytes but ${bytes.length - pos} remain`, pos);
  };
  const argument = (info: number): number | bigint => {
    if (info < 24) return info;
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (size === 0) throw new CborScanError(`reserved additional information ${info}`, pos - 1);
    need(size, 'a length');
    let v = 0n;
    for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(bytes[pos + i] as number);
    pos += size;
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  /** Called when an item (of any kind) has been completed at depth stack.length. */
  const checkText = (from: number, to: number) => {
    try {
      utf8.decode(bytes.subarray(from, to));
    } catch {
      throw new CborScanError('a text string is not valid UTF-8', from);
    }
  };
  /** Called when an item (of any kind) has been completed; `value` identifies a scalar key by value. */
  const completed = (start: number, value?: string) => {
    for (;;) {
      const top = stack[stack.length - 1];
      if (!top) return;
      if (top.map && top.itemIndex % 2 === 0) {
        const key = value ?? `raw:${latin1(bytes.subarray(start, pos))}`;
        if (top.keys?.has(key)) throw new CborScanError('a map holds the same key twice', start);
        top.keys?.add(key);
      }
      top.itemIndex++;
      if (top.remaining > 0) top.remaining--;
      if (top.remaining !== 0) return;
      stack.pop();
      // The finished container is itself an item of its parent (its key check uses its own start).
      start = (top as Frame & { start?: number }).start ?? start;
      value = undefined;
    }
  };

  do {
    const start = pos;
    need(1, 'an item');
    const initial = bytes[pos++] as number;
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (initial === 0xff) {
      const top = stack[stack.length - 1];
      if (!top || top.remaining !== -1) throw new CborScanError('a "break" outside an indefinite-length item', start);
      if (top.map && top.itemIndex % 2 !== 0)
        throw new CborScanError('an indefinite-length map ends after a key without its value', start);
      stack.pop();
      completed((top as Frame & { start?: number }).start ?? start);
      continue;
    }
    if (info === 31) {
      if (major === 2 || major === 3) {
        // Indefinite-length string: chunks of the same major type with definite lengths, then break.
        let content = '';
        for (;;) {
          need(1, 'a string chunk');
          const b = bytes[pos] as number;
          if (b === 0xff) {
            pos++;
            break;
          }
          if (b >> 5 !== major || (b & 0x1f) === 31)
            throw new CborScanError('a chunk of an indefinite-length string has the wrong type', pos);
          pos++;
          const len = argument(b & 0x1f);
          if (typeof len === 'bigint') throw new CborScanError('a string chunk claims more bytes than exist', pos);
          need(len, 'a string chunk');
          if (major === 3) checkText(pos, pos + len);
          if (content.length < 65536) content += latin1(bytes.subarray(pos, pos + len));
          pos += len;
        }
        completed(start, `${major}:${content}`);
        continue;
      }
      if (major === 4 || major === 5) {
        if (stack.length >= maxDepth) throw new CborScanError(`nesting deeper than ${maxDepth}`, start);
        stack.push(
          Object.assign(
            { remaining: -1, map: major === 5, itemIndex: 0, ...(major === 5 ? { keys: new Set<string>() } : {}) },
            { start },
          ),
        );
        continue;
      }
      throw new CborScanError(`indefinite length is not allowed for major type ${major}`, start);
    }
    const arg = argument(info);
    switch (major) {
      case 0:
      case 1:
        completed(start, `${major}:${String(arg)}`);
        break;
      case 2:
      case 3: {
        if (typeof arg === 'bigint') throw new CborScanError('a string claims more bytes than exist', start);
        need(arg, 'a string');
        if (major === 3) checkText(pos, pos + arg);
        const content = arg <= 65536 ? latin1(bytes.subarray(pos, pos + arg)) : undefined;
        pos += arg;
        completed(start, content === undefined ? undefined : `${major}:${content}`);
        break;
      }
      case 4:
      case 5: {
        const count = typeof arg === 'bigint' ? Number.MAX_SAFE_INTEGER : major === 5 ? arg * 2 : arg;
        // Every item takes at least one byte: a count larger than what remains is a lie.
        if (count > bytes.length - pos)
          throw new CborScanError(
            `a ${major === 5 ? 'map' : 'array'} claims ${typeof arg === 'bigint' ? arg : arg} entries ` +
              `but only ${bytes.length - pos} bytes remain`,
            start,
          );
        if (count === 0) {
          completed(start);
          break;
        }
        if (stack.length >= maxDepth) throw new CborScanError(`nesting deeper than ${maxDepth}`, start);
        stack.push(
          Object.assign(
            { remaining: count, map: major === 5, itemIndex: 0, ...(major === 5 ? { keys: new Set<string>() } : {}) },
            { start },
          ),
        );
        break;
      }
      case 6:
        // A tag wraps exactly one item.
        if (stack.length >= maxDepth) throw new CborScanError(`nesting deeper than ${maxDepth}`, start);
        stack.push(Object.assign({ remaining: 1, map: false, itemIndex: 0 }, { start }));
        break;
      case 7:
        if (info === 24 && (arg as number) < 32)
          throw new CborScanError('a simple value in the two-byte form below 32', start);
        completed(start);
        break;
    }
  } while (stack.length > 0);
  if (pos !== bytes.length) throw new CborScanError(`${bytes.length - pos} bytes follow the item`, pos);
}

/** The major type and first byte of an item at `pos` (for checks of wire types that decoding hides). */
export interface ItemHead {
  readonly start: number;
  readonly initial: number;
  readonly major: number;
}

function headLength(bytes: Uint8Array, pos: number): { arg: number; next: number; indefinite: boolean } {
  const info = (bytes[pos] as number) & 0x1f;
  if (info < 24) return { arg: info, next: pos + 1, indefinite: false };
  if (info === 31) return { arg: 0, next: pos + 1, indefinite: true };
  const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : 8;
  let v = 0;
  for (let i = 1; i <= size; i++) v = v * 256 + (bytes[pos + i] as number);
  return { arg: v, next: pos + 1 + size, indefinite: false };
}

/**
 * The offset just after the item at `pos`. Only for bytes that passed scanCbor (it trusts the
 * structure and relies on scanCbor's depth cap).
 */
export function itemEnd(bytes: Uint8Array, pos: number): number {
  const major = (bytes[pos] as number) >> 5;
  const { arg, next, indefinite } = headLength(bytes, pos);
  if (major === 0 || major === 1 || major === 7) return next;
  if (major === 2 || major === 3) {
    if (!indefinite) return next + arg;
    let p = next;
    while (bytes[p] !== 0xff) p = itemEnd(bytes, p);
    return p + 1;
  }
  if (major === 6) return itemEnd(bytes, next);
  let p = next;
  if (indefinite) {
    while (bytes[p] !== 0xff) p = itemEnd(bytes, p);
    return p + 1;
  }
  const count = major === 5 ? arg * 2 : arg;
  for (let i = 0; i < count; i++) p = itemEnd(bytes, p);
  return p;
}

/** The entries of the map at `pos` (definite or indefinite): each key's and value's head. Trusts scanCbor'd input. */
export function mapEntries(bytes: Uint8Array, pos: number): { key: ItemHead; value: ItemHead }[] {
  const { arg, next, indefinite } = headLength(bytes, pos);
  const out: { key: ItemHead; value: ItemHead }[] = [];
  let p = next;
  const head = (at: number): ItemHead => ({
    start: at,
    initial: bytes[at] as number,
    major: (bytes[at] as number) >> 5,
  });
  for (let i = 0; indefinite ? bytes[p] !== 0xff : i < arg; i++) {
    const key = head(p);
    p = itemEnd(bytes, p);
    const value = head(p);
    p = itemEnd(bytes, p);
    out.push({ key, value });
  }
  return out;
}
