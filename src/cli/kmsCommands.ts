// nitro-dev kms: the key-policy assistant (generate a key policy from an image, lint one, dry-run
// one against an attestation document) and `kms serve`, the local KMS endpoint in the foreground.
// nitro-cli has no such command, so failures read
// `nitro-dev: error: ...` (the PLAIN style of verify-attestation).
import { open } from 'node:fs/promises';
import * as path from 'node:path';
import {
  ACCOUNT_PLACEHOLDER,
  KeyPolicyInputError,
  MAX_DOCUMENT_BYTES,
  MAX_POLICY_TEXT,
  PolicyJsonError,
  decodeAttestation,
  evaluateKeyPolicy,
  formatJson,
  hasDevelopmentRoots,
  keyPolicyFor,
  lintKeyPolicy,
  parsePolicyJson,
  type DevelopmentRoots,
  type KeyPolicyFinding,
} from '../engine';
import { emulatorStateDir, inspectEif, nodeHashes, startKmsServer } from '../engine/node';
import { backendFor } from './enclaveCommands';
import { UsageError, flag, optionValue, type CommandSpec, type ParsedArgs } from './args';
import { reportFailure, type FailureStyle } from './errors';
import type { CliIo, Command } from './types';

const PLAIN: FailureStyle = { report: 'plain' };
const resolve = (io: CliIo, p: string) => path.resolve(io.cwd, p);

/** Reads a file of at most `limit` bytes; larger files are refused before they are read. */
async function readSmallFile(file: string, limit: number, what: string): Promise<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw new Error(`${file} is a folder, not ${what}`);
    const buffer = new Uint8Array(limit + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > limit)
      throw new Error(`${file} is larger than ${limit} bytes, too large for ${what}, so it was not read`);
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

const readPolicyText = async (io: CliIo, file: string): Promise<string> =>
  new TextDecoder().decode(await readSmallFile(resolve(io, file), MAX_POLICY_TEXT, 'a key policy'));

