import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { NitroEnclavesApi } from '../../src/extension/extension';
import { COMMANDS, EXTENSION_ID } from '../../src/extension/ids';
import type { ImageNode } from '../../src/extension/tree/imagesTree';
import { checkDescribeDocument, eventually } from './util';

describe('KMS key-policy assistant: generate from an image, Copy KMS Condition, policy diagnostics', () => {
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
    folder = vscode.Uri.joinPath(root, 'kms-under-test');
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    for (const uri of created)
      await Promise.resolve(vscode.workspace.fs.delete(uri, { recursive: true })).catch(() => undefined);
  });

  async function place(name: string, bytes: Uint8Array): Promise<vscode.Uri> {
    const uri = vscode.Uri.joinPath(folder, name);
    await vscode.workspace.fs.writeFile(uri, bytes);
    created.push(uri);
    return uri;
  }
  const fixture = (name: string) => new Uint8Array(fs.readFileSync(path.join(fixtures, name)));

  /** Runs `body` with the input box answered by `answer`, keeping what it was asked with. */
  async function answeringInputBox<T>(
    answer: string | undefined,
    body: () => Thenable<T>,
  ): Promise<{ result: T; asked: vscode.InputBoxOptions[] }> {
    const window = vscode.window as { showInputBox: typeof vscode.window.showInputBox };
    const original = window.showInputBox;
    const asked: vscode.InputBoxOptions[] = [];
    window.showInputBox = async (options?: vscode.InputBoxOptions) => {
      if (options) asked.push(options);
      return answer;
    };
    try {
      return { result: await body(), asked };
    } finally {
      window.showInputBox = original;
    }
  }

  it("generates the image's key policy with its PCR0 (ImageSha384), PCR1/2/8 and the role's PCR3", async () => {
    const uri = await place('signed.eif', fixture('synthetic-v4-signed.eif'));
    // The image's own measurement, as the Enclave Images tree shows it.
    const pcrs = (await api.images.getChildren({ kind: 'image', uri })).filter((c) => c.kind === 'pcr');
    const measured = Object.fromEntries(pcrs.map((p) => (p.kind === 'pcr' ? [p.name, p.value] : ['', ''])));
    assert.match(measured.PCR0 ?? '', /^[0-9a-f]{96}$/);
    const role = 'arn:aws:iam::123456789012:role/EnclaveParent';
    const { result: doc, asked } = await answeringInputBox(role, () =>
      vscode.commands.executeCommand<vscode.TextDocument | undefined>(COMMANDS.kmsGeneratePolicy, uri),
    );
    assert.ok(doc, 'a document opened');
    const [question] = asked;
    assert.ok(question, 'the role ARN is asked for');
    assert.equal(typeof question.validateInput, 'function', 'with a check');
    const validate = (text: string) => question.validateInput?.(text);
    assert.equal(await validate(''), undefined, 'empty: no role');
    assert.equal(await validate(role), undefined);
    const refused = await validate('arn:aws:iam::12:user/x');
    assert.equal(typeof refused, 'string');
    assert.match(refused as string, /role ARN/);
    const policy = (await checkDescribeDocument(doc, 'signed.eif.key-policy.json')) as {
      Statement: { Principal: { AWS: string }; Condition?: { StringEqualsIgnoreCase: Record<string, string> } }[];
    };
    const enclave = policy.Statement.find((s) => s.Condition);
    assert.ok(enclave);
    assert.equal(enclave.Principal.AWS, role);
    const condition = enclave.Condition?.StringEqualsIgnoreCase ?? {};
    assert.equal(condition['kms:RecipientAttestation:ImageSha384'], measured.PCR0);
    assert.equal(condition['kms:RecipientAttestation:PCR1'], measured.PCR1);
    assert.equal(condition['kms:RecipientAttestation:PCR2'], measured.PCR2);
    assert.equal(condition['kms:RecipientAttestation:PCR8'], measured.PCR8);
    assert.match(condition['kms:RecipientAttestation:PCR3'] ?? '', /^[0-9a-f]{96}$/);
    assert.ok(!('kms:RecipientAttestation:PCR0' in condition), 'PCR0 only as ImageSha384');
  });

  it('leaves the role out when the answer is empty, and does nothing when the question is cancelled', async () => {
    const uri = await place('unsigned.eif', fixture('synthetic-v4-unsigned.eif'));
    const { result: doc } = await answeringInputBox('', () =>
      vscode.commands.executeCommand<vscode.TextDocument | undefined>(COMMANDS.kmsGeneratePolicy, { uri }),
    );
    assert.ok(doc);
    const text = doc.getText();
    assert.ok(!text.includes('kms:RecipientAttestation:PCR3'), text);
    assert.ok(!text.includes('kms:RecipientAttestation:PCR8'), 'an unsigned image has no PCR8');
    await checkDescribeDocument(doc, 'unsigned.eif.key-policy.json');
    const { result: none } = await answeringInputBox(undefined, () =>
      vscode.commands.executeCommand(COMMANDS.kmsGeneratePolicy, uri),
    );
    assert.equal(none, undefined);
  });

  it('Copy KMS Condition puts the condition entry on the clipboard, for image and enclave PCR nodes', async () => {
    const uri = await place('copy.eif', fixture('synthetic-v4-signed.eif'));
    const nodes = (await api.images.getChildren({ kind: 'image', uri })).filter(
      (c): c is Extract<ImageNode, { kind: 'pcr' }> => c.kind === 'pcr',
    );
    const pcr0 = nodes.find((n) => n.name === 'PCR0');
    const pcr8 = nodes.find((n) => n.name === 'PCR8');
    assert.ok(pcr0 && pcr8);
    await vscode.commands.executeCommand(COMMANDS.pcrCopyKmsCondition, pcr0);
    assert.equal(await vscode.env.clipboard.readText(), `"kms:RecipientAttestation:ImageSha384": "${pcr0.value}"`);
    await vscode.commands.executeCommand(COMMANDS.pcrCopyKmsCondition, pcr8);
    assert.equal(await vscode.env.clipboard.readText(), `"kms:RecipientAttestation:PCR8": "${pcr8.value}"`);
    // A PCR node of an enclave in Parent Instances (parentsTree.ts: kind, enclave, name, value).
    const value = 'AB'.repeat(48);
    const enclavePcr = { kind: 'pcr', enclave: { EnclaveID: 'i-0-enc1' }, name: 'PCR3', value };
    await vscode.commands.executeCommand(COMMANDS.pcrCopyKmsCondition, enclavePcr);
    assert.equal(await vscode.env.clipboard.readText(), `"kms:RecipientAttestation:PCR3": "${value.toLowerCase()}"`);
  });

  it('shows a Decrypt statement without an attestation condition as a diagnostic on its line', async () => {
    const text = [
      '{',
      '  "Version": "2012-10-17",',
      '  "Statement": [',
      '    {',
      '      "Sid": "OpenToAll",',
      '      "Effect": "Allow",',
      '      "Principal": { "AWS": "arn:aws:iam::123456789012:root" },',
      '      "Action": "kms:Decrypt",',
      '      "Resource": "*"',
      '    }',
      '  ]',
      '}',
      '',
    ].join('\n');
    const uri = await place('key-policy.json', new TextEncoder().encode(text));
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    const ours = () =>
      vscode.languages
        .getDiagnostics(uri)
        .filter((d) => d.source === 'Nitro Enclaves' && d.code === 'unattested-grant');
    const [finding] = await eventually('the unattested-grant diagnostic', () => {
      const found = ours();
      return found.length > 0 ? found : undefined;
    });
    assert.ok(finding);
    assert.equal(finding.severity, vscode.DiagnosticSeverity.Error);
    // At the statement's opening brace: line 4, column 5 (0-based 3 and 4), as `nitro-dev kms lint` says.
    assert.deepEqual([finding.range.start.line, finding.range.start.character], [3, 4], finding.message);
    assert.match(finding.message, /Statement\[0\]/);

    // Adding the condition clears it (the edit is linted after a pause).
    const editor = await vscode.window.showTextDocument(doc);
    await editor.edit((e) =>
      e.replace(
        new vscode.Range(8, 0, 8, doc.lineAt(8).text.length),
        '      "Resource": "*",\n      "Condition": { "StringEqualsIgnoreCase": ' +
          `{ "kms:RecipientAttestation:ImageSha384": "${'ab'.repeat(48)}" } }`,
      ),
    );
    await eventually('the diagnostic to go once the condition is there', () => ours().length === 0);
    // Undone, it comes back; once the document is no longer JSON (VS Code closes and reopens it
    // under the new language), none of ours is left.
    await vscode.commands.executeCommand('undo');
    await eventually('the diagnostic to come back after undo', () => ours().length > 0);
    await vscode.languages.setTextDocumentLanguage(doc, 'plaintext');
    await eventually('the diagnostics to be cleared', () =>
      vscode.languages.getDiagnostics(uri).every((d) => d.source !== 'Nitro Enclaves'),
    );
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('leaves JSON that is not a key policy alone', async () => {
    const uri = await place('settings-like.json', new TextEncoder().encode('{"Statement": "not a policy", "a": 1,}\n'));
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    // The policy of the previous test proves the linter runs; this one never gets a diagnostic of ours.
    const probe = await place('probe-policy.json', new TextEncoder().encode('{"Statement": [{"Action": "kms:Decrypt"'));
    await vscode.workspace.openTextDocument(probe);
    await eventually('the probe policy to be linted', () =>
      vscode.languages.getDiagnostics(probe).some((d) => d.source === 'Nitro Enclaves'),
    );
    assert.deepEqual(
      vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'Nitro Enclaves'),
      [],
    );
  });
});
