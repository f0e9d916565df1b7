// The Attach application step of Run Enclave without VS Code: what a typed command line will run
// (checked as it is typed), the request's `app` it becomes, and where it is remembered per image.
// The command line is split by the engine's parseCommandLine, the rules of `run-enclave --app`.
import { parseCommandLine, type RunEnclaveRequest } from '../../engine';
import { l10n } from '../l10n';

/** The workspaceState key under which the application of an image is remembered. */
export function appMemoryKey(eifPath: string): string {
  return `nitroEnclaves.runEnclave.app:${eifPath}`;
}

/**
 * The Attach application step's check of a command line as it is typed: an error (an unclosed
 * quote, an empty command), or an information line saying what will run; undefined when empty.
 */
export function checkApplicationLine(text: string): { error: string } | { info: string } | undefined {
  const parsed = parseCommandLine(text);
  if (!parsed.ok) return { error: parsed.reason };
  const [command, ...args] = parsed.words;
  if (command === undefined) return undefined;
  if (command === '') return { error: 'The command (the first word) is empty.' };
  const shown = (w: string) => (w === '' || /[\s"']/.test(w) ? JSON.stringify(w) : w);
  return {
    info:
      args.length === 0
        ? `Runs ${shown(command)} without arguments.`
        : `Runs ${shown(command)} with ${args.length === 1 ? '1 argument' : `${args.length} arguments`}: ` +
          args.map(shown).join(' '),
  };
}

/** The request's `app` for a command line (undefined for an empty one); throws when the line is refused. */
export function applicationRequest(text: string, cwd: string): RunEnclaveRequest['app'] {
  const check = checkApplicationLine(text);
  if (check === undefined) return undefined;
  const parsed = parseCommandLine(text);
  if ('error' in check || !parsed.ok)
    throw new Error(l10n.t("The application's command line cannot be used: {0}", 'error' in check ? check.error : ''));
  const [command, ...args] = parsed.words;
  return { command: command as string, args, cwd };
}
