// npm run l10n: writes l10n/bundle.l10n.json, the English strings of every `l10n.t(...)` call of the
// extension, with VS Code's exporter (@vscode/l10n-dev). `--check` writes nothing and exits 1 when
// the committed bundle is not what the sources give (a unit test checks the same).
//
// The exporter reads calls of `vscode.l10n.t` and of `l10n` imported from 'vscode'. The modules that
// do not import `vscode` use src/extension/l10n.ts, whose `l10n` has @vscode/l10n's shape: their import
// of it is handed to the exporter as an import of '@vscode/l10n', which it reads the same way.
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getL10nJson } from '@vscode/l10n-dev';

/** The bundle's path, relative to the repository root (package.json's `l10n` folder). */
export const BUNDLE = 'l10n/bundle.l10n.json';

/** The import of the extension's own `l10n` (src/extension/l10n.ts), in any module's relative spelling. */
const OWN_L10N_IMPORT = /(import\s*\{\s*l10n\s*\}\s*from\s*)'(?:\.\.?\/)+(?:[\w-]+\/)*l10n'/g;

/** A module's text as the exporter should read it. */
export function exporterText(source) {
  return source.replace(OWN_L10N_IMPORT, "$1'@vscode/l10n'");
}

/** The .ts files of src/extension, relative to the root, sorted. */
export function extensionSources(root) {
  const dir = path.join(root, 'src/extension');
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** The bundle the sources give, as the JSON text to commit (keys sorted, two-space indent, final newline). */
export async function bundleText(root) {
  const files = extensionSources(root).map((f) => ({
    extension: '.ts',
    contents: exporterText(readFileSync(path.join(root, f), 'utf8')),
  }));
  const json = await getL10nJson(files);
  const sorted = Object.fromEntries(
    Object.keys(json)
      .sort()
      .map((k) => [k, json[k]]),
  );
  return `${JSON.stringify(sorted, null, 2)}\n`;
}

/** The command: writes the bundle, or with --check compares it. */
async function main() {
  const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
  const text = await bundleText(root);
  const file = path.join(root, BUNDLE);
  if (process.argv.includes('--check')) {
    let committed = '';
    try {
      committed = readFileSync(file, 'utf8');
    } catch {
      // missing: reported below
    }
    if (committed !== text) {
      console.error(`${BUNDLE} is not what the sources give: run npm run l10n`);
      process.exit(1);
    }
    console.log(`${BUNDLE} is up to date (${Object.keys(JSON.parse(text)).length} strings)`);
  } else {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    console.log(`wrote ${BUNDLE} (${Object.keys(JSON.parse(text)).length} strings)`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}
