// `l10n.t` for the extension's modules that do not import `vscode` (so that unit tests load them in
// Node): the call shape of `vscode.l10n.t` with positional arguments, English until activation hands
// over VS Code's own (`useVscodeL10n`, from Ctx). `npm run l10n` (scripts/l10n.mjs) exports these
// calls to l10n/bundle.l10n.json together with the `vscode.l10n.t` calls of the other modules.

export type L10nT = (message: string, ...args: Array<string | number | boolean>) => string;

/** `{0}`, `{1}`, ... replaced by their arguments; any other brace text stays as written (as in VS Code). */
export function formatMessage(message: string, args: ReadonlyArray<string | number | boolean>): string {
  return message.replace(/\{(\d+)\}/g, (whole, index: string) => {
    const value = args[Number(index)];
    return value === undefined ? whole : String(value);
  });
}

export const l10n: { t: L10nT } = {
  t: (message, ...args) => formatMessage(message, args),
};

/** Makes `l10n.t` VS Code's (called once at activation with `vscode.l10n.t`). */
export function useVscodeL10n(t: L10nT): void {
  l10n.t = t;
}
