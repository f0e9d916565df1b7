// The embedded emulator as an EnclaveBackend: emulated parent instances on this machine, with
// nitro-cli's rules (src/engine/emulator/rules.ts), one background host process per enclave
// (host.ts) and all state in a directory every process shares (state.ts), so the extension and
// nitro-dev commands see and manage the same enclaves.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { ENCLAVE_ID_PATTERN, checkCid, planRunEnclave, type RunPlan } from '../../emulator/rules';
import { EifFormatError } from '../../eif/errors';
import { MetadataError } from '../../eif/metadata';
import { SignatureFormatError } from '../../eif/signature';
import {
  BackendError,
  type ConsoleStream,
  type DescribeEnclaveJson,
  type EnclaveBackend,
  type ParentInfo,
  type RunEnclaveJson,
  type RunEnclaveRequest,
  type TerminateEnclaveJson,
} from '../../platform/backend';
import type {
  ApplicationAttachment,
  DevelopmentRoot,
  DevelopmentRoots,
  ParentCreation,
  ParentSideNsm,
  StateRepair,
  StateRepairReport,
  EmulatedVsock,
  VsockPortInUse,
} from '../../platform/capabilities';
import { Emitter, type CancellationLike } from '../../platform/lifecycle';
import { inspectEif, type EifInspection } from '../eifFile';
import { FrameReader, HostUnreachableError, KIND_BYTES, encodeFrame, requestHost, resultOf } from './protocol';
import { HEARTBEAT_BYTE, VsockInUseError, endpointPath, vsockDirOf } from '../vsock/endpoints';
import { HEARTBEAT_ADDRESS, HeartbeatListener } from '../vsock/heartbeat';
import { vsockPortsInUse } from '../vsock/ports';
import { repairState } from './repair';
import {
  DEFAULT_PARENT,
  FILE_MODE,
  StateFileError,
  addParent,
  enclavesDir,
  ensureStateDirs,
  hostLogPathOf,
  killGroup,
  liveRecords,
  loadParents,
  pidAlive,
  readParentPool,
  removeEnclaveFiles,
  requireParentPool,
  shortSocketDir,
  socketPathFor,
  withStateLock,
  writeRecord,
  type EnclaveRecord,
  type ParentRecord,
} from './state';

/** The hidden nitro-dev subcommand that runs an enclave's host process. */
export const ENCLAVE_HOST_SUBCOMMAND = '__enclave-host';

export interface EmulatorBackendOptions {
  /** The state directory (see emulatorStateDir). */
  readonly stateDir: string;
  /**
   * The nitro-dev bundle started as `<node> <hostScript> __enclave-host <record>`. Default:
   * `cli.js` next to this bundle (dist/cli.js beside dist/extension.js), else process.argv[1].
   */
  readonly hostScript?: string;
  /** The Node executable (default process.execPath; run as Node under Electron via ELECTRON_RUN_AS_NODE). */
  readonly nodePath?: string;
  /** The environment the host and the enclave applications inherit (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Watch the enclaves folder to notice other processes' changes (default true). */
  readonly watch?: boolean;
  /**
   * How long run-enclave waits for the enclave's boot heartbeat, its wait for the parent's
   * heartbeat port included (default: nitro-cli's, see bootTimeoutMs).
   */
  readonly readyTimeoutMs?: number;
  /** How long describe waits for each host (default 3 s). */
  readonly queryTimeoutMs?: number;
}

/**
 * The default host script: enclave-host.js beside the running bundle (it starts faster than the
 * CLI), else cli.js beside it, else the script node was started with.
 */