interface Action {
  readonly spec: CommandSpec;
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

const POLICY: Action = {
  spec: {
    name: 'kms policy',
    summary: 'Prints a KMS key policy that releases the key only to an enclave running the image (its PCRs)',
    options: [
      {
        name: 'eif-path',
        value: 'eif-path',
        required: true,
        help: 'The enclave image whose PCR0, 1, 2 (and 8) to pin',
      },
      { name: 'role-arn', value: 'ARN', help: "The parent instance's IAM role: the principal, and PCR3" },
      { name: 'account', value: 'ID', help: "The key's 12-digit account (default: the role ARN's)" },
      {
        name: 'operation',
        value: 'OP',
        multiple: true,
        help:
          'policy: an operation to allow, repeatable (default Decrypt, GenerateDataKey, GenerateRandom); ' +
          'dry-run: the operation tried (default Decrypt)',
      },
    ],
  },
  async run(args, io) {
    const file = resolve(io, optionValue(args, 'eif-path') as string);
    const roleArn = optionValue(args, 'role-arn');
    const account = optionValue(args, 'account');
    const ops = args.options.get('operation');
    try {
      const inspection = await inspectEif(file, io.cancellation ? { token: io.cancellation } : {});
      if ('error' in inspection.describe) throw inspection.describe.error;
      const m = inspection.describe.json.Measurements;
      let policy;
      try {
        policy = keyPolicyFor({
          measurements: { PCR0: m.PCR0, PCR1: m.PCR1, PCR2: m.PCR2, ...(m.PCR8 ? { PCR8: m.PCR8 } : {}) },
          ...(roleArn !== undefined ? { roleArn } : {}),
          ...(account !== undefined ? { account } : {}),
          ...(Array.isArray(ops) ? { operations: ops } : {}),
          hashes: nodeHashes,
        });
      } catch (e) {
        if (e instanceof KeyPolicyInputError) throw new UsageError(e.message, POLICY.spec);
        throw e;
      }
      io.stdout(formatJson(policy));
      if (roleArn === undefined && account === undefined)
        io.stderr(`note: replace ${ACCOUNT_PLACEHOLDER} with the key's account ID (or pass --account or --role-arn)\n`);
      return 0;
    } catch (e) {
      return reportFailure(io, e, PLAIN);
    }
  },
};

function findingLine(file: string, f: KeyPolicyFinding): string {
  const where = f.line !== undefined ? `${file}:${f.line}:${f.column}` : file;
  return `${where}: ${f.severity}: ${f.message} [${f.rule}]\n    at ${f.path}\n`;
}

const LINT: Action = {
  spec: {
    name: 'kms lint',
    summary: 'Checks a KMS key policy for attestation mistakes (exit 0 clean, 1 with findings)',
    options: [{ name: 'json', help: 'Print the result as JSON' }],
    positionals: ['FILE'],
    requiredPositionals: 1,
  },
  async run(args, io) {
    const file = args.positionals[1];
    if (file === undefined) throw new UsageError('the policy FILE is required', LINT.spec);
    try {
      const findings = lintKeyPolicy(await readPolicyText(io, file));
      if (flag(args, 'json')) io.stdout(formatJson({ file, findings }));
      else {
        for (const f of findings) io.stdout(findingLine(file, f));
        const errors = findings.filter((f) => f.severity === 'error').length;
        io.stdout(
          findings.length === 0
            ? `${file}: no findings\n`
            : `${file}: ${errors} error(s), ${findings.length - errors} warning(s)\n`,
        );
      }
      return findings.length === 0 ? 0 : 1;
    } catch (e) {
      return reportFailure(io, e, PLAIN);
    }
  },
};

/** A document as hex or base64 text is up to twice its size. */
const MAX_DOCUMENT_INPUT = MAX_DOCUMENT_BYTES * 2 + 1024;

const DRY_RUN: Action = {
  spec: {
    name: 'kms dry-run',
    summary: 'Would KMS release the key? A key policy against an attestation document (exit 0 allow, 1 deny)',
    options: [
      { name: 'policy', value: 'FILE', required: true, help: 'The key policy (JSON)' },
      {
        name: 'document',
        value: 'FILE',
        help:
          'The attestation document sent as Recipient (raw CBOR, base64 or hex); ' +
          'without it: a request with no Recipient',
      },
      { name: 'principal', value: 'ARN', help: "The caller's ARN (default: not checked)" },
      { name: 'operation', value: 'OP', help: 'The KMS operation (default Decrypt)' },
      { name: 'json', help: 'Print the result as JSON' },
    ],
  },
  async run(args, io) {
    const operation = optionValue(args, 'operation') ?? 'Decrypt';
    if (!/^(kms:)?[A-Z][A-Za-z]{1,63}$/.test(operation))
      throw new UsageError(
        `--operation must be a KMS operation name such as Decrypt, got '${operation}'`,
        DRY_RUN.spec,
      );
    const principal = optionValue(args, 'principal');
    try {
      const policyFile = optionValue(args, 'policy') as string;
      let policy: unknown;
      try {
        policy = parsePolicyJson(await readPolicyText(io, policyFile)).value;
      } catch (e) {
        if (e instanceof PolicyJsonError)
          throw new Error(`${policyFile}:${e.position.line}:${e.position.column}: not JSON: ${e.message}`, {
            cause: e,
          });
        throw e;
      }
      const docFile = optionValue(args, 'document');
      let document;
      if (docFile !== undefined) {
        const decoded = decodeAttestation(
          await readSmallFile(resolve(io, docFile), MAX_DOCUMENT_INPUT, 'an attestation document'),
        );
        if (!decoded.document)
          throw new Error(
            `${docFile} is not a readable attestation document: ${decoded.problems.map((p) => p.message).join('; ')}`,
          );
        document = decoded.document;
      }
      const result = evaluateKeyPolicy(policy, {
        operation,
        document,
        ...(principal !== undefined ? { principal } : {}),
      });
      if (flag(args, 'json')) io.stdout(formatJson(result));
      else {
        const lines = [`Decision: ${result.decision.toUpperCase()} (kms:${operation.replace(/^kms:/, '')})`];
        for (const r of result.reasons) lines.push(`  - ${r}`);
        for (const n of result.notes) lines.push(`  note: ${n}`);
        lines.push('', result.scope);
        io.stdout(`${lines.join('\n')}\n`);
      }
      return result.decision === 'allow' ? 0 : 1;
    } catch (e) {
      return reportFailure(io, e, PLAIN);
    }
  },
};

const SERVE: Action = {
  spec: {
    name: 'kms serve',
    summary:
      'Runs a local KMS endpoint (AWS KMS JSON protocol) on 127.0.0.1 until Ctrl-C, with keys in the state folder',
    options: [{ name: 'port', value: 'P', help: 'The TCP port on 127.0.0.1 (default: any free port)' }],
  },
  async run(args, io) {
    const portText = optionValue(args, 'port');
    const port = portText === undefined ? 0 : Number(portText);
    if (portText !== undefined && (!/^\d{1,5}$/.test(portText) || port > 65535))
      throw new UsageError(`--port takes a TCP port number (0 to 65535), not '${portText}'`, SERVE.spec);
    try {
      const stateDir = emulatorStateDir(io.env);
      let source: DevelopmentRoots | undefined;
      try {
        source = backendFor(io).capable(hasDevelopmentRoots)[0];
      } catch (e) {
        io.stderr(`note: no development root is trusted (${e instanceof Error ? e.message : String(e)})\n`);
      }
      const server = await startKmsServer({
        stateDir,
        port,
        // The emulator's development roots, asked for each Recipient request (the root is made on first use).
        developmentRoots: async () => (source ? await source.developmentRoots() : []),
        log: (line) => io.stdout(`${line}\n`),
      });
      io.stdout(
        `Local KMS listening on ${server.url} (keys in ${server.keyFile})\n` +
          `Point an AWS SDK at it: AWS_ENDPOINT_URL_KMS=${server.url} ` +
          '(any access key; the region comes from the SDK)\n',
      );
      await new Promise<void>((resolve) => {
        if (io.cancellation?.isCancellationRequested) return resolve();
        io.cancellation?.onCancellationRequested(() => resolve());
      });
      await server.close();
      io.stdout('Local KMS stopped\n');
      return 130;
    } catch (e) {
      return reportFailure(io, e, PLAIN);
    }
  },
};

const ACTIONS: Readonly<Record<string, Action>> = { policy: POLICY, lint: LINT, 'dry-run': DRY_RUN, serve: SERVE };

/**
 * Every option of every action: the parser reads them all, each action then refuses the others'.
 * The help names the actions an option belongs to.
 */
const ALL_OPTIONS = (() => {
  const byName = new Map<string, { option: CommandSpec['options'][number]; actions: string[] }>();
  for (const [name, a] of Object.entries(ACTIONS))
    for (const o of a.spec.options) {
      const known = byName.get(o.name);
      if (known) known.actions.push(name);
      else byName.set(o.name, { option: { ...o, required: false }, actions: [name] });
    }
  return [...byName.values()].map(({ option, actions }) => ({
    ...option,
    help: `${option.help} [${actions.join(', ')}]`,
  }));
})();

export const kmsCommand: Command = {
  name: 'kms',
  cancellable: true,
  summary:
    'KMS key-policy assistant: `kms policy --eif-path F` (generate), `kms lint FILE`, ' +
    '`kms dry-run --policy F --document D` (would KMS release the key?); ' +
    '`kms serve [--port P]` (a local KMS endpoint on 127.0.0.1)',
  options: ALL_OPTIONS,
  positionals: ['ACTION', 'FILE'],
  requiredPositionals: 1,
  async run(args, io) {
    const name = args.positionals[0] as string;
    const action = ACTIONS[name];
    if (!action)
      throw new UsageError(`unknown kms action '${name}'; the actions are ${Object.keys(ACTIONS).join(', ')}`, this);
    const own = new Set(action.spec.options.map((o) => o.name));
    for (const given of args.options.keys())
      if (!own.has(given))
        throw new UsageError(`unexpected argument '--${given}' for '${action.spec.name}'`, action.spec);
    for (const o of action.spec.options)
      if (o.required && !args.options.has(o.name))
        throw new UsageError(`the following required argument was not provided: --${o.name} <${o.value}>`, action.spec);
    const wanted = (action.spec.positionals?.length ?? 0) + 1;
    if (args.positionals.length > wanted)
      throw new UsageError(`unexpected argument '${args.positionals[wanted]}'`, action.spec);
    return action.run(args, io);
  },
};
