// The per-enclave background process (nitro-cli's "enclave process"): started detached by
// run-enclave as `node <cli.js> __enclave-host <record.json>`, it owns the enclave until it ends.
// It serves the control socket (protocol.ts), writes the console log, answers NSM requests, and runs
// the optional attached application, whose exit ends the enclave. No kernel boots: the console says
// so in its first lines.
//
// Booting is modelled as the enclave's init does it: run-enclave listens on the parent's vsock port
// 9000 before it starts the host; the host connects, sends the heartbeat byte 0xB7 and waits for the
// echo; only then does the application start (so run-enclave has reported a started enclave before
// the application can exit). When any step fails, init dies and so does the enclave.
//
// An enclave whose record names a machine (record.machine, the QEMU backend) is not modelled: the
// host boots the image in that machine (qemu/machine.ts), whose console is the enclave's console,
// whose init sends the heartbeat itself, and whose end is the enclave's end.
//
// The application runs with its parent's emulated vsock (vsock/endpoints.ts): NITRO_VSOCK_DIR is the
// folder, NITRO_PARENT_CID is 3; it binds and connects the endpoint sockets itself, as an enclave
// application binds its own vsock sockets.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fchmodSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { NsmDevice, type AttestPort } from '../../nsm/device';
import { fromHex } from '../../util/bytes';
import type { DescribeEnclaveJson, EnclaveState, TerminateEnclaveJson } from '../../platform/backend';
import { nodeHashes } from '../nodeHashes';
import { HEARTBEAT_BYTE, HEARTBEAT_PORT, PARENT_CID, connectVsock, vsockDirOf } from '../vsock/endpoints';
import {
  FrameReader,
  KIND_BYTES,
  KIND_JSON,
  LengthPrefixedReader,
  encodeFrame,
  lengthPrefixed,
  type Frame,
} from './protocol';
import type { QemuEnclaveMachine } from '../qemu/machine';
import {
  FILE_MODE,
  killGroup,
  readRecord,
  removeRecordFiles,
  shortSocketDir,
  writeAppPid,
  type EnclaveRecord,
} from './state';

/** Answers one NSM request (CBOR bytes) with the response's CBOR bytes. */
export type NsmHandler = (request: Uint8Array) => Promise<Uint8Array>;

/** Largest NSM request accepted on the application's socket (the device's buffers are smaller still). */
const NSM_MAX_MESSAGE = 64 * 1024;
/** Largest frame accepted on the control socket (requests are JSON or one NSM request). */
const CONTROL_MAX_FRAME = NSM_MAX_MESSAGE + 1024;
/** How long the application gets between SIGTERM and SIGKILL when the enclave is terminated. */
const APP_STOP_GRACE_MS = 2000;

/** What one host holds for its clients at most: a client that sends and never reads is paused, not buffered. */
export interface HostLimits {
  /** NSM connections open at once; more are closed at once (default 32). */
  readonly nsmConnections: number;
  /** Control connections open at once; more are closed at once (default 128). */
  readonly controlConnections: number;
  /**
   * Reply bytes a connection may leave unread before the host stops reading its requests (default
   * 256 KiB). Received bytes not yet answered stay below one read plus one request.
   */
  readonly unsentBytes: number;
  /** Console bytes a live console client may leave unread before it is disconnected (default 4 MiB). */
  readonly consoleUnsentBytes: number;
}

export const DEFAULT_HOST_LIMITS: HostLimits = {
  nsmConnections: 32,
  controlConnections: 128,
  unsentBytes: 256 * 1024,
  consoleUnsentBytes: 4 * 1024 * 1024,
};

/** What the host's connections hold right now and held at most (for tests and diagnostics). */
export interface HostStats {
  nsmConnections: number;
  nsmRefused: number;
  controlConnections: number;
  controlRefused: number;
  /** NSM connections whose reading is paused (answering what was read, or waiting for their replies to be read). */
  nsmPaused: number;
  /** NSM connections waiting for the client to read replies ('drain') before anything more is read. */
  nsmWaitingForDrain: number;
  /** The most reply bytes one connection had unsent, and received bytes not yet answered. */
  maxUnsentBytes: number;
  maxUnreadBytes: number;
  consolesDropped: number;
}

