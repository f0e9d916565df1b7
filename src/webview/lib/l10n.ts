// The webview's localized words: the table the host put in the page (the `data-words` attribute of
// #root, built with vscode.l10n.t), read once. A word the table lacks shows in English.
import { fillPlaceholders, LIB_WORDS, parseWords, type LibWord } from '../../shared/words';

type DOMStringMapLike = Record<string, string | undefined>;

export interface PageWords<K extends string> {
  /** The word `key` in the user's language, its `{0}`... filled with `args`. */
  readonly t: (key: K, ...args: Array<string | number>) => string;
  /** `one` when n is 1, else `other` with n as its `{0}`. */
  readonly count: (n: number, one: K, other: K) => string;
}

export function wordsFromPage<K extends string>(keys: readonly K[]): PageWords<K> {
  // Without a page (the lib's unit tests in Node) every word is English. Typed here, not by the DOM's
  // types, so that Node-side code may import the lib's pure modules.
  const page = (globalThis as { document?: { getElementById(id: string): { dataset: DOMStringMapLike } | null } })
    .document;
  const json = page?.getElementById('root')?.dataset['words'];
  const words = parseWords(keys, json);
  const t = (key: K, ...args: Array<string | number>): string => fillPlaceholders(words[key], args);
  return { t, count: (n, one, other) => (n === 1 ? t(one) : t(other, n)) };
}

/** The words of src/webview/lib (dom.ts, format.ts), from the same table as the page's own. */
export const libWords: PageWords<LibWord> = wordsFromPage(LIB_WORDS);
