// The webview's localized words: the table the host put in the page (the `data-words` attribute of
// #root, built with vscode.l10n.t), read once. A word the table lacks shows in English.
import { fillPlaceholders, parseWords } from '../../shared/words';

export interface PageWords<K extends string> {
  /** The word `key` in the user's language, its `{0}`... filled with `args`. */
  readonly t: (key: K, ...args: Array<string | number>) => string;
  /** `one` when n is 1, else `other` with n as its `{0}`. */
  readonly count: (n: number, one: K, other: K) => string;
}

export function wordsFromPage<K extends string>(keys: readonly K[]): PageWords<K> {
  const words = parseWords(keys, document.getElementById('root')?.dataset['words']);
  const t = (key: K, ...args: Array<string | number>): string => fillPlaceholders(words[key], args);
  return { t, count: (n, one, other) => (n === 1 ? t(one) : t(other, n)) };
}
