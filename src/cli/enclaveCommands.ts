// run-enclave, describe-enclaves, terminate-enclave and console: nitro-cli's subcommands with its
// flags, JSON, messages and error codes, running enclaves on the embedded emulator's parents, or
// with `--host H` through nitro-cli on a parent instance reached over ssh.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { formatJson } from '../engine';
import { PARENT_ID_PATTERN, parseCommandLine, parseMemoryArgument, parseUnsignedArgument } from '../engine';
import { BackendError, type EnclaveOperations, type RunEnclaveRequest } from '../engine';
import { canRepairState, runConfigRequest, type RunConfig } from '../engine';
import { ENCLAVE_HOST_SUBCOMMAND } from '../engine/node';
import { readKeptConsole, runEnclaveHost } from '../engine/node';
import { createBackendRegistry, type BackendRegistry } from '../engine/node';
import { NitroCliBackend } from '../engine/node';
import { UsageError, flag, optionValue, type ParsedArgs } from './args';
import type { CliIo, Command } from './types';
import { reportFailure } from './errors';
import { HOST_OPTIONS, hostOption, sshOptionsOf } from './hostOptions';

/** Every backend of this machine (the embedded emulator, its state folder from io.env), through one registry. */
export function backendFor(io: CliIo): BackendRegistry {
  const backends = createBackendRegistry({ env: io.env, watch: false });
  const [unavailable] = backends.unavailable;
  if (unavailable) throw new BackendError(0, `Unspecified error. ${unavailable.reason}`);
  return backends;
}

/** The id of the parent `--parent` names (its id or name), else the first parent of the first backend. */
export async function parentId(
  io: CliIo,
  args: ParsedArgs,
  backends: BackendRegistry = backendFor(io),
): Promise<string> {
  const asked = optionValue(args, 'parent');
  const parents = await backends.listParents();
  if (asked === undefined) {
    const first = parents[0];
    if (!first) throw new BackendError(3, 'Invalid argument provided. There is no parent instance');
    return first.id;
  }
  const p = parents.find((x) => x.id === asked) ?? parents.find((x) => x.name === asked);
  if (!p)
    throw new BackendError(
      3,
      `Invalid argument provided. There is no parent instance '${asked}' ` +
        `(known: ${parents.map((x) => x.id).join(', ')})`,
    );
  return p.id;
}

export const PARENT_OPTION = {
  name: 'parent',
  value: 'ID',
  help: 'The parent instance (its id or name); default: the first one',
} as const;

/** The backend and parent a command works on: nitro-cli on --host over ssh, else --parent of this machine's. */
export async function selectParent(
  io: CliIo,
  args: ParsedArgs,
): Promise<{ readonly backend: EnclaveOperations; readonly parent: string }> {
  const host = optionValue(args, 'host');
  if (host === undefined) {
    const backend = backendFor(io);
    return { backend, parent: await parentId(io, args, backend) };
  }
  const backend = new NitroCliBackend(
    { kind: 'ssh', host, nitroCliPath: 'nitro-cli' },
    { ssh: sshOptionsOf(io, args), env: io.env },
  );
  return { backend, parent: backend.parentId };
}

/**
 * Splits `--app` into a command and its arguments by the engine's rules (parseCommandLine: white
 * space separates, single or double quotes group); throws on an unclosed quote.
 */
export function splitCommandLine(text: string): string[] {
  const parsed = parseCommandLine(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return [...parsed.words];
}

function readConfig(io: CliIo, file: string): RunConfig {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path.resolve(io.cwd, file), 'utf8'));
  } catch (e) {
    const errno = e as NodeJS.ErrnoException;
    if (errno.code) throw new BackendError(19, `File operation failure. ${file}: ${errno.message}`);
    throw new BackendError(17, `Serialization error. ${file} is not valid JSON: ${(e as Error).message}`);
  }
  return runConfigRequest(value, file, (p) => path.resolve(io.cwd, p));
}

const RUN_FLAGS = [
  'eif-path',
  'memory',
  'cpu-count',
  'cpu-ids',
  'enclave-cid',
  'debug-mode',
  'attach-console',
  'enclave-name',
];

