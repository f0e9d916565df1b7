// Where the embedded emulator keeps its state, shared by every process on this machine (the VS Code
// extension, nitro-dev commands, the per-enclave host processes):
//
//   <state>/parents.json                   emulated parent instances: id, name, vCPUs, memory
//   <state>/parents/<parent id>/allocator.yaml   each parent's enclave pool (allocator.yaml format)
//   <state>/lock                           the cross-process lock (holder's pid) around allocation
//   <state>/enclaves/<enclave id>.json     a running enclave's record (what it holds, its host pid)
//   <state>/enclaves/<enclave id>.sock     its host's control socket
//   <state>/enclaves/<enclave id>.nsm.sock its NSM socket (for the attached application)
//   <state>/enclaves/<enclave id>.console.log  its console, kept after it ends
//   <state>/enclaves/<enclave id>.app.pid  its attached application: pid and start time (see killVerifiedApp)
//
// The folders are 0700 and every file 0600: enclave output and records are the user's alone. A
// state file that cannot be read is never replaced: every command stops with a StateFileError that
// names it, and `nitro-dev repair-state` (repair.ts) moves it aside and rebuilds what it can.
// Every id read from disk is checked against its format before it becomes part of a path.
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import {
  allocatorYamlText,
  validateAllocator,
  type AllocatorDiagnostic,
  type EnclavePool,
} from '../../emulator/allocator';
import { ENCLAVE_ID_PATTERN, PARENT_ID_PATTERN, parentIdFor, type RunPlan } from '../../emulator/rules';
import type { MeasurementsJson } from '../../eif/describe';
import { BackendError, type RunEnclaveRequest } from '../../platform/backend';
import { removeEndpointFilesOf, vsockDirOf } from '../vsock/endpoints';
import type { QemuMachineSpec } from '../qemu/machine';

/**
 * The state directory: `NITRO_DEV_STATE_DIR`, else `$XDG_STATE_HOME/nitro-dev`, else
 * `~/.local/state/nitro-dev`. The environment is passed in (never read from process.env here).
 */
export function emulatorStateDir(
  env: Readonly<Record<string, string | undefined>>,
  home: string = os.homedir(),
): string {
  if (env.NITRO_DEV_STATE_DIR) return path.resolve(env.NITRO_DEV_STATE_DIR);
  if (env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME)) return path.join(env.XDG_STATE_HOME, 'nitro-dev');
  return path.join(home, '.local', 'state', 'nitro-dev');
}

export const enclavesDir = (state: string) => path.join(state, 'enclaves');
export const allocatorPathOf = (state: string, parentId: string) => {
  if (!PARENT_ID_PATTERN.test(parentId))
    throw new RangeError(`${JSON.stringify(parentId)} is not an instance id (i- and 17 hex digits)`);
  return path.join(state, 'parents', parentId, 'allocator.yaml');
};

/** Folders of the state: only their owner may enter them. */
export const DIR_MODE = 0o700;
/** Files of the state (records, logs, the lock): only their owner may read them. */
export const FILE_MODE = 0o600;

/**
 * Creates `dir` (and missing parents) with mode 0700, and takes group and other access away from
 * one that exists already (made by an older version with 0755).
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  if (process.platform === 'win32') return;
  try {
    if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, DIR_MODE);
  } catch {
    /* not ours to change: the files in it are still 0600 */
  }
}

/** The state folder and its sub-folders, created or tightened to 0700. */
export function ensureStateDirs(state: string): void {
  ensurePrivateDir(state);
  for (const sub of ['enclaves', 'parents', 'dev-ca', path.join('dev-ca', 'instances')]) {
    const dir = path.join(state, sub);
    if (sub === 'enclaves' || existsSync(dir)) ensurePrivateDir(dir);
  }
  let parents: string[] = [];
  try {
    parents = readdirSync(path.join(state, 'parents'));
  } catch {
    /* none yet */
  }
  for (const id of parents) if (PARENT_ID_PATTERN.test(id)) ensurePrivateDir(path.join(state, 'parents', id));
}

