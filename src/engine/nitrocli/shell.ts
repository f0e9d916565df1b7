// Quoting words for a POSIX shell. ssh hands its command to the remote user's shell as one string,
// so every word the nitro-cli backend sends (paths, enclave names, ids) is quoted here: whatever it
// contains, the remote shell sees exactly that word.

/**
 * One word, single-quoted for sh when it has anything but letters, digits and `_@%+:,./-` (and `=`
 * when it is an argument, not a command's first word, where `a=b` would be an assignment): `it's`
 * becomes `'it'\''s'`.
 */
export function shellQuote(word: string, argument = false): string {
  if (word.includes('\0')) throw new Error('a shell word cannot contain a NUL character');
  if ((argument ? /^[A-Za-z0-9_@%+:,./=-]+$/ : /^[A-Za-z0-9_@%+:,./-]+$/).test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A command line of quoted words. */
export function shellCommand(words: readonly string[]): string {
  return words.map((w, i) => shellQuote(w, i > 0)).join(' ');
}