export const newHostStats = (): HostStats => ({
  nsmConnections: 0,
  nsmRefused: 0,
  controlConnections: 0,
  controlRefused: 0,
  nsmPaused: 0,
  nsmWaitingForDrain: 0,
  maxUnsentBytes: 0,
  maxUnreadBytes: 0,
  consolesDropped: 0,
});

export interface EnclaveHostOptions {
  /** The NSM of this enclave; default: createEnclaveNsm. */
  readonly nsm?: (record: EnclaveRecord, stateDir: string) => NsmHandler;
  /** The environment the application inherits (default: this process's). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Stop the enclave on SIGTERM, SIGINT and SIGHUP (default true; false when a test runs the host in its own process).
   */
  readonly handleSignals?: boolean;
  readonly limits?: Partial<HostLimits>;
  /** Updated as connections come and go. */
  readonly stats?: HostStats;
}

/**
 * The enclave's NSM: the emulated device with the image's measurements, PCR3 from the IAM role and
 * PCR4 from the parent; attestation documents are signed by the state folder's development CA
 * (never presented as AWS-signed). ── NSM plug-in point: another NSM goes here. ──
 */
export function createEnclaveNsm(record: EnclaveRecord, stateDir: string): NsmHandler {
  if (record.machine)
    return () =>
      Promise.reject(
        new Error(`enclave ${record.enclaveId} runs in QEMU: its NSM is QEMU's device, reached only from inside it`),
      );
  let attest: Promise<AttestPort> | undefined;
  const m = record.measurements;
  const device = new NsmDevice({
    enclaveId: record.enclaveId,
    parentInstanceId: record.parentId,
    ...(record.iamRoleArn ? { iamRoleArn: record.iamRoleArn } : {}),
    measurements: {
      pcr0: fromHex(m.PCR0),
      pcr1: fromHex(m.PCR1),
      pcr2: fromHex(m.PCR2),
      ...(m.PCR8 ? { pcr8: fromHex(m.PCR8) } : {}),
    },
    debugMode: record.debugMode,
    hashes: nodeHashes,
    random: (n) => new Uint8Array(randomBytes(n)),
    attest: async (fields) => {
      // Loaded on the first attestation request: the X.509 library is the bulk of the host's start-up time.
      attest ??= import('../devAttestation').then(({ DevelopmentCa, developmentAttestPort }) =>
        DevelopmentCa.load(stateDir).then((ca) => developmentAttestPort(ca)),
      );
      return (await attest)(fields);
    },
  });
  return (request) => device.handle(request);
}

const hexByte = (b: number) => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`;

/**
 * The console's first lines: what this enclave is, that it is emulated, and (given its parent's
 * vsock folder) where its emulated vsock is.
 */
export function bootLines(record: EnclaveRecord, vsockDir?: string): string {
  if (record.machine) return qemuBootLines(record, vsockDir);
  const lines = [
    `[nitro-dev emulator] Enclave ${record.enclaveId} ("${record.name}") is emulated: ` +
      `no kernel boots and the image's code does not run.`,
    `[nitro-dev emulator] Image ${record.eifPath}; the image's PCR0 is ${record.measurements.PCR0}.`,
    `[nitro-dev emulator] CID ${record.cid}, ${record.cpuIds.length} vCPUs [${record.cpuIds.join(', ')}], ` +
      `${record.memoryMiB} MiB, ${record.debugMode ? 'debug mode' : 'production mode'}.`,
  ];
  if (vsockDir !== undefined) {
    lines.push(
      `[nitro-dev emulator] Vsock: the parent's emulated vsock folder is ${vsockDir} (NITRO_VSOCK_DIR); ` +
        `the parent's port P is ${PARENT_CID}.P.sock there, this enclave's own port P is ${record.cid}.P.sock.`,
    );
  }
  if (record.debugMode) {
    lines.push(
      `[nitro-dev emulator] Debug mode: this enclave's NSM reports PCR0, PCR1, PCR2 and PCR8 as zeros, ` +
        `as Nitro does for debug-mode enclaves, so DescribePCR and its attestation documents show zeros, ` +
        `not the image's PCR0 above.`,
    );
  }
  if (record.app) {
    lines.push(
      '[nitro-dev emulator] Starting the attached application: ' +
        [record.app.command, ...(record.app.args ?? [])].join(' '),
    );
  } else {
    lines.push('[nitro-dev emulator] No application is attached; the enclave idles until it is terminated.');
  }
  return lines.join('\n') + '\n';
}

