// The types every subcommand is written against. The command table (commands.ts) imports the
// commands, and the commands import only this, so that no command depends on the table.
import type { CancellationLike } from '../engine';
import type { CommandSpec, ParsedArgs } from './args';

/** What a subcommand gets to talk to the outside world; tests pass their own. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Whether stderr is a terminal (progress lines are shown only then). */
  readonly stderrIsTty?: boolean;
  /**
   * Reads standard input (for `-` as a file name) to its end, or stops reading once more than
   * `limit` bytes have come and returns the first limit + 1, so that the caller can tell.
   */
  readonly stdin?: (limit: number) => Promise<Uint8Array>;
  /** Set when the user interrupts (Ctrl-C): long commands stop and clean up. */
  readonly cancellation?: CancellationLike;
}

export interface Command extends CommandSpec {
  /**
   * The command takes `io.cancellation`: the first Ctrl-C, SIGTERM or SIGHUP asks it to stop and clean
   * up. Without it the process ends at once on the first signal (nothing to clean up).
   */
  readonly cancellable?: boolean;
  /** Runs the command; resolves to the process exit code. */
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}
