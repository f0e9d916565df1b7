import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { DESCRIBE_SCHEME, eventually } from './util';
import type { NitroEnclavesApi } from '../../src/extension/extension';
import { COMMANDS, EXTENSION_ID, VIEWS } from '../../src/extension/ids';

describe('Nitro Enclaves in a real VS Code extension host', () => {
  let api: NitroEnclavesApi;
  let workspace: vscode.Uri;

  before(async () => {
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'the test run opens a workspace folder');
    workspace = folder.uri;
    const extension = vscode.extensions.getExtension<NitroEnclavesApi>(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is installed in the extension host`);
    api = await extension.activate();
  });

  it('activates in a Node extension host and reports its version', () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.equal(extension?.isActive, true);
    assert.equal(api.version, extension?.packageJSON.version);
    console.log(`      (VS Code ${vscode.version}, ${vscode.env.appHost}, Node ${process.version})`);
  });

  it('registers every command it contributes', async () => {
    const contributed: { command: string }[] =
      vscode.extensions.getExtension(EXTENSION_ID)?.packageJSON.contributes.commands;
    const registered = new Set(await vscode.commands.getCommands(true));
    assert.ok(contributed.length >= Object.keys(COMMANDS).length);
    for (const { command } of contributed) assert.ok(registered.has(command), `${command} is registered`);
  });

  it('shows both views in the Nitro Enclaves container', async () => {
    await vscode.commands.executeCommand('workbench.view.extension.nitroEnclaves');
    // VS Code creates a `<view id>.focus` command for every contributed view; it fails for an unknown view.
    for (const view of Object.values(VIEWS)) await vscode.commands.executeCommand(`${view}.focus`);
  });

  it('shows the embedded emulator as a working parent: its name, its instance id, its pool', async () => {
    const roots = await api.parents.getChildren();
    assert.ok(roots.length >= 1);
    const [emulator] = roots;
    assert.ok(emulator?.kind === 'parent', `the first node is a parent instance, not ${emulator?.kind}`);
    const item = api.parents.getTreeItem(emulator);
    assert.equal(item.label, emulator.parent.name);
    assert.equal(item.description, emulator.parent.id);
    assert.match(String(item.description), /^i-[0-9a-f]{17}$/);
    assert.equal(item.contextValue, 'runningEmulatorParent');
    assert.match((item.tooltip as vscode.MarkdownString).value, /emulated on this machine/);
    assert.notEqual(item.collapsibleState, vscode.TreeItemCollapsibleState.None);
    const children = await api.parents.getChildren(emulator);
    assert.equal(children[0]?.kind, 'pool');
  });

  it('lists a new .eif file in Enclave Images, and drops it again when deleted', async () => {
    const eif = vscode.Uri.joinPath(workspace, 'images', 'hello.eif');
    const labels = async () => (await api.images.getChildren()).map((e) => vscode.workspace.asRelativePath(e.uri));
    const existing = await labels();
    assert.ok(!existing.includes('images/hello.eif'));
    await watchedFolder(vscode.Uri.joinPath(workspace, 'images'));
    let changes = 0;
    const sub = api.images.onDidChangeTreeData(() => changes++);
    try {
      await vscode.workspace.fs.writeFile(eif, new Uint8Array([1, 2, 3]));
      // The file watcher refreshes the view by itself (debounced).
      await eventually('the watcher to refresh the view', () => changes > 0);
      assert.deepEqual(
        await labels(),
        [...existing, 'images/hello.eif'].sort((a, b) => a.localeCompare(b)),
      );
      // Three bytes are no EIF header: the row says so before the image is ever measured.
      const item = await eventually('the header read', () => {
        const i = api.images.getTreeItem({ kind: 'image', uri: eif });
        return i.description === 'images  malformed' ? i : undefined;
      });
      assert.equal(item.contextValue, 'brokenEifImage');
      assert.equal(api.images.service.peek(eif), undefined, 'from the header alone');
      await vscode.workspace.fs.delete(eif);
      await eventually(
        'the deleted image to leave the view',
        async () => !(await labels()).includes('images/hello.eif'),
      );
    } finally {
      sub.dispose();
    }
  });

  it('runs the refresh, reveal and log commands', async () => {
    const eif = vscode.Uri.joinPath(workspace, 'reveal.eif');
    await vscode.workspace.fs.writeFile(eif, new Uint8Array([0]));
    try {
      let fired = 0;
      const subs = [api.parents.onDidChangeTreeData(() => fired++), api.images.onDidChangeTreeData(() => fired++)];
      await vscode.commands.executeCommand(COMMANDS.parentsRefresh);
      await vscode.commands.executeCommand(COMMANDS.imagesRefresh);
      subs.forEach((s) => s.dispose());
      assert.ok(fired >= 2, 'each refresh command fires its view');
      await vscode.commands.executeCommand(COMMANDS.imageReveal, { uri: eif });
      await vscode.commands.executeCommand(COMMANDS.logShow);
    } finally {
      await vscode.workspace.fs.delete(eif);
    }
  });

  it('leaves out images matched by nitroEnclaves.images.exclude', async () => {
    const kept = vscode.Uri.joinPath(workspace, 'out', 'kept.eif');
    const hidden = vscode.Uri.joinPath(workspace, 'vendor', 'hidden.eif');
    await vscode.workspace.fs.writeFile(kept, new Uint8Array([0]));
    await vscode.workspace.fs.writeFile(hidden, new Uint8Array([0]));
    const config = vscode.workspace.getConfiguration('nitroEnclaves.images');
    try {
      await config.update('exclude', ['**/vendor/**'], vscode.ConfigurationTarget.Workspace);
      const names = (await api.images.getChildren()).map((e) => vscode.workspace.asRelativePath(e.uri));
      assert.deepEqual(
        names.filter((n) => n.startsWith('out/') || n.startsWith('vendor/')),
        ['out/kept.eif'],
      );
    } finally {
      await config.update('exclude', undefined, vscode.ConfigurationTarget.Workspace);
      await vscode.workspace.fs.delete(kept);
      await vscode.workspace.fs.delete(hidden);
    }
  });

  it('runs the doctor on this machine and shows its report as a read-only Markdown document', async () => {
    const doc = await vscode.commands.executeCommand<vscode.TextDocument>(COMMANDS.parentDoctor);
    assert.ok(doc);
    assert.equal(doc.uri.scheme, DESCRIBE_SCHEME);
    assert.equal(doc.uri.path, '/doctor.md');
    assert.equal(doc.languageId, 'markdown');
    assert.equal(doc.isDirty, false, 'nothing to save');
    const text = doc.getText();
    assert.match(
      text,
      /^# Nitro Enclaves doctor: .* \(this machine\)\n\n\d+ failure\(s\), \d+ warning\(s\), \d+ OK\.\n/,
    );
    // The same checks as nitro-dev doctor, in its order, each with its status.
    for (const id of ['nitro-cli', 'driver', 'device', 'allocator', 'hugepages', 'cpu-pool']) {
      assert.match(text, new RegExp(`^- \\*\\*(OK|Warning|Failure)\\*\\* \\(\`${id}\`\\): `, 'm'), id);
    }
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });
});

