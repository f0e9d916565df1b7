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
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { allocatorYamlText, validateAllocator, type AllocatorDiagnostic, type EnclavePool } from '../../emulator/allocator';
import { PARENT_ID_PATTERN, parentIdFor } from '../../emulator/rules';
import type { MeasurementsJson } from '../../eif/describe';
import { BackendError, type RunEnclaveRequest } from '../../platform/backend';

/**
 * The state directory: `NITRO_DEV_STATE_DIR`, else `$XDG_STATE_HOME/nitro-dev`, else
 * `~/.local/state/nitro-dev`. The environment is passed in (never read from process.env here).
 */
export function emulatorStateDir(env: Readonly<Record<string, string | undefined>>, home: string = os.homedir()): string {
  if (env.NITRO_DEV_STATE_DIR) return path.resolve(env.NITRO_DEV_STATE_DIR);
  if (env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME)) return path.join(env.XDG_STATE_HOME, 'nitro-dev');
  return path.join(home, '.local', 'state', 'nitro-dev');
}

export const enclavesDir = (state: string) => path.join(state, 'enclaves');
export const allocatorPathOf = (state: string, parentId: string) => path.join(state, 'parents', parentId, 'allocator.yaml');

/** Unix socket paths are limited to about 104 bytes; longer ones move to a short per-state folder in the temp directory. */
export function socketPathFor(state: string, enclaveId: string, suffix: '.sock' | '.nsm.sock'): string {
  const tag = createHash('sha256').update(path.resolve(state)).digest('hex').slice(0, 12);
  if (process.platform === 'win32') return `\\\\.\\pipe\\nitro-dev-${tag}-${enclaveId}${suffix}`;
  const direct = path.join(enclavesDir(state), enclaveId + suffix);
  if (Buffer.byteLength(direct) <= 100) return direct;
  const dir = path.join(os.tmpdir(), `nitro-dev-${tag}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return path.join(dir, enclaveId + suffix);
}

// ---------------------------------------------------------------------------------------------
// Parents

export interface ParentRecord {
  readonly id: string;
  readonly name: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
}

interface ParentsFile {
  readonly parents: ParentRecord[];
}

/** The default emulated parent: 8 vCPUs and 16 GiB, like an m5.2xlarge. */
export const DEFAULT_PARENT = { name: 'Emulated parent', vcpus: 8, memoryMiB: 16384 } as const;
/** Its pool: the shipped allocator.yaml's memory raised to 2048 MiB, one core (2 vCPUs). */
export const DEFAULT_POOL = { memoryMiB: 2048, cpuCount: 2 } as const;

function writeFileAtomic(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, file);
}

function readParentsFile(state: string): ParentsFile | undefined {
  try {
    const value = JSON.parse(readFileSync(path.join(state, 'parents.json'), 'utf8')) as ParentsFile;
    return Array.isArray(value?.parents) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The emulated parents; creates the default one (under the lock) on first use. */
export async function loadParents(state: string): Promise<readonly ParentRecord[]> {
  const existing = readParentsFile(state);
  if (existing && existing.parents.length > 0) return existing.parents;
  return withStateLock(state, () => {
    const again = readParentsFile(state);
    if (again && again.parents.length > 0) return again.parents;
    const parent: ParentRecord = { id: parentIdFor(randomBytes(9)), ...DEFAULT_PARENT };
    writeFileAtomic(allocatorPathOf(state, parent.id), allocatorYamlText(DEFAULT_POOL));
    writeFileAtomic(path.join(state, 'parents.json'), JSON.stringify({ parents: [parent] }, null, 2) + '\n');
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
export async function addParent(state: string, options: AddParentOptions): Promise<ParentRecord> {
  if (!Number.isSafeInteger(options.vcpus) || options.vcpus < 4 || options.vcpus % 2 !== 0) throw new RangeError('an emulated parent needs an even number of vCPUs, at least 4');
  if (options.id !== undefined && !PARENT_ID_PATTERN.test(options.id)) throw new RangeError(`'${options.id}' is not an instance id (i- and 17 hex digits)`);
  await loadParents(state);
  return withStateLock(state, () => {
    const file = readParentsFile(state) ?? { parents: [] };
    const parent: ParentRecord = { id: options.id ?? parentIdFor(randomBytes(9)), name: options.name, vcpus: options.vcpus, memoryMiB: options.memoryMiB };
    if (file.parents.some((p) => p.id === parent.id)) throw new RangeError(`a parent with id ${parent.id} exists already`);
    const pool: NonNullable<AddParentOptions['pool']> = options.pool ?? DEFAULT_POOL;
    writeFileAtomic(
      allocatorPathOf(state, parent.id),
      allocatorYamlText({ memoryMiB: pool.memoryMiB, ...(pool.cpuPool ? { cpuPool: pool.cpuPool } : { cpuCount: pool.cpuCount ?? 2 }) }),
    );
    writeFileAtomic(path.join(state, 'parents.json'), JSON.stringify({ parents: [...file.parents, parent] }, null, 2) + '\n');
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
  } catch {
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
export interface EnclaveRecord {
  readonly version: 1;
  readonly parentId: string;
  readonly enclaveId: string;
  readonly name: string;
  readonly cid: number;
  readonly cpuIds: readonly number[];
  readonly memoryMiB: number;
  readonly debugMode: boolean;
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
}

export const recordPathOf = (state: string, enclaveId: string) => path.join(enclavesDir(state), `${enclaveId}.json`);
export const appPidPathOf = (state: string, enclaveId: string) => path.join(enclavesDir(state), `${enclaveId}.app.pid`);
export const hostLogPathOf = (state: string, enclaveId: string) => path.join(enclavesDir(state), `${enclaveId}.host.log`);

export function writeRecord(state: string, record: EnclaveRecord): void {
  writeFileAtomic(recordPathOf(state, record.enclaveId), JSON.stringify(record, null, 2) + '\n');
}

export function readRecordFile(file: string): EnclaveRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as EnclaveRecord;
    return r && r.version === 1 && typeof r.enclaveId === 'string' ? r : undefined;
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
 * Records of dead hosts are removed on the way (with their sockets and any leftover application).
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
    const file = path.join(dir, name);
    const record = readRecordFile(file);
    if (!record) {
      // A record that cannot be read for a while is debris.
      try {
        if (Date.now() - statSync(file).mtimeMs > STARTING_GRACE_MS) rmSync(file, { force: true });
      } catch {
        /* gone */
      }
      continue;
    }
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
  const appPidFile = appPidPathOf(state, record.enclaveId);
  try {
    const appPid = Number(readFileSync(appPidFile, 'utf8').trim());
    // The application runs in its own process group; a host killed with SIGKILL cannot stop it.
    if (record.hostPid === undefined || !pidAlive(record.hostPid)) killGroup(appPid, 'SIGKILL');
  } catch {
    /* no application */
  }
  for (const f of [recordPathOf(state, record.enclaveId), appPidFile, hostLogPathOf(state, record.enclaveId)]) rmSync(f, { force: true });
  if (process.platform !== 'win32') for (const s of [record.socketPath, record.nsmSocketPath]) rmSync(s, { force: true });
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
  mkdirSync(state, { recursive: true });
  const lock = path.join(state, 'lock');
  const deadline = Date.now() + waitMs;
  let delay = 5;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx', 0o644);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new BackendError(15, `Lock acquire failure. ${lock}: ${(e as Error).message}`);
    }
    breakStaleLock(lock);
    if (Date.now() > deadline) {
      throw new BackendError(15, `Lock acquire failure. ${lock} has been held by process ${readLockPid(lock) ?? '?'} for more than ${Math.round(waitMs / 1000)} s`);
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

export function ensureDir(dir: string): void {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
}
