// Attestation documents (spec sections 1-2): input in any of the forms people paste (raw CBOR,
// base64, hex), the COSE_Sign1 envelope, and every field of the payload, typed. Decoding never
// trusts the document: it only says what is there. The verifier (verify.ts) decides.
import { CoseFormatError, decodeSign1, type CoseFault, type CoseSign1 } from '../cose/sign1';
import { decodeCbor } from '../util/cbor';
import { CborScanError, itemEnd, mapEntries, scanCbor } from '../util/cborScan';
import { fromHex } from '../util/bytes';

export type InputEncoding = 'binary' | 'base64' | 'hex';

/** The largest document accepted (KMS takes up to 256 KiB; real documents are about 5 KiB). */
export const MAX_DOCUMENT_BYTES = 262144;

export class AttestationFormatError extends Error {
  constructor(
    readonly code: 'input' | 'cbor' | 'cose' | 'payload',
    message: string,
  ) {
    super(message);
    this.name = 'AttestationFormatError';
  }
}

/**
 * Turns file contents or pasted text into document bytes: raw CBOR (a COSE_Sign1 starts with 0x84,
 * or 0xd2 when tagged), else hex, else base64 (standard or URL-safe, whitespace ignored).
 */
export function readDocumentInput(input: Uint8Array | string): { bytes: Uint8Array; encoding: InputEncoding } {
  if (typeof input !== 'string') {
    if (input.length > 0 && (input[0] === 0x84 || input[0] === 0xd2)) return { bytes: input, encoding: 'binary' };
    if (input.length > MAX_DOCUMENT_BYTES * 2 + 1024)
      throw new AttestationFormatError(
        'input',
        `the input is ${input.length} bytes, too large for an attestation document`,
      );
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      throw new AttestationFormatError(
        'input',
        'the input is neither a CBOR attestation document (it does not start with 0x84 or 0xd2) nor text',
      );
    }
    return readDocumentInput(text);
  }
  const text = input.replace(/\s+/g, '');
  if (text.length === 0) throw new AttestationFormatError('input', 'the input is empty');
  if (text.length > MAX_DOCUMENT_BYTES * 2)
    throw new AttestationFormatError(
      'input',
      `the input is ${text.length} characters, too large for an attestation document`,
    );
  if (/^(0x)?[0-9a-fA-F]+$/.test(text)) {
    const hex = text.replace(/^0x/, '');
    if (hex.length % 2 !== 0) throw new AttestationFormatError('input', 'the hex input has an odd number of digits');
    return { bytes: fromHex(hex), encoding: 'hex' };
  }
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    const std = text.replace(/-/g, '+').replace(/_/g, '/');
    const padded = std + '='.repeat((4 - (std.length % 4)) % 4);
    if (padded.length % 4 !== 0 || /=[^=]/.test(padded))
      throw new AttestationFormatError('input', 'the base64 input is malformed');
    let bin: string;
    try {
      bin = atob(padded);
    } catch {
      throw new AttestationFormatError('input', 'the base64 input is malformed');
    }
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return { bytes, encoding: 'base64' };
  }
  throw new AttestationFormatError('input', 'the input is not CBOR, hex or base64');
}

/** The COSE_Sign1 envelope of a document (protected header decoded, 1 = alg). */
export type CoseEnvelope = CoseSign1;

/**
 * Which Nitro attestation a document is: `enclave`, made by an enclave's NSM (PCRs in `pcrs`), or
 * `nitrotpm`, made by the NitroTPM of an EC2 instance (PCRs in `nitrotpm_pcrs`). Both are COSE_Sign1
 * documents signed through the same AWS root, but their PCRs measure different things.
 */
export type AttestationKind = 'enclave' | 'nitrotpm';

/** How each kind is named in reports. */
export const ATTESTATION_KIND_LABELS: Readonly<Record<AttestationKind, string>> = {
  enclave: 'Nitro Enclaves (enclave) attestation',
  nitrotpm: 'NitroTPM (instance) attestation',
};

/** The key of the PCR map of each kind. */
export const PCRS_KEY: Readonly<Record<AttestationKind, string>> = { enclave: 'pcrs', nitrotpm: 'nitrotpm_pcrs' };

/** Largest time a JavaScript Date holds (ECMA-262: ±8.64e15 ms around 1970). */
export const MAX_DATE_MS = 8.64e15;

