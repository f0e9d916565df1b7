import { VERSION } from '../engine';
import { UsageError, commandHelp, parseArgs } from './args';
import { COMMANDS } from './commands';
import type { CliIo, Command } from './types';

export const PROGRAM = 'nitro-dev';

/** Exit codes: 0 success, 1 the command failed, 2 the command line was wrong. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export function versionText(): string {
  return `${PROGRAM} ${VERSION}\n`;
}

export function mainHelp(commands: readonly Command[] = COMMANDS): string {
  const rows: [string, string][] = [
    ...commands.map((c): [string, string] => [c.name, c.summary]),
    ['help', 'Print this message or the help of the given subcommand'],
  ];
  const width = Math.max(...rows.map(([n]) => n.length));
  return [
    `${PROGRAM} ${VERSION}: AWS Nitro Enclaves development tools ` +
      `(nitro-cli compatible where nitro-cli has the command)`,
    '',
    `Usage: ${PROGRAM} [OPTIONS] <COMMAND>`,
    '',
    'Commands:',
    ...rows.map(([n, s]) => `  ${n.padEnd(width)}  ${s}`),
    '',
    'Options:',
    '  -h, --help     Print help',
    '  -V, --version  Print version',
    '',
  ].join('\n');
}

/** Runs nitro-dev with `argv` (without the node and script paths) and resolves to the exit code. */
export async function runCli(
  argv: readonly string[],
  io: CliIo,
  commands: readonly Command[] = COMMANDS,
): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.stderr(mainHelp(commands));
    return EXIT_USAGE;
  }
  if (first === '-h' || first === '--help') {
    io.stdout(mainHelp(commands));
    return EXIT_OK;
  }
  if (first === '-V' || first === '--version') {
    io.stdout(versionText());
    return EXIT_OK;
  }
  if (first === 'help') {
    const name = rest[0];
    if (name === undefined) {
      io.stdout(mainHelp(commands));
      return EXIT_OK;
    }
    const command = commands.find((c) => c.name === name);
    if (!command) {
      io.stderr(`error: unrecognized subcommand '${name}'\n\n${mainHelp(commands)}`);
      return EXIT_USAGE;
    }
    io.stdout(commandHelp(PROGRAM, command));
    return EXIT_OK;
  }
  const command = commands.find((c) => c.name === first);
  if (!command) {
    const what = first.startsWith('-') ? `unexpected argument '${first}' found` : `unrecognized subcommand '${first}'`;
    io.stderr(`error: ${what}\n\n${mainHelp(commands)}`);
    return EXIT_USAGE;
  }
  if (rest.includes('-h') || rest.includes('--help')) {
    io.stdout(commandHelp(PROGRAM, command));
    return EXIT_OK;
  }
  try {
    return await command.run(parseArgs(command, rest), io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`error: ${e.message}\n\n${commandHelp(PROGRAM, e.command ?? command)}`);
      return EXIT_USAGE;
    }
    throw e;
  }
}
