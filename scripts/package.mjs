// npm run package [-- --out FILE]: a production build packaged as nitro-enclaves-<version>.vsix.
// vsce runs the `vscode:prepublish` script (the production build) before packaging.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** Packages the extension into `out` (default: the repo root) and returns the .vsix path. */
export function packageVsix(out) {
  const { name, version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const vsix = path.resolve(out ?? path.join(root, `${name}-${version}.vsix`));
  const vsce = path.join(root, 'node_modules/@vscode/vsce/vsce');
  // Everything is bundled into dist/, so no node_modules go into the package. The README's
  // screenshots ship inside the package (docs/screenshots), where VS Code's extension page finds them
  // by their relative links: there is no public repository URL to rewrite them to.
  const r = spawnSync(
    process.execPath,
    [vsce, 'package', '--no-dependencies', '--no-rewrite-relative-links', '--out', vsix],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`vsce package failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  return vsix;
}

/** The files inside a .vsix, as vsce would list them (relative to extension/). */
export function vsixFiles() {
  const vsce = path.join(root, 'node_modules/@vscode/vsce/vsce');
  const r = spawnSync(process.execPath, [vsce, 'ls', '--no-dependencies'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`vsce ls failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .sort();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const i = process.argv.indexOf('--out');
  try {
    const vsix = packageVsix(i > 0 ? process.argv[i + 1] : undefined);
    console.log(`packaged ${path.relative(process.cwd(), vsix) || vsix}`);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