/** The instant of a document timestamp, or undefined when it lies beyond the range of dates. */
export function timestampDate(ms: number): Date | undefined {
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS ? new Date(ms) : undefined;
}

/** A byte-string field that may be absent, null or present (spec 2.1: real documents write null). */
export type OptionalBytes =
  { readonly state: 'absent' } | { readonly state: 'null' } | { readonly state: 'present'; readonly value: Uint8Array };

export interface AttestationDocument {
  /** Enclave (NSM) or instance (NitroTPM) attestation; `pcrs` holds the PCRs of either. */
  readonly kind: AttestationKind;
  readonly moduleId: string;
  readonly digest: string;
  /** Milliseconds since the Unix epoch (UTC). May lie beyond the range of dates: see timestampDate. */
  readonly timestamp: number;
  /** PCR index → value, in index order (from `pcrs`, or `nitrotpm_pcrs` for a NitroTPM document). */
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  readonly certificate: Uint8Array;
  /** Root first. */
  readonly cabundle: readonly Uint8Array[];
  readonly publicKey: OptionalBytes;
  readonly userData: OptionalBytes;
  readonly nonce: OptionalBytes;
  /** Keys the format does not define (signed, so harmless; listed for the curious). */
  readonly unknownKeys: readonly string[];
  /** The payload map used the indefinite-length form (2025+ hardware does). */
  readonly indefiniteLengthMap: boolean;
}

export interface FieldProblem {
  /** The payload key or envelope part. */
  readonly field: string;
  readonly severity: 'error' | 'warning';
  readonly message: string;
}

export interface DecodedAttestation {
  readonly encoding: InputEncoding;
  readonly bytes: Uint8Array;
  readonly cose: CoseEnvelope;
  /** Undefined when the payload is not a readable attestation document (see problems). */
  readonly document: AttestationDocument | undefined;
  /** Syntax rules (spec 2.3) broken or bent: errors make the document invalid, warnings are real-world deviations. */
  readonly problems: readonly FieldProblem[];
  /** When the document is unreadable but its certificates are not: enough to check the signature. */
  readonly signingMaterial?: SigningMaterial;
  /** The kind, when the payload says it (even when other fields are wrong). */
  readonly kind?: AttestationKind;
  /** The timestamp (ms), whenever it is a readable positive integer, even when other fields are wrong. */
  readonly timestamp?: number;
}

