// A small JSON reader that remembers where each value sits, for the key-policy linter: findings
// point at a line and column, not only at a JSON path. It reads strict JSON (RFC 8259), the grammar
// KMS accepts for key policies, and bounds what it is given: at most MAX_POLICY_TEXT characters
// and MAX_POLICY_DEPTH levels of nesting, so hostile input cannot exhaust memory or the stack.

/**
 * The largest key policy KMS accepts is 32 KiB (PutKeyPolicy's Policy parameter); text past 4× that
 * is refused unread.
 */
export const MAX_POLICY_TEXT = 131072;
/** Nesting a key policy never needs; deeper input is refused before the stack is at risk. */
export const MAX_POLICY_DEPTH = 64;

/** 1-based line and column (columns count UTF-16 code units, as editors do), and the 0-based offset. */
export interface TextPosition {
  readonly line: number;
  readonly column: number;
  readonly offset: number;
}

export class PolicyJsonError extends Error {
  constructor(
    message: string,
    readonly position: TextPosition,
  ) {
    super(message);
    this.name = 'PolicyJsonError';
  }
}

export interface ParsedPolicyJson {
  readonly value: unknown;
  /** Path (as pathText writes it) → where it starts: a member's key, an element's value. */
  readonly positions: ReadonlyMap<string, TextPosition>;
  /** Keys given twice in one object (JSON.parse keeps the last; the path is the second's). */
  readonly duplicates: readonly { readonly path: string; readonly position: TextPosition }[];
}

export type PathPart = string | number;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `Statement[1].Condition.StringEqualsIgnoreCase["kms:RecipientAttestation:PCR0"]`. */
export function pathText(parts: readonly PathPart[]): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (IDENTIFIER.test(p)) out += out === '' ? p : `.${p}`;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out === '' ? '$' : out;
}

/** Parses `text`, recording positions; throws PolicyJsonError with the position of the first fault. */
export function parsePolicyJson(text: string): ParsedPolicyJson {
  if (text.length > MAX_POLICY_TEXT)
    throw new PolicyJsonError(
      `the policy is ${text.length} characters; a KMS key policy is at most 32768 bytes, so it was not read`,
      { line: 1, column: 1, offset: 0 },
    );
  return new Reader(text).document();
}

class Reader {
  private i = 0;
  private line = 1;
  private lineStart = 0;
  private readonly positions = new Map<string, TextPosition>();
  private readonly duplicates: { path: string; position: TextPosition }[] = [];

  constructor(private readonly text: string) {}

  document(): ParsedPolicyJson {
    // A byte order mark is not JSON but editors write it; skip it.
    if (this.text.charCodeAt(0) === 0xfeff) this.i = 1;
    this.positions.set('$', this.here());
    this.space();
    const value = this.value([], 0);
    this.space();
    if (this.i < this.text.length) this.fail(`unexpected ${this.shown()} after the JSON value`);
    return { value, positions: this.positions, duplicates: this.duplicates };
  }

  private here(): TextPosition {
    return { line: this.line, column: this.i - this.lineStart + 1, offset: this.i };
  }

  private fail(message: string, at: TextPosition = this.here()): never {
    throw new PolicyJsonError(message, at);
  }

  private shown(): string {
    if (this.i >= this.text.length) return 'end of input';
    const c = this.text[this.i] as string;
    return c < ' ' ? `character U+${c.charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}` : `'${c}'`;
  }

  private space(): void {
    for (;;) {
      const c = this.text[this.i];
      if (c === ' ' || c === '\t' || c === '\r') this.i++;
      else if (c === '\n') {
        this.i++;
        this.line++;
        this.lineStart = this.i;
      } else return;
    }
  }

  private value(path: PathPart[], depth: number): unknown {
    if (depth > MAX_POLICY_DEPTH) this.fail(`nesting deeper than ${MAX_POLICY_DEPTH} levels`);
    const c = this.text[this.i];
    if (c === '{') return this.object(path, depth);
    if (c === '[') return this.array(path, depth);
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.text.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    return this.fail(`expected a JSON value, found ${this.shown()}`);
  }

  private object(path: PathPart[], depth: number): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    const seen = new Set<string>();
    this.space();
    if (this.text[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.space();
      if (this.text[this.i] !== '"') this.fail(`expected a member name in double quotes, found ${this.shown()}`);
      const at = this.here();
      const key = this.string();
      const child = [...path, key];
      const where = pathText(child);
      if (seen.has(key)) this.duplicates.push({ path: where, position: at });
      seen.add(key);
      this.positions.set(where, at);
      this.space();
      if (this.text[this.i] !== ':') this.fail(`expected ':' after the member name, found ${this.shown()}`);
      this.i++;
      this.space();
      out[key] = this.value(child, depth + 1);
      this.space();
      const c = this.text[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === '}') {
        this.i++;
        return out;
      }
      this.fail(`expected ',' or '}' in the object, found ${this.shown()}`);
    }
  }

  private array(path: PathPart[], depth: number): unknown[] {
    this.i++;
    const out: unknown[] = [];
    this.space();
    if (this.text[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      this.space();
      const child = [...path, out.length];
      this.positions.set(pathText(child), this.here());
      out.push(this.value(child, depth + 1));
      this.space();
      const c = this.text[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === ']') {
        this.i++;
        return out;
      }
      this.fail(`expected ',' or ']' in the array, found ${this.shown()}`);
    }
  }

  private string(): string {
    const start = this.here();
    this.i++;
    let out = '';
    for (;;) {
      const c = this.text[this.i];
      if (c === undefined) this.fail('a string is not closed', start);
      if (c === '"') {
        this.i++;
        return out;
      }
      if (c < ' ') this.fail(`control character U+${c.charCodeAt(0).toString(16).padStart(4, '0')} in a string`);
      if (c !== '\\') {
        out += c;
        this.i++;
        continue;
      }
      const e = this.text[this.i + 1];
      const simple: Record<string, string> = {
        '"': '"',
        '\\': '\\',
        '/': '/',
        b: '\b',
        f: '\f',
        n: '\n',
        r: '\r',
        t: '\t',
      };
      if (e !== undefined && e in simple) {
        out += simple[e] as string;
        this.i += 2;
      } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(this.text.slice(this.i + 2, this.i + 6))) {
        out += String.fromCharCode(parseInt(this.text.slice(this.i + 2, this.i + 6), 16));
        this.i += 6;
      } else {
        this.fail('invalid escape in a string');
      }
    }
  }

  private number(): number {
    const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(this.text.slice(this.i, this.i + 400));
    if (!m || m[0] === '-') this.fail(`invalid number`);
    this.i += m[0].length;
    return Number(m[0]);
  }
}
