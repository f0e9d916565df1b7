// The emulated vsock-proxy: listens on the emulated parent's vsock port (CID 3, LOCAL_PORT) and
// forwards each enclave connection to TCP REMOTE_ADDR:REMOTE_PORT, once the allowlist lets that
// endpoint through (engine/vsockproxy/allowlist.ts, the real tool's check at start-up).
//
// As the real tool (aws-nitro-enclaves-cli vsock_proxy/src/proxy.rs):
// - `workers` (`-w`, default 4) is how many connections are forwarded at once. Every connection is
//   accepted; one that finds every worker busy waits, unforwarded, for the first to finish (the
//   real tool's thread pool queues it the same way).
// - The remote name is resolved again for each connection (the real tool re-resolves when its DNS
//   answer's TTL has passed; Node's resolver gives no TTL), and its first address of the asked IP
//   version is connected to.
// Unlike the real tool:
// - A connection that cannot be forwarded (the name no longer resolves, the target refuses) is
//   closed alone and counted in `lastError`; the real proxy exits when a name stops resolving.
// - An end of stream from one side closes only that direction (half-close): the other side can
//   still send. The real proxy drops the whole connection at the first end of stream; when bytes
//   flow after a half-close, the connection's log line says so, since they would be lost there.
import { promises as dnsPromises } from 'node:dns';
import { open } from 'node:fs/promises';
import * as net from 'node:net';
import { domainToASCII } from 'node:url';
import {
  Emitter,
  MAX_ALLOWLIST_BYTES,
  checkAllowlist,
  parseAllowlist,
  resolveFor,
  type AllowlistVerdict,
  type EventLike,
  type HostResolver,
  type IpFamily,
} from '../../index';
import { PARENT_CID, listenVsock, endpointPath } from '../vsock/endpoints';

/** The real tool's default number of workers. */
export const DEFAULT_WORKERS = 4;
/** How often byte counts are reported at most (connection changes are reported at once). */
const BYTES_REPORT_MS = 200;

export interface VsockProxyOptions {
  /** The emulated parent's vsock folder (vsockDirOf). */
  readonly vsockDir: string;
  /** The vsock port listened on, on the parent (CID 3). */
  readonly localPort: number;
  readonly remoteAddr: string;
  readonly remotePort: number;
  /** The allowlist: its text, or the path of its file. */
  readonly allowlist: { readonly text: string } | { readonly path: string };
  /** 0 either IP version (default), 4 (`-4`) or 6 (`-6`). */
  readonly family?: IpFamily;
  /** Connections forwarded at once (`-w`); a whole number from 1. Default 4. */
  readonly workers?: number;
  /** Resolves names (default: the system's, as the real tool asks: IPv4 addresses, else IPv6 ones). */
  readonly resolver?: HostResolver;
  /** One line for each connection as it ends (and for one that has to wait for a worker). */
  readonly log?: (line: string) => void;
}

export interface VsockProxyStats {
  readonly state: 'listening' | 'closed';
  readonly localPort: number;
  readonly remoteAddr: string;
  readonly remotePort: number;
  readonly workers: number;
  /** Connections being forwarded now. */
  readonly open: number;
  /** Connections accepted that wait for a worker. */
  readonly waiting: number;
  /** Connections accepted since the start. */
  readonly total: number;
  /** Bytes from the enclave to the remote endpoint. */
  readonly bytesToRemote: number;
  /** Bytes from the remote endpoint to the enclave. */
  readonly bytesFromRemote: number;
  /** The last connection failure ("connection 3: connect ECONNREFUSED 127.0.0.1:443"). */
  readonly lastError?: string;
}

export interface VsockProxy {
  /** The allowlist's verdict that let the remote endpoint through. */
  readonly verdict: Extract<AllowlistVerdict, { allowed: true }>;
  /** The local socket the proxy listens on. */
  readonly endpoint: string;
  stats(): VsockProxyStats;
  /** Fires with the new stats when connections open or close, and (at most every 200 ms) as bytes move. */
  readonly onChange: EventLike<VsockProxyStats>;
  /** Stops listening (removing the endpoint) and closes every connection. */
  close(): Promise<void>;
}

/** The allowlist refused the remote endpoint: the verdict names each entry tried and why. */
export class VsockProxyRefusedError extends Error {
  constructor(readonly verdict: Extract<AllowlistVerdict, { allowed: false }>) {
    super(`The given address and port are not allowed: ${verdict.reason}`);
    this.name = 'VsockProxyRefusedError';
  }
}

/**
 * Resolves a name as the real tool's resolver does by default (hickory's Ipv4thenIpv6): IPv4
 * addresses, and IPv6 ones only when the name has no IPv4 address, whatever IP version was asked
 * for (the check filters after). An IP literal is itself; other names are IDNA-encoded first.
 */
