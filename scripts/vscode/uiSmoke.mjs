// UI smoke tier: the packaged .vsix installed into code-server, the workbench opened in headless
// Chromium the way a person would: the Nitro Enclaves container, the Enclave Image Viewer (on
// demo/images/hello.eif) and the Attestation Document Viewer (on demo/attestation/evervault-prod.att.cbor,
// then a document pasted from the clipboard into a panel that must survive a window reload) checked
// on screen, an enclave run on the emulated parent, and real parents over SSH (a test sshd on
// 127.0.0.1 running the stand-in nitro-cli, and a host whose port is closed). Writes
// test-results/ui-smoke.png, parents-running-enclave.png, parents-kms.png (the Local KMS started
// from the palette), parents-ssh.png, eif-viewer.png, attestation-viewer.png and attestation-kms.png,
// and prints `ui smoke: N passed, N failed`.
//
// Every step waits for what the page shows, never for a fixed time: each has one generous deadline
// (STEP_MS, for a busy 2-core machine), idempotent actions (a key press that opens Quick Open, a
// refresh, a copy button) are repeated until the page reacts, and nothing is clicked before the
// extension has populated its views.
/* global document, requestAnimationFrame -- page.evaluate and waitForFunction callbacks run in the browser */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageVsix, vsixFiles } from '../package.mjs';
import {
  ROOT,
  ensureCodeServer,
  installVsix,
  launchChromium,
  prepareRunDir,
  startCodeServer,
  workbenchUrl,
} from './codeServer.mjs';

/** How long one step may take (NITRO_UI_STEP_MS): a deadline for a state to show, not a time to wait. */
const STEP_MS = Number(process.env.NITRO_UI_STEP_MS) || 180_000;

/** One deadline: `timeout()` is what is left of it (for Playwright's waits), `expired()` says it passed. */
function deadline(ms = STEP_MS) {
  const end = Date.now() + ms;
  return { timeout: () => Math.max(1, end - Date.now()), expired: () => Date.now() >= end };
}

