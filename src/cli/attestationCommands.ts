// verify-attestation and decode-attestation: what nitro-cli lacks, over the engine's verifier.
import { open, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import {
  decodeAttestation,
  decodedToJson,
  expectedPcrsOf,
  formatJson,
  fromHex,
  nameToString,
  parseCertificate,
  reportToJson,
  toHex,
  verifyAttestation,
  type VerifyOptions,
  type VerifyReport,
} from '../engine';
import { ATTESTATION_KIND_LABELS, MAX_DOCUMENT_BYTES, timestampDate } from '../engine';
import type { VerifyHint } from '../engine';
import {
  RESIGN_LABEL,
  ResignError,
  emulatorStateDir,
  inspectEif,
  nodeAttestationCrypto,
  resignWithDevelopmentCa,
  writeAtomically,
} from '../engine/node';
import { certificatesFromFile } from '../engine';
import { UsageError, flag, optionValue, type ParsedArgs } from './args';
import { reportFailure, type FailureStyle } from './errors';
import type { CliIo, Command } from './types';

const resolve = (io: CliIo, p: string) => path.resolve(io.cwd, p);

/**
 * The most input read for one document: a 256 KiB document written as hex (twice its size), with
 * room for line breaks. Larger input is refused before it is read.
 */
export const MAX_DOCUMENT_INPUT = MAX_DOCUMENT_BYTES * 2 + 1024;

const tooLarge = (what: string, size: number | string) =>
  new Error(
    `${what} is ${size} bytes; an attestation document is at most ${MAX_DOCUMENT_BYTES} bytes ` +
      `(${MAX_DOCUMENT_INPUT} as hex or base64 text), so it was not read`,
  );

/** Reads at most `limit` + 1 bytes of an open file (a pipe or device has no size to check first). */
async function readBounded(
  file: string,
  limit: number,
  refuse: (size: number | string) => Error = (size) => tooLarge(file, size),
): Promise<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw new Error(`${file} is a folder, not a document`);
    if (info.isFile() && info.size > limit) throw refuse(info.size);
    const buffer = new Uint8Array(Math.min(limit + 1, info.isFile() ? info.size + 1 : limit + 1));
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > limit) throw refuse(`more than ${limit}`);
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

/** Reads a document from a file, or from stdin for `-`, never more than MAX_DOCUMENT_INPUT + 1 bytes. */
async function readDocument(io: CliIo, file: string): Promise<Uint8Array> {
  if (file === '-') {
    if (!io.stdin) throw new UsageError('reading the document from standard input is not possible here');
    const bytes = await io.stdin(MAX_DOCUMENT_INPUT);
    if (bytes.length > MAX_DOCUMENT_INPUT) throw tooLarge('standard input', `more than ${MAX_DOCUMENT_INPUT}`);
    return bytes;
  }
  return readBounded(resolve(io, file), MAX_DOCUMENT_INPUT);
}

/** Root certificate files are small; anything larger is not one. */
const MAX_ROOT_FILE = 1024 * 1024;

/** The CLI's words for a hint: the flag to use. */
function hintText(h: VerifyHint): string {
  switch (h.code) {
    case 'development-root':
      return (
        `${h.message.charAt(0).toUpperCase()}${h.message.slice(1)}. ` +
        `Pass it with --development-root <file> (\`nitro-dev dev-root --export <file>\` writes it).`
      );
    case 'at-document-time':
      return (
        `${h.message.charAt(0).toUpperCase()}${h.message.slice(1)}. ` +
        `To check it at its own time, add --at-document-time.`
      );
  }
}

/**
 * Expected PCRs from JSON: `{"PCR0": "…"}`, nitro-cli's `{"Measurements": {…}}` (describe-eif,
 * build-enclave), or `{"0": "…"}`. `text` is inline JSON or a path to a JSON file.
 */