/** The console's first lines for an enclave QEMU boots. */
function qemuBootLines(record: EnclaveRecord, vsockDir?: string): string {
  const machine = record.machine;
  const lines = [
    `[nitro-dev qemu] Enclave ${record.enclaveId} ("${record.name}") boots in QEMU's nitro-enclave machine ` +
      `(${machine?.accel === 'kvm' ? 'KVM' : 'TCG, software emulation'}): ` +
      "the image's own kernel, init and application run.",
    `[nitro-dev qemu] Image ${record.eifPath}; the image's PCR0 is ${record.measurements.PCR0}.`,
    `[nitro-dev qemu] CID ${record.cid}, ${record.cpuIds.length} vCPUs, ${record.memoryMiB} MiB, ` +
      `${record.debugMode ? 'debug mode' : 'production mode'}.`,
    "[nitro-dev qemu] Its NSM is QEMU's: attestation documents are NOT signed (no certificate, a zero signature), " +
      'and debug mode does not zero the PCRs.',
  ];
  if (vsockDir !== undefined)
    lines.push(
      `[nitro-dev qemu] Vsock: the parent's vsock folder is ${vsockDir}; the parent's port P is ${PARENT_CID}.P.sock ` +
        `there, and ${record.cid}.vm.sock reaches this enclave's ports.`,
    );
  return lines.join('\n') + '\n';
}

/** Runs the host of the enclave whose record is at `recordPath`; resolves when the enclave has ended. */
export async function runEnclaveHost(recordPath: string, options: EnclaveHostOptions = {}): Promise<number> {
  const record = readRecord(recordPath);
  if (!record) throw new Error(`no enclave record at ${recordPath}`);
  const host = new EnclaveHost(record, path.dirname(path.dirname(recordPath)), options);
  await host.listen();
  if (record.machine) void host.bootMachine();
  else void host.heartbeat();
  if (options.handleSignals !== false) host.stopOnSignals();
  return host.ended;
}

/** Sends a frame on a control connection; replies the client leaves unread pause its requests. */
type SendFrame = (frame: Buffer) => void;
/** Sends a JSON reply on a control connection. */
type Reply = (json: unknown) => void;

/** One enclave's host: its console, its control and NSM sockets, its application, and how it stops. */
class EnclaveHost {
  /** Resolves with the exit code once the enclave has ended and everything is closed. */
  readonly ended: Promise<number>;
  private resolveEnded!: (code: number) => void;
  private readonly nsm: NsmHandler;
  private readonly limits: HostLimits;
  private readonly stats: HostStats;
  private enclaveState: EnclaveState = 'RUNNING';
  /** The console log: what a debug console would show, kept after the enclave ends; the user's alone. */
  private readonly logFd: number;
  private readonly consoles = new Set<net.Socket>();
  private readonly control: net.Server;
  private readonly nsmServer: net.Server;
  private app: ChildProcess | undefined;
  private appExited: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;
  /** Whether the console has told of a refused connection in the last second. */
  private refusing = false;
  private started = false;
  /** The parent's vsock folder: the heartbeat goes there, and the application gets it. */
  private readonly vsockDir: string;
  /** The machine that boots the image (record.machine), once started. */
  private machine: QemuEnclaveMachine | undefined;

