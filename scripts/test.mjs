// npm test [-- TIER...]: builds, type-checks, lints (Prettier and ESLint) and runs every test tier
// (or only the named ones, without the type check and lint):
//   unit    engine, CLI and extension-logic tests, mocha in Node
//   vscode  mocha inside a real VS Code extension host (code-server + headless Chromium)
//   ui      the packaged .vsix and `npm start` in a real workbench, clicked through, screenshots
//   qemu    an image built here boots under the QEMU backend (needs `nitro-dev qemu setup`; never skips)
// Each tier prints its own report; the last line sums them up as `N passed, N failed`.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const TIERS = ['unit', 'vscode', 'ui', 'qemu'];
const asked = process.argv.slice(2);
const bad = asked.filter((t) => !TIERS.includes(t));
if (bad.length > 0) {
  console.error(`unknown tier(s): ${bad.join(', ')} (tiers: ${TIERS.join(', ')})`);
  process.exit(2);
}
const tiers = asked.length > 0 ? asked : TIERS;

/** Runs a command, streaming its output, and resolves to { code, output }. */
function run(label, args, env = {}) {
  console.log(`\n=== ${label}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
      process.stdout.write(d);
    });
    child.stderr.on('data', (d) => {
      output += d;
      process.stderr.write(d);
    });
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output }));
  });
}

/** The passed/failed counts a tier reported, from mocha's summary or a `N passed, N failed` line. */
function counts(output) {
  const plain = [...output.matchAll(/^(?:[\w ]+: )?(\d+) passed, (\d+) failed\s*$/gm)].at(-1);
  if (plain) return { passed: Number(plain[1]), failed: Number(plain[2]) };
  const passing = [...output.matchAll(/^\s+(\d+) passing\b/gm)].at(-1);
  const failing = [...output.matchAll(/^\s+(\d+) failing\b/gm)].at(-1);
  if (passing || failing) return { passed: Number(passing?.[1] ?? 0), failed: Number(failing?.[1] ?? 0) };
  return undefined;
}

const summary = [];
let failedSteps = 0;

const build = await run('build', ['esbuild.config.mjs', '--tests']);
if (build.code !== 0) {
  console.error('\nnpm test: the build failed');
  process.exit(1);
}
if (asked.length === 0) {
  const typecheck = await run('typecheck', ['scripts/typecheck.mjs']);
  if (typecheck.code !== 0) failedSteps++;
  const lint = await run('lint (Prettier, ESLint)', ['scripts/lint.mjs']);
  if (lint.code !== 0) failedSteps++;
}

const commands = {
  unit: ['node_modules/mocha/bin/mocha.js', '--recursive', '--reporter', 'spec', 'dist/test/unit'],
  vscode: ['scripts/vscode/runHostTests.mjs'],
  ui: ['scripts/vscode/uiSmoke.mjs'],
  qemu: ['node_modules/mocha/bin/mocha.js', '--recursive', '--reporter', 'spec', 'dist/test/qemu'],
};
const labels = {
  unit: 'unit tests (mocha, Node)',
  vscode: 'extension-host tests (VS Code in code-server)',
  ui: 'UI smoke test (.vsix and npm start in a workbench)',
  qemu: 'QEMU tier (a real image boots under the QEMU backend)',
};

for (const tier of tiers) {
  const { code, output } = await run(labels[tier], commands[tier]);
  const c = counts(output);
  if (!c) {
    // A tier that reports nothing ran nothing: that is a failure, never a silent skip.
    summary.push(`${tier}: no test report (exit ${code})`);
    failedSteps++;
    continue;
  }
  if (code !== 0 && c.failed === 0) failedSteps++;
  if (c.passed === 0) failedSteps++;
  summary.push({ tier, ...c, code });
}

console.log('\n=== summary');
let passed = 0;
let failed = 0;
for (const s of summary) {
  if (typeof s === 'string') {
    console.log(`  ${s}`);
    continue;
  }
  passed += s.passed;
  failed += s.failed;
  console.log(`  ${s.tier.padEnd(7)} ${s.passed} passed, ${s.failed} failed${s.code !== 0 ? ` (exit ${s.code})` : ''}`);
}
if (failedSteps > 0)
  console.log(
    `  ${failedSteps} step(s) failed without a test failure count ` +
      '(build, typecheck, lint or a tier that did not report)',
  );
console.log(`npm test: ${passed} passed, ${failed + failedSteps} failed`);
process.exit(failed + failedSteps > 0 ? 1 : 0);
