// explain: what a nitro-cli error code means and how to fix it. nitro-cli's `explain --error-code Exx`
// prints its description on stderr; nitro-dev prints it on stdout (so that it pipes) and exits 0.
import { explainError, type ErrorExplanation } from '../engine';
import { UsageError, optionValue } from './args';
import type { Command } from './types';

/** The text `explain` prints: the code and title, the meaning, the fix and nitro-cli's documentation page. */
export function explanationText(e: ErrorExplanation): string {
  return [
    `[ ${e.code} ] ${e.title}`,
    '',
    e.meaning,
    '',
    `Fix: ${e.fix}`,
    '',
    `More: https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#${e.code}`,
    '',
  ].join('\n');
}

export const explainCommand: Command = {
  name: 'explain',
  summary: 'Explains a nitro-cli error code (E00-E60) and how to fix it',
  options: [{ name: 'error-code', value: 'error-code', help: 'The code, as nitro-cli reports it: E26 (also e26, 26)' }],
  positionals: ['ERROR_CODE'],
  run(args, io) {
    const option = optionValue(args, 'error-code');
    const positional = args.positionals[0];
    if (option !== undefined && positional !== undefined) {
      throw new UsageError(`the argument '--error-code <error-code>' cannot be used with '[ERROR_CODE]'`, this);
    }
    const code = option ?? positional;
    if (code === undefined) {
      throw new UsageError('the following required argument was not provided: <ERROR_CODE>', this);
    }
    const explanation = explainError(code);
    if (!explanation) {
      throw new UsageError(`'${code}' is not a nitro-cli error code: the codes are E00 to E60 (E26, e26 or 26)`, this);
    }
    io.stdout(explanationText(explanation));
    return Promise.resolve(0);
  },
};
