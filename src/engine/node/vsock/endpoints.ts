// Emulated vsock: stream connections between an emulated parent (CID 3) and its enclaves (their
// CIDs), addressed by (CID, port), carried over local sockets.
//
// Each emulated parent has one vsock folder. Whoever listens on (CID, port) binds the Unix socket
// `<folder>/<cid>.<port>.sock`; whoever connects to (CID, port) connects to that path. Listening is
// binding, accepting is accepting, and a port nobody listens on refuses the connection, as vsock
// does. On Windows the endpoint is the named pipe `\\.\pipe\nitro-dev-<tag>-<parent>-<cid>.<port>`.
//
//   <state>/parents/<parent id>/vsock/<cid>.<port>.sock
//
// When that path would pass the Unix socket limit (about 104 bytes), the folder moves to the state's
// short socket folder in the temp directory (see socketPathFor): `<tmp>/nitro-dev-<tag>/vsock-<parent id>/`.
//
// Unlike vsock, a listener does not learn the connecting peer's CID: the local socket carries only
// the stream.
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { PARENT_CID, PARENT_ID_PATTERN } from '../../emulator/rules';
import { BackendError } from '../../platform/backend';
import { DIR_MODE, FILE_MODE, shortSocketDir } from '../emulator/state';

/** VMADDR_PORT_ANY (u32::MAX) is not a port one can listen on or connect to. */
export const MAX_VSOCK_PORT = 0xffff_fffe;
/** VMADDR_CID_ANY (u32::MAX) is not an address. */
export const MAX_VSOCK_CID = 0xffff_fffe;
/** The port the enclave's init connects to on the parent to say it booted (`ENCLAVE_READY_VSOCK_PORT`). */
export const HEARTBEAT_PORT = 9000;
/** The byte init sends on the heartbeat connection, and the parent echoes. */
export const HEARTBEAT_BYTE = 0xb7;
/** The port the KMS vsock-proxy conventionally listens on (the parent's `nitro-enclaves-vsock-proxy` service). */
export const KMS_PROXY_PORT = 8000;
export { PARENT_CID };

/** One vsock address. */
export interface VsockAddress {
  readonly cid: number;
  readonly port: number;
}

const isU32Below = (v: number, max: number) => Number.isSafeInteger(v) && v >= 0 && v <= max;

/** Why a CID or port cannot be used, or undefined. */
export function vsockAddressProblem(address: VsockAddress): string | undefined {
  if (!isU32Below(address.cid, MAX_VSOCK_CID)) return `CID ${address.cid} is not 0 to ${MAX_VSOCK_CID}`;
  if (!isU32Below(address.port, MAX_VSOCK_PORT)) return `port ${address.port} is not 0 to ${MAX_VSOCK_PORT}`;
  return undefined;
}

/**
 * Parses `CID:PORT` (decimal, as socat's `VSOCK-CONNECT:16:5000`), or undefined when it is not one.
 */
export function parseVsockAddress(text: string): VsockAddress | undefined {
  const m = /^(\d{1,10}):(\d{1,10})$/.exec(text);
  if (!m) return undefined;
  const address = { cid: Number(m[1]), port: Number(m[2]) };
  return vsockAddressProblem(address) === undefined ? address : undefined;
}