async function streamConsole(
  io: CliIo,
  backend: EnclaveOperations,
  parent: string,
  enclaveId: string,
  cid: number,
  timeoutSeconds?: number,
  keptIfEnded = false,
): Promise<void> {
  let stream: Awaited<ReturnType<EnclaveOperations['openConsole']>>;
  try {
    stream = await backend.openConsole(parent, enclaveId);
  } catch (e) {
    if (keptIfEnded && (await showKeptConsole(io, backend, parent, enclaveId, cid))) return;
    throw e;
  }
  io.stdout(`Connecting to the console for enclave ${cid}...\nSuccessfully connected to the console.\n`);
  const decoder = new TextDecoder();
  const timer = timeoutSeconds !== undefined ? setTimeout(() => stream.dispose(), timeoutSeconds * 1000) : undefined;
  const cancel = io.cancellation?.onCancellationRequested(() => stream.dispose());
  try {
    for await (const chunk of stream.chunks) io.stdout(decoder.decode(chunk, { stream: true }));
  } finally {
    if (timer) clearTimeout(timer);
    cancel?.dispose();
    stream.dispose();
  }
}

/**
 * `run-enclave --attach-console` of an emulated enclave that ended before its console was reached
 * (an attached application that exits at once): its kept console log, and true. False when the
 * enclave still runs or its backend keeps no log.
 */
async function showKeptConsole(
  io: CliIo,
  backend: EnclaveOperations,
  parent: string,
  enclaveId: string,
  cid: number,
): Promise<boolean> {
  const registry = backend as Partial<BackendRegistry>;
  if (typeof registry.capabilityOf !== 'function') return false;
  const keeper = await registry.capabilityOf(parent, canRepairState).catch(() => undefined);
  if (!keeper) return false;
  if ((await backend.describeEnclaves(parent)).some((e) => e.EnclaveID === enclaveId)) return false;
  const kept = readKeptConsole(keeper.stateDir, parent, enclaveId);
  if (!kept) return false;
  io.stdout(`Connecting to the console for enclave ${cid}...\n`);
  if (kept.skipped > 0) io.stdout(`[… the first ${kept.skipped} bytes of the log are left out]\n`);
  io.stdout(new TextDecoder().decode(kept.bytes));
  io.stderr(
    `The enclave ${enclaveId} has ended before its console was reached: above is its console log (${kept.path}).\n`,
  );
  return true;
}

