// The NSM (Nitro Secure Module) request/response protocol (attestation spec 5.2): CBOR as the
// aws-nitro-enclaves-nsm-api crate writes it with serde (externally tagged enums: a variant with
// no fields is a bare text string, a variant with fields is a one-entry map from its name to a map
// of its fields in declaration order; byte fields are byte strings; heads in the shortest form).
//
// Decoding takes hostile bytes: it is bounded (requests at most 4096 bytes, responses at most
// 12288, nesting at most 8), allocates nothing from a declared length, and fails only with
// NsmProtocolError. Like serde, it accepts any head size, definite or indefinite lengths, fields
// in any order, ignores fields it does not know, reads a missing optional field as null, and
// refuses a map that holds a key twice.
import { concatBytes, fromHex, toHex } from '../util/bytes';
import { cborBytes, cborHead, cborText, cborUint } from '../util/cbor';

/** The largest request the NSM device takes (spec 5.1: 0x1000). */
export const NSM_MAX_REQUEST_BYTES = 0x1000;
/** The most the NSM device writes back (spec 5.1: 0x3000). */
export const NSM_MAX_RESPONSE_BYTES = 0x3000;

/** The error codes, in the order of nsm-lib's C ABI (the index is the C value). Only the names go on the wire. */
export const NSM_ERROR_CODES = [
  'Success',
  'InvalidArgument',
  'InvalidIndex',
  'InvalidResponse',
  'ReadOnlyIndex',
  'InvalidOperation',
  'BufferTooSmall',
  'InputTooLarge',
  'InternalError',
] as const;
export type NsmErrorCode = (typeof NSM_ERROR_CODES)[number];

export const NSM_DIGESTS = ['SHA256', 'SHA384', 'SHA512'] as const;
export type NsmDigest = (typeof NSM_DIGESTS)[number];

export type NsmRequest =
  | { readonly type: 'DescribePCR'; readonly index: number }
  | { readonly type: 'ExtendPCR'; readonly index: number; readonly data: Uint8Array }
  | { readonly type: 'LockPCR'; readonly index: number }
  | { readonly type: 'LockPCRs'; readonly range: number }
  | { readonly type: 'DescribeNSM' }
  | {
      readonly type: 'Attestation';
      readonly userData: Uint8Array | null;
      readonly nonce: Uint8Array | null;
      readonly publicKey: Uint8Array | null;
    }
  | { readonly type: 'GetRandom' };

export type NsmResponse =
  | { readonly type: 'DescribePCR'; readonly lock: boolean; readonly data: Uint8Array }
  | { readonly type: 'ExtendPCR'; readonly data: Uint8Array }
  | { readonly type: 'LockPCR' }
  | { readonly type: 'LockPCRs' }
  | {
      readonly type: 'DescribeNSM';
      readonly versionMajor: number;
      readonly versionMinor: number;
      readonly versionPatch: number;
      readonly moduleId: string;
      readonly maxPcrs: number;
      /** Ascending, no duplicates (a BTreeSet on the wire). */
      readonly lockedPcrs: readonly number[];
      readonly digest: NsmDigest;
    }
  | { readonly type: 'Attestation'; readonly document: Uint8Array }
  | { readonly type: 'GetRandom'; readonly random: Uint8Array }
  | { readonly type: 'Error'; readonly code: NsmErrorCode };

export type NsmRequestType = NsmRequest['type'];
export type NsmResponseType = NsmResponse['type'];

export class NsmProtocolError extends Error {
  constructor(
    /**
     * `too-large`: over the size limit; `malformed`: not one well-formed CBOR item of the kinds the
     * protocol uses; `unknown-variant`: a variant name the protocol does not have; `field`: a field
     * missing or of the wrong type or range; `json`: a JSON form that cannot be read.
     */
    readonly code: 'too-large' | 'malformed' | 'unknown-variant' | 'field' | 'json',
    message: string,
  ) {
    super(message);
    this.name = 'NsmProtocolError';
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

type Field = readonly [name: string, value: Uint8Array];

const NULL = Uint8Array.of(0xf6);
const bool = (b: boolean) => Uint8Array.of(b ? 0xf5 : 0xf4);
const optionalBytes = (b: Uint8Array | null) => (b === null ? NULL : cborBytes(b));

function u16(value: number, what: string): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff)
    throw new RangeError(`${what} must be an integer from 0 to 65535, not ${value}`);
  return cborUint(value);
}

