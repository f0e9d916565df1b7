// Where the nitro-cli backend and the doctor run their commands: on this machine (spawned without a
// shell) or on a host over ssh (the words quoted for the remote shell, scripts given on `sh -s`'s
// standard input; BatchMode, no password or keyboard prompt, no tty, a connect timeout). The one
// place ssh is run: its arguments, the hosts it must not be given, and the error when it cannot
// reach a host (ssh's exit status 255). Output is captured up to a bound; a run may have a time
// bound; cancelling kills the child.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { firstLines, type CommandEnd } from '../../nitrocli/output';
import { shellCommand } from '../../nitrocli/shell';
import { CancelledError, type CancellationLike } from '../../platform/lifecycle';
import type { SshOptions } from './options';

/** What a finished command printed and how it ended. */
export interface CommandResult extends CommandEnd {
  readonly stdout: string;
}

export interface RunOptions {
  readonly cancellation?: CancellationLike;
  /** The most stdout kept (default 4 MiB); more fails the command. */
  readonly maxStdout?: number;
  /** How long the whole run may take, in milliseconds; longer kills it with an error (default: no bound). */
  readonly timeoutMs?: number;
  /** What error messages call the command (default: the program's name). */
  readonly label?: string;
}

/** A command whose stdout is read as it comes (nitro-cli console). */
export interface StreamingCommand {
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Settles when the command has ended (after its output was read or it was killed). */
  readonly ended: Promise<CommandEnd>;
  kill(): void;
}

/** Runs commands on one machine. `argv[0]` is the program. */
export interface CommandRunner {
  /** `this instance` or the host, for messages. */
  readonly where: string;
  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** Runs a POSIX sh script (`sh -c script`). */
  runScript(script: string, options?: RunOptions): Promise<CommandResult>;
  stream(argv: readonly string[]): StreamingCommand;
}

export const DEFAULT_MAX_STDOUT = 4 * 1024 * 1024;
const MAX_STDERR = 64 * 1024;

/** The command could not be started or run at all (not found, host unreachable, output too large). */
export class RunnerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunnerError';
  }
}

/**
 * ssh could not reach the host (its exit status 255). The message's first line is `cannot reach
 * <host>: <ssh's reason>`; the second, the command that shows the failure.
 */
export class SshUnreachableError extends RunnerError {
  constructor(
    readonly host: string,
    /** ssh's reason, past its warnings (`Connection refused`, `Permission denied (publickey).`). */
    readonly reason: string,
    /** A command line the user can paste to see the failure themselves. */
    readonly reproduce: string,
  ) {
    super(`cannot reach ${host}: ${reason}\nTo see it yourself: ${reproduce}`);
    this.name = 'SshUnreachableError';
  }
}

interface Spawned {
  readonly program: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Written to the child's standard input, which is then closed (default: no input). */
  readonly input?: string;
}

