// How `nitro-dev qemu setup` and the tool checks run programs: one injectable runner, so that the
// unit tests can pass a fake one and look at the commands planned. The real one spawns each program
// without a shell in its own process group (cancelling kills the whole group: make and ninja start
// compilers), reads stdout and stderr line by line, hands each line to the caller and keeps only the
// last lines for the error message of a failed command.
import { spawn } from 'node:child_process';
import { CancelledError, type CancellationLike } from '../../platform/lifecycle';

/** One program to run. */
export interface ToolCommand {
  readonly argv: readonly string[];
  readonly cwd?: string;
  /** The whole environment of the program (default: this process's). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface RunToolOptions {
  readonly cancellation?: CancellationLike;
  /** Each line the program prints (stdout and stderr), as it comes. */
  readonly onLine?: (line: string) => void;
}

/** How a program ended, and the last lines it printed (stdout and stderr, interleaved). */
export interface ToolOutcome {
  /** The exit status, or null when a signal ended it. */
  readonly status: number | null;
  readonly signal: string | null;
  readonly tail: readonly string[];
}

/** Runs one program to its end. Rejects only when it cannot be started or is cancelled. */
export type ToolRunner = (command: ToolCommand, options?: RunToolOptions) => Promise<ToolOutcome>;

/** How many of a program's last lines are kept for error messages. */
export const KEPT_LINES = 200;
/** Longer lines are cut to this many characters (a minified file on one line must not fill memory). */
export const MAX_LINE = 4000;
/** How long a cancelled program's group gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 3000;

/** A program that could not be started at all (not installed, not executable). */
export class ToolStartError extends Error {
  constructor(
    readonly program: string,
    message: string,
  ) {
    super(message);
    this.name = 'ToolStartError';
  }
}

/** Keeps the last `limit` lines of a stream of text chunks, each line at most MAX_LINE characters. */
export class LineTail {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(
    private readonly limit = KEPT_LINES,
    private readonly onLine?: (line: string) => void,
  ) {}

  push(text: string): void {
    const parts = (this.partial + text).split(/\r?\n|\r/);
    this.partial = (parts.pop() ?? '').slice(0, MAX_LINE);
    for (const line of parts) this.add(line);
  }

  end(): void {
    if (this.partial !== '') this.add(this.partial);
    this.partial = '';
  }

  get kept(): readonly string[] {
    return this.lines;
  }

  private add(line: string): void {
    const cut = line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}...` : line;
    this.lines.push(cut);
    if (this.lines.length > this.limit) this.lines.shift();
    this.onLine?.(cut);
  }
}

/** Sends `signal` to the process group of `pid` (the child was started detached, as its leader). */
function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** The real runner: spawns on this machine. */
export const localToolRunner: ToolRunner = (command, options = {}) =>
  new Promise((resolve, reject) => {
    const [program, ...args] = command.argv;
    if (program === undefined) return reject(new ToolStartError('', 'no program given'));
    if (options.cancellation?.isCancellationRequested) return reject(new CancelledError(program));
    const tail = new LineTail(KEPT_LINES, options.onLine);
    let child;
    try {
      child = spawn(program, args, {
        cwd: command.cwd,
        env: command.env ?? process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
    } catch (e) {
      return reject(new ToolStartError(program, `cannot start ${program}: ${(e as Error).message}`));
    }
    let startError: Error | undefined;
    let cancelled = false;
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const sub = options.cancellation?.onCancellationRequested(() => {
      cancelled = true;
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
    });
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (t: string) => tail.push(t));
    child.stderr.on('data', (t: string) => tail.push(t));
    child.on('error', (e: NodeJS.ErrnoException) => {
      startError =
        e.code === 'ENOENT'
          ? new ToolStartError(program, `${program} was not found`)
          : new ToolStartError(program, `cannot run ${program}: ${e.message}`);
    });
    child.on('close', (status, signal) => {
      sub?.dispose();
      // The group may still hold processes the program left behind (a cancelled make's compilers).
      if (cancelled) killGroup(child.pid, 'SIGKILL');
      if (killTimer) clearTimeout(killTimer);
      tail.end();
      if (cancelled) return reject(new CancelledError(program));
      if (startError) return reject(startError);
      resolve({ status, signal, tail: tail.kept });
    });
  });

/** `argv` as a shell would show it, for messages and logs. */
export function commandLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
