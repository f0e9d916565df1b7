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

export const PKG = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

/** A path inside the repository. */
export const repoPath = (...parts: string[]): string => path.join(ROOT, ...parts);