const socketTag = (state: string) => createHash('sha256').update(path.resolve(state)).digest('hex').slice(0, 12);

/**
 * Unix socket paths are limited to about 104 bytes; longer ones move to a short per-state folder in
 * the temp directory (0700, and refused when it is not this user's own folder). `create` false: the
 * path only, nothing is made.
 */
export function socketPathFor(state: string, enclaveId: string, suffix: '.sock' | '.nsm.sock', create = true): string {
  if (!ENCLAVE_ID_PATTERN.test(enclaveId))
    throw new RangeError(`${JSON.stringify(enclaveId)} is not an enclave id (<parent instance id>-enc<16 hex>)`);
  const tag = socketTag(state);
  if (process.platform === 'win32') return `\\\\.\\pipe\\nitro-dev-${tag}-${enclaveId}${suffix}`;
  const direct = path.join(enclavesDir(state), enclaveId + suffix);
  if (Buffer.byteLength(direct) <= 100) return direct;
  const dir = shortSocketDir(state);
  if (create) {
    mkdirSync(dir, { recursive: true, mode: DIR_MODE });
    const st = lstatSync(dir);
    if (!st.isDirectory() || (typeof process.getuid === 'function' && st.uid !== process.getuid())) {
      throw new BackendError(
        19,
        `File operation failure. ${dir} is not a folder of this user; remove it, ` +
          `or use a shorter state folder path (NITRO_DEV_STATE_DIR)`,
      );
    }
    if ((st.mode & 0o077) !== 0) chmodSync(dir, DIR_MODE);
  }
  return path.join(dir, enclaveId + suffix);
}

/** The temp-directory folder of a state whose socket paths are too long. */
export const shortSocketDir = (state: string) => path.join(os.tmpdir(), `nitro-dev-${socketTag(state)}`);

// ---------------------------------------------------------------------------------------------
// Damaged state

/**
 * A state file that exists but cannot be used (unreadable, not JSON, a wrong shape, an id that is
 * not in its format). Nothing replaces it: the error names it and says how to recover. E19.
 */
export class StateFileError extends BackendError {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(
      19,
      `File operation failure. The emulator state file ${file} cannot be used: ${problem}. Nothing was changed: ` +
        `running enclaves keep running, and \`nitro-dev terminate-enclave --all\` still stops them. ` +
        `To recover, run \`nitro-dev repair-state\` (it keeps the damaged file beside it ` +
        `as ${path.basename(file)}.damaged-<time> and rebuilds what it can from the state folder)`,
    );
    this.name = 'StateFileError';
  }
}

/** Largest state file read (parents.json, an enclave record); anything larger is damaged. */
export const MAX_STATE_FILE_BYTES = 8 * 1024 * 1024;

