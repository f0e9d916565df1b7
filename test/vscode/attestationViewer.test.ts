import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { eventually } from './util';
import type { AttestationViewerApi } from '../../src/extension/attestation/registerAttestation';
import type { NitroEnclavesApi } from '../../src/extension/extension';
import {
  ATTESTATION_PANEL,
  ATTESTATION_VIEWER,
  ATTESTATION_VIEWER_CBOR,
  COMMANDS,
  EXTENSION_ID,
} from '../../src/extension/ids';
import type { AttestationViewModel } from '../../src/shared/attestationViewer';

interface ExpectedDoc {
  file: string;
  module_id: string;
  timestamp_ms: number;
  pcrs: Record<string, string>;
  leaf_not_after: string;
}

/** `2022-10-13 11:58:02 UTC` (the viewer's UTC form), from expected.json's OpenSSL form. */
const utc = (openssl: string) => {
  const iso = new Date(openssl.replace(/\s+/g, ' ')).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${iso.slice(19, 23) === '.000' ? '' : iso.slice(19, 23)} UTC`;
};

describe('Attestation Document Viewer (panel and custom editor) in a real VS Code extension host', () => {
  let viewer: AttestationViewerApi;
  let fixtures: string;
  let eifFixtures: string;
  let folder: vscode.Uri;
  let prod: ExpectedDoc;

  before(async () => {
    const workspace = vscode.workspace.workspaceFolders?.[0];
    assert.ok(workspace, 'the test run opens a workspace folder');
    const extension = vscode.extensions.getExtension<NitroEnclavesApi>(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is installed in the extension host`);
    const api = await extension.activate();
    assert.ok(
      api.attestation,
      'the extension API exposes the viewer as `attestation` (what registerAttestation returns)',
    );
    viewer = api.attestation;
    fixtures = path.join(extension.extensionPath, 'test', 'fixtures', 'attestation');
    eifFixtures = path.join(extension.extensionPath, 'test', 'fixtures', 'eif');
    const expected: ExpectedDoc[] = JSON.parse(readFileSync(path.join(fixtures, 'expected.json'), 'utf8')).documents;
    const found = expected.find((d) => d.file === 'evervault-2022-10-13-prod.cbor');
    assert.ok(found);
    prod = found;
    folder = vscode.Uri.joinPath(workspace.uri, 'attestation-viewer-test');
    await vscode.workspace.fs.createDirectory(folder);
  });

  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    if (folder) await vscode.workspace.fs.delete(folder, { recursive: true, useTrash: false });
  });

  const fixture = (name: string) => new Uint8Array(readFileSync(path.join(fixtures, name)));

  async function place(name: string, bytes: Uint8Array): Promise<vscode.Uri> {
    const uri = vscode.Uri.joinPath(folder, name);
    await vscode.workspace.fs.writeFile(uri, bytes);
    return uri;
  }

  /** Waits until the viewer of `target` shows a model that satisfies `accept`. */
  function modelWhere(
    target: vscode.WebviewPanel | vscode.Uri,
    what: string,
    accept: (m: AttestationViewModel) => boolean,
  ): Promise<AttestationViewModel> {
    return eventually(what, () => {
      const m = viewer.modelFor(target);
      return m && accept(m) ? m : undefined;
    });
  }

  /** Waits until the viewer's webview has loaded its page and said `ready` (so the page, not just the host, works). */
  function loaded(target: vscode.WebviewPanel | vscode.Uri): Promise<boolean> {
    return eventually('the webview to load and say ready', () => viewer.isReady(target));
  }

  /** Opens `uri` with a custom editor view type and waits until it is the active tab. */
  async function openWith(uri: vscode.Uri, viewType: string): Promise<void> {
    await vscode.commands.executeCommand('vscode.openWith', uri, viewType);
    await eventually(`${viewType} to be the active tab`, () => {
      const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      return (
        input instanceof vscode.TabInputCustom && input.viewType === viewType && input.uri.toString() === uri.toString()
      );
    });
    await loaded(uri);
  }

  it(
    '"Open Attestation Document…" with a file opens a panel that says: ' +
      'invalid now, the signing certificate expired',
    async () => {
      const uri = await place('evervault-prod.cbor', fixture(prod.file));
      const panel = await vscode.commands.executeCommand<vscode.WebviewPanel | undefined>(
        COMMANDS.attestationOpen,
        uri,
      );
      assert.ok(panel, 'the command returns the panel it opened');
      assert.equal(panel.viewType, ATTESTATION_PANEL);
      await eventually('the panel to be the active tab', () => {
        const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
        return input instanceof vscode.TabInputWebview && input.viewType.endsWith(ATTESTATION_PANEL);
      });
      await loaded(panel);
      const model = await modelWhere(uri, 'the model of the document', () => true);
      assert.equal(viewer.modelFor(panel), model, 'found by panel and by file');
      assert.equal(model.source.label, 'evervault-prod.cbor');
      assert.equal(model.source.encoding, 'binary');
      assert.equal(model.time.mode, 'now');
      assert.equal(model.verdict.valid, false);
      assert.equal(
        model.verdict.headline,
        `Invalid now: its signing certificate expired at ${utc(prod.leaf_not_after)}`,
      );
      assert.equal(model.verdict.validAtDocumentTime, true);
      assert.equal(model.document?.moduleId, prod.module_id);
      assert.deepEqual(Object.fromEntries(model.pcrs.map((p) => [String(p.index), p.value])), prod.pcrs);
      const report = viewer.lastReport();
      assert.ok(report);
      assert.equal(report.valid, false);
      assert.deepEqual(
        report.checks.filter((c) => c.status === 'fail').map((c) => c.code),
        ['chain.validity'],
      );
      assert.equal(viewer.errorFor(uri), undefined);
    },
  );

  it("the time selector's message re-verifies on the host: valid at document time, invalid now again", async () => {
    const uri = await place('evervault-prod.cbor', fixture(prod.file));
    const panel = await viewer.openPanel(uri);
    await loaded(panel);
    await modelWhere(panel, 'the first model', (m) => m.time.mode === 'now');
    // Exactly what the webview posts when "Document time" is clicked.
    assert.deepEqual(await viewer.receive(panel, { type: 'setTime', body: { mode: 'document' } }), { ok: true });
    const atDoc = await modelWhere(panel, 'the model at document time', (m) => m.time.mode === 'document');
    assert.equal(atDoc.verdict.valid, true);
    assert.equal(atDoc.verdict.headline, 'Valid at document time');
    assert.equal(atDoc.time.at.ms, prod.timestamp_ms);
    assert.ok(atDoc.chain.every((c) => c.status === 'valid'));
    assert.equal(viewer.lastReport()?.valid, true);
    assert.equal(viewer.reportFor(panel)?.at.getTime(), prod.timestamp_ms);

    // A custom time one second after the leaf expired.
    const after = new Date(new Date(prod.leaf_not_after.replace(/\s+/g, ' ')).getTime() + 1000).toISOString();
    await viewer.receive(panel, { type: 'setTime', body: { mode: 'custom', at: after } });
    const custom = await modelWhere(panel, 'the model at the custom time', (m) => m.time.mode === 'custom');
    assert.equal(custom.verdict.valid, false);
    assert.equal(custom.time.at.iso, after);

    // Messages the host refuses change nothing.
    for (const bad of [
      { type: 'setTime', body: { mode: 'tomorrow' } },
      { type: 'setTime', body: { mode: 'custom', at: 'soon' } },
      { type: 'eval', body: 'x' },
      null,
    ]) {
      const answer = await viewer.receive(panel, bad);
      assert.equal(answer.ok, false, JSON.stringify(bad));
    }
    assert.equal(viewer.modelFor(panel), custom);

    await viewer.receive(panel, { type: 'setTime', body: { mode: 'now' } });
    const now = await modelWhere(panel, 'the model now', (m) => m.time.mode === 'now');
    assert.equal(now.verdict.valid, false);
  });

  it('keeps the document in the panel state, and the serializer reopens it from there', async () => {
    const uri = await place('evervault-prod.cbor', fixture(prod.file));
    const panel = await viewer.openPanel(uri, { time: { mode: 'document' } });
    await loaded(panel);
    await modelWhere(panel, 'the model at document time', (m) => m.time.mode === 'document');
    const state = viewer.stateFor(panel);
    assert.deepEqual(state, { source: { kind: 'file', uri: uri.toString() }, time: { mode: 'document' } });

    const restored = vscode.window.createWebviewPanel(ATTESTATION_PANEL, 'restored', vscode.ViewColumn.Active, {});
    // What the serializer is handed: the webview's whole state, with the panel state the host asked it to keep.
    await viewer.revive(restored, JSON.parse(JSON.stringify({ collapsed: ['checks'], panel: state })));
    await loaded(restored);
    const model = await modelWhere(restored, 'the restored model', () => true);
    assert.equal(model.time.mode, 'document');
    assert.equal(model.verdict.valid, true);
    assert.equal(model.document?.moduleId, prod.module_id);

    // Bytes without a file (the clipboard) are kept as base64.
    const base64 = Buffer.from(fixture(prod.file)).toString('base64');
    const fromText = await viewer.openPanel(base64.replace(/(.{76})/g, '$1\n'), { label: 'Clipboard' });
    await loaded(fromText);
    const textModel = await modelWhere(fromText, 'the model of the base64 text', () => true);
    assert.equal(textModel.source.kind, 'bytes');
    assert.equal(textModel.source.encoding, 'base64');
    assert.deepEqual(viewer.stateFor(fromText), {
      source: { kind: 'bytes', label: 'Clipboard', base64, encoding: 'base64' },
      time: { mode: 'now' },
    });
    const again = vscode.window.createWebviewPanel(ATTESTATION_PANEL, 'restored', vscode.ViewColumn.Active, {});
    await viewer.revive(again, { panel: viewer.stateFor(fromText) });
    await loaded(again);
    const restoredBytes = await modelWhere(again, 'the restored bytes', () => true);
    assert.equal(restoredBytes.document?.moduleId, prod.module_id);
    assert.equal(restoredBytes.source.encoding, 'base64', 'restored with the encoding it was given in');

    // State the panel cannot trust shows why instead of a document.
    const broken = vscode.window.createWebviewPanel(
      ATTESTATION_PANEL,
      'Attestation: gone',
      vscode.ViewColumn.Active,
      {},
    );
    await viewer.revive(broken, { panel: { source: { kind: 'bytes', label: 'Clipboard', base64: '!!' } } });
    await loaded(broken);
    const error = await eventually('the restore error', () => viewer.errorFor(broken));
    assert.equal(error.kind, 'restore');
    assert.match(error.message, /could not be restored/);
  });

  it('"Open Attestation Document from Clipboard" reads base64 or hex text', async () => {
    const previous = await vscode.env.clipboard.readText();
    try {
      const hex = Buffer.from(fixture('base-2024-11-30.cbor')).toString('hex');
      await vscode.env.clipboard.writeText(hex);
      assert.equal(await vscode.env.clipboard.readText(), hex, 'the test can use the clipboard');
      const panel = await vscode.commands.executeCommand<vscode.WebviewPanel | undefined>(
        COMMANDS.attestationOpenFromClipboard,
      );
      assert.ok(panel);
      await loaded(panel);
      const model = await modelWhere(panel, 'the clipboard model', () => true);
      assert.equal(model.source.label, 'Clipboard');
      assert.equal(model.source.encoding, 'hex');
      assert.equal(model.source.inputSize, hex.length / 2);

      await vscode.env.clipboard.writeText('certainly, not an attestation document!');
      const refused = await vscode.commands.executeCommand<vscode.WebviewPanel | undefined>(
        COMMANDS.attestationOpenFromClipboard,
      );
      assert.ok(refused);
      await loaded(refused);
      const error = await eventually('the clipboard error', () => viewer.errorFor(refused));
      assert.equal(error.kind, 'format');
      assert.match(error.message, /^The input is not CBOR, hex or base64\. Copy an attestation document/);
    } finally {
      await vscode.env.clipboard.writeText(previous);
    }
  });

  it(
    '"Compare with Enclave Image" measures the image and marks every PCR: ' +
      'synthetic-v4-signed.eif is not this enclave',
    async () => {
      const uri = await place('evervault-prod.cbor', fixture(prod.file));
      const eif = await place(
        'synthetic-v4-signed.eif',
        new Uint8Array(readFileSync(path.join(eifFixtures, 'synthetic-v4-signed.eif'))),
      );
      const image = JSON.parse(readFileSync(path.join(eifFixtures, 'synthetic-v4-signed.expected.json'), 'utf8'));
      const panel = await viewer.openPanel(uri, { time: { mode: 'document' } });
      await loaded(panel);
      await modelWhere(panel, 'the model at document time', (m) => m.verdict.valid);
      await viewer.compareWith(panel, eif);
      const model = await modelWhere(panel, 'the compared model', (m) => m.comparison !== undefined);
      assert.ok(model.comparison?.ok, model.comparison && !model.comparison.ok ? model.comparison.error : 'compared');
      assert.equal(model.comparison.image.name, 'synthetic-v4-signed.eif');
      assert.deepEqual(
        model.comparison.rows.map((r) => [r.name, r.expected, r.match]),
        [0, 1, 2, 8].map((i) => [`PCR${i}`, image[`PCR${i}`], false]),
      );
      assert.equal(model.comparison.mismatches, 4);
      assert.deepEqual(
        model.pcrs.filter((p) => p.expected).map((p) => [p.name, p.expected?.match]),
        [
          ['PCR0', false],
          ['PCR1', false],
          ['PCR2', false],
          ['PCR8', false],
        ],
      );
      assert.equal(model.verdict.valid, false);
      assert.match(model.verdict.headline, /^Invalid at document time: its PCRs do not match synthetic-v4-signed\.eif/);
      assert.equal(viewer.lastReport()?.checks.find((c) => c.code === 'pcrs.expected')?.status, 'fail');
      assert.deepEqual(viewer.stateFor(panel)?.compareWith, eif.toString());

      // Changing the time keeps the comparison; clearing it (the webview's "Clear") drops it.
      await viewer.receive(panel, { type: 'setTime', body: { mode: 'now' } });
      const now = await modelWhere(panel, 'the compared model now', (m) => m.time.mode === 'now');
      assert.equal(now.comparison?.ok && now.comparison.mismatches, 4);
      await viewer.receive(panel, { type: 'setTime', body: { mode: 'document' } });
      await viewer.receive(panel, { type: 'clearComparison' });
      const cleared = await modelWhere(
        panel,
        'the model without comparison',
        (m) => m.comparison === undefined && m.time.mode === 'document',
      );
      assert.equal(cleared.verdict.valid, true);
      assert.ok(cleared.pcrs.every((p) => p.expected === undefined));

      // An image that is not an EIF: the comparison says why.
      const notEif = await place('not-an-image.eif', new TextEncoder().encode('no enclave image here\n'.repeat(40)));
      await viewer.compareWith(panel, notEif);
      const failed = await modelWhere(panel, 'the failed comparison', (m) => m.comparison?.ok === false);
      assert.ok(failed.comparison && !failed.comparison.ok);
      assert.match(failed.comparison.error, /not an enclave image/i);
      assert.equal(failed.verdict.valid, true, 'nothing was compared');
    },
  );

  it('opens a .att.cbor file in the custom editor, by default and with "Open With"', async () => {
    const uri = await place('evervault-prod.att.cbor', fixture(prod.file));
    await vscode.commands.executeCommand('vscode.open', uri);
    await eventually('the attestation viewer to be the default editor of .att.cbor', () => {
      const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      return (
        input instanceof vscode.TabInputCustom &&
        input.viewType === ATTESTATION_VIEWER &&
        input.uri.toString() === uri.toString()
      );
    });
    await loaded(uri);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await eventually('the closed editor to be forgotten', () => !viewer.modelFor(uri));
    await openWith(uri, ATTESTATION_VIEWER);
    const model = await modelWhere(uri, 'the custom editor model', () => true);
    assert.equal(model.source.label, 'evervault-prod.att.cbor');
    assert.equal(model.verdict.valid, false);
    assert.equal(viewer.stateFor(uri), undefined, 'custom editors are restored by VS Code from their URI');
    await viewer.receive(uri, { type: 'setTime', body: { mode: 'document' } });
    const atDoc = await modelWhere(uri, 'the custom editor model at document time', (m) => m.time.mode === 'document');
    assert.equal(atDoc.verdict.valid, true);
  });

  it('opens any .cbor with "Open With" through the optional view type', async () => {
    const uri = await place('doc.cbor', fixture('evervault-2022-10-12-debug.cbor'));
    await openWith(uri, ATTESTATION_VIEWER_CBOR);
    await viewer.receive(uri, { type: 'setTime', body: { mode: 'document' } });
    const model = await modelWhere(uri, 'the .cbor model at document time', (m) => m.time.mode === 'document');
    assert.equal(model.verdict.valid, true);
    assert.equal(model.verdict.debugMode, true);
    assert.match(model.verdict.headline, /debug mode/);
  });

  it('shows an error for a file that is not an attestation document, and fails nowhere', async () => {
    const garbage = await place(
      'garbage.att.cbor',
      new TextEncoder().encode('hello, this is not an attestation document\n'.repeat(20)),
    );
    await openWith(garbage, ATTESTATION_VIEWER);
    const error = await eventually('the custom editor to report the garbage', () => viewer.errorFor(garbage));
    assert.equal(error.kind, 'format');
    assert.equal(error.label, 'garbage.att.cbor');
    assert.match(error.message, /not CBOR, hex or base64/);
    assert.equal(viewer.modelFor(garbage), undefined);
    assert.equal(viewer.lastReport()?.valid, false);

    const truncated = await place('truncated.cbor', fixture('neg-truncated.cbor'));
    const panel = await vscode.commands.executeCommand<vscode.WebviewPanel | undefined>(
      COMMANDS.attestationOpen,
      truncated,
    );
    assert.ok(panel);
    await loaded(panel);
    const error2 = await eventually('the panel to report the truncated document', () => viewer.errorFor(panel));
    assert.match(error2.message, /not well-formed CBOR/);

    const missing = vscode.Uri.joinPath(folder, 'missing.cbor');
    const panel3 = await viewer.openPanel(missing);
    await loaded(panel3);
    const error3 = await eventually('the panel to report the missing file', () => viewer.errorFor(panel3));
    assert.equal(error3.kind, 'unreadable');
    assert.match(error3.message, /does not exist/);
  });

  describe('Save, Copy as Base64 and the nonce check', () => {
    const BRAVE = 'brave-2022-07-26-usw2-debug.cbor';
    const braveNonce = (): string => {
      const all: { file: string; nonce_hex: string | null }[] = JSON.parse(
        readFileSync(path.join(fixtures, 'expected.json'), 'utf8'),
      ).documents;
      const hex = all.find((d) => d.file === BRAVE)?.nonce_hex;
      assert.ok(hex, `${BRAVE} carries a nonce`);
      return hex;
    };

    it('Save... writes the raw CBOR bytes (decoded from base64 text) to the file picked, atomically', async () => {
      const bytes = fixture(BRAVE);
      const panel = await viewer.openPanel(Buffer.from(bytes).toString('base64'), { label: 'Clipboard' });
      await modelWhere(panel, 'the document from base64 text', (m) => m.source.encoding === 'base64');
      const target = vscode.Uri.joinPath(folder, 'saved.att.cbor');
      const window = vscode.window as { showSaveDialog: typeof vscode.window.showSaveDialog };
      const original = window.showSaveDialog;
      const asked: vscode.SaveDialogOptions[] = [];
      window.showSaveDialog = async (options) => {
        if (options) asked.push(options);
        return target;
      };
      try {
        const answer = await viewer.request(panel, { type: 'save' });
        assert.equal(answer.error, undefined, answer.error);
        // Cancelled: nothing is written.
        window.showSaveDialog = async () => undefined;
        assert.equal((await viewer.request(panel, { type: 'save' })).error, undefined);
      } finally {
        window.showSaveDialog = original;
      }
      assert.equal(asked[0]?.title, 'Save Attestation Document');
      assert.match(asked[0]?.defaultUri?.path ?? '', /\/Clipboard\.att\.cbor$/);
      assert.deepEqual(new Uint8Array(await vscode.workspace.fs.readFile(target)), bytes, 'the exact bytes');
      const left = (await vscode.workspace.fs.readDirectory(folder)).filter(([n]) => n.endsWith('.partial'));
      assert.deepEqual(left, [], 'no temporary file is left behind');
      // The saved file opens as the same document.
      const again = await viewer.openPanel(target);
      const model = await modelWhere(again, 'the saved document', () => true);
      assert.equal(model.source.encoding, 'binary');
      assert.equal(model.document?.nonce.state, 'present');
    });

    it('Copy as Base64 puts the base64 of the raw CBOR bytes on the clipboard (a hex input too)', async () => {
      const bytes = fixture(BRAVE);
      const panel = await viewer.openPanel(Buffer.from(bytes).toString('hex'), { label: 'hex text' });
      await modelWhere(panel, 'the document from hex text', (m) => m.source.encoding === 'hex');
      await vscode.env.clipboard.writeText('');
      const answer = await viewer.request(panel, { type: 'copyBase64' });
      assert.equal(answer.error, undefined, answer.error);
      assert.equal(await vscode.env.clipboard.readText(), Buffer.from(bytes).toString('base64'));
    });

    it('shows the nonce check as passed when the document carries the nonce asked for', async () => {
      const panel = await viewer.openPanel(fixture(BRAVE), {
        label: 'asked with its nonce',
        nonce: new Uint8Array(Buffer.from(braveNonce(), 'hex')),
        time: { mode: 'document' },
      });
      const model = await modelWhere(panel, 'the nonce check', (m) => m.nonceCheck !== undefined);
      assert.deepEqual(model.nonceCheck, { expected: braveNonce(), actual: braveNonce(), match: true });
      assert.equal(model.checks.find((c) => c.code === 'nonce.expected')?.status, 'pass');
      assert.equal(viewer.stateFor(panel)?.nonce, braveNonce(), 'kept for a restore after a reload');
    });

    it('shows the nonce check as failed, and the document as invalid, when it carries another nonce', async () => {
      const other = new Uint8Array(Buffer.from(braveNonce(), 'hex'));
      other[19] = (other[19] as number) ^ 1;
      const panel = await viewer.openPanel(fixture(BRAVE), {
        label: 'asked with another nonce',
        nonce: other,
        time: { mode: 'document' },
      });
      const model = await modelWhere(panel, 'the nonce check', (m) => m.nonceCheck !== undefined);
      assert.deepEqual(model.nonceCheck, {
        expected: Buffer.from(other).toString('hex'),
        actual: braveNonce(),
        match: false,
      });
      assert.equal(model.verdict.valid, false);
      assert.equal(model.checks.find((c) => c.code === 'nonce.expected')?.status, 'fail');
    });
  });

  describe("an unsigned document from QEMU's emulated NSM", () => {
    const QEMU_FILE = path.join('qemu', 'qemu-attestation.cbor');
    const QEMU_NONCE = '0102030405060708';

    it('opens in the custom editor with the UNSIGNED verdict and its explanation', async () => {
      const uri = await place('qemu.att.cbor', fixture(QEMU_FILE));
      await openWith(uri, ATTESTATION_VIEWER);
      const model = await modelWhere(uri, 'the QEMU document verified', () => true);
      assert.equal(model.verdict.verdict, 'unsigned');
      assert.equal(model.verdict.valid, false);
      assert.match(model.verdict.headline, /^Unsigned: a document from QEMU's emulated NSM/);
      const notes = model.verdict.notes.join('\n');
      assert.match(notes, /recognised by the protected header \{1: -1\}/);
      assert.match(notes, /only as trustworthy as the machine that ran QEMU/);
      assert.ok(model.verdict.unsigned, 'marked unsigned, so the viewer offers Re-sign with Development CA…');
      assert.equal(model.document?.moduleId, 'i-0123456789abcdef0-enc0123456789abcdef');
      assert.equal(model.document?.userData.state === 'present' && model.document.userData.text, 'hello-from-qemu!');
      assert.equal(model.pcrs.length, 16);
      assert.equal(viewer.errorFor(uri), undefined, 'never a parse failure');
    });

    it('checks the nonce asked for in a panel', async () => {
      const panel = await viewer.openPanel(fixture(QEMU_FILE), {
        label: 'QEMU document',
        nonce: new Uint8Array(Buffer.from(QEMU_NONCE, 'hex')),
      });
      const model = await modelWhere(panel, 'the nonce check', (m) => m.nonceCheck !== undefined);
      assert.deepEqual(model.nonceCheck, { expected: QEMU_NONCE, actual: QEMU_NONCE, match: true });
      assert.equal(model.verdict.verdict, 'unsigned');
    });

    it('Re-sign with Development CA... writes a new file, valid with the development root', async () => {
      const bytes = fixture(QEMU_FILE);
      const uri = await place('qemu-resign.att.cbor', bytes);
      await openWith(uri, ATTESTATION_VIEWER);
      await modelWhere(uri, 'the unsigned verdict', (m) => m.verdict.verdict === 'unsigned');
      const target = vscode.Uri.joinPath(folder, 'qemu-resign.dev-signed.att.cbor');
      const window = vscode.window as { showSaveDialog: typeof vscode.window.showSaveDialog };
      const original = window.showSaveDialog;
      const asked: vscode.SaveDialogOptions[] = [];
      window.showSaveDialog = async (options) => {
        if (options) asked.push(options);
        return target;
      };
      try {
        const answer = await viewer.request(uri, { type: 'resign' });
        assert.equal(answer.error, undefined, answer.error);
        // The document's own file as the target: refused, nothing written.
        window.showSaveDialog = async () => uri;
        assert.match((await viewer.request(uri, { type: 'resign' })).error ?? '', /never altered/);
      } finally {
        window.showSaveDialog = original;
      }
      assert.match(asked[0]?.title ?? '', /Re-sign with Development CA.*not an AWS attestation/);
      assert.match(asked[0]?.defaultUri?.path ?? '', /\/qemu-resign\.dev-signed\.att\.cbor$/);
      assert.deepEqual(new Uint8Array(await vscode.workspace.fs.readFile(uri)), bytes, 'the original is unchanged');
      const resigned = await eventually('the re-signed document to open', () => viewer.modelFor(target));
      assert.equal(resigned.verdict.verdict, 'valid', resigned.verdict.summary);
      assert.equal(resigned.verdict.development, true);
      assert.match(resigned.verdict.headline, /^Valid development attestation/);
      assert.equal(resigned.pcrs[0]?.value, (await modelWhere(uri, 'the original', () => true)).pcrs[0]?.value);
      const left = (await vscode.workspace.fs.readDirectory(folder)).filter(([n]) => n.endsWith('.partial'));
      assert.deepEqual(left, [], 'no temporary file is left behind');
    });

    it('is not offered for a signed document: asking anyway is refused', async () => {
      const uri = await place('signed.att.cbor', fixture(prod.file));
      await openWith(uri, ATTESTATION_VIEWER);
      const model = await modelWhere(uri, 'the signed document', () => true);
      assert.equal(model.verdict.unsigned, undefined);
      const answer = await viewer.request(uri, { type: 'resign' });
      assert.match(answer.error ?? '', /Only an unsigned document from QEMU's emulated NSM can be re-signed/);
    });
  });
});