export const runEnclaveCommand: Command = {
  name: 'run-enclave',
  cancellable: true,
  summary: 'Starts a new enclave (the embedded emulator: no kernel boots; a QEMU parent: the image boots)',
  options: [
    { name: 'eif-path', value: 'EIF_PATH', help: 'Path to the enclave image file' },
    { name: 'memory', value: 'MEMORY', help: 'Memory to allocate, in MiB (M), or with G or T' },
    { name: 'cpu-count', value: 'CPU_COUNT', help: 'Number of vCPUs (whole cores: an even number)' },
    {
      name: 'cpu-ids',
      value: 'CPU_IDS',
      multiple: true,
      values: true,
      help: 'vCPU ids from the enclave pool (space-separated values, or repeat the flag)',
    },
    {
      name: 'enclave-cid',
      value: 'ENCLAVE_CID',
      help: 'The enclave vsock CID (4 to 4294967294; 0 or absent: the next free one from 16)',
    },
    { name: 'debug-mode', help: 'Starts the enclave in debug mode (console available; PCRs read as zeros)' },
    { name: 'attach-console', help: 'Attaches the console after starting the enclave (implies --debug-mode)' },
    { name: 'enclave-name', value: 'ENCLAVE_NAME', help: 'Name of the enclave (default: the image file name)' },
    {
      name: 'config',
      value: 'CONFIG',
      help: 'A JSON file with the arguments (eif_path, memory_mib, cpu_count or cpu_ids, ...); alone',
    },
    PARENT_OPTION,
    ...HOST_OPTIONS,
    {
      name: 'app',
      value: 'CMD',
      help: 'Emulator only: a command started as the enclave application; its exit ends the enclave',
    },
  ],
  async run(args, io) {
    hostOption(this, args, ['parent']);
    const config = optionValue(args, 'config');
    if (config !== undefined) {
      const other = RUN_FLAGS.find((f) => args.options.has(f));
      if (other) throw new UsageError(`the argument '--config <CONFIG>' cannot be used with '--${other}'`, this);
    } else {
      for (const required of ['eif-path', 'memory']) {
        if (!args.options.has(required))
          throw new UsageError(`the following required argument was not provided: --${required}`, this);
      }
      if (args.options.has('cpu-count') && args.options.has('cpu-ids'))
        throw new UsageError(
          "the argument '--cpu-count <CPU_COUNT>' cannot be used with '--cpu-ids <CPU_IDS>...'",
          this,
        );
      if (!args.options.has('cpu-count') && !args.options.has('cpu-ids'))
        throw new UsageError(
          'one of the following arguments is required: --cpu-count <CPU_COUNT>, --cpu-ids <CPU_IDS>...',
          this,
        );
    }
    try {
      let request: RunEnclaveRequest;
      let attach: boolean;
      if (config !== undefined) {
        ({ request, attachConsole: attach } = readConfig(io, config));
      } else {
        attach = flag(args, 'attach-console');
        const memoryMiB = parseMemoryArgument(optionValue(args, 'memory') as string);
        const cidText = optionValue(args, 'enclave-cid');
        const cpuIdTexts = ((args.options.get('cpu-ids') as readonly string[] | undefined) ?? []).flatMap((v) =>
          v.split(/[\s,]+/).filter(Boolean),
        );
        const cpuCountText = optionValue(args, 'cpu-count');
        const name = optionValue(args, 'enclave-name');
        request = {
          eifPath: path.resolve(io.cwd, optionValue(args, 'eif-path') as string),
          memoryMiB,
          ...(cpuCountText !== undefined ? { cpuCount: parseUnsignedArgument('--cpu-count', cpuCountText) } : {}),
          ...(args.options.has('cpu-ids')
            ? { cpuIds: cpuIdTexts.map((t) => parseUnsignedArgument('--cpu-ids', t)) }
            : {}),
          ...(cidText !== undefined ? { enclaveCid: parseUnsignedArgument('--enclave-cid', cidText) } : {}),
          debugMode: flag(args, 'debug-mode') || attach,
          ...(name !== undefined ? { enclaveName: name } : {}),
        };
        if (cidText !== undefined && request.enclaveCid === 0) io.stderr('The enclave CID will be auto-generated.\n');
      }
      const appText = optionValue(args, 'app');
      if (appText !== undefined) {
        const parsed = parseCommandLine(appText);
        if (!parsed.ok) throw new UsageError(`'--app <CMD>': ${parsed.reason}`, this);
        const [command, ...appArgs] = parsed.words;
        if (!command) throw new UsageError("a command is required for '--app <CMD>'", this);
        request = { ...request, app: { command, args: appArgs, cwd: io.cwd } };
      }
      const { backend, parent } = await selectParent(io, args);
      io.stderr('Start allocating memory...\n');
      const result = await backend.runEnclave(
        parent,
        request,
        io.cancellation ? { cancellation: io.cancellation } : {},
      );
      io.stderr(
        `Started enclave with enclave-cid: ${result.EnclaveCID}, memory: ${result.MemoryMiB} MiB, ` +
          `cpu-ids: [${result.CPUIDs.join(', ')}]\n`,
      );
      io.stdout(formatJson(result));
      if (attach) await streamConsole(io, backend, parent, result.EnclaveID, result.EnclaveCID, undefined, true);
      return 0;
    } catch (e) {
      return reportFailure(io, e);
    }
  },
};

export const describeEnclavesCommand: Command = {
  name: 'describe-enclaves',
  summary: 'Returns a list of the running enclaves',
  options: [
    { name: 'metadata', help: 'Adds the image metadata (ImageName, ImageVersion, Metadata)' },
    PARENT_OPTION,
    ...HOST_OPTIONS,
  ],
  async run(args, io) {
    hostOption(this, args, ['parent']);
    try {
      const { backend, parent } = await selectParent(io, args);
      io.stdout(formatJson(await backend.describeEnclaves(parent, { metadata: flag(args, 'metadata') })));
      return 0;
    } catch (e) {
      return reportFailure(io, e);
    }
  },
};

