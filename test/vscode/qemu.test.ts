import * as assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { FakeBackend } from './fakeBackend';
import { eventually, failuresOf } from './util';
import type { NitroEnclavesApi } from '../../src/extension/extension';
import { COMMANDS, EXTENSION_ID, SETTINGS } from '../../src/extension/ids';
import type { EnclaveNode, ParentNode } from '../../src/extension/tree/parentsTree';

type ParentRoot = Extract<ParentNode, { kind: 'parent' }>;
type SetupRoot = Extract<ParentNode, { kind: 'qemuSetup' }>;

/**
 * Stands in for `nitro-dev qemu setup` (no QEMU is built here): puts a QEMU that has the
 * nitro-enclave machine, vhost-device-vsock and the parent VM's files where the settings point.
 */
const FAKE_SETUP = `
const fs = require('node:fs');
const path = require('node:path');
const [qemu, vsock, cache] = process.argv.slice(1, 4);
console.log('Building QEMU 100%');
const put = (file, text, mode) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode });
};
put(qemu, '#!/bin/sh\\ncase "$1" in --version) echo "QEMU emulator version 9.2.0";; ' +
  '-M) echo "Supported machines are:"; echo "nitro-enclave        AWS Nitro Enclave";; esac\\n', 0o755);
put(vsock, '#!/bin/sh\\n', 0o755);
put(path.join(cache, 'kernel', 'bzImage'), 'kernel', 0o644);
put(path.join(cache, 'guest', 'relay.cpio'), 'relay', 0o644);
console.log('QEMU tools ready in ' + cache);
`;