const results = [];
/** Runs one step with its own deadline (handed to `fn`); records and prints whether it passed. */
async function check(name, fn, ms = STEP_MS) {
  try {
    await fn(deadline(ms));
    results.push({ name, ok: true });
    console.log(`  ✔ ${name}`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`  ✘ ${name}\n      ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
  }
}

/**
 * Repeats the idempotent `act` until `settled(ms)` (a wait for what the page shows) succeeds, each
 * round waiting longer, within `step`'s deadline. For actions the page may miss while it is busy: a
 * key press before the workbench has focus, a click on a webview still loading, a refresh.
 */
async function untilSettled(step, act, settled) {
  for (let round = 10_000; ; round = Math.min(round * 2, 60_000)) {
    await act();
    try {
      return await settled(Math.min(round, step.timeout()));
    } catch (e) {
      if (step.expired()) throw e;
    }
  }
}

/**
 * Before a screenshot: the mouse at (x, y), no hover tooltip left on screen, a frame drawn. Only
 * looks: never fails a step.
 */
async function settle(page, x, y) {
  await page.mouse.move(x, y);
  await page
    .locator('.workbench-hover-container, .monaco-hover:not(.hidden)')
    .first()
    .waitFor({ state: 'hidden', timeout: 10_000 })
    .catch(() => undefined);
  await page
    .evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))))
    .catch(() => undefined);
}

async function screenshot(page, name) {
  await page.screenshot({ path: path.join(shots, name) });
  console.log(`  screenshot: ${path.relative(process.cwd(), path.join(shots, name))}`);
}

/** Opens `name` from Quick Open (Ctrl+P), pressed again until the list shows it; waits for its tab. */
async function quickOpen(page, step, name) {
  const input = page.locator('.quick-input-widget input');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first();
  await untilSettled(
    step,
    async () => {
      await page.keyboard.press('Escape');
      await page.keyboard.press('Control+P');
    },
    async (ms) => {
      await input.waitFor({ timeout: ms });
      await input.fill(name);
      await row.waitFor({ timeout: ms });
    },
  );
  await page.keyboard.press('Enter');
  await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: step.timeout() });
}

/** Opens the Nitro Enclaves container on `page` and checks what it shows; saves a screenshot. */
async function checkContainer(page, shot) {
  const icon = page.locator('.activitybar .action-item .action-label[aria-label^="Nitro Enclaves"]').first();
  await check('the activity bar shows the Nitro Enclaves icon', (step) => icon.waitFor({ timeout: step.timeout() }));
  const header = (title) => page.locator('.pane-header', { has: page.locator('h3.title', { hasText: title }) }).first();
  await check('the container shows the "Parent Instances" view', (step) =>
    untilSettled(
      step,
      // A click on the icon of the container already shown would close it: click only while it is not.
      async () => (await header('Parent Instances').isVisible()) || (await icon.click({ timeout: step.timeout() })),
      (ms) => header('Parent Instances').waitFor({ timeout: ms }),
    ),
  );
  await check('the container shows the "Enclave Images" view', (step) =>
    header('Enclave Images').waitFor({ timeout: step.timeout() }),
  );
  await check(
    'the emulated parent node is visible with its name and instance id, and shows its enclave pool',
    async (step) => {
      const row = page.locator('.monaco-list-row', { hasText: 'Emulated parent' }).first();
      await row.waitFor({ timeout: step.timeout() });
      const text = await row.textContent();
      if (!/i-[0-9a-f]{17}/.test(text ?? '')) throw new Error(`row reads "${text}"`);
      await page.locator('.monaco-list-row', { hasText: 'Enclave pool' }).first().waitFor({ timeout: step.timeout() });
    },
  );
  await check('Enclave Images lists demo/images/hello.eif', (step) =>
    page
      .locator('.pane', { has: header('Enclave Images') })
      .locator('.monaco-list-row', { hasText: 'hello.eif' })
      .first()
      .waitFor({ timeout: step.timeout() }),
  );
  await settle(page, 800, 600); // away from the activity bar, so no hover tooltip covers the view
  await screenshot(page, shot);
}

/** Runs `nitro-dev` (the project's CLI bundle) with this run's emulator state; returns its parsed JSON output. */
function nitroDev(args) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/cli.js'), ...args], {
    encoding: 'utf8',
    env: process.env,
    timeout: STEP_MS,
  });
  if (r.status !== 0) throw new Error(`nitro-dev ${args.join(' ')} failed (exit ${r.status}): ${r.stderr || r.stdout}`);
  return JSON.parse(r.stdout);
}

/**
 * Runs demo/images/hello.eif on the emulated parent through the CLI (the same state as the
 * workbench's), checks that the Parent Instances view shows the enclave with its CID, and saves
 * test-results/parents-running-enclave.png; terminates it afterwards.
 */
async function checkRunningEnclave(page) {
  let run;
  try {
    await check('an enclave started with `nitro-dev run-enclave` appears under the emulated parent', async (step) => {
      // The view shows the parent (checkContainer) before the enclave starts: the extension is active.
      run = nitroDev([
        'run-enclave',
        '--eif-path',
        path.join(workspace, 'images', 'hello.eif'),
        '--memory',
        '128',
        '--cpu-count',
        '2',
        '--enclave-name',
        'hello',
      ]);
      const row = page.locator('.monaco-list-row', { hasText: `CID ${run.EnclaveCID}` }).first();
      let first = true;
      await untilSettled(
        step,
        async () => {
          // The view redraws on the emulator's change events; if none reached it, the refresh button does.
          if (first) return void (first = false);
          await page
            .locator('.pane-header', { hasText: 'Parent Instances' })
            .first()
            .hover({ timeout: step.timeout() });
          await page
            .locator('.pane-header .action-label[aria-label="Refresh Parent Instances"]')
            .first()
            .click({ timeout: step.timeout() });
        },
        (ms) => row.waitFor({ timeout: ms }),
      );
      const text = await row.textContent();
      if (!text?.includes('hello') || !text.includes('2 CPUs') || !text.includes('128 MiB'))
        throw new Error(`row reads "${text}"`);
      await page.locator('.monaco-list-row', { hasText: 'CPUs 2/4' }).first().waitFor({ timeout: step.timeout() });
    });
    await settle(page, 800, 600);
    await screenshot(page, 'parents-running-enclave.png');
  } finally {
    if (run) nitroDev(['terminate-enclave', '--enclave-id', run.EnclaveID]);
  }
}

/**
 * Start Local KMS from the Command Palette: the emulated parent shows the Local KMS on 127.0.0.1 and
 * its vsock-proxy from port 8000; saves test-results/parents-kms.png, then stops it.
 */
async function checkLocalKms(page) {
  await check(
    'Start Local KMS shows the Local KMS and its vsock-proxy on port 8000 under the emulated parent',
    async (step) => {
      await runCommand(page, step, 'Nitro Enclaves: Start Local KMS');
      const kms = page.locator('.monaco-list-row', { hasText: 'Local KMS' }).filter({ hasText: '127.0.0.1:' }).first();
      await kms.waitFor({ timeout: step.timeout() });
      const text = await kms.textContent();
      if (!text?.includes('vsock port 8000')) throw new Error(`the Local KMS row reads "${text}"`);
      await page
        .locator('.monaco-list-row', { hasText: /vsock-proxy 8000 → 127\.0\.0\.1:\d+/ })
        .first()
        .waitFor({ timeout: step.timeout() });
    },
  );
  await settle(page, 800, 600);
  await screenshot(page, 'parents-kms.png');
  await check('Stop Local KMS shows it stopped, without its proxy', async (step) => {
    await runCommand(page, step, 'Nitro Enclaves: Stop Local KMS');
    await page
      .locator('.monaco-list-row', { hasText: 'Local KMS' })
      .filter({ hasText: 'stopped' })
      .first()
      .waitFor({ timeout: step.timeout() });
    const proxies = await page.locator('.monaco-list-row', { hasText: 'vsock-proxy 8000' }).count();
    if (proxies !== 0) throw new Error('the KMS vsock-proxy row is still shown');
  });
}

/** The SSH parent's name in the settings, and the Host alias whose port nobody listens on. */
const SSH_PARENT = 'Parent over SSH';
const UNREACHABLE_HOST = 'unreachable-parent';

/**
 * Real parents for the run, in `dir`: the test sshd of the extension-host tests (test/unit/sshd.ts,
 * built by `node esbuild.config.mjs --tests`, which `npm test` runs first) whose sessions run the
 * stand-in nitro-cli (test/fixtures/nitro-cli) on a parent state seeded with two running enclaves,
 * and an ssh configuration with that Host and one whose port is closed. Returns the user settings
 * that name both, what the view should show, and stop() (which ends sshd).
 */
async function startSshParents(dir) {
  const harness = path.join(ROOT, 'dist/test/harness/sshd.js');
  let startSshd;
  let writeConfigWithClosedHost;
  try {
    ({ startSshd, writeConfigWithClosedHost } = await import(pathToFileURL(harness).href));
  } catch (e) {
    throw new Error(
      `cannot load the test sshd from ${path.relative(ROOT, harness)} (built by \`node esbuild.config.mjs --tests\`, ` +
        `which \`npm test -- ui\` runs first): ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
  const standIn = path.join(ROOT, 'test/fixtures/nitro-cli/nitro-cli');
  if (!/^[A-Za-z0-9_./+][A-Za-z0-9_./+-]*$/.test(standIn))
    throw new Error(`the checkout's path is not one the nitroCliPath setting takes: ${standIn}`);
  // The stand-in's parent: a pool of CPUs 1,3,5,7 and 2048 MiB of huge pages.
  const root = path.join(dir, 'ssh-parent');
  const put = (rel, text) => {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
  };
  put('sys/module/nitro_enclaves/parameters/ne_cpus', '1,3,5,7\n');
  put('sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages', '1024\n');
  put('sys/devices/virtual/dmi/id/board_asset_tag', 'i-0fedcba9876543210\n');
  mkdirSync(path.join(root, 'run/nitro_enclaves'), { recursive: true });
  // CIDs of their own, so that no row of these enclaves reads like the emulated enclave's (CID 16 up).
  const enclaves = [
    { name: 'web-api', args: ['--memory', '512', '--cpu-count', '2', '--enclave-cid', '21'] },
    { name: 'signer-debug', args: ['--memory', '256', '--cpu-count', '2', '--enclave-cid', '22', '--debug-mode'] },
  ].map(({ name, args }) => {
    const r = spawnSync(
      process.execPath,
      [
        standIn,
        'run-enclave',
        '--eif-path',
        path.join(ROOT, 'test/fixtures/eif/synthetic-v4-unsigned.eif'),
        '--enclave-name',
        name,
        ...args,
      ],
      { encoding: 'utf8', env: { ...process.env, NITRO_CLI_STANDIN_ROOT: root }, timeout: STEP_MS },
    );
    if (r.status !== 0) throw new Error(`the stand-in's run-enclave failed: ${r.stderr || r.error?.message}`);
    return JSON.parse(r.stdout);
  });

  const sshd = await startSshd({ env: { NITRO_CLI_STANDIN_ROOT: root } });
  try {
    const configFile = path.join(dir, 'ssh_config');
    const closedPort = await writeConfigWithClosedHost(sshd, configFile, UNREACHABLE_HOST);
    return {
      host: sshd.host,
      closedPort,
      enclaves,
      settings: {
        'nitroEnclaves.ssh.configFile': configFile,
        'nitroEnclaves.ssh.connectTimeoutSeconds': 5,
        'nitroEnclaves.parents.sshHosts': [
          { host: sshd.host, nitroCliPath: standIn, name: SSH_PARENT },
          UNREACHABLE_HOST,
        ],
      },
      stop: () => sshd.stop(),
    };
  } catch (e) {
    await sshd.stop();
    throw e;
  }
}

/**
 * The Parent Instances view with real parents: the SSH parent expanded, with its pool and its two
 * enclaves as nitro-cli describes them there, and the host whose port is closed as an unreachable
 * parent saying why, in its description and (hovered) its tooltip. Saves test-results/parents-ssh.png
 * with that tooltip on screen.
 */
async function checkSshParents(page, ssh) {
  const pane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Parent Instances' }) });
  const rows = pane.locator('.monaco-list-row');
  const parent = rows.filter({ hasText: SSH_PARENT }).first();
  const unreachable = rows.filter({ hasText: UNREACHABLE_HOST }).filter({ hasText: 'unreachable:' }).first();
  await check('Parent Instances shows the SSH parent, expanded, with its pool and its enclaves', async (step) => {
    await parent.waitFor({ timeout: step.timeout() });
    const text = await parent.textContent();
    if (!text?.includes(`ssh:${ssh.host} · nitro-cli`)) throw new Error(`the parent row reads "${text}"`);
    if ((await parent.getAttribute('aria-expanded')) === 'false')
      await parent.locator('.monaco-tl-twistie').click({ timeout: step.timeout() });
    for (const e of ssh.enclaves) {
      const row = rows.filter({ hasText: e.EnclaveName }).first();
      await row.waitFor({ timeout: step.timeout() });
      const want = `CID ${e.EnclaveCID} · ${e.NumberOfCPUs} CPUs · ${e.MemoryMiB} MiB`;
      const got = await row.textContent();
      if (!got?.includes(want)) throw new Error(`the row of ${e.EnclaveName} reads "${got}", expected "${want}"`);
    }
    // What its enclaves take (describe-enclaves over ssh). The pool's totals are read from the
    // "remote's" /sys, which is this machine's (no driver, so none): not the stand-in's.
    await rows
      .filter({ hasText: 'Enclave pool' })
      .filter({ hasText: 'CPUs 4/' })
      .filter({ hasText: 'memory 768/' })
      .first()
      .waitFor({ timeout: step.timeout() });
  });
  await check(
    'Parent Instances shows the host whose port is closed as "unreachable: Connection refused"',
    async (step) => {
      await unreachable.waitFor({ timeout: step.timeout() });
      const text = await unreachable.textContent();
      if (!text?.includes('unreachable: Connection refused')) throw new Error(`the row reads "${text}"`);
      if ((await unreachable.locator('.codicon-debug-disconnect').count()) === 0)
        throw new Error('the row has no debug-disconnect icon');
      // The emulated parent first, then the parents of the settings in their order.
      const order = await rows.evaluateAll(
        (els, names) =>
          els
            .map((el) => ({ index: Number(el.getAttribute('data-index')), text: el.textContent ?? '' }))
            .sort((a, b) => a.index - b.index)
            .map((r) => names.findIndex((n) => r.text.includes(n)))
            .filter((i) => i >= 0),
        ['Emulated parent', SSH_PARENT, UNREACHABLE_HOST],
      );
      if (order.join() !== '0,1,2')
        throw new Error(`the parents are in the order ${order.join()} (0 emulated, 1 SSH, 2 unreachable)`);
    },
  );
  // At the side bar's default width the rows' descriptions are cut off: wider, as a person would drag it.
  let widened = 0;
  await check('dragged wider, the side bar shows the rows of the parents over SSH whole', async (step) => {
    widened = await dragSideBar(page, step, 300);
    for (const row of [parent, unreachable]) {
      const cut = await row
        .locator('.monaco-icon-label-container')
        .evaluate((el) => el.scrollWidth > el.clientWidth, null, { timeout: step.timeout() });
      if (cut) throw new Error(`the row "${await row.textContent()}" is cut off`);
    }
  });
  await check("hovering the unreachable parent shows ssh's reason in its tooltip", async (step) => {
    const hover = page
      .locator('.workbench-hover-container, .monaco-hover:not(.hidden)')
      .filter({ hasText: 'cannot be reached' })
      .first();
    // The hover shows after the workbench's hover delay: moving away and back asks for it again.
    await untilSettled(
      step,
      async () => {
        await page.mouse.move(800, 600);
        await unreachable.hover({ timeout: step.timeout() });
      },
      (ms) => hover.waitFor({ timeout: ms }),
    );
    const want = `connect to host 127.0.0.1 port ${ssh.closedPort}: Connection refused`;
    const text = await hover.textContent();
    if (!text?.includes(want)) throw new Error(`the tooltip reads "${text}", expected it to include "${want}"`);
  });
  await page
    .evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))))
    .catch(() => undefined);
  await screenshot(page, 'parents-ssh.png');
  await settle(page, 1000, 600);
  if (widened !== 0)
    await check('the side bar is dragged back to its width', (step) => dragSideBar(page, step, -widened));
}

