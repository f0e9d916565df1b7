// Bundles every target of the project. Type checking is separate (npm run typecheck).
//
//   node esbuild.config.mjs               extension, CLI and webviews into dist/
//   node esbuild.config.mjs --production  the same, minified, no source maps, with metafiles
//   node esbuild.config.mjs --watch       rebuild on change (for F5 and the watch task)
//   node esbuild.config.mjs --tests       also the test suites and benchmarks into dist/test, dist/bench
//   --dist=DIR                            the extension, CLI and webviews into DIR instead of dist/ (not with --tests)
import * as esbuild from 'esbuild';
import { chmodSync, readFileSync, readdirSync, existsSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { layeringPlugin } from './scripts/layering.mjs';

const root = path.dirname(fileURLToPath(import.meta.url));
const args = new Set(process.argv.slice(2));
const production = args.has('--production');
const watch = args.has('--watch');
const withTests = args.has('--tests');
const distArg = [...args].find((a) => a.startsWith('--dist='));
const dist = distArg ? path.resolve(distArg.slice('--dist='.length)) : 'dist';
if (distArg && withTests) throw new Error('--dist does not go with --tests');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

/** Files below `dir` (relative to the root) whose names end with `suffix`. */
function filesUnder(dir, suffix) {
  const abs = path.join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(suffix))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

// In watch mode, says once when every target has finished its first build (later builds are rebuilds).
const firstBuilds = new Set();
let targetCount = 0;

/** Prints build start/end and errors in the format of the `$esbuild-watch` problem matcher. */
const reportPlugin = (label) => ({
  name: 'report',
  setup(build) {
    build.onStart(() => {
      if (watch) console.log(`[watch] build started (${label})`);
    });
    build.onEnd((result) => {
      for (const { text, location } of result.errors) {
        console.error(`✘ [ERROR] ${text}`);
        if (location) console.error(`    ${location.file}:${location.line}:${location.column}:`);
      }
      if (!watch) return;
      console.log(`[watch] build finished (${label})`);
      if (!firstBuilds.has(label)) {
        firstBuilds.add(label);
        if (firstBuilds.size === targetCount) console.log('[watch] watching for changes');
      }
    });
  },
});

const common = {
  bundle: true,
  logLevel: 'silent',
  sourcemap: production ? false : 'linked',
  minify: production,
  metafile: production,
  legalComments: 'none',
  define: { __NITRO_VERSION__: JSON.stringify(pkg.version) },
  // The QEMU backend's guest programs (src/engine/node/qemu/guest/*.c) and its kernel configuration
  // (kernel-min.config) are carried as text.
  loader: { '.c': 'text', '.config': 'text' },
  plugins: [layeringPlugin(root)],
};

// `.config` files (the QEMU test kernel's configuration) are bundled as text.
const node = { ...common, platform: 'node', format: 'cjs', target: 'node20' };

/**
 * Leaves imports of a module matching `filter` to be required at run time from `replacement` (a sibling
 * bundle). Without side effects: a barrel's re-export the bundle does not use requires nothing at load.
 */
function separateModule(filter, replacement) {
  return {
    name: 'separate-module',
    setup(build) {
      build.onResolve({ filter }, () => ({ path: replacement, external: true, sideEffects: false }));
    },
  };
}

/**
 * Marks the modules matching `filter` as free of side effects when they load (their top-level code
 * only builds constants), so that a bundle which imports none of their exports, only a barrel that
 * re-exports them, leaves them out whole.
 */
function withoutSideEffects(filter) {
  return {
    name: 'without-side-effects',
    setup(build) {
      build.onResolve({ filter }, async (args) => {
        if (args.pluginData?.withoutSideEffects) return undefined;
        const resolved = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: { withoutSideEffects: true },
        });
        return resolved.errors.length > 0 ? undefined : { ...resolved, sideEffects: false };
      });
    },
  };
}

/**
 * Leaves the npm package `name` out of the bundle: its imports get a stand-in whose exports load
 * `replacement` (a sibling bundle of the package, see `packageBundle`) on first access, with a plain
 * synchronous require. The package's API stays synchronous and nothing of it runs or compiles when
 * the bundle loads. The stand-in names the package's exports as of this build.
 */