/** A variant with fields: {name: {field: value, ...}}, definite lengths, fields in the given order. */
function structVariant(name: string, fields: readonly Field[]): Uint8Array {
  const parts: Uint8Array[] = [cborHead(5, 1), cborText(name), cborHead(5, fields.length)];
  for (const [k, v] of fields) parts.push(cborText(k), v);
  return concatBytes(...parts);
}

export function encodeRequest(request: NsmRequest): Uint8Array {
  switch (request.type) {
    case 'DescribePCR':
      return structVariant('DescribePCR', [['index', u16(request.index, 'index')]]);
    case 'ExtendPCR':
      return structVariant('ExtendPCR', [
        ['index', u16(request.index, 'index')],
        ['data', cborBytes(request.data)],
      ]);
    case 'LockPCR':
      return structVariant('LockPCR', [['index', u16(request.index, 'index')]]);
    case 'LockPCRs':
      return structVariant('LockPCRs', [['range', u16(request.range, 'range')]]);
    case 'Attestation':
      return structVariant('Attestation', [
        ['user_data', optionalBytes(request.userData)],
        ['nonce', optionalBytes(request.nonce)],
        ['public_key', optionalBytes(request.publicKey)],
      ]);
    case 'DescribeNSM':
    case 'GetRandom':
      return cborText(request.type);
  }
}

