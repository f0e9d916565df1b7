// Which files the workspace's image searches leave out, as one glob for `findFiles`. Pure (no
// vscode), so it is unit-tested in Node. VS Code applies `files.exclude` by itself only when a search
// passes no exclude at all, so the images' own patterns and `files.exclude` are joined here.

/** A settings pattern yields at most this many brace alternatives (a pattern such as `{a,b}{c,d}…` multiplies). */
const MAX_ALTERNATIVES = 256;

/**
 * `a/{b,c}/d` → [`a/b/d`, `a/c/d`], nested braces included. VS Code's globs accept braces but not
 * braces within braces, so the patterns are expanded before they are joined inside one pair.
 */
export function expandBraces(pattern: string): string[] {
  const open = pattern.indexOf('{');
  if (open < 0) return [pattern];
  let depth = 0;
  const commas: number[] = [];
  let close = -1;
  for (let i = open; i < pattern.length && close < 0; i++) {
    const c = pattern[i];
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) close = i;
    else if (c === ',' && depth === 1) commas.push(i);
  }
  if (close < 0) return [pattern]; // an unmatched brace is a literal one
  const cuts = [open, ...commas, close];
  const rest = expandBraces(pattern.slice(close + 1));
  const out: string[] = [];
  for (let k = 0; k + 1 < cuts.length; k++) {
    const choice = pattern.slice((cuts[k] as number) + 1, cuts[k + 1]);
    for (const middle of expandBraces(choice)) {
      for (const tail of rest) {
        if (out.length >= MAX_ALTERNATIVES) return out;
        out.push(pattern.slice(0, open) + middle + tail);
      }
    }
  }
  return out;
}

/**
 * The exclude glob of an image search: the `nitroEnclaves.images.exclude` patterns and the
 * `files.exclude` patterns that are switched on (`true`; conditional `{ when }` entries are left to
 * VS Code's own views). Undefined when nothing is excluded.
 */
export function excludeGlob(
  imagePatterns: readonly unknown[],
  filesExclude: Readonly<Record<string, unknown>> | undefined,
): string | undefined {
  const patterns = [
    ...imagePatterns.filter((p): p is string => typeof p === 'string'),
    ...Object.entries(filesExclude ?? {})
      .filter(([, on]) => on === true)
      .map(([p]) => p),
  ];
  const all = [...new Set(patterns.filter((p) => p.trim() !== '').flatMap(expandBraces))];
  if (all.length === 0) return undefined;
  return all.length === 1 ? all[0] : `{${all.join(',')}}`;
}
