import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { CancelledError } from '../../../src/engine';
import { repoPath } from '../repo';

// What activation loads is kept small without timing anything (the `activation` benchmark times it):
// the production bundle's metafile says which modules dist/extension.js compiles at activation.

/** Modules the first paint of the views does not need: they come from sibling bundles on first use. */
const LAZY: readonly {
  readonly what: string;
  readonly input: RegExp;
  readonly bundle: string;
  /** Bytes of it the extension may keep (constants other modules use). */
  readonly upTo?: number;
}[] = [
  {
    what: 'the development CA (X.509 certificates)',
    input: /^src\/engine\/node\/devAttestation\.ts$/,
    bundle: 'dev-attestation.js',
  },
  { what: '@peculiar/x509 and its ASN.1 schemas', input: /^node_modules\/@peculiar\//, bundle: 'dev-attestation.js' },
  {
    what: "@peculiar/x509's dependency injection",
    input: /^node_modules\/(tsyringe|reflect-metadata)\//,
    bundle: 'dev-attestation.js',
  },
  { what: 'the local KMS endpoint', input: /^src\/engine\/node\/kms\/server\.ts$/, bundle: 'local-kms.js' },
  { what: 'asn1js (the CMS of CiphertextForRecipient)', input: /^node_modules\/asn1js\//, bundle: 'local-kms.js' },
  {
    what: 'the image-build pipeline (build, flatten, resolve, layers, reproducibility)',
    input: /^src\/engine\/(node\/(buildEnclave|reproducibility|oci\/(resolve|layers))|oci\/flatten)\.ts$/,
    bundle: 'image-build.js',
  },
  { what: 'fzstd (zstd image layers)', input: /^node_modules\/fzstd\//, bundle: 'image-build.js' },
  {
    what: "the doctor's runs on this machine and over SSH",
    input: /^src\/engine\/node\/doctor(System|Remote)\.ts$/,
    bundle: 'doctor.js',
  },
  // Constants other modules name stay (the allocator's path and commands, the snapshot's size limit).
  {
    what: "the doctor's checks and snapshot parser",
    input: /^src\/engine\/doctor\/(doctor|snapshot)\.ts$/,
    bundle: 'doctor.js',
    upTo: 1024,
  },
];

/**
 * Modules only the CLI uses: the extension's bundle leaves them out entirely (they reach it only through
 * a barrel's re-exports), and the CLI's bundle has them.
 */
const CLI_ONLY: readonly { readonly what: string; readonly input: RegExp }[] = [
  { what: 'nitro-dev qemu setup', input: /^src\/engine\/node\/qemu\/setup\.ts$/ },
  { what: "the QEMU test kernel's configuration (text)", input: /^src\/engine\/node\/qemu\/kernel-min\.config$/ },
  { what: "the QEMU guest programs' C sources (text)", input: /^src\/engine\/node\/qemu\/guest(\.ts|\/.*\.c)$/ },
];

/**
 * npm packages the extension takes from sibling bundles through a stand-in (esbuild.config.mjs
 * lazyPackage) that requires the sibling on first access, synchronously, so their APIs stay as they are.
 */
const LAZY_PACKAGES: readonly { readonly what: string; readonly input: RegExp; readonly bundle: string }[] = [
  { what: 'yaml (allocator.yaml, vsock-proxy allowlists)', input: /^node_modules\/yaml\//, bundle: 'yaml.js' },
  {
    what: 'cbor-x (attestation documents, COSE, EIF signatures)',
    input: /^node_modules\/cbor-x\//,
    bundle: 'cbor-x.js',
  },
];

/**
 * Loads a bundle in a fresh Node process with a `vscode` that answers every access with a do-nothing
 * stand-in (loading only evaluates the modules; nothing is activated) and prints which files of the
 * bundle's folder were required while it loaded.
 */
const LOAD_PROBE = `
const Module = require('node:module');
const path = require('node:path');
const handler = {
  get: (t, p) =>
    p === 'then' ? undefined
    : p === Symbol.iterator ? function* () {}
    : p === 'prototype' ? Object.prototype
    : stub(),
  apply: () => stub(),
  construct: () => stub(),
  set: () => true,
};
const stub = () => new Proxy(function () {}, handler);
// The API's names (argv[2]): the bundle copies them from vscode into its one namespace object.
const names = JSON.parse(process.argv[2]);
const vscode = new Proxy({}, {
  // Classes (TreeItem, EventEmitter...) can be extended at module level.
  get: (t, p) =>
    /^[A-Z]/.test(String(p)) ? new Proxy(class {}, { get: (c, q) => (q in c ? c[q] : stub()) }) : stub(),
  ownKeys: () => names,
  getOwnPropertyDescriptor: (t, p) =>
    names.includes(p) ? { configurable: true, enumerable: true, writable: true, value: vscode[p] } : undefined,
});
const load = Module._load;
Module._load = function (request, ...rest) {
  return request === 'vscode' ? vscode : load.call(this, request, ...rest);
};
const bundle = path.resolve(process.argv[1]);
require(bundle);
const dir = path.dirname(bundle) + path.sep;
const loaded = Object.keys(require.cache).filter((f) => f.startsWith(dir));
console.log(JSON.stringify(loaded.map((f) => path.basename(f)).sort()));
`;

const BUNDLE_LIMIT_BYTES = 1_000_000;

interface Metafile {
  inputs: Record<string, { imports: { path: string }[] }>;
  outputs: Record<
    string,
    {
      entryPoint?: string;
      inputs: Record<string, { bytesInOutput: number }>;
      imports: { path: string; kind: string; external?: boolean }[];
    }
  >;
}

describe('(unit) scripts: what the production extension bundle loads at activation', () => {
  let dir: string;
  let extension: Metafile['outputs'][string];
  let siblings: Map<string, Metafile['outputs'][string]>;
  let cli: Metafile['outputs'][string];
  /** How many modules each module of the extension imports. */
  let importCounts: Map<string, number>;

  before(function () {
    this.timeout(300_000);
    dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-bundle-'));
    const r = spawnSync(process.execPath, [repoPath('esbuild.config.mjs'), '--production', `--dist=${dir}`], {
      cwd: repoPath(),
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `the production build failed:\n${r.stdout}${r.stderr}`);
    const metafile = (name: string) =>
      JSON.parse(readFileSync(path.join(dir, `meta-${name}.json`), 'utf8')) as Metafile;
    const outputs = (name: string) => Object.values(metafile(name).outputs);
    importCounts = new Map(Object.entries(metafile('extension').inputs).map(([f, i]) => [f, i.imports.length]));
    const found = outputs('extension').find((o) => o.entryPoint === 'src/extension/extension.ts');
    assert.ok(found, 'the metafile has no output for src/extension/extension.ts');
    extension = found;
    const cliOutput = outputs('cli').find((o) => o.entryPoint === 'src/cli/main.ts');
    assert.ok(cliOutput, 'the metafile has no output for src/cli/main.ts');
    cli = cliOutput;
    siblings = new Map([
      ['dev-attestation.js', outputs('dev-attestation')[0]!],
      ['local-kms.js', outputs('local-kms')[0]!],
      ['yaml.js', outputs('yaml')[0]!],
      ['cbor-x.js', outputs('cbor-x')[0]!],
      ['image-build.js', outputs('image-build')[0]!],
      ['doctor.js', outputs('doctor')[0]!],
    ]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('dist/extension.js is under 1 MB', () => {
    const size = statSync(path.join(dir, 'extension.js')).size;
    assert.ok(size < BUNDLE_LIMIT_BYTES, `dist/extension.js is ${size} bytes, over ${BUNDLE_LIMIT_BYTES}`);
  });

  /**
   * The modules of an output that put code into it. esbuild lists a module it shook out with 0 bytes, or,
   * when it imports modules esbuild initialises lazily (the shared externals and what imports them), with
   * just the calls that initialise those (`Xe();`, at most 6 bytes each once minified): neither compiles
   * any of the module's own code.
   */
  const compiled = (output: Metafile['outputs'][string]) =>
    Object.entries(output.inputs)
      .filter(([f, i]) => i.bytesInOutput > 6 * (output === extension ? (importCounts.get(f) ?? 0) : 0))
      .map(([f]) => f);

  for (const lazy of LAZY) {
    it(`does not compile ${lazy.what} at activation; ${lazy.bundle} holds it`, () => {
      const eager = compiled(extension).filter(
        (f) => lazy.input.test(f) && extension.inputs[f]!.bytesInOutput > (lazy.upTo ?? 0),
      );
      assert.deepEqual(eager, [], `dist/extension.js includes ${eager.length} module(s) of ${lazy.what}`);
      const sibling = siblings.get(lazy.bundle);
      assert.ok(
        sibling && compiled(sibling).some((f) => lazy.input.test(f)),
        `${lazy.bundle} does not hold ${lazy.what}`,
      );
    });
  }

  for (const only of CLI_ONLY) {
    it(`leaves out ${only.what}, which only the CLI uses`, () => {
      const eager = Object.keys(extension.inputs).filter((f) => only.input.test(f));
      assert.deepEqual(eager, [], `dist/extension.js includes ${eager.join(', ')}`);
      assert.ok(
        compiled(cli).some((f) => only.input.test(f)),
        `dist/cli.js does not hold ${only.what} (the pattern matches nothing)`,
      );
    });
  }

  for (const lazy of LAZY_PACKAGES) {
    it(`does not compile ${lazy.what} at activation; ${lazy.bundle} holds it`, () => {
      const eager = Object.keys(extension.inputs).filter((f) => lazy.input.test(f));
      assert.deepEqual(eager, [], `dist/extension.js includes ${eager.length} module(s) of ${lazy.what}`);
      const sibling = siblings.get(lazy.bundle);
      assert.ok(
        sibling && Object.keys(sibling.inputs).some((f) => lazy.input.test(f)),
        `${lazy.bundle} does not hold ${lazy.what}`,
      );
      assert.ok(
        extension.imports.some((i) => i.path === `./${lazy.bundle}` && i.external),
        `dist/extension.js never loads ${lazy.bundle}`,
      );
    });
  }

  it('loads no sibling bundle while its modules load (what is left for first use stays unloaded)', function () {
    this.timeout(60_000);
    // The top-level names of the vscode API (namespaces, classes, enums, functions), from its typings.
    const api = readFileSync(repoPath('node_modules/@types/vscode/index.d.ts'), 'utf8');
    const names = [...api.matchAll(/^\texport (?:namespace|class|enum|const|let|function) (\w+)/gm)].map((m) => m[1]);
    assert.ok(names.includes('l10n') && names.includes('TreeItem'), 'the vscode typings name no API');
    const r = spawnSync(process.execPath, ['-e', LOAD_PROBE, path.join(dir, 'extension.js'), JSON.stringify(names)], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `loading dist/extension.js failed:\n${r.stderr}`);
    const loaded = JSON.parse(r.stdout.trim().split('\n').pop()!) as string[];
    // The probe sees the bundle itself, so an empty list would mean it saw nothing at all.
    assert.ok(loaded.includes('extension.js'), `the probe did not see dist/extension.js load: ${r.stdout}`);
    const siblingsLoaded = loaded.filter((f) => f !== 'extension.js');
    assert.deepEqual(siblingsLoaded, [], `loading dist/extension.js also loaded ${siblingsLoaded.join(', ')}`);
  });

  it("a cancelled build in image-build.js throws the engine's CancelledError (one class across bundles)", async () => {
    // The extension tells a cancelled build from a failed one by `instanceof CancelledError`, with the
    // class of its own bundle; image-build.js has its own copy of the engine.
    const work = mkdtempSync(path.join(os.tmpdir(), 'nitro-cancelled-'));
    try {
      const imageBuild = createRequire(__filename)(path.join(dir, 'image-build.js')) as {
        buildEnclave(options: unknown): Promise<unknown>;
      };
      const cancelled = { isCancellationRequested: true, onCancellationRequested: () => ({ dispose() {} }) };
      const error = await imageBuild
        .buildEnclave({
          source: { kind: 'rootfs', path: work, cmd: ['/app'], env: [] },
          output: path.join(work, 'app.eif'),
          blobs: work,
          tempRoot: work,
          cancellation: cancelled,
        })
        .then(
          () => assert.fail('the cancelled build succeeded'),
          (e: unknown) => e,
        );
      assert.equal((error as Error).name, 'CancelledError', `the build failed otherwise: ${String(error)}`);
      assert.ok(error instanceof CancelledError, "image-build.js's CancelledError is not the engine's");
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('shares one namespace object per external module (vscode, node:*) among the modules importing it', () => {
    // Each require of an external in the output is a copy of its exports made while the bundle loads.
    const requires = new Map<string, number>();
    for (const i of extension.imports)
      if (i.external && i.kind === 'require-call') requires.set(i.path, (requires.get(i.path) ?? 0) + 1);
    assert.ok(requires.has('vscode'), 'dist/extension.js does not require vscode');
    const repeated = [...requires].filter(([, n]) => n > 1).map(([p, n]) => `${p} (${n} times)`);
    assert.deepEqual(repeated, [], `dist/extension.js requires ${repeated.join(', ')}`);
  });

  it('requires the sibling bundles only on first use (dynamic import), never when it loads', () => {
    for (const bundle of new Set(LAZY.map((l) => l.bundle))) {
      const uses = extension.imports.filter((i) => i.path === `./${bundle}`);
      assert.ok(uses.length > 0, `dist/extension.js never loads ${bundle}`);
      for (const use of uses) assert.equal(use.kind, 'dynamic-import', `dist/extension.js loads ${bundle} eagerly`);
    }
  });
});
