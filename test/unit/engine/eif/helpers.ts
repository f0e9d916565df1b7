// Test helpers for the EIF suites. Everything here is written from the spec (shared EIF spec,
// sections 1-4), independently of src/engine: an EIF assembler and walker, SHA-384/CRC-32 through
// node:crypto and node:zlib, a tiny CBOR encoder/decoder for the signature section, COSE_Sign1
// signing with node:crypto, and certificates made with the openssl CLI. Tests use these to derive
// expected values rather than trusting the engine's own output.
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, sign as nodeSign, X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

// ---------------------------------------------------------------------------------------------
// Deterministic PRNG (mulberry32), so every failure names a seed that reproduces it.

import { Prng } from '../../prng';
export { Prng };

// ---------------------------------------------------------------------------------------------
// Hashes, PCRs and CRC straight from node:crypto and node:zlib (spec sections 2 and 3.1).

export const sha384 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha384');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** PCR = SHA-384(48 zero bytes || SHA-384(concatenated parts)), lower-case hex. */
export const pcrHex = (...parts: Uint8Array[]): string =>
  createHash('sha384')
    .update(Buffer.alloc(48))
    .update(sha384(...parts))
    .digest('hex');

const zlibCrc32 = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

export function zcrc32(data: Uint8Array, previous = 0): number {
  if (!zlibCrc32) throw new Error(`zlib.crc32 is missing in Node ${process.version}; the tests need Node >= 20.15`);
  return zlibCrc32(data, previous) >>> 0;
}

/** The EIF CRC as the spec states it for a well-formed file: crc32(file[0:544] ++ file[548:end]). */
export function eifCrc(file: Uint8Array, end = file.length): number {
  return zcrc32(file.subarray(548, end), zcrc32(file.subarray(0, 544)));
}

export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

export function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
}

export const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

// ---------------------------------------------------------------------------------------------
// An independent EIF assembler and walker (spec section 1).

export const T = { invalid: 0, kernel: 1, cmdline: 2, ramdisk: 3, signature: 4, metadata: 5 } as const;

export interface RawSection {
  readonly type: number;
  readonly data: Uint8Array;
  /** Section header flags (writers put 0). */
  readonly flags?: number;
  /** The section header's size field, when it should lie about the data. */
  readonly sizeField?: bigint;
}

export interface BuildOptions {
  readonly version?: number;
  readonly flags?: number;
  readonly magic?: Uint8Array;
  /** num_sections as written (default: the real count). */
  readonly numSections?: number;
  /** Replace entries of the offset/size tables (index -> value). */
  readonly offsets?: Record<number, bigint>;
  readonly sizes?: Record<number, bigint>;
  /** The CRC field: computed (default) or this value. */
  readonly crc?: number;
  /** Bytes appended after the last section, after the CRC is computed (so the CRC does not cover them). */
  readonly trailing?: Uint8Array;
}

/** Assembles an EIF: big-endian 548-byte header, 12-byte section headers, no padding, CRC at 544. */
export function buildEif(sections: readonly RawSection[], o: BuildOptions = {}): Uint8Array {
  const header = Buffer.alloc(548);
  Buffer.from(o.magic ?? [0x2e, 0x65, 0x69, 0x66]).copy(header, 0);
  header.writeUInt16BE(o.version ?? 4, 4);
  header.writeUInt16BE(o.flags ?? 0, 6);
  header.writeBigUInt64BE(1073741824n, 8);
  header.writeBigUInt64BE(2n, 16);
  header.writeUInt16BE(o.numSections ?? sections.length, 26);
  const body: Buffer[] = [];
  let at = 548;
  sections.forEach((s, i) => {
    const sh = Buffer.alloc(12);
    sh.writeUInt16BE(s.type, 0);
    sh.writeUInt16BE(s.flags ?? 0, 2);
    sh.writeBigUInt64BE(s.sizeField ?? BigInt(s.data.length), 4);
    if (i < 32) {
      header.writeBigUInt64BE(BigInt(at), 28 + 8 * i);
      header.writeBigUInt64BE(BigInt(s.data.length), 284 + 8 * i);
    }
    body.push(sh, Buffer.from(s.data));
    at += 12 + s.data.length;
  });
  for (const [i, v] of Object.entries(o.offsets ?? {})) header.writeBigUInt64BE(v, 28 + 8 * Number(i));
  for (const [i, v] of Object.entries(o.sizes ?? {})) header.writeBigUInt64BE(v, 284 + 8 * Number(i));
  const file = Buffer.concat([header, ...body]);
  const crc = o.crc ?? eifCrc(file);
  file.writeUInt32BE(crc, 544);
  return new Uint8Array(o.trailing ? Buffer.concat([file, Buffer.from(o.trailing)]) : file);
}