describe('The QEMU backend in VS Code (settings, what it lacks, Set Up QEMU Backend...)', function () {
  this.timeout(180_000);
  let api: NitroEnclavesApi;
  let dir: string;
  const config = () => vscode.workspace.getConfiguration();
  const update = (name: string, value: unknown) => config().update(name, value, vscode.ConfigurationTarget.Global);
  const qemuStateFile = () => path.join(process.env.NITRO_DEV_STATE_DIR ?? '', 'qemu', 'parents.json');

  async function roots(): Promise<ParentNode[]> {
    return api.parents.getChildren();
  }
  const qemuParent = async () =>
    (await roots()).find((r): r is ParentRoot => r.kind === 'parent' && r.parent.backend === 'qemu');
  const setupNode = async () => (await roots()).find((r): r is SetupRoot => r.kind === 'qemuSetup');

  /** Points the tool settings into `folder` (nothing there yet). */
  async function toolsIn(folder: string): Promise<{ qemu: string; vsock: string; cache: string }> {
    const tools = {
      qemu: path.join(folder, 'bin', 'qemu-system-x86_64'),
      vsock: path.join(folder, 'bin', 'vhost-device-vsock'),
      cache: path.join(folder, 'cache'),
    };
    await fs.mkdir(folder, { recursive: true });
    await update(SETTINGS.qemuPath, tools.qemu);
    await update(SETTINGS.qemuVhostDeviceVsockPath, tools.vsock);
    await update(SETTINGS.qemuCacheDir, tools.cache);
    return tools;
  }

  before(async function () {
    if (process.platform !== 'linux') this.skip(); // the QEMU backend is Linux's
    const extension = vscode.extensions.getExtension<NitroEnclavesApi>(EXTENSION_ID);
    assert.ok(extension);
    api = await extension.activate();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nitro-qemu-vscode-'));
  });

  after(async () => {
    if (!api) return;
    api.parentInstances.qemu.useSetupProgram(undefined);
    await update(SETTINGS.qemuBackend, 'never');
    await eventually('the QEMU backend to go', () => api.parentInstances.qemu.parents.backend === undefined);
    // Later tests see the default: auto, and no QEMU state, so no QEMU parent.
    await fs.rm(path.dirname(qemuStateFile()), { recursive: true, force: true });
    for (const name of [
      SETTINGS.qemuBackend,
      SETTINGS.qemuPath,
      SETTINGS.qemuVhostDeviceVsockPath,
      SETTINGS.qemuCacheDir,
    ])
      await update(name, undefined);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('with auto and no QEMU state, shows no QEMU parent; Set Up QEMU Backend... is in the palette', async () => {
    assert.equal(existsSync(qemuStateFile()), false);
    assert.equal(config().get(SETTINGS.qemuBackend), 'auto');
    assert.equal(await qemuParent(), undefined);
    assert.equal(await setupNode(), undefined);
    assert.ok((await vscode.commands.getCommands(true)).includes(COMMANDS.qemuSetup));
  });

  it('Set Up QEMU Backend... runs setup in a terminal; its success makes the QEMU parent appear', async () => {
    const tools = await toolsIn(path.join(dir, 'first'));
    api.parentInstances.qemu.useSetupProgram([
      process.execPath,
      '-e',
      FAKE_SETUP,
      tools.qemu,
      tools.vsock,
      tools.cache,
    ]);
    const done = await vscode.commands.executeCommand<boolean | undefined>(COMMANDS.qemuSetup, { confirmed: true });
    assert.equal(done, true);
    const pty = api.parentInstances.qemu.setupTerminals.at(-1);
    assert.ok(pty);
    assert.equal(await pty.exitStatus, 0);
    assert.match(pty.output, /Building QEMU 100%/);
    assert.match(pty.output, /qemu setup --cache /, 'the cache folder of the settings is passed on');
    assert.ok(vscode.window.terminals.some((t) => t.name === 'QEMU Setup'));
    const parent = await eventually('the QEMU parent in the view', qemuParent);
    assert.ok(existsSync(qemuStateFile()), 'the QEMU backend made its parent, so auto keeps it');
    const item = api.parents.getTreeItem(parent);
    assert.equal(item.contextValue, 'runningQemuParent');
    assert.match(String(item.description), / · QEMU$/);
    assert.equal(await setupNode(), undefined, 'nothing is missing');
  });

  it('with always and an empty cache folder: the QEMU parent, what is missing and the setup command', async () => {
    await update(SETTINGS.qemuBackend, 'always');
    await toolsIn(path.join(dir, 'empty'));
    const node = await eventually('the QEMU setup message', setupNode);
    assert.ok(await qemuParent(), 'the QEMU parent is still shown');
    assert.deepEqual(
      node.missing.map((m) => m.what),
      ['qemu-system-x86_64', 'vhost-device-vsock', "the parent VM's kernel", "the parent VM's relay initramfs"],
    );
    const item = api.parents.getTreeItem(node);
    assert.equal(
      item.label,
      'QEMU backend: qemu-system-x86_64, vhost-device-vsock, ' +
        "the parent VM's kernel, the parent VM's relay initramfs missing",
    );
    assert.equal(item.contextValue, 'qemuSetupNeeded');
    assert.equal(item.command?.command, COMMANDS.qemuSetup);
    assert.equal(item.command?.title, 'Set Up QEMU Backend...');
    assert.deepEqual((item.iconPath as vscode.ThemeIcon).id, 'tools');
    const tip = item.tooltip as vscode.MarkdownString;
    assert.ok(tip.value.includes(`(command:${COMMANDS.qemuSetup})`));
    // The reasons are appended as text: Markdown characters come escaped.
    const text = tip.value.replace(/\\(.)/g, '$1');
    assert.ok(text.includes(path.join(dir, 'empty', 'bin', 'qemu-system-x86_64')), 'says where it looked');
    const roots = await api.parents.getChildren();
    const at = roots.indexOf(roots.find((r) => r.kind === 'qemuSetup') as ParentNode);
    const parentAt = roots.findIndex((r) => r.kind === 'parent' && r.parent.backend === 'qemu');
    assert.equal(at, parentAt + 1, 'the message follows the QEMU parent');
  });

  it('never removes the QEMU parent and its message at once', async () => {
    await update(SETTINGS.qemuBackend, 'never');
    await eventually('the QEMU parent to go', async () => (await qemuParent()) === undefined);
    assert.equal(await setupNode(), undefined);
  });

  it('a QEMU enclave offers its console but not Get Attestation Document', async () => {
    const fake = new FakeBackend('i-0fa4e0000000000e1', {
      kind: 'qemu',
      label: 'QEMU',
      console: 'Linux version 6.12 (boot)\nhello from the enclave\n',
    });
    const registration = api.registerBackend(fake);
    try {
      const parent = await eventually('the stand-in QEMU parent', async () =>
        (await roots()).find((r): r is ParentRoot => r.kind === 'parent' && r.parent.id === fake.parentId),
      );
      const enclave = (await api.parents.getChildren(parent)).find((c): c is EnclaveNode => c.kind === 'enclave');
      assert.ok(enclave);
      assert.equal(enclave.parentNsm, false);
      assert.equal(api.parents.getTreeItem(enclave).contextValue, 'debugQemuEnclave');
      // The palette shows the enclave commands, and Get Attestation Document only if an emulated
      // enclave runs too (the QEMU one is not for it).
      await api.parentInstances.current.update();
      const attestable = (await api.parents.enclaves()).some((n) => n.enclave.State === 'RUNNING' && n.parentNsm);
      assert.equal(api.parentInstances.current.paletteState?.noEnclave, false);
      assert.equal(api.parentInstances.current.paletteState?.noAttestable, !attestable);
      // Run from the palette, Get Attestation Document does not offer it (only emulated enclaves).
      const errors = await failuresOf(() => vscode.commands.executeCommand(COMMANDS.enclaveAttest, enclave));
      assert.equal(errors.length, 1);
      assert.match(errors[0] ?? '', /canned-enclave has no attestation document for the extension: It runs in QEMU/);
      assert.ok(!fake.calls.some((c) => c.startsWith('nsm')), 'the NSM is not asked');
      // Open Console streams its console into a terminal.
      const terminal = await vscode.commands.executeCommand<vscode.Terminal>(COMMANDS.enclaveConsole, enclave);
      assert.ok(terminal);
      const pty = api.parentInstances.consoles.at(-1);
      assert.ok(pty);
      await pty.ended;
      assert.match(pty.output, /hello from the enclave/);
      terminal.dispose();
    } finally {
      registration.dispose();
      fake.dispose();
    }
  });
});
