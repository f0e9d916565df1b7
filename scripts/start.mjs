// npm start: builds the extension (and keeps rebuilding on change), installs code-server into the
// cache if missing, serves VS Code on 127.0.0.1 with the extension loaded from this checkout and
// the demo/ workspace open, and prints the URL. Ctrl-C stops everything (the whole process group).
//
//   npm start                      web VS Code (code-server) on http://127.0.0.1:<port>/
//   npm start -- --port 8080       a fixed port instead of the first free one from 8123
//   npm start -- --desktop         a desktop VS Code (`code` on PATH) instead, in development mode
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import {
  CACHE,
  ROOT,
  ensureCodeServer,
  freePort,
  prepareRunDir,
  startCodeServer,
  workbenchUrl,
} from './vscode/codeServer.mjs';

const argv = process.argv.slice(2);
const desktop = argv.includes('--desktop');
const portArg = argv.indexOf('--port');
const demo = path.join(ROOT, 'demo');

/** Before anything runs in the background: says why and exits. */
function fail(message) {
  console.error(`npm start: ${message}`);
  process.exit(1);
}

// Checked before anything starts, so a typo costs no build.
const fixedPort = portArg >= 0 ? Number(argv[portArg + 1]) : undefined;
if (fixedPort !== undefined && (!Number.isInteger(fixedPort) || fixedPort <= 0 || fixedPort > 65535)) {
  fail(`--port takes a port number, not "${argv[portArg + 1] ?? ''}"`);
}

// One build first (so the server never loads a half-built bundle), then watch mode.
const build = spawnSync(process.execPath, [path.join(ROOT, 'esbuild.config.mjs')], { stdio: 'inherit' });
if (build.status !== 0) fail('the build failed');
const watcher = spawn(process.execPath, [path.join(ROOT, 'esbuild.config.mjs'), '--watch'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let watching = false;
watcher.stdout.on('data', (d) => {
  const text = String(d);
  if (watching && /build finished/.test(text))
    console.log('rebuilt: reload the window (Developer: Reload Window) to load the change');
  if (/watching for changes/.test(text)) watching = true;
});

let stopServer = async () => {};
let stopping = false;
async function shutdown(code = 0) {
  if (stopping) return;
  stopping = true;
  watcher.kill('SIGTERM');
  await stopServer();
  process.exit(code);
}
/** Says why first, then stops what runs in the background and exits. */
async function fatal(message) {
  console.error(`npm start: ${message}`);
  await shutdown(1);
  process.exit(1);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
process.on('SIGHUP', () => void shutdown(0));

if (desktop) {
  const which = spawnSync('sh', ['-c', 'command -v code'], { encoding: 'utf8' });
  if (which.status !== 0) {
    await fatal(
      '--desktop needs the `code` command on PATH (VS Code: "Shell Command: Install \'code\' command in PATH")',
    );
  }
  // `code` returns once the window is open; the watcher keeps running until Ctrl-C.
  spawnSync('code', ['--new-window', `--extensionDevelopmentPath=${ROOT}`, demo], { stdio: 'inherit' });
  console.log('VS Code opened demo/ with the extension in development mode. Ctrl-C stops the rebuild watcher.');
} else {
  try {
    ensureCodeServer();
  } catch (e) {
    await fatal(e.message);
  }
  // A persistent profile, so settings and layout survive restarts of npm start.
  const run = prepareRunDir(process.env.NITRO_START_PROFILE || path.join(CACHE, 'start-profile'));
  const port = fixedPort ?? (await firstFreePort(8123));
  const log = path.join(run.dir, 'server.log');
  try {
    const server = await startCodeServer(run, { workspace: demo, port, log });
    stopServer = server.stop;
    server.child.on('exit', (code) => {
      if (!stopping) {
        console.error(`code-server exited (${code}); see ${log}`);
        void shutdown(1);
      }
    });
    console.log('');
    console.log('Nitro Enclaves is running in VS Code (code-server) with the demo workspace:');
    console.log('');
    console.log(`  ${workbenchUrl(server.url, demo, { extensionDevelopmentPath: ROOT })}`);
    console.log('');
    console.log(`Open that URL in a browser (it loads the extension from this checkout). Server log: ${log}`);
    console.log('Press Ctrl-C to stop.');
  } catch (e) {
    await fatal(e.message);
  }
}

async function firstFreePort(from) {
  const { createServer } = await import('node:net');
  for (let p = from; p < from + 100; p++) {
    const free = await new Promise((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return p;
  }
  return freePort();
}
