// The extension's start-up as a user feels it, in a real VS Code extension host (code-server and
// headless Chromium, the harness of the vscode test tier), with the production bundle:
//   - activation: from the bundle's first module to the end of activate(), as the extension itself
//     records it (src/extension/startup.ts), median over BENCH_WINDOWS fresh windows (default 5), each
//     a fresh extension host; plus compiling the bundle, which happens before its first module runs,
//     measured in fresh Node processes (vm.Script, no code cache) since the host does not report it;
//   - the views filled: with demo/ as the workspace, the Nitro Enclaves container is opened, and the
//     time from activation (or from the opening, when the workspace had activated the extension
//     already) until both views gave VS Code their first children (Parent Instances: the emulated
//     parent; Enclave Images: demo's images);
//     (also split: modules evaluated, the host's gap until activate() is called, activate()'s body);
//   - the size of dist/extension.js built with --production.
// Aims: activation (compile + activate) < 50 ms, bundle < 1 MB, views filled < 500 ms. The figures are
// reported against their aims; a miss does not fail the run (a busy machine is not a regression).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ACTIVATION_MARKER, bench, round } from './harness';

const windows = Math.max(5, Number(process.env.BENCH_WINDOWS ?? 5));
const root = path.join(__dirname, '..', '..');
const demo = path.join(root, 'demo');
const bundle = path.join(root, 'dist', 'extension.js');

const ACTIVATION_AIM_MS = 50;
const BUNDLE_AIM_BYTES = 1_000_000;
const FILL_AIM_MS = 500;

interface ProbeReport {
  pid: number;
  activeBeforeOpen: boolean;
  openedAt: number;
  loadedAt: number;
  modulesLoadedAt: number;
  activateStartedAt: number;
  activatedAt: number;
  firstChildren: { parents: { at: number; kinds: string[] }; images: { at: number; kinds: string[] } };
}

