// Shared plumbing of the VS Code test tiers and `npm start`: the code-server install in the cache,
// Chromium, free ports, and a code-server process in its own process group.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNodeHeaders } from './nodeHeaders.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CS_VERSION = process.env.CS_VERSION || '4.100.3';
export const CACHE =
  process.env.NITRO_VSCODE_CACHE ||
  path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'nitro-enclaves-vscode');
export const CS_HOME = process.env.CS_HOME || path.join(CACHE, `code-server-${CS_VERSION}`);
export const CODE_SERVER = path.join(CS_HOME, 'node_modules/.bin/code-server');

/**
 * The environment for code-server's install and runs: the Node running this script comes first on
 * PATH, so npm, node-gyp and code-server all use the Node whose headers were checked.
 */
function withThisNode(env = process.env) {
  return { ...env, PATH: [path.dirname(process.execPath), env.PATH].filter(Boolean).join(path.delimiter) };
}

/**
 * Installs code-server into the cache unless it is there already (install-code-server.sh shows its
 * progress). Throws with the reason, in one sentence, when it cannot.
 */
export function ensureCodeServer() {
  if (existsSync(path.join(CS_HOME, '.ok'))) return CODE_SERVER;
  const headers = findNodeHeaders();
  if (headers.error) throw new Error(headers.error);
  const r = spawnSync('bash', [path.join(ROOT, 'scripts/vscode/install-code-server.sh'), CS_HOME], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: withThisNode({ ...process.env, CS_VERSION }),
  });
  if (r.signal || r.status === 130)
    throw new Error(
      `installing code-server ${CS_VERSION} into ${CS_HOME} was interrupted; the next run starts it again`,
    );
  if (r.status !== 0)
    throw new Error(
      `installing code-server ${CS_VERSION} into ${CS_HOME} failed (exit ${r.status}); the reason is printed above`,
    );
  return CODE_SERVER;
}

const CHROMIUM_CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
];

/** The Chromium to drive: $CHROMIUM, else a system one. Throws saying what to install when none is found. */
export function findChromium() {
  const configured = process.env.CHROMIUM;
  if (configured) {
    if (existsSync(configured)) return configured;
    throw new Error(`CHROMIUM=${configured} does not exist`);
  }
  const found = CHROMIUM_CANDIDATES.find((p) => existsSync(p));
  if (found) return found;
  throw new Error(
    'The VS Code test tiers need Chromium to open the workbench, and none was found.\n' +
      '  Debian/Ubuntu: sudo apt-get install -y chromium libkrb5-dev\n' +
      '  elsewhere:     set CHROMIUM=/path/to/chrome-or-chromium',
  );
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const QUIET_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
  'chat.disableAIFeatures': true,
};

/**
 * A directory for one code-server run: user data (with quiet settings), extensions, XDG config.
 * `dir` is created if missing (pass a persistent one for `npm start`); default: a fresh temp dir.
 */
export function prepareRunDir(dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-vscode-')), settings = {}) {
  const userData = path.join(dir, 'data');
  mkdirSync(path.join(userData, 'User'), { recursive: true });
  const settingsFile = path.join(userData, 'User/settings.json');
  if (!existsSync(settingsFile))
    writeFileSync(settingsFile, JSON.stringify({ ...QUIET_SETTINGS, ...settings }, null, 2));
  mkdirSync(path.join(dir, 'extensions'), { recursive: true });
  mkdirSync(path.join(dir, 'xdg'), { recursive: true });
  return { dir, userData, extensions: path.join(dir, 'extensions'), xdg: path.join(dir, 'xdg') };
}

function codeServerEnv(run) {
  // Every code-server call writes config below the XDG dirs: keep it inside the run dir.
  return { ...withThisNode(), XDG_CONFIG_HOME: run.xdg, XDG_DATA_HOME: run.xdg };
}

