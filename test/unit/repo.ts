import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The repository root, found from wherever the bundled test file runs (dist/test/unit/...). */
export const ROOT = (() => {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'nitro-enclaves') return dir;
    if (path.dirname(dir) === dir) throw new Error(`no nitro-enclaves package.json above ${__dirname}`);
  }
})();

/** package.json as written: its user-visible strings are `%key%` references into package.nls.json. */
export const PKG_RAW: Record<string, unknown> = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

/** package.nls.json: the manifest's English strings by key. */
export const NLS: Record<string, string> = JSON.parse(readFileSync(path.join(ROOT, 'package.nls.json'), 'utf8'));

/** Replaces every `%key%` string as VS Code does; a key package.nls.json lacks is an error. */
function localized(value: unknown): unknown {
  if (typeof value === 'string') {
    const m = /^%(.+)%$/.exec(value);
    if (!m) return value;
    const text = NLS[m[1] as string];
    if (text === undefined) throw new Error(`package.json refers to ${value}, which package.nls.json lacks`);
    return text;
  }
  if (Array.isArray(value)) return value.map(localized);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, localized(v)]));
  return value;
}

/** package.json as VS Code shows it: every `%key%` replaced by its text from package.nls.json. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const PKG: any = localized(PKG_RAW);

/** A path inside the repository. */
export const repoPath = (...parts: string[]): string => path.join(ROOT, ...parts);
