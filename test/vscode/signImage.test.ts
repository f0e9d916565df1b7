// Sign Image…, Compute PCR8 from Certificate… and the Enclave Image Viewer's image actions, in a real
// VS Code extension host. The certificate and key are made here with the openssl CLI (as the unit
// tests of signing make theirs); PCR8 is checked against `nitro-dev pcr --signing-certificate`.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { eventually } from './util';
import type { SignImageResult } from '../../src/extension/commands/signImage';
import type { NitroEnclavesApi } from '../../src/extension/extension';
import { COMMANDS, EIF_VIEWER, EXTENSION_ID } from '../../src/extension/ids';

type Window = {
  showOpenDialog: typeof vscode.window.showOpenDialog;
  showWarningMessage: (message: string, ...rest: unknown[]) => Thenable<unknown>;
  showInformationMessage: (message: string, ...rest: unknown[]) => Thenable<unknown>;
};

describe('Sign Image, Compute PCR8 and the Enclave Image Viewer actions (real VS Code extension host)', function () {
  this.timeout(180_000);
  let api: NitroEnclavesApi;
  let extensionPath: string;
  let folder: vscode.Uri;

  before(async () => {
    const workspace = vscode.workspace.workspaceFolders?.[0];
    assert.ok(workspace, 'the test run opens a workspace folder');
    const extension = vscode.extensions.getExtension<NitroEnclavesApi>(EXTENSION_ID);
    assert.ok(extension);
    api = await extension.activate();
    extensionPath = extension.extensionPath;
    folder = vscode.Uri.joinPath(workspace.uri, 'sign-image-test');
    await vscode.workspace.fs.createDirectory(folder);
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    if (folder) await vscode.workspace.fs.delete(folder, { recursive: true, useTrash: false });
  });

  /** A P-384 key and a self-signed certificate valid for `days` days, made by the openssl CLI. */
  function signer(name: string, days: number): { certificate: vscode.Uri; privateKey: vscode.Uri } {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const key = path.join(folder.fsPath, `${name}.key.pem`);
    writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const cert = path.join(folder.fsPath, `${name}.cert.pem`);
    const r = spawnSync(
      'openssl',
      ['req', '-x509', '-new', '-key', key, '-subj', `/CN=${name}`, '-days', String(days), '-out', cert],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, `openssl req: ${r.stderr}`);
    return { certificate: vscode.Uri.file(cert), privateKey: vscode.Uri.file(key) };
  }

  /** `nitro-dev pcr --signing-certificate FILE`'s PCR value (the CLI of this build). */
  function cliPcr8(cert: vscode.Uri): string {
    const r = spawnSync(
      process.execPath,
      [path.join(extensionPath, 'dist', 'cli.js'), 'pcr', '--signing-certificate', cert.fsPath],
      { encoding: 'utf8', env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } },
    );
    assert.equal(r.status, 0, `nitro-dev pcr: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { PCR8: string }).PCR8;
  }

  async function unsignedImage(name: string): Promise<vscode.Uri> {
    const uri = vscode.Uri.joinPath(folder, name);
    await vscode.workspace.fs.writeFile(
      uri,
      new Uint8Array(readFileSync(path.join(extensionPath, 'test', 'fixtures', 'eif', 'synthetic-v4-unsigned.eif'))),
    );
    return uri;
  }

  /** Runs `body` with the window's dialogs and messages answered by `fake`, restoring them after. */
  async function withWindow<T>(fake: Partial<Window>, body: () => Thenable<T>): Promise<T> {
    const window = vscode.window as unknown as Window;
    const saved = { ...window };
    Object.assign(window, fake);
    try {
      return await body();
    } finally {
      window.showOpenDialog = saved.showOpenDialog;
      window.showWarningMessage = saved.showWarningMessage;
      window.showInformationMessage = saved.showInformationMessage;
    }
  }

  it('Sign Image... on an image: picks the certificate, then the key, signs in place, and PCR8 appears', async () => {
    const image = await unsignedImage('picked.eif');
    const { certificate, privateKey } = signer('year', 365);
    const asked: string[] = [];
    const warnings: string[] = [];
    const result = await withWindow(
      {
        showOpenDialog: async (options) => {
          asked.push(options?.title ?? '');
          return [asked.length === 1 ? certificate : privateKey];
        },
        showWarningMessage: async (message: string) => void warnings.push(message),
        showInformationMessage: async () => undefined,
      },
      () => vscode.commands.executeCommand<SignImageResult | undefined>(COMMANDS.imageSign, image),
    );
    assert.ok(result, 'Sign Image returned its result');
    assert.equal(asked.length, 2);
    assert.match(asked[0] ?? '', /\(1\/2\): the signing certificate/);
    assert.match(asked[1] ?? '', /\(2\/2\): the certificate's private key/);
    assert.deepEqual(warnings, [], 'no warning for a certificate valid for a year');
    assert.equal(result.pcr8, cliPcr8(certificate), 'PCR8 is what nitro-dev pcr --signing-certificate says');
    assert.equal(result.expiryWarning, undefined);
    // The image on disk is signed: measured again, it has the same PCR8 (and its PCR0 is unchanged).
    const inspection = await api.images.service.inspect(image);
    assert.equal(inspection.measurements.PCR8, result.pcr8);
    const unsigned = await api.images.service.inspect(await unsignedImage('reference.eif'));
    assert.equal(inspection.measurements.PCR0, unsigned.measurements.PCR0);
    // The Images view shows the new PCR8 under the image.
    const children = await api.images.getChildren({ kind: 'image', uri: image });
    const pcr8 = children.find((c) => c.kind === 'pcr' && c.name === 'PCR8');
    assert.ok(pcr8 && pcr8.kind === 'pcr' && pcr8.value === result.pcr8, 'PCR8 is in the Images view');
  });

  it('warns when the certificate expires within 30 days, when signing and in the viewer', async () => {
    const image = await unsignedImage('soon.eif');
    const soon = signer('soon', 10);
    const warnings: string[] = [];
    const result = await withWindow(
      {
        showWarningMessage: async (message: string) => void warnings.push(message),
        showInformationMessage: async () => undefined,
      },
      () => vscode.commands.executeCommand<SignImageResult | undefined>(COMMANDS.imageSign, image, soon),
    );
    assert.ok(result);
    assert.match(result.expiryWarning ?? '', /The signing certificate expires in 10 days/);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /^soon\.eif: The signing certificate expires in 10 days \(on \d{4}-\d{2}-\d{2}\)/);
    assert.equal(result.pcr8, cliPcr8(soon.certificate));

    await vscode.commands.executeCommand('vscode.openWith', image, EIF_VIEWER);
    const model = await eventually('the viewer to show the signed image', () => api.eifViewer.modelFor(image));
    assert.ok(model.signature?.ok);
    assert.equal(model.signature.certificateValidNow, true);
    assert.deepEqual(
      { state: model.signature.expiryWarning?.state, days: model.signature.expiryWarning?.days },
      { state: 'expires-soon', days: 10 },
    );
    assert.equal(model.measurements.pcrs.find((p) => p.name === 'PCR8')?.value, result.pcr8);
  });

  it('Compute PCR8 from Certificate... is nitro-dev pcr --signing-certificate, asking no kind', async () => {
    const { certificate } = signer('pcr8', 30);
    const result = await withWindow({ showInformationMessage: async () => undefined }, () =>
      vscode.commands.executeCommand<{ key: string; value: string }>(COMMANDS.certificateComputePcr, certificate),
    );
    assert.deepEqual({ key: result?.key, value: result?.value }, { key: 'PCR8', value: cliPcr8(certificate) });
  });

  it("the viewer's Run, Sign and KMS Policy buttons run their commands on the viewer's own file", async () => {
    const image = await unsignedImage('actions.eif');
    await vscode.commands.executeCommand('vscode.openWith', image, EIF_VIEWER);
    await eventually('the viewer to show actions.eif', () => api.eifViewer.modelFor(image));
    const commands = vscode.commands as { executeCommand: typeof vscode.commands.executeCommand };
    const original = commands.executeCommand;
    const calls: [string, unknown[]][] = [];
    const watched = new Set<string>([COMMANDS.enclaveRun, COMMANDS.imageSign, COMMANDS.kmsGeneratePolicy]);
    commands.executeCommand = (async (id: string, ...args: unknown[]) => {
      if (watched.has(id)) {
        calls.push([id, args]);
        return undefined;
      }
      return original(id, ...args);
    }) as typeof vscode.commands.executeCommand;
    try {
      for (const type of ['run', 'sign', 'kmsPolicy']) {
        const answer = await api.eifViewer.request(image, { type });
        assert.equal(answer.error, undefined, `${type}: ${answer.error}`);
      }
      // A webview cannot name another file.
      const refused = await api.eifViewer.request(image, { type: 'sign', body: { uri: 'file:///etc/passwd' } });
      assert.match(refused.error ?? '', /takes no body/);
    } finally {
      commands.executeCommand = original;
    }
    assert.deepEqual(
      calls.map(([id, args]) => [id, args.length, (args[0] as vscode.Uri).toString()]),
      [
        [COMMANDS.enclaveRun, 1, image.toString()],
        [COMMANDS.imageSign, 1, image.toString()],
        [COMMANDS.kmsGeneratePolicy, 1, image.toString()],
      ],
    );
  });
});