export function defaultHostScript(): string {
  const candidates: string[] = [];
  if (typeof __filename === 'string') {
    const host = path.join(path.dirname(__filename), 'enclave-host.js');
    if (existsSync(host)) return host;
    candidates.push(path.join(path.dirname(__filename), 'cli.js'));
  }
  if (process.argv[1]) candidates.push(path.resolve(process.argv[1]));
  for (const c of candidates) if (existsSync(c) && path.basename(c) === 'cli.js') return c;
  return candidates[candidates.length - 1] ?? 'cli.js';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const GIB = 1024 * 1024 * 1024;

/**
 * How long nitro-cli waits for an enclave's boot heartbeat: 90 s per started 6 GiB of image plus
 * 90 s per started 100 GiB of enclave memory (so 180 s for usual enclaves).
 */
export function bootTimeoutMs(eifBytes: number, memoryMiB: number): number {
  return (
    90_000 * Math.max(1, Math.ceil(eifBytes / (6 * GIB))) +
    90_000 * Math.max(1, Math.ceil((memoryMiB * 1024 * 1024) / (100 * GIB)))
  );
}

const hexByte = (b: number) => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`;

/** Why a signed image must not run (E59), from its signature inspection; undefined when it is unsigned or verifies. */
export function signatureProblemOf(sig: EifInspection['signature']): string | undefined {
  if (!sig) return undefined;
  if (sig.error) return sig.error;
  if (sig.cose && !sig.cose.valid) return `the image's signature does not verify: ${sig.cose.reason ?? 'invalid'}`;
  if (sig.certificateValid === false) return 'the signing certificate is not valid now (expired or not yet valid)';
  return undefined;
}

/** Reads and measures the image a run names: E19 when the file cannot be read, E35 when it is not a valid EIF. */
export async function checkImage(requestedPath: string): Promise<CheckedImage> {
  const eifPath = path.resolve(requestedPath);
  let size: number;
  try {
    size = statSync(eifPath).size;
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new BackendError(19, `File operation failure. ${eifPath}: ${reason}`);
  }
  const inspection = await inspectEif(eifPath).catch((e: unknown) => {
    if (e instanceof EifFormatError || e instanceof MetadataError || e instanceof SignatureFormatError)
      throw new BackendError(35, `EIF parsing error. ${e.message}`);
    throw new BackendError(19, `File operation failure. ${eifPath}: ${(e as Error).message}`);
  });
  if ('error' in inspection.describe && !inspection.signature)
    throw new BackendError(35, `EIF parsing error. ${inspection.describe.error.message}`);
  const signatureProblem = signatureProblemOf(inspection.signature);
  return { eifPath, size, inspection, ...(signatureProblem !== undefined ? { signatureProblem } : {}) };
}

/** The record of a planned enclave (before its host runs): what every process reads to find and describe it. */
export function enclaveRecordFor(
  state: string,
  parentId: string,
  plan: RunPlan,
  request: RunEnclaveRequest,
  image: CheckedImage,
  run: { readonly runnerPid: number; readonly now: Date },
): EnclaveRecord {
  const describeJson = 'json' in image.inspection.describe ? image.inspection.describe.json : undefined;
  return {
    version: 1,
    parentId,
    enclaveId: plan.enclaveId,
    name: plan.name,
    cid: plan.cid,
    cpuIds: plan.cpuIds,
    memoryMiB: plan.memoryMiB,
    debugMode: plan.debugMode,
    eifPath: image.eifPath,
    measurements: image.inspection.measurements,
    ...(describeJson?.ImageName !== undefined ? { imageName: describeJson.ImageName } : {}),
    ...(describeJson?.ImageVersion !== undefined ? { imageVersion: describeJson.ImageVersion } : {}),
    ...(describeJson?.Metadata !== undefined ? { metadata: describeJson.Metadata } : {}),
    ...(request.app
      ? { app: { ...request.app, ...(request.app.cwd ? { cwd: path.resolve(request.app.cwd) } : {}) } }
      : {}),
    ...(request.iamRoleArn ? { iamRoleArn: request.iamRoleArn } : {}),
    socketPath: socketPathFor(state, plan.enclaveId, '.sock'),
    nsmSocketPath: socketPathFor(state, plan.enclaveId, '.nsm.sock'),
    consoleLogPath: path.join(enclavesDir(state), `${plan.enclaveId}.console.log`),
    runnerPid: run.runnerPid,
    createdAt: run.now.toISOString(),
  };
}

