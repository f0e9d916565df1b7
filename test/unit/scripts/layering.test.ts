import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as esbuild from 'esbuild';
import { areaOf, checkImport, importsOf, layeringPlugin } from '../../../scripts/layering.mjs';
import { ROOT } from '../repo';

const root = ROOT;
const at = (rel: string) => path.join(root, rel);
/** The violation message for an import (empty when the import is allowed, so `match` fails). */
const problem = (file: string, spec: string): string => checkImport(root, at(file), spec) ?? '';

describe('(unit) layering: which source area may import what', () => {
  it('names the area of each source path', () => {
    assert.equal(areaOf(root, at('src/engine/parents.ts')), 'engine');
    assert.equal(areaOf(root, at('src/engine/platform/byteSource.ts')), 'engine');
    assert.equal(areaOf(root, at('src/engine/node/fileByteSource.ts')), 'engine/node');
    assert.equal(areaOf(root, at('src/cli/main.ts')), 'cli');
    assert.equal(areaOf(root, at('src/extension/extension.ts')), 'extension');
    assert.equal(areaOf(root, at('src/webview/lib/vscodeApi.ts')), 'webview');
    assert.equal(areaOf(root, at('src/shared/protocol.ts')), 'shared');
    assert.equal(areaOf(root, at('test/unit/x.test.ts')), undefined);
  });

  it('allows vscode in src/extension only', () => {
    assert.equal(checkImport(root, at('src/extension/ctx.ts'), 'vscode'), undefined);
    for (const file of [
      'src/engine/a.ts',
      'src/engine/node/a.ts',
      'src/cli/a.ts',
      'src/webview/x/main.ts',
      'src/shared/a.ts',
    ]) {
      assert.match(problem(file, 'vscode'), /only src\/extension may import 'vscode'/, file);
    }
  });

  it('allows Node built-ins in engine/node, cli and extension, not in the engine core, webviews or shared', () => {
    for (const file of ['src/engine/node/a.ts', 'src/cli/a.ts', 'src/extension/a.ts']) {
      assert.equal(checkImport(root, at(file), 'node:fs'), undefined, file);
      assert.equal(checkImport(root, at(file), 'fs/promises'), undefined, file);
    }
    assert.match(problem('src/engine/eif/reader.ts', 'node:crypto'), /Node adapters belong in src\/engine\/node/);
    assert.match(problem('src/engine/eif/reader.ts', 'path'), /must run without Node/);
    assert.match(problem('src/webview/eif/main.ts', 'fs'), /must run without Node/);
    assert.match(problem('src/shared/protocol.ts', 'node:buffer'), /must run without Node/);
  });

  it('keeps the direction of dependencies between areas', () => {
    assert.equal(checkImport(root, at('src/extension/a.ts'), '../engine'), undefined);
    assert.equal(checkImport(root, at('src/cli/a.ts'), '../engine/node'), undefined);
    assert.equal(checkImport(root, at('src/webview/x/main.ts'), '../../shared/protocol'), undefined);
    assert.equal(checkImport(root, at('src/webview/x/main.ts'), '../../engine'), undefined);
    assert.equal(checkImport(root, at('src/extension/x/a.ts'), '../../engine/index'), undefined);
    assert.equal(checkImport(root, at('src/cli/a.ts'), '../engine/node/index.ts'), undefined);
    assert.match(problem('src/engine/a.ts', './node/fileByteSource'), /src\/engine may only import from src\/engine$/);
    assert.match(problem('src/engine/a.ts', '../extension/ids'), /may only import from/);
    assert.match(problem('src/cli/a.ts', '../extension/ids'), /may only import from/);
    assert.match(problem('src/webview/x/main.ts', '../../engine/node'), /may only import from/);
    assert.match(problem('src/shared/a.ts', '../engine'), /may only import from src\/shared/);
    assert.match(problem('src/engine/a.ts', '../../scripts/x'), /outside src/);
  });

  it('lets the faces reach the engine only through its two entry points', () => {
    assert.match(
      problem('src/cli/a.ts', '../engine/eif/describe'),
      /reaches the engine only through src\/engine\/index\.ts/,
    );
    assert.match(
      problem('src/extension/x/a.ts', '../../engine/node/registry'),
      /only through src\/engine\/node\/index\.ts/,
    );
    assert.match(problem('src/webview/x/main.ts', '../../engine/util/bytes'), /only through src\/engine\/index\.ts/);
    // Inside the engine, modules import each other directly.
    assert.equal(checkImport(root, at('src/engine/node/a.ts'), '../eif/describe'), undefined);
    assert.equal(checkImport(root, at('src/engine/eif/a.ts'), '../util/bytes'), undefined);
  });

  it('limits the engine core and webviews to the pure libraries', () => {
    assert.equal(checkImport(root, at('src/engine/a.ts'), 'cbor-x'), undefined);
    assert.equal(checkImport(root, at('src/webview/x/main.ts'), '@noble/hashes/sha2'), undefined);
    assert.match(problem('src/engine/a.ts', 'left-pad'), /may only use/);
    assert.equal(checkImport(root, at('src/cli/a.ts'), 'left-pad'), undefined);
  });

  it('finds static, dynamic, type-only and require imports in source text', () => {
    const text = [
      "import * as a from 'a';",
      "import type { B } from 'b';",
      "import c, { d } from 'c';",
      "export { e } from 'e';",
      "export * from 'f';",
      "import 'g';",
      "const h = await import('h');",
      "const i = require('i');",
      "// import x from 'commented-out';",
      "/* import y from 'also-commented'; */",
    ].join('\n');
    assert.deepEqual(importsOf(text).sort(), ['a', 'b', 'c', 'e', 'f', 'g', 'h', 'i']);
  });

  it('finds no violation anywhere in src/', () => {
    const files = readdirSync(at('src'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && /\.ts$/.test(e.name) && !e.name.endsWith('.d.ts'))
      .map((e) => path.join(e.parentPath, e.name));
    assert.ok(files.length >= 15, `scanned ${files.length} files`);
    const problems = files.flatMap((f) =>
      importsOf(readFileSync(f, 'utf8'))
        .map((spec) => checkImport(root, f, spec))
        .filter(Boolean),
    );
    assert.deepEqual(problems, []);
  });

  describe('enforcement by the build and the type check', () => {
    let tmp: string;
    beforeEach(() => {
      tmp = mkdtempSync(path.join(os.tmpdir(), 'nitro-layering-'));
    });
    afterEach(() => rmSync(tmp, { recursive: true, force: true }));

    it('fails an esbuild bundle when src/engine imports vscode', async () => {
      mkdirSync(path.join(tmp, 'src/engine'), { recursive: true });
      writeFileSync(
        path.join(tmp, 'src/engine/bad.ts'),
        "import * as vscode from 'vscode';\nexport const w = vscode.window;\n",
      );
      writeFileSync(path.join(tmp, 'src/engine/ok.ts'), "export { w } from './bad';\n");
      const attempt = esbuild.build({
        entryPoints: [path.join(tmp, 'src/engine/ok.ts')],
        bundle: true,
        write: false,
        platform: 'node',
        external: ['vscode'],
        logLevel: 'silent',
        plugins: [layeringPlugin(tmp)],
      });
      await assert.rejects(attempt, (e: esbuild.BuildFailure) => {
        assert.match(e.errors[0]?.text ?? '', /layering: src\/engine\/bad\.ts imports 'vscode'/);
        return true;
      });
    });

    it('fails the engine type check when src/engine imports vscode', function () {
      this.timeout(120_000);
      // A throwaway tsconfig that extends the engine's and adds one offending file.
      const bad = path.join(tmp, 'bad.ts');
      writeFileSync(bad, "import * as vscode from 'vscode';\nexport const w = vscode;\n");
      const tsconfig = path.join(tmp, 'tsconfig.json');
      writeFileSync(tsconfig, JSON.stringify({ extends: at('src/engine/tsconfig.json'), include: [bad] }));
      const r = spawnSync(
        process.execPath,
        [at('node_modules/typescript/bin/tsc'), '-p', tsconfig, '--pretty', 'false'],
        { encoding: 'utf8' },
      );
      assert.notEqual(r.status, 0, 'tsc must fail');
      assert.match(r.stdout, /vscode-forbidden\.ts.*this area must not import vscode/);
    });
  });
});
