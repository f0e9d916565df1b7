import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { EXTENSION_ID } from '../../src/extension/ids';
import { ALLOWLIST_DIAGNOSTIC_SOURCE } from '../../src/extension/vsockproxy/allowlistDiagnostics';
import { eventually } from './util';

describe('vsock-proxy allowlist diagnostics', () => {
  let folder: vscode.Uri;
  const created: vscode.Uri[] = [];

  before(async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension);
    await extension.activate();
    const root = vscode.workspace.workspaceFolders?.[0]?.uri;
    assert.ok(root);
    folder = vscode.Uri.joinPath(root, 'vsock-proxy-under-test');
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    for (const uri of created)
      await Promise.resolve(vscode.workspace.fs.delete(uri, { recursive: true })).catch(() => undefined);
  });

  async function place(name: string, text: string): Promise<vscode.Uri> {
    const uri = vscode.Uri.joinPath(folder, name);
    await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(text));
    created.push(uri);
    return uri;
  }
  const ours = (uri: vscode.Uri) =>
    vscode.languages.getDiagnostics(uri).filter((d) => d.source === ALLOWLIST_DIAGNOSTIC_SOURCE);

  it('underlines a quoted port at its line and column, and clears it once fixed', async () => {
    const uri = await place(
      'vsock-proxy.yaml',
      [
        'allowlist:',
        '- {address: kms.us-east-1.amazonaws.com, port: 443}',
        '- {address: 127.0.0.1, port: "8443"}',
        '',
      ].join('\n'),
    );
    const doc = await vscode.workspace.openTextDocument(uri);
    const editor = await vscode.window.showTextDocument(doc);
    const [problem] = await eventually('the port diagnostic', () => {
      const found = ours(uri);
      return found.length > 0 ? found : undefined;
    });
    assert.ok(problem);
    assert.equal(problem.severity, vscode.DiagnosticSeverity.Error);
    assert.match(problem.message, /port must be a whole number, not the string "8443" \(write it without quotes\)/);
    // Line 3, on the quoted value (0-based line 2, from column 29).
    assert.deepEqual([problem.range.start.line, problem.range.start.character], [2, 29]);
    assert.equal(doc.getText(problem.range), '"8443"');
    await editor.edit((e) => e.replace(problem.range, '8443'));
    await eventually('the diagnostic to go once the port is a number', () => ours(uri).length === 0);
  });

  it('checks any YAML with a top-level allowlist key, and leaves other YAML alone', async () => {
    const named = await place('proxy-rules.yml', 'allowlist:\n- {address: a.test}\n');
    const other = await place('compose.yaml', 'services:\n  allowlist: "not ours"\n  port: "x"\n');
    await vscode.workspace.openTextDocument(other);
    await vscode.workspace.openTextDocument(named);
    const [missing] = await eventually('the missing port', () => {
      const found = ours(named);
      return found.length > 0 ? found : undefined;
    });
    assert.match(missing?.message ?? '', /entry 1 has no port/);
    assert.equal(missing?.range.start.line, 1);
    // The allowlist above proves the checker runs; the compose file never gets one of ours.
    assert.deepEqual(ours(other), []);
  });
});