/** A state file's text; undefined when it does not exist; StateFileError when it cannot be read. */
export function readStateFile(file: string): string | undefined {
  try {
    const size = statSync(file).size;
    if (size > MAX_STATE_FILE_BYTES)
      throw new StateFileError(
        file,
        `it is ${size} bytes, more than a state file ever holds (${MAX_STATE_FILE_BYTES})`,
      );
    return readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof StateFileError) throw e;
    const errno = e as NodeJS.ErrnoException;
    if (errno.code === 'ENOENT') return undefined;
    throw new StateFileError(file, `it cannot be read (${errno.code ?? errno.message})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Parents

export interface ParentRecord {
  readonly id: string;
  readonly name: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
}

/** The default emulated parent: 8 vCPUs and 16 GiB, like an m5.2xlarge. */
export const DEFAULT_PARENT = { name: 'Emulated parent', vcpus: 8, memoryMiB: 16384 } as const;
/**
 * Its pool: 2048 MiB and two cores (4 vCPUs), so that two small enclaves (2 CPUs, 512 MiB each) run
 * at once; the parent keeps CPU 0 and half of its vCPUs, as on EC2.
 */
export const DEFAULT_POOL = { memoryMiB: 2048, cpuCount: 4 } as const;

function writeFileAtomic(file: string, text: string): void {
  ensurePrivateDir(path.dirname(file));
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temp, text, { mode: FILE_MODE });
  renameSync(temp, file);
}

export const parentsPathOf = (state: string) => path.join(state, 'parents.json');

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why a parents.json entry cannot be used, or undefined. */
export function parentEntryProblem(entry: unknown, where: string): string | undefined {
  if (!isObject(entry)) return `${where} is not an object`;
  if (typeof entry.id !== 'string' || !PARENT_ID_PATTERN.test(entry.id))
    return `${where}.id ${JSON.stringify(entry.id)} is not an instance id (i- and 17 hex digits)`;
  if (typeof entry.name !== 'string' || entry.name.length === 0 || entry.name.length > 256)
    return `${where}.name is not a name (a string of 1 to 256 characters)`;
  if (
    typeof entry.vcpus !== 'number' ||
    !Number.isSafeInteger(entry.vcpus) ||
    entry.vcpus < 4 ||
    entry.vcpus % 2 !== 0 ||
    entry.vcpus > 4096
  )
    return `${where}.vcpus is not an even number of vCPUs from 4 to 4096`;
  if (typeof entry.memoryMiB !== 'number' || !Number.isSafeInteger(entry.memoryMiB) || entry.memoryMiB < 1)
    return `${where}.memoryMiB is not a positive number of MiB`;
  return undefined;
}

/** A state file's JSON value; undefined when the file does not exist; StateFileError when it is no JSON. */
function readStateJson(file: string): unknown {
  const text = readStateFile(file);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new StateFileError(file, `it is not valid JSON (${(e as Error).message})`);
  }
}

/** parents.json's parents; undefined when the file does not exist; StateFileError when it cannot be used. */
export function readParents(state: string): ParentRecord[] | undefined {
  const file = parentsPathOf(state);
  const value = readStateJson(file);
  if (value === undefined) return undefined;
  if (!isObject(value) || !Array.isArray(value.parents)) throw new StateFileError(file, 'it has no "parents" list');
  const seen = new Set<string>();
  const parents: ParentRecord[] = [];
  for (const [i, entry] of (value.parents as unknown[]).entries()) {
    const problem = parentEntryProblem(entry, `parents[${i}]`);
    if (problem) throw new StateFileError(file, problem);
    const p = entry as ParentRecord;
    if (seen.has(p.id)) throw new StateFileError(file, `parents[${i}].id ${p.id} appears twice`);
    seen.add(p.id);
    parents.push({ id: p.id, name: p.name, vcpus: p.vcpus, memoryMiB: p.memoryMiB });
  }
  return parents;
}

export function writeParents(state: string, parents: readonly ParentRecord[]): void {
  writeFileAtomic(parentsPathOf(state), JSON.stringify({ parents }, null, 2) + '\n');
}

/**
 * The emulated parents; creates the default one (under the lock) on first use. A damaged parents.json: StateFileError.
 */
export async function loadParents(
  state: string,
  defaults: Omit<ParentRecord, 'id'> = DEFAULT_PARENT,
): Promise<readonly ParentRecord[]> {
  const existing = readParents(state);
  if (existing && existing.length > 0) return existing;
  return withStateLock(state, () => {
    const again = readParents(state);
    if (again && again.length > 0) return again;
    const parent: ParentRecord = { id: parentIdFor(randomBytes(9)), ...defaults };
    writeFileAtomic(allocatorPathOf(state, parent.id), allocatorYamlText(DEFAULT_POOL));
    writeParents(state, [parent]);
    return [parent];
  });
}

export interface AddParentOptions {
  readonly name: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
  /** The pool; default DEFAULT_POOL. */
  readonly pool?: { readonly memoryMiB: number; readonly cpuCount?: number; readonly cpuPool?: readonly number[] };
  /** An id to use (`i-` + 17 hex); default a random one. */
  readonly id?: string;
}

/** Adds an emulated parent instance with its allocator.yaml; returns its record. */
export async function addParent(
  state: string,
  options: AddParentOptions,
  defaults: Omit<ParentRecord, 'id'> = DEFAULT_PARENT,
): Promise<ParentRecord> {
  if (!Number.isSafeInteger(options.vcpus) || options.vcpus < 4 || options.vcpus % 2 !== 0)
    throw new RangeError('an emulated parent needs an even number of vCPUs, at least 4');
  if (options.id !== undefined && !PARENT_ID_PATTERN.test(options.id))
    throw new RangeError(`'${options.id}' is not an instance id (i- and 17 hex digits)`);
  await loadParents(state, defaults);
  return withStateLock(state, () => {
    const parents = readParents(state) ?? [];
    const parent: ParentRecord = {
      id: options.id ?? parentIdFor(randomBytes(9)),
      name: options.name,
      vcpus: options.vcpus,
      memoryMiB: options.memoryMiB,
    };
    if (parents.some((p) => p.id === parent.id)) throw new RangeError(`a parent with id ${parent.id} exists already`);
    const pool: NonNullable<AddParentOptions['pool']> = options.pool ?? DEFAULT_POOL;
    writeFileAtomic(
      allocatorPathOf(state, parent.id),
      allocatorYamlText({
        memoryMiB: pool.memoryMiB,
        ...(pool.cpuPool ? { cpuPool: pool.cpuPool } : { cpuCount: pool.cpuCount ?? DEFAULT_POOL.cpuCount }),
      }),
    );
    writeParents(state, [...parents, parent]);
    return parent;
  });
}

export interface ParentPool {
  readonly pool?: EnclavePool;
  readonly diagnostics: readonly AllocatorDiagnostic[];
  readonly allocatorPath: string;
}

/** A parent's pool from its allocator.yaml (a missing file is the default pool). */
export function readParentPool(state: string, parent: ParentRecord): ParentPool {
  const allocatorPath = allocatorPathOf(state, parent.id);
  let text: string;
  try {
    text = readFileSync(allocatorPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      const message = `${allocatorPath} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
      return {
        diagnostics: [
          {
            message,
            line: 1,
            column: 1,
            endLine: 1,
            endColumn: 1,
            offset: 0,
            endOffset: 0,
            severity: 'error',
            code: 19,
          },
        ],
        allocatorPath,
      };
    }
    text = allocatorYamlText(DEFAULT_POOL);
  }
  const result = validateAllocator(text, parent);
  return { ...(result.pool ? { pool: result.pool } : {}), diagnostics: result.diagnostics, allocatorPath };
}

