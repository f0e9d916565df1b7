// An application's command line as one line of text (`node app.js --port 5000`), split into the
// command and its arguments for RunEnclaveRequest.app. No shell runs it, so the rules are few:
//   - white space separates words;
//   - single or double quotes group (`"my app.js"` is one word, the quotes are dropped; a quote
//     may start or end inside a word: `--name="a b"` is `--name=a b`); the other kind of quote
//     inside them is an ordinary character; `""` is an empty word;
//   - nothing else is special: no backslash escapes, variables, globs, pipes or redirections.
// `nitro-dev run-enclave --app` and Run Enclave's Attach application step both split with it.

export interface CommandLine {
  readonly command: string;
  readonly args: readonly string[];
}

export type ParsedCommandLine =
  { readonly ok: true; readonly words: readonly string[] } | { readonly ok: false; readonly reason: string };

/** Splits `text` into words by the rules above; an unclosed quote is refused, saying where it opens. */
export function parseCommandLine(text: string): ParsedCommandLine {
  const words: string[] = [];
  let current = '';
  let quote: string | undefined;
  let quoteAt = 0;
  let any = false;
  let at = 0;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      quoteAt = at;
      any = true;
    } else if (/\s/.test(ch)) {
      if (any) words.push(current);
      current = '';
      any = false;
    } else {
      current += ch;
      any = true;
    }
    at += ch.length;
  }
  if (quote)
    return {
      ok: false,
      reason: `The ${quote === '"' ? 'double' : 'single'} quote at character ${quoteAt + 1} is not closed.`,
    };
  if (any) words.push(current);
  return { ok: true, words };
}

/**
 * The application of a command line: its first word is the command, the rest its arguments.
 * Undefined for a line of white space only (no application); throws on an unclosed quote.
 */
export function applicationOf(text: string): CommandLine | undefined {
  const parsed = parseCommandLine(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  const [command, ...args] = parsed.words;
  if (command === undefined) return undefined;
  return { command, args };
}

/** Why a command line cannot be an application's, or undefined when it can (or is empty: none). */
export function commandLineProblem(text: string): string | undefined {
  const parsed = parseCommandLine(text);
  if (!parsed.ok) return parsed.reason;
  if (parsed.words.length > 0 && parsed.words[0] === '') return 'The command (the first word) is empty.';
  return undefined;
}
