// Test helpers for the attestation suites, written from the spec (shared/spec/attestation.md,
// sections 1-3) independently of src/engine: fixture loading with expected.json, a CBOR walker that
// keeps every item's byte span, a small CBOR writer (exact heads, so real payloads re-encode byte
// for byte), COSE_Sign1 signing with node:crypto, and P-384 CA hierarchies made with the openssl
// CLI. Tests derive expected values from these, expected.json, openssl and node:crypto, never from
// the engine's own output.
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoPath } from '../../repo';

// ---------------------------------------------------------------------------------------------
// Fixtures and expected.json.

export const FIXTURES = repoPath('test', 'fixtures', 'attestation');

export interface ExpectedChainEntry {
  readonly role: 'root' | 'intermediate' | 'leaf';
  readonly cn: string;
  readonly not_before: string;
  readonly not_after: string;
  readonly basic_constraints: { readonly critical: boolean; readonly ca: boolean; readonly pathLen?: number };
  readonly key_usage: readonly string[];
  readonly key_usage_critical: boolean;
}

export interface ExpectedDoc {
  readonly file: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly decodes: boolean;
  readonly decode_error?: string;
  readonly tagged?: boolean;
  readonly protected_header_hex?: string;
  readonly alg?: number;
  readonly signature_len?: number;
  readonly payload_len?: number;
  readonly module_id?: string;
  readonly digest?: string;
  readonly timestamp_ms?: number;
  readonly timestamp_iso?: string;
  readonly pcr_indices?: readonly number[];
  readonly pcrs?: Readonly<Record<string, string>>;
  readonly public_key?: string;
  readonly public_key_hex?: string | null;
  readonly user_data?: string;
  readonly user_data_hex?: string | null;
  readonly nonce?: string;
  readonly nonce_hex?: string | null;
  readonly cabundle_len?: number;
  readonly leaf_not_before?: string;
  readonly leaf_not_after?: string;
  readonly leaf_subject?: string;
  readonly root_is_pinned_g1?: boolean;
  readonly signature_valid?: boolean;
  readonly chain_valid_at_doc_timestamp?: boolean;
  readonly image_pcrs_all_zero_debug?: boolean;
  readonly chain?: readonly ExpectedChainEntry[];
}

interface ExpectedFile {
  readonly root_der_sha256: string;
  readonly documents: readonly ExpectedDoc[];
}

export const EXPECTED: ExpectedFile = JSON.parse(readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8'));

export function expectedFor(file: string): ExpectedDoc {
  const e = EXPECTED.documents.find((d) => d.file === file);
  if (!e) throw new Error(`expected.json has no entry for ${file}`);
  return e;
}

/** The 10 hardware documents (expected.json entries that are neither negative nor derived). */
export const REAL_FILES: readonly string[] = EXPECTED.documents
  .map((d) => d.file)
  .filter((f) => !f.startsWith('neg-') && !f.startsWith('derived-'));
/** The derived positive vector (tag 18 in front of a real document). */
export const TAGGED_FILE = 'derived-evervault-2022-10-13-prod-tagged18.cbor';
export const NEGATIVE_FILES: readonly string[] = EXPECTED.documents
  .map((d) => d.file)
  .filter((f) => f.startsWith('neg-'));

/** The unsigned document of QEMU's emulated NSM, and what qemu/SOURCES.md says it holds. */
export const QEMU_FILE = 'qemu/qemu-attestation.cbor';
export const QEMU = {
  sha256: '66c00ee9b537b2a2d1c8f7a15cf4d4991b64b7c92229a293278aa65c90b5aa13',
  moduleId: 'i-0123456789abcdef0-enc0123456789abcdef',
  timestamp: 1795743108000,
  userData: 'hello-from-qemu!',
  nonce: '0102030405060708',
  pcrs: {
    0: '54ec55fa04e1b25313304cb376a138c62e29cf112622ee1c40886fec43c026790d2ea284d59c92b3402c6d7913fba809',
    1: 'a970a0a8ff1add88bb0ed000b2552f355829753ca239c501dcde32b52a2d16c59d5b11f0d17e21a3bb02344c860ff605',
    2: 'd9608aa604209dabb504afdd8abb2e9bca3809ddb903c9b913c197d9e1a4d865261cb0f433116277bd45af6ea5e67c27',
    3: '343c8d0b85aee3243c19a106220877c5d9d0355a1b71a5e8bf52160897ecc133d2f098986e65d8f77d13c0138f27de1b',
    4: 'd6432900ac1c343cb40286898792c55e962aef0cc35c4910c0c286145b51af19e782cb21cc31a042671d7dfbd398251c',
  } as Record<number, string>,
};
export const loadFixture = (file: string): Uint8Array => new Uint8Array(readFileSync(path.join(FIXTURES, file)));

export const ROOT_PEM = readFileSync(path.join(FIXTURES, 'aws_nitro_root_g1.pem'), 'utf8');

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** OpenSSL's print format (`Nov 30 16:22:45 2024 GMT`, as in expected.json) to a Date. */
export function opensslDate(text: string): Date {
  const m = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4}) GMT$/.exec(text);
  if (!m) throw new Error(`not an OpenSSL date: ${text}`);
  const month = MONTHS.indexOf(m[1] as string);
  if (month < 0) throw new Error(`bad month in ${text}`);
  return new Date(Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])));
}

