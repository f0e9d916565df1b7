// A bounded, non-recursive well-formedness check of one CBOR data item (RFC 8949), run before
// decoding untrusted input: every length is checked against the bytes that remain (so nothing is
// allocated by a declared length), nesting is capped, and a map with two equal keys is refused.

export class CborScanError extends Error {
  constructor(message: string, readonly offset: number) {
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
    if (n > bytes.length - pos) throw new CborScanError(`${what} needs ${n} bytes but ${bytes.length - pos} remain`, pos);
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
  const completed = (start: number) => {
    for (;;) {
      const top = stack[stack.length - 1];
      if (!top) return;
      if (top.map && top.itemIndex % 2 === 0) {
        const key = Array.from(bytes.subarray(start, pos), (b) => String.fromCharCode(b)).join('');
        if (top.keys?.has(key)) throw new CborScanError('a map holds the same key twice', start);
        top.keys?.add(key);
      }
      top.itemIndex++;
      if (top.remaining > 0) top.remaining--;
      if (top.remaining !== 0) return;
      stack.pop();
      // The finished container is itself an item of its parent (its key check uses its own start).
      start = (top as Frame & { start?: number }).start ?? start;
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
      if (top.map && top.itemIndex % 2 !== 0) throw new CborScanError('an indefinite-length map ends after a key without its value', start);
      stack.pop();
      completed((top as Frame & { start?: number }).start ?? start);
      continue;
    }
    if (info === 31) {
      if (major === 2 || major === 3) {
        // Indefinite-length string: chunks of the same major type with definite lengths, then break.
        for (;;) {
          need(1, 'a string chunk');
          const b = bytes[pos] as number;
          if (b === 0xff) {
            pos++;
            break;
          }
          if (b >> 5 !== major || (b & 0x1f) === 31) throw new CborScanError('a chunk of an indefinite-length string has the wrong type', pos);
          pos++;
          const len = argument(b & 0x1f);
          if (typeof len === 'bigint') throw new CborScanError('a string chunk claims more bytes than exist', pos);
          need(len, 'a string chunk');
          pos += len;
        }
        completed(start);
        continue;
      }
      if (major === 4 || major === 5) {
        if (stack.length >= maxDepth) throw new CborScanError(`nesting deeper than ${maxDepth}`, start);
        stack.push(Object.assign({ remaining: -1, map: major === 5, itemIndex: 0, ...(major === 5 ? { keys: new Set<string>() } : {}) }, { start }));
        continue;
      }
      throw new CborScanError(`indefinite length is not allowed for major type ${major}`, start);
    }
    const arg = argument(info);
    switch (major) {
      case 0:
      case 1:
        completed(start);
        break;
      case 2:
      case 3: {
        if (typeof arg === 'bigint') throw new CborScanError('a string claims more bytes than exist', start);
        need(arg, 'a string');
        pos += arg;
        completed(start);
        break;
      }
      case 4:
      case 5: {
        const count = typeof arg === 'bigint' ? Number.MAX_SAFE_INTEGER : major === 5 ? arg * 2 : arg;
        // Every item takes at least one byte: a count larger than what remains is a lie.
        if (count > bytes.length - pos) throw new CborScanError(`a ${major === 5 ? 'map' : 'array'} claims ${typeof arg === 'bigint' ? arg : arg} entries but only ${bytes.length - pos} bytes remain`, start);
        if (count === 0) {
          completed(start);
          break;
        }
        if (stack.length >= maxDepth) throw new CborScanError(`nesting deeper than ${maxDepth}`, start);
        stack.push(Object.assign({ remaining: count, map: major === 5, itemIndex: 0, ...(major === 5 ? { keys: new Set<string>() } : {}) }, { start }));
        break;
      }
      case 6:
        // A tag wraps exactly one item.
        if (stack.length >= maxDepth) throw new CborScanError(`nesting deeper than ${maxDepth}`, start);
        stack.push(Object.assign({ remaining: 1, map: false, itemIndex: 0 }, { start }));
        break;
      case 7:
        if (info === 24 && (arg as number) < 32) throw new CborScanError('a simple value in the two-byte form below 32', start);
        completed(start);
        break;
    }
  } while (stack.length > 0);
  if (pos !== bytes.length) throw new CborScanError(`${bytes.length - pos} bytes follow the item`, pos);
}