/** run-enclave's stdout object for a started enclave. */
export function runJsonOf(record: EnclaveRecord, hostPid: number): RunEnclaveJson {
  return {
    EnclaveName: record.name,
    EnclaveID: record.enclaveId,
    ProcessID: hostPid,
    EnclaveCID: record.cid,
    NumberOfCPUs: record.cpuIds.length,
    CPUIDs: record.cpuIds,
    MemoryMiB: record.memoryMiB,
  };
}

/** What a backend adds to an enclave's record (see LocalEnclaveBackend.prepareRun). */
export type RecordExtra = Pick<EnclaveRecord, 'machine'>;

/** The time limit of one run-enclave's boot (its turn at the heartbeat port and the heartbeat). */
interface BootWait {
  readonly deadline: number;
  readonly limitMs: number;
  readonly cancellation: CancellationLike | undefined;
}

/** What an image brings to its enclave record: measurements, describe fields, and why its signature fails (E59). */
export interface CheckedImage {
  readonly eifPath: string;
  readonly size: number;
  readonly inspection: EifInspection;
  readonly signatureProblem?: string;
}

/**
 * The embedded emulator. Besides every backend's operations it can add parents, has a development
 * root, attaches applications and repairs its state folder (the optional capabilities).
 */
export abstract class LocalEnclaveBackend implements EnclaveBackend, ParentCreation, StateRepair, EmulatedVsock {
  abstract readonly kind: 'emulator' | 'qemu';
  abstract readonly label: string;
  /** What its parents are called in messages: `emulated parent instance`. */
  protected abstract readonly parentNoun: string;
  /** The parent made on first use, and the size of a new one. */
  protected abstract readonly defaultParent: {
    readonly name: string;
    readonly vcpus: number;
    readonly memoryMiB: number;
  };
  readonly recoveredParentSize = { vcpus: DEFAULT_PARENT.vcpus, memoryMiB: DEFAULT_PARENT.memoryMiB };
  private readonly changed = new Emitter<{ readonly parentId?: string }>();
  readonly onDidChange = this.changed.event;
  private watcher: FSWatcher | undefined;
  private debounce: ReturnType<typeof setTimeout> | undefined;
  /** One idle connection per live host: it closes when the host ends, even when it is killed. */
  private readonly monitors = new Map<string, net.Socket>();
  private disposed = false;

  constructor(protected readonly options: EmulatorBackendOptions) {
    if (options.watch !== false) this.startWatching();
  }

  get stateDir(): string {
    return this.options.stateDir;
  }

  private startWatching(): void {
    const dir = enclavesDir(this.options.stateDir);
    try {
      ensureStateDirs(this.options.stateDir);
      this.watcher = watch(dir, { persistent: false }, () => this.scheduleChange());
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      this.watcher = undefined;
    }
    this.monitorHosts();
  }