export function parseExpectedPcrs(json: string, where: string): Map<number, string> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    throw new UsageError(`${where} is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof value === 'object' && value !== null && 'Measurements' in value) value = value.Measurements;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new UsageError(`${where} is not a JSON object of PCR values`);
  const out = new Map<number, string>();
  for (const [k, v] of Object.entries(value)) {
    if (k === 'HashAlgorithm') continue;
    const m = /^(?:PCR)?(\d{1,2})$/.exec(k);
    const index = m ? Number(m[1]) : NaN;
    if (!(index >= 0 && index < 32)) throw new UsageError(`${where}: "${k}" is not a PCR name (PCR0 to PCR31)`);
    if (typeof v !== 'string' || !/^([0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128})$/.test(v))
      throw new UsageError(`${where}: ${k} is not a 32, 48 or 64-byte hex value`);
    out.set(index, v.toLowerCase());
  }
  if (out.size === 0) throw new UsageError(`${where} names no PCR`);
  return out;
}

/** Whether expected-PCR JSON is nitro-cli's description of an enclave image ({"Measurements": …}). */
function isImageMeasurements(json: string): boolean {
  try {
    const value: unknown = JSON.parse(json);
    return typeof value === 'object' && value !== null && 'Measurements' in value;
  } catch {
    return false;
  }
}

/**
 * Exit statuses of verify-attestation: 0 valid, 1 invalid (or the document could not be read), 2 a
 * wrong command line, 3 unsigned (a document from QEMU's emulated NSM whose checks all pass, but
 * which nothing signed).
 */
export const VERIFY_EXIT = { valid: 0, invalid: 1, usage: 2, unsigned: 3 } as const;

/** These commands are not nitro-cli's: their failures read `nitro-dev: error: ...` (exit status 1). */
const PLAIN: FailureStyle = { report: 'plain' };

const MARK = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP' } as const;

/** The report as people read it. */
export function formatReport(r: VerifyReport, name: string): string {
  const lines: string[] = [];
  const d = r.decoded;
  lines.push(`Attestation document: ${name}${d ? ` (${d.encoding}, ${d.bytes.length} bytes)` : ''}`);
  lines.push(`Verdict: ${r.summary}`);
  for (const h of r.hints) lines.push(`Hint: ${hintText(h)}`);
  if (r.unsigned)
    lines.push(
      'Note: nothing re-signs this document unless you ask. For a development signature over these values ' +
        '(not an AWS attestation), run `nitro-dev resign-attestation --document <file> --output <new file>`.',
    );
  if (r.kind) lines.push(`Kind: ${ATTESTATION_KIND_LABELS[r.kind]}`);
  lines.push('');
  lines.push('Checks:');
  const width = Math.max(...r.checks.map((c) => c.title.length));
  for (const c of r.checks) lines.push(`  ${MARK[c.status]}  ${c.title.padEnd(width)}  ${c.reason}`);
  const doc = r.document;
  if (doc) {
    const opt = (v: typeof doc.nonce) =>
      v.state === 'present' ? (v.value.length === 0 ? '(empty)' : toHex(v.value)) : `(${v.state})`;
    lines.push('', 'Document:');
    lines.push(`  module_id   ${doc.moduleId}`);
    const time = timestampDate(doc.timestamp);
    lines.push(
      `  timestamp   ` +
        `${time ? `${time.toISOString()} (${doc.timestamp})` : `${doc.timestamp} (out of the range of dates)`}`,
    );
    lines.push(`  digest      ${doc.digest}`);
    if (doc.kind === 'nitrotpm') lines.push("  PCRs        nitrotpm_pcrs (the instance's NitroTPM)");
    if (r.unsigned) lines.push('  PCRs        unsigned values, as QEMU reported them (signed by no one)');
    const unsigned = r.unsigned ? ', unsigned value' : '';
    for (const [i, v] of doc.pcrs) {
      const cmp = r.pcrComparisons.find((p) => p.index === i);
      lines.push(
        `  PCR${String(i).padEnd(2)}       ${toHex(v)}` +
          `${cmp ? (cmp.match ? `  (matches${unsigned})` : `  (MISMATCH${unsigned})`) : ''}`,
      );
    }
    lines.push(
      `  public_key  ${opt(doc.publicKey)}`,
      `  user_data   ${opt(doc.userData)}`,
      `  nonce       ${opt(doc.nonce)}`,
    );
  }
  if (r.chain.length > 0) {
    lines.push('', 'Certificate chain (root first):');
    for (const c of r.chain) {
      lines.push(`  ${c.role.padEnd(12)} ${c.subject}`);
      lines.push(
        `  ${''.padEnd(12)} valid ${c.notBefore.toISOString()} to ${c.notAfter.toISOString()}` +
          `${c.validAtTime ? '' : '  (NOT valid at the verification time)'}`,
      );
      lines.push(`  ${''.padEnd(12)} SHA-256 ${c.sha256}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export const verifyAttestationCommand: Command = {
  name: 'verify-attestation',
  summary:
    'Verifies an attestation document: signature, certificate chain to a trusted root, PCRs, nonce ' +
    '(exit 0 valid, 1 invalid, 3 unsigned)',
  options: [
    {
      name: 'document',
      value: 'document',
      required: true,
      help: 'The document: raw CBOR, base64 or hex (- for standard input)',
    },
    {
      name: 'root',
      value: 'file',
      multiple: true,
      help:
        'Also trust the root certificate(s) in this file (PEM, several PEM certificates, or DER); ' +
        'the AWS Nitro root G1 is always trusted',
    },
    {
      name: 'development-root',
      value: 'file',
      multiple: true,
      help:
        'Also trust this development root (PEM or DER, e.g. from `nitro-dev dev-root --export`); ' +
        'documents it signs are reported as development attestation',
    },
    { name: 'at', value: 'time', help: 'Check certificate validity at this ISO 8601 time (default: now)' },
    { name: 'at-document-time', help: "Check certificate validity at the document's own timestamp" },
    { name: 'eif-path', value: 'eif-path', help: "Expect this enclave image's PCR0, PCR1, PCR2 (and PCR8 if signed)" },
    {
      name: 'pcrs',
      value: 'json',
      help: 'Expect these PCRs: a JSON file or inline JSON ({"PCR0": "…"} or nitro-cli Measurements)',
    },
    { name: 'nonce', value: 'hex', help: 'Expect this nonce' },
    { name: 'json', help: 'Print the report as JSON' },
  ],
  async run(args, io) {
    const at = optionValue(args, 'at');
    if (at !== undefined && flag(args, 'at-document-time'))
      throw new UsageError("the argument '--at <time>' cannot be used with '--at-document-time'", this);
    if (optionValue(args, 'eif-path') !== undefined && optionValue(args, 'pcrs') !== undefined)
      throw new UsageError("the argument '--eif-path <eif-path>' cannot be used with '--pcrs <json>'", this);
    const when = verificationTime(this, args, at);
    const nonce = expectedNonce(this, args);
    const file = optionValue(args, 'document') as string;
    try {
      const roots = await readTrustedRoots(io, args);
      const { expectedPcrs, expectedPcrsFrom } = await expectedPcrsOption(io, args);
      const bytes = await readDocument(io, file);
      const report = verifyAttestation(
        bytes,
        {
          roots,
          ...(when ? { at: when } : {}),
          ...(expectedPcrs ? { expectedPcrs, expectedPcrsFrom } : {}),
          ...(nonce ? { nonce } : {}),
        },
        nodeAttestationCrypto,
      );
      io.stdout(
        flag(args, 'json')
          ? formatJson(reportToJson(report))
          : formatReport(report, file === '-' ? '(standard input)' : file),
      );
      return VERIFY_EXIT[report.verdict];
    } catch (e) {
      return reportFailure(io, e, PLAIN);
    }
  },
};

/** The time certificates are checked at: `--at`'s, the document's own (`--at-document-time`), or now (undefined). */
function verificationTime(command: Command, args: ParsedArgs, at: string | undefined): VerifyOptions['at'] {
  if (at !== undefined) {
    const t = new Date(at);
    if (!/^\d{4}-\d{2}-\d{2}/.test(at) || Number.isNaN(t.getTime()))
      throw new UsageError(`--at takes an ISO 8601 time such as 2024-11-30T16:22:48Z, not "${at}"`, command);
    return t;
  }
  if (flag(args, 'at-document-time')) return 'document';
  return undefined;
}

/** The nonce `--nonce` expects (hex, with or without 0x), if given. */
function expectedNonce(command: Command, args: ParsedArgs): Uint8Array | undefined {
  const nonceHex = optionValue(args, 'nonce');
  if (nonceHex === undefined) return undefined;
  try {
    return fromHex(nonceHex.replace(/^0x/, ''));
  } catch {
    throw new UsageError(`--nonce takes hex, not "${nonceHex}"`, command);
  }
}

type TrustedRoot = { der: Uint8Array; label: string; kind: 'custom' | 'development' };

/** The roots `--root` and `--development-root` add to the trusted ones, in the order given. */
async function readTrustedRoots(io: CliIo, args: ParsedArgs): Promise<TrustedRoot[]> {
  const roots: TrustedRoot[] = [];
  for (const [option, kind] of [
    ['root', 'custom'],
    ['development-root', 'development'],
  ] as const) {
    for (const p of (args.options.get(option) as string[] | undefined) ?? []) {
      try {
        roots.push(...(await readRootFile(io, p, kind)));
      } catch (e) {
        throw new Error(`--${option} ${p}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
    }
  }
  return roots;
}

/** The root certificates of one file, each labelled with its subject. */
async function readRootFile(io: CliIo, p: string, kind: TrustedRoot['kind']): Promise<TrustedRoot[]> {
  const file = await readBounded(
    resolve(io, p),
    MAX_ROOT_FILE,
    (size) => new Error(`the file is ${size} bytes, too large for root certificates (at most ${MAX_ROOT_FILE})`),
  );
  const ders = certificatesFromFile(file);
  return ders.map((der, i) => {
    let label: string;
    try {
      label = nameToString(parseCertificate(der).subject);
    } catch (e) {
      throw new Error(
        `${ders.length > 1 ? `certificate ${i + 1} of ${ders.length}: ` : ''}` +
          `${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
    return { der, label, kind };
  });
}

/** The PCRs `--eif-path` or `--pcrs` expect, and whether they are an enclave image's. */
async function expectedPcrsOption(
  io: CliIo,
  args: ParsedArgs,
): Promise<{ expectedPcrs: Map<number, string> | undefined; expectedPcrsFrom: VerifyOptions['expectedPcrsFrom'] }> {
  const eif = optionValue(args, 'eif-path');
  const pcrs = optionValue(args, 'pcrs');
  if (eif !== undefined) {
    return {
      expectedPcrs: expectedPcrsOf((await inspectEif(resolve(io, eif))).measurements),
      expectedPcrsFrom: 'enclave-image',
    };
  }
  if (pcrs === undefined) return { expectedPcrs: undefined, expectedPcrsFrom: 'values' };
  const text = pcrs.trimStart().startsWith('{') ? pcrs : await readFile(resolve(io, pcrs), 'utf8');
  const expectedPcrs = parseExpectedPcrs(text, pcrs.trimStart().startsWith('{') ? '--pcrs' : pcrs);
  // nitro-cli's {"Measurements": …} (describe-eif, build-enclave) are an enclave image's.
  return { expectedPcrs, expectedPcrsFrom: isImageMeasurements(text) ? 'enclave-image' : 'values' };
}

export const decodeAttestationCommand: Command = {
  name: 'decode-attestation',
  summary: 'Prints an attestation document as JSON (binary fields as hex), without verifying it',
  options: [
    {
      name: 'document',
      value: 'document',
      required: true,
      help: 'The document: raw CBOR, base64 or hex (- for standard input)',
    },
  ],
  async run(args, io) {
    try {
      const decoded = decodeAttestation(await readDocument(io, optionValue(args, 'document') as string));
      io.stdout(formatJson(decodedToJson(decoded)));
      return decoded.document ? 0 : 1;
    } catch (e) {
      return reportFailure(io, e, PLAIN);
    }
  },
};

export const resignAttestationCommand: Command = {
  name: 'resign-attestation',
  summary:
    "Re-signs an unsigned document from QEMU's emulated NSM with the development CA " +
    '(a development signature, not an AWS attestation)',
  options: [
    {
      name: 'document',
      value: 'document',
      required: true,
      help: "The unsigned document from QEMU's NSM: raw CBOR, base64 or hex (- for standard input)",
    },
    {
      name: 'output',
      value: 'file',
      required: true,
      help: 'Where to write the re-signed document (raw COSE_Sign1 CBOR); never the input file',
    },
  ],
  async run(args, io) {
    const file = optionValue(args, 'document') as string;
    const output = resolve(io, optionValue(args, 'output') as string);
    if (file !== '-' && resolve(io, file) === output)
      throw new UsageError(
        '--output names the input document; the QEMU document is never altered, write the re-signed one elsewhere',
        this,
      );
    try {
      const bytes = await readDocument(io, file);
      // A signed document is refused before the development CA is loaded (or created).
      const document = await resignWithDevelopmentCa(emulatorStateDir(io.env), bytes);
      await writeAtomically(output, (write) => write(document, 0));
      io.stderr(
        `Re-signed with the development CA: ${RESIGN_LABEL}.\n` +
          `Wrote the development attestation document (${document.length} bytes) to ${output}.\n` +
          `Verify it with: nitro-dev verify-attestation --document ${output} ` +
          `--development-root <file from nitro-dev dev-root --export FILE>\n`,
      );
      return 0;
    } catch (e) {
      if (e instanceof ResignError) return reportFailure(io, new Error(`cannot re-sign: ${e.message}`), PLAIN);
      return reportFailure(io, e, PLAIN);
    }
  },
};