/** The pool, or the BackendError run-enclave fails with when allocator.yaml is broken (E23/E24 for CPU list syntax). */
export function requireParentPool(state: string, parent: ParentRecord): EnclavePool {
  const r = readParentPool(state, parent);
  if (r.pool) return r.pool;
  const first = r.diagnostics.find((d) => d.severity === 'error');
  const where = first ? `${r.allocatorPath}:${first.line}:${first.column}: ${first.message}` : r.allocatorPath;
  const code = first?.code === 23 || first?.code === 24 ? first.code : 19;
  throw new BackendError(code, `The enclave pool of parent ${parent.id} is not usable. ${where}`);
}

// ---------------------------------------------------------------------------------------------
// Enclave records

/** What a running enclave holds and how to reach its host; written before the host starts. */
export interface EnclaveRecord extends RunPlan {
  readonly version: 1;
  readonly parentId: string;
  readonly eifPath: string;
  readonly measurements: MeasurementsJson;
  readonly imageName?: string;
  readonly imageVersion?: string;
  readonly metadata?: Record<string, unknown>;
  readonly app?: RunEnclaveRequest['app'];
  readonly iamRoleArn?: string;
  readonly socketPath: string;
  readonly nsmSocketPath: string;
  readonly consoleLogPath: string;
  /** The process that wrote the record (run-enclave), and when. */
  readonly runnerPid: number;
  readonly createdAt: string;
  /** The enclave host's pid, once spawned (nitro-cli's ProcessID). */
  readonly hostPid?: number;
  /** The machine that boots the image (the QEMU backend); absent: the enclave is emulated. */
  readonly machine?: QemuMachineSpec;
}

