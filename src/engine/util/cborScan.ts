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
  /** Offset of the container's (or tag's) first byte: its own key check, once it is complete, starts there. */
  readonly start: number;
}

/** The scan's state: the input, the read position and the open containers (a stack, not recursion). */
class Scanner {
  readonly stack: Frame[] = [];
  pos = 0;

  constructor(
    readonly bytes: Uint8Array,
    readonly maxDepth: number,
  ) {}

  /** Throws unless `n` more bytes remain. */
  need(n: number, what: string): void {
    if (n > this.bytes.length - this.pos)
      throw new CborScanError(`${what} needs ${n} bytes but ${this.bytes.length - this.pos} remain`, this.pos);
  }

  /** Reads the argument that follows an initial byte with additional information `info`. */
  argument(info: number): number | bigint {
    if (info < 24) return info;
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (size === 0) throw new CborScanError(`reserved additional information ${info}`, this.pos - 1);
    this.need(size, 'a length');
    let v = 0n;
    for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(this.bytes[this.pos + i] as number);
    this.pos += size;
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  /** Throws unless the bytes from `from` to `to` are valid UTF-8. */
  checkText(from: number, to: number): void {
    try {
      utf8.decode(this.bytes.subarray(from, to));
    } catch {
      throw new CborScanError('a text string is not valid UTF-8', from);
    }
  }

  /** Called when an item (of any kind) has been completed; `value` identifies a scalar key by value. */
  completed(start: number, value?: string): void {
    for (;;) {
      const top = this.stack[this.stack.length - 1];
      if (!top) return;
      if (top.map && top.itemIndex % 2 === 0) {
        const key = value ?? `raw:${latin1(this.bytes.subarray(start, this.pos))}`;
        if (top.keys?.has(key)) throw new CborScanError('a map holds the same key twice', start);
        top.keys?.add(key);
      }
      top.itemIndex++;
      if (top.remaining > 0) top.remaining--;
      if (top.remaining !== 0) return;
      this.stack.pop();
      // The finished container is itself an item of its parent (its key check uses its own start).
      start = top.start;
      value = undefined;
    }
  }

  /** Opens a container (or tag) at `start` holding `remaining` items, within the nesting cap. */
  open(start: number, remaining: number, major: number): void {
    if (this.stack.length >= this.maxDepth) throw new CborScanError(`nesting deeper than ${this.maxDepth}`, start);
    this.stack.push({
      remaining,
      map: major === 5,
      itemIndex: 0,
      ...(major === 5 ? { keys: new Set<string>() } : {}),
      start,
    });
  }

  /** Scans one head (and a string's bytes) from the read position. */
  step(): void {
    const start = this.pos;
    this.need(1, 'an item');
    const initial = this.bytes[this.pos++] as number;
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (initial === 0xff) this.closeIndefinite(start);
    else if (info === 31) this.openIndefinite(start, major);
    else this.definite(start, major, info, this.argument(info));
  }

  /** A "break": ends the indefinite-length array or map on top of the stack. */
  closeIndefinite(start: number): void {
    const top = this.stack[this.stack.length - 1];
    if (!top || top.remaining !== -1) throw new CborScanError('a "break" outside an indefinite-length item', start);
    if (top.map && top.itemIndex % 2 !== 0)
      throw new CborScanError('an indefinite-length map ends after a key without its value', start);
    this.stack.pop();
    this.completed(top.start);
  }

  /** An item of indefinite length: a whole string, or the opening of an array or map. */
  openIndefinite(start: number, major: number): void {
    if (major === 2 || major === 3) {
      this.completed(start, `${major}:${this.stringChunks(major)}`);
      return;
    }
    if (major === 4 || major === 5) {
      this.open(start, -1, major);
      return;
    }
    throw new CborScanError(`indefinite length is not allowed for major type ${major}`, start);
  }

  /** Indefinite-length string: same-type chunks of definite length, then break. Returns its key text. */
  stringChunks(major: number): string {
    let content = '';
    for (;;) {
      this.need(1, 'a string chunk');
      const b = this.bytes[this.pos] as number;
      if (b === 0xff) {
        this.pos++;
        break;
      }
      if (b >> 5 !== major || (b & 0x1f) === 31)
        throw new CborScanError('a chunk of an indefinite-length string has the wrong type', this.pos);
      this.pos++;
      const len = this.argument(b & 0x1f);
      if (typeof len === 'bigint') throw new CborScanError('a string chunk claims more bytes than exist', this.pos);
      this.need(len, 'a string chunk');
      if (major === 3) this.checkText(this.pos, this.pos + len);
      if (content.length < 65536) content += latin1(this.bytes.subarray(this.pos, this.pos + len));
      this.pos += len;
    }
    return content;
  }

  /** An item of definite length (or a tag or simple value) whose argument has been read. */
  definite(start: number, major: number, info: number, arg: number | bigint): void {
    switch (major) {
      case 0:
      case 1:
        this.completed(start, `${major}:${String(arg)}`);
        break;
      case 2:
      case 3:
        this.string(start, major, arg);
        break;
      case 4:
      case 5:
        this.container(start, major, arg);
        break;
      case 6:
        // A tag wraps exactly one item.
        this.open(start, 1, major);
        break;
      case 7:
        if (info === 24 && (arg as number) < 32)
          throw new CborScanError('a simple value in the two-byte form below 32', start);
        this.completed(start);
        break;
    }
  }

  /** A definite-length byte or text string of `arg` bytes. */
  string(start: number, major: number, arg: number | bigint): void {
    if (typeof arg === 'bigint') throw new CborScanError('a string claims more bytes than exist', start);
    this.need(arg, 'a string');
    if (major === 3) this.checkText(this.pos, this.pos + arg);
    const content = arg <= 65536 ? latin1(this.bytes.subarray(this.pos, this.pos + arg)) : undefined;
    this.pos += arg;
    this.completed(start, content === undefined ? undefined : `${major}:${content}`);
  }

  /** A definite-length array or map of `arg` entries. */
  container(start: number, major: number, arg: number | bigint): void {
    const count = typeof arg === 'bigint' ? Number.MAX_SAFE_INTEGER : major === 5 ? arg * 2 : arg;
    // Every item takes at least one byte: a count larger than what remains is a lie.
    if (count > this.bytes.length - this.pos)
      throw new CborScanError(
        `a ${major === 5 ? 'map' : 'array'} claims ${typeof arg === 'bigint' ? arg : arg} entries ` +
          `but only ${this.bytes.length - this.pos} bytes remain`,
        start,
      );
    if (count === 0) {
      this.completed(start);
      return;
    }
    this.open(start, count, major);
  }
}

/** Checks that `bytes` hold exactly one well-formed CBOR item. Throws CborScanError otherwise. */
export function scanCbor(bytes: Uint8Array, options: ScanOptions = {}): void {
  const scan = new Scanner(bytes, options.maxDepth ?? 16);
  do scan.step();
  while (scan.stack.length > 0);
  if (scan.pos !== bytes.length) throw new CborScanError(`${bytes.length - scan.pos} bytes follow the item`, scan.pos);
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
