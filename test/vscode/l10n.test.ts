// Localization at run time: the installed extension names its l10n bundle, the bundle holds the
// messages the extension shows, and what a view shows is what vscode.l10n.t makes of its message.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { NitroEnclavesApi } from '../../src/extension/extension';
import { EXTENSION_ID } from '../../src/extension/ids';

describe('Localization: vscode.l10n and the l10n bundle', () => {
  let api: NitroEnclavesApi;
  let extension: vscode.Extension<NitroEnclavesApi>;
  const created: vscode.Uri[] = [];

  before(async () => {
    const found = vscode.extensions.getExtension<NitroEnclavesApi>(EXTENSION_ID);
    assert.ok(found);
    extension = found;
    api = await extension.activate();
  });

  after(async () => {
    for (const uri of created)
      await Promise.resolve(vscode.workspace.fs.delete(uri, { recursive: true })).catch(() => undefined);
  });

  it('names ./l10n in its manifest, and the bundle there holds the messages the views show', () => {
    const manifest = extension.packageJSON as { l10n?: string };
    assert.equal(manifest.l10n, './l10n');
    const file = path.join(extension.extensionPath, 'l10n', 'bundle.l10n.json');
    const bundle = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>;
    for (const key of ['Sections', '{0} section {1}\nheader at byte {2}, data at byte {3}\n{4} bytes', 'Run Enclave'])
      assert.equal(bundle[key], key);
  });

  it("shows an image's Sections row and a section's tooltip as vscode.l10n.t makes them", async () => {
    const root = vscode.workspace.workspaceFolders?.[0]?.uri;
    assert.ok(root);
    const uri = vscode.Uri.joinPath(root, 'l10n-under-test', 'signed.eif');
    const fixture = path.join(extension.extensionPath, 'test/fixtures/eif/synthetic-v4-signed.eif');
    await vscode.workspace.fs.writeFile(uri, fs.readFileSync(fixture));
    created.push(vscode.Uri.joinPath(root, 'l10n-under-test'));
    const children = await api.images.getChildren({ kind: 'image', uri });
    const sections = children.find((c) => c.kind === 'sections');
    assert.ok(sections);
    assert.equal(api.images.getTreeItem(sections).label, vscode.l10n.t('Sections'));
    const [first] = await api.images.getChildren(sections);
    assert.ok(first?.kind === 'section');
    const s = first.section;
    assert.equal(
      api.images.getTreeItem(first).tooltip,
      vscode.l10n.t(
        '{0} section {1}\nheader at byte {2}, data at byte {3}\n{4} bytes',
        s.typeName,
        s.index,
        s.headerOffset,
        s.dataOffset,
        s.size,
      ),
    );
  });
});