/** Collects a child's output up to the bounds; kills it when a bound is passed or the run is cancelled. */
function collect(spec: Spawned, defaultWhat: string, options: RunOptions = {}): Promise<CommandResult> {
  const maxStdout = options.maxStdout ?? DEFAULT_MAX_STDOUT;
  const what = options.label ?? defaultWhat;
  return new Promise((resolve, reject) => {
    if (options.cancellation?.isCancellationRequested) return reject(new CancelledError(what));
    let child: ChildProcess;
    try {
      const stdin = spec.input !== undefined ? 'pipe' : 'ignore';
      child = spawn(spec.program, [...spec.args], { stdio: [stdin, 'pipe', 'pipe'], env: spec.env });
    } catch (e) {
      return reject(new RunnerError(`cannot start ${spec.program}: ${(e as Error).message}`));
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outSize = 0;
    let errSize = 0;
    let failure: Error | undefined;
    const stop = (e: Error) => {
      failure ??= e;
      child.kill('SIGKILL');
      // A process it started may still hold the pipes open: the run ends now all the same.
      child.stdout!.destroy();
      child.stderr!.destroy();
    };
    const sub = options.cancellation?.onCancellationRequested(() => stop(new CancelledError(what)));
    const timeoutMs = options.timeoutMs;
    const timer =
      timeoutMs !== undefined
        ? setTimeout(() => stop(new RunnerError(`${what} did not finish in ${timeoutMs / 1000} s`)), timeoutMs)
        : undefined;
    child.stdout!.on('data', (b: Buffer) => {
      outSize += b.length;
      if (outSize > maxStdout) stop(new RunnerError(`${what} printed more than ${maxStdout} bytes`));
      else out.push(b);
    });
    child.stderr!.on('data', (b: Buffer) => {
      if (errSize < MAX_STDERR) err.push(b.subarray(0, MAX_STDERR - errSize));
      errSize += b.length;
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      failure ??=
        e.code === 'ENOENT'
          ? new RunnerError(`${spec.program} was not found`)
          : new RunnerError(`cannot run ${spec.program}: ${e.message}`);
    });
    if (spec.input !== undefined) {
      // A command that ends without reading all of it (or a host that closes the connection) makes
      // the write fail: its exit status says why.
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(spec.input);
    }
    child.on('close', (status, signal) => {
      sub?.dispose();
      if (timer) clearTimeout(timer);
      if (failure) return reject(failure);
      resolve({
        status,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

function streamOf(spec: Spawned): StreamingCommand {
  // stdin stays open: over ssh, the remote command sees its end when the connection goes.
  const child = spawn(spec.program, [...spec.args], { stdio: ['pipe', 'pipe', 'pipe'], env: spec.env });
  child.stdin.on('error', () => undefined);
  const err: Buffer[] = [];
  let errSize = 0;
  child.stderr.on('data', (b: Buffer) => {
    if (errSize < MAX_STDERR) err.push(b.subarray(0, MAX_STDERR - errSize));
    errSize += b.length;
  });
  let spawnError: Error | undefined;
  const ended = new Promise<CommandEnd>((resolve) => {
    child.on('error', (e) => {
      spawnError = e;
    });
    child.on('close', (status, signal) =>
      resolve({
        status: spawnError ? 127 : status,
        signal,
        stderr: spawnError ? `${spec.program}: ${spawnError.message}` : Buffer.concat(err).toString('utf8'),
      }),
    );
  });
  const stdout = child.stdout;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for await (const b of stdout) yield new Uint8Array(b as Buffer);
  }
  return {
    chunks: chunks(),
    ended,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      stdout.destroy();
    },
  };
}

/** Runs on this machine. */
export class LocalRunner implements CommandRunner {
  readonly where = 'this instance';

  constructor(private readonly env?: Readonly<Record<string, string | undefined>>) {}

  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult> {
    const [program, ...args] = argv;
    return collect({ program: program!, args, env: this.env }, path.basename(program!), options);
  }

  runScript(script: string, options?: RunOptions): Promise<CommandResult> {
    return collect({ program: 'sh', args: ['-c', script], env: this.env }, 'sh', options);
  }

  stream(argv: readonly string[]): StreamingCommand {
    const [program, ...args] = argv;
    return streamOf({ program: program!, args, env: this.env });
  }
}

/** Why ssh must not be given this host, or undefined: nothing, an option in disguise, a space or a control byte. */
export function sshHostProblem(host: string): string | undefined {
  if (host === '') return 'the host is empty';
  if (host.startsWith('-')) return `the host '${host}' starts with '-': ssh would read it as an option`;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f]/.test(host)) return `the host '${host}' holds a space or a control character`;
  return undefined;
}

/** ssh's options that keep it from ever prompting, and the connect timeout. */
export function sshBaseArgs(options: SshOptions): string[] {
  if (!Number.isFinite(options.connectTimeoutSeconds))
    throw new RunnerError(`the ssh connect timeout must be a number of seconds, not ${options.connectTimeoutSeconds}`);
  const timeout = Math.max(1, Math.floor(options.connectTimeoutSeconds));
  return [
    ...(options.configFile !== undefined ? ['-F', options.configFile] : []),
    '-o',
    'BatchMode=yes',
    '-o',
    `ConnectTimeout=${timeout}`,
    '-o',
    'PasswordAuthentication=no',
    '-o',
    'KbdInteractiveAuthentication=no',
  ];
}

/** The scp beside the ssh executable when sshPath is a path, else `scp` from PATH. */
export function scpPathFor(sshPath: string): string {
  return sshPath.includes('/') || sshPath.includes(path.sep) ? path.join(path.dirname(sshPath), 'scp') : 'scp';
}

const MAX_REASON = 500;

/**
 * The lines of an ssh run's stderr past ssh's warnings (`Warning: Permanently added ...`, newer
 * OpenSSH's `** WARNING: ...` block), each at most 500 characters.
 */
export function sshMessages(stderr: string): string[] {
  return stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^(?:Warning:|\*\*)/i.test(l))
    .map((l) => (l.length > MAX_REASON ? `${l.slice(0, MAX_REASON - 1)}…` : l));
}

/**
 * Why ssh could not reach the host: the last line it said past its warnings, without its `ssh: `
 * prefix (`connect to host 10.0.0.5 port 22: Connection refused`, `Host key verification failed.`).
 */
export function sshFailureReason(stderr: string): string {
  const last = sshMessages(stderr).pop();
  return last === undefined ? 'ssh failed without a message' : last.replace(/^ssh: /, '');
}

/** Runs on a host over ssh. */
export class SshRunner implements CommandRunner {
  constructor(
    readonly host: string,
    readonly ssh: SshOptions,
    private readonly env?: Readonly<Record<string, string | undefined>>,
  ) {}

  get where(): string {
    return this.host;
  }

  /** The host, or a RunnerError when ssh must not be given it (see sshHostProblem). */
  private checkedHost(): string {
    const problem = sshHostProblem(this.host);
    if (problem) throw new RunnerError(problem);
    return this.host;
  }

  /** ssh's arguments for a remote command line. */
  sshArgs(remoteCommand: string): string[] {
    return [...sshBaseArgs(this.ssh), '-T', '--', this.checkedHost(), remoteCommand];
  }

  /** The command a user can paste to see the failure themselves. */
  reproduce(remoteCommand: string): string {
    return shellCommand([this.ssh.sshPath, ...this.sshArgs(remoteCommand)]);
  }

  private unreachable(stderr: string): SshUnreachableError {
    return new SshUnreachableError(this.host, sshFailureReason(stderr), this.reproduce('true'));
  }

  private async runRemote(
    remoteCommand: string,
    what: string,
    options?: RunOptions,
    input?: string,
  ): Promise<CommandResult> {
    const result = await collect(
      {
        program: this.ssh.sshPath,
        args: this.sshArgs(remoteCommand),
        env: this.env,
        ...(input !== undefined ? { input } : {}),
      },
      what,
      options,
    );
    if (result.status === 255) throw this.unreachable(result.stderr);
    return result;
  }

  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult> {
    return this.runRemote(shellCommand(argv), path.basename(argv[0]!), options);
  }

  /**
   * The script goes to `sh -s` on its standard input: the user's login shell (sh, bash, csh, fish)
   * parses only `sh -s`, never a quoted script. In braces, sh reads all of it before running any of
   * it (a connection lost halfway runs nothing), and no command in it reads the rest as its input.
   */
  runScript(script: string, options?: RunOptions): Promise<CommandResult> {
    return this.runRemote('sh -s', 'sh', options, `{\n${script}\n} </dev/null\n`);
  }

  stream(argv: readonly string[]): StreamingCommand {
    const remote = shellCommand(argv);
    const s = streamOf({ program: this.ssh.sshPath, args: this.sshArgs(remote), env: this.env });
    return {
      chunks: s.chunks,
      kill: () => s.kill(),
      ended: s.ended.then((end) =>
        end.status === 255 ? { ...end, stderr: this.unreachable(end.stderr).message } : end,
      ),
    };
  }

  /** Copies a local file to a path on the host with scp. */
  async copyTo(localPath: string, remotePath: string, options?: RunOptions): Promise<void> {
    const scp = scpPathFor(this.ssh.sshPath);
    const args = [...sshBaseArgs(this.ssh), '-q', '--', localPath, `${this.checkedHost()}:${remotePath}`];
    const result = await collect({ program: scp, args, env: this.env }, 'scp', options);
    if (result.status !== 0) {
      const reason = firstLines(result.stderr, 2) || `exit status ${result.status ?? result.signal}`;
      throw new RunnerError(
        `cannot copy ${localPath} to ${this.host}: ${reason}\nTo see it yourself: ${shellCommand([scp, ...args])}`,
      );
    }
  }
}