function lazyPackage(name, replacement) {
  const exportNames = Object.keys(createRequire(path.join(root, 'package.json'))(name)).filter((k) => k !== 'default');
  const filter = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`);
  return {
    name: 'lazy-package',
    setup(build) {
      build.onResolve({ filter }, () => ({ path: name, namespace: 'lazy-package' }));
      build.onResolve({ filter: /.*/, namespace: 'lazy-package' }, (args) => ({ path: args.path, external: true }));
      build.onLoad({ filter, namespace: 'lazy-package' }, () => ({
        loader: 'js',
        contents: [
          'let loaded;',
          `const load = () => (loaded ??= require(${JSON.stringify(replacement)}));`,
          `for (const key of ${JSON.stringify(exportNames)})`,
          '  Object.defineProperty(exports, key, { enumerable: true, get: () => load()[key] });',
        ].join('\n'),
      }));
    },
  };
}

/**
 * Gives the bundle one namespace object per external module (vscode, node:*), shared by every module
 * that imports it. By default esbuild copies the external's exports into a fresh object in each
 * importing module (`__toESM(require(...))`): for the vscode API, some hundreds of getters defined
 * 35 times over while the extension loads.
 */
const sharedExternals = {
  name: 'shared-externals',
  setup(build) {
    build.onResolve({ filter: /^(vscode|node:.*)$/ }, (args) =>
      args.namespace === 'shared-external'
        ? { path: args.path, external: true }
        : { path: args.path, namespace: 'shared-external' },
    );
    build.onLoad({ filter: /.*/, namespace: 'shared-external' }, (args) => ({
      loader: 'js',
      contents: `export * from ${JSON.stringify(args.path)};`,
    }));
  },
};

/** A sibling bundle holding just the npm package `name` (what `lazyPackage(name, ...)` loads). */
const packageBundle = (label, name, outfile) => ({
  label,
  ...node,
  entryPoints: [],
  stdin: {
    contents: `module.exports = require(${JSON.stringify(name)});`,
    resolveDir: root,
    sourcefile: `${label}.js`,
  },
  outfile,
});

const targets = [
  {
    label: 'extension',
    ...node,
    entryPoints: ['src/extension/extension.ts'],
    outfile: `${dist}/extension.js`,
    external: ['vscode'],
    // Activation compiles this whole file: code the first paint of the views does not need comes
    // from sibling bundles, required on first use (test/unit/scripts/bundleSize.test.ts keeps it so).
    plugins: [
      ...node.plugins,
      separateModule(/[\\/]devAttestation$/, './dev-attestation.js'),
      separateModule(/[\\/]kms[\\/]server$/, './local-kms.js'),
      separateModule(/[\\/]imageBuild$/, './image-build.js'),
      separateModule(/[\\/]doctors$/, './doctor.js'),
      lazyPackage('yaml', './yaml.js'),
      lazyPackage('cbor-x/index-no-eval', './cbor-x.js'),
      // `nitro-dev qemu setup` and the guest programs (the kernel configuration and C sources they
      // carry as text): only the CLI uses them.
      withoutSideEffects(/[\\/]qemu[\\/](setup|guest)$/),
      sharedExternals,
    ],
  },
  {
    label: 'cli',
    ...node,
    entryPoints: ['src/cli/main.ts'],
    outfile: `${dist}/cli.js`,
    banner: { js: '#!/usr/bin/env node' },
  },
  {
    label: 'enclave-host',
    ...node,
    entryPoints: ['src/engine/node/emulator/hostMain.ts'],
    outfile: `${dist}/enclave-host.js`,
    // The development CA (and its X.509 library) is loaded on the first attestation request, from
    // its own bundle: compiling it at every enclave start would slow run-enclave down.
    plugins: [...node.plugins, separateModule(/[\\/]devAttestation$/, './dev-attestation.js')],
  },
  {
    label: 'dev-attestation',
    ...node,
    entryPoints: ['src/engine/node/devAttestation.ts'],
    outfile: `${dist}/dev-attestation.js`,
  },
  {
    // The local KMS endpoint (and asn1js, which writes its CMS), loaded when the extension starts it.
    label: 'local-kms',
    ...node,
    entryPoints: ['src/engine/node/kms/server.ts'],
    outfile: `${dist}/local-kms.js`,
  },
  {
    // The image-build pipeline (OCI layouts and registries, tar, cpio, gzip and zstd, the EIF writer),
    // loaded on the extension's first build.
    label: 'image-build',
    ...node,
    entryPoints: ['src/engine/node/imageBuild.ts'],
    outfile: `${dist}/image-build.js`,
    plugins: [...node.plugins, lazyPackage('cbor-x/index-no-eval', './cbor-x.js'), sharedExternals],
  },
  {
    // The doctor (its checks and report, on this machine and over SSH), loaded by the doctor commands.
    label: 'doctor',
    ...node,
    entryPoints: ['src/engine/node/doctors.ts'],
    outfile: `${dist}/doctor.js`,
    plugins: [...node.plugins, sharedExternals],
  },
  // Packages the extension loads on first use (lazyPackage): allocator.yaml and vsock-proxy allowlists
  // are parsed when a parent is listed or such a file is opened, CBOR when a document or signature is read.
  packageBundle('yaml', 'yaml', `${dist}/yaml.js`),
  packageBundle('cbor-x', 'cbor-x/index-no-eval', `${dist}/cbor-x.js`),
];

// One bundle per src/webview/<name>/main.ts (src/webview/lib is shared code, not a page).
const webviews = filesUnder('src/webview', '.ts').filter((f) => /^src\/webview\/[\w-]+\/main\.ts$/.test(f));
if (webviews.length > 0) {
  targets.push({
    label: 'webview',
    ...common,
    platform: 'browser',
    format: 'iife',
    target: ['chrome120'],
    entryPoints: Object.fromEntries(webviews.map((f) => [f.split('/')[2], f])),
    outdir: `${dist}/webview`,
  });
}

if (withTests) {
  // Suites that were moved or deleted must not linger in dist/ (mocha runs every file there).
  rmSync(path.join(root, 'dist/test/unit'), { recursive: true, force: true });
  rmSync(path.join(root, 'dist/test/qemu'), { recursive: true, force: true });
  const testNode = { ...node, sourcemap: 'inline', minify: false, metafile: false, packages: 'external' };
  targets.push(
    {
      label: 'unit tests',
      ...testNode,
      entryPoints: filesUnder('test/unit', '.test.ts'),
      outbase: 'test/unit',
      outdir: 'dist/test/unit',
    },
    {
      label: 'extension-host tests',
      ...testNode,
      entryPoints: filesUnder('test/vscode', '.ts').filter((f) => !f.endsWith('.d.ts')),
      outbase: 'test/vscode',
      outdir: 'dist/test/vscode',
      external: ['vscode'],
    },
    {
      label: 'QEMU tests',
      ...testNode,
      entryPoints: filesUnder('test/qemu', '.test.ts'),
      outbase: 'test/qemu',
      outdir: 'dist/test/qemu',
    },
    {
      // Test harnesses the tier scripts load as modules (the UI smoke tier's sshd): outside
      // dist/test/unit, so mocha does not take them for suites.
      label: 'test harnesses',
      ...testNode,
      entryPoints: ['test/unit/sshd.ts'],
      outbase: 'test/unit',
      outdir: 'dist/test/harness',
    },
    {
      label: 'benchmarks',
      ...testNode,
      // bench/host: modules the benchmarks load into a VS Code extension host.
      entryPoints: [...filesUnder('bench', '.bench.ts'), ...filesUnder('bench/host', '.ts')],
      outbase: 'bench',
      outdir: 'dist/bench',
      external: ['vscode'],
    },
  );
}

function afterBuild(label, result) {
  if (label === 'cli') chmodSync(path.resolve(root, dist, 'cli.js'), 0o755);
  if (production && result.metafile) {
    mkdirSync(path.resolve(root, dist), { recursive: true });
    writeFileSync(path.resolve(root, dist, `meta-${label}.json`), JSON.stringify(result.metafile));
  }
}

const active = targets.filter((t) => t.stdin || (t.entryPoints.length ?? Object.keys(t.entryPoints).length) > 0);
targetCount = active.length;
const contexts = await Promise.all(
  active.map(({ label, ...options }) =>
    esbuild
      .context({
        ...options,
        absWorkingDir: root,
        plugins: [
          ...options.plugins,
          reportPlugin(label),
          { name: 'after', setup: (b) => b.onEnd((r) => r.errors.length || afterBuild(label, r)) },
        ],
      })
      .then((ctx) => ({ label, ctx })),
  ),
);

if (watch) {
  await Promise.all(contexts.map(({ ctx }) => ctx.watch()));
} else {
  let failed = false;
  for (const { label, ctx } of contexts) {
    try {
      await ctx.rebuild();
    } catch {
      failed = true;
      console.error(`build failed: ${label}`);
    }
    await ctx.dispose();
  }
  process.exit(failed ? 1 : 0);
}
