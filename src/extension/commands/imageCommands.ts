import * as path from 'node:path';
import * as vscode from 'vscode';
import type { DescribeDocuments } from './describeDocuments';
import { formatJson, nodeHashesPcr } from './pcrHelpers';
import type { EifService } from '../images/eifService';
import type { ImageNode } from '../tree/imagesTree';
import type { ParentNode } from '../tree/parentsTree';

type EnclavePcrNode = Extract<ParentNode, { kind: 'pcr' }>;

/** The image a command was invoked on: a tree node, an Explorer URI, or the active editor's file. */
export function targetUri(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  if (arg && typeof arg === 'object' && 'uri' in arg && arg.uri instanceof vscode.Uri)
    return (arg as { uri: vscode.Uri }).uri;
  const tab = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (tab instanceof vscode.TabInputCustom || tab instanceof vscode.TabInputText) {
    if (tab.uri.path.endsWith('.eif')) return tab.uri;
  }
  return undefined;
}

/** The .eif picker of the image commands (when not invoked on an image). */
export async function pickEif(title: string, openLabel = 'Describe'): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title,
    canSelectMany: false,
    openLabel,
    filters: { [vscode.l10n.t('Enclave images')]: ['eif'], [vscode.l10n.t('All files')]: ['*'] },
    ...(vscode.workspace.workspaceFolders?.[0] ? { defaultUri: vscode.workspace.workspaceFolders[0].uri } : {}),
  });
  return picked?.[0];
}

/** Describe Enclave Image…: nitro-cli's describe-eif JSON in a read-only JSON editor. */
export async function describeImage(
  service: EifService,
  documents: DescribeDocuments,
  arg?: unknown,
): Promise<vscode.TextDocument | undefined> {
  const uri = targetUri(arg) ?? (await pickEif(vscode.l10n.t('Describe Enclave Image')));
  if (!uri) return undefined;
  const inspection = await service.inspect(uri);
  if ('error' in inspection.describe) {
    const e = inspection.describe.error;
    const open = vscode.l10n.t('Open in Viewer');
    void vscode.window
      .showErrorMessage(
        vscode.l10n.t("{0}: nitro-cli's describe-eif would fail with E35: {1}", path.basename(uri.fsPath), e.message),
        open,
      )
      .then((choice) => {
        if (choice === open) void vscode.commands.executeCommand('vscode.open', uri);
      });
    return undefined;
  }
  return documents.show(
    `${path.basename(uri.fsPath)}.describe.json`,
    uri.toString(),
    formatJson(inspection.describe.json),
  );
}

/** Puts `text` on the clipboard and says so in the status bar. */
export async function copy(text: string, what: string): Promise<string> {
  await vscode.env.clipboard.writeText(text);
  vscode.window.setStatusBarMessage(vscode.l10n.t('$(copy) Copied {0}', what), 3000);
  return text;
}

/**
 * Copy PCR (on a PCR node of an image in Enclave Images, or of an enclave in Parent Instances): the
 * 96-hex value.
 */
export async function copyPcr(node?: ImageNode | EnclavePcrNode): Promise<string | undefined> {
  if (!node || node.kind !== 'pcr') return undefined;
  const of = 'uri' in node ? path.basename(node.uri.fsPath) : `enclave ${node.enclave.EnclaveName}`;
  return copy(node.value, vscode.l10n.t('{0} of {1}', node.name, of));
}

/** Copy All PCRs as JSON: nitro-cli's `Measurements` object. */
export async function copyAllPcrs(service: EifService, arg?: unknown): Promise<string | undefined> {
  const uri = targetUri(arg);
  if (!uri) return undefined;
  const inspection = await service.inspect(uri);
  return copy(formatJson(inspection.measurements), vscode.l10n.t('the PCRs of {0}', path.basename(uri.fsPath)));
}

/**
 * Compute PCR of File…: nitro-cli's `pcr --input` or `pcr --signing-certificate`. With `only`
 * ("Compute PCR8 from Certificate…") the kind is fixed and not asked.
 */
export async function computePcr(
  arg?: unknown,
  only?: 'certificate',
): Promise<{ key: 'PCR' | 'PCR8'; value: string; uri: vscode.Uri } | undefined> {
  let uri = arg instanceof vscode.Uri ? arg : undefined;
  let kind: 'file' | 'certificate' | undefined =
    only ?? (uri ? (/\.(pem|crt|cer)$/i.test(uri.path) ? 'certificate' : 'file') : undefined);
  if (!kind) {
    const choice = await vscode.window.showQuickPick(
      [
        {
          label: vscode.l10n.t('PCR of a file'),
          description: 'nitro-cli pcr --input',
          detail: vscode.l10n.t("SHA-384 extend of the file's bytes, e.g. a ramdisk to compare with PCR2"),
          target: 'file' as const,
        },
        {
          label: vscode.l10n.t('PCR8 of a signing certificate'),
          description: 'nitro-cli pcr --signing-certificate',
          detail: vscode.l10n.t('The PCR8 that images signed with this PEM certificate have'),
          target: 'certificate' as const,
        },
      ],
      { title: vscode.l10n.t('Compute PCR') },
    );
    if (!choice) return undefined;
    kind = choice.target;
  }
  if (!uri) {
    const picked = await vscode.window.showOpenDialog({
      title:
        kind === 'file'
          ? vscode.l10n.t('Compute the PCR of a file')
          : vscode.l10n.t('Compute PCR8 of a signing certificate'),
      canSelectMany: false,
      ...(kind === 'certificate'
        ? { filters: { [vscode.l10n.t('Certificates')]: ['pem', 'crt', 'cer'], [vscode.l10n.t('All files')]: ['*'] } }
        : {}),
    });
    uri = picked?.[0];
    if (!uri) return undefined;
  }
  const target = uri;
  const value = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: vscode.l10n.t('Computing the PCR of {0}', path.basename(target.fsPath)),
      cancellable: true,
    },
    (_progress, token) => nodeHashesPcr(target.fsPath, kind === 'certificate' ? 'certificate' : 'file', token),
  );
  const key = kind === 'certificate' ? 'PCR8' : 'PCR';
  void vscode.window
    .showInformationMessage(
      vscode.l10n.t('{0} of {1}: {2}', key, path.basename(target.fsPath), value),
      vscode.l10n.t('Copy'),
    )
    .then((c) => {
      if (c) void copy(value, key);
    });
  return { key, value, uri: target };
}
