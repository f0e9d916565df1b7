// npm run bench [-- NAME...]: builds the benchmarks and runs the named ones (default: all), each in
// its own Node process. Prints the figures and writes them to bench-results/<name>.json.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const MARKER = 'BENCH-RESULT ';

const build = spawnSync(process.execPath, [path.join(root, 'esbuild.config.mjs'), '--tests'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(1);

const dir = path.join(root, 'dist/bench');
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.js'))
  .map((f) => f.slice(0, -'.bench.js'.length))
  .sort();
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = wanted.filter((w) => !available.includes(w));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}\navailable: ${available.join(', ')}`);
  process.exit(2);
}
const names = wanted.length > 0 ? wanted : available;
mkdirSync(path.join(root, 'bench-results'), { recursive: true });
let failed = 0;
for (const name of names) {
  console.log(`bench ${name} ...`);
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(dir, `${name}.bench.js`)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith(MARKER));
  if (r.status !== 0 || !line) {
    console.error(`bench ${name}: failed (exit ${r.status})`);
    failed++;
    continue;
  }
  const result = {
    ...JSON.parse(line.slice(MARKER.length)),
    date: new Date().toISOString(),
    cpus: (await import('node:os')).cpus().length,
  };
  const out = path.join(root, 'bench-results', `${name}.json`);
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result.figures, null, 2));
  console.log(`wrote ${path.relative(root, out)}`);
}
process.exit(failed ? 1 : 0);