/** Rewrites the CRC field of `file` (in a copy) for its current bytes. */
export function withFixedCrc(file: Uint8Array, end = file.length): Uint8Array {
  const out = Buffer.from(file);
  out.writeUInt32BE(eifCrc(out, end), 544);
  return new Uint8Array(out);
}

export interface WalkedSection {
  readonly type: number;
  readonly flags: number;
  readonly headerOffset: number;
  readonly dataOffset: number;
  readonly size: number;
  readonly data: Uint8Array;
}

export interface ParsedEif {
  readonly magic: string;
  readonly version: number;
  readonly flags: number;
  readonly defaultMem: bigint;
  readonly defaultCpus: bigint;
  readonly reserved: number;
  readonly numSections: number;
  readonly offsets: bigint[];
  readonly sizes: bigint[];
  readonly unused: number;
  readonly crc: number;
  readonly sections: WalkedSection[];
  readonly walkEnd: number;
}

/** Reads the header and walks sections from byte 548 as nitro-cli does (well-formed files only). */
export function parseEif(bytes: Uint8Array): ParsedEif {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offsets: bigint[] = [];
  const sizes: bigint[] = [];
  for (let i = 0; i < 32; i++) {
    offsets.push(b.readBigUInt64BE(28 + 8 * i));
    sizes.push(b.readBigUInt64BE(284 + 8 * i));
  }
  const sections: WalkedSection[] = [];
  let pos = 548;
  while (pos + 12 <= b.length) {
    const size = Number(b.readBigUInt64BE(pos + 4));
    if (pos + 12 + size > b.length) throw new Error(`test walker: section at ${pos} runs past the end`);
    sections.push({
      type: b.readUInt16BE(pos),
      flags: b.readUInt16BE(pos + 2),
      headerOffset: pos,
      dataOffset: pos + 12,
      size,
      data: bytes.subarray(pos + 12, pos + 12 + size),
    });
    pos += 12 + size;
  }
  return {
    magic: b.subarray(0, 4).toString('latin1'),
    version: b.readUInt16BE(4),
    flags: b.readUInt16BE(6),
    defaultMem: b.readBigUInt64BE(8),
    defaultCpus: b.readBigUInt64BE(16),
    reserved: b.readUInt16BE(24),
    numSections: b.readUInt16BE(26),
    offsets,
    sizes,
    unused: b.readUInt32BE(540),
    crc: b.readUInt32BE(544),
    sections,
    walkEnd: pos,
  };
}

/** PCR0/1/2 of a walked file, per spec 3.2. */
export function expectedPcrs(sections: readonly { type: number; data: Uint8Array }[]): {
  PCR0: string;
  PCR1: string;
  PCR2: string;
} {
  const p0: Uint8Array[] = [];
  const p1: Uint8Array[] = [];
  const p2: Uint8Array[] = [];
  let ramdisks = 0;
  for (const s of sections) {
    if (s.type === T.kernel || s.type === T.cmdline) {
      p0.push(s.data);
      p1.push(s.data);
    } else if (s.type === T.ramdisk) {
      p0.push(s.data);
      (ramdisks++ === 0 ? p1 : p2).push(s.data);
    }
  }
  return { PCR0: pcrHex(...p0), PCR1: pcrHex(...p1), PCR2: pcrHex(...p2) };
}