/** The id of the one running enclave named `name` (E58 if none or several). */
export async function idOfName(backend: EnclaveOperations, parent: string, name: string): Promise<string> {
  const matches = (await backend.describeEnclaves(parent)).filter((e) => e.EnclaveName === name);
  if (matches.length === 0) throw new BackendError(58, `Enclave naming error. No running enclave is named '${name}'`);
  if (matches.length > 1)
    throw new BackendError(58, `Enclave naming error. ${matches.length} running enclaves are named '${name}'`);
  return (matches[0] as { EnclaveID: string }).EnclaveID;
}

/** Which of the options `names` was given (a usage error unless exactly one). */
export function exactlyOne(command: Command, args: ParsedArgs, names: readonly string[]): string {
  const given = names.filter((n) => args.options.has(n));
  if (given.length === 0)
    throw new UsageError(
      `one of the following arguments is required: ${names.map((n) => `--${n}`).join(', ')}`,
      command,
    );
  if (given.length > 1)
    throw new UsageError(`the argument '--${given[0]}' cannot be used with '--${given[1]}'`, command);
  return given[0] as string;
}

/** --enclave-id or --enclave-name, exactly one of them, as terminate-enclave, console, nsm and attest take them. */
export const ENCLAVE_OPTIONS = [
  { name: 'enclave-id', value: 'ENCLAVE_ID', help: 'The enclave ID' },
  { name: 'enclave-name', value: 'ENCLAVE_NAME', help: 'The enclave name' },
] as const;

/** Refuses other than exactly one of --enclave-id and --enclave-name (a usage error). */
export function exactlyOneEnclave(command: Command, args: ParsedArgs): void {
  exactlyOne(
    command,
    args,
    ENCLAVE_OPTIONS.map((o) => o.name),
  );
}

/** The enclave id of --enclave-id, or of the one running enclave named by --enclave-name (E58 if none or several). */
export async function enclaveIdOf(args: ParsedArgs, backend: EnclaveOperations, parent: string): Promise<string> {
  const id = optionValue(args, 'enclave-id');
  return id !== undefined ? id : idOfName(backend, parent, optionValue(args, 'enclave-name') as string);
}

export const terminateEnclaveCommand: Command = {
  name: 'terminate-enclave',
  summary: 'Terminates an enclave, or all of them',
  options: [
    ...ENCLAVE_OPTIONS,
    {
      name: 'all',
      help: 'Terminates all running enclaves of the parent (of every parent, when the state folder is damaged)',
    },
    PARENT_OPTION,
    ...HOST_OPTIONS,
  ],
  async run(args, io) {
    const which = exactlyOne(this, args, ['enclave-id', 'enclave-name', 'all']);
    hostOption(this, args, ['parent']);
    try {
      if (args.options.has('host')) {
        const { backend, parent } = await selectParent(io, args);
        const ids =
          which === 'all'
            ? (await backend.describeEnclaves(parent)).map((e) => e.EnclaveID)
            : [await enclaveIdOf(args, backend, parent)];
        const results = [];
        for (const id of ids) {
          const r = await backend.terminateEnclave(parent, id);
          io.stderr(`Successfully terminated enclave ${r.EnclaveID}.\n`);
          results.push(r);
        }
        io.stdout(formatJson(which === 'all' ? results : results[0]));
        return 0;
      }
      const backend = backendFor(io);
      if (which === 'all') {
        let results;
        try {
          const parent = await parentId(io, args);
          results = [];
          for (const e of await backend.describeEnclaves(parent))
            results.push(await backend.terminateEnclave(parent, e.EnclaveID));
        } catch (e) {
          // A damaged state file must not strand running enclaves: find their hosts by their sockets.
          const asked = optionValue(args, 'parent');
          const damaged = backend.capable(canRepairState).find((b) => b.isStateDamage(e));
          if (!damaged || !(e instanceof Error) || (asked !== undefined && !PARENT_ID_PATTERN.test(asked))) throw e;
          io.stderr(
            `${e.message}.\nStopping every enclave host found in ${damaged.stateDir}` +
              `${asked !== undefined ? ` for parent ${asked}` : ''}.\n`,
          );
          results = await damaged.terminateAllHosts(asked);
        }
        for (const r of results) io.stderr(`Successfully terminated enclave ${r.EnclaveID}.\n`);
        io.stdout(formatJson(results));
        return 0;
      }
      const parent = await parentId(io, args);
      const r = await backend.terminateEnclave(parent, await enclaveIdOf(args, backend, parent));
      io.stderr(`Successfully terminated enclave ${r.EnclaveID}.\n`);
      io.stdout(formatJson(r));
      return 0;
    } catch (e) {
      return reportFailure(io, e);
    }
  },
};