/** Parses a port (decimal, 0 to 4294967294), or undefined. */
export function parseVsockPort(text: string): number | undefined {
  if (!/^\d{1,10}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= MAX_VSOCK_PORT ? port : undefined;
}

const endpointName = (a: VsockAddress) => `${a.cid}.${a.port}.sock`;
const ENDPOINT_NAME_PARTS = /^(\d{1,10})\.(\d{1,10})\.sock$/;
/** The longest endpoint file name: `4294967294.4294967294.sock`. */
const LONGEST_NAME = endpointName({ cid: MAX_VSOCK_CID, port: MAX_VSOCK_PORT });
const SOCKET_PATH_LIMIT = 100;

const stateTag = (state: string) => createHash('sha256').update(path.resolve(state)).digest('hex').slice(0, 12);

/**
 * The vsock folder of an emulated parent. `create` true makes it (0700) and refuses a folder that is
 * not this user's own; false only computes the path.
 */
export function vsockDirOf(state: string, parentId: string, create = true): string {
  if (!PARENT_ID_PATTERN.test(parentId))
    throw new RangeError(`${JSON.stringify(parentId)} is not an instance id (i- and 17 hex digits)`);
  if (process.platform === 'win32') return `\\\\.\\pipe\\nitro-dev-${stateTag(state)}-${parentId}`;
  let dir = path.join(state, 'parents', parentId, 'vsock');
  if (Buffer.byteLength(path.join(dir, LONGEST_NAME)) > SOCKET_PATH_LIMIT)
    dir = path.join(shortSocketDir(state), `vsock-${parentId}`);
  if (create) ensureOwnDir(dir);
  return dir;
}

function ensureOwnDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  const st = lstatSync(dir);
  if (!st.isDirectory() || (typeof process.getuid === 'function' && st.uid !== process.getuid())) {
    throw new BackendError(19, `File operation failure. ${dir} is not a folder of this user; remove it`);
  }
  if ((st.mode & 0o077) !== 0) chmodSync(dir, DIR_MODE);
}

/** The local socket (or named pipe) of one vsock address in a parent's vsock folder. */
export function endpointPath(dir: string, address: VsockAddress): string {
  const problem = vsockAddressProblem(address);
  if (problem) throw new RangeError(`Not a vsock address: ${problem}`);
  if (process.platform === 'win32') return `${dir}-${address.cid}.${address.port}`;
  return path.join(dir, endpointName(address));
}

/** The addresses listened on in a parent's vsock folder (by file name; a dead listener's file may remain). */
export function listEndpointFiles(dir: string): VsockAddress[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: VsockAddress[] = [];
  for (const name of names) {
    const m = ENDPOINT_NAME_PARTS.exec(name);
    if (!m) continue;
    const address = { cid: Number(m[1]), port: Number(m[2]) };
    if (vsockAddressProblem(address) === undefined && endpointName(address) === name) out.push(address);
  }
  return out.sort((a, b) => a.cid - b.cid || a.port - b.port);
}

/** A connection to an address nobody listens on (vsock's ECONNRESET / ECONNREFUSED). */
export class VsockRefusedError extends Error {
  constructor(readonly address: VsockAddress) {
    super(`Connection refused: nothing listens on vsock ${address.cid}:${address.port}`);
    this.name = 'VsockRefusedError';
  }
}

/** A listen on an address another program already listens on (EADDRINUSE). */
export class VsockInUseError extends Error {
  constructor(readonly address: VsockAddress) {
    super(`Address in use: vsock ${address.cid}:${address.port} already has a listener`);
    this.name = 'VsockInUseError';
  }
}

const refusedCodes = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTSOCK', 'EPROTOTYPE']);

/**
 * The gateway of a CID whose end is a virtual machine (the QEMU backend): a Unix socket of
 * vhost-device-vsock that opens a connection to any port of that guest with the line
 * `CONNECT <port>\n`, answered by `OK <n>\n` (the hybrid vsock handshake). A guest's own listeners
 * have no endpoint files; connecting to (CID, port) uses the gateway when there is no endpoint file.
 */
export function gatewayPath(dir: string, cid: number): string {
  const problem = vsockAddressProblem({ cid, port: 0 });
  if (problem) throw new RangeError(`Not a vsock address: ${problem}`);
  return path.join(dir, `${cid}.vm.sock`);
}

/** The longest handshake answer read (`OK 4294967295\n` and room). */
const MAX_HANDSHAKE_LINE = 64;

