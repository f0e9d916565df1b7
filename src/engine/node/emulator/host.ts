// The per-enclave background process (nitro-cli's "enclave process"): started detached by
// run-enclave as `node <cli.js> __enclave-host <record.json>`, it owns the enclave until it ends.
// It serves the control socket (protocol.ts), writes the console log, answers NSM requests, and runs
// the optional attached application, whose exit ends the enclave. No kernel boots: the console says
// so in its first lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { NsmDevice, type AttestPort } from '../../nsm/device';
import { fromHex } from '../../util/bytes';
import type { DescribeEnclaveJson, EnclaveState, TerminateEnclaveJson } from '../../platform/backend';
import { nodeHashes } from '../nodeHashes';
import { FrameReader, KIND_BYTES, KIND_JSON, LengthPrefixedReader, encodeFrame, lengthPrefixed, type Frame } from './protocol';
import { appPidPathOf, hostLogPathOf, killGroup, readRecordFile, recordPathOf, type EnclaveRecord } from './state';

/** Answers one NSM request (CBOR bytes) with the response's CBOR bytes. */
export type NsmHandler = (request: Uint8Array) => Promise<Uint8Array>;

/** Largest NSM request accepted on the application's socket (the device's buffers are smaller still). */
const NSM_MAX_MESSAGE = 64 * 1024;
/** How long the application gets between SIGTERM and SIGKILL when the enclave is terminated. */
const APP_STOP_GRACE_MS = 2000;

export interface EnclaveHostOptions {
  /** The NSM of this enclave; default: createEnclaveNsm. */
  readonly nsm?: (record: EnclaveRecord, stateDir: string) => NsmHandler;
  /** The environment the application inherits (default: this process's). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * The enclave's NSM: the emulated device with the image's measurements, PCR3 from the IAM role and
 * PCR4 from the parent; attestation documents are signed by the state folder's development CA
 * (never presented as AWS-signed). ── NSM plug-in point: another NSM goes here. ──
 */
export function createEnclaveNsm(record: EnclaveRecord, stateDir: string): NsmHandler {
  let attest: Promise<AttestPort> | undefined;
  const m = record.measurements;
  const device = new NsmDevice({
    enclaveId: record.enclaveId,
    parentInstanceId: record.parentId,
    ...(record.iamRoleArn ? { iamRoleArn: record.iamRoleArn } : {}),
    measurements: { pcr0: fromHex(m.PCR0), pcr1: fromHex(m.PCR1), pcr2: fromHex(m.PCR2), ...(m.PCR8 ? { pcr8: fromHex(m.PCR8) } : {}) },
    debugMode: record.debugMode,
    hashes: nodeHashes,
    random: (n) => new Uint8Array(randomBytes(n)),
    attest: async (fields) => {
      // Loaded on the first attestation request: the X.509 library is the bulk of the host's start-up time.
      attest ??= import('../devAttestation').then(({ DevelopmentCa, developmentAttestPort }) => DevelopmentCa.load(stateDir).then((ca) => developmentAttestPort(ca)));
      return (await attest)(fields);
    },
  });
  return (request) => device.handle(request);
}

/** The console's first lines: what this enclave is, and that it is emulated. */
export function bootLines(record: EnclaveRecord): string {
  const lines = [
    `[nitro-dev emulator] Enclave ${record.enclaveId} ("${record.name}") is emulated: no kernel boots and the image's code does not run.`,
    `[nitro-dev emulator] Image ${record.eifPath}; PCR0 ${record.measurements.PCR0}.`,
    `[nitro-dev emulator] CID ${record.cid}, ${record.cpuIds.length} vCPUs [${record.cpuIds.join(', ')}], ${record.memoryMiB} MiB, ${record.debugMode ? 'debug mode' : 'production mode'}.`,
  ];
  if (record.app) {
    lines.push(`[nitro-dev emulator] Starting the attached application: ${[record.app.command, ...(record.app.args ?? [])].join(' ')}`);
  } else {
    lines.push('[nitro-dev emulator] No application is attached; the enclave idles until it is terminated.');
  }
  return lines.join('\n') + '\n';
}

/** Runs the host of the enclave whose record is at `recordPath`; resolves when the enclave has ended. */
export async function runEnclaveHost(recordPath: string, options: EnclaveHostOptions = {}): Promise<number> {
  const record = readRecordFile(recordPath);
  if (!record) throw new Error(`no enclave record at ${recordPath}`);
  const state = path.dirname(path.dirname(recordPath));
  let enclaveState: EnclaveState = 'RUNNING';
  const nsm = (options.nsm ?? createEnclaveNsm)(record, state);

  // The console log: what a debug console would show, kept after the enclave ends.
  const logFd = openSync(record.consoleLogPath, 'w', 0o644);
  const consoles = new Set<net.Socket>();
  const writeConsole = (bytes: Uint8Array | string) => {
    const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes);
    try {
      writeSync(logFd, buf);
    } catch {
      /* disk full: the live console still gets it */
    }
    const frame = encodeFrame({ bytes: buf });
    for (const c of consoles) c.write(frame);
  };
  writeConsole(bootLines(record));