/**
 * Drags the side bar's edge to `dx` pixels from where it is (again, until its width shows it, within
 * `step`'s deadline: each drag goes to the same place); returns how much wider it got.
 */
async function dragSideBar(page, step, dx) {
  const sideBar = page.locator('.part.sidebar').first();
  const start = await sideBar.boundingBox({ timeout: step.timeout() });
  if (!start) throw new Error('the side bar is not on screen');
  const before = start.width;
  const to = start.x + before + dx - 1;
  await untilSettled(
    step,
    async () => {
      const box = await sideBar.boundingBox({ timeout: step.timeout() });
      if (!box) throw new Error('the side bar is not on screen');
      const x = box.x + box.width - 1; // on the sash over its edge
      const y = box.y + box.height / 2;
      await page.mouse.move(x, y);
      await page.mouse.down();
      await page.mouse.move((x + to) / 2, y, { steps: 5 });
      await page.mouse.move(to, y, { steps: 5 });
      await page.mouse.up();
    },
    (ms) =>
      page.waitForFunction(
        ({ width, dx }) => {
          const now = document.querySelector('.part.sidebar')?.getBoundingClientRect().width ?? width;
          return Math.abs(now - width - dx) < Math.abs(dx) / 2 && now;
        },
        { width: before, dx },
        { timeout: ms },
      ),
  );
  // Off the sash, so that it does not stay highlighted in the next screenshots.
  await page.mouse.move(1000, 600);
  await page
    .locator('.monaco-sash.hover, .monaco-sash.active')
    .first()
    .waitFor({ state: 'detached', timeout: 10_000 })
    .catch(() => undefined);
  return ((await sideBar.boundingBox({ timeout: step.timeout() }))?.width ?? before) - before;
}