/** Connects to (CID, port) in a parent's vsock folder; VsockRefusedError when nobody listens. */
export async function connectVsock(
  dir: string,
  address: VsockAddress,
  options: { readonly allowHalfOpen?: boolean } = {},
): Promise<net.Socket> {
  const allowHalfOpen = options.allowHalfOpen === true;
  try {
    return await connectEndpoint(dir, address, allowHalfOpen);
  } catch (e) {
    if (!(e instanceof VsockRefusedError) || process.platform === 'win32') throw e;
    const gateway = gatewayPath(dir, address.cid);
    let isSocket = false;
    try {
      isSocket = lstatSync(gateway).isSocket();
    } catch {
      /* no gateway */
    }
    if (!isSocket) throw e;
    return connectThroughGateway(gateway, address, allowHalfOpen);
  }
}

/**
 * Opens (CID, port) through a guest's gateway: the connection is the guest's once `OK` has come; a
 * guest port nobody listens on closes it (VsockRefusedError).
 */
function connectThroughGateway(gateway: string, address: VsockAddress, allowHalfOpen: boolean): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ path: gateway, allowHalfOpen });
    let line = Buffer.alloc(0);
    const done = () => {
      socket.off('readable', onReadable);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const fail = (e: Error) => {
      done();
      socket.destroy();
      reject(e);
    };
    const onError = (e: NodeJS.ErrnoException) =>
      fail(refusedCodes.has(e.code ?? '') || e.code === 'ECONNRESET' ? new VsockRefusedError(address) : e);
    const onClose = () => fail(new VsockRefusedError(address));
    // The answer line is read in paused mode, so nothing after it is taken: once the 'readable'
    // handler goes, the socket flows for whoever listens next (the bytes left over included).
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        line = Buffer.concat([line, chunk]);
        const nl = line.indexOf(0x0a);
        if (nl < 0) {
          if (line.length > MAX_HANDSHAKE_LINE)
            return fail(new Error(`the vsock gateway ${gateway} answered with no line`));
          continue;
        }
        const answer = line.subarray(0, nl).toString('latin1');
        if (!/^OK \d+$/.test(answer)) return fail(new VsockRefusedError(address));
        const rest = line.subarray(nl + 1);
        if (rest.length > 0) socket.unshift(rest);
        done();
        holdHalfClose(socket);
        return resolve(socket);
      }
    };
    socket.on('readable', onReadable);
    socket.once('error', onError);
    socket.once('close', onClose);
    socket.once('connect', () => socket.write(`CONNECT ${address.port}\n`));
  });
}

/**
 * Makes `end()` on a connection to vhost-device-vsock wait until the guest has ended its side:
 * vhost-device-vsock ends the whole vsock connection when its Unix socket is half-closed, so a
 * guest still answering would lose its answer (and die of SIGPIPE). Data written is sent at once;
 * only the half-close is held.
 */
export function holdHalfClose(socket: net.Socket): void {
  const originalEnd = socket.end.bind(socket) as (callback?: () => void) => net.Socket;
  const end = (): void => {
    originalEnd();
  };
  let wanted = false;
  let peerEnded = false;
  socket.once('end', () => {
    peerEnded = true;
    if (wanted) end();
  });
  const held = (...args: unknown[]): net.Socket => {
    const [chunk, encoding] = args;
    if (typeof chunk === 'string' || chunk instanceof Uint8Array)
      socket.write(
        typeof chunk === 'string' ? Buffer.from(chunk, (encoding as BufferEncoding | undefined) ?? 'utf8') : chunk,
      );
    const callback = args.find((a): a is () => void => typeof a === 'function');
    if (callback) socket.once('close', callback);
    wanted = true;
    if (peerEnded) end();
    return socket;
  };
  socket.end = held;
}