// ---------------------------------------------------------------------------------------------
// Bytes.

export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
export const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
export const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Deterministic PRNG (mulberry32): every failure names a seed that reproduces it.

import { Prng } from '../../prng';
export { Prng };

// ---------------------------------------------------------------------------------------------
// CBOR (RFC 8949): a walker that records where every item lies, and a writer.

export interface Span {
  readonly major: number;
  /** Offset of the initial byte. */
  readonly start: number;
  /** Offset just after the head (initial byte and argument). */
  readonly headEnd: number;
  /** Offset just after the whole item (for indefinite items: after the break). */
  readonly end: number;
  readonly indefinite: boolean;
  /** The argument (length, count, value or tag number). */
  readonly arg: bigint;
  /** Array items, map keys and values alternating, the tagged item, or string chunks. */
  readonly children: readonly Span[];
}

/** Walks one CBOR item at `pos` (definite and indefinite lengths). Throws on malformed input. */
export function walkCbor(bytes: Uint8Array, pos = 0, depth = 0): Span {
  if (depth > 64) throw new Error('test CBOR walker: too deep');
  const need = (n: number, at: number) => {
    if (at + n > bytes.length) throw new Error(`test CBOR walker: truncated at ${at}`);
  };
  need(1, pos);
  const start = pos;
  const ib = bytes[pos++] as number;
  const major = ib >> 5;
  const info = ib & 31;
  if (info === 31) {
    if (major === 7) throw new Error(`test CBOR walker: break outside an indefinite item at ${start}`);
    const children: Span[] = [];
    for (;;) {
      need(1, pos);
      if (bytes[pos] === 0xff) {
        pos++;
        break;
      }
      const child = walkCbor(bytes, pos, depth + 1);
      children.push(child);
      pos = child.end;
    }
    return { major, start, headEnd: start + 1, end: pos, indefinite: true, arg: -1n, children };
  }
  let arg = BigInt(info);
  if (info >= 24) {
    const n = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : -1;
    if (n < 0) throw new Error(`test CBOR walker: reserved info ${info} at ${start}`);
    need(n, pos);
    arg = 0n;
    for (let i = 0; i < n; i++) arg = (arg << 8n) | BigInt(bytes[pos + i] as number);
    pos += n;
  }
  const headEnd = pos;
  const children: Span[] = [];
  if (major === 2 || major === 3) {
    need(Number(arg), pos);
    pos += Number(arg);
  } else if (major === 4 || major === 5) {
    const count = Number(arg) * (major === 5 ? 2 : 1);
    for (let i = 0; i < count; i++) {
      const child = walkCbor(bytes, pos, depth + 1);
      children.push(child);
      pos = child.end;
    }
  } else if (major === 6) {
    const child = walkCbor(bytes, pos, depth + 1);
    children.push(child);
    pos = child.end;
  }
  return { major, start, headEnd, end: pos, indefinite: false, arg, children };
}

