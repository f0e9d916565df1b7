// `--host H [--ssh-config F]`, as every command that reaches a parent instance over ssh takes it
// (doctor, run-enclave, describe-enclaves, terminate-enclave, console): the options, their checks
// (usage errors, exit 2) and the ssh options they stand for, in one place.
import * as path from 'node:path';
import { DEFAULT_SSH_OPTIONS, sshHostProblem, type SshOptions } from '../engine/node';
import { UsageError, optionValue, type ParsedArgs } from './args';
import type { CliIo, Command } from './types';

/** `--host` and `--ssh-config`. */
export const HOST_OPTIONS = [
  {
    name: 'host',
    value: 'HOST',
    help: 'The parent instance reached by `ssh HOST` (a Host of your ssh configuration, or [user@]host)',
  },
  { name: 'ssh-config', value: 'FILE', help: 'With --host: the ssh configuration file (ssh -F)' },
] as const;

/** An option as clap names it in its messages: `'--host <HOST>'`, `'--json'`. */
function shown(command: Command, name: string): string {
  const value = command.options.find((o) => o.name === name)?.value;
  return `'--${name}${value !== undefined ? ` <${value}>` : ''}'`;
}

/** A usage error unless `name`, when given, comes with `needed`. */
export function requireOption(command: Command, args: ParsedArgs, name: string, needed: string): void {
  if (args.options.has(name) && !args.options.has(needed))
    throw new UsageError(`the argument ${shown(command, name)} requires ${shown(command, needed)}`, command);
}

/**
 * The host of `--host`, or undefined without it. Usage errors: `--host` with one of `conflicting`,
 * `--ssh-config` without `--host`, a host ssh must not be given (empty, starting with `-`, a space
 * or a control character).
 */
export function hostOption(
  command: Command,
  args: ParsedArgs,
  conflicting: readonly string[] = [],
): string | undefined {
  const host = optionValue(args, 'host');
  if (host !== undefined) {
    const other = conflicting.find((name) => args.options.has(name));
    if (other !== undefined)
      throw new UsageError(
        `the argument ${shown(command, 'host')} cannot be used with ${shown(command, other)}`,
        command,
      );
  }
  requireOption(command, args, 'ssh-config', 'host');
  const problem = host !== undefined ? sshHostProblem(host) : undefined;
  if (problem) throw new UsageError(`--host: ${problem}`, command);
  return host;
}

/** How ssh runs for `--host`: the defaults, with `--ssh-config` (relative to the working folder) as ssh -F. */
export function sshOptionsOf(io: CliIo, args: ParsedArgs): SshOptions {
  const configFile = optionValue(args, 'ssh-config');
  return {
    ...DEFAULT_SSH_OPTIONS,
    ...(configFile !== undefined ? { configFile: path.resolve(io.cwd, configFile) } : {}),
  };
}
