// One enclave booted by QEMU, run inside the enclave's host process (emulator/host.ts) in place of
// the emulated boot. Three processes, all in the host's process group:
//
//   vhost-device-vsock  --config <run>/vhost.yaml: guest CID 3 and the enclave's CID
//   qemu (parent VM)    -M microvm: the relay (guest/relay.c) as PID 1 at CID 3
//   qemu (the enclave)  -M nitro-enclave,vsock=c,id=<enclave id>,parent-id=<parent id> -kernel <eif>
//
// Why a parent VM: the enclave's init and applications connect to the parent at CID 3, and
// vhost-device-vsock delivers a connection for a CID other than the host's (2) only to a sibling VM
// of its own process. The relay VM takes CID 3, listens on the ports the backend asks for (a line
// protocol on one control connection, see relay.c) and carries each connection on to the host,
// where vhost-device-vsock hands it to `<run>/relay.sock_<port>`; the backend joins that to the
// parent's vsock endpoint (`<vsock folder>/3.<port>.sock`, vsock/endpoints.ts). So the boot
// heartbeat reaches run-enclave's listener, and vsock-proxy, the local KMS and any parent program
// listening through `nitro-dev vsock listen` work unchanged. The relayed ports follow the parent's
// listeners: the vsock folder is watched.
//
// The other way, a parent program connecting to (enclave CID, port): vhost-device-vsock listens for
// that on the enclave's `uds-path`, which is `<vsock folder>/<cid>.vm.sock` (endpoints.ts speaks
// its `CONNECT <port>` handshake), so `nitro-dev vsock connect 16:5000` reaches a port the
// enclave's application listens on. Such a connection comes from CID 2 (the host), not 3.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { PARENT_CID } from '../../emulator/rules';
import { connectVsock, gatewayPath, holdHalfClose, listEndpointFiles } from '../vsock/endpoints';

/** How an enclave record says "boot this image in QEMU" (written by the QEMU backend's run-enclave). */
export interface QemuMachineSpec {
  readonly kind: 'qemu';
  readonly qemu: string;
  readonly vhostDeviceVsock: string;
  /** QEMU's firmware folder (-L), when QEMU does not find its own. */
  readonly firmwareDir?: string;
  /** The parent VM's kernel and initramfs (the relay as /init). */
  readonly relayKernel: string;
  readonly relayInitrd: string;
  readonly accel: 'kvm' | 'tcg';
}

/** The relay's control port on the host (CID 2): "NITR". */
export const RELAY_CONTROL_PORT = 1313428562;
/** The parent VM's memory. */
export const RELAY_MEMORY_MIB = 96;

/** What the machine tells its host. */
export interface MachineEvents {
  /** Bytes of the enclave's serial console. */
  console(bytes: Buffer): void;
  /** A line about the machine itself (which processes started, what failed). */
  note(line: string): void;
  /** The enclave's QEMU has ended (or a part it cannot run without has): the enclave is over. */
  ended(reason: string): void;
}

export interface QemuEnclave {
  readonly enclaveId: string;
  readonly parentId: string;
  readonly cid: number;
  readonly cpuCount: number;
  readonly memoryMiB: number;
  readonly eifPath: string;
  readonly iamRoleArn?: string;
}

/** Both VMs: the serial port on stdio (the console), no monitor, and a guest reset ends QEMU. */
const SERIAL_CONSOLE = ['-nographic', '-monitor', 'none', '-serial', 'stdio', '-no-reboot'] as const;

/** QEMU's firmware folder, when the spec names one. */
const firmwareArgs = (spec: QemuMachineSpec): string[] => (spec.firmwareDir ? ['-L', spec.firmwareDir] : []);

/** QEMU's command line for the enclave (pure; see the header). */
export function enclaveQemuArgs(spec: QemuMachineSpec, enclave: QemuEnclave, vhostSocket: string): string[] {
  const machine = [
    'nitro-enclave',
    'vsock=c',
    `id=${enclave.enclaveId}`,
    `parent-id=${enclave.parentId}`,
    ...(enclave.iamRoleArn ? [`parent-role=${enclave.iamRoleArn}`] : []),
  ];
  return [
    ...firmwareArgs(spec),
    '-M',
    machine.map(qemuOptionValue).join(','),
    '-accel',
    spec.accel,
    '-kernel',
    enclave.eifPath,
    '-m',
    `${enclave.memoryMiB}M`,
    '-smp',
    String(enclave.cpuCount),
    ...SERIAL_CONSOLE,
    '-chardev',
    `socket,id=c,path=${qemuOptionValue(vhostSocket)}`,
  ];
}