export function encodeResponse(response: NsmResponse): Uint8Array {
  switch (response.type) {
    case 'DescribePCR':
      return structVariant('DescribePCR', [
        ['lock', bool(response.lock)],
        ['data', cborBytes(response.data)],
      ]);
    case 'ExtendPCR':
      return structVariant('ExtendPCR', [['data', cborBytes(response.data)]]);
    case 'LockPCR':
    case 'LockPCRs':
      return cborText(response.type);
    case 'DescribeNSM': {
      const locked = [...new Set(response.lockedPcrs)].sort((a, b) => a - b);
      return structVariant('DescribeNSM', [
        ['version_major', u16(response.versionMajor, 'version_major')],
        ['version_minor', u16(response.versionMinor, 'version_minor')],
        ['version_patch', u16(response.versionPatch, 'version_patch')],
        ['module_id', cborText(response.moduleId)],
        ['max_pcrs', u16(response.maxPcrs, 'max_pcrs')],
        ['locked_pcrs', concatBytes(cborHead(4, locked.length), ...locked.map((i) => u16(i, 'a locked PCR index')))],
        ['digest', cborText(response.digest)],
      ]);
    }
    case 'Attestation':
      return structVariant('Attestation', [['document', cborBytes(response.document)]]);
    case 'GetRandom':
      return structVariant('GetRandom', [['random', cborBytes(response.random)]]);
    case 'Error':
      return concatBytes(cborHead(5, 1), cborText('Error'), cborText(response.code));
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding: a small strict CBOR reader for the item kinds the protocol uses.

type Value =
  | { readonly kind: 'uint'; readonly value: number | bigint }
  | { readonly kind: 'nint' }
  | { readonly kind: 'bytes'; readonly value: Uint8Array }
  | { readonly kind: 'text'; readonly value: string }
  | { readonly kind: 'array'; readonly items: readonly Value[] }
  | { readonly kind: 'map'; readonly entries: ReadonlyMap<string, Value>; readonly nonTextKeys: number }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'null' }
  | { readonly kind: 'other'; readonly what: string };

const MAX_DEPTH = 8;
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

class Reader {
  pos = 0;
  constructor(private readonly bytes: Uint8Array) {}

  private fail(message: string): never {
    throw new NsmProtocolError('malformed', `${message} (at byte ${this.pos})`);
  }

  private need(n: number): void {
    if (n > this.bytes.length - this.pos) this.fail(`${n} bytes needed but ${this.bytes.length - this.pos} remain`);
  }

  private byte(): number {
    this.need(1);
    return this.bytes[this.pos++] as number;
  }

  /** The argument of a head; `undefined` for the indefinite form (info 31). */
  private argument(info: number): number | bigint | undefined {
    if (info < 24) return info;
    if (info === 31) return undefined;
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (size === 0) this.fail(`reserved additional information ${info}`);
    this.need(size);
    let v = 0n;
    for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(this.bytes[this.pos++] as number);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  /** A definite length that must fit in what remains (so no allocation trusts a declared size). */
  private length(arg: number | bigint, unit: number): number {
    if (typeof arg === 'bigint' || arg * unit > this.bytes.length - this.pos)
      this.fail(`a length of ${String(arg)} is more than the bytes that remain`);
    return arg;
  }

  private string(major: 2 | 3, info: number): Uint8Array {
    const arg = this.argument(info);
    if (arg !== undefined) {
      const n = this.length(arg, 1);
      const out = this.bytes.slice(this.pos, this.pos + n);
      this.pos += n;
      return out;
    }
    // Indefinite length: definite chunks of the same major type, then a break.
    const chunks: Uint8Array[] = [];
    for (;;) {
      const b = this.byte();
      if (b === 0xff) return concatBytes(...chunks);
      if (b >> 5 !== major || (b & 0x1f) === 31) this.fail('a chunk of an indefinite-length string has the wrong type');
      const n = this.length(this.argument(b & 0x1f) as number | bigint, 1);
      chunks.push(this.bytes.subarray(this.pos, this.pos + n));
      this.pos += n;
    }
  }

  private text(info: number): string {
    const raw = this.string(3, info);
    try {
      return utf8Decoder.decode(raw);
    } catch {
      this.fail('a text string is not valid UTF-8');
    }
  }

  /** Items of an array or map: a count, or until a break for the indefinite form. */
  private *items(arg: number | bigint | undefined, perItem: number): Generator<void> {
    if (arg === undefined) {
      for (;;) {
        this.need(1);
        if (this.bytes[this.pos] === 0xff) {
          this.pos++;
          return;
        }
        yield;
      }
    }
    const n = this.length(arg, perItem);
    for (let i = 0; i < n; i++) yield;
  }

  read(depth = 0): Value {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`);
    const initial = this.byte();
    const major = initial >> 5;
    const info = initial & 0x1f;
    switch (major) {
      case 0: {
        const v = this.argument(info);
        if (v === undefined) this.fail('an integer cannot have indefinite length');
        return { kind: 'uint', value: v };
      }
      case 1:
        if (this.argument(info) === undefined) this.fail('an integer cannot have indefinite length');
        return { kind: 'nint' };
      case 2:
        return { kind: 'bytes', value: this.string(2, info) };
      case 3:
        return { kind: 'text', value: this.text(info) };
      case 4: {
        const items: Value[] = [];
        for (const _ of this.items(this.argument(info), 1)) items.push(this.read(depth + 1));
        return { kind: 'array', items };
      }
      case 5: {
        const entries = new Map<string, Value>();
        const seen = new Set<string>();
        let nonTextKeys = 0;
        for (const _ of this.items(this.argument(info), 2)) {
          const keyStart = this.pos;
          const key = this.read(depth + 1);
          // Keys compare by value: the same text in two head sizes is the same key.
          const id =
            key.kind === 'text'
              ? `t:${key.value}`
              : key.kind === 'uint'
                ? `u:${String(key.value)}`
                : `r:${toHex(this.bytes.subarray(keyStart, this.pos))}`;
          if (seen.has(id)) this.fail('a map holds the same key twice');
          seen.add(id);
          const value = this.read(depth + 1);
          if (key.kind === 'text') entries.set(key.value, value);
          else nonTextKeys++;
        }
        return { kind: 'map', entries, nonTextKeys };
      }
      case 6:
        this.argument(info);
        this.read(depth + 1);
        return { kind: 'other', what: 'a tagged item' };
      default: {
        if (initial === 0xf4 || initial === 0xf5) return { kind: 'bool', value: initial === 0xf5 };
        if (initial === 0xf6) return { kind: 'null' };
        if (initial === 0xff) this.fail('a "break" outside an indefinite-length item');
        if (info === 31 || info === 28 || info === 29 || info === 30)
          this.fail(`reserved additional information ${info}`);
        const v = this.argument(info);
        if (info === 24 && (v as number) < 32) this.fail('a simple value in the two-byte form below 32');
        return { kind: 'other', what: info >= 25 ? 'a float' : initial === 0xf7 ? 'undefined' : 'a simple value' };
      }
    }
  }
}

function parseItem(bytes: Uint8Array, limit: number, what: string): Value {
  if (!(bytes instanceof Uint8Array)) throw new NsmProtocolError('malformed', `${what} is not a byte array`);
  if (bytes.length > limit)
    throw new NsmProtocolError('too-large', `${what} is ${bytes.length} bytes; at most ${limit} are allowed`);
  if (bytes.length === 0) throw new NsmProtocolError('malformed', `${what} is empty`);
  const reader = new Reader(bytes);
  const value = reader.read();
  if (reader.pos !== bytes.length)
    throw new NsmProtocolError('malformed', `${bytes.length - reader.pos} bytes follow the ${what}`);
  return value;
}

const describe = (v: Value): string =>
  v.kind === 'other'
    ? v.what
    : v.kind === 'uint' || v.kind === 'nint'
      ? 'an integer'
      : v.kind === 'bytes'
        ? 'a byte string'
        : v.kind === 'text'
          ? 'text'
          : v.kind === 'bool'
            ? 'a boolean'
            : v.kind === 'null'
              ? 'null'
              : `an ${v.kind}`;

/** The variant name and its payload (undefined for a bare text variant). */
function variantOf(v: Value, what: string): { name: string; body: Value | undefined } {
  if (v.kind === 'text') return { name: v.value, body: undefined };
  if (v.kind === 'map' && v.entries.size === 1 && v.nonTextKeys === 0) {
    const [name, body] = [...v.entries][0] as [string, Value];
    return { name, body };
  }
  throw new NsmProtocolError(
    'malformed',
    `${what} is ${describe(v)}${v.kind === 'map' ? ` with ${v.entries.size + v.nonTextKeys} entries` : ''}, ` +
      `not a variant name or a one-entry map from a variant name`,
  );
}

class Fields implements FieldReader {
  constructor(
    private readonly variant: string,
    private readonly body: Value | undefined,
  ) {
    if (!body || body.kind !== 'map')
      throw new NsmProtocolError(
        'field',
        `${variant} needs a map of its fields, not ${body ? describe(body) : 'a bare name'}`,
      );
  }
  private get(name: string): Value | undefined {
    return (this.body as Extract<Value, { kind: 'map' }>).entries.get(name);
  }
  private bad(name: string, message: string): never {
    throw new NsmProtocolError('field', `${this.variant}.${name} ${message}`);
  }
  private required(name: string): Value {
    const v = this.get(name);
    if (v === undefined) this.bad(name, 'is missing');
    return v;
  }
  u16(name: string): number {
    const v = this.required(name);
    if (v.kind !== 'uint') this.bad(name, `is ${describe(v)}, not an unsigned integer`);
    if (typeof v.value === 'bigint' || v.value > 0xffff) this.bad(name, `is ${String(v.value)}, more than 65535`);
    return v.value;
  }
  bytes(name: string): Uint8Array {
    const v = this.required(name);
    if (v.kind !== 'bytes') this.bad(name, `is ${describe(v)}, not a byte string`);
    return v.value;
  }
  optionalBytes(name: string): Uint8Array | null {
    const v = this.get(name);
    if (v === undefined || v.kind === 'null') return null;
    if (v.kind !== 'bytes') this.bad(name, `is ${describe(v)}, not a byte string or null`);
    return v.value;
  }
  bool(name: string): boolean {
    const v = this.required(name);
    if (v.kind !== 'bool') this.bad(name, `is ${describe(v)}, not a boolean`);
    return v.value;
  }
  text(name: string): string {
    const v = this.required(name);
    if (v.kind !== 'text') this.bad(name, `is ${describe(v)}, not text`);
    return v.value;
  }
  digest(name: string): NsmDigest {
    const digest = this.text(name);
    if (!(NSM_DIGESTS as readonly string[]).includes(digest))
      this.bad(name, `is ${JSON.stringify(digest.slice(0, 64))}, not one of ${NSM_DIGESTS.join(', ')}`);
    return digest as NsmDigest;
  }
  u16Set(name: string): number[] {
    const v = this.required(name);
    if (v.kind !== 'array') this.bad(name, `is ${describe(v)}, not an array`);
    const out = new Set<number>();
    for (const item of v.items) {
      if (item.kind !== 'uint' || typeof item.value === 'bigint' || item.value > 0xffff)
        this.bad(name, 'holds something other than integers from 0 to 65535');
      out.add(item.value);
    }
    return [...out].sort((a, b) => a - b);
  }
}

/** The fields of a variant, read by name from its CBOR or its JSON form; each form throws its own errors. */
interface FieldReader {
  u16(name: string): number;
  bytes(name: string): Uint8Array;
  optionalBytes(name: string): Uint8Array | null;
  bool(name: string): boolean;
  text(name: string): string;
  /** One of NSM_DIGESTS. */
  digest(name: string): NsmDigest;
  /** Integers from 0 to 65535, ascending, each once. */
  u16Set(name: string): number[];
}

/** The request variants that have fields. */
type StructRequestType = Exclude<NsmRequestType, 'DescribeNSM' | 'GetRandom'>;
const STRUCT_REQUEST_TYPES: readonly StructRequestType[] = [
  'DescribePCR',
  'ExtendPCR',
  'LockPCR',
  'LockPCRs',
  'Attestation',
];
const isStructRequestType = (name: string): name is StructRequestType =>
  (STRUCT_REQUEST_TYPES as readonly string[]).includes(name);

/** A request variant with fields, from its fields (in either form). */
function structRequest(type: StructRequestType, f: FieldReader): NsmRequest {
  switch (type) {
    case 'DescribePCR':
    case 'LockPCR':
      return { type, index: f.u16('index') };
    case 'ExtendPCR':
      return { type, index: f.u16('index'), data: f.bytes('data') };
    case 'LockPCRs':
      return { type, range: f.u16('range') };
    case 'Attestation':
      return {
        type,
        userData: f.optionalBytes('user_data'),
        nonce: f.optionalBytes('nonce'),
        publicKey: f.optionalBytes('public_key'),
      };
  }
}

/** The response variants that have named fields (Error carries a bare code). */
type StructResponseType = Exclude<NsmResponseType, 'LockPCR' | 'LockPCRs' | 'Error'>;
const STRUCT_RESPONSE_TYPES: readonly StructResponseType[] = [
  'DescribePCR',
  'ExtendPCR',
  'DescribeNSM',
  'Attestation',
  'GetRandom',
];
const isStructResponseType = (name: string): name is StructResponseType =>
  (STRUCT_RESPONSE_TYPES as readonly string[]).includes(name);

/** A response variant with named fields, from its fields (in either form). */
function structResponse(type: StructResponseType, f: FieldReader): NsmResponse {
  switch (type) {
    case 'DescribePCR':
      return { type, lock: f.bool('lock'), data: f.bytes('data') };
    case 'ExtendPCR':
      return { type, data: f.bytes('data') };
    case 'DescribeNSM': {
      const digest = f.digest('digest');
      return {
        type,
        versionMajor: f.u16('version_major'),
        versionMinor: f.u16('version_minor'),
        versionPatch: f.u16('version_patch'),
        moduleId: f.text('module_id'),
        maxPcrs: f.u16('max_pcrs'),
        lockedPcrs: f.u16Set('locked_pcrs'),
        digest,
      };
    }
    case 'Attestation':
      return { type, document: f.bytes('document') };
    case 'GetRandom':
      return { type, random: f.bytes('random') };
  }
}

function unitOnly(name: string, body: Value | undefined): void {
  if (body !== undefined)
    throw new NsmProtocolError('field', `${name} has no fields; it is written as the bare text "${name}"`);
}

const REQUEST_TYPES: readonly NsmRequestType[] = [
  'DescribePCR',
  'ExtendPCR',
  'LockPCR',
  'LockPCRs',
  'DescribeNSM',
  'Attestation',
  'GetRandom',
];
/** Every request variant has a response of the same name; Error is the response's own. */
const RESPONSE_TYPES: readonly NsmResponseType[] = [...REQUEST_TYPES, 'Error'];

/** Decodes a request (at most NSM_MAX_REQUEST_BYTES). Throws NsmProtocolError, nothing else. */
export function decodeRequest(bytes: Uint8Array): NsmRequest {
  const { name, body } = variantOf(parseItem(bytes, NSM_MAX_REQUEST_BYTES, 'the request'), 'the request');
  if (isStructRequestType(name)) return structRequest(name, new Fields(name, body));
  switch (name) {
    case 'DescribeNSM':
    case 'GetRandom':
      unitOnly(name, body);
      return { type: name };
    default:
      throw new NsmProtocolError(
        'unknown-variant',
        `${JSON.stringify(name.slice(0, 64))} is not an NSM request (${REQUEST_TYPES.join(', ')})`,
      );
  }
}

/** Decodes a response (at most NSM_MAX_RESPONSE_BYTES). Throws NsmProtocolError, nothing else. */
export function decodeResponse(bytes: Uint8Array): NsmResponse {
  const { name, body } = variantOf(parseItem(bytes, NSM_MAX_RESPONSE_BYTES, 'the response'), 'the response');
  if (isStructResponseType(name)) return structResponse(name, new Fields(name, body));
  switch (name) {
    case 'LockPCR':
    case 'LockPCRs':
      unitOnly(name, body);
      return { type: name };
    case 'Error': {
      if (body?.kind !== 'text')
        throw new NsmProtocolError(
          'field',
          `Error carries ${body ? describe(body) : 'nothing'}; it must be an error code name`,
        );
      const code = body.value;
      if (!(NSM_ERROR_CODES as readonly string[]).includes(code))
        throw new NsmProtocolError(
          'field',
          `${JSON.stringify(code.slice(0, 64))} is not an NSM error code (${NSM_ERROR_CODES.join(', ')})`,
        );
      return { type: 'Error', code: code as NsmErrorCode };
    }
    default:
      throw new NsmProtocolError(
        'unknown-variant',
        `${JSON.stringify(name.slice(0, 64))} is not an NSM response (${RESPONSE_TYPES.join(', ')})`,
      );
  }
}

// ---------------------------------------------------------------------------------------------
// JSON form (the CLI's `nitro-dev nsm '<request JSON>'`): the serde shape with snake_case field
// names, byte fields as hex strings.

function jsonFail(message: string): never {
  throw new NsmProtocolError('json', message);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function jsonVariant(
  value: unknown,
  kinds: readonly string[],
  what: string,
): { name: string; body: Record<string, unknown> | undefined } {
  if (typeof value === 'string') return { name: value, body: undefined };
  if (isRecord(value)) {
    const keys = Object.keys(value);
    if (keys.length !== 1)
      jsonFail(
        `${what} must be a variant name or an object with exactly one key (the variant), ` +
          `not an object with ${keys.length} keys`,
      );
    const name = keys[0] as string;
    const body = value[name];
    if (body === null || body === undefined) return { name, body: {} };
    if (!isRecord(body)) return { name, body: { __value: body } };
    return { name, body };
  }
  return jsonFail(
    `${what} must be one of ${kinds.join(', ')}: a name like "GetRandom" or an object like {"DescribePCR":{"index":0}}`,
  );
}

class JsonFields implements FieldReader {
  constructor(
    private readonly variant: string,
    private readonly body: Record<string, unknown> | undefined,
  ) {}
  private get(name: string): unknown {
    return this.body && Object.prototype.hasOwnProperty.call(this.body, name) ? this.body[name] : undefined;
  }
  private bad(name: string, message: string): never {
    return jsonFail(`${this.variant}.${name} ${message}`);
  }
  u16(name: string): number {
    const v = this.get(name);
    if (v === undefined) this.bad(name, 'is missing');
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff)
      this.bad(name, `must be an integer from 0 to 65535, not ${JSON.stringify(v)}`);
    return v;
  }
  private hex(name: string, v: unknown): Uint8Array {
    if (typeof v !== 'string') this.bad(name, `must be a hex string, not ${JSON.stringify(v)?.slice(0, 40)}`);
    const text = v.startsWith('0x') || v.startsWith('0X') ? v.slice(2) : v;
    try {
      return fromHex(text);
    } catch {
      return this.bad(name, 'must be a hex string with an even number of digits');
    }
  }
  bytes(name: string): Uint8Array {
    const v = this.get(name);
    if (v === undefined) this.bad(name, 'is missing');
    return this.hex(name, v);
  }
  optionalBytes(name: string): Uint8Array | null {
    const v = this.get(name);
    return v === undefined || v === null ? null : this.hex(name, v);
  }
  bool(name: string): boolean {
    const v = this.get(name);
    if (typeof v !== 'boolean') this.bad(name, `must be true or false, not ${JSON.stringify(v)}`);
    return v;
  }
  text(name: string): string {
    const v = this.get(name);
    if (typeof v !== 'string') this.bad(name, `must be a string, not ${JSON.stringify(v)}`);
    return v;
  }
  digest(name: string): NsmDigest {
    const digest = this.text(name);
    if (!(NSM_DIGESTS as readonly string[]).includes(digest))
      this.bad(name, `must be one of ${NSM_DIGESTS.join(', ')}`);
    return digest as NsmDigest;
  }
  u16Set(name: string): number[] {
    const v = this.get(name);
    if (!Array.isArray(v) || !v.every((i) => typeof i === 'number' && Number.isInteger(i) && i >= 0 && i <= 0xffff))
      this.bad(name, 'must be an array of integers from 0 to 65535');
    return [...new Set(v as number[])].sort((a, b) => a - b);
  }
}

/**
 * Reads a request in its JSON form: `"GetRandom"`, `"DescribeNSM"`, `{"DescribePCR":{"index":0}}`,
 * `{"ExtendPCR":{"index":16,"data":"010203"}}`, `{"LockPCR":{"index":16}}`, `{"LockPCRs":{"range":32}}`,
 * `{"Attestation":{"user_data":"<hex>","nonce":null,"public_key":null}}` (missing optional fields are null).
 * Throws NsmProtocolError (code `json`).
 */
export function requestFromJson(value: unknown): NsmRequest {
  const { name, body } = jsonVariant(value, REQUEST_TYPES, 'an NSM request');
  const f = new JsonFields(name, body);
  if (isStructRequestType(name)) return structRequest(name, f);
  switch (name) {
    case 'DescribeNSM':
    case 'GetRandom':
      if (body && Object.keys(body).length > 0) jsonFail(`${name} has no fields`);
      return { type: name };
    default:
      return jsonFail(`${JSON.stringify(name.slice(0, 64))} is not an NSM request (${REQUEST_TYPES.join(', ')})`);
  }
}

/** A request in its JSON form (the inverse of requestFromJson). */
export function requestToJson(request: NsmRequest): unknown {
  switch (request.type) {
    case 'DescribePCR':
    case 'LockPCR':
      return { [request.type]: { index: request.index } };
    case 'ExtendPCR':
      return { ExtendPCR: { index: request.index, data: toHex(request.data) } };
    case 'LockPCRs':
      return { LockPCRs: { range: request.range } };
    case 'Attestation':
      return {
        Attestation: {
          user_data: hexOrNull(request.userData),
          nonce: hexOrNull(request.nonce),
          public_key: hexOrNull(request.publicKey),
        },
      };
    case 'DescribeNSM':
    case 'GetRandom':
      return request.type;
  }
}

const hexOrNull = (b: Uint8Array | null) => (b === null ? null : toHex(b));

/** A response in its JSON form: the serde shape, byte fields as lower-case hex. */
export function responseToJson(response: NsmResponse): unknown {
  switch (response.type) {
    case 'DescribePCR':
      return { DescribePCR: { lock: response.lock, data: toHex(response.data) } };
    case 'ExtendPCR':
      return { ExtendPCR: { data: toHex(response.data) } };
    case 'LockPCR':
    case 'LockPCRs':
      return response.type;
    case 'DescribeNSM':
      return {
        DescribeNSM: {
          version_major: response.versionMajor,
          version_minor: response.versionMinor,
          version_patch: response.versionPatch,
          module_id: response.moduleId,
          max_pcrs: response.maxPcrs,
          locked_pcrs: [...response.lockedPcrs],
          digest: response.digest,
        },
      };
    case 'Attestation':
      return { Attestation: { document: toHex(response.document) } };
    case 'GetRandom':
      return { GetRandom: { random: toHex(response.random) } };
    case 'Error':
      return { Error: response.code };
  }
}

/** Reads a response in its JSON form (the inverse of responseToJson). Throws NsmProtocolError (code `json`). */
export function responseFromJson(value: unknown): NsmResponse {
  const { name, body } = jsonVariant(value, RESPONSE_TYPES, 'an NSM response');
  const f = new JsonFields(name, body);
  if (isStructResponseType(name)) return structResponse(name, f);
  switch (name) {
    case 'LockPCR':
    case 'LockPCRs':
      return { type: name };
    case 'Error': {
      const code = body?.['__value'];
      if (typeof code !== 'string' || !(NSM_ERROR_CODES as readonly string[]).includes(code))
        jsonFail(`Error must carry one of ${NSM_ERROR_CODES.join(', ')}`);
      return { type: 'Error', code: code as NsmErrorCode };
    }
    default:
      return jsonFail(`${JSON.stringify(name.slice(0, 64))} is not an NSM response (${RESPONSE_TYPES.join(', ')})`);
  }
}