/** Installs a .vsix into the run's extensions dir. */
export function installVsix(run, vsix) {
  const r = spawnSync(
    CODE_SERVER,
    ['--user-data-dir', run.userData, '--extensions-dir', run.extensions, '--install-extension', vsix],
    {
      env: codeServerEnv(run),
      encoding: 'utf8',
    },
  );
  if (r.status !== 0)
    throw new Error(`code-server --install-extension ${vsix} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/**
 * Starts code-server on 127.0.0.1:<port> in its own process group and waits until it answers.
 * Returns { url, child, stop() }; stop() ends the whole group (server, extension host, watchers).
 */
export async function startCodeServer(run, { workspace, port, log = path.join(run.dir, 'server.log'), stdio } = {}) {
  const p = port ?? (await freePort());
  const args = [
    '--auth',
    'none',
    '--bind-addr',
    `127.0.0.1:${p}`,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--user-data-dir',
    run.userData,
    '--extensions-dir',
    run.extensions,
  ];
  if (workspace) args.push(workspace);
  const { openSync } = await import('node:fs');
  const out = stdio ?? ['ignore', openSync(log, 'a'), openSync(log, 'a')];
  const child = spawn(CODE_SERVER, args, { env: codeServerEnv(run), detached: true, stdio: out });
  let exited = false;
  child.on('exit', () => (exited = true));
  const url = `http://127.0.0.1:${p}`;
  const stop = async () => {
    if (child.pid === undefined) return;
    const group = -child.pid;
    const alive = () => {
      try {
        process.kill(group, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      process.kill(group, 'SIGTERM');
    } catch {
      return;
    }
    for (let i = 0; i < 25 && alive(); i++) await new Promise((r) => setTimeout(r, 200));
    if (alive()) {
      try {
        process.kill(group, 'SIGKILL');
      } catch {
        // The group exited between the check and the kill.
      }
    }
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`code-server exited during start-up; see ${log}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {
      // Not listening yet: try again until the deadline.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`code-server did not answer on ${url} within 60 s; see ${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, port: p, child, stop };
}

/** Chromium flags for this closed network, as root, without a display. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Launches headless Chromium with a fresh profile; returns { context, close() }. */
export async function launchChromium() {
  const executablePath = findChromium();
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(path.join(os.tmpdir(), 'nitro-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1400, height: 850 },
    args: CHROMIUM_ARGS,
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * The workbench URL that loads an extension from source (and optionally runs its tests), the way
 * VS Code's own --extensionDevelopmentPath does. code-server's CLI rejects those flags; the
 * workbench takes them from the `payload` query parameter as remote URIs.
 */
export function workbenchUrl(base, workspace, { extensionDevelopmentPath, extensionTestsPath } = {}) {
  const host = new URL(base).host;
  const params = new URLSearchParams();
  if (workspace) params.set('folder', workspace);
  const payload = [];
  if (extensionDevelopmentPath)
    payload.push(['extensionDevelopmentPath', `vscode-remote://${host}${path.resolve(extensionDevelopmentPath)}`]);
  if (extensionTestsPath)
    payload.push(['extensionTestsPath', `vscode-remote://${host}${path.resolve(extensionTestsPath)}`]);
  if (payload.length > 0) payload.push(['skipWelcome', 'true']);
  if (payload.length > 0) params.set('payload', JSON.stringify(payload));
  return `${base}/?${params}`;
}

/**
 * Makes `page` honour workbenchUrl's extension test payload: newer VS Code builds do only with the
 * smoke-test driver enabled, set here in the configuration the server embeds in the page (harmless on
 * 1.100, which does not need it). Call before the page loads the workbench.
 */
export async function enableTestPayload(page) {
  await page.addInitScript(() => {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the element as `this`
    const getAttribute = Element.prototype.getAttribute;
    Element.prototype.getAttribute = function (name) {
      const value = getAttribute.call(this, name);
      if (name === 'data-settings' && this.id === 'vscode-workbench-web-configuration' && value) {
        const config = JSON.parse(value);
        config.developmentOptions = { ...(config.developmentOptions ?? {}), enableSmokeTestDriver: true };
        return JSON.stringify(config);
      }
      return value;
    };
  });
}