/** QEMU's command line for the parent VM that runs the relay at CID 3. */
export function relayQemuArgs(spec: QemuMachineSpec, vhostSocket: string): string[] {
  return [
    ...firmwareArgs(spec),
    '-M',
    'microvm,acpi=off,memory-backend=mem',
    '-object',
    `memory-backend-memfd,id=mem,size=${RELAY_MEMORY_MIB}M,share=on`,
    '-m',
    `${RELAY_MEMORY_MIB}M`,
    '-accel',
    spec.accel,
    '-kernel',
    spec.relayKernel,
    '-initrd',
    spec.relayInitrd,
    '-append',
    'console=ttyS0 panic=-1 quiet',
    ...SERIAL_CONSOLE,
    '-chardev',
    `socket,id=c3,path=${qemuOptionValue(vhostSocket)}`,
    '-device',
    'vhost-user-vsock-device,chardev=c3',
  ];
}

/**
 * vhost-device-vsock's configuration file: the parent VM (CID 3) and the enclave, siblings in one
 * process. A file, not `--vm` arguments: `--vm` splits its value at every comma and has no escape,
 * so a path with a comma in it (a temp or state folder) would be cut. The paths are YAML
 * double-quoted scalars, written as JSON strings (YAML's double-quoted style accepts them).
 */
export function vhostConfig(run: RunFiles, enclaveCid: number, gateway: string): string {
  const vm = (cid: number, socket: string, udsPath: string) =>
    `  - guest_cid: ${cid}\n    socket: ${JSON.stringify(socket)}\n    uds_path: ${JSON.stringify(udsPath)}\n`;
  return `vms:\n${vm(PARENT_CID, run.parentVhost, run.relayUds)}${vm(enclaveCid, run.enclaveVhost, gateway)}`;
}

/** vhost-device-vsock's command line: its configuration file (vhostConfig). */
export function vhostArgs(run: RunFiles): string[] {
  return ['--config', run.vhostConfig];
}

/** A QEMU -M/-chardev option value: commas are doubled, as QEMU's option parser wants. */
function qemuOptionValue(text: string): string {
  return text.replace(/,/g, ',,');
}

/** The files of one enclave's run folder (short: Unix socket paths are limited to about 104 bytes). */
export interface RunFiles {
  readonly dir: string;
  readonly parentVhost: string;
  readonly enclaveVhost: string;
  /** The parent VM's uds-path: vhost-device-vsock connects `<relayUds>_<port>` for each relayed connection. */
  readonly relayUds: string;
  /** vhost-device-vsock's configuration file (vhostConfig). */
  readonly vhostConfig: string;
}

