import type { CommandSpec, ParsedArgs } from './args';

/** What a subcommand gets to talk to the outside world; tests pass their own. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

export interface Command extends CommandSpec {
  /** Runs the command; resolves to the process exit code. */
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

/**
 * Every nitro-dev subcommand, in the order `--help` lists them. Subcommands keep nitro-cli's names,
 * flags and JSON output where nitro-cli has the same command.
 */
export const COMMANDS: readonly Command[] = [];