/** The harness of the vscode tier (an ES module of scripts/, loaded at run time). */
interface CodeServerHarness {
  ensureCodeServer(): string;
  prepareRunDir(): { dir: string };
  startCodeServer(
    run: { dir: string },
    options: { workspace: string },
  ): Promise<{ url: string; stop(): Promise<void> }>;
  launchChromium(): Promise<{ context: import('playwright-core').BrowserContext; close(): Promise<void> }>;
  enableTestPayload(page: import('playwright-core').Page): Promise<void>;
  workbenchUrl(
    base: string,
    workspace: string,
    options: { extensionDevelopmentPath: string; extensionTestsPath: string },
  ): string;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Compiling the bundle's source once in a fresh Node process, without a code cache (ms). */
function compileMs(): number {
  const script =
    "const vm=require('node:vm');const src=require('node:fs').readFileSync(process.argv[1],'utf8');" +
    "const t=performance.now();new vm.Script(src,{filename:'extension.js'});console.log(performance.now()-t)";
  const r = spawnSync(process.execPath, ['-e', script, bundle], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`compiling ${bundle} failed: ${r.stderr}`);
  return Number(r.stdout.trim());
}

/** Opens one workbench window on demo/ whose extension host runs the probe; returns its report. */
async function oneWindow(harness: CodeServerHarness, browser: import('playwright-core').BrowserContext, url: string) {
  const page = await browser.newPage();
  try {
    let report: ProbeReport | undefined;
    let finish: (code: unknown) => void = () => undefined;
    const exited = new Promise((resolve) => (finish = resolve));
    await page.exposeFunction('codeAutomationLog', (_type: string, args?: unknown[]) => {
      const first = args?.[0];
      const text = typeof first === 'string' ? first : '';
      if (text.startsWith(ACTIVATION_MARKER)) report = JSON.parse(text.slice(ACTIVATION_MARKER.length)) as ProbeReport;
      else if (process.env.VERBOSE) console.error(...(args ?? []));
    });
    await page.exposeFunction('codeAutomationExit', (code: unknown) => finish(code));
    await harness.enableTestPayload(page);
    const timer = setTimeout(() => finish('timeout'), 300_000);
    await page.goto(
      harness.workbenchUrl(url, demo, {
        extensionDevelopmentPath: root,
        extensionTestsPath: path.join(root, 'dist', 'bench', 'host', 'activationProbe'),
      }),
    );
    const code = await exited;
    clearTimeout(timer);
    if (code !== 0 || !report) throw new Error(`the benchmark window ended with ${String(code)} and no report`);
    return report;
  } finally {
    await page.close().catch(() => undefined);
  }
}

bench('activation', async () => {
  const build = spawnSync(process.execPath, [path.join(root, 'esbuild.config.mjs'), '--production'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (build.status !== 0) throw new Error('the production build failed');
  const bundleBytes = statSync(bundle).size;
  // The bundle must be the production one, not a development build that happens to be there.
  if (readFileSync(bundle, 'utf8').includes('//# sourceMappingURL')) throw new Error(`${bundle} is not minified`);
  const compile = Array.from({ length: windows }, compileMs);

  const harness = (await import(
    pathToFileURL(path.join(root, 'scripts', 'vscode', 'codeServer.mjs')).href
  )) as CodeServerHarness;
  harness.ensureCodeServer();
  // The emulator keeps its parents for this run only (the first window creates the default parent).
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'nitro-bench-state-'));
  process.env.NITRO_DEV_STATE_DIR = stateDir;
  const run = harness.prepareRunDir();
  const server = await harness.startCodeServer(run, { workspace: demo });
  const browser = await harness.launchChromium();
  const reports: ProbeReport[] = [];
  try {
    for (let i = 0; i < windows; i++) reports.push(await oneWindow(harness, browser.context, server.url));
  } finally {
    await browser.close();
    await server.stop();
    rmSync(run.dir, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
  if (new Set(reports.map((r) => r.pid)).size !== reports.length)
    throw new Error('two windows shared an extension host; each measurement needs a fresh one');
  for (const r of reports) {
    if (!r.firstChildren.parents.kinds.includes('parent'))
      throw new Error(`Parent Instances showed ${r.firstChildren.parents.kinds.join(', ')}, not the emulated parent`);
    if (!r.firstChildren.images.kinds.includes('image'))
      throw new Error(`Enclave Images showed ${r.firstChildren.images.kinds.join(', ')}, not demo's images`);
  }
  const activate = reports.map((r) => r.activatedAt - r.loadedAt);
  const fill = reports.map(
    (r) => Math.max(r.firstChildren.parents.at, r.firstChildren.images.at) - Math.max(r.activatedAt, r.openedAt),
  );
  // Where activation goes: evaluating the bundle's modules, the host's own work between loading the
  // bundle and calling activate(), and activate() itself.
  const modules = reports.map((r) => r.modulesLoadedAt - r.loadedAt);
  const hostGap = reports.map((r) => r.activateStartedAt - r.modulesLoadedAt);
  const body = reports.map((r) => r.activatedAt - r.activateStartedAt);
  const activation = median(compile) + median(activate);
  return {
    windows,
    activateMs: round(median(activate), 1),
    compileMs: round(median(compile), 1),
    modulesMs: round(median(modules), 1),
    hostGapMs: round(median(hostGap), 1),
    activateBodyMs: round(median(body), 1),
    activationMs: round(activation, 1),
    activationAimMs: ACTIVATION_AIM_MS,
    activationOk: activation < ACTIVATION_AIM_MS,
    bundleKiB: round(bundleBytes / 1024, 1),
    bundleAimKiB: round(BUNDLE_AIM_BYTES / 1024, 1),
    bundleOk: bundleBytes < BUNDLE_AIM_BYTES,
    viewsFilledMs: round(median(fill), 1),
    viewsFilledAimMs: FILL_AIM_MS,
    viewsFilledOk: median(fill) < FILL_AIM_MS,
    allActivateMs: activate.map((x) => round(x, 0)).join(' '),
    allModulesMs: modules.map((x) => round(x, 0)).join(' '),
    allActivateBodyMs: body.map((x) => round(x, 0)).join(' '),
    allViewsFilledMs: fill.map((x) => round(x, 0)).join(' '),
    activatedBeforeOpen: reports.filter((r) => r.activeBeforeOpen).length,
  };
});
