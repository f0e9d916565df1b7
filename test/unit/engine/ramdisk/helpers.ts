// Helpers for the ramdisk (cpio) and OCI tar suites. Everything here is written from the format
// texts, independently of src/engine: a newc encoder following the shared EIF spec section 6.6
// word for word, a ustar/GNU/PAX header encoder following POSIX pax(1) "ustar Interchange
// Format" and the GNU tar manual, a seeded PRNG, and wrappers for the external tools (GNU cpio,
// GNU tar) that the tests use as independent readers and writers.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { TarFormatError, type TarErrorCode } from '../../../../src/engine/oci/tar';

// ---------------------------------------------------------------------------------------------
// Deterministic PRNG (mulberry32): every failure names a seed that reproduces it.

import { Prng } from '../../prng';
export { Prng };

/** Bytes that are cheap to make in bulk: a PRNG-seeded pattern (xorshift over 32-bit words). */
export function patternBytes(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
    if (i + 1 < n) out[i + 1] = (x >>> 8) & 0xff;
    if (i + 2 < n) out[i + 2] = (x >>> 16) & 0xff;
    if (i + 3 < n) out[i + 3] = x >>> 24;
  }
  return out;
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
export const buf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
export const concat = (...parts: Uint8Array[]): Buffer => Buffer.concat(parts.map(buf));

/** Splits `bytes` into chunks of random sizes in [1, max] (a fresh copy per chunk). */
export async function* chunked(bytes: Uint8Array, rng: Prng, max = 65536): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length;) {
    const n = Math.min(bytes.length - at, rng.int(1, max));
    yield bytes.slice(at, at + n);
    at += n;
  }
}

/** The error a promise rejects with (fails when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

// ---------------------------------------------------------------------------------------------
// Temporary directories and external tools.

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `nitro-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const checkedTools = new Set<string>();
/**
 * Makes sure a command exists; installs its Debian package with apt-get when running as root;
 * otherwise throws (never skips).
 */
export function ensureTool(command: string, aptPackage: string): void {
  if (checkedTools.has(command)) return;
  const probe = () => spawnSync(command, ['--version'], { encoding: 'utf8' }).status === 0;
  if (!probe()) {
    if (process.getuid?.() === 0) {
      spawnSync('apt-get', ['update'], { stdio: 'ignore' });
      const inst = spawnSync('apt-get', ['install', '-y', aptPackage], { stdio: 'ignore' });
      if (inst.status !== 0 || !probe())
        throw new Error(`${command} is missing and apt-get could not install ${aptPackage}`);
    } else {
      throw new Error(
        `the ${command} command is required by these tests and is not installed (apt-get install ${aptPackage})`,
      );
    }
  }
  checkedTools.add(command);
}