/**
 * Creates `folder` and returns once VS Code's workspace watcher reports files inside it.
 *
 * On Linux the recursive watcher (@parcel/watcher on inotify) starts watching a new folder only
 * when it sees the folder's creation event, and does not list what the folder already holds: a
 * file written in the same instant as its folder can go unseen (the Explorer has the same limit).
 * The test is about how the view reacts to watcher events, so it waits for the watcher first.
 */
async function watchedFolder(folder: vscode.Uri): Promise<void> {
  await vscode.workspace.fs.createDirectory(folder);
  const watcher = vscode.workspace.createFileSystemWatcher('**/*.watch-probe', false, true, true);
  let seen = false;
  const sub = watcher.onDidCreate((uri) => {
    if (uri.path.startsWith(`${folder.path}/`)) seen = true;
  });
  const probes: vscode.Uri[] = [];
  try {
    await eventually('the workspace watcher to watch the new folder', async () => {
      const probe = vscode.Uri.joinPath(folder, `${probes.length}.watch-probe`);
      probes.push(probe);
      await vscode.workspace.fs.writeFile(probe, new Uint8Array());
      await new Promise((r) => setTimeout(r, 200));
      return seen;
    });
  } finally {
    sub.dispose();
    watcher.dispose();
    for (const probe of probes) await vscode.workspace.fs.delete(probe).then(undefined, () => undefined);
  }
}