// ---------------------------------------------------------------------------------------------
// Minimal CBOR (RFC 8949) for the signature section (spec 4.1-4.3): shortest-form heads.

export function cborHead(major: number, n: number | bigint): Uint8Array {
  const v = BigInt(n);
  const m = major << 5;
  if (v < 24n) return Uint8Array.of(m | Number(v));
  if (v < 0x100n) return Uint8Array.of(m | 24, Number(v));
  if (v < 0x10000n) return Uint8Array.of(m | 25, Number(v >> 8n), Number(v & 0xffn));
  if (v < 0x100000000n) {
    const b = Buffer.alloc(5);
    b[0] = m | 26;
    b.writeUInt32BE(Number(v), 1);
    return new Uint8Array(b);
  }
  const b = Buffer.alloc(9);
  b[0] = m | 27;
  b.writeBigUInt64BE(v, 1);
  return new Uint8Array(b);
}
export const cUint = (n: number): Uint8Array => cborHead(0, n);
export const cNeg = (n: number): Uint8Array => cborHead(1, -1 - n);
export const cBstr = (b: Uint8Array): Uint8Array => concat(cborHead(2, b.length), b);
export const cText = (s: string): Uint8Array => concat(cborHead(3, Buffer.byteLength(s)), ascii(s));
/** A Rust Vec<u8> as serde_cbor writes it: an array of uints. */
export const cUintArray = (b: Uint8Array): Uint8Array =>
  concat(cborHead(4, b.length), ...Array.from(b, (x) => cUint(x)));

export type Cbor =
  | number
  | bigint
  | Uint8Array
  | string
  | Cbor[]
  | Map<Cbor, Cbor>
  | boolean
  | null
  | undefined
  | { tag: number; value: Cbor };

/** Decodes one CBOR item (definite lengths only) that must fill `bytes`. */
export function cborDecode(bytes: Uint8Array): Cbor {
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > bytes.length) throw new Error(`CBOR: truncated at ${pos}`);
  };
  const arg = (info: number): number => {
    if (info < 24) return info;
    const len = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : -1;
    if (len < 0) throw new Error(`CBOR: unsupported additional info ${info} at ${pos}`);
    need(len);
    let v = 0;
    for (let i = 0; i < len; i++) v = v * 256 + (bytes[pos + i] as number);
    pos += len;
    return v;
  };
  const item = (): Cbor => {
    need(1);
    const ib = bytes[pos++] as number;
    const major = ib >> 5;
    const info = ib & 31;
    if (major === 7) {
      if (info === 20) return false;
      if (info === 21) return true;
      if (info === 22) return null;
      throw new Error(`CBOR: unsupported simple ${info}`);
    }
    const n = arg(info);
    switch (major) {
      case 0:
        return n;
      case 1:
        return -1 - n;
      case 2: {
        need(n);
        const out = bytes.slice(pos, pos + n);
        pos += n;
        return out;
      }
      case 3: {
        need(n);
        const out = Buffer.from(bytes.subarray(pos, pos + n)).toString('utf8');
        pos += n;
        return out;
      }
      case 4: {
        if (n > bytes.length - pos) throw new Error('CBOR: array longer than the input');
        const out: Cbor[] = [];
        for (let i = 0; i < n; i++) out.push(item());
        return out;
      }
      case 5: {
        if (n > bytes.length - pos) throw new Error('CBOR: map longer than the input');
        const out = new Map<Cbor, Cbor>();
        for (let i = 0; i < n; i++) {
          const k = item();
          out.set(k, item());
        }
        return out;
      }
      default:
        return { tag: n, value: item() };
    }
  };
  const v = item();
  if (pos !== bytes.length) throw new Error(`CBOR: ${bytes.length - pos} bytes after the item`);
  return v;
}

/** Array of uints (serde's Vec<u8>) back to bytes. */
export function uintArrayBytes(v: Cbor): Uint8Array {
  if (!Array.isArray(v)) throw new Error('not a CBOR array');
  return Uint8Array.from(v, (x) => {
    if (typeof x !== 'number' || x < 0 || x > 255) throw new Error('not a byte');
    return x;
  });
}