export const systemResolver: HostResolver = async (host) => {
  if (net.isIP(host) !== 0) return [host];
  const ascii = domainToASCII(host);
  if (ascii === '') throw new Error(`${JSON.stringify(host)} is not a domain name`);
  const lookup = async (family: 4 | 6) => {
    try {
      return (await dnsPromises.lookup(ascii, { all: true, family })).map((a) => a.address);
    } catch (e) {
      return e instanceof Error ? e : new Error(String(e));
    }
  };
  const v4 = await lookup(4);
  if (Array.isArray(v4) && v4.length > 0) return v4;
  const v6 = await lookup(6);
  if (Array.isArray(v6) && v6.length > 0) return v6;
  throw Array.isArray(v4) ? (Array.isArray(v6) ? new Error('no address') : v6) : v4;
};

/** Reads an allowlist file of at most MAX_ALLOWLIST_BYTES; a larger one is refused before it is read. */
export async function readAllowlistFile(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    if ((await handle.stat()).isDirectory()) throw new Error(`${file} is a folder, not an allowlist file`);
    const buffer = Buffer.alloc(MAX_ALLOWLIST_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_ALLOWLIST_BYTES)
      throw new Error(`${file} is larger than ${MAX_ALLOWLIST_BYTES} bytes, too large for an allowlist; not read`);
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    await handle.close();
  }
}

const isWorkers = (n: number) => Number.isSafeInteger(n) && n >= 1 && n <= 1024;
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

interface Connection {
  readonly id: number;
  readonly client: net.Socket;
  remote?: net.Socket;
  readonly accepted: number;
  toRemote: number;
  fromRemote: number;
  /** Bytes that crossed after one side's end of stream (the real tool would have dropped them). */
  afterHalfClose: number;
  halfClosedBy?: 'enclave' | 'remote';
  done: boolean;
}

/**
 * Checks the remote endpoint against the allowlist (VsockProxyRefusedError when refused), then
 * listens on (CID 3, localPort) in the parent's vsock folder and forwards connections.
 */
export async function startVsockProxy(options: VsockProxyOptions): Promise<VsockProxy> {
  const workers = options.workers ?? DEFAULT_WORKERS;
  if (!isWorkers(workers))
    throw new RangeError(`Number of workers must be a whole number from 1 to 1024, not ${workers}`);
  if (!Number.isSafeInteger(options.remotePort) || options.remotePort < 1 || options.remotePort > 65535)
    throw new RangeError(`Remote port is not valid: ${options.remotePort} (1 to 65535)`);
  const family = options.family ?? 0;
  const resolver = options.resolver ?? systemResolver;
  const text = 'text' in options.allowlist ? options.allowlist.text : await readAllowlistFile(options.allowlist.path);
  const verdict = await checkAllowlist({
    allowlist: parseAllowlist(text),
    remoteAddr: options.remoteAddr,
    remotePort: options.remotePort,
    family,
    resolve: resolver,
  });
  if (!verdict.allowed) throw new VsockProxyRefusedError(verdict);
  return new Proxy(options, verdict, workers, family, resolver).listen();
}