/** Runs a command; throws with its stderr when it exits non-zero. Output as a Buffer. */
export function run(
  command: string,
  args: string[],
  options: SpawnSyncOptions = {},
): { stdout: Buffer; stderr: string } {
  const r = spawnSync(command, args, {
    maxBuffer: 256 * 1024 * 1024,
    ...options,
    env: { ...process.env, LC_ALL: 'C.UTF-8', ...options.env },
  });
  if (r.error) throw r.error;
  const stderr = r.stderr ? r.stderr.toString() : '';
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${r.status}: ${stderr}`);
  return { stdout: r.stdout as Buffer, stderr };
}

/** Linux's major/minor split of a dev_t (glibc's gnu_dev_major / gnu_dev_minor). */
export const devMajor = (rdev: number): number =>
  Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
export const devMinor = (rdev: number): number => Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));

// ---------------------------------------------------------------------------------------------
// newc, exactly as the shared EIF spec (section 6.6) states it.

/** The spec's mtime for entries linuxkit creates: 2017-04-18T16:30:00Z. */
export const SPEC_MTIME = 1492533000;

export interface SpecEntry {
  readonly name: string;
  /** The full mode: permission bits | type << 12 (e.g. 0o040755 for a directory). */
  readonly mode: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly mtime?: number;
  /** File content, or for a symlink its target. */
  readonly data?: Uint8Array;
  readonly rdevmajor?: number;
  readonly rdevminor?: number;
}

/**
 * A newc archive per the spec: for each entry, "070701" + 13 eight-digit lower-case hex fields
 * (ino from 721 counting every entry, mode, uid, gid, nlink 2 for directories else 1, mtime,
 * filesize, devmajor 3, devminor 1, rdevmajor, rdevminor, namesize = name + 1, check 0), the
 * name and a NUL, zeros to a multiple of 4 from the archive start, the data, zeros to a multiple
 * of 4; then TRAILER!!! (all zero but nlink 1 and dev 3/1) and zeros to a multiple of 512.
 */
export function specNewc(entries: readonly SpecEntry[], firstIno = 721): Buffer {
  const parts: Buffer[] = [];
  let length = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    length += b.length;
  };
  const padTo = (m: number) => {
    const n = (m - (length % m)) % m;
    if (n > 0) push(Buffer.alloc(n));
  };
  const hex8 = (v: number) => v.toString(16).padStart(8, '0');
  let ino = firstIno;
  const all: SpecEntry[] = [...entries, { name: 'TRAILER!!!', mode: 0, mtime: 0 }];
  for (const e of all) {
    const name = Buffer.from(e.name, 'utf8');
    const data = e.data ? Buffer.from(e.data) : Buffer.alloc(0);
    const isDir = (e.mode & 0o170000) === 0o040000;
    const fields = [
      ino++,
      e.mode,
      e.uid ?? 0,
      e.gid ?? 0,
      isDir ? 2 : 1,
      e.mtime ?? SPEC_MTIME,
      data.length,
      3,
      1,
      e.rdevmajor ?? 0,
      e.rdevminor ?? 0,
      name.length + 1,
      0,
    ];
    push(Buffer.from('070701' + fields.map(hex8).join(''), 'latin1'));
    push(name);
    push(Buffer.alloc(1));
    padTo(4);
    push(data);
    padTo(4);
  }
  padTo(512);
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// A tar encoder (POSIX ustar layout; GNU and PAX extensions), used to build hostile archives.

export interface TarFields {
  name: string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Data size to write in the header (default: data length). */
  size?: number;
  mtime?: number;
  /**
   * Type flag character ('0' regular, '1' hard link, '2' symlink,
   * '3' char, '4' block, '5' dir, '6' fifo, 'x', 'g', 'L', 'K').
   */
  type?: string;
  linkName?: string;
  devMajor?: number;
  devMinor?: number;
  prefix?: string;
  /** 'ustar' (magic "ustar\0" version "00"), 'gnu' ("ustar " " \0") or 'v7' (no magic). */
  format?: 'ustar' | 'gnu' | 'v7';
  /** Raw replacement bytes for numeric fields, written verbatim (e.g. GNU base-256). */
  rawSize?: Uint8Array;
  /** Override the checksum (default: the correct one). */
  checksum?: number;
  /** Raw bytes for the name field (for non-UTF-8 names). */
  rawName?: Uint8Array;
}

function putString(block: Buffer, at: number, len: number, s: string | Uint8Array): void {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s);
  if (b.length > len) throw new Error(`tar test encoder: ${JSON.stringify(s)} does not fit ${len} bytes`);
  b.copy(block, at);
}

/** Octal, zero-padded to len-1 digits and NUL-terminated (the usual ustar style). */
function putOctal(block: Buffer, at: number, len: number, v: number): void {
  const s = v.toString(8).padStart(len - 1, '0');
  if (s.length > len - 1) throw new Error(`tar test encoder: ${v} does not fit ${len} bytes in octal`);
  block.write(s + '\0', at, 'latin1');
}

/** GNU base-256: 0x80 then the value big-endian in the remaining bytes. */
export function base256(value: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let v = value < 0n ? (1n << BigInt(8 * len)) + value : value;
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  out[0] = value < 0n ? 0xff : ((out[0] as number) & 0x7f) | 0x80;
  return out;
}

/** One 512-byte header block. */
export function tarHeader(f: TarFields): Buffer {
  const h = Buffer.alloc(512);
  putString(h, 0, 100, f.rawName ?? f.name);
  putOctal(h, 100, 8, f.mode ?? 0o644);
  putOctal(h, 108, 8, f.uid ?? 0);
  putOctal(h, 116, 8, f.gid ?? 0);
  if (f.rawSize) Buffer.from(f.rawSize).copy(h, 124);
  else putOctal(h, 124, 12, f.size ?? 0);
  putOctal(h, 136, 12, f.mtime ?? 1700000000);
  h.write(f.type ?? '0', 156, 'latin1');
  putString(h, 157, 100, f.linkName ?? '');
  const format = f.format ?? 'ustar';
  if (format === 'ustar') h.write('ustar\x0000', 257, 'latin1');
  else if (format === 'gnu') h.write('ustar  \x00', 257, 'latin1');
  if (format !== 'v7') {
    putString(h, 265, 32, 'root');
    putString(h, 297, 32, 'root');
    putOctal(h, 329, 8, f.devMajor ?? 0);
    putOctal(h, 337, 8, f.devMinor ?? 0);
    if (f.prefix) putString(h, 345, 155, f.prefix);
  }
  let sum = 0;
  h.fill(0x20, 148, 156);
  for (const b of h) sum += b;
  const checksum = f.checksum ?? sum;
  h.write(checksum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

const padded = (data: Uint8Array): Buffer =>
  Buffer.concat([buf(data), Buffer.alloc((512 - (data.length % 512)) % 512)]);

/** A header and its data, padded to 512. */
export function tarEntry(f: TarFields, data: Uint8Array = new Uint8Array(0)): Buffer {
  return Buffer.concat([tarHeader({ ...f, size: f.size ?? data.length }), padded(data)]);
}

/** PAX records "<len> key=value\n" (the length counts itself). */
export function paxRecords(records: ReadonlyArray<readonly [string, string]>): Buffer {
  const out: Buffer[] = [];
  for (const [k, v] of records) {
    const body = ` ${k}=${v}\n`;
    const bodyLen = Buffer.byteLength(body);
    let len = bodyLen + 1;
    while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
    out.push(Buffer.from(`${len}${body}`, 'utf8'));
  }
  return Buffer.concat(out);
}

/** A PAX extended header ('x', or 'g' for global) with its records. */
export function paxEntry(records: ReadonlyArray<readonly [string, string]>, type: 'x' | 'g' = 'x'): Buffer {
  return tarEntry({ name: type === 'x' ? 'PaxHeaders/entry' : 'GlobalHead.0', type }, paxRecords(records));
}

/** A GNU long name ('L') or long link ('K') header carrying `text` + NUL. */
export function gnuLong(text: string, type: 'L' | 'K'): Buffer {
  return tarEntry({ name: '././@LongLink', type, format: 'gnu' }, Buffer.from(`${text}\0`, 'utf8'));
}

/** The end-of-archive marker: two zero blocks. */
export const END = Buffer.alloc(1024);

/**
 * Awaits `p` and asserts it rejects with a TarFormatError of
 * `code` (at `offset`, when given) whose message names the rule.
 */
export async function expectTarError(
  p: Promise<unknown>,
  code: TarErrorCode,
  offset?: number,
): Promise<TarFormatError> {
  let error: unknown;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof TarFormatError, `expected TarFormatError ${code}, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  if (offset !== undefined) assert.equal(error.offset, offset, error.message);
  assert.match(error.message, new RegExp(`rule: ${code}\\)$`));
  return error;
}