// ---------------------------------------------------------------------------------------------
// COSE_Sign1 and the signature section (spec 4.2, 4.3), signed with node:crypto.

export const CURVES = {
  'P-256': { nodeCurve: 'prime256v1', alg: -7, hash: 'sha256', protectedHex: 'a10126', sigLen: 64 },
  'P-384': { nodeCurve: 'secp384r1', alg: -35, hash: 'sha384', protectedHex: 'a1013822', sigLen: 96 },
  'P-521': { nodeCurve: 'secp521r1', alg: -36, hash: 'sha512', protectedHex: 'a1013823', sigLen: 132 },
} as const;
export type Curve = keyof typeof CURVES;

/** {"register_index": 0, "register_value": [PCR0 bytes as uints]}. */
export const pcr0PayloadBytes = (pcr0: Uint8Array): Uint8Array =>
  concat(Uint8Array.of(0xa2), cText('register_index'), cUint(0), cText('register_value'), cUintArray(pcr0));

export const sigStructureBytes = (protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array =>
  concat(Uint8Array.of(0x84), cText('Signature1'), cBstr(protectedBytes), cBstr(new Uint8Array(0)), cBstr(payload));

export interface CoseParts {
  readonly protectedBytes: Uint8Array;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

/** Signs `payload` with `keyPem` as ES256/384/512 (`curve` picks the algorithm and header). */
export function coseSign(
  keyPem: string,
  curve: Curve,
  payload: Uint8Array,
  protectedBytes = Buffer.from(CURVES[curve].protectedHex, 'hex'),
): CoseParts {
  const signature = nodeSign(CURVES[curve].hash, sigStructureBytes(protectedBytes, payload), {
    key: keyPem,
    dsaEncoding: 'ieee-p1363',
  });
  return { protectedBytes: new Uint8Array(protectedBytes), payload, signature: new Uint8Array(signature) };
}

export const encodeCose = (c: CoseParts): Uint8Array =>
  concat(Uint8Array.of(0x84), cBstr(c.protectedBytes), Uint8Array.of(0xa0), cBstr(c.payload), cBstr(c.signature));

export const encodeSigSection = (certFile: Uint8Array, cose: Uint8Array): Uint8Array =>
  concat(
    Uint8Array.of(0x81, 0xa2),
    cText('signing_certificate'),
    cUintArray(certFile),
    cText('signature'),
    cUintArray(cose),
  );

export interface DecodedSigSection {
  readonly certFile: Uint8Array;
  readonly coseBytes: Uint8Array;
  readonly cose: CoseParts;
  readonly unprotected: Cbor;
  readonly keys: Cbor[];
}

export function decodeSigSection(bytes: Uint8Array): DecodedSigSection {
  const v = cborDecode(bytes);
  if (!Array.isArray(v) || v.length !== 1) throw new Error('signature section: not an array of one entry');
  const entry = v[0];
  if (!(entry instanceof Map)) throw new Error('signature entry: not a map');
  const certFile = uintArrayBytes(entry.get('signing_certificate'));
  const coseBytes = uintArrayBytes(entry.get('signature'));
  const c = cborDecode(coseBytes);
  if (!Array.isArray(c) || c.length !== 4) throw new Error('COSE_Sign1: not an array(4)');
  const [p, u, pl, sg] = c;
  if (!(p instanceof Uint8Array && pl instanceof Uint8Array && sg instanceof Uint8Array))
    throw new Error('COSE_Sign1: not byte strings');
  return {
    certFile,
    coseBytes,
    cose: { protectedBytes: p, payload: pl, signature: sg },
    unprotected: u,
    keys: [...entry.keys()],
  };
}

// ---------------------------------------------------------------------------------------------
// Files, openssl and keys.

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `nitro-eif-${prefix}-`));
}