/**
 * Opens demo/images/hello.eif (a copy of the signed test fixture) from Quick Open, as a person
 * would, and checks what the Enclave Image Viewer shows; saves test-results/eif-viewer.png.
 */
async function checkEifViewer(page) {
  const expected = JSON.parse(
    readFileSync(path.join(ROOT, 'test/fixtures/eif/synthetic-v4-signed.expected.json'), 'utf8'),
  );
  await check('Quick Open opens hello.eif in the Enclave Image Viewer', (step) => quickOpen(page, step, 'hello.eif'));
  // A webview is two nested iframes: the host frame, then the page itself.
  const view = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
  await check('the viewer shows PCR0 of hello.eif as the fixture expects', async (step) => {
    const value = view.locator('tr[data-pcr="PCR0"] .pcr-value');
    await value.waitFor({ timeout: step.timeout() });
    const text = (await value.textContent())?.trim();
    if (text !== expected.PCR0) throw new Error(`PCR0 reads "${text}", expected ${expected.PCR0}`);
    const pcrs = await view.locator('tr[data-pcr]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-pcr')));
    if (pcrs.join() !== 'PCR0,PCR1,PCR2,PCR8') throw new Error(`PCR rows: ${pcrs.join()}`);
  });
  await check('the viewer shows the signature check as passed', async (step) => {
    await view.locator('.check.pass', { hasText: 'Signature check passed' }).waitFor({ timeout: step.timeout() });
    await view
      .locator('#card-signature .check.pass', { hasText: 'COSE signature is valid' })
      .waitFor({ timeout: step.timeout() });
    const failed = await view.locator('.check.fail').count();
    if (failed > 0) throw new Error(`${failed} check(s) shown as failed`);
  });
  await check('the viewer offers Run, Sign and KMS Policy in its title bar', async (step) => {
    for (const id of ['run', 'sign', 'kms-policy'])
      await view.locator(`header.titlebar #${id}:not([disabled])`).waitFor({ timeout: step.timeout() });
  });
  await settle(page, 150, 700); // over the side bar, so no row of the viewer shows its hover colour
  await screenshot(page, 'eif-viewer.png');
  await check('the copy button of PCR0 copies it and says so in the status bar', (step) =>
    // The status bar message shows for 3 s: copying again is harmless if the page was too busy to show it.
    untilSettled(
      step,
      () => view.locator('tr[data-pcr="PCR0"] button[aria-label="Copy PCR0"]').click({ timeout: step.timeout() }),
      (ms) => page.locator('.statusbar', { hasText: 'Copied PCR0' }).waitFor({ timeout: ms }),
    ),
  );
  const described = 'hello.eif.describe.json';
  await check(
    '"Describe as JSON" opens describe-eif\'s JSON in a read-only editor, which closes without asking to save',
    async (step) => {
      // Describing again shows the same document: the click is repeated if the webview missed it.
      await untilSettled(
        step,
        () => view.locator('#describe').click({ timeout: step.timeout() }),
        (ms) => page.locator('.tabs-container .tab.active', { hasText: described }).waitFor({ timeout: ms }),
      );
      await page
        .locator('.monaco-editor .view-lines', { hasText: '"EifVersion": 4' })
        .first()
        .waitFor({ timeout: step.timeout() });
      if ((await page.locator('.tabs-container .tab', { hasText: 'Untitled' }).count()) > 0)
        throw new Error('an "Untitled" editor is open');
      await runCommand(page, step, 'View: Close Editor');
      // The tab goes away, or a dialog asks to save it: whichever the page shows first.
      const dialog = page.locator('.monaco-dialog-box').first();
      const closed = page
        .locator('.tabs-container .tab', { hasText: described })
        .first()
        .waitFor({ state: 'detached', timeout: step.timeout() });
      const asked = dialog.waitFor({ timeout: step.timeout() });
      for (const p of [closed, asked]) p.catch(() => undefined); // the wait that loses the race ends on its own
      await Promise.race([closed, asked]);
      if (await dialog.isVisible()) {
        const text = (await dialog.textContent())?.trim();
        await page.keyboard.press('Escape');
        throw new Error(`closing ${described} asked: ${text}`);
      }
    },
  );
}

