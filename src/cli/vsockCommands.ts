// nitro-dev vsock: the emulated vsock from a shell, as socat is used with real vsock.
//
//   nitro-dev vsock connect CID:PORT   like `socat - VSOCK-CONNECT:CID:PORT`
//   nitro-dev vsock listen PORT        like `socat VSOCK-LISTEN:PORT -`, as the parent (CID 3)
//
// Both bridge standard input and output to one connection, bytes both ways: the end of standard
// input ends the connection's write side (the peer reads its end), and the command ends, exit
// status 0, once the peer has closed. They work in the emulated parent's vsock folder (--parent,
// else NITRO_VSOCK_DIR, which an enclave's attached application inherits, else the first parent),
// so an attached application can use them too. nitro-cli has no such command: failures read
// `nitro-dev: error: ...`, exit status 1.
import type * as net from 'node:net';
import {
  HEARTBEAT_PORT,
  connectVsock,
  endpointPath,
  listenVsock,
  parseVsockAddress,
  parseVsockPort,
  type VsockAddress,
} from '../engine/node';
import { CancelledError, type CancellationLike } from '../engine';
import { UsageError, type CommandSpec, type ParsedArgs } from './args';
import { reportFailure, type FailureStyle } from './errors';
import type { CliIo, Command } from './types';
import { VSOCK_PARENT_OPTION, vsockFolderFor } from './vsockOptions';

const PLAIN: FailureStyle = { report: 'plain' };
const PARENT_CID = 3;

/** Errors that only mean the peer went away mid-stream: the bridge ends as when it closes. */
const PEER_GONE = new Set(['ECONNRESET', 'EPIPE']);

/**
 * Bridges standard input and output to a connection until the peer closes it (or the command is
 * cancelled). Standard input's end half-closes the connection; what the peer sends is written to
 * standard output as it comes.
 */
function bridge(socket: net.Socket, cancellation: CancellationLike | undefined): Promise<void> {
  const input = process.stdin;
  const output = process.stdout;
  return new Promise<void>((resolve, reject) => {
    let failure: Error | undefined;
    const onCancel = cancellation?.onCancellationRequested(() => socket.destroy());
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (!PEER_GONE.has(e.code ?? '')) failure = e;
    });
    socket.on('data', (b: Buffer) => {
      if (!output.write(b)) {
        socket.pause();
        output.once('drain', () => socket.resume());
      }
    });
    socket.once('close', () => {
      onCancel?.dispose();
      input.unpipe(socket);
      // Nothing more is read: standard input must not keep the process alive.
      input.pause();
      input.destroy();
      if (cancellation?.isCancellationRequested) reject(new CancelledError());
      else if (failure) reject(failure);
      else output.write('', () => resolve());
    });
    // pipe ends the socket's write side when standard input ends: the half-close.
    input.pipe(socket);
    socket.resume();
  });
}

interface Action {
  readonly spec: CommandSpec;
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

const CONNECT: Action = {
  spec: {
    name: 'vsock connect',
    summary: 'Connects to vsock CID:PORT of an emulated parent or enclave and bridges it to stdin/stdout',
    options: [VSOCK_PARENT_OPTION],
    positionals: ['CID:PORT'],
    requiredPositionals: 1,
  },
  async run(args, io) {
    const text = args.positionals[1];
    const address = text === undefined ? undefined : parseVsockAddress(text);
    if (!address)
      throw new UsageError(
        `'${text ?? ''}' is not a vsock address: CID:PORT, two decimal numbers from 0 to 4294967294 (e.g. 16:5000)`,
        this.spec,
      );
    try {
      const { dir } = await vsockFolderFor(io, args);
      const socket = await connectVsock(dir, address);
      await bridge(socket, io.cancellation);
      return 0;
    } catch (e) {
      return reportFailure(io, e, PLAIN);
    }
  },
};

const LISTEN: Action = {
  spec: {
    name: 'vsock listen',
    summary:
      'Listens on vsock PORT as the emulated parent (CID 3), accepts one connection and bridges it to stdin/stdout',
    options: [VSOCK_PARENT_OPTION],
    positionals: ['PORT'],
    requiredPositionals: 1,
  },
  async run(args, io) {
    const text = args.positionals[1];
    const port = text === undefined ? undefined : parseVsockPort(text);
    if (port === undefined)
      throw new UsageError(`'${text ?? ''}' is not a vsock port: a decimal number from 0 to 4294967294`, this.spec);
    if (port === HEARTBEAT_PORT)
      io.stderr(
        `nitro-dev: note: port ${HEARTBEAT_PORT} is where run-enclave waits for enclave boot heartbeats; ` +
          'enclaves started on this parent meanwhile wait for it\n',
      );
    const address: VsockAddress = { cid: PARENT_CID, port };
    let server: net.Server | undefined;
    const cancelled = io.cancellation?.onCancellationRequested(() => server?.close());
    try {
      const { dir } = await vsockFolderFor(io, args);
      const accepted = new Promise<net.Socket | undefined>((resolve, reject) => {
        listenVsock(dir, address, (socket) => {
          // One connection, as socat without fork: the listener goes once it has one.
          server?.close();
          resolve(socket);
        }).then((s) => {
          server = s;
          s.once('close', () => resolve(undefined));
          if (io.cancellation?.isCancellationRequested) s.close();
          else io.stderr(`nitro-dev: listening on vsock ${PARENT_CID}:${port} (${endpointPath(dir, address)})\n`);
        }, reject);
      });
      const socket = await accepted;
      if (!socket) throw new CancelledError();
      await bridge(socket, io.cancellation);
      return 0;
    } catch (e) {
      server?.close();
      return reportFailure(io, e, PLAIN);
    } finally {
      cancelled?.dispose();
    }
  },
};

const ACTIONS: Readonly<Record<string, Action>> = { connect: CONNECT, listen: LISTEN };

export const vsockCommand: Command = {
  name: 'vsock',
  cancellable: true,
  summary:
    'The emulated vsock: `vsock connect CID:PORT` and `vsock listen PORT` (as the parent, CID 3) bridge ' +
    'one connection to stdin/stdout, like socat',
  options: [VSOCK_PARENT_OPTION],
  positionals: ['ACTION', 'ADDRESS'],
  requiredPositionals: 2,
  async run(args, io) {
    const name = args.positionals[0] as string;
    const action = ACTIONS[name];
    if (!action)
      throw new UsageError(`unknown vsock action '${name}'; the actions are ${Object.keys(ACTIONS).join(', ')}`, this);
    if (args.positionals.length > 2) throw new UsageError(`unexpected argument '${args.positionals[2]}'`, action.spec);
    return action.run(args, io);
  },
};
