import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { NitroEnclavesApi } from '../../src/extension/extension';
import { COMMANDS, EIF_VIEWER, EXTENSION_ID, VIEWS } from '../../src/extension/ids';
import type { ImageNode } from '../../src/extension/tree/imagesTree';
import { checkDescribeDocument, eventually } from './util';

describe('Enclave Images: PCRs, sections and image commands', () => {
  let api: NitroEnclavesApi;
  let folder: vscode.Uri;
  let fixtures: string;
  const created: vscode.Uri[] = [];

  before(async () => {
    const extension = vscode.extensions.getExtension<NitroEnclavesApi>(EXTENSION_ID);
    assert.ok(extension);
    api = await extension.activate();
    fixtures = path.join(extension.extensionPath, 'test/fixtures/eif');
    const root = vscode.workspace.workspaceFolders?.[0]?.uri;
    assert.ok(root);
    folder = vscode.Uri.joinPath(root, 'fixtures-under-test');
  });

  after(async () => {
    for (const uri of created)
      await Promise.resolve(vscode.workspace.fs.delete(uri, { recursive: true })).catch(() => undefined);
  });

  async function place(
    name: string,
    bytes: Uint8Array = fs.readFileSync(path.join(fixtures, name)),
  ): Promise<vscode.Uri> {
    const uri = vscode.Uri.joinPath(folder, name);
    await vscode.workspace.fs.writeFile(uri, bytes);
    created.push(uri);
    return uri;
  }

  const expected = (name: string) =>
    JSON.parse(fs.readFileSync(path.join(fixtures, name.replace(/\.eif$/, '.expected.json')), 'utf8'));
  const imageNode = (uri: vscode.Uri): ImageNode => ({ kind: 'image', uri });

  it('expands a signed image into PCR0/1/2/8 and its sections', async () => {
    const uri = await place('synthetic-v4-signed.eif');
    const want = expected('synthetic-v4-signed.eif');
    const children = await api.images.getChildren(imageNode(uri));
    const pcrs = children.filter((c) => c.kind === 'pcr');
    assert.deepEqual(
      pcrs.map((p) => (p.kind === 'pcr' ? [p.name, p.value] : [])),
      ['PCR0', 'PCR1', 'PCR2', 'PCR8'].map((k) => [k, want[k]]),
    );
    const pcr0 = api.images.getTreeItem(pcrs[0] as ImageNode);
    assert.equal(pcr0.description, `${want.PCR0.slice(0, 16)}…`);
    // The whole value, as two lines of 48 digits: a hover does not wrap a code block.
    const tip = (pcr0.tooltip as vscode.MarkdownString).value;
    assert.ok(tip.includes(`${want.PCR0.slice(0, 48)}\n${want.PCR0.slice(48)}`), tip);
    for (const line of tip.split('\n'))
      assert.ok(!/[0-9a-f]{49}/.test(line), `no line of more than 48 digits: ${line}`);
    assert.equal(pcr0.contextValue, 'pcr');
    const sections = children.find((c) => c.kind === 'sections');
    assert.ok(sections);
    const list = await api.images.getChildren(sections);
    assert.deepEqual(
      list.map((s) => (s.kind === 'section' ? [s.section.typeName, s.section.headerOffset, s.section.size] : [])),
      want.section_types.map((t: number, i: number) => [
        ['', 'kernel', 'cmdline', 'ramdisk', 'signature', 'metadata'][t],
        want.section_offsets[i],
        want.section_sizes[i],
      ]),
    );
    // Once measured, the image item says what it is.
    const item = api.images.getTreeItem(imageNode(uri));
    assert.match(String(item.description), /x86_64 · EIF v4 · signed/);
    assert.equal(item.contextValue, 'eifImage');
  });

  it("shows an image's architecture and EIF version before it is expanded, from its header alone", async () => {
    const uri = await place('header-only.eif', fs.readFileSync(path.join(fixtures, 'synthetic-v4-unsigned.eif')));
    const description = async () => {
      await api.images.getChildren(); // lists it
      return String(api.images.getTreeItem(imageNode(uri)).description);
    };
    await eventually('the header facts in the row', async () => /x86_64 · EIF v4/.test(await description()));
    assert.equal(api.images.service.peek(uri), undefined, 'the image was not measured');
    assert.equal(api.images.getTreeItem(imageNode(uri)).contextValue, 'eifImage');
  });

  it('follows the active editor: opening an image reveals and selects it in the view', async () => {
    const uri = await place('follow-me.eif', fs.readFileSync(path.join(fixtures, 'synthetic-v4-unsigned.eif')));
    await vscode.commands.executeCommand(`${VIEWS.images}.focus`);
    await vscode.commands.executeCommand('vscode.openWith', uri, EIF_VIEWER);
    try {
      await eventually('the image selected in Enclave Images', async () => {
        const [selected] = api.images.selection;
        return selected?.kind === 'image' && selected.uri.toString() === uri.toString();
      });
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    }
  });

  it('leaves out images named by files.exclude and by brace patterns of nitroEnclaves.images.exclude', async () => {
    const kept = await place('synthetic-v4-unsigned.eif');
    const hiddenByFiles = vscode.Uri.joinPath(folder, 'files-excluded', 'a.eif');
    const hiddenByBraces = vscode.Uri.joinPath(folder, 'brace-excluded', 'b.eif');
    for (const uri of [hiddenByFiles, hiddenByBraces]) {
      await vscode.workspace.fs.writeFile(uri, new Uint8Array([0]));
      created.push(vscode.Uri.joinPath(uri, '..'));
    }
    const files = vscode.workspace.getConfiguration('files');
    const images = vscode.workspace.getConfiguration('nitroEnclaves.images');
    const listed = async () =>
      (await api.images.getChildren())
        .map((e) => (e.kind === 'image' ? e.uri.toString() : ''))
        .filter((u) => u.includes('fixtures-under-test'));
    try {
      await files.update('exclude', { '**/files-excluded': true }, vscode.ConfigurationTarget.Workspace);
      await images.update(
        'exclude',
        ['**/node_modules/**', '**/{brace-excluded,nothing-here}/**'],
        vscode.ConfigurationTarget.Workspace,
      );
      const uris = await listed();
      assert.ok(uris.includes(kept.toString()), uris.join('\n'));
      assert.ok(!uris.includes(hiddenByFiles.toString()), 'files.exclude is honoured');
      assert.ok(
        !uris.includes(hiddenByBraces.toString()),
        'a brace pattern of nitroEnclaves.images.exclude is honoured',
      );
    } finally {
      await files.update('exclude', undefined, vscode.ConfigurationTarget.Workspace);
      await images.update('exclude', undefined, vscode.ConfigurationTarget.Workspace);
    }
    const after = await listed();
    assert.ok(
      after.includes(hiddenByFiles.toString()) && after.includes(hiddenByBraces.toString()),
      'both come back without the settings',
    );
  });

  it('copies one PCR, and all PCRs as nitro-cli Measurements JSON', async () => {
    const uri = await place('synthetic-v4-unsigned.eif');
    const want = expected('synthetic-v4-unsigned.eif');
    const [first] = (await api.images.getChildren(imageNode(uri))).filter((c) => c.kind === 'pcr');
    assert.equal(await vscode.commands.executeCommand(COMMANDS.imageCopyPcr, first), want.PCR0);
    const all = await vscode.commands.executeCommand<string>(COMMANDS.imageCopyAllPcrs, imageNode(uri));
    assert.deepEqual(JSON.parse(all), {
      HashAlgorithm: 'Sha384 { ... }',
      PCR0: want.PCR0,
      PCR1: want.PCR1,
      PCR2: want.PCR2,
    });
    // From the Explorer the command gets a URI instead of a tree node.
    assert.equal(await vscode.commands.executeCommand<string>(COMMANDS.imageCopyAllPcrs, uri), all);
  });

  it(
    'describes an image as nitro-cli describe-eif JSON in a read-only JSON editor ' +
      'that closes without asking to save',
    async () => {
      const uri = await place('synthetic-v4-signed.eif');
      const doc = await vscode.commands.executeCommand<vscode.TextDocument>(COMMANDS.imageDescribe, uri);
      assert.ok(doc);
      const text = doc.getText();
      const json = (await checkDescribeDocument(doc, 'synthetic-v4-signed.eif.describe.json')) as {
        Measurements: { PCR8: string };
        SignatureCheck: boolean;
      };
      assert.equal(json.Measurements.PCR8, expected('synthetic-v4-signed.eif').PCR8);
      assert.equal(json.SignatureCheck, true);
      assert.equal(text, `${JSON.stringify(json, null, 2)}\n`);
      // Described again, the same document opens with the same text.
      const again = await vscode.commands.executeCommand<vscode.TextDocument>(COMMANDS.imageDescribe, uri);
      assert.equal(again.uri.toString(), doc.uri.toString());
      assert.equal(again.getText(), text);
      await checkDescribeDocument(again, 'synthetic-v4-signed.eif.describe.json');
    },
  );

  it('computes the PCR of a file and PCR8 of a certificate', async () => {
    const cert = await place('test-cert.pem');
    const r = await vscode.commands.executeCommand<{ key: string; value: string }>(COMMANDS.imageComputePcr, cert);
    assert.deepEqual([r.key, r.value], ['PCR8', expected('synthetic-v4-signed.eif').PCR8]);
  });

  it('shows what is wrong with a malformed image instead of failing', async () => {
    const bytes = fs.readFileSync(path.join(fixtures, 'synthetic-v4-unsigned.eif'));
    bytes[0] = 0x41; // break the magic
    const uri = await place('broken.eif', bytes);
    const children = await api.images.getChildren(imageNode(uri));
    assert.equal(children.length, 1);
    const [only] = children;
    assert.ok(only?.kind === 'message' && only.severity === 'error');
    assert.match(only.text, /not an enclave image file: the magic bytes are 41 65 69 66/);
    assert.equal(api.images.getTreeItem(imageNode(uri)).contextValue, 'brokenEifImage');
  });
});
