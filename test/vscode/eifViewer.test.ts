import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { checkDescribeDocument, eventually } from './util';
import type { EifEditorProvider } from '../../src/extension/editors/eifEditorProvider';
import type { NitroEnclavesApi } from '../../src/extension/extension';
import { EIF_VIEWER, EXTENSION_ID } from '../../src/extension/ids';

/** The extension's handle on the viewer: `api.eifViewer` (what registerEifViewer returns). */
type ViewerHook = Pick<EifEditorProvider, 'modelFor' | 'errorFor' | 'describe'>;

describe('Enclave Image Viewer (custom editor for .eif) in a real VS Code extension host', () => {
  let viewer: ViewerHook;
  let images: NitroEnclavesApi['images'];
  let fixtures: string;
  let folder: vscode.Uri;

  before(async () => {
    const workspace = vscode.workspace.workspaceFolders?.[0];
    assert.ok(workspace, 'the test run opens a workspace folder');
    const extension = vscode.extensions.getExtension<NitroEnclavesApi>(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is installed in the extension host`);
    const api = (await extension.activate()) as NitroEnclavesApi & { eifViewer?: ViewerHook };
    assert.ok(
      api.eifViewer,
      'the extension API exposes the viewer as `eifViewer` (the provider registerEifViewer returns)',
    );
    viewer = api.eifViewer;
    images = api.images;
    fixtures = path.join(extension.extensionPath, 'test', 'fixtures', 'eif');
    folder = vscode.Uri.joinPath(workspace.uri, 'eif-viewer-test');
    await vscode.workspace.fs.createDirectory(folder);
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    if (folder) await vscode.workspace.fs.delete(folder, { recursive: true, useTrash: false });
  });

  const fixture = (name: string) => new Uint8Array(readFileSync(path.join(fixtures, name)));
  const expected = () => JSON.parse(readFileSync(path.join(fixtures, 'synthetic-v4-signed.expected.json'), 'utf8'));

  /** Opens `uri` with the viewer and waits until it is the active tab. */
  async function openInViewer(uri: vscode.Uri): Promise<void> {
    await vscode.commands.executeCommand('vscode.openWith', uri, EIF_VIEWER);
    await eventually('the viewer to be the active tab', () => {
      const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      return (
        input instanceof vscode.TabInputCustom &&
        input.viewType === EIF_VIEWER &&
        input.uri.toString() === uri.toString()
      );
    });
  }

  it('opens a signed image in the viewer and shows its view model', async () => {
    const uri = vscode.Uri.joinPath(folder, 'signed.eif');
    await vscode.workspace.fs.writeFile(uri, fixture('synthetic-v4-signed.eif'));
    await openInViewer(uri);
    const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
    assert.ok(tab?.input instanceof vscode.TabInputCustom);
    assert.equal(tab.input.viewType, 'nitroEnclaves.eifViewer');
    assert.equal(tab.label, 'signed.eif');

    // The host measures the file once the webview has said `ready`.
    const model = await eventually('the view model of signed.eif', () => viewer.modelFor(uri));
    const exp = expected();
    assert.equal(model.file.name, 'signed.eif');
    assert.equal(model.file.size, exp.size);
    assert.deepEqual(model.crc, { stored: exp.eif_crc32, computed: exp.eif_crc32, ok: true });
    assert.deepEqual(
      model.measurements.pcrs.map((p) => [p.name, p.value]),
      [
        ['PCR0', exp.PCR0],
        ['PCR1', exp.PCR1],
        ['PCR2', exp.PCR2],
        ['PCR8', exp.PCR8],
      ],
    );
    assert.deepEqual(
      model.sections.map((s) => s.found?.headerOffset),
      exp.section_offsets,
    );
    assert.ok(model.signature?.ok);
    assert.equal(model.signature.coseValid, true);
    assert.equal(model.signature.payloadMatchesPcr0, true);
    assert.ok(model.describe.ok);
    assert.equal(viewer.errorFor(uri), undefined);
  });

  it(
    "the Describe button opens describe-eif's JSON as a read-only document beside the viewer, " +
      'not an Untitled file',
    async () => {
      const uri = vscode.Uri.joinPath(folder, 'signed.eif');
      const model = viewer.modelFor(uri);
      assert.ok(model?.describe.ok, 'the previous test left signed.eif open');
      const doc = await viewer.describe(uri);
      assert.ok(doc, 'Describe opens a document');
      assert.equal(doc.getText(), model.describe.json);
      const json = (await checkDescribeDocument(doc, 'signed.eif.describe.json')) as { Measurements: { PCR0: string } };
      assert.equal(json.Measurements.PCR0, expected().PCR0);
      await openInViewer(uri);
    },
  );

  it('measures the image again when the file changes on disk', async () => {
    const uri = vscode.Uri.joinPath(folder, 'signed.eif');
    const first = viewer.modelFor(uri);
    assert.ok(first?.crc.ok, 'the previous test left signed.eif open');
    const bytes = fixture('synthetic-v4-signed.eif');
    const ramdisk = (expected().section_offsets[4] as number) + 12;
    bytes[ramdisk] = (bytes[ramdisk] as number) ^ 0x01;
    await vscode.workspace.fs.writeFile(uri, bytes);
    const changed = await eventually('a new view model after the change', () => {
      const m = viewer.modelFor(uri);
      return m && !m.crc.ok ? m : undefined;
    });
    assert.equal(changed.crc.stored, expected().eif_crc32);
    assert.notEqual(changed.crc.computed, changed.crc.stored);
    assert.notEqual(changed.measurements.pcrs[0]?.value, expected().PCR0);
    assert.ok(changed.signature?.ok);
    assert.equal(changed.signature.payloadMatchesPcr0, false, 'the signature is over the old PCR0');
  });

  it('opens a truncated image without failing and says what is wrong', async () => {
    const uri = vscode.Uri.joinPath(folder, 'truncated.eif');
    const whole = fixture('synthetic-v4-signed.eif');
    await vscode.workspace.fs.writeFile(uri, whole.subarray(0, whole.length - 100));
    await openInViewer(uri);
    const error = await eventually('the viewer to report the broken file', () => viewer.errorFor(uri));
    assert.equal(error.fileName, 'truncated.eif');
    assert.equal(error.kind, 'format');
    assert.equal(error.code, 'section-past-eof');
    assert.match(error.message, /section 5 \(signature\) says it holds \d+ bytes, but only \d+ bytes follow/);
    assert.equal(viewer.modelFor(uri), undefined);
  });

  it('opens a file that is not an EIF at all and says so', async () => {
    const uri = vscode.Uri.joinPath(folder, 'text.eif');
    await vscode.workspace.fs.writeFile(
      uri,
      new TextEncoder().encode('hello, this is not an enclave image\n'.repeat(20)),
    );
    await openInViewer(uri);
    const error = await eventually('the viewer to report the broken file', () => viewer.errorFor(uri));
    assert.equal(error.code, 'bad-magic');
    assert.match(error.message, /not an enclave image file/);
  });

  it('forgets a file once its editors are closed', async () => {
    const uri = vscode.Uri.joinPath(folder, 'text.eif');
    assert.ok(viewer.errorFor(uri));
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    await eventually('the closed editor to be forgotten', () => viewer.errorFor(uri) === undefined);
  });

  it('a viewer opened from the Images view shows the inspection the view measured, not a second one', async () => {
    const uri = vscode.Uri.joinPath(folder, 'shared.eif');
    await vscode.workspace.fs.writeFile(uri, fixture('synthetic-v4-signed.eif'));
    const children = await images.getChildren({ kind: 'image', uri });
    assert.ok(
      children.some((c) => c.kind === 'pcr'),
      'the Images view measured the image',
    );
    const measured = Date.now();
    // Let the clock move on, so that a second measuring would carry a later time.
    await eventually('the clock to move on', () => Date.now() > measured + 5);
    await openInViewer(uri);
    const model = await eventually('the view model of shared.eif', () => viewer.modelFor(uri));
    assert.ok(model.signature?.ok);
    assert.ok(
      Date.parse(model.signature.checkedAt) <= measured,
      `checked at ${model.signature.checkedAt}, after the view measured it (${new Date(measured).toISOString()})`,
    );
    assert.ok(Date.parse(model.inspectedAt) <= measured, `inspected at ${model.inspectedAt}`);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });
});