/** `2022-10-13 11:58:02 UTC` (how the viewer writes times), from expected.json's OpenSSL form. */
function utcText(openssl) {
  const iso = new Date(openssl.replace(/\s+/g, ' ')).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${iso.slice(19, 23) === '.000' ? '' : iso.slice(19, 23)} UTC`;
}

/**
 * Opens demo/attestation/evervault-prod.att.cbor (a copy of a real document from Nitro hardware) from
 * Quick Open, checks that the Attestation Document Viewer says it is invalid now (its signing
 * certificate expired) and valid once its time selector is switched to the document's own time;
 * saves test-results/attestation-viewer.png.
 */
async function checkAttestationViewer(page) {
  const expected = JSON.parse(
    readFileSync(path.join(ROOT, 'test/fixtures/attestation/expected.json'), 'utf8'),
  ).documents.find((d) => d.file === 'evervault-2022-10-13-prod.cbor');
  const name = 'evervault-prod.att.cbor';
  await check('"View: Join All Editor Groups" gives the next editor the whole editor area', async (step) => {
    await runCommand(page, step, 'View: Join All Editor Groups');
    await page.waitForFunction(() => document.querySelectorAll('.editor-group-container').length === 1, null, {
      timeout: step.timeout(),
    });
  });
  await check('Quick Open opens evervault-prod.att.cbor in the Attestation Document Viewer', (step) =>
    quickOpen(page, step, name),
  );
  // The Enclave Image Viewer's webview is still in the page, so find the frame that holds this viewer's page.
  let view;
  await check("the Attestation Document Viewer's page loads in its webview", async (step) => {
    view = await attestationFrame(page, name, step);
  });
  if (!view) return;
  const headline = view.locator('#verdict .verdict-headline');
  await check('the verdict says it is invalid now, because its signing certificate expired', async (step) => {
    await view.locator('#verdict[data-valid="false"]').waitFor({ timeout: step.timeout() });
    const text = (await headline.textContent())?.trim();
    const want = `Invalid now: its signing certificate expired at ${utcText(expected.leaf_not_after)}.`;
    if (text !== want) throw new Error(`the verdict reads "${text}", expected "${want}"`);
    if ((await view.locator('#time-now').getAttribute('aria-pressed')) !== 'true')
      throw new Error('the time selector does not show "Now"');
  });
  await check('switched to "Document time" in the webview, the verdict says it is valid', async (step) => {
    // Choosing "Document time" again is harmless: the click is repeated if the page missed it.
    await untilSettled(
      step,
      () => view.locator('#time-document').click({ timeout: step.timeout() }),
      (ms) => view.locator('#verdict[data-valid="true"]').waitFor({ timeout: ms }),
    );
    const text = (await headline.textContent())?.trim();
    if (text !== 'Valid at document time.') throw new Error(`the verdict reads "${text}"`);
    if ((await view.locator('#time-document').getAttribute('aria-pressed')) !== 'true')
      throw new Error('the time selector does not show "Document time"');
    const failed = await view.locator('.check.fail').count();
    if (failed > 0) throw new Error(`${failed} check(s) shown as failed`);
  });
  await check("the viewer shows the document's PCR0 and module ID", async () => {
    const pcr0 = (await view.locator('tr[data-pcr="PCR0"] .pcr-value').textContent())?.trim();
    if (pcr0 !== expected.pcrs['0']) throw new Error(`PCR0 reads "${pcr0}", expected ${expected.pcrs['0']}`);
    const moduleId = (await view.locator('.field-module').textContent())?.trim();
    if (moduleId !== expected.module_id) throw new Error(`module ID reads "${moduleId}"`);
  });
  await check('the viewer offers Save and Copy as Base64 in its title bar', async (step) => {
    for (const id of ['save', 'copy-base64'])
      await view.locator(`header.titlebar #${id}`).waitFor({ timeout: step.timeout() });
  });
  await settle(page, 150, 700); // over the side bar, so no row of the viewer shows its hover colour
  await screenshot(page, 'attestation-viewer.png');
  await check('the copy button of the module ID copies it through the host and says so in the status bar', (step) =>
    untilSettled(
      step,
      () => view.locator('button[aria-label="Copy module ID"]').click({ timeout: step.timeout() }),
      (ms) => page.locator('.statusbar', { hasText: 'Copied module ID' }).waitFor({ timeout: ms }),
    ),
  );
  await checkKmsInAttestationViewer(page, view, expected);
  await checkAttestationPanel(page);
}

