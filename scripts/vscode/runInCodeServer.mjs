// Runs an extension's tests inside a real VS Code extension host: code-server (VS Code server and
// web workbench) driven by headless Chromium. Takes the command line that @vscode/test-electron
// gives a VS Code executable, so `runTests({ vscodeExecutablePath: <code-shim> })` works unchanged:
//
//   runInCodeServer.mjs --extensionDevelopmentPath=DIR --extensionTestsPath=MODULE [options] [WORKSPACE]
//
// The exit code is the extension host's: 0 when run() resolved, 1 when it rejected.
// The extension host's console (mocha's report) is printed on stdout.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import {
  enableTestPayload,
  ensureCodeServer,
  launchChromium,
  prepareRunDir,
  startCodeServer,
  workbenchUrl,
} from './codeServer.mjs';

let dev;
let tests;
let workspace;
for (const arg of process.argv.slice(2)) {
  if (arg.startsWith('--extensionDevelopmentPath=')) dev ??= arg.slice(arg.indexOf('=') + 1);
  else if (arg.startsWith('--extensionTestsPath=')) tests = arg.slice(arg.indexOf('=') + 1);
  else if (arg.startsWith('-'))
    continue; // --no-sandbox, --disable-extensions, --user-data-dir=...: not needed here
  else workspace ??= arg;
}
if (!dev || !tests) {
  console.error('usage: runInCodeServer.mjs --extensionDevelopmentPath=DIR --extensionTestsPath=MODULE [WORKSPACE]');
  process.exit(2);
}

// Start-up chatter of the workbench itself, forwarded on the same channel as the extension host's
// console; shown with VERBOSE=1. (The gallery is unreachable offline by design.)
const WORKBENCH_NOISE = [
  /^Resolv(ing|ed) connection token/,
  /^Creating a socket/,
  /^Updating additional builtin extensions cache/,
  /^\[Service Worker\]/,
  /^ChatSessionStore:/,
  /ENOTFOUND open-vsx\.org/,
];

const timeoutMs = Number(process.env.VSCODE_TEST_TIMEOUT_MS || 300_000);
ensureCodeServer();
const run = prepareRunDir();
let server;
let browser;
let code = 1;
try {
  server = await startCodeServer(run, { workspace });
  browser = await launchChromium();
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  let finish;
  const exited = new Promise((resolve) => (finish = resolve));
  // The workbench reports the extension host's console and exit code through these two hooks.
  await page.exposeFunction('codeAutomationLog', (_type, args) => {
    const text = String(args?.[0] ?? '');
    if (process.env.VERBOSE || !WORKBENCH_NOISE.some((re) => re.test(text))) console.log(...(args ?? []));
  });
  await page.exposeFunction('codeAutomationExit', (exitCode) => finish(exitCode));
  if (process.env.VERBOSE) page.on('console', (m) => console.log('[workbench]', m.text()));
  await enableTestPayload(page);
  const timer = setTimeout(() => finish('timeout'), timeoutMs);
  await page.goto(workbenchUrl(server.url, workspace, { extensionDevelopmentPath: dev, extensionTestsPath: tests }));
  const result = await exited;
  clearTimeout(timer);
  if (result === 'timeout') console.error(`the extension host did not finish within ${timeoutMs / 1000} s`);
  else console.log(`extension host exit code: ${result}`);
  code = result === 0 ? 0 : 1;
} catch (e) {
  console.error(e instanceof Error ? e.message : e);
  code = 1;
} finally {
  await browser?.close();
  await server?.stop();
  const log = path.join(run.dir, 'server.log');
  if (code !== 0 && existsSync(log)) {
    console.error('---- code-server log (last 40 lines) ----');
    console.error(readFileSync(log, 'utf8').split('\n').slice(-40).join('\n'));
  }
  if (!process.env.KEEP_RUN) rmSync(run.dir, { recursive: true, force: true });
}
process.exit(code);