class Proxy implements VsockProxy {
  private readonly changed = new Emitter<VsockProxyStats>();
  readonly onChange = this.changed.event;
  readonly endpoint: string;
  private server: net.Server | undefined;
  private state: 'listening' | 'closed' = 'listening';
  private readonly queue: Connection[] = [];
  private readonly active = new Set<Connection>();
  private total = 0;
  private bytesToRemote = 0;
  private bytesFromRemote = 0;
  private lastError: string | undefined;
  private bytesTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly options: VsockProxyOptions,
    readonly verdict: Extract<AllowlistVerdict, { allowed: true }>,
    private readonly workers: number,
    private readonly family: IpFamily,
    private readonly resolver: HostResolver,
  ) {
    this.endpoint = endpointPath(options.vsockDir, { cid: PARENT_CID, port: options.localPort });
  }

  async listen(): Promise<this> {
    const server = await listenVsock(this.options.vsockDir, { cid: PARENT_CID, port: this.options.localPort }, (s) =>
      this.accept(s),
    );
    server.on('error', (e) => this.fail(`listener: ${messageOf(e)}`));
    this.server = server;
    return this;
  }

  stats(): VsockProxyStats {
    return {
      state: this.state,
      localPort: this.options.localPort,
      remoteAddr: this.options.remoteAddr,
      remotePort: this.options.remotePort,
      workers: this.workers,
      open: this.active.size,
      waiting: this.queue.length,
      total: this.total,
      bytesToRemote: this.bytesToRemote,
      bytesFromRemote: this.bytesFromRemote,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  private fire(): void {
    if (this.bytesTimer !== undefined) clearTimeout(this.bytesTimer);
    this.bytesTimer = undefined;
    try {
      this.changed.fire(this.stats());
    } catch {
      // A listener's failure is its own.
    }
  }

  private bytesMoved(): void {
    if (this.bytesTimer !== undefined) return;
    this.bytesTimer = setTimeout(() => this.fire(), BYTES_REPORT_MS);
    this.bytesTimer.unref?.();
  }

  private log(line: string): void {
    try {
      this.options.log?.(line);
    } catch {
      // Logging never stops forwarding.
    }
  }

  private fail(message: string): void {
    this.lastError = message;
    this.fire();
  }

  private accept(client: net.Socket): void {
    // Half-close: an end of stream from the enclave ends only what goes to the remote.
    client.allowHalfOpen = true;
    client.pause();
    if (this.state === 'closed') {
      client.destroy();
      return;
    }
    const conn: Connection = {
      id: ++this.total,
      client,
      accepted: Date.now(),
      toRemote: 0,
      fromRemote: 0,
      afterHalfClose: 0,
      done: false,
    };
    client.on('error', (e) => this.finish(conn, `enclave side: ${messageOf(e)}`));
    // The enclave side closed: nothing more can reach it, so the remote side is ended too.
    client.on('close', () => {
      const remote = conn.remote;
      if (remote && !remote.destroyed) remote.end(() => remote.destroy());
      this.bothClosed(conn);
    });
    if (this.active.size >= this.workers) {
      this.queue.push(conn);
      this.log(
        `connection ${conn.id}: waiting: all ${this.workers} workers are busy (-w ${this.workers}), ` +
          `as in vsock-proxy it is forwarded when one is free`,
      );
      this.fire();
      return;
    }
    this.forward(conn);
  }

  private forward(conn: Connection): void {
    this.active.add(conn);
    this.fire();
    void this.connect(conn);
  }

  private async connect(conn: Connection): Promise<void> {
    const { remoteAddr, remotePort } = this.options;
    const resolved = await resolveFor(this.resolver, remoteAddr, this.family);
    if (conn.done) return;
    if ('error' in resolved) {
      this.finish(conn, `${remoteAddr}: ${resolved.error} (the real vsock-proxy exits here)`);
      return;
    }
    const ip = resolved.addresses[0] as string;
    const remote = net.connect({ host: ip, port: remotePort, allowHalfOpen: true });
    conn.remote = remote;
    remote.on('error', (e) => this.finish(conn, messageOf(e)));
    // The remote side closed: what it sent is written to the enclave side, which then closes.
    remote.on('close', () => {
      conn.client.end(() => conn.client.destroy());
      this.bothClosed(conn);
    });
    remote.once('connect', () => {
      if (conn.done) return;
      const { client } = conn;
      client.on('data', (chunk: Buffer) => {
        conn.toRemote += chunk.length;
        this.bytesToRemote += chunk.length;
        if (conn.halfClosedBy === 'remote') conn.afterHalfClose += chunk.length;
        this.bytesMoved();
      });
      remote.on('data', (chunk: Buffer) => {
        conn.fromRemote += chunk.length;
        this.bytesFromRemote += chunk.length;
        if (conn.halfClosedBy === 'enclave') conn.afterHalfClose += chunk.length;
        this.bytesMoved();
      });
      client.once('end', () => (conn.halfClosedBy ??= 'enclave'));
      remote.once('end', () => (conn.halfClosedBy ??= 'remote'));
      // pipe: backpressure both ways, and an end of stream becomes the other side's end (half-close).
      client.pipe(remote);
      remote.pipe(client);
    });
  }

  /** Whether both sides of a connection are closed (or the enclave side, before it was forwarded). */
  private bothClosed(conn: Connection): void {
    if (conn.client.destroyed && (conn.remote === undefined || conn.remote.destroyed)) this.finish(conn);
  }

  /** Ends a connection (at its first error, or once both sides are closed) and starts a waiting one. */
  private finish(conn: Connection, error?: string): void {
    if (conn.done) return;
    conn.done = true;
    conn.client.destroy();
    conn.remote?.destroy();
    const waiting = this.queue.indexOf(conn);
    if (waiting !== -1) this.queue.splice(waiting, 1);
    this.active.delete(conn);
    const target = `${this.options.remoteAddr}:${this.options.remotePort}`;
    const seconds = ((Date.now() - conn.accepted) / 1000).toFixed(1);
    const moved = `${conn.toRemote} bytes to ${target}, ${conn.fromRemote} back, ${seconds} s`;
    const note =
      conn.afterHalfClose > 0
        ? `; ${conn.afterHalfClose} bytes crossed after the ${conn.halfClosedBy} side's end of stream: ` +
          'the real vsock-proxy closes the whole connection at the first end of stream and would have lost them'
        : '';
    if (error !== undefined) {
      this.log(`connection ${conn.id}: failed: ${error} (${moved})`);
      this.lastError = `connection ${conn.id}: ${error}`;
    } else {
      this.log(`connection ${conn.id}: closed${waiting !== -1 ? ' while waiting for a worker' : ''} (${moved}${note})`);
    }
    this.fire();
    this.pump();
  }

  private pump(): void {
    while (this.state === 'listening' && this.active.size < this.workers && this.queue.length > 0) {
      const next = this.queue.shift() as Connection;
      if (!next.done) this.forward(next);
    }
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const server = this.server;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const conn of [...this.queue, ...this.active]) {
      conn.done = true;
      conn.client.destroy();
      conn.remote?.destroy();
    }
    this.queue.length = 0;
    this.active.clear();
    await closed;
    this.fire();
    this.changed.dispose();
  }
}