export const recordPathOf = (state: string, enclaveId: string) => path.join(enclavesDir(state), `${enclaveId}.json`);
export const appPidPathOf = (state: string, enclaveId: string) => path.join(enclavesDir(state), `${enclaveId}.app.pid`);
export const hostLogPathOf = (state: string, enclaveId: string) =>
  path.join(enclavesDir(state), `${enclaveId}.host.log`);

export function writeRecord(state: string, record: EnclaveRecord): void {
  writeFileAtomic(recordPathOf(state, record.enclaveId), JSON.stringify(record, null, 2) + '\n');
}

const samePath = (a: string, b: string): boolean => {
  if (path.resolve(a) === path.resolve(b)) return true;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
};

/** Why `value` is not where the state keeps `enclaveId`'s socket, or undefined. */
function socketPathProblem(
  state: string,
  enclaveId: string,
  suffix: '.sock' | '.nsm.sock',
  value: unknown,
): string | undefined {
  const what = suffix === '.sock' ? 'socketPath' : 'nsmSocketPath';
  if (typeof value !== 'string') return `${what} is not a path`;
  const name = enclaveId + suffix;
  if (process.platform === 'win32') {
    const prefix = '\\\\.\\pipe\\nitro-dev-';
    const tag =
      value.startsWith(prefix) && value.endsWith(`-${name}`)
        ? value.slice(prefix.length, value.length - name.length - 1)
        : '';
    return /^[0-9a-f]{12}$/.test(tag) ? undefined : `${what} ${JSON.stringify(value)} is not this enclave's pipe`;
  }
  if (path.basename(value) === name) {
    const dir = path.dirname(value);
    if (samePath(dir, enclavesDir(state))) return undefined;
    if (
      path.resolve(path.dirname(dir)) === path.resolve(os.tmpdir()) &&
      /^nitro-dev-[0-9a-f]{12}$/.test(path.basename(dir))
    )
      return undefined;
  }
  return `${what} ${JSON.stringify(value)} is not this enclave's socket in the state folder`;
}

const isUint = (v: unknown, max = Number.MAX_SAFE_INTEGER): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;
const isHex = (v: unknown): v is string => typeof v === 'string' && v.length <= 256 && /^([0-9a-f]{2})*$/.test(v);