/** Connects to the endpoint file of (CID, port). */
function connectEndpoint(dir: string, address: VsockAddress, allowHalfOpen: boolean): Promise<net.Socket> {
  const where = endpointPath(dir, address);
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ path: where, allowHalfOpen });
    const onError = (e: NodeJS.ErrnoException) => {
      socket.destroy();
      reject(refusedCodes.has(e.code ?? '') ? new VsockRefusedError(address) : e);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/**
 * Removes the listener files of one CID in a parent's vsock folder (what an ended enclave's
 * application left behind): only `<cid>.<port>.sock` names, only sockets (a symlink is not followed
 * nor removed), only in that folder. Returns how many were removed. Nothing to do on Windows (a
 * named pipe goes with its last handle).
 */
export function removeEndpointFilesOf(dir: string, cid: number): number {
  if (process.platform === 'win32') return 0;
  let removed = 0;
  for (const address of listEndpointFiles(dir)) {
    if (address.cid !== cid) continue;
    const file = path.join(dir, endpointName(address));
    try {
      if (!lstatSync(file).isSocket()) continue;
      rmSync(file, { force: true });
      removed++;
    } catch {
      /* gone already */
    }
  }
  return removed;
}

const canonical = (p: string): string => {
  try {
    return path.join(realpathSync(path.dirname(p)), path.basename(p));
  } catch {
    return path.resolve(p);
  }
};

/**
 * The paths (canonical) of the endpoint sockets listening now, from /proc/net/unix (Linux);
 * undefined elsewhere. A path a listener bound relative to its own folder is resolved against ours.
 */
function listeningSocketPaths(): Set<string> | undefined {
  if (process.platform !== 'linux') return undefined;
  let text: string;
  try {
    text = readFileSync('/proc/net/unix', 'latin1');
  } catch {
    return undefined;
  }
  const out = new Set<string>();
  // Num RefCount Protocol Flags Type St Inode Path; Flags has __SO_ACCEPTCON (0x10000) when listening.
  for (const line of text.split('\n').slice(1)) {
    const m = /^\s*[0-9a-fA-F]+:\s+[0-9a-fA-F]+\s+[0-9a-fA-F]+\s+([0-9a-fA-F]+)\s+\S+\s+\S+\s+\d+\s(.+)$/.exec(line);
    // Only endpoint names matter here (a system has many other sockets); abstract ones start with '@'.
    if (m && (parseInt(m[1] as string, 16) & 0x10000) !== 0 && ENDPOINT_NAME_PARTS.test(path.basename(m[2] as string)))
      out.add(canonical(m[2] as string));
  }
  return out;
}

/**
 * The addresses in a parent's vsock folder that have a live listener (a file left by a dead one is
 * not one). On Linux this reads /proc/net/unix and never connects, so a listener that accepts one
 * connection (`nitro-dev vsock listen`) does not see a probe; elsewhere each file is probed with a
 * connection that is closed at once.
 */
export async function liveEndpoints(dir: string): Promise<VsockAddress[]> {
  const files = listEndpointFiles(dir);
  if (files.length === 0) return [];
  if (process.platform === 'win32') return files;
  const listening = listeningSocketPaths();
  if (listening) {
    return files.filter((a) => listening.has(canonical(endpointPath(dir, a))));
  }
  const alive = await Promise.all(files.map((a) => answers(endpointPath(dir, a))));
  return files.filter((_, i) => alive[i]);
}

/** Whether something listens at a local socket path right now (without connecting where it can). */
async function listensAt(where: string): Promise<boolean> {
  const listening = listeningSocketPaths();
  return listening ? listening.has(canonical(where)) : answers(where);
}

/** Whether something accepts connections at a local socket path right now. */
function answers(where: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createConnection(where);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Listens on (CID, port) in a parent's vsock folder. A socket file left by a listener that died is
 * replaced; a live listener makes this fail with VsockInUseError. Closing the server removes its file.
 */
export async function listenVsock(
  dir: string,
  address: VsockAddress,
  onConnection: (socket: net.Socket) => void,
): Promise<net.Server> {
  const where = endpointPath(dir, address);
  const server = net.createServer(onConnection);
  for (let attempt = 0; ; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(where, () => {
          server.off('error', reject);
          resolve();
        });
      });
      break;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE') throw e;
      // A named pipe goes with its last handle: in use means a live listener.
      if (process.platform === 'win32' || attempt > 0 || (await listensAt(where))) throw new VsockInUseError(address);
      rmSync(where, { force: true });
    }
  }
  if (process.platform !== 'win32') chmodSync(where, FILE_MODE);
  return server;
}
