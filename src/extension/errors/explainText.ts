// The text of a failure whose cause is a nitro-cli error code: the notification line and the
// "Show Fix" document. Pure (no vscode), so that unit tests read it; explain.ts shows it.
import { BackendError, explainError, type ErrorExplanation } from '../../engine';
import { l10n } from '../l10n';

/**
 * Is `e` a BackendError: of this bundle's class, or of another copy of the engine (a backend
 * registered from another bundle, such as the extension-host tests', throws its own copy's)?
 */
export function isBackendError(e: unknown): e is BackendError {
  if (e instanceof BackendError) return true;
  return e instanceof Error && e.name === 'BackendError' && Number.isInteger((e as { code?: unknown }).code);
}

/** The explanation of the first BackendError in `e`'s cause chain, if any. */
export function explanationOf(e: unknown): ErrorExplanation | undefined {
  const seen = new Set<unknown>();
  for (let cur: unknown = e; cur instanceof Error && !seen.has(cur); cur = cur.cause) {
    seen.add(cur);
    if (isBackendError(cur)) return explainError(cur.code);
  }
  return undefined;
}

/**
 * The notification of a failed command: `Nitro Enclaves: <message>`, and, for a nitro-cli code,
 * the code again with what it means (the message may not have room for the code's title).
 */
export function failureNotice(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const explanation = explanationOf(e);
  if (!explanation) return l10n.t('Nitro Enclaves: {0}', message);
  return l10n.t(
    'Nitro Enclaves: {0} ({1}, {2}: {3})',
    message,
    explanation.code,
    explanation.title,
    explanation.meaning,
  );
}

/**
 * Where no action can be offered (a console terminal): the code, what it means and the fix, as
 * lines; empty when `e` carries no nitro-cli code.
 */
export function explanationLines(e: unknown): string {
  const explanation = explanationOf(e);
  if (!explanation) return '';
  const what = l10n.t('{0} ({1}): {2}', explanation.code, explanation.title, explanation.meaning);
  return `${what}\n${l10n.t('Fix: {0}', explanation.fix)}\n`;
}

/** The path of the "Show Fix" document of a code: `/E26.md` (its name is the editor's title). */
export const explanationPath = (code: string): string => `/${code}.md`;

/** The code a "Show Fix" document path names, or undefined. */
export function codeOfExplanationPath(p: string): string | undefined {
  return /^\/(E\d\d)\.md$/.exec(p)?.[1];
}

/** The "Show Fix" document of a code, in Markdown. */
export function explanationMarkdown(e: ErrorExplanation): string {
  return [
    `# ${e.code}: ${e.title}`,
    '',
    `## ${l10n.t('What it means')}`,
    '',
    e.meaning,
    '',
    `## ${l10n.t('How to fix it')}`,
    '',
    e.fix,
    '',
    l10n.t(
      "nitro-cli's documentation of the code: {0}",
      `https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#${e.code}`,
    ),
    '',
    l10n.t('In a terminal: {0}.', `\`nitro-dev explain ${e.code}\``),
    '',
  ].join('\n');
}

/** What a "Show Fix" document of an unknown path shows. */
export function unknownExplanation(): string {
  const says = l10n.t('This document names no nitro-cli error code (E00 to E60).');
  return `# ${l10n.t('Unknown error code')}\n\n${says}\n`;
}