export function runFilesIn(dir: string): RunFiles {
  return {
    dir,
    parentVhost: path.join(dir, 'v3.sock'),
    enclaveVhost: path.join(dir, 've.sock'),
    relayUds: path.join(dir, 'r.sock'),
    vhostConfig: path.join(dir, 'vhost.yaml'),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Bytes of a child's output kept for an error message. */
const TAIL_BYTES = 8192;

/** A started child process and the tail of what it printed. */
interface Started {
  readonly child: ChildProcess;
  readonly name: string;
  tail: string;
  readonly exited: Promise<string>;
}

/**
 * The three processes of one QEMU enclave and the joints between them. `start` resolves once the
 * enclave's QEMU runs (its boot heartbeat is run-enclave's to wait for); `stop` ends everything.
 */
export class QemuEnclaveMachine {
  private readonly run: RunFiles;
  private readonly gateway: string;
  private readonly started: Started[] = [];
  private controlServer: net.Server | undefined;
  private controlSocket: net.Socket | undefined;
  private readonly portServers = new Map<number, net.Server>();
  private watcher: FSWatcher | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private stopping = false;
  private readonly pending: { line: string; resolve: (answer: string) => void }[] = [];
  private controlBuffer = '';

  constructor(
    private readonly spec: QemuMachineSpec,
    private readonly enclave: QemuEnclave,
    /** The parent's vsock folder (endpoints.ts). */
    private readonly vsockDir: string,
    runDir: string,
    private readonly events: MachineEvents,
    /** How long the parent VM may take to boot and connect (it is a tiny VM: about 1 s under TCG). */
    private readonly relayTimeoutMs = 120_000,
  ) {
    this.run = runFilesIn(runDir);
    this.gateway = gatewayPath(vsockDir, enclave.cid);
  }

  async start(): Promise<void> {
    rmSync(this.run.dir, { recursive: true, force: true });
    mkdirSync(this.run.dir, { recursive: true, mode: 0o700 });
    rmSync(this.gateway, { force: true });
    writeFileSync(this.run.vhostConfig, vhostConfig(this.run, this.enclave.cid, this.gateway), { mode: 0o600 });
    const control = this.listenControl();
    const vhost = this.spawnChild('vhost-device-vsock', this.spec.vhostDeviceVsock, vhostArgs(this.run), 'note');
    await this.waitForFiles(vhost, [this.run.parentVhost, this.run.enclaveVhost]);
    const relay = this.spawnChild('parent VM', this.spec.qemu, relayQemuArgs(this.spec, this.run.parentVhost), 'note');
    this.controlSocket = await this.waitFor(
      relay,
      control,
      this.relayTimeoutMs,
      'the parent VM did not connect its vsock relay',
    );
    this.watchParentPorts();
    await this.syncPorts();
    this.events.note(`The parent VM relays vsock ports ${relayed(this.portServers.keys())} of CID ${PARENT_CID}.`);
    const enclave = this.spawnChild(
      'enclave VM',
      this.spec.qemu,
      enclaveQemuArgs(this.spec, this.enclave, this.run.enclaveVhost),
      'console',
    );
    void enclave.exited.then((how) => this.events.ended(`QEMU ${how}`));
    for (const helper of [vhost, relay])
      void helper.exited.then((how) => {
        if (!this.stopping)
          this.events.ended(`its ${helper.name} ${how}${helper.tail ? `: ${lastLines(helper.tail)}` : ''}`);
      });
  }

  /**
   * Stops the enclave's QEMU, the parent VM and vhost-device-vsock (SIGTERM, then SIGKILL), and
   * removes the run files.
   */
  async stop(graceMs = 3000): Promise<void> {
    this.stopping = true;
    this.watcher?.close();
    this.controlServer?.close();
    this.controlSocket?.destroy();
    for (const s of this.portServers.values()) s.close();
    this.portServers.clear();
    const live = this.started.filter((s) => s.child.exitCode === null && s.child.signalCode === null);
    // The enclave first, then the parent VM, then the vsock backend they both use.
    for (const s of [...live].reverse()) s.child.kill('SIGTERM');
    const all = Promise.all(live.map((s) => s.exited));
    const timer = setTimeout(() => live.forEach((s) => s.child.kill('SIGKILL')), graceMs);
    await all;
    clearTimeout(timer);
    rmSync(this.run.dir, { recursive: true, force: true });
    rmSync(this.gateway, { force: true });
  }

  private spawnChild(name: string, command: string, args: readonly string[], output: 'console' | 'note'): Started {
    this.events.note(`Starting the ${name}: ${[command, ...args].map(shellWord).join(' ')}`);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    const started: Started = {
      child,
      name,
      tail: '',
      exited: new Promise((resolve) => {
        child.once('error', (e) => resolve(`could not be started (${e.message})`));
        child.once('close', (code, signal) => resolve(signal ? `was ended by ${signal}` : `exited with code ${code}`));
      }),
    };
    const keep = (b: Buffer) => {
      started.tail = (started.tail + b.toString('utf8')).slice(-TAIL_BYTES);
    };
    if (output === 'console') {
      const ending = new KernelEndWatch();
      child.stdout?.on('data', (b: Buffer) => {
        this.events.console(b);
        const end = ending.push(b);
        if (end && !this.stopping) {
          // Nitro ends an enclave whose kernel restarts or halts; QEMU would boot the image again (a
          // restart through the BIOS path bypasses -no-reboot) or sit halted.
          this.events.note(`The enclave's kernel printed "${end}": the enclave ends, as on Nitro.`);
          child.kill('SIGTERM');
        }
      });
      child.stderr?.on('data', (b: Buffer) => {
        keep(b);
        this.events.console(b);
      });
    } else {
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
    }
    this.started.push(started);
    return started;
  }

  /** Waits until files exist, failing when the process ends first. */
  private async waitForFiles(started: Started, files: readonly string[]): Promise<void> {
    let ended: string | undefined;
    void started.exited.then((how) => (ended = how));
    for (let delay = 5; !files.every((f) => existsSync(f)); delay = Math.min(delay * 2, 100)) {
      if (ended !== undefined) throw new Error(`${started.name} ${ended}: ${lastLines(started.tail)}`);
      await sleep(delay);
    }
  }

  /** Resolves with what `promise` gives, failing when the process ends first or the time runs out. */
  private waitFor<T>(started: Started, promise: Promise<T>, limitMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${what} within ${Math.round(limitMs / 1000)} s: ${lastLines(started.tail)}`)),
        limitMs,
      );
      void started.exited.then((how) =>
        reject(new Error(`${what}: the ${started.name} ${how}: ${lastLines(started.tail)}`)),
      );
      promise.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  /** Listens for the relay's control connection (one). */
  private listenControl(): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((socket) => {
        server.close();
        if (this.stopping) {
          socket.destroy();
          return;
        }
        socket.setEncoding('utf8');
        socket.on('data', (text: string) => this.onControlData(text));
        socket.on('error', () => socket.destroy());
        socket.on('close', () => {
          if (!this.stopping) this.events.note('The parent VM closed its relay control connection.');
        });
        resolve(socket);
      });
      server.once('error', reject);
      server.listen(`${this.run.relayUds}_${RELAY_CONTROL_PORT}`);
      this.controlServer = server;
    });
  }

  private onControlData(text: string): void {
    this.controlBuffer += text;
    if (this.controlBuffer.length > 4096) {
      this.controlSocket?.destroy();
      return;
    }
    let nl: number;
    while ((nl = this.controlBuffer.indexOf('\n')) >= 0) {
      const line = this.controlBuffer.slice(0, nl);
      this.controlBuffer = this.controlBuffer.slice(nl + 1);
      this.pending.shift()?.resolve(line);
    }
  }

  /** Sends one control request and waits for its answer line. */
  private ask(line: string): Promise<string> {
    const socket = this.controlSocket;
    if (!socket || socket.destroyed) return Promise.resolve('ERR closed');
    return new Promise((resolve) => {
      this.pending.push({ line, resolve });
      socket.once('close', () => resolve('ERR closed'));
      socket.write(`${line}\n`);
    });
  }

  private watchParentPorts(): void {
    try {
      this.watcher = watch(this.vsockDir, { persistent: false }, () => void this.syncPorts());
      this.watcher.on('error', () => this.watcher?.close());
    } catch (e) {
      this.events.note(
        `The parent's vsock folder cannot be watched (${(e as Error).message}); new parent ports are not relayed.`,
      );
    }
  }

  /** Makes the relayed ports those the parent listens on (its endpoint files), one sync at a time. */
  private syncPorts(): Promise<void> {
    this.syncing = this.syncing
      .then(() => this.syncPortsNow())
      .catch((e: unknown) => {
        this.events.note(`Relaying the parent's vsock ports failed: ${(e as Error).message}`);
      });
    return this.syncing;
  }

  private async syncPortsNow(): Promise<void> {
    if (this.stopping) return;
    const wanted = new Set(
      listEndpointFiles(this.vsockDir)
        .filter((a) => a.cid === PARENT_CID)
        .map((a) => a.port),
    );
    for (const port of wanted) {
      if (this.portServers.has(port)) continue;
      const server = await this.listenRelayed(port);
      const answer = await this.ask(`L ${port}`);
      if (answer === `OK L ${port}`) this.portServers.set(port, server);
      else {
        server.close();
        this.events.note(`The parent VM cannot listen on vsock port ${port}: ${answer}`);
      }
    }
    for (const [port, server] of this.portServers) {
      if (wanted.has(port)) continue;
      this.portServers.delete(port);
      server.close();
      await this.ask(`U ${port}`);
    }
  }

  /** The host's end of one relayed port: each connection from the parent VM is joined to the parent's endpoint. */
  private async listenRelayed(port: number): Promise<net.Server> {
    const where = `${this.run.relayUds}_${port}`;
    rmSync(where, { force: true });
    const server = net.createServer({ allowHalfOpen: true }, (inbound) => {
      inbound.on('error', () => inbound.destroy());
      inbound.pause();
      holdHalfClose(inbound);
      connectVsock(this.vsockDir, { cid: PARENT_CID, port }, { allowHalfOpen: true }).then(
        (outbound) => joinSockets(inbound, outbound),
        () => inbound.destroy(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(where, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server;
  }
}

/**
 * Copies both ways between two half-open sockets: each side's end is passed on as a half-close (a
 * socket closes once both ways have ended); an error or a close ends both.
 */
export function joinSockets(a: net.Socket, b: net.Socket): void {
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.on('close', () => b.destroySoon());
  b.on('close', () => a.destroySoon());
  a.pipe(b);
  b.pipe(a);
  a.resume();
  b.resume();
}

/** The lines Linux prints when it restarts, powers off or halts (kernel/reboot.c). */
export const KERNEL_END_LINE = /(?:^|\]\s)(reboot: (?:Restarting system|Power down)|System halted\.?)\s*$/;

/** Watches console output for KERNEL_END_LINE, across chunk boundaries; push returns the line once. */
export class KernelEndWatch {
  private partial = '';
  private seen = false;

  push(chunk: Buffer): string | undefined {
    if (this.seen) return undefined;
    const lines = (this.partial + chunk.toString('latin1')).split(/\r?\n/);
    this.partial = (lines.pop() ?? '').slice(-512);
    for (const line of lines) {
      const m = KERNEL_END_LINE.exec(line);
      if (m) {
        this.seen = true;
        return m[1];
      }
    }
    return undefined;
  }
}

function relayed(ports: Iterable<number>): string {
  return [...ports].sort((a, b) => a - b).join(', ') || 'none';
}

function lastLines(text: string, count = 6): string {
  return text.trim().split('\n').slice(-count).join(' | ') || '(no output)';
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}