  constructor(
    private readonly record: EnclaveRecord,
    private readonly state: string,
    private readonly options: EnclaveHostOptions,
  ) {
    this.nsm = (options.nsm ?? createEnclaveNsm)(record, state);
    this.limits = { ...DEFAULT_HOST_LIMITS, ...options.limits };
    this.stats = options.stats ?? newHostStats();
    this.logFd = openSync(record.consoleLogPath, 'w', FILE_MODE);
    if (process.platform !== 'win32') fchmodSync(this.logFd, FILE_MODE);
    this.vsockDir = vsockDirOf(state, record.parentId, false);
    this.writeConsole(bootLines(record, this.vsockDir));
    this.ended = new Promise<number>((r) => (this.resolveEnded = r));
    this.control = net.createServer((socket) => {
      if (this.stats.controlConnections >= this.limits.controlConnections) return this.refuse(socket, 'control');
      this.stats.controlConnections++;
      socket.once('close', () => this.stats.controlConnections--);
      this.serveControl(socket);
    });
    this.nsmServer = net.createServer((socket) => {
      if (this.stats.nsmConnections >= this.limits.nsmConnections) return this.refuse(socket, 'nsm');
      this.stats.nsmConnections++;
      socket.once('close', () => this.stats.nsmConnections--);
      this.serveNsm(socket);
    });
  }