export const removeDir = (dir: string | undefined): void => {
  if (dir) rmSync(dir, { recursive: true, force: true });
};

/** Files in `dir` whose name ends with `.partial` (the atomic writer's temporaries). */
export const partialFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.partial'));

let opensslChecked = false;
/** Makes sure the openssl CLI exists; installs it with apt-get when running as root; otherwise throws (never skips). */
export function ensureOpenssl(): void {
  if (opensslChecked) return;
  const probe = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    if (process.getuid?.() === 0) {
      spawnSync('apt-get', ['update'], { stdio: 'ignore' });
      const inst = spawnSync('apt-get', ['install', '-y', 'openssl'], { stdio: 'ignore' });
      if (inst.status !== 0 || spawnSync('openssl', ['version']).status !== 0)
        throw new Error('openssl is missing and apt-get could not install it');
    } else {
      throw new Error('the openssl CLI is required by these tests and is not installed (apt-get install openssl)');
    }
  }
  opensslChecked = true;
}

export function openssl(args: string[], cwd?: string): string {
  ensureOpenssl();
  const r = spawnSync('openssl', args, { encoding: 'utf8', ...(cwd ? { cwd } : {}) });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

export interface Signer {
  readonly curve: Curve;
  readonly keyPem: string;
  readonly certPem: string;
  /** DER of the certificate, from node's X509Certificate. */
  readonly certDer: Uint8Array;
}

/** An EC key made by node:crypto and a self-signed certificate for it made by the openssl CLI. */
export function makeSigner(dir: string, curve: Curve, name: string = curve): Signer {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: CURVES[curve].nodeCurve });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const keyFile = path.join(dir, `${name}.key.pem`);
  const certFile = path.join(dir, `${name}.cert.pem`);
  writeFileSync(keyFile, keyPem);
  openssl(['req', '-x509', '-new', '-key', keyFile, '-subj', '/CN=test', '-days', '1', '-out', certFile]);
  const certPem = readFileSync(certFile, 'utf8');
  return { curve, keyPem, certPem, certDer: new Uint8Array(new X509Certificate(certPem).raw) };
}

// ---------------------------------------------------------------------------------------------
// A small DER walk (X.690), for the certificate's signature and name fields.

export interface Der {
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

export function derAt(buf: Uint8Array, pos: number): Der {
  const tag = buf[pos] as number;
  let len = buf[pos + 1] as number;
  let c = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[c + i] as number);
    c += n;
  }
  if (c + len > buf.length) throw new Error('test DER walk: item past the end');
  return { tag, start: pos, contentStart: c, end: c + len };
}

export function derKids(buf: Uint8Array, d: Der): Der[] {
  const out: Der[] = [];
  for (let p = d.contentStart; p < d.end;) {
    const k = derAt(buf, p);
    out.push(k);
    p = k.end;
  }
  return out;
}

/** The certificate's signatureValue BIT STRING contents without the unused-bits octet. */
export function certSignatureBytes(der: Uint8Array): Uint8Array {
  const [, , bits] = derKids(der, derAt(der, 0));
  if (!bits || bits.tag !== 0x03) throw new Error('no signature BIT STRING');
  return der.slice(bits.contentStart + 1, bits.end);
}

/** Base64 body of the first CERTIFICATE block, decoded by Buffer (not the engine). */
export function pemToDer(pem: string): Uint8Array {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem);
  if (!m || m[1] === undefined) throw new Error('no certificate in PEM');
  return new Uint8Array(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
}

/** The standard test metadata (spec section 5's example), compact JSON. */
export const SPEC_METADATA =
  '{"ImageName":"test","ImageVersion":"1.0",' +
  '"BuildMetadata":{"BuildTime":"1970-01-01T00:00:00+00:00","BuildTool":"eif_build","BuildToolVersion":"0.0.0",' +
  '"OperatingSystem":"OS","KernelVersion":"kernel"},"DockerInfo":null,"CustomMetadata":null}';

/** Runs `fn` and returns what it threw (fails if it did not throw). */
export async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an exception, none was thrown');
}
