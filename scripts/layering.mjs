// The dependency rule between the source areas, as data plus one pure function.
// Used by the esbuild plugin (a violation fails the build) and by a unit test (a violation fails
// the tests), so the rule is checked by the tools rather than by review.
//
//   engine        src/engine/** except src/engine/node/**: runs in Node and in a browser alike;
//                 no `vscode`, no Node built-ins, only the pure libraries listed below.
//   engine/node   src/engine/node/**: Node adapters of the engine (node:fs, node:crypto, ...).
//   cli           src/cli/**: the nitro-dev command; Node, never `vscode`.
//   extension     src/extension/**: the only area that may import `vscode`.
//   webview       src/webview/**: browser bundles; no Node built-ins, no `vscode`.
//   shared        src/shared/**: host/webview protocol types; imports nothing outside itself.
import { builtinModules } from 'node:module';
import * as path from 'node:path';

/** Pure libraries that may run in any area (kept short on purpose). */
export const PURE_PACKAGES = ['cbor-x', 'yaml', '@noble/hashes', '@noble/curves'];

/** Which areas each area may import from (besides packages and built-ins). */
export const AREA_IMPORTS = {
  engine: ['engine'],
  'engine/node': ['engine', 'engine/node'],
  cli: ['engine', 'engine/node', 'cli', 'shared'],
  extension: ['engine', 'engine/node', 'extension', 'shared'],
  webview: ['engine', 'webview', 'shared'],
  shared: ['shared'],
};

/**
 * The faces (the CLI, the extension, the webviews) reach the engine through two documented entry
 * points only: `src/engine/index.ts` (the pure engine) and `src/engine/node/index.ts` (its Node
 * adapters). Whatever they need is exported there, so the engine's inside can move freely.
 */
const FACES = new Set(['cli', 'extension', 'webview']);
const ENTRY_POINTS = { engine: 'src/engine', 'engine/node': 'src/engine/node' };

/** Areas that may use Node built-ins. */
const NODE_AREAS = new Set(['engine/node', 'cli', 'extension']);

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** The area of a file, given the repository root; undefined for files outside src/. */
export function areaOf(root, file) {
  const rel = path.relative(root, file).split(path.sep).join('/');
  if (!rel.startsWith('src/')) return undefined;
  const parts = rel.split('/');
  if (parts[1] === 'engine') return parts[2] === 'node' ? 'engine/node' : 'engine';
  if (parts.length < 3) return undefined;
  return Object.hasOwn(AREA_IMPORTS, parts[1]) ? parts[1] : undefined;
}

function packageName(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * Checks one import. `importer` is an absolute file path, `spec` the import specifier as written.
 * Returns undefined when the import is allowed, otherwise a sentence saying which rule it breaks.
 */
export function checkImport(root, importer, spec) {
  const from = areaOf(root, importer);
  if (from === undefined) return undefined;
  const where = path.relative(root, importer).split(path.sep).join('/');
  if (spec === 'vscode') {
    return from === 'extension' ? undefined : `${where} imports 'vscode', but only src/extension may import 'vscode'`;
  }
  if (BUILTINS.has(spec) || BUILTINS.has(spec.split('/')[0])) {
    return NODE_AREAS.has(from)
      ? undefined
      : `${where} imports the Node built-in '${spec}', but src/${from} must run without Node` +
          (from === 'engine' ? ' (Node adapters belong in src/engine/node)' : '');
  }
  if (spec.startsWith('.') || path.isAbsolute(spec)) {
    const target = areaOf(root, path.resolve(path.dirname(importer), spec));
    if (target === undefined) {
      return `${where} imports '${spec}', which is outside src/`;
    }
    if (!AREA_IMPORTS[from].includes(target)) {
      return (
        `${where} imports '${spec}' from src/${target}, but src/${from} may only import from ` +
        AREA_IMPORTS[from].map((a) => `src/${a}`).join(', ')
      );
    }
    if (FACES.has(from) && Object.hasOwn(ENTRY_POINTS, target)) {
      const rel = path
        .relative(root, path.resolve(path.dirname(importer), spec))
        .split(path.sep)
        .join('/')
        .replace(/\/index(\.[cm]?[jt]s)?$/, '');
      const entry = ENTRY_POINTS[target];
      if (rel !== entry) {
        return (
          `${where} imports '${spec}' from inside src/${target}, ` +
          `but src/${from} reaches the engine only through ${entry}/index.ts: export what it needs there`
        );
      }
    }
    return undefined;
  }
  const name = packageName(spec);
  if (PURE_PACKAGES.includes(name)) return undefined;
  return NODE_AREAS.has(from)
    ? undefined
    : `${where} imports the package '${name}', but src/${from} may only use ${PURE_PACKAGES.join(', ')}`;
}

/** Import specifiers in a TypeScript/JavaScript source text (static, dynamic, require, re-export). */
export function importsOf(source) {
  const text = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specs = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) specs.push(m[1]);
  return specs;
}

/** An esbuild plugin that fails the build on any import breaking the rule. */
export function layeringPlugin(root) {
  return {
    name: 'layering',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (!args.importer || args.kind === 'entry-point') return undefined;
        const problem = checkImport(root, args.importer, args.path);
        return problem ? { errors: [{ text: `layering: ${problem}` }] } : undefined;
      });
    },
  };
}