  let ended!: (code: number) => void;
  const endedPromise = new Promise<number>((r) => (ended = r));
  let app: ChildProcess | undefined;
  let appExited: Promise<void> = Promise.resolve();
  let stopping: Promise<void> | undefined;

  const control = net.createServer((socket) => serveControl(socket));
  const nsmServer = net.createServer((socket) => serveNsm(socket));
  if (process.platform !== 'win32') {
    rmSync(record.socketPath, { force: true });
    rmSync(record.nsmSocketPath, { force: true });
  }
  await Promise.all([listen(nsmServer, record.nsmSocketPath), listen(control, record.socketPath)]);

  const stop = (reason: string): Promise<void> => {
    if (stopping) return stopping;
    enclaveState = 'TERMINATING';
    stopping = (async () => {
      if (app && app.exitCode === null && app.signalCode === null && app.pid !== undefined) {
        killGroup(app.pid, 'SIGTERM');
        const timer = setTimeout(() => app?.pid !== undefined && killGroup(app.pid, 'SIGKILL'), APP_STOP_GRACE_MS);
        await appExited;
        clearTimeout(timer);
      }
      writeConsole(`[nitro-dev emulator] Enclave ${record.enclaveId} ${reason}.\n`);
      control.close();
      nsmServer.close();
      for (const f of [recordPathOf(state, record.enclaveId), appPidPathOf(state, record.enclaveId), hostLogPathOf(state, record.enclaveId)]) rmSync(f, { force: true });
      if (process.platform !== 'win32') for (const s of [record.socketPath, record.nsmSocketPath]) rmSync(s, { force: true });
    })();
    return stopping;
  };
  const finish = () => {
    for (const c of consoles) c.end();
    consoles.clear();
    try {
      closeSync(logFd);
    } catch {
      /* closed */
    }
    ended(0);
  };