/** Why a parsed enclave record cannot be used, or undefined. `enclaveId`: the id its file name gives. */
export function recordProblem(state: string, value: unknown, enclaveId: string): string | undefined {
  if (!isObject(value)) return 'it is not a JSON object';
  if (value.version !== 1) return `its version ${JSON.stringify(value.version)} is not 1`;
  if (!ENCLAVE_ID_PATTERN.test(enclaveId))
    return `its name does not hold an enclave id (<parent instance id>-enc<16 hex>)`;
  if (value.enclaveId !== enclaveId)
    return `enclaveId ${JSON.stringify(value.enclaveId)} is not the id its file name gives (${enclaveId})`;
  if (typeof value.parentId !== 'string' || !PARENT_ID_PATTERN.test(value.parentId))
    return `parentId ${JSON.stringify(value.parentId)} is not an instance id (i- and 17 hex digits)`;
  if (!enclaveId.startsWith(`${value.parentId}-enc`))
    return `enclaveId ${enclaveId} does not belong to parent ${value.parentId}`;
  if (typeof value.name !== 'string') return 'name is not a string';
  if (!isUint(value.cid, 0xffffffff)) return 'cid is not a CID';
  if (!Array.isArray(value.cpuIds) || !value.cpuIds.every((c) => isUint(c, 65535)))
    return 'cpuIds is not a list of CPU ids';
  if (!isUint(value.memoryMiB)) return 'memoryMiB is not a number of MiB';
  if (typeof value.debugMode !== 'boolean') return 'debugMode is not true or false';
  if (typeof value.eifPath !== 'string') return 'eifPath is not a path';
  const m = value.measurements;
  if (!isObject(m) || !isHex(m.PCR0) || !isHex(m.PCR1) || !isHex(m.PCR2) || (m.PCR8 !== undefined && !isHex(m.PCR8)))
    return 'measurements are not PCR values in hex';
  for (const suffix of ['.sock', '.nsm.sock'] as const) {
    const problem = socketPathProblem(
      state,
      enclaveId,
      suffix,
      suffix === '.sock' ? value.socketPath : value.nsmSocketPath,
    );
    if (problem) return problem;
  }
  if (
    typeof value.consoleLogPath !== 'string' ||
    path.basename(value.consoleLogPath) !== `${enclaveId}.console.log` ||
    !samePath(path.dirname(value.consoleLogPath), enclavesDir(state))
  ) {
    return (
      `consoleLogPath ${JSON.stringify(value.consoleLogPath)} ` +
      "is not this enclave's console log in the state folder"
    );
  }
  if (!isUint(value.runnerPid) || value.runnerPid === 0) return 'runnerPid is not a process id';
  if (value.hostPid !== undefined && (!isUint(value.hostPid) || value.hostPid === 0))
    return 'hostPid is not a process id';
  if (typeof value.createdAt !== 'string' || !Number.isFinite(Date.parse(value.createdAt)))
    return 'createdAt is not a time';
  const app = value.app;
  if (
    app !== undefined &&
    (!isObject(app) ||
      typeof app.command !== 'string' ||
      (app.args !== undefined && (!Array.isArray(app.args) || !app.args.every((a) => typeof a === 'string'))) ||
      (app.cwd !== undefined && typeof app.cwd !== 'string'))
  ) {
    return 'app is not a command with arguments';
  }
  for (const key of ['iamRoleArn', 'imageName', 'imageVersion'] as const)
    if (value[key] !== undefined && typeof value[key] !== 'string') return `${key} is not a string`;
  if (value.metadata !== undefined && !isObject(value.metadata)) return 'metadata is not an object';
  if (value.machine !== undefined) return machineProblem(value.machine);
  return undefined;
}

/** Why a record's machine is not a QEMU machine this host can start, or undefined. */
function machineProblem(machine: unknown): string | undefined {
  if (!isObject(machine) || machine.kind !== 'qemu') return 'machine is not a QEMU machine';
  for (const key of ['qemu', 'vhostDeviceVsock', 'relayKernel', 'relayInitrd'] as const) {
    const v = machine[key];
    if (typeof v !== 'string' || !path.isAbsolute(v)) return `machine.${key} is not an absolute path`;
  }
  if (
    machine.firmwareDir !== undefined &&
    (typeof machine.firmwareDir !== 'string' || !path.isAbsolute(machine.firmwareDir))
  )
    return 'machine.firmwareDir is not an absolute path';
  if (machine.accel !== 'kvm' && machine.accel !== 'tcg') return 'machine.accel is not kvm or tcg';
  return undefined;
}

/**
 * The enclave record at `file` (`<state>/enclaves/<id>.json`); undefined when it does not exist; StateFileError when it
 * cannot be used.
 */
export function readRecord(file: string): EnclaveRecord | undefined {
  const value = readStateJson(file);
  if (value === undefined) return undefined;
  const state = path.dirname(path.dirname(file));
  const problem = recordProblem(state, value, path.basename(file, '.json'));
  if (problem) throw new StateFileError(file, problem);
  return value as EnclaveRecord;
}

/** The record at `file`, or undefined when it is missing or cannot be used. */
export function readRecordFile(file: string): EnclaveRecord | undefined {
  try {
    return readRecord(file);
  } catch {
    return undefined;
  }
}

