// UI smoke tier: the packaged .vsix installed into code-server, the workbench opened in headless
// Chromium the way a person would: the Nitro Enclaves container and the Enclave Image Viewer
// (on demo/images/hello.eif) checked on screen. Writes test-results/ui-smoke.png and
// test-results/eif-viewer.png, and prints `ui smoke: N passed, N failed`.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageVsix, vsixFiles } from '../package.mjs';
import { ROOT, ensureCodeServer, installVsix, launchChromium, prepareRunDir, startCodeServer, workbenchUrl } from './codeServer.mjs';

const results = [];
async function check(name, fn) {
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`  ✔ ${name}`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`  ✘ ${name}\n      ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
  }
}

/** Opens the Nitro Enclaves container on `page` and checks what it shows; saves a screenshot. */
async function checkContainer(page, shot) {
  const icon = page.locator('.activitybar .action-item .action-label[aria-label^="Nitro Enclaves"]').first();
  await check('the activity bar shows the Nitro Enclaves icon', () => icon.waitFor({ timeout: 60_000 }));
  await icon.click();
  const header = (title) => page.locator('.pane-header', { has: page.locator('h3.title', { hasText: title }) }).first();
  await check('the container shows the "Parent Instances" view', () => header('Parent Instances').waitFor({ timeout: 30_000 }));
  await check('the container shows the "Enclave Images" view', () => header('Enclave Images').waitFor({ timeout: 30_000 }));
  await check('the emulated parent node is visible and says it is not started', async () => {
    const row = page.locator('.monaco-list-row', { hasText: 'Embedded emulator' }).first();
    await row.waitFor({ timeout: 30_000 });
    const text = await row.textContent();
    if (!text?.includes('not started')) throw new Error(`row reads "${text}"`);
  });
  await check('Enclave Images lists demo/images/hello.eif', () =>
    page
      .locator('.pane', { has: header('Enclave Images') })
      .locator('.monaco-list-row', { hasText: 'hello.eif' })
      .first()
      .waitFor({ timeout: 30_000 }),
  );
  await page.mouse.move(800, 600); // away from the activity bar, so no hover tooltip covers the view
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(shots, shot) });
  console.log(`  screenshot: ${path.relative(process.cwd(), path.join(shots, shot))}`);
}

/**
 * Opens demo/images/hello.eif (a copy of the signed test fixture) from Quick Open, as a person
 * would, and checks what the Enclave Image Viewer shows; saves test-results/eif-viewer.png.
 */
async function checkEifViewer(page) {
  const expected = JSON.parse(readFileSync(path.join(ROOT, 'test/fixtures/eif/synthetic-v4-signed.expected.json'), 'utf8'));
  await check('Quick Open opens hello.eif in the Enclave Image Viewer', async () => {
    await page.keyboard.press('Control+P');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 10_000 });
    await input.fill('hello.eif');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'hello.eif' }).first().waitFor({ timeout: 15_000 });
    await page.keyboard.press('Enter');
    await page.locator('.tabs-container .tab.active', { hasText: 'hello.eif' }).waitFor({ timeout: 15_000 });
  });
  // A webview is two nested iframes: the host frame, then the page itself.
  const view = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
  await check('the viewer shows PCR0 of hello.eif as the fixture expects', async () => {
    const value = view.locator('tr[data-pcr="PCR0"] .pcr-value');
    await value.waitFor({ timeout: 30_000 });
    const text = (await value.textContent())?.trim();
    if (text !== expected.PCR0) throw new Error(`PCR0 reads "${text}", expected ${expected.PCR0}`);
    const pcrs = await view.locator('tr[data-pcr]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-pcr')));
    if (pcrs.join() !== 'PCR0,PCR1,PCR2,PCR8') throw new Error(`PCR rows: ${pcrs.join()}`);
  });
  await check('the viewer shows the signature check as passed', async () => {
    await view.locator('.check.pass', { hasText: 'Signature check passed' }).waitFor({ timeout: 10_000 });
    await view.locator('#card-signature .check.pass', { hasText: 'COSE signature is valid' }).waitFor({ timeout: 10_000 });
    const failed = await view.locator('.check.fail').count();
    if (failed > 0) throw new Error(`${failed} check(s) shown as failed`);
  });
  await page.mouse.move(150, 700); // over the side bar, so no row of the viewer shows its hover colour
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(shots, 'eif-viewer.png') });
  console.log(`  screenshot: ${path.relative(process.cwd(), path.join(shots, 'eif-viewer.png'))}`);
  await check('the copy button of PCR0 copies it and says so in the status bar', async () => {
    await view.locator('tr[data-pcr="PCR0"] button[aria-label="Copy PCR0"]').click({ timeout: 10_000 });
    await page.locator('.statusbar', { hasText: 'Copied PCR0' }).waitFor({ timeout: 10_000 });
  });
  await check('"Describe as JSON" opens describe-eif\'s JSON in an editor', async () => {
    await view.locator('#describe').click({ timeout: 10_000 });
    await page.locator('.tabs-container .tab.active', { hasText: 'Untitled' }).waitFor({ timeout: 15_000 });
    await page.locator('.monaco-editor .view-lines', { hasText: '"EifVersion": 4' }).first().waitFor({ timeout: 15_000 });
  });
  await page.waitForTimeout(2000); // let the new text editor load its web workers before the server stops
}

/** Process group ids of processes whose command line contains `needle`. */
function groupsOf(needle) {
  const ps = spawnSync('ps', ['-eo', 'pgid=,args='], { encoding: 'utf8' }).stdout;
  return new Set(ps.split('\n').filter((l) => l.includes(needle)).map((l) => Number(l.trim().split(/\s+/)[0])));
}

function groupAlive(pgid) {
  const ps = spawnSync('ps', ['-eo', 'pgid='], { encoding: 'utf8' }).stdout;
  return ps.split('\n').some((l) => Number(l.trim()) === pgid);
}

/** Part 2: `npm start` as a user runs it: the printed URL shows the extension; Ctrl-C leaves nothing behind. */
async function checkNpmStart(browser) {
  console.log('npm start (extension loaded from this checkout)');
  const profile = mkdtempSync(path.join(os.tmpdir(), 'nitro-start-'));
  const start = spawn(process.execPath, [path.join(ROOT, 'scripts/start.mjs')], {
    env: { ...process.env, NITRO_START_PROFILE: profile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  start.stdout.on('data', (d) => (output += d));
  start.stderr.on('data', (d) => (output += d));
  try {
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start printed no URL within 120 s:\n${output}`)), 120_000);
      const look = () => {
        const m = /^\s+(http:\/\/127\.0\.0\.1:\d+\/\?\S+)$/m.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      };
      start.stdout.on('data', look);
      start.on('exit', (code) => reject(new Error(`npm start exited (${code}) before printing a URL:\n${output}`)));
    });
    const page = await browser.context.newPage();
    await page.goto(url);
    await page.locator('.monaco-workbench .activitybar').waitFor({ timeout: 60_000 });
    await checkContainer(page, 'npm-start.png');
    await page.close();
    const groups = groupsOf(profile);
    await check('Ctrl-C stops npm start and every process it started', async () => {
      if (groups.size === 0) throw new Error('found no code-server process for the run');
      const exited = new Promise((resolve) => start.on('exit', resolve));
      start.kill('SIGINT');
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]);
      if (code !== 0) throw new Error(`npm start did not exit cleanly on SIGINT: ${code}`);
      const left = [...groups].filter(groupAlive);
      if (left.length > 0) throw new Error(`processes left in group(s) ${left.join(', ')}`);
    });
  } finally {
    start.kill('SIGKILL');
    for (const g of groupsOf(profile)) {
      try {
        process.kill(-g, 'SIGKILL');
      } catch {}
    }
    rmSync(profile, { recursive: true, force: true });
  }
}

