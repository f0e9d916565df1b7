// nitro-dev vsock-proxy: the parent's vsock-proxy on an emulated parent, with the real tool's
// command line (`vsock-proxy [--config FILE] [-w N] [-4|-6] LOCAL_PORT REMOTE_ADDR REMOTE_PORT`),
// allowlist file and matching order. It runs in the foreground, prints one line per connection, and
// stops on Ctrl-C or SIGTERM, removing its endpoint. Unlike the real tool, a refused start names
// every allowlist entry tried and why it did not match. Failures read `nitro-dev: error: ...` with
// exit status 1 (nitro-cli has no such command).
import * as path from 'node:path';
import { DEFAULT_ALLOWLIST_PATH, formatVerdict, parseAllowlist, type IpFamily } from '../engine';
import {
  DEFAULT_WORKERS,
  VsockInUseError,
  VsockProxyRefusedError,
  parseVsockPort,
  readAllowlistFile,
  startVsockProxy,
} from '../engine/node';
import { UsageError, flag, optionValue, type CommandSpec } from './args';
import { reportFailure } from './errors';
import type { CliIo, Command } from './types';
import { VSOCK_PARENT_OPTION, vsockFolderFor } from './vsockOptions';

const SPEC: CommandSpec = {
  name: 'vsock-proxy',
  summary: "Forwards an emulated parent's vsock port to a TCP endpoint its allowlist names, as vsock-proxy",
  options: [
    {
      name: 'config',
      value: 'FILE',
      help: `The allowlist (YAML, vsock-proxy's format); default ${DEFAULT_ALLOWLIST_PATH}`,
    },
    {
      name: 'num_workers',
      short: 'w',
      value: 'N',
      help: `Connections forwarded at once; more wait for a free one (default ${DEFAULT_WORKERS})`,
    },
    { name: 'ipv4', short: '4', help: 'Use IPv4 addresses only' },
    { name: 'ipv6', short: '6', help: 'Use IPv6 addresses only' },
    VSOCK_PARENT_OPTION,
  ],
  positionals: ['LOCAL_PORT', 'REMOTE_ADDR', 'REMOTE_PORT'],
  requiredPositionals: 3,
};

/** What to do when the default allowlist is missing, as the error says it. */
const NO_DEFAULT_CONFIG =
  `${DEFAULT_ALLOWLIST_PATH} does not exist (the real vsock-proxy reads it by default, and says ` +
  '"Could not open the file"). Write an allowlist naming the endpoint and pass it with --config, ' +
  'as on a parent instance, e.g. a file vsock-proxy.yaml with:\n' +
  '    allowlist:\n' +
  '    - {address: 127.0.0.1, port: 8443}';

function parseNumbers(args: { positionals: readonly string[] }, workersText: string | undefined) {
  const [local, remoteAddr, remotePortText] = args.positionals as [string, string, string];
  const localPort = parseVsockPort(local);
  if (localPort === undefined) throw new UsageError(`Local port is not valid: '${local}' (0 to 4294967294)`, SPEC);
  const remotePort = /^\d{1,5}$/.test(remotePortText) ? Number(remotePortText) : NaN;
  if (!(remotePort >= 1 && remotePort <= 65535))
    throw new UsageError(`Remote port is not valid: '${remotePortText}' (1 to 65535)`, SPEC);
  if (remoteAddr === '') throw new UsageError('REMOTE_ADDR is empty', SPEC);
  const workers =
    workersText === undefined ? DEFAULT_WORKERS : /^\d{1,4}$/.test(workersText) ? Number(workersText) : NaN;
  if (!(workers >= 1 && workers <= 1024))
    throw new UsageError(`Number of workers is not valid: '${workersText}' (1 to 1024)`, SPEC);
  return { localPort, remoteAddr, remotePort, workers };
}

export const vsockProxyCommand: Command = {
  ...SPEC,
  cancellable: true,
  async run(args, io) {
    if (flag(args, 'ipv4') && flag(args, 'ipv6'))
      throw new UsageError("the argument '--ipv4' cannot be used with '--ipv6'", SPEC);
    const family: IpFamily = flag(args, 'ipv4') ? 4 : flag(args, 'ipv6') ? 6 : 0;
    const { localPort, remoteAddr, remotePort, workers } = parseNumbers(args, optionValue(args, 'num_workers'));
    const asked = optionValue(args, 'config');
    const file = asked === undefined ? DEFAULT_ALLOWLIST_PATH : path.resolve(io.cwd, asked);
    try {
      let text: string;
      try {
        text = await readAllowlistFile(file);
      } catch (e) {
        if (asked === undefined && (e as NodeJS.ErrnoException).code === 'ENOENT')
          throw new Error(NO_DEFAULT_CONFIG, { cause: e });
        throw e;
      }
      for (const d of parseAllowlist(text).diagnostics)
        io.stderr(`${file}:${d.line}:${d.column}: ${d.severity}: ${d.message}\n`);
      const { dir, parentId } = await vsockFolderFor(io, args);
      const proxy = await startVsockProxy({
        vsockDir: dir,
        localPort,
        remoteAddr,
        remotePort,
        allowlist: { text },
        family,
        workers,
        log: (line) => io.stdout(`${line}\n`),
      });
      const { verdict } = proxy;
      io.stdout(
        `vsock-proxy: listening on vsock 3:${localPort}${parentId ? ` of ${parentId}` : ''} (${proxy.endpoint}), ` +
          `forwarding to ${remoteAddr}:${remotePort} (${verdict.remoteIp}); allowed by entry ${verdict.entry.number} ` +
          `(${file}:${verdict.entry.line}) by its ${verdict.by}; ${workers} worker${workers === 1 ? '' : 's'}\n`,
      );
      await stopped(io);
      await proxy.close();
      const s = proxy.stats();
      io.stdout(
        `vsock-proxy: stopped (${s.total} connection${s.total === 1 ? '' : 's'}, ${s.bytesToRemote} bytes out, ` +
          `${s.bytesFromRemote} bytes back)\n`,
      );
      return 130;
    } catch (e) {
      if (e instanceof VsockProxyRefusedError) {
        io.stderr(
          `nitro-dev: error: Error at checking the allowlist ${file}: ` +
            formatVerdict(e.verdict, remoteAddr, remotePort),
        );
        return 1;
      }
      if (e instanceof VsockInUseError)
        return reportFailure(io, new Error(`Could not bind to cid: 3 port: ${localPort}: ${e.message}`), {
          report: 'plain',
        });
      return reportFailure(io, e, { report: 'plain' });
    }
  },
};

/** Resolves when the user stops the command (Ctrl-C, SIGTERM, SIGHUP). */
function stopped(io: CliIo): Promise<void> {
  const token = io.cancellation;
  if (!token) return new Promise<void>(() => undefined);
  if (token.isCancellationRequested) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const sub = token.onCancellationRequested(() => {
      sub.dispose();
      resolve();
    });
  });
}