export const consoleCommand: Command = {
  name: 'console',
  cancellable: true,
  summary: "Connects to an enclave's console (debug-mode enclaves only)",
  options: [
    ...ENCLAVE_OPTIONS,
    { name: 'disconnect-timeout', value: 'SECONDS', help: 'Disconnects after this many seconds' },
    PARENT_OPTION,
    ...HOST_OPTIONS,
  ],
  async run(args, io) {
    exactlyOneEnclave(this, args);
    hostOption(this, args, ['parent']);
    try {
      const timeoutText = optionValue(args, 'disconnect-timeout');
      const timeout =
        timeoutText === undefined ? undefined : parseUnsignedArgument('--disconnect-timeout', timeoutText);
      const { backend, parent } = await selectParent(io, args);
      const id = await enclaveIdOf(args, backend, parent);
      const found = (await backend.describeEnclaves(parent)).find((e) => e.EnclaveID === id);
      if (!found) throw new BackendError(44, `Console connection failure. No running enclave has the id ${id}`);
      await streamConsole(io, backend, parent, id, found.EnclaveCID, timeout);
      return 0;
    } catch (e) {
      return reportFailure(io, e);
    }
  },
};

export const repairStateCommand: Command = {
  name: 'repair-state',
  summary:
    'Emulator: moves damaged state files aside (kept as <file>.damaged-<time>) and rebuilds parents.json ' +
    'and enclave records from the state folder and the running enclaves',
  options: [],
  async run(_args, io) {
    try {
      const target = backendFor(io).capable(canRepairState)[0];
      if (!target) throw new BackendError(0, 'Unspecified error. No backend keeps state files to repair');
      const report = await target.repairState();
      const DEFAULT_PARENT = target.recoveredParentSize;
      for (const m of report.movedAside) io.stderr(`Moved ${m.file} aside to ${m.keptAs}: ${m.problem}.\n`);
      for (const id of report.recoveredEnclaves)
        io.stderr(`Rewrote the record of enclave ${id} from its running host.\n`);
      for (const id of report.recoveredParents)
        io.stderr(
          `Recovered parent ${id} with the default size (${DEFAULT_PARENT.vcpus} vCPUs, ` +
            `${DEFAULT_PARENT.memoryMiB} MiB); edit parents.json if it was different.\n`,
        );
      if (report.movedAside.length === 0 && report.recoveredParents.length === 0)
        io.stderr(`The state folder ${report.stateDir} has no damaged files.\n`);
      io.stdout(
        formatJson({
          StateDir: report.stateDir,
          MovedAside: report.movedAside.map((m) => ({ File: m.file, KeptAs: m.keptAs, Problem: m.problem })),
          RecoveredParents: report.recoveredParents,
          RecoveredEnclaves: report.recoveredEnclaves,
        }),
      );
      return 0;
    } catch (e) {
      return reportFailure(io, e);
    }
  },
};

/**
 * The hidden host subcommand; in the command list only when this process was started as a host, so
 * `--help` never shows it.
 */
export const enclaveHostCommand: Command = {
  name: ENCLAVE_HOST_SUBCOMMAND,
  summary: 'Internal: runs the background process of one emulated enclave',
  options: [],
  positionals: ['RECORD'],
  requiredPositionals: 1,
  async run(args, io) {
    const code = await runEnclaveHost(path.resolve(io.cwd, args.positionals[0] as string), { env: io.env });
    process.exit(code);
  },
};

const startedAsHost = typeof process !== 'undefined' && process.argv[2] === ENCLAVE_HOST_SUBCOMMAND;

/** The enclave subcommands, in `--help` order. */
export const ENCLAVE_COMMANDS: readonly Command[] = [
  runEnclaveCommand,
  describeEnclavesCommand,
  terminateEnclaveCommand,
  consoleCommand,
  repairStateCommand,
  ...(startedAsHost ? [enclaveHostCommand] : []),
];