/** Whether a process exists (EPERM: it exists but is someone else's). */
export function pidAlive(pid: number | undefined): boolean {
  if (pid === undefined || !Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed process stays a zombie until its parent reaps it (for a host whose runner exited,
  // that is init, which may take its time): on Linux a zombie counts as gone.
  if (process.platform === 'linux') {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  }
  return true;
}

/** How long a record without a host pid may wait for its runner before it counts as abandoned. */
const STARTING_GRACE_MS = 60_000;

/**
 * Records of enclaves that hold resources: the host is alive, or the runner is still starting it.
 * Records of dead hosts are removed on the way (with their sockets and their application, when it
 * is verifiably theirs). A record that cannot be used stops everything with a StateFileError: what
 * it holds is unknown, and its host may still run.
 */
export function liveRecords(state: string): EnclaveRecord[] {
  const dir = enclavesDir(state);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const live: EnclaveRecord[] = [];
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    const record = readRecord(path.join(dir, name));
    if (!record) continue; // removed meanwhile
    if (record.hostPid !== undefined) {
      if (pidAlive(record.hostPid)) live.push(record);
      else removeEnclaveFiles(state, record);
    } else if (pidAlive(record.runnerPid) && Date.now() - Date.parse(record.createdAt) < STARTING_GRACE_MS) {
      live.push(record);
    } else {
      removeEnclaveFiles(state, record);
    }
  }
  return live.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.enclaveId.localeCompare(b.enclaveId));
}

/** Removes what a dead enclave left (record, sockets, application); keeps the console log. */
export function removeEnclaveFiles(state: string, record: EnclaveRecord): void {
  // The application runs in its own process group; a host killed with SIGKILL cannot stop it.
  if (record.hostPid === undefined || !pidAlive(record.hostPid)) killVerifiedApp(state, record.enclaveId, 'SIGKILL');
  removeRecordFiles(state, record);
}

/**
 * Removes an enclave's record, application pid file, host log and sockets, and the vsock listener
 * files its application left (of its CID, in its parent's vsock folder); keeps the console log.
 * The listener files go first: until the record is gone no other enclave can have the CID.
 */
export function removeRecordFiles(state: string, record: EnclaveRecord): void {
  try {
    removeEndpointFilesOf(vsockDirOf(state, record.parentId, false), record.cid);
  } catch {
    /* a parent id that is not one: a damaged record, which has no vsock folder */
  }
  for (const f of [
    recordPathOf(state, record.enclaveId),
    appPidPathOf(state, record.enclaveId),
    hostLogPathOf(state, record.enclaveId),
  ])
    rmSync(f, { force: true });
  if (process.platform !== 'win32')
    for (const s of [record.socketPath, record.nsmSocketPath]) rmSync(s, { force: true });
}

export function killGroup(pid: number, signal: NodeJS.Signals): void {
  if (!Number.isSafeInteger(pid) || pid <= 0) return;
  try {
    if (process.platform === 'win32') process.kill(pid, signal);
    else process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The attached application's pid file

/** What identifies a process beyond its pid, which the system reuses. */
export interface ProcessIdentity {
  /** Its process group (the application leads its own). */
  readonly pgid?: number;
  /** When it started: /proc/<pid>/stat field 22 on Linux (clock ticks after boot), `ps -o lstart=` elsewhere. */
  readonly start: string;
}

/** The identity of a live process; undefined when it is gone or cannot be told apart from a later one. */
export function processIdentity(pid: number): ProcessIdentity | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  if (process.platform === 'linux') {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return undefined;
    }
    // Field 2 (the command) is in parentheses and may hold anything: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); field 5 (pgrp) is fields[2]; field 22 (starttime) is fields[19].
    const pgid = Number(fields[2]);
    const start = fields[19];
    if (fields[0] === 'Z' || start === undefined || !/^\d+$/.test(start)) return undefined;
    return { pgid, start };
  }
  if (process.platform === 'win32') return undefined;
  const r = spawnSync('ps', ['-o', 'pgid=,lstart=', '-p', String(pid)], { encoding: 'utf8', timeout: 10_000 });
  const m = /^\s*(\d+)\s+(.+?)\s*$/.exec(r.status === 0 ? r.stdout : '');
  return m ? { pgid: Number(m[1]), start: m[2] as string } : undefined;
}

