import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { eventually } from './util';
import type { EifEditorProvider } from '../../src/extension/editors/eifEditorProvider';
import type { NitroEnclavesApi } from '../../src/extension/extension';
import { COMMANDS, EIF_VIEWER, EXTENSION_ID } from '../../src/extension/ids';
import type { ImageNode } from '../../src/extension/tree/imagesTree';
import type { DryRunView, PickedPolicy } from '../../src/shared/attestationViewer';

type EifViewerHook = Pick<EifEditorProvider, 'modelFor' | 'request'>;

describe('KMS in the viewers: Copy KMS Condition on PCR rows, Would KMS release this key? (extension host)', () => {
  let api: NitroEnclavesApi & { eifViewer?: EifViewerHook };
  let folder: vscode.Uri;
  let fixtures: string;
  let pcrs: Record<string, string>;

  before(async () => {
    const workspace = vscode.workspace.workspaceFolders?.[0];
    assert.ok(workspace, 'the test run opens a workspace folder');
    const extension = vscode.extensions.getExtension<NitroEnclavesApi>(EXTENSION_ID);
    assert.ok(extension);
    api = await extension.activate();
    fixtures = path.join(extension.extensionPath, 'test', 'fixtures');
    const expected = JSON.parse(readFileSync(path.join(fixtures, 'attestation', 'expected.json'), 'utf8'));
    pcrs = expected.documents.find((d: { file: string }) => d.file === 'evervault-2022-10-13-prod.cbor').pcrs;
    folder = vscode.Uri.joinPath(workspace.uri, 'kms-viewers-test');
    await vscode.workspace.fs.createDirectory(folder);
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    if (folder) await vscode.workspace.fs.delete(folder, { recursive: true, useTrash: false });
  });

  async function place(name: string, bytes: Uint8Array | string): Promise<vscode.Uri> {
    const uri = vscode.Uri.joinPath(folder, name);
    await vscode.workspace.fs.writeFile(uri, typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
    return uri;
  }

  it('the Enclave Image Viewer copies the same KMS condition as the tree’s command, for every PCR row', async () => {
    const viewer = api.eifViewer;
    assert.ok(viewer, 'the extension API exposes the Enclave Image Viewer');
    const uri = await place('kms.eif', readFileSync(path.join(fixtures, 'eif', 'synthetic-v4-signed.eif')));
    await vscode.commands.executeCommand('vscode.openWith', uri, EIF_VIEWER);
    const model = await eventually('the image’s view model', () => viewer.modelFor(uri));
    const nodes = (await api.images.getChildren({ kind: 'image', uri })).filter(
      (c): c is Extract<ImageNode, { kind: 'pcr' }> => c.kind === 'pcr',
    );
    for (const pcr of model.measurements.pcrs) {
      const index = Number(pcr.name.slice(3));
      await vscode.env.clipboard.writeText('');
      const answer = await viewer.request(uri, {
        type: 'copyKmsCondition',
        body: { pcr: index, key: index === 0 ? 'ImageSha384' : 'PCR' },
      });
      assert.equal(answer.error, undefined, pcr.name);
      const fromViewer = await vscode.env.clipboard.readText();
      const key = index === 0 ? 'ImageSha384' : pcr.name;
      assert.equal(fromViewer, `"kms:RecipientAttestation:${key}": "${pcr.value}"`);
      const node = nodes.find((n) => n.name === pcr.name);
      assert.ok(node, `the tree shows ${pcr.name}`);
      await vscode.commands.executeCommand(COMMANDS.pcrCopyKmsCondition, node);
      assert.equal(await vscode.env.clipboard.readText(), fromViewer, `${pcr.name}: the tree says the same`);
    }
    await viewer.request(uri, { type: 'copyKmsCondition', body: { pcr: 0, key: 'PCR' } });
    assert.equal(
      await vscode.env.clipboard.readText(),
      `"kms:RecipientAttestation:PCR0": "${model.measurements.pcrs[0]?.value}"`,
      'PCR0 is offered under its own key too',
    );
    const absent = await viewer.request(uri, { type: 'copyKmsCondition', body: { pcr: 3, key: 'PCR' } });
    assert.match(answer(absent.error), /not shown/, 'an image has no PCR3');
    const refused = await viewer.request(uri, { type: 'copyKmsCondition', body: { pcr: 1, key: 'ImageSha384' } });
    assert.match(answer(refused.error), /only PCR0 has the ImageSha384 key/);
  });

  const answer = (text: string | undefined) => text ?? '(no error)';

  it('the attestation panel copies KMS conditions from the document’s PCRs', async () => {
    const uri = await place(
      'doc.cbor',
      readFileSync(path.join(fixtures, 'attestation', 'evervault-2022-10-13-prod.cbor')),
    );
    const panel = await api.attestation.openPanel(uri);
    await eventually('the document’s model', () => api.attestation.modelFor(panel));
    await api.attestation.request(panel, { type: 'copyKmsCondition', body: { pcr: 0, key: 'ImageSha384' } });
    assert.equal(await vscode.env.clipboard.readText(), `"kms:RecipientAttestation:ImageSha384": "${pcrs['0']}"`);
    await api.attestation.request(panel, { type: 'copyKmsCondition', body: { pcr: 2, key: 'PCR' } });
    assert.equal(await vscode.env.clipboard.readText(), `"kms:RecipientAttestation:PCR2": "${pcrs['2']}"`);
    await api.attestation.request(panel, { type: 'copyKmsCondition', body: { pcr: 0, key: 'PCR' } });
    assert.equal(await vscode.env.clipboard.readText(), `"kms:RecipientAttestation:PCR0": "${pcrs['0']}"`);
    panel.dispose();
  });

  it('Would KMS release this key? picks a policy from an open editor, answers allow or deny and why', async () => {
    const role = 'arn:aws:iam::123456789012:role/parent';
    const policyFor = (pcr0: string) =>
      JSON.stringify(
        {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'Enclave',
              Effect: 'Allow',
              Principal: { AWS: role },
              Action: 'kms:Decrypt',
              Resource: '*',
              Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': pcr0 } },
            },
          ],
        },
        null,
        2,
      );
    const uri = await place(
      'doc.cbor',
      readFileSync(path.join(fixtures, 'attestation', 'evervault-2022-10-13-prod.cbor')),
    );
    const policyUri = await place('release-policy.json', policyFor(pcrs['0'] as string));
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(policyUri));
    const panel = await api.attestation.openPanel(uri);
    await eventually('the document’s model', () => api.attestation.modelFor(panel));

    // Choose Policy…: the quick pick offers the open editor first; pick it as a person would.
    const window = vscode.window as { showQuickPick: typeof vscode.window.showQuickPick };
    const original = window.showQuickPick;
    let offered: string[] = [];
    window.showQuickPick = (async (
      items: readonly vscode.QuickPickItem[] | Thenable<readonly vscode.QuickPickItem[]>,
    ) => {
      const list = await items;
      offered = list.map((i) => `${i.label} ${i.description ?? ''}`);
      return list.find((i) => i.label.includes('release-policy.json'));
    }) as unknown as typeof vscode.window.showQuickPick;
    let picked: PickedPolicy;
    try {
      const answer = await api.attestation.request(panel, { type: 'pickPolicy' });
      assert.equal(answer.error, undefined);
      picked = answer.body as PickedPolicy;
    } finally {
      window.showQuickPick = original;
    }
    assert.ok(
      offered.some((o) => o.includes('release-policy.json') && /active editor|open editor/.test(o)),
      offered.join('\n'),
    );
    assert.equal(picked.label, 'release-policy.json');
    assert.equal(picked.text, policyFor(pcrs['0'] as string));

    const dryRun = async (body: Record<string, unknown>) => {
      const answer = await api.attestation.request(panel, { type: 'dryRun', body });
      if (answer.error !== undefined) throw new Error(answer.error);
      return answer.body as DryRunView;
    };
    const allow = await dryRun({
      policy: picked.text,
      policyLabel: picked.label,
      principal: role,
      operation: 'Decrypt',
    });
    assert.equal(allow.decision, 'allow');
    assert.match(
      allow.reasons[0] ?? '',
      /^Statement\[0\] \(Enclave\) Allow applies: StringEqualsIgnoreCase kms:RecipientAttestation:ImageSha384 holds/,
    );
    assert.match(allow.scope, /Dry run of the attestation part of KMS authorization only/);
    assert.match(
      allow.documentInvalid ?? '',
      /^Invalid now/,
      'the document’s certificate has expired: the panel says so',
    );

    const other = await dryRun({
      policy: policyFor('ab'.repeat(48)),
      policyLabel: 'pasted policy',
      operation: 'Decrypt',
    });
    assert.equal(other.decision, 'deny');
    assert.ok(
      other.reasons.some((r) => /ImageSha384 fails/.test(r)),
      other.reasons.join('\n'),
    );
    assert.ok(
      other.notes.some((n) => /no principal given/.test(n)),
      other.notes.join('\n'),
    );

    const random = await dryRun({ policy: picked.text, policyLabel: picked.label, operation: 'GenerateRandom' });
    assert.equal(random.decision, 'deny', 'the policy grants Decrypt only');

    await assert.rejects(
      dryRun({ policy: '{ "Statement": [,] }', policyLabel: 'pasted policy', operation: 'Decrypt' }),
      /^Error: pasted policy:1:17: not JSON: /,
    );
    await assert.rejects(
      dryRun({ policy: picked.text, policyLabel: 'x', operation: 'Encrypt' }),
      /"operation" is not one of Decrypt, GenerateDataKey, GenerateRandom/,
    );
    panel.dispose();
  });
});