function cbor(bytes: Uint8Array, what: string, code: 'cbor' | 'payload'): unknown {
  try {
    scanCbor(bytes);
    return decodeCbor(bytes);
  } catch (e) {
    if (e instanceof CborScanError)
      throw new AttestationFormatError(code, `${what} is not well-formed CBOR: ${e.message}`);
    throw new AttestationFormatError(code, `${what} cannot be decoded: ${e instanceof Error ? e.message : String(e)}`);
  }
}

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const bytesOf = (v: Uint8Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

function envelopeError(f: CoseFault): AttestationFormatError {
  switch (f.kind) {
    case 'cbor': {
      const what = f.part === 'structure' ? 'the document' : 'the COSE protected header';
      return new AttestationFormatError(
        'cbor',
        `${what} ${f.scan ? 'is not well-formed CBOR' : 'cannot be decoded'}: ${f.detail}`,
      );
    }
    case 'tag':
      return new AttestationFormatError(
        'cose',
        `the document has CBOR tag ${f.tag}; only tag 18 (COSE_Sign1) is allowed`,
      );
    case 'not-array-of-4':
      return new AttestationFormatError('cose', 'the document is not a COSE_Sign1 (an array of 4 items)');
    case 'not-bytes':
      return new AttestationFormatError('cose', `the COSE ${f.part} is not a byte string`);
    case 'not-map':
      return new AttestationFormatError('cose', `the COSE ${f.part} is not a map`);
  }
}

/** Decodes the COSE_Sign1 envelope. Throws AttestationFormatError when it is not one. */
export function decodeEnvelope(bytes: Uint8Array): CoseEnvelope {
  if (bytes.length > MAX_DOCUMENT_BYTES)
    throw new AttestationFormatError(
      'input',
      `the document is ${bytes.length} bytes; at most ${MAX_DOCUMENT_BYTES} are accepted`,
    );
  try {
    return decodeSign1(bytes, { scan: true });
  } catch (e) {
    if (e instanceof CoseFormatError) throw envelopeError(e.fault);
    throw e;
  }
}

const KNOWN = [
  'module_id',
  'digest',
  'timestamp',
  'pcrs',
  'nitrotpm_pcrs',
  'certificate',
  'cabundle',
  'public_key',
  'user_data',
  'nonce',
];

/** The text of the (definite or indefinite) text string at `pos`. */
function decodeTextAt(bytes: Uint8Array, pos: number): string | undefined {
  try {
    const v = decodeCbor(bytes.subarray(pos, itemEnd(bytes, pos)));
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The certificates of a document: enough to check its signature even when other fields are wrong. */
export interface SigningMaterial {
  readonly certificate: Uint8Array;
  readonly cabundle: readonly Uint8Array[];
}

export interface DecodedPayload {
  readonly document: AttestationDocument | undefined;
  readonly problems: FieldProblem[];
  readonly signingMaterial?: SigningMaterial;
  readonly kind?: AttestationKind;
  readonly timestamp?: number;
}

/** Where the steps of payload decoding report what they find. */
class Problems {
  readonly list: FieldProblem[] = [];
  error(field: string, message: string): void {
    this.list.push({ field, severity: 'error', message });
  }
  warning(field: string, message: string): void {
    this.list.push({ field, severity: 'warning', message });
  }
  get hasErrors(): boolean {
    return this.list.some((p) => p.severity === 'error');
  }
}

/** Wire types that decoding hides: an integer written as a float, undefined taken for null. */
function checkWireTypes(payload: Uint8Array, problems: Problems): void {
  const wire = new Map<string, number>();
  for (const { key, value } of mapEntries(payload, 0)) {
    const k = key.major === 3 ? decodeTextAt(payload, key.start) : undefined;
    if (typeof k === 'string') wire.set(k, value.initial);
    if ((k === 'pcrs' || k === 'nitrotpm_pcrs') && value.major === 5) {
      for (const e of mapEntries(payload, value.start)) {
        if (e.key.major !== 0)
          problems.error(
            k,
            `${k} has a key that is not an unsigned integer in CBOR (a float or other type written as a PCR index)`,
          );
      }
    }
  }
  const expect = (key: string, majors: number[], what: string) => {
    const initial = wire.get(key);
    if (initial !== undefined && !majors.includes(initial >> 5) && !(majors.includes(-1) && initial === 0xf6)) {
      const simple = initial === 0xf7 ? 'undefined' : 'a float or simple value';
      const detail = initial >> 5 === 7 ? ` (0x${initial.toString(16)}: ${simple})` : '';
      problems.error(key, `${key} is written as CBOR major type ${initial >> 5}${detail}; it must be ${what}`);
    }
  };
  expect('timestamp', [0], 'an unsigned integer');
  expect('module_id', [3], 'text');
  expect('digest', [3], 'text');
  expect('certificate', [2], 'a byte string');
  for (const key of ['public_key', 'user_data', 'nonce']) expect(key, [2, -1], 'a byte string or null');
}

/** Keys the format does not define (a warning), and keys that are not text (an error). */
function unknownKeysOf(map: Map<unknown, unknown>, problems: Problems): string[] {
  const unknownKeys: string[] = [];
  for (const k of map.keys()) {
    if (typeof k !== 'string') problems.error('payload', `the payload has a key that is not text (${typeof k})`);
    else if (!KNOWN.includes(k)) unknownKeys.push(k);
  }
  if (unknownKeys.length > 0)
    problems.warning('payload', `the payload has keys the format does not define: ${unknownKeys.join(', ')} (ignored)`);
  return unknownKeys;
}

/** The timestamp, whenever it is a readable positive integer. */
function readTimestamp(map: Map<unknown, unknown>, problems: Problems): number | undefined {
  const ts = map.get('timestamp');
  const timestamp = typeof ts === 'bigint' ? Number(ts) : ts;
  const readable =
    typeof timestamp === 'number' && Number.isSafeInteger(timestamp) && timestamp > 0 ? timestamp : undefined;
  if (readable === undefined)
    problems.error(
      'timestamp',
      map.has('timestamp')
        ? 'timestamp must be an integer greater than 0 (milliseconds since 1970)'
        : 'timestamp is missing',
    );
  else if (!timestampDate(readable))
    problems.warning(
      'timestamp',
      `timestamp ${readable} ms lies beyond the range of dates (at most ${MAX_DATE_MS} ms, the year 275760); ` +
        `the time it names cannot be shown or checked`,
    );
  return readable;
}

/** The kind: an enclave's NSM writes `pcrs`, an instance's NitroTPM `nitrotpm_pcrs`; never both. */
function readKind(map: Map<unknown, unknown>, moduleId: unknown, problems: Problems): AttestationKind | undefined {
  const hasEnclave = map.has('pcrs');
  const hasTpm = map.has('nitrotpm_pcrs');
  const kind: AttestationKind | undefined = hasEnclave && hasTpm ? undefined : hasTpm ? 'nitrotpm' : 'enclave';
  if (hasEnclave && hasTpm)
    problems.error(
      'payload',
      'the payload has both pcrs (an enclave document) and nitrotpm_pcrs (a NitroTPM instance document); ' +
        'a document is one or the other',
    );
  if (kind === 'nitrotpm' && typeof moduleId === 'string' && /-enc[0-9a-f]{16}$/.test(moduleId))
    problems.warning(
      'module_id',
      `module_id ${moduleId} names an enclave (-enc…), but the document carries nitrotpm_pcrs, ` +
        `as a NitroTPM instance document does`,
    );
  if (kind === 'enclave' && typeof moduleId === 'string' && /-tpm[0-9a-f]{16}$/.test(moduleId))
    problems.warning(
      'module_id',
      `module_id ${moduleId} names a NitroTPM (-tpm…), but the document carries pcrs, as an enclave document does`,
    );
  return kind;
}

/** The PCRs under the key of `kind`; nothing when the kind is unknown (both maps: already reported). */
function readPcrs(
  map: Map<unknown, unknown>,
  kind: AttestationKind | undefined,
  problems: Problems,
): Map<number, Uint8Array> {
  const pcrs = new Map<number, Uint8Array>();
  if (kind === undefined) return pcrs;
  const pcrKey = PCRS_KEY[kind];
  const rawPcrs = map.get(pcrKey);
  if (!(rawPcrs instanceof Map)) {
    problems.error(
      pcrKey,
      map.has(pcrKey)
        ? `${pcrKey} is not a map`
        : 'pcrs is missing (a NitroTPM instance document has nitrotpm_pcrs instead)',
    );
    return pcrs;
  }
  // The same rules for both kinds (AWS's CDDL: index 0..31, a PCR is 32, 48 or 64 bytes).
  if (rawPcrs.size < 1 || rawPcrs.size > 32)
    problems.error(pcrKey, `${pcrKey} has ${rawPcrs.size} entries; it must have 1 to 32`);
  for (const [k, v] of rawPcrs) {
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k >= 32) {
      problems.error(pcrKey, `${pcrKey} has the key ${String(k)}; keys must be integers 0 to 31`);
      continue;
    }
    if (!isBytes(v) || ![32, 48, 64].includes(v.length)) {
      problems.error(
        pcrKey,
        `PCR${k} is ${isBytes(v) ? `${v.length} bytes` : 'not a byte string'}; a PCR value is 32, 48 or 64 bytes`,
      );
      continue;
    }
    pcrs.set(k, bytesOf(v));
  }
  return pcrs;
}

/** The signing certificate and the cabundle; `complete` when every cabundle entry is a usable byte string. */
function readCertificates(
  map: Map<unknown, unknown>,
  problems: Problems,
): { certificate: unknown; cabundle: Uint8Array[]; complete: boolean } {
  const certificate = map.get('certificate');
  if (!isBytes(certificate) || certificate.length < 1 || certificate.length > 1024) {
    problems.error(
      'certificate',
      map.has('certificate') ? 'certificate must be a byte string of 1 to 1024 bytes' : 'certificate is missing',
    );
  }
  const cabundle: Uint8Array[] = [];
  const rawBundle = map.get('cabundle');
  if (!Array.isArray(rawBundle) || rawBundle.length === 0) {
    problems.error('cabundle', map.has('cabundle') ? 'cabundle must be a non-empty array' : 'cabundle is missing');
    return { certificate, cabundle, complete: false };
  }
  rawBundle.forEach((c, i) => {
    if (!isBytes(c) || c.length < 1 || c.length > 1024)
      problems.error('cabundle', `cabundle[${i}] must be a byte string of 1 to 1024 bytes`);
    else cabundle.push(bytesOf(c));
  });
  return { certificate, cabundle, complete: cabundle.length > 0 && cabundle.length === rawBundle.length };
}

/** An optional byte string: at most `max` bytes; AWS's rules say `awsMax` and at least `minAws`. */
function readOptional(
  map: Map<unknown, unknown>,
  key: string,
  max: number,
  awsMax: number,
  minAws: number,
  problems: Problems,
): OptionalBytes {
  if (!map.has(key)) return { state: 'absent' };
  const v = map.get(key);
  if (v === null || v === undefined) {
    problems.warning(
      key,
      `${key} is null; the AWS rules forbid null values, but Nitro hardware writes null for an absent optional field`,
    );
    return { state: 'null' };
  }
  if (!isBytes(v)) {
    problems.error(key, `${key} is not a byte string`);
    return { state: 'absent' };
  }
  if (v.length > max) problems.error(key, `${key} is ${v.length} bytes; at most ${max} are allowed`);
  else if (v.length > awsMax)
    problems.warning(
      key,
      `${key} is ${v.length} bytes; AWS's rules say at most ${awsMax}, its CDDL and hardware allow ${max}`,
    );
  else if (v.length < minAws)
    problems.warning(
      key,
      `${key} is empty; AWS's rules say at least ${minAws} byte, but real documents have empty ones`,
    );
  return { state: 'present', value: bytesOf(v) };
}

/** Decodes the payload map and applies the syntax rules of spec 2.3 (with its real-world relaxations). */
export function decodePayload(payload: Uint8Array): DecodedPayload {
  const problems = new Problems();
  const map = cbor(payload, 'the payload', 'payload');
  if (!(map instanceof Map)) {
    problems.error('payload', 'the payload is not a CBOR map');
    return { document: undefined, problems: problems.list };
  }
  if (payload[0] !== undefined && payload[0] >> 5 === 5) checkWireTypes(payload, problems);
  const unknownKeys = unknownKeysOf(map, problems);
  const moduleId: unknown = map.get('module_id');
  if (typeof moduleId !== 'string' || moduleId.length === 0)
    problems.error('module_id', map.has('module_id') ? 'module_id must be non-empty text' : 'module_id is missing');
  const digest: unknown = map.get('digest');
  if (digest !== 'SHA384')
    problems.error(
      'digest',
      map.has('digest') ? `digest is ${JSON.stringify(digest)}, not "SHA384"` : 'digest is missing',
    );
  const timestamp = readTimestamp(map, problems);
  const kind = readKind(map, moduleId, problems);
  const pcrs = readPcrs(map, kind, problems);
  const { certificate, cabundle, complete } = readCertificates(map, problems);
  const publicKey = readOptional(map, 'public_key', 1024, 1024, 1, problems);
  const userData = readOptional(map, 'user_data', 1024, 512, 0, problems);
  const nonce = readOptional(map, 'nonce', 1024, 512, 0, problems);

  if (problems.hasErrors) {
    // The signature can still be checked when the certificates are readable: say so separately.
    const material = isBytes(certificate) && complete ? { certificate: bytesOf(certificate), cabundle } : undefined;
    return {
      document: undefined,
      problems: problems.list,
      ...(material ? { signingMaterial: material } : {}),
      ...(kind ? { kind } : {}),
      ...(timestamp !== undefined ? { timestamp } : {}),
    };
  }
  return {
    kind,
    timestamp,
    document: {
      kind: kind as AttestationKind,
      moduleId: moduleId as string,
      digest: digest as string,
      timestamp: timestamp as number,
      pcrs: new Map([...pcrs].sort((a, b) => a[0] - b[0])),
      certificate: bytesOf(certificate as Uint8Array),
      cabundle,
      publicKey,
      userData,
      nonce,
      unknownKeys,
      indefiniteLengthMap: payload[0] === 0xbf,
    },
    problems: problems.list,
  };
}

/** Decodes a document from file contents or pasted text. Throws AttestationFormatError when it has no COSE envelope. */
export function decodeAttestation(input: Uint8Array | string): DecodedAttestation {
  const { bytes, encoding } = readDocumentInput(input);
  const cose = decodeEnvelope(bytes);
  let decoded: DecodedPayload;
  try {
    decoded = decodePayload(cose.payload);
  } catch (e) {
    if (!(e instanceof AttestationFormatError)) throw e;
    decoded = { document: undefined, problems: [{ field: 'payload', severity: 'error', message: e.message }] };
  }
  return { encoding, bytes, cose, ...decoded };
}