  /** Writes to the console log and to every live console client. */
  private writeConsole(bytes: Uint8Array | string): void {
    const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes);
    try {
      writeSync(this.logFd, buf);
    } catch {
      /* disk full: the live console still gets it */
    }
    const frame = encodeFrame({ bytes: buf });
    for (const c of this.consoles) {
      // A console client that stops reading is let go rather than buffered for without end.
      if (c.writableLength > this.limits.consoleUnsentBytes) {
        this.stats.consolesDropped++;
        this.consoles.delete(c);
        c.destroy();
      } else {
        c.write(frame);
      }
    }
  }

  /**
   * Closes a connection over the limit at once, without reading it; the console says so once per
   * burst (a flood of refused connections does not flood the log).
   */
  private refuse(socket: net.Socket, which: 'nsm' | 'control'): void {
    if (which === 'nsm') this.stats.nsmRefused++;
    else this.stats.controlRefused++;
    socket.on('error', () => undefined);
    socket.destroy();
    if (!this.refusing) {
      this.refusing = true;
      const limit = which === 'nsm' ? this.limits.nsmConnections : this.limits.controlConnections;
      this.writeConsole(
        `[nitro-dev emulator] Refused a connection to the ${which === 'nsm' ? 'NSM' : 'control'} socket: ` +
          `${limit} are open already (the limit).\n`,
      );
      setTimeout(() => (this.refusing = false), 1000).unref();
    }
  }

  /** Listens on the NSM and control sockets, which only the user may use. */
  async listen(): Promise<void> {
    const record = this.record;
    if (process.platform !== 'win32') {
      rmSync(record.socketPath, { force: true });
      rmSync(record.nsmSocketPath, { force: true });
    }
    await Promise.all([listen(this.nsmServer, record.nsmSocketPath), listen(this.control, record.socketPath)]);
    if (process.platform !== 'win32')
      for (const s of [record.socketPath, record.nsmSocketPath]) chmodSync(s, FILE_MODE);
  }

  /** Stops the application (SIGTERM, then SIGKILL), closes the sockets and removes the enclave's files; once. */
  private stop(reason: string): Promise<void> {
    if (this.stopping) return this.stopping;
    this.enclaveState = 'TERMINATING';
    this.stopping = this.windDown(reason);
    return this.stopping;
  }

  /** What stop does, the first time. */
  private async windDown(reason: string): Promise<void> {
    const app = this.app;
    if (app && app.exitCode === null && app.signalCode === null && app.pid !== undefined) {
      killGroup(app.pid, 'SIGTERM');
      const timer = setTimeout(
        () => this.app?.pid !== undefined && killGroup(this.app.pid, 'SIGKILL'),
        APP_STOP_GRACE_MS,
      );
      await this.appExited;
      clearTimeout(timer);
    }
    if (this.machine) {
      await this.machine
        .stop()
        .catch((e: unknown) => this.writeConsole(`[nitro-dev qemu] Stopping QEMU: ${String(e)}\n`));
    }
    this.writeConsole(
      `[nitro-dev ${this.record.machine ? 'qemu' : 'emulator'}] Enclave ${this.record.enclaveId} ${reason}.\n`,
    );
    this.control.close();
    this.nsmServer.close();
    removeRecordFiles(this.state, this.record);
  }

  /** Ends the console clients and the log, and resolves `ended`. */
  private finish(): void {
    for (const c of this.consoles) c.end();
    this.consoles.clear();
    try {
      closeSync(this.logFd);
    } catch {
      /* closed */
    }
    this.resolveEnded(0);
  }

  /** Stops the enclave for `reason`, then finishes. */
  private stopAndFinish(reason: string): void {
    void this.stop(reason).then(() => this.finish());
  }

  /**
   * The boot heartbeat, as init sends it: connect to the parent's vsock port 9000, send 0xB7, read
   * the echo. The application starts only after the echo: run-enclave echoes once it has the
   * enclave, so an application that exits at once still leaves it a started enclave to report.
   * Like init, which dies when any step fails, the enclave ends when the heartbeat fails (nothing
   * listens, the connection closes before the echo, or the echo is another byte).
   */
  async heartbeat(): Promise<void> {
    let socket: net.Socket;
    try {
      socket = await connectVsock(this.vsockDir, { cid: PARENT_CID, port: HEARTBEAT_PORT });
    } catch (e) {
      this.bootFailed(`its boot heartbeat did not reach the parent (${(e as Error).message})`);
      return;
    }
    const echo = await new Promise<number | undefined>((resolve) => {
      socket.once('data', (b: Buffer) => resolve(b[0]));
      socket.once('close', () => resolve(undefined));
      socket.on('error', () => socket.destroy());
      socket.write(Buffer.of(HEARTBEAT_BYTE));
    });
    socket.destroy();
    if (this.stopping) return;
    if (echo === HEARTBEAT_BYTE) this.startApp();
    else
      this.bootFailed(
        echo === undefined
          ? 'the parent closed its boot heartbeat connection without the echo'
          : `the parent echoed its boot heartbeat as ${hexByte(echo)}, not ${hexByte(HEARTBEAT_BYTE)}`,
      );
  }

  /**
   * Boots the image in its machine (record.machine): the machine's init sends the heartbeat that
   * run-enclave waits for; the machine's end is the enclave's end.
   */
  async bootMachine(): Promise<void> {
    const spec = this.record.machine;
    if (!spec) return;
    try {
      const { QemuEnclaveMachine } = await import('../qemu/machine');
      const record = this.record;
      const runDir = path.join(shortSocketDir(this.state), `q-${record.enclaveId.slice(-16)}`);
      const machine = new QemuEnclaveMachine(
        spec,
        {
          enclaveId: record.enclaveId,
          parentId: record.parentId,
          cid: record.cid,
          cpuCount: record.cpuIds.length,
          memoryMiB: record.memoryMiB,
          eifPath: record.eifPath,
          ...(record.iamRoleArn ? { iamRoleArn: record.iamRoleArn } : {}),
        },
        vsockDirOf(this.state, record.parentId),
        runDir,
        {
          console: (bytes) => this.writeConsole(bytes),
          note: (line) => this.writeConsole(`[nitro-dev qemu] ${line}\n`),
          ended: (reason) => {
            if (!this.stopping) this.stopAndFinish(`ended: ${reason}`);
          },
        },
      );
      this.machine = machine;
      if (this.stopping) return;
      await machine.start();
    } catch (e) {
      this.bootFailed(`QEMU could not boot it (${e instanceof Error ? e.message : String(e)})`);
    }
  }

  /** Ends the enclave because it did not boot. */
  private bootFailed(reason: string): void {
    if (this.stopping) return;
    this.stopAndFinish(`ended: ${reason}`);
  }

  /** Starts the attached application, if any; once. */
  private startApp(): void {
    if (this.started) return;
    this.started = true;
    if (this.record.app) this.launchApp(this.record.app);
  }

  /** Spawns the application in its own process group, its output to the console; its exit ends the enclave. */
  private launchApp(appSpec: NonNullable<EnclaveRecord['app']>): void {
    const record = this.record;
    const env = { ...(this.options.env ?? process.env) } as Record<string, string>;
    env.NITRO_ENCLAVE_ID = record.enclaveId;
    env.NITRO_ENCLAVE_CID = String(record.cid);
    env.NITRO_NSM_SOCKET = record.nsmSocketPath;
    env.NITRO_VSOCK_DIR = this.vsockDir;
    env.NITRO_PARENT_CID = String(PARENT_CID);
    try {
      this.app = spawn(appSpec.command, [...(appSpec.args ?? [])], {
        cwd: appSpec.cwd ?? path.dirname(record.eifPath),
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: process.platform !== 'win32',
        windowsHide: true,
      });
    } catch (e) {
      this.writeConsole(`[nitro-dev emulator] The application could not be started: ${(e as Error).message}\n`);
    }
    if (!this.app) {
      this.stopAndFinish('ended: its application could not be started');
      return;
    }
    const child = this.app;
    this.appExited = new Promise((r) => child.once('close', () => r()));
    child.on('error', (e) =>
      this.writeConsole(`[nitro-dev emulator] The application could not be started: ${e.message}\n`),
    );
    child.stdout?.on('data', (b: Buffer) => this.writeConsole(b));
    child.stderr?.on('data', (b: Buffer) => this.writeConsole(b));
    // With its start time: cleanup after a host's death kills it only while it is still this process.
    if (child.pid !== undefined) writeAppPid(this.state, record.enclaveId, child.pid);
    child.once('close', (code, signal) => {
      if (this.stopping) return;
      this.stopAndFinish(`ended: its application exited with ${signal ? `signal ${signal}` : `code ${code}`}`);
    });
  }

  /** Stops the enclave on SIGTERM, SIGINT and SIGHUP. */
  stopOnSignals(): void {
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      process.on(signal, () => this.stopAndFinish(`was stopped (${signal})`));
    }
  }

  /** describe-enclaves' entry for this enclave. */
  private describe(metadata: boolean): DescribeEnclaveJson {
    const record = this.record;
    return {
      EnclaveName: record.name,
      EnclaveID: record.enclaveId,
      ProcessID: process.pid,
      EnclaveCID: record.cid,
      NumberOfCPUs: record.cpuIds.length,
      CPUIDs: record.cpuIds,
      MemoryMiB: record.memoryMiB,
      State: this.enclaveState,
      Flags: record.debugMode ? 'DEBUG_MODE' : 'NONE',
      Measurements: record.measurements,
      ...(metadata && record.imageName !== undefined ? { ImageName: record.imageName } : {}),
      ...(metadata && record.imageVersion !== undefined ? { ImageVersion: record.imageVersion } : {}),
      ...(metadata && record.metadata !== undefined ? { Metadata: record.metadata } : {}),
    };
  }

  /** A control connection: JSON requests, each answered in order; an 'nsm' request is followed by its bytes. */
  private serveControl(socket: net.Socket): void {
    // Requests are small (an NSM request at most); replies the client leaves unread pause its requests.
    const reader = new FrameReader(CONTROL_MAX_FRAME);
    let pendingNsm = false;
    socket.on('error', () => socket.destroy());
    socket.on('drain', () => socket.resume());
    const send: SendFrame = (frame) => {
      if (!socket.write(frame) && socket.writableLength >= this.limits.unsentBytes && !this.consoles.has(socket))
        socket.pause();
      this.stats.maxUnsentBytes = Math.max(this.stats.maxUnsentBytes, socket.writableLength);
    };
    const reply: Reply = (json) => send(encodeFrame({ json }));
    socket.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = reader.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const f of frames) {
        if (pendingNsm) {
          pendingNsm = false;
          this.answerNsmFrame(f, send, reply);
        } else if (f.kind !== KIND_JSON) {
          reply({ ok: false, code: 14, message: 'Invalid command. Expected a JSON request' });
        } else {
          pendingNsm = this.controlRequest(socket, f.json, reply);
        }
      }
    });
  }

  /** The bytes of an NSM request made over the control socket: `{ok: true}` and the response's bytes. */
  private answerNsmFrame(f: Frame, send: SendFrame, reply: Reply): void {
    if (f.kind !== KIND_BYTES) {
      reply({ ok: false, code: 14, message: 'Invalid command. An NSM request must be followed by its bytes' });
      return;
    }
    void this.nsm(f.bytes).then(
      (response) => {
        reply({ ok: true });
        send(encodeFrame({ bytes: response }));
      },
      (e: Error) => reply({ ok: false, code: 0, message: `The NSM failed: ${e.message}` }),
    );
  }

  /** Answers one JSON request on a control connection; true when it is 'nsm' (the request's bytes come next). */
  private controlRequest(socket: net.Socket, json: unknown, reply: Reply): boolean {
    const record = this.record;
    const op = (json as { op?: string; metadata?: boolean }).op;
    if (op === 'describe') {
      reply({ ok: true, result: this.describe((json as { metadata?: boolean }).metadata === true) });
    } else if (op === 'terminate') {
      const result: TerminateEnclaveJson = { EnclaveName: record.name, EnclaveID: record.enclaveId, Terminated: true };
      void this.stop('was terminated').then(() => {
        socket.end(encodeFrame({ json: { ok: true, result } }), () => this.finish());
      });
    } else if (op === 'console') {
      this.attachConsole(socket, reply);
    } else if (op === 'record') {
      // The record as this host holds it: what repair-state writes back when the file is damaged.
      reply({ ok: true, result: { ...record, hostPid: process.pid } });
    } else if (op === 'nsm') {
      return true;
    } else {
      reply({ ok: false, code: 14, message: `Invalid command. Unknown request '${String(op)}'` });
    }
    return false;
  }

  /** 'console': the log so far, then what comes, for a debug-mode enclave (E44 otherwise). */
  private attachConsole(socket: net.Socket, reply: Reply): void {
    const record = this.record;
    if (!record.debugMode) {
      reply({
        ok: false,
        code: 44,
        message:
          `Console connection failure. Enclave ${record.enclaveId} was not started in debug mode, ` +
          `so it has no console (run it with --debug-mode)`,
      });
      return;
    }
    reply({ ok: true });
    // History and subscription in one tick: nothing is lost or repeated in between.
    socket.write(encodeFrame({ bytes: readFileSync(record.consoleLogPath) }));
    if (this.stopping) socket.end();
    else {
      this.consoles.add(socket);
      socket.on('close', () => this.consoles.delete(socket));
    }
  }

  /**
   * The application's NSM socket: one request at a time, in order. Backpressure: while a reply is
   * unsent beyond the limit (the client does not read) or requests are waiting to be answered, the
   * socket is paused, so a client that pipelines without reading fills its own buffers, not the host's.
   */
  private serveNsm(socket: net.Socket): void {
    const { stats, limits, nsm } = this;
    const reader = new LengthPrefixedReader(NSM_MAX_MESSAGE);
    let busy = false;
    let paused = false;
    let waiting = false;
    const wait = (on: boolean) => {
      if (on !== waiting) stats.nsmWaitingForDrain += on ? 1 : -1;
      waiting = on;
    };
    const pause = () => {
      if (paused) return;
      paused = true;
      stats.nsmPaused++;
      socket.pause();
    };
    const resume = () => {
      if (!paused || socket.destroyed) return;
      paused = false;
      stats.nsmPaused--;
      socket.resume();
    };
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (paused) stats.nsmPaused--;
      paused = false;
      wait(false);
    });
    socket.on('drain', () => {
      wait(false);
      void pump();
    });
    socket.on('data', (chunk: Buffer) => {
      reader.append(chunk);
      stats.maxUnreadBytes = Math.max(stats.maxUnreadBytes, reader.buffered);
      // Requests are answered one by one; read more only when they are.
      pause();
      void pump();
    });
    const pump = async () => {
      if (busy) return;
      busy = true;
      try {
        while (!socket.destroyed) {
          if (socket.writableNeedDrain && socket.writableLength >= limits.unsentBytes) {
            wait(true); // 'drain' pumps again
            return;
          }
          let request: Uint8Array | undefined;
          try {
            request = reader.next();
          } catch {
            socket.destroy();
            return;
          }
          if (!request) {
            resume(); // everything received is answered: read on
            return;
          }
          const response = await nsm(request);
          if (socket.destroyed) return;
          socket.write(lengthPrefixed(response));
          stats.maxUnsentBytes = Math.max(stats.maxUnsentBytes, socket.writableLength);
        }
      } catch {
        socket.destroy();
      } finally {
        busy = false;
      }
    };
  }
}

function listen(server: net.Server, where: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