/**
 * The KMS parts of the Attestation Document Viewer on screen: PCR0's key button copies its
 * ImageSha384 condition through the host, and "Would KMS release this key?" answers ALLOW for a
 * pasted policy that pins the document's PCR0; saves test-results/attestation-kms.png.
 */
async function checkKmsInAttestationViewer(page, view, expected) {
  await check("PCR0's key button copies its KMS condition and says so in the status bar", (step) =>
    untilSettled(
      step,
      () =>
        view
          .locator('button[aria-label="Copy KMS condition for PCR0 (kms:RecipientAttestation:ImageSha384)"]')
          .click({ timeout: step.timeout() }),
      (ms) => page.locator('.statusbar', { hasText: 'Copied the KMS condition for PCR0' }).waitFor({ timeout: ms }),
    ),
  );
  const policy = JSON.stringify(
    {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'Enclave',
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::123456789012:role/parent' },
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': expected.pcrs['0'] } },
        },
      ],
    },
    null,
    2,
  );
  await check('"Would KMS release this key?" answers ALLOW for a pasted policy pinning PCR0', async (step) => {
    await view.locator('#kms-policy').fill(policy, { timeout: step.timeout() });
    await view.locator('#kms-principal').fill('arn:aws:iam::123456789012:role/parent', { timeout: step.timeout() });
    await untilSettled(
      step,
      () => view.locator('#kms-evaluate').click({ timeout: step.timeout() }),
      (ms) => view.locator('#kms-decision[data-decision="allow"]').waitFor({ timeout: ms }),
    );
    const headline = (await view.locator('#kms-decision .dry-headline').textContent())?.trim() ?? '';
    if (!headline.startsWith('ALLOW KMS would release the key: kms:Decrypt'))
      throw new Error(`the answer reads "${headline}"`);
    await view.locator('#card-kms').scrollIntoViewIfNeeded({ timeout: step.timeout() });
  });
  await settle(page, 150, 700);
  await screenshot(page, 'attestation-kms.png');
}

/**
 * Builds an enclave image the two ways a person would: "Build Enclave Image..." opens its
 * quick-input flow (checked, then dismissed), and the demo's `nitro-eif` task from tasks.json runs
 * from "Tasks: Run Task"; the image it builds appears in Enclave Images.
 */
async function checkBuild(page) {
  await check('"Build Enclave Image..." asks where the image comes from', async (step) => {
    await runCommand(page, step, 'Nitro Enclaves: Build Enclave Image...');
    const list = page.locator('.quick-input-widget');
    await list
      .locator('.quick-input-title', { hasText: 'Build Enclave Image (1/4)' })
      .waitFor({ timeout: step.timeout() });
    for (const item of ['OCI image layout', 'Image archive', 'Docker image']) {
      await list.locator('.monaco-list-row', { hasText: item }).first().waitFor({ timeout: step.timeout() });
    }
    await settle(page, 800, 600);
    await screenshot(page, 'build-flow.png');
    await page.keyboard.press('Escape');
  });
  await check(
    'the demo\'s nitro-eif task runs from "Tasks: Run Task" and its image appears in Enclave Images',
    async (step) => {
      await runCommand(page, step, 'Tasks: Run Task');
      const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'build the fixture image' }).first();
      await row.waitFor({ timeout: step.timeout() }).catch(async (e) => {
        await page.screenshot({ path: path.join(shots, 'build-task-failure.png') });
        throw e;
      });
      await row.click({ timeout: step.timeout() });
      // VS Code may ask how to scan the task's output (continue without scanning), or run the task at
      // once: wait for whichever the page shows, then for the image.
      const scan = page
        .locator('.quick-input-list .monaco-list-row', { hasText: 'Continue without scanning the task output' })
        .first();
      const image = page
        .locator('.pane', { has: page.locator('.pane-header', { hasText: 'Enclave Images' }) })
        .locator('.monaco-list-row', { hasText: 'fixture-v1.eif' })
        .first();
      await scan.or(image).first().waitFor({ timeout: step.timeout() });
      if (await scan.isVisible()) await scan.click({ timeout: step.timeout() });
      await image.waitFor({ timeout: step.timeout() });
      await settle(page, 800, 600);
      await screenshot(page, 'build-task.png');
    },
    2 * STEP_MS,
  );
}

/**
 * Welcome: Open Walkthrough... → "Getting Started with Nitro Enclaves": its six steps are listed; the
 * "See its PCRs" step's button "Show Enclave Images" runs its command (the Enclave Images view
 * shows) and the step is ticked; then every step's picture and buttons are shown in turn.
 */
async function checkWalkthrough(page) {
  await check(
    'the Getting Started walkthrough lists its six steps, and a step button runs its command and ticks the step',
    async (step) => {
      try {
        await walkThrough(page, step);
      } catch (e) {
        await screenshot(page, 'walkthrough-failure.png').catch(() => undefined);
        throw e;
      }
    },
  );
}

