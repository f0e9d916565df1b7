// Text rules that the host and the webviews both apply to what the engine says. Pure, with no
// imports, so every area may use it (src/shared sees neither the DOM nor Node).

/**
 * An engine message shown on its own: the engine writes sentence fragments ("the signature does not
 * verify ..."), so a leading plain lower-case word gets a capital. A message that starts with a name
 * (`public_key is null`, `cabundle[0] is ...`, `x86_64`) keeps its case.
 */
export function sentence(text: string): string {
  return /^[a-z]+(?![\w[])/.test(text) ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

/** Hex text as colon-separated pairs (`0a:1b:…`), as certificate fingerprints and serial numbers are shown. */
export function colonPairs(hex: string): string {
  return (hex.match(/../g) ?? []).join(':');
}

/** Colon-separated text split after each colon (`['0A:', '1B:', '2C']`): where a line may break. */
export function colonParts(value: string): string[] {
  return value.split(':').map((part, i, all) => (i < all.length - 1 ? `${part}:` : part));
}
