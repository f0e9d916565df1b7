// describe-eif, pcr and sign-eif: nitro-cli's subcommands with its flags and JSON output.
import * as path from 'node:path';
import { FileByteSource, inspectEif, nodeHashes, readPem, signEifFile } from '../engine/node';
import { firstCertificateDer, formatJson, pcrOfBytes, pcrOfSource, toHex, type EifProblem } from '../engine';
import { UsageError, optionValue } from './args';
import { CommandError, reportFailure, type FailureStyle } from './errors';
import type { CliIo, Command } from './types';

/** Writes a progress line to stderr when it is a terminal (never into the JSON on stdout). */
function progress(io: CliIo, label: string): ((done: number, total: number) => void) | undefined {
  if (!io.stderrIsTty) return undefined;
  let last = -1;
  return (done, total) => {
    const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
    if (pct === last) return;
    last = pct;
    io.stderr(`\r${label}: ${pct}%${pct === 100 ? '\r\x1b[K' : ''}`);
  };
}

/** The first Ctrl-C (or SIGTERM, SIGHUP) stops the command: it cleans up and exits 130. */
const cancellable = (io: CliIo) => (io.cancellation ? { token: io.cancellation } : {});

const READING: FailureStyle = { during: 'reading' };
const HASHING: FailureStyle = { during: 'hashing' };
const SIGNING: FailureStyle = { during: 'signing', cancelled: 'Signing cancelled; the image was left as it was.' };

function problemLines(problems: readonly EifProblem[]): string {
  return problems
    .map(
      (p) =>
        `warning: ${p.message} (at byte ${p.offset}; rule: ${p.code})` +
        `${p.severity === 'error' ? '; the hypervisor would refuse this image' : ''}\n`,
    )
    .join('');
}

const resolve = (io: CliIo, p: string) => path.resolve(io.cwd, p);

export const describeEifCommand: Command = {
  name: 'describe-eif',
  cancellable: true,
  summary: 'Returns information about the enclave image',
  options: [{ name: 'eif-path', value: 'eif-path', required: true, help: 'Path to the enclave image file' }],
  async run(args, io) {
    const file = resolve(io, optionValue(args, 'eif-path') as string);
    try {
      const onProgress = progress(io, 'Measuring');
      const inspection = await inspectEif(file, { ...cancellable(io), ...(onProgress ? { onProgress } : {}) });
      io.stderr(problemLines(inspection.layout.problems));
      if ('error' in inspection.describe) throw inspection.describe.error;
      io.stdout(formatJson(inspection.describe.json));
      return 0;
    } catch (e) {
      return reportFailure(io, e, READING);
    }
  },
};

export const pcrCommand: Command = {
  name: 'pcr',
  cancellable: true,
  summary: 'Computes the PCR value of a file, or PCR8 of a signing certificate',
  options: [
    { name: 'input', value: 'input', help: 'A file whose bytes are measured: prints {"PCR": ...}' },
    {
      name: 'signing-certificate',
      value: 'signing-certificate',
      help: 'A PEM certificate: prints {"PCR8": ...}, the PCR8 of images it signs',
    },
  ],
  async run(args, io) {
    const input = optionValue(args, 'input');
    const cert = optionValue(args, 'signing-certificate');
    if (input !== undefined && cert !== undefined) {
      throw new UsageError(
        "the argument '--input <input>' cannot be used with '--signing-certificate <signing-certificate>'",
        this,
      );
    }
    if (input === undefined && cert === undefined) {
      throw new UsageError(
        'one of the following arguments is required: --input <input>, --signing-certificate <signing-certificate>',
        this,
      );
    }
    try {
      if (cert !== undefined) {
        const der = firstCertificateDerOf(await readPem(resolve(io, cert)));
        io.stdout(formatJson({ PCR8: toHex(pcrOfBytes(nodeHashes, der)) }));
        return 0;
      }
      const source = await FileByteSource.open(resolve(io, input as string));
      try {
        const onProgress = progress(io, 'Hashing');
        io.stdout(
          formatJson({
            PCR: toHex(
              await pcrOfSource(source, nodeHashes, { ...cancellable(io), ...(onProgress ? { onProgress } : {}) }),
            ),
          }),
        );
      } finally {
        await source.close();
      }
      return 0;
    } catch (e) {
      return reportFailure(io, e, HASHING);
    }
  },
};

function firstCertificateDerOf(pem: string): Uint8Array {
  try {
    return firstCertificateDer(pem);
  } catch (e) {
    throw new CommandError(57, `the signing certificate: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export const signEifCommand: Command = {
  name: 'sign-eif',
  cancellable: true,
  summary: 'Signs an enclave image (adds or replaces its signature section, PCR8)',
  options: [
    { name: 'eif-path', value: 'eif-path', required: true, help: 'Path to the enclave image file, signed in place' },
    {
      name: 'signing-certificate',
      value: 'signing-certificate',
      required: true,
      help: 'PEM certificate of the signing key',
    },
    {
      name: 'private-key',
      value: 'private-key',
      required: true,
      help: 'PEM EC private key (P-256, P-384 or P-521) matching the certificate',
    },
  ],
  async run(args, io) {
    const file = resolve(io, optionValue(args, 'eif-path') as string);
    try {
      const [certificatePem, privateKeyPem] = await Promise.all([
        readPem(resolve(io, optionValue(args, 'signing-certificate') as string)),
        readPem(resolve(io, optionValue(args, 'private-key') as string)),
      ]);
      const onProgress = progress(io, 'Signing');
      const result = await signEifFile(file, {
        certificatePem,
        privateKeyPem,
        ...cancellable(io),
        ...(onProgress ? { onProgress } : {}),
      });
      io.stderr('Enclave Image successfully signed.\n');
      io.stdout(formatJson({ Measurements: result.measurements }));
      return 0;
    } catch (e) {
      return reportFailure(io, e, SIGNING);
    }
  },
};
