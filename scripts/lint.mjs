// npm run lint: Prettier's check of the layout (.prettierrc.json), then ESLint's type-aware rules
// (eslint.config.mjs). Both run even when the first fails, one after the other (ESLint holds every
// area's type program in memory). `npm run format` rewrites the layout; `npx eslint --fix .` fixes
// what ESLint can fix by itself.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const STEPS = [
  ['prettier', ['node_modules/prettier/bin/prettier.cjs', '--check', '--log-level', 'warn', '.']],
  ['eslint', ['node_modules/eslint/bin/eslint.js', '--max-warnings', '0', '.']],
];

const run = (args) =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
    child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });

const failed = [];
for (const [name, args] of STEPS) {
  if ((await run(args)) !== 0) failed.push(name);
}
if (failed.length > 0) {
  console.error(`lint: ${failed.join(' and ')} found problems (npm run format fixes the layout)`);
  process.exit(1);
}
console.log('lint: clean');