/** Records the application's pid with its identity at launch (called by the host right after spawning it). */
export function writeAppPid(state: string, enclaveId: string, pid: number): void {
  const identity = processIdentity(pid);
  writeFileAtomic(appPidPathOf(state, enclaveId), JSON.stringify({ pid, ...(identity ?? {}) }) + '\n');
}

/**
 * Sends `signal` to the enclave's application group, only when the process its pid file names is
 * still the one the host started: same start time, leading its own group. A pid file of an older
 * version (a bare pid), or a pid that now belongs to another program, kills nothing.
 */
export function killVerifiedApp(state: string, enclaveId: string, signal: NodeJS.Signals): boolean {
  let recorded: { pid?: unknown; pgid?: unknown; start?: unknown };
  try {
    const fd = openSync(appPidPathOf(state, enclaveId), 'r');
    try {
      const buf = Buffer.alloc(4096);
      recorded = JSON.parse(buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8')) as typeof recorded;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false; // no application, or a pid file that says nothing verifiable
  }
  if (!isObject(recorded) || !isUint(recorded.pid) || recorded.pid === 0 || typeof recorded.start !== 'string')
    return false;
  const now = processIdentity(recorded.pid);
  if (!now || now.start !== recorded.start || now.pgid !== recorded.pid) return false;
  killGroup(recorded.pid, signal);
  return true;
}

// ---------------------------------------------------------------------------------------------
// The cross-process lock

/** How long to wait for the lock before failing with E15. */
export const LOCK_WAIT_MS = 30_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn` holding `<state>/lock`: created with O_EXCL holding the owner's pid, so only one
 * process at a time allocates CIDs and CPUs. A lock whose owner is dead is taken over (renamed
 * away first so that two processes cannot both remove it); waiting is bounded (E15).
 */
export async function withStateLock<T>(state: string, fn: () => T | Promise<T>, waitMs = LOCK_WAIT_MS): Promise<T> {
  ensureStateDirs(state);
  const lock = path.join(state, 'lock');
  const deadline = Date.now() + waitMs;
  let delay = 5;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx', FILE_MODE);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new BackendError(15, `Lock acquire failure. ${lock}: ${(e as Error).message}`);
    }
    breakStaleLock(lock);
    if (Date.now() > deadline) {
      throw new BackendError(
        15,
        `Lock acquire failure. ${lock} has been held by process ${readLockPid(lock) ?? '?'} ` +
          `for more than ${Math.round(waitMs / 1000)} s`,
      );
    }
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 100);
  }
  try {
    return await fn();
  } finally {
    try {
      if (readLockPid(lock) === process.pid) unlinkSync(lock);
    } catch {
      /* already gone */
    }
  }
}

function readLockPid(lock: string): number | undefined {
  try {
    const text = readFileSync(lock, 'utf8').trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

function breakStaleLock(lock: string): void {
  const pid = readLockPid(lock);
  let stale: boolean;
  if (pid !== undefined) {
    stale = !pidAlive(pid);
  } else {
    // Created but not yet written, or written by a crashed process: stale after a second.
    try {
      stale = Date.now() - statSync(lock).mtimeMs > 1000;
    } catch {
      return;
    }
  }
  if (!stale) return;
  const aside = `${lock}.stale.${process.pid}.${randomBytes(3).toString('hex')}`;
  try {
    renameSync(lock, aside);
  } catch {
    return; // someone else took it over first
  }
  const movedPid = readLockPid(aside);
  if (movedPid !== undefined && movedPid !== pid && pidAlive(movedPid)) {
    // A live process took the lock between our check and the rename: give it back.
    try {
      linkSync(aside, lock); // fails if yet another process holds it now
    } catch {
      /* the lock is held again; the live process's file is lost, it will still unlink by pid */
    }
  }
  rmSync(aside, { force: true });
}