/** The content bytes of a definite byte or text string span. */
export const spanContent = (bytes: Uint8Array, s: Span): Uint8Array => bytes.subarray(s.headEnd, s.end);

/** A CBOR head in the shortest form, or with an argument of exactly `size` bytes (0 = in the initial byte). */
export function head(major: number, value: number | bigint, size?: 0 | 1 | 2 | 4 | 8): Uint8Array {
  const v = BigInt(value);
  const m = major << 5;
  const n = size ?? (v < 24n ? 0 : v < 0x100n ? 1 : v < 0x10000n ? 2 : v < 0x100000000n ? 4 : 8);
  if (n === 0) {
    if (v >= 24n) throw new Error('argument too large for the initial byte');
    return Uint8Array.of(m | Number(v));
  }
  const out = new Uint8Array(1 + n);
  out[0] = m | (n === 1 ? 24 : n === 2 ? 25 : n === 4 ? 26 : 27);
  for (let i = 0; i < n; i++) out[n - i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
}
export const cUint = (n: number | bigint, size?: 0 | 1 | 2 | 4 | 8): Uint8Array => head(0, n, size);
export const cNeg = (n: number): Uint8Array => head(1, -1 - n);
export const cBstr = (b: Uint8Array, size?: 0 | 1 | 2 | 4 | 8): Uint8Array => concat(head(2, b.length, size), b);
export const cText = (s: string, size?: 0 | 1 | 2 | 4 | 8): Uint8Array =>
  concat(head(3, Buffer.byteLength(s), size), ascii(s));
export const cArray = (items: readonly Uint8Array[]): Uint8Array => concat(head(4, items.length), ...items);
export const cMap = (pairs: readonly (readonly [Uint8Array, Uint8Array])[]): Uint8Array =>
  concat(head(5, pairs.length), ...pairs.flat());
export const cIndefMap = (pairs: readonly (readonly [Uint8Array, Uint8Array])[]): Uint8Array =>
  concat(Uint8Array.of(0xbf), ...pairs.flat(), Uint8Array.of(0xff));
export const C_NULL = Uint8Array.of(0xf6);

// ---------------------------------------------------------------------------------------------
// COSE_Sign1 (spec 1.1, 1.2).

export const ES384_PROTECTED = Uint8Array.of(0xa1, 0x01, 0x38, 0x22);

export interface Sign1Layout {
  readonly tagged: boolean;
  readonly array: Span;
  readonly protectedSpan: Span;
  readonly unprotectedSpan: Span;
  readonly payloadSpan: Span;
  readonly signatureSpan: Span;
  readonly protectedBytes: Uint8Array;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

/** Splits a COSE_Sign1 document (optionally tagged 18) with the test walker. */
export function sign1Layout(doc: Uint8Array): Sign1Layout {
  const top = walkCbor(doc);
  if (top.end !== doc.length) throw new Error('trailing bytes after the document');
  const tagged = top.major === 6;
  const array = tagged ? (top.children[0] as Span) : top;
  const [p, u, pl, sg] = array.children as [Span, Span, Span, Span];
  return {
    tagged,
    array,
    protectedSpan: p,
    unprotectedSpan: u,
    payloadSpan: pl,
    signatureSpan: sg,
    protectedBytes: spanContent(doc, p),
    payload: spanContent(doc, pl),
    signature: spanContent(doc, sg),
  };
}

export const sigStructure = (protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array =>
  concat(Uint8Array.of(0x84), cText('Signature1'), cBstr(protectedBytes), cBstr(new Uint8Array(0)), cBstr(payload));

export interface Sign1Parts {
  readonly protectedBytes: Uint8Array;
  /** The unprotected header, already encoded (default `a0`). */
  readonly unprotected?: Uint8Array;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
  readonly tagged?: boolean;
}

export function encodeSign1(p: Sign1Parts): Uint8Array {
  const body = concat(
    Uint8Array.of(0x84),
    cBstr(p.protectedBytes),
    p.unprotected ?? Uint8Array.of(0xa0),
    cBstr(p.payload),
    cBstr(p.signature),
  );
  return p.tagged ? concat(Uint8Array.of(0xd2), body) : body;
}

/** ES384 over Sig_structure with node:crypto, raw r‖s. */
export function signEs384(keyPem: string, protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return new Uint8Array(
    nodeSign('sha384', sigStructure(protectedBytes, payload), { key: keyPem, dsaEncoding: 'ieee-p1363' }),
  );
}

/**
 * Verifies a document's ES384 signature with node:crypto and the given leaf certificate (independent of the engine).
 */
export function nodeVerifySign1(doc: Uint8Array, leafDer: Uint8Array): boolean {
  const l = sign1Layout(doc);
  const key = new X509Certificate(Buffer.from(leafDer)).publicKey;
  try {
    return nodeVerify(
      'sha384',
      sigStructure(l.protectedBytes, l.payload),
      { key, dsaEncoding: 'ieee-p1363' },
      l.signature,
    );
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// The attestation payload as an ordered list of encoded (key, value) pairs (spec 2.1), so tests can
// re-encode real payloads byte for byte and change one thing at a time.

export interface PayloadEntry {
  /** The key's encoded bytes. */
  key: Uint8Array;
  /** The value's encoded bytes. */
  value: Uint8Array;
}

export interface PayloadParts {
  entries: PayloadEntry[];
  indefinite: boolean;
}

export function splitPayload(payload: Uint8Array): PayloadParts {
  const map = walkCbor(payload);
  if (map.major !== 5 || map.end !== payload.length) throw new Error('the payload is not one CBOR map');
  const entries: PayloadEntry[] = [];
  for (let i = 0; i < map.children.length; i += 2) {
    const k = map.children[i] as Span;
    const v = map.children[i + 1] as Span;
    entries.push({ key: payload.slice(k.start, k.end), value: payload.slice(v.start, v.end) });
  }
  return { entries, indefinite: map.indefinite };
}

export function joinPayload(p: PayloadParts): Uint8Array {
  const pairs = p.entries.map((e) => [e.key, e.value] as const);
  return p.indefinite ? cIndefMap(pairs) : cMap(pairs);
}

/** Index of the entry whose key is the text `name` (shortest-form key). */
export function entryIndex(p: PayloadParts, name: string): number {
  const k = hex(cText(name));
  const i = p.entries.findIndex((e) => hex(e.key) === k);
  if (i < 0) throw new Error(`payload has no key ${name}`);
  return i;
}

export function entryValue(p: PayloadParts, name: string): Uint8Array {
  return (p.entries[entryIndex(p, name)] as PayloadEntry).value;
}

export function setEntry(p: PayloadParts, name: string, value: Uint8Array): PayloadParts {
  const entries = p.entries.map((e) => ({ ...e }));
  (entries[entryIndex(p, name)] as PayloadEntry).value = value;
  return { entries, indefinite: p.indefinite };
}

/** The cabundle entries (DER) of a payload. */
export function cabundleOf(p: PayloadParts): Uint8Array[] {
  const v = entryValue(p, 'cabundle');
  const s = walkCbor(v);
  return s.children.map((c) => v.slice(c.headEnd, c.end));
}

export const certificateOf = (p: PayloadParts): Uint8Array => {
  const v = entryValue(p, 'certificate');
  return v.slice(walkCbor(v).headEnd);
};

export interface PayloadFields {
  readonly moduleId: string;
  readonly timestamp: number;
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  readonly certificate: Uint8Array;
  readonly cabundle: readonly Uint8Array[];
  readonly publicKey?: Uint8Array | null;
  readonly userData?: Uint8Array | null;
  readonly nonce?: Uint8Array | null;
}

/** A payload laid out as the hardware writes it (spec 2.1 "Encoding details"). */
export function buildPayload(f: PayloadFields, indefinite = false): PayloadParts {
  const opt = (v: Uint8Array | null | undefined) => (v ? cBstr(v) : C_NULL);
  const entries: PayloadEntry[] = [
    { key: cText('module_id'), value: cText(f.moduleId) },
    { key: cText('digest'), value: cText('SHA384') },
    { key: cText('timestamp'), value: cUint(BigInt(f.timestamp), 8) },
    { key: cText('pcrs'), value: cMap([...f.pcrs].map(([k, v]) => [cUint(k), cBstr(v)] as const)) },
    { key: cText('certificate'), value: cBstr(f.certificate) },
    { key: cText('cabundle'), value: cArray(f.cabundle.map((c) => cBstr(c))) },
    { key: cText('public_key'), value: opt(f.publicKey) },
    { key: cText('user_data'), value: opt(f.userData) },
    { key: cText('nonce'), value: opt(f.nonce) },
  ];
  return { entries, indefinite };
}

/** 16 PCRs of 48 bytes: PCR0-2 and 4 set from a seed, the rest zero (the shape of a production document). */
export function samplePcrs(seed = 1, debug = false): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  for (let i = 0; i < 16; i++) {
    const set = !debug && [0, 1, 2, 4].includes(i);
    m.set(i, set ? new Uint8Array(createHash('sha384').update(`pcr${i}-${seed}`).digest()) : new Uint8Array(48));
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Files, openssl, and P-384 CA hierarchies (spec 3.2).

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `nitro-att-${prefix}-`));
}

export const removeDir = (dir: string | undefined): void => {
  if (dir) rmSync(dir, { recursive: true, force: true });
};

let opensslChecked = false;
/** Makes sure the openssl CLI exists; installs it with apt-get when running as root; otherwise throws (never skips). */
export function ensureOpenssl(): void {
  if (opensslChecked) return;
  if (spawnSync('openssl', ['version']).status !== 0) {
    if (process.getuid?.() === 0) {
      spawnSync('apt-get', ['update'], { stdio: 'ignore' });
      spawnSync('apt-get', ['install', '-y', 'openssl'], { stdio: 'ignore' });
    }
    if (spawnSync('openssl', ['version']).status !== 0)
      throw new Error('the openssl CLI is required by these tests and is not installed (apt-get install openssl)');
  }
  opensslChecked = true;
}

export function openssl(args: string[], cwd?: string): { status: number; stdout: string; stderr: string } {
  ensureOpenssl();
  const r = spawnSync('openssl', args, { encoding: 'utf8', ...(cwd ? { cwd } : {}) });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function opensslOk(args: string[], cwd?: string): string {
  const r = openssl(args, cwd);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** Extension sections like AWS's (spec 3.2). */
export const EXT = {
  root: [
    'basicConstraints=critical,CA:TRUE',
    'keyUsage=critical,digitalSignature,keyCertSign,cRLSign',
    'subjectKeyIdentifier=hash',
  ],
  intermediate: (pathLen?: number) => [
    `basicConstraints=critical,CA:TRUE${pathLen === undefined ? '' : `,pathlen:${pathLen}`}`,
    'keyUsage=critical,digitalSignature,keyCertSign,cRLSign',
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid',
  ],
  leaf: ['basicConstraints=critical,CA:FALSE', 'keyUsage=digitalSignature,nonRepudiation'],
};

export interface CertSpec {
  /** File stem and CN. */
  readonly name: string;
  /** Index of the issuer in the list (undefined: self-signed root). */
  readonly issuer?: number;
  readonly ext: readonly string[];
  readonly days?: number;
  /** Digest for the signature (default sha384). */
  readonly md?: string;
  /** Key curve (default secp384r1). */
  readonly curve?: string;
}

export interface MadeCert {
  readonly name: string;
  readonly keyPem: string;
  readonly certPem: string;
  readonly der: Uint8Array;
  readonly certFile: string;
  readonly x509: X509Certificate;
}

let serial = 0x1000;

/** Makes certificates in order (issuers before subjects) with node:crypto keys and the openssl CLI. */
export function makeCerts(dir: string, specs: readonly CertSpec[]): MadeCert[] {
  const out: MadeCert[] = [];
  for (const s of specs) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: s.curve ?? 'secp384r1' });
    const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const keyFile = path.join(dir, `${s.name}.key.pem`);
    const csrFile = path.join(dir, `${s.name}.csr.pem`);
    const certFile = path.join(dir, `${s.name}.cert.pem`);
    const extFile = path.join(dir, `${s.name}.ext`);
    writeFileSync(keyFile, keyPem);
    writeFileSync(extFile, `[v3]\n${s.ext.join('\n')}\n`);
    opensslOk([
      'req',
      '-new',
      '-key',
      keyFile,
      '-subj',
      `/C=US/O=Test/OU=nitro-enclaves-tests/CN=${s.name}`,
      '-out',
      csrFile,
    ]);
    const common = [
      '-in',
      csrFile,
      '-days',
      String(s.days ?? 30),
      `-${s.md ?? 'sha384'}`,
      '-extfile',
      extFile,
      '-extensions',
      'v3',
      '-set_serial',
      String(serial++),
      '-out',
      certFile,
    ];
    if (s.issuer === undefined) opensslOk(['x509', '-req', '-signkey', keyFile, ...common]);
    else {
      const parent = out[s.issuer];
      if (!parent) throw new Error(`issuer ${s.issuer} of ${s.name} is not made yet`);
      opensslOk([
        'x509',
        '-req',
        '-CA',
        parent.certFile,
        '-CAkey',
        path.join(dir, `${parent.name}.key.pem`),
        ...common,
      ]);
    }
    const certPem = readFileSync(certFile, 'utf8');
    const x509 = new X509Certificate(certPem);
    out.push({ name: s.name, keyPem, certPem, der: new Uint8Array(x509.raw), certFile, x509 });
  }
  return out;
}

/** `openssl verify` at `at` with `root` as the only trust anchor: the independent verdict on a chain. */
export function opensslVerify(
  dir: string,
  root: MadeCert | string,
  intermediates: readonly MadeCert[],
  leaf: MadeCert,
  at: Date,
): { ok: boolean; output: string } {
  const rootFile = typeof root === 'string' ? root : root.certFile;
  const args = ['verify', '-attime', String(Math.floor(at.getTime() / 1000)), '-CAfile', rootFile];
  if (intermediates.length > 0) {
    const untrusted = path.join(dir, `untrusted-${leaf.name}.pem`);
    writeFileSync(untrusted, intermediates.map((c) => c.certPem).join(''));
    args.push('-untrusted', untrusted);
  }
  args.push(leaf.certFile);
  const r = openssl(args);
  return { ok: r.status === 0 && /: OK\s*$/.test(r.stdout), output: `${r.stdout}${r.stderr}`.trim() };
}

/** A document signed by `leaf` with the hardware's layout: cabundle is the chain root first. */
export function makeDocument(
  leaf: MadeCert,
  cabundle: readonly MadeCert[],
  o: { timestamp?: number; indefinite?: boolean; nonce?: Uint8Array; tagged?: boolean } = {},
): Uint8Array {
  const payload = joinPayload(
    buildPayload(
      {
        moduleId: 'i-0123456789abcdef0-enc0123456789abcdef',
        timestamp: o.timestamp ?? Date.now(),
        pcrs: samplePcrs(),
        certificate: leaf.der,
        cabundle: cabundle.map((c) => c.der),
        nonce: o.nonce ?? null,
      },
      o.indefinite ?? false,
    ),
  );
  return encodeSign1({
    protectedBytes: ES384_PROTECTED,
    payload,
    signature: signEs384(leaf.keyPem, ES384_PROTECTED, payload),
    tagged: o.tagged ?? false,
  });
}

/** Re-signs a payload with `keyPem` (ES384 header) into a fresh document. */
export const signedDocument = (
  keyPem: string,
  payload: Uint8Array,
  protectedBytes: Uint8Array = ES384_PROTECTED,
  unprotected?: Uint8Array,
): Uint8Array =>
  encodeSign1({
    protectedBytes,
    payload,
    signature: signEs384(keyPem, protectedBytes, payload),
    ...(unprotected ? { unprotected } : {}),
  });