/** The walkthrough part of checkWalkthrough; each wait says what it waited for. */
async function walkThrough(page, step) {
  const waitFor = (what, locator) =>
    locator.waitFor({ timeout: step.timeout() }).catch((e) => {
      throw new Error(`${what}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    });
  await runCommand(page, step, 'Welcome: Open Walkthrough...');
  const row = page
    .locator('.quick-input-list .monaco-list-row', { hasText: 'Getting Started with Nitro Enclaves' })
    .first();
  await waitFor('the walkthrough in the quick pick', row);
  await row.click({ timeout: step.timeout() });
  await waitFor(
    "the walkthrough's title",
    page
      .locator('.gettingStartedSlideDetails .category-title', { hasText: 'Getting Started with Nitro Enclaves' })
      .first(),
  );
  const steps = page.locator('.gettingStartedSlideDetails button.getting-started-step');
  const titles = (await steps.locator('.step-title').allTextContents()).map((t) => t.trim());
  const expected = [
    'Open the demo or a folder',
    'Build an image',
    'See its PCRs',
    'Run it on the emulator',
    'Get an attestation document',
    'Compare it with the image',
  ];
  if (JSON.stringify(titles) !== JSON.stringify(expected))
    throw new Error(`the walkthrough lists ${JSON.stringify(titles)}`);
  // Each step, selected, shows its buttons and its picture.
  for (const title of expected) {
    const item = steps.filter({ hasText: title }).first();
    await item.click({ timeout: step.timeout() });
    await waitFor(`the buttons of "${title}"`, item.locator('.button-container .monaco-button').first());
    await waitFor(
      `the picture of "${title}"`,
      page.locator('.gettingStartedSlideDetails .getting-started-media').first(),
    );
  }
  const pcrs = steps.filter({ hasText: 'See its PCRs' }).first();
  await pcrs.click({ timeout: step.timeout() });
  await pcrs
    .locator('.button-container .monaco-button', { hasText: 'Show Enclave Images' })
    .first()
    .click({ timeout: step.timeout() });
  await waitFor(
    'the Enclave Images view',
    page.locator('.pane-header[aria-expanded="true"]', { hasText: 'Enclave Images' }).first(),
  );
  await waitFor(
    'the "See its PCRs" step ticked',
    page
      .locator('.gettingStartedSlideDetails button.getting-started-step[aria-checked="true"]', {
        hasText: 'See its PCRs',
      })
      .first(),
  );
  // The step's picture is an SVG that VS Code puts into a webview: wait until that webview holds it
  // (a screenshot taken before shows the webview's empty black box).
  await waitFor(
    'the picture of "See its PCRs" drawn in its webview',
    page
      .frameLocator('.gettingStartedSlideDetails .getting-started-media iframe.webview.ready')
      .frameLocator('#active-frame')
      .locator('svg[aria-label]')
      .first(),
  );
  await settle(page, 5, 5);
  await screenshot(page, 'walkthrough.png');
}

/** Runs a command from the command palette by its title (F1 pressed again until the palette lists it). */
async function runCommand(page, step, title) {
  const input = page.locator('.quick-input-widget input');
  // The row whose label is exactly the title (fuzzy matching may rank another command first).
  const exact = new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  const row = page
    .locator('.quick-input-list .monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: exact }) })
    .first();
  await untilSettled(
    step,
    async () => {
      await page.keyboard.press('Escape');
      await page.keyboard.press('F1');
    },
    async (ms) => {
      await input.waitFor({ timeout: ms });
      await input.fill(`>${title}`);
      await row.waitFor({ timeout: ms });
    },
  );
  await row.click({ timeout: step.timeout() });
}

/** The frame of the attestation viewer of `label` (its page names the document in its title bar). */
async function attestationFrame(page, label, step) {
  for (;;) {
    for (const frame of page.frames()) {
      const title = await frame
        .locator('.titlebar h1')
        .first()
        .textContent({ timeout: 200 })
        .catch(() => undefined);
      if (
        title?.trim() === label &&
        (await frame
          .locator('#timebar')
          .count()
          .catch(() => 0))
      )
        return frame;
    }
    if (step.expired()) throw new Error(`no webview shows the attestation panel of ${label}`);
    await page.waitForTimeout(250); // the next look at the frames (a poll, not a wait for time)
  }
}

/**
 * "Open Attestation Document from Clipboard" with a document as base64 text opens a panel; after
 * "Developer: Reload Window" the panel serializer restores it from the base64 its webview kept.
 */
async function checkAttestationPanel(page) {
  const expected = JSON.parse(
    readFileSync(path.join(ROOT, 'test/fixtures/attestation/expected.json'), 'utf8'),
  ).documents.find((d) => d.file === 'base-2024-11-30.cbor');
  const base64 = readFileSync(path.join(ROOT, 'test/fixtures/attestation', expected.file)).toString('base64');
  const want = `Invalid now: its signing certificate expired at ${utcText(expected.leaf_not_after)}.`;
  const verdictOf = async (frame, step) => {
    await frame.locator('#verdict').waitFor({ timeout: step.timeout() });
    return (await frame.locator('#verdict .verdict-headline').textContent())?.trim();
  };
  await check(
    '"Open Attestation Document from Clipboard" opens a panel for a document copied as base64',
    async (step) => {
      await page.evaluate((text) => navigator.clipboard.writeText(text), base64);
      await runCommand(page, step, 'Nitro Enclaves: Open Attestation Document from Clipboard');
      await page
        .locator('.tabs-container .tab.active', { hasText: 'Attestation: Clipboard' })
        .waitFor({ timeout: step.timeout() });
      const frame = await attestationFrame(page, 'Clipboard', step);
      const text = await verdictOf(frame, step);
      if (text !== want) throw new Error(`the verdict reads "${text}", expected "${want}"`);
      const moduleId = (await frame.locator('.field-module').textContent())?.trim();
      if (moduleId !== expected.module_id) throw new Error(`module ID reads "${moduleId}"`);
    },
  );
  await check('after "Developer: Reload Window" the panel is restored with the same document', async (step) => {
    // The webview hands its state to the workbench in a message the page does not show; the panel
    // set it when it loaded the document, before the verdict was drawn. A moment for that message.
    await page.waitForTimeout(1000);
    await runCommand(page, step, 'Developer: Reload Window');
    await page.waitForLoadState('load', { timeout: step.timeout() });
    await page.locator('.monaco-workbench .activitybar').waitFor({ timeout: step.timeout() });
    await page
      .locator('.tabs-container .tab', { hasText: 'Attestation: Clipboard' })
      .first()
      .waitFor({ timeout: step.timeout() });
    const frame = await attestationFrame(page, 'Clipboard', step);
    const text = await verdictOf(frame, step);
    if (text !== want) throw new Error(`the restored panel's verdict reads "${text}"`);
    const moduleId = (await frame.locator('.field-module').textContent())?.trim();
    if (moduleId !== expected.module_id) throw new Error(`the restored panel's module ID reads "${moduleId}"`);
  });
}

/** Process group ids of processes whose command line contains `needle`. */
function groupsOf(needle) {
  const ps = spawnSync('ps', ['-eo', 'pgid=,args='], { encoding: 'utf8' }).stdout;
  return new Set(
    ps
      .split('\n')
      .filter((l) => l.includes(needle))
      .map((l) => Number(l.trim().split(/\s+/)[0])),
  );
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
      // A deadline for the URL to show, not a wait: npm start builds and starts code-server first.
      const timer = setTimeout(
        () => reject(new Error(`npm start printed no URL within ${(2 * STEP_MS) / 1000} s:\n${output}`)),
        2 * STEP_MS,
      );
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
    await page.locator('.monaco-workbench .activitybar').waitFor({ timeout: STEP_MS });
    await checkContainer(page, 'npm-start.png');
    await page.close();
    const groups = groupsOf(profile);
    await check('Ctrl-C stops npm start and every process it started', async (step) => {
      if (groups.size === 0) throw new Error('found no code-server process for the run');
      const exited = new Promise((resolve) => start.on('exit', resolve));
      start.kill('SIGINT');
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), step.timeout()))]);
      if (code !== 0) throw new Error(`npm start did not exit cleanly on SIGINT: ${code}`);
      const left = [...groups].filter(groupAlive);
      if (left.length > 0) throw new Error(`processes left in group(s) ${left.join(', ')}`);
    });
  } finally {
    start.kill('SIGKILL');
    for (const g of groupsOf(profile)) {
      try {
        process.kill(-g, 'SIGKILL');
      } catch {
        // The group has already exited.
      }
    }
    rmSync(profile, { recursive: true, force: true });
  }
}

