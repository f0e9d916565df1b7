// Tables of localized words that the host hands a webview (which cannot call vscode.l10n): keyed by
// the English text, valued by its translation, with `{0}`-style placeholders filled on the webview's
// side. Pure, with no imports, so every area may use it.

/** A table of localized words for the keys `K`. */
export type Words<K extends string> = Readonly<Record<K, string>>;

/** `{0}`, `{1}`, ... replaced by their arguments, as vscode.l10n.t does; other braces stay. */
export function fillPlaceholders(message: string, args: ReadonlyArray<string | number>): string {
  return message.replace(/\{(\d+)\}/g, (whole, index: string) => {
    const value = args[Number(index)];
    return value === undefined ? whole : String(value);
  });
}

/** Reads a table from its JSON text: each key of `keys` its string, else the English key itself. */
export function parseWords<K extends string>(keys: readonly K[], json: string | undefined): Words<K> {
  let table: Record<string, unknown> = {};
  try {
    const parsed: unknown = json ? JSON.parse(json) : {};
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      table = parsed as Record<string, unknown>;
  } catch {
    // A page without a valid table shows English.
  }
  const words = {} as Record<K, string>;
  for (const key of keys) {
    const value = Object.hasOwn(table, key) ? table[key] : undefined;
    words[key] = typeof value === 'string' ? value : key;
  }
  return words;
}

/**
 * The words of the webviews' shared building blocks (src/webview/lib: copy buttons, the PCR table's
 * head, sizes and offsets). Every page that uses them carries these in its table too.
 */
export const LIB_WORDS = [
  '1 byte',
  '{0} bytes',
  'Copy {0}',
  'Copy KMS condition for PCR{0} (kms:RecipientAttestation:{1})',
  'Measures',
  'Not copied: {0}',
  'byte {0}',
] as const;

export type LibWord = (typeof LIB_WORDS)[number];