  private scheduleChange(): void {
    if (this.disposed) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.monitorHosts();
      this.changed.fire({});
    }, 150);
    this.debounce.unref?.();
  }

  /**
   * Connects once to every live host not yet monitored. The folder watch sees runs and terminations
   * by any process, but not a host that dies (kill -9, a crash): its files stay. Its connection
   * closes, though, and that is reported as a change, whose next look cleans the enclave up.
   */
  private monitorHosts(): void {
    if (this.disposed || this.options.watch === false) return;
    let records: EnclaveRecord[];
    try {
      records = liveRecords(this.options.stateDir);
    } catch {
      return; // a damaged record: the next listing reports it
    }
    for (const record of records) {
      if (record.hostPid === undefined || this.monitors.has(record.enclaveId)) continue;
      const socket = net.connect(record.socketPath);
      socket.unref();
      this.monitors.set(record.enclaveId, socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.monitors.delete(record.enclaveId);
        this.scheduleChange();
      });
    }
  }

  dispose(): void {
    this.disposed = true;
    this.watcher?.close();
    if (this.debounce) clearTimeout(this.debounce);
    for (const socket of this.monitors.values()) socket.destroy();
    this.monitors.clear();
    this.changed.dispose();
  }

  protected async parent(parentId: string): Promise<ParentRecord> {
    const parents = await loadParents(this.options.stateDir, this.defaultParent);
    const p = parents.find((x) => x.id === parentId);
    if (!p)
      throw new BackendError(
        3,
        `Invalid argument provided. There is no ${this.parentNoun} ${parentId} ` +
          `(known: ${parents.map((x) => x.id).join(', ')})`,
      );
    return p;
  }

  async listParents(): Promise<readonly ParentInfo[]> {
    const state = this.options.stateDir;
    const parents = await loadParents(state, this.defaultParent);
    const live = liveRecords(state);
    return parents.map((p) => {
      const pool = readParentPool(state, p);
      const mine = live.filter((r) => r.parentId === p.id);
      return {
        id: p.id,
        name: p.name,
        backend: this.kind,
        vcpus: p.vcpus,
        memoryMiB: p.memoryMiB,
        pool: pool.pool ?? { cpuIds: [], memoryMiB: 0 },
        used: {
          cpuIds: mine.flatMap((r) => r.cpuIds).sort((a, b) => a - b),
          memoryMiB: mine.reduce((n, r) => n + r.memoryMiB, 0),
        },
        allocatorPath: pool.allocatorPath,
      };
    });
  }

  // --- capabilities ---------------------------------------------------------------------------

  /** Creates a new parent instance (of the default size, with the default pool). */
  async addParent(name: string): Promise<ParentInfo> {
    const record = await addParent(
      this.options.stateDir,
      { name, vcpus: this.defaultParent.vcpus, memoryMiB: this.defaultParent.memoryMiB },
      this.defaultParent,
    );
    const parent = (await this.listParents()).find((p) => p.id === record.id);
    if (!parent) throw new Error(`the new parent ${record.id} is not listed`);
    this.changed.fire({ parentId: parent.id });
    return parent;
  }

  /** The parent's vsock folder (engine/node/vsock/endpoints.ts), made when missing. */
  vsockFolder(parentId: string): string {
    return vsockDirOf(this.options.stateDir, parentId);
  }

  /** The live vsock listeners of a parent and its enclaves. */
  vsockPortsInUse(parentId: string): Promise<readonly VsockPortInUse[]> {
    return vsockPortsInUse(this.options.stateDir, parentId);
  }

  async eifPathOf(parentId: string, enclaveId: string): Promise<string | undefined> {
    return liveRecords(this.options.stateDir).find((r) => r.parentId === parentId && r.enclaveId === enclaveId)
      ?.eifPath;
  }

  async repairState(): Promise<StateRepairReport> {
    const report = await repairState(this.options.stateDir);
    this.changed.fire({});
    return report;
  }

  isStateDamage(e: unknown): boolean {
    return e instanceof StateFileError;
  }

  async runEnclave(
    parentId: string,
    request: RunEnclaveRequest,
    options: { readonly cancellation?: CancellationLike } = {},
  ): Promise<RunEnclaveJson> {
    const parent = await this.parent(parentId);
    checkCid(request.enclaveCid ?? 0);
    const image = await checkImage(request.eifPath);
    const extra = await this.prepareRun(request, image);
    if (options.cancellation?.isCancellationRequested) throw new BackendError(0, 'run-enclave was cancelled');
    const limitMs = this.options.readyTimeoutMs ?? bootTimeoutMs(image.size, request.memoryMiB);
    const boot = { deadline: Date.now() + limitMs, limitMs, cancellation: options.cancellation };
    const { record, hostPid, heartbeat } = await this.startHostInTurn(parent, request, image, boot, extra);
    await this.awaitHeartbeat(record, hostPid, heartbeat, boot);
    return runJsonOf(record, hostPid);
  }

  /**
   * What a run adds to the enclave's record besides the plan (the machine that boots it); checked
   * before anything starts. The emulator adds nothing.
   */
  protected async prepareRun(_request: RunEnclaveRequest, _image: CheckedImage): Promise<RecordExtra> {
    return {};
  }

  /**
   * Starts the enclave's host once this run holds the parent's heartbeat port (CID 3, port 9000).
   *
   * nitro-cli binds that port in each run-enclave before it starts the enclave, so a second run on
   * the same parent while the first waits for its heartbeat fails to bind it (E36, "vsock bind
   * error"). The emulator has no peer CIDs to tell two heartbeats apart either, so it too lets one
   * run at a time hold the port; but a run that finds it held waits for its turn (within its own
   * time limit) instead of failing, so that runs started together (the extension, scripts) all
   * succeed. A port held by a run that died (its file remains, nobody listens) is taken over.
   */
  private async startHostInTurn(
    parent: ParentRecord,
    request: RunEnclaveRequest,
    image: CheckedImage,
    boot: BootWait,
    extra: RecordExtra,
  ): Promise<{ record: EnclaveRecord; hostPid: number; heartbeat: HeartbeatListener }> {
    const dir = vsockDirOf(this.options.stateDir, parent.id);
    const port = process.platform === 'win32' ? undefined : endpointPath(dir, HEARTBEAT_ADDRESS);
    let lastTry = 0;
    for (let delay = 10; ; delay = Math.min(delay * 2, 100)) {
      if (boot.cancellation?.isCancellationRequested) throw new BackendError(0, 'run-enclave was cancelled');
      // While another run's listener file is there, look again only now and then whether it is alive.
      if (port === undefined || !existsSync(port) || Date.now() - lastTry > 1000) {
        lastTry = Date.now();
        try {
          return await this.startHost(parent, request, image, dir, extra);
        } catch (e) {
          if (!(e instanceof VsockInUseError)) throw e;
        }
      }
      if (Date.now() > boot.deadline)
        throw new BackendError(
          36,
          "Enclave boot failure. Enclave boot heartbeat vsock connection: the parent's vsock port " +
            `${HEARTBEAT_ADDRESS.cid}:${HEARTBEAT_ADDRESS.port} stayed held by other run-enclave calls ` +
            `for ${Math.round(boot.limitMs / 1000)} s`,
        );
      await sleep(delay + Math.random() * delay);
    }
  }

  /**
   * Under the state lock: takes the parent's heartbeat port (VsockInUseError when another run holds
   * it), plans the run against the pool and running enclaves, writes the record and starts its host.
   */
  private startHost(
    parent: ParentRecord,
    request: RunEnclaveRequest,
    image: CheckedImage,
    vsockDir: string,
    extra: RecordExtra,
  ): Promise<{ record: EnclaveRecord; hostPid: number; heartbeat: HeartbeatListener }> {
    const state = this.options.stateDir;
    ensureStateDirs(state);
    return withStateLock(state, async () => {
      // Before the enclave starts, as nitro-cli binds it before the start ioctl.
      const heartbeat = await HeartbeatListener.listen(vsockDir);
      try {
        const pool = requireParentPool(state, parent);
        const running = liveRecords(state).filter((r) => r.parentId === parent.id);
        const plan = planRunEnclave({
          parentId: parent.id,
          topology: parent,
          pool,
          request: { ...request, eifPath: image.eifPath },
          eifFileSize: image.size,
          ...(image.signatureProblem !== undefined ? { signatureProblem: image.signatureProblem } : {}),
          running: running.map((r) => ({
            enclaveId: r.enclaveId,
            name: r.name,
            cid: r.cid,
            cpuIds: r.cpuIds,
            memoryMiB: r.memoryMiB,
          })),
          random8: new Uint8Array(randomBytes(8)),
        });
        const base: EnclaveRecord = {
          ...enclaveRecordFor(state, parent.id, plan, request, image, { runnerPid: process.pid, now: new Date() }),
          ...extra,
        };
        writeRecord(state, base);
        let pid: number;
        try {
          pid = this.spawnHost(base);
        } catch (e) {
          removeEnclaveFiles(state, base);
          throw new BackendError(5, `Process spawn failure. ${(e as Error).message}`);
        }
        const withPid = { ...base, hostPid: pid };
        writeRecord(state, withPid);
        return { record: withPid, hostPid: pid, heartbeat };
      } catch (e) {
        heartbeat.close();
        throw e;
      }
    });
  }

  /**
   * Waits for the new enclave's heartbeat (echoed by the listener); when it does not come in time,
   * is another byte, or the host exits first, kills the host, removes its files and fails with E36.
   * Reports the change either way.
   */
  private async awaitHeartbeat(
    record: EnclaveRecord,
    hostPid: number,
    heartbeat: HeartbeatListener,
    boot: BootWait,
  ): Promise<void> {
    try {
      for (;;) {
        const outcome = await Promise.race([heartbeat.outcome, sleep(100).then(() => undefined)]);
        if (outcome?.ok) return;
        if (outcome)
          throw new BackendError(
            36,
            `Enclave boot failure. Waiting on enclave to boot failed: its heartbeat was ${hexByte(outcome.byte)}, ` +
              `not ${hexByte(HEARTBEAT_BYTE)}; the enclave was terminated`,
          );
        if (boot.cancellation?.isCancellationRequested) throw new BackendError(0, 'run-enclave was cancelled');
        if (!pidAlive(hostPid))
          throw new BackendError(
            36,
            `Enclave boot failure. The enclave host process ${hostPid} exited before the enclave started ` +
              `(see ${hostLogPathOf(this.options.stateDir, record.enclaveId)})`,
          );
        if (Date.now() > boot.deadline)
          throw new BackendError(
            36,
            'Enclave boot failure. Waiting on enclave to boot failed: no heartbeat on vsock ' +
              `${HEARTBEAT_ADDRESS.cid}:${HEARTBEAT_ADDRESS.port} within ${Math.round(boot.limitMs / 1000)} s; ` +
              'the enclave was terminated',
          );
      }
    } catch (e) {
      killGroup(hostPid, 'SIGKILL');
      removeEnclaveFiles(this.options.stateDir, { ...record, hostPid: undefined });
      throw e;
    } finally {
      heartbeat.close();
      this.changed.fire({ parentId: record.parentId });
    }
  }

  private spawnHost(record: EnclaveRecord): number {
    const state = this.options.stateDir;
    const log = openSync(hostLogPathOf(state, record.enclaveId), 'w', FILE_MODE);
    try {
      const env = { ...(this.options.env ?? process.env), ELECTRON_RUN_AS_NODE: '1' };
      const child = spawn(
        this.options.nodePath ?? process.execPath,
        [
          this.options.hostScript ?? defaultHostScript(),
          ENCLAVE_HOST_SUBCOMMAND,
          path.join(enclavesDir(state), `${record.enclaveId}.json`),
        ],
        { detached: true, stdio: ['ignore', 'ignore', log], env, windowsHide: true },
      );
      child.unref();
      if (child.pid === undefined) throw new Error('the enclave host process could not be started');
      return child.pid;
    } finally {
      closeSync(log);
    }
  }

  /** Live records of a parent whose hosts answer, with their describe output. Stale ones are removed. */
  private async query(
    parentId: string,
    metadata: boolean,
  ): Promise<{ record: EnclaveRecord; json: DescribeEnclaveJson }[]> {
    const state = this.options.stateDir;
    const records = liveRecords(state).filter((r) => r.parentId === parentId && r.hostPid !== undefined);
    const answers = await Promise.all(
      records.map(async (record) => {
        try {
          const json = resultOf<DescribeEnclaveJson>(
            await requestHost(
              record.socketPath,
              { op: 'describe', metadata },
              { timeoutMs: this.options.queryTimeoutMs ?? 3000 },
            ),
          );
          return { record, json };
        } catch (e) {
          if (e instanceof HostUnreachableError && e.reason !== 'timeout' && !pidAlive(record.hostPid))
            removeEnclaveFiles(state, record);
          return undefined;
        }
      }),
    );
    return answers.filter((a): a is { record: EnclaveRecord; json: DescribeEnclaveJson } => a !== undefined);
  }

  async describeEnclaves(
    parentId: string,
    options: { readonly metadata?: boolean } = {},
  ): Promise<readonly DescribeEnclaveJson[]> {
    await this.parent(parentId);
    return (await this.query(parentId, options.metadata === true)).map((a) => a.json);
  }

  private async record(parentId: string, enclaveId: string): Promise<EnclaveRecord> {
    const found = liveRecords(this.options.stateDir).find(
      (r) => r.enclaveId === enclaveId && r.parentId === parentId && r.hostPid !== undefined,
    );
    if (!found) throw new BackendError(40, `Socket path not found. No running enclave has the id ${enclaveId}`);
    return found;
  }

  async terminateEnclave(parentId: string, enclaveId: string): Promise<TerminateEnclaveJson> {
    const record = await this.record(parentId, enclaveId);
    try {
      const result = resultOf<TerminateEnclaveJson>(
        await requestHost(record.socketPath, { op: 'terminate' }, { timeoutMs: 15_000 }),
      );
      // The host exits right after answering; wait briefly so its pid is gone for whoever looks next.
      for (let i = 0; i < 50 && pidAlive(record.hostPid); i++) await sleep(20);
      return result;
    } catch (e) {
      if (e instanceof HostUnreachableError) {
        if (!pidAlive(record.hostPid)) {
          removeEnclaveFiles(this.options.stateDir, record);
          throw new BackendError(40, `Socket path not found. No running enclave has the id ${enclaveId}`);
        }
        throw new BackendError(39, `Could not connect to the enclave process. ${e.message}`);
      }
      throw e;
    } finally {
      this.changed.fire({ parentId });
    }
  }

  /**
   * Stops every enclave host of the state folder (of one parent, given its id), found by the ids in
   * the enclaves folder's file names and the sockets they give, not by their records: this works
   * when parents.json or records are damaged. Hosts that do not answer are not there.
   */
  async terminateAllHosts(parentId?: string): Promise<TerminateEnclaveJson[]> {
    const state = this.options.stateDir;
    const ids = new Set<string>();
    const collect = (dir: string) => {
      let names: string[] = [];
      try {
        names = readdirSync(dir);
      } catch {
        /* none */
      }
      for (const name of names) {
        const m = /^(.+?)\.(json|sock|nsm\.sock|app\.pid|host\.log)$/.exec(name);
        if (
          m &&
          ENCLAVE_ID_PATTERN.test(m[1] as string) &&
          (parentId === undefined || (m[1] as string).startsWith(`${parentId}-enc`))
        )
          ids.add(m[1] as string);
      }
    };
    collect(enclavesDir(state));
    if (process.platform !== 'win32') collect(shortSocketDir(state));
    const results: TerminateEnclaveJson[] = [];
    for (const id of [...ids].sort()) {
      const socket = socketPathFor(state, id, '.sock', false);
      try {
        const described = resultOf<DescribeEnclaveJson>(
          await requestHost(socket, { op: 'describe' }, { timeoutMs: this.options.queryTimeoutMs ?? 3000 }),
        );
        results.push(
          resultOf<TerminateEnclaveJson>(await requestHost(socket, { op: 'terminate' }, { timeoutMs: 15_000 })),
        );
        for (let i = 0; i < 50 && pidAlive(described.ProcessID); i++) await sleep(20);
      } catch (e) {
        if (!(e instanceof HostUnreachableError)) throw e;
      }
    }
    if (results.length > 0) this.changed.fire({});
    return results;
  }

  async openConsole(parentId: string, enclaveId: string): Promise<ConsoleStream> {
    const record = await this.record(parentId, enclaveId);
    if (!record.debugMode) {
      throw new BackendError(
        44,
        `Console connection failure. Enclave ${enclaveId} was not started in debug mode, ` +
          `so it has no console (run it with --debug-mode)`,
      );
    }
    const net = await import('node:net');
    const socket = net.createConnection(record.socketPath);
    const reader = new FrameReader();
    const queue: Uint8Array[] = [];
    let waiting: ((v: IteratorResult<Uint8Array>) => void) | undefined;
    let closed = false;
    let accepted = false;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
            ? new BackendError(44, `Console connection failure. The enclave ${enclaveId} is not running`)
            : new BackendError(44, `Console connection failure. ${e.message}`),
        ),
      );
      socket.on('connect', () => socket.write(encodeFrame({ json: { op: 'console' } })));
      socket.on('data', (chunk: Buffer) => {
        for (const f of reader.push(chunk)) {
          if (!accepted) {
            const j = (f as { json?: { ok: boolean; code?: number; message?: string } }).json;
            if (!j?.ok) {
              socket.destroy();
              reject(new BackendError(j?.code ?? 44, j?.message ?? 'Console connection failure.'));
              return;
            }
            accepted = true;
            resolve();
          } else if (f.kind === KIND_BYTES) {
            if (waiting) {
              const w = waiting;
              waiting = undefined;
              w({ value: f.bytes, done: false });
            } else {
              queue.push(f.bytes);
            }
          }
        }
      });
      socket.on('close', () => {
        closed = true;
        if (!accepted)
          reject(new BackendError(44, `Console connection failure. The enclave ${enclaveId} closed the connection`));
        if (waiting) {
          const w = waiting;
          waiting = undefined;
          w({ value: undefined, done: true });
        }
      });
    });
    socket.on('error', () => socket.destroy());
    const chunks: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          const head = queue.shift();
          if (head) return Promise.resolve({ value: head, done: false });
          if (closed) return Promise.resolve({ value: undefined, done: true });
          return new Promise<IteratorResult<Uint8Array>>((r) => (waiting = r));
        },
        return: () => {
          socket.destroy();
          return Promise.resolve({ value: undefined, done: true });
        },
      }),
    };
    return { chunks, dispose: () => socket.destroy() };
  }

  async nsm(parentId: string, enclaveId: string, request: Uint8Array): Promise<Uint8Array> {
    const record = await this.record(parentId, enclaveId);
    try {
      const reply = await requestHost(
        record.socketPath,
        { op: 'nsm' },
        { bytes: request, expectBytes: true, timeoutMs: 15_000 },
      );
      resultOf(reply);
      if (!reply.bytes) throw new BackendError(41, 'Enclave process failed to send reply. No NSM response');
      return reply.bytes;
    } catch (e) {
      if (e instanceof HostUnreachableError)
        throw new BackendError(39, `Could not connect to the enclave process. ${e.message}`);
      throw e;
    }
  }
}

/** The embedded emulator: enclaves are modelled (no kernel boots); attached applications play their part. */
export class EmulatorBackend
  extends LocalEnclaveBackend
  implements DevelopmentRoots, ApplicationAttachment, ParentSideNsm
{
  static readonly LABEL = 'Embedded emulator';
  readonly kind = 'emulator' as const;
  readonly label = EmulatorBackend.LABEL;
  readonly attachesApplications = true as const;
  /** Its NSM is the host's, reached over the control socket (nsm() below). */
  readonly answersNsmFromParent = true as const;
  protected readonly parentNoun = 'emulated parent instance';
  protected readonly defaultParent = DEFAULT_PARENT;

  /** The development root that signs the emulator's attestation documents (created on first use). */
  async developmentRoots(): Promise<readonly DevelopmentRoot[]> {
    const { exportDevelopmentRoot } = await import('../devAttestation');
    const stateDir = this.options.stateDir;
    return [
      {
        pem: await exportDevelopmentRoot(stateDir),
        label: `the emulator's development root (${stateDir})`,
        kind: 'development',
      },
    ];
  }
}