const shots = path.join(ROOT, 'test-results');
mkdirSync(shots, { recursive: true });
ensureCodeServer();
const workspace = path.join(mkdtempSync(path.join(os.tmpdir(), 'nitro-ui-')), 'demo');
// The embedded emulator's parents and enclaves for this run only (the workbench and the CLI share them).
process.env.NITRO_DEV_STATE_DIR = path.join(path.dirname(workspace), 'emulator-state');
cpSync(path.join(ROOT, 'demo'), workspace, { recursive: true });
// The demo's build task takes the OCI test image and the synthetic blobs from ../test/fixtures.
for (const f of ['oci/layout', 'blobs'])
  cpSync(path.join(ROOT, 'test/fixtures', f), path.join(path.dirname(workspace), 'test/fixtures', f), {
    recursive: true,
  });
let run;
let sshParents;
let server;
let browser;
let page;
console.log('UI smoke test (packaged extension in code-server, headless Chromium)');
try {
  // Before code-server starts: the user settings name the SSH parents.
  sshParents = await startSshParents(path.dirname(workspace));
  run = prepareRunDir(undefined, sshParents.settings);
  const vsix = packageVsix(path.join(run.dir, 'nitro-enclaves.vsix'));
  await check('the .vsix holds the bundles, media and docs only (the .vscodeignore allowlist)', () => {
    const files = vsixFiles();
    const allowed =
      /^(dist\/(extension|cli|enclave-host|dev-attestation|local-kms|image-build|doctor|yaml|cbor-x)\.js|dist\/webview\/[\w-]+\.js|media\/.+|docs\/screenshots\/[\w-]+\.png|package\.json|package\.nls\.json|l10n\/bundle\.l10n(\.[\w-]+)?\.json|README\.md|CHANGELOG\.md|LICENSE)$/;
    const extra = files.filter((f) => !allowed.test(f));
    if (extra.length > 0) throw new Error(`unexpected files: ${extra.join(', ')}`);
    for (const f of [
      'dist/extension.js',
      'dist/cli.js',
      'dist/enclave-host.js',
      'dist/dev-attestation.js',
      'dist/local-kms.js',
      'dist/image-build.js',
      'dist/doctor.js',
      'dist/yaml.js',
      'dist/cbor-x.js',
      'package.json',
      'package.nls.json',
      'l10n/bundle.l10n.json',
      'LICENSE',
    ])
      if (!files.includes(f)) throw new Error(`missing ${f}`);
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
  await page.locator('.monaco-workbench .activitybar').waitFor({ timeout: STEP_MS });

  await checkContainer(page, 'ui-smoke.png');
  await checkRunningEnclave(page);
  await checkLocalKms(page);
  await checkSshParents(page, sshParents);
  await checkEifViewer(page);
  await checkAttestationViewer(page);
  await checkBuild(page);
  await checkWalkthrough(page);
  await server.stop();
  server = undefined;
  await checkNpmStart(browser);
} catch (e) {
  results.push({ name: 'the smoke run completes', ok: false });
  console.log(`  ✘ the smoke run completes\n      ${e instanceof Error ? e.message : String(e)}`);
  await page?.screenshot({ path: path.join(shots, 'ui-smoke-failure.png') }).catch(() => undefined);
} finally {
  await browser?.close();
  await server?.stop();
  await sshParents?.stop();
  if (run && !process.env.KEEP_RUN) rmSync(run.dir, { recursive: true, force: true });
  rmSync(path.dirname(workspace), { recursive: true, force: true });
}
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log(`ui smoke: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