  // The application starts when run-enclave, having reached the host, says so ('start'): an
  // application that exits at once still leaves run-enclave a started enclave to report.
  let started = false;
  const startApp = () => {
    if (started) return;
    started = true;
    clearTimeout(startAnyway);
    if (record.app) launchApp(record.app);
  };
  // Should run-enclave never get there (it died), the application starts anyway after a while.
  const startAnyway = setTimeout(startApp, 30_000);
  const launchApp = (appSpec: NonNullable<EnclaveRecord['app']>) => {
    const env = { ...(options.env ?? process.env) } as Record<string, string>;
    env.NITRO_ENCLAVE_ID = record.enclaveId;
    env.NITRO_ENCLAVE_CID = String(record.cid);
    env.NITRO_NSM_SOCKET = record.nsmSocketPath;
    try {
      app = spawn(appSpec.command, [...(appSpec.args ?? [])], {
        cwd: appSpec.cwd ?? path.dirname(record.eifPath),
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: process.platform !== 'win32',
        windowsHide: true,
      });
    } catch (e) {
      writeConsole(`[nitro-dev emulator] The application could not be started: ${(e as Error).message}\n`);
    }
    if (app) {
      const child = app;
      appExited = new Promise((r) => child.once('close', () => r()));
      child.on('error', (e) => writeConsole(`[nitro-dev emulator] The application could not be started: ${e.message}\n`));
      child.stdout?.on('data', (b: Buffer) => writeConsole(b));
      child.stderr?.on('data', (b: Buffer) => writeConsole(b));
      if (child.pid !== undefined) writeFileSync(appPidPathOf(state, record.enclaveId), `${child.pid}\n`);
      child.once('close', (code, signal) => {
        if (stopping) return;
        void stop(`ended: its application exited with ${signal ? `signal ${signal}` : `code ${code}`}`).then(finish);
      });
    } else {
      void stop('ended: its application could not be started').then(finish);
    }
  };

  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(signal, () => void stop(`was stopped (${signal})`).then(finish));
  }

  function describe(metadata: boolean): DescribeEnclaveJson {
    return {
      EnclaveName: record!.name,
      EnclaveID: record!.enclaveId,
      ProcessID: process.pid,
      EnclaveCID: record!.cid,
      NumberOfCPUs: record!.cpuIds.length,
      CPUIDs: record!.cpuIds,
      MemoryMiB: record!.memoryMiB,
      State: enclaveState,
      Flags: record!.debugMode ? 'DEBUG_MODE' : 'NONE',
      Measurements: record!.measurements,
      ...(metadata && record!.imageName !== undefined ? { ImageName: record!.imageName } : {}),
      ...(metadata && record!.imageVersion !== undefined ? { ImageVersion: record!.imageVersion } : {}),
      ...(metadata && record!.metadata !== undefined ? { Metadata: record!.metadata } : {}),
    };
  }

  function serveControl(socket: net.Socket): void {
    const reader = new FrameReader();
    let pendingNsm = false;
    socket.on('error', () => socket.destroy());
    const reply = (json: unknown) => socket.write(encodeFrame({ json }));
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
          if (f.kind !== KIND_BYTES) {
            reply({ ok: false, code: 14, message: 'Invalid command. An NSM request must be followed by its bytes' });
            continue;
          }
          void nsm(f.bytes).then(
            (response) => {
              reply({ ok: true });
              socket.write(encodeFrame({ bytes: response }));
            },
            (e: Error) => reply({ ok: false, code: 0, message: `The NSM failed: ${e.message}` }),
          );
          continue;
        }
        if (f.kind !== KIND_JSON) {
          reply({ ok: false, code: 14, message: 'Invalid command. Expected a JSON request' });
          continue;
        }
        const op = (f.json as { op?: string; metadata?: boolean }).op;
        if (op === 'start') {
          startApp();
          reply({ ok: true });
        } else if (op === 'describe') {
          reply({ ok: true, result: describe((f.json as { metadata?: boolean }).metadata === true) });
        } else if (op === 'terminate') {
          const result: TerminateEnclaveJson = { EnclaveName: record!.name, EnclaveID: record!.enclaveId, Terminated: true };
          void stop('was terminated').then(() => {
            socket.end(encodeFrame({ json: { ok: true, result } }), () => finish());
          });
        } else if (op === 'console') {
          if (!record!.debugMode) {
            reply({ ok: false, code: 44, message: `Console connection failure. Enclave ${record!.enclaveId} was not started in debug mode, so it has no console (run it with --debug-mode)` });
            continue;
          }
          reply({ ok: true });
          // History and subscription in one tick: nothing is lost or repeated in between.
          socket.write(encodeFrame({ bytes: readFileSync(record!.consoleLogPath) }));
          if (stopping) socket.end();
          else {
            consoles.add(socket);
            socket.on('close', () => consoles.delete(socket));
          }
        } else if (op === 'nsm') {
          pendingNsm = true;
        } else {
          reply({ ok: false, code: 14, message: `Invalid command. Unknown request '${String(op)}'` });
        }
      }
    });
  }

  function serveNsm(socket: net.Socket): void {
    const reader = new LengthPrefixedReader(NSM_MAX_MESSAGE);
    let queue = Promise.resolve();
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      let requests: Uint8Array[];
      try {
        requests = reader.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const request of requests) {
        queue = queue.then(async () => {
          const response = await nsm(request);
          if (!socket.destroyed) socket.write(lengthPrefixed(response));
        });
      }
    });
  }

  return endedPromise;
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
