// Type-checks every source area against its own tsconfig: each area sees only the APIs it may use
// (the engine neither Node nor vscode, webviews the DOM but not Node, ...). Runs them in parallel.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const PROJECTS = [
  'src/engine',
  'src/engine/node',
  'src/shared',
  'src/cli',
  'src/extension',
  'src/webview',
  'test',
];

const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
const run = (project) =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [tsc, '-p', path.join(root, project), '--pretty', 'false'], { cwd: root });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ project, code, out }));
  });

const results = [];
const queue = [...PROJECTS];
await Promise.all(
  [0, 1].map(async () => {
    for (let p = queue.shift(); p; p = queue.shift()) results.push(await run(p));
  }),
);
let failed = 0;
for (const { project, code, out } of results.sort(
  (a, b) => PROJECTS.indexOf(a.project) - PROJECTS.indexOf(b.project),
)) {
  if (code !== 0) {
    failed++;
    console.error(`typecheck ${project}: failed\n${out}`);
  }
}
if (failed) console.error(`typecheck: ${failed} of ${PROJECTS.length} projects failed`);
else console.log(`typecheck: ${PROJECTS.length} projects clean`);
process.exit(failed ? 1 : 0);