const shots = path.join(ROOT, 'test-results');
mkdirSync(shots, { recursive: true });
ensureCodeServer();
const run = prepareRunDir();
const workspace = path.join(mkdtempSync(path.join(os.tmpdir(), 'nitro-ui-')), 'demo');
cpSync(path.join(ROOT, 'demo'), workspace, { recursive: true });
let server;
let browser;
let page;
console.log('UI smoke test (packaged extension in code-server, headless Chromium)');
try {
  const vsix = packageVsix(path.join(run.dir, 'nitro-enclaves.vsix'));
  await check('the .vsix holds the bundles, media and docs only (the .vscodeignore allowlist)', () => {
    const files = vsixFiles();
    const allowed = /^(dist\/(extension|cli)\.js|dist\/webview\/[\w-]+\.js|media\/.+|package\.json|README\.md|CHANGELOG\.md|LICENSE)$/;
    const extra = files.filter((f) => !allowed.test(f));
    if (extra.length > 0) throw new Error(`unexpected files: ${extra.join(', ')}`);
    for (const f of ['dist/extension.js', 'dist/cli.js', 'package.json', 'LICENSE']) if (!files.includes(f)) throw new Error(`missing ${f}`);
  });
  await check('code-server installs the packaged .vsix', () => {
    const out = installVsix(run, vsix);
    if (!/successfully installed/i.test(out)) throw new Error(`unexpected install output: ${out}`);
  });
  server = await startCodeServer(run, { workspace });
  browser = await launchChromium();
  // The viewer's copy buttons write to the clipboard through the workbench.
  await browser.context.grantPermissions(['clipboard-read', 'clipboard-write']);
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.on('pageerror', (e) => console.log(`  [page error] ${e.message}`));
  await page.goto(workbenchUrl(server.url, workspace));
  await page.locator('.monaco-workbench .activitybar').waitFor({ timeout: 60_000 });

  await checkContainer(page, 'ui-smoke.png');
  await checkEifViewer(page);
  await server.stop();
  server = undefined;
  await checkNpmStart(browser);
} catch (e) {
  results.push({ name: 'the smoke run completes', ok: false });
  console.log(`  ✘ the smoke run completes\n      ${e instanceof Error ? e.message : e}`);
  await page?.screenshot({ path: path.join(shots, 'ui-smoke-failure.png') }).catch(() => undefined);
} finally {
  await browser?.close();
  await server?.stop();
  if (!process.env.KEEP_RUN) rmSync(run.dir, { recursive: true, force: true });
  rmSync(path.dirname(workspace), { recursive: true, force: true });
}
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log(`ui smoke: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
