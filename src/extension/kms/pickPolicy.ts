// Choosing a key policy for the Attestation Document Viewer's dry run: the JSON documents open in
// editors (the one last active first, unsaved edits included), the workspace's JSON files that look
// like key policies, or any file from a dialog. The text goes to the webview, which shows it in its
// policy field, where it can still be edited.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { MAX_POLICY_TEXT } from '../../engine';
import type { PickedPolicy } from '../../shared/attestationViewer';
import { looksLikeKeyPolicy } from './keyPolicyText';

/** How many workspace JSON files are looked at for key policies. */
const MAX_FILES = 200;

/** The last text editor that was active (a webview's focus leaves activeTextEditor undefined). */
let lastEditor: vscode.TextDocument | undefined;

/** Follows the active text editor, so the picker can offer the one last used first. */
export function trackActiveEditor(): vscode.Disposable {
  lastEditor = vscode.window.activeTextEditor?.document;
  return vscode.window.onDidChangeActiveTextEditor((e) => {
    if (e) lastEditor = e.document;
  });
}

const isJson = (d: vscode.TextDocument) =>
  d.languageId === 'json' || d.languageId === 'jsonc' || /\.json$/i.test(d.uri.path);

type Item = vscode.QuickPickItem & { readonly load?: () => Promise<PickedPolicy> };

function label(uri: vscode.Uri): string {
  return path.posix.basename(uri.path) || uri.toString(true);
}

async function readPolicyFile(uri: vscode.Uri): Promise<PickedPolicy> {
  const stat = await vscode.workspace.fs.stat(uri);
  if (stat.size > MAX_POLICY_TEXT * 4)
    throw new Error(vscode.l10n.t('{0} is {1} bytes: a KMS key policy is at most 32768 bytes', label(uri), stat.size));
  return { label: label(uri), text: new TextDecoder().decode(await vscode.workspace.fs.readFile(uri)) };
}

/** Asks which key policy to dry-run; undefined when the person cancels. */
export async function pickPolicy(): Promise<PickedPolicy | undefined> {
  const open = vscode.workspace.textDocuments.filter((d) => isJson(d) && d.uri.scheme !== 'output');
  open.sort((a, b) => Number(b === lastEditor) - Number(a === lastEditor));
  const items: Item[] = open.map((d) => ({
    label: `$(file-code) ${label(d.uri)}`,
    description: d === lastEditor ? vscode.l10n.t('active editor') : vscode.l10n.t('open editor'),
    detail: d.uri.scheme === 'file' ? vscode.workspace.asRelativePath(d.uri) : d.uri.toString(true),
    load: async () => ({ label: label(d.uri), text: d.getText() }),
  }));
  const openKeys = new Set(open.map((d) => d.uri.toString()));
  const files = await vscode.workspace.findFiles('**/*.json', '**/node_modules/**', MAX_FILES);
  const policies: Item[] = [];
  for (const uri of files) {
    if (openKeys.has(uri.toString())) continue;
    try {
      const stat = await vscode.workspace.fs.stat(uri);
      if (stat.size > MAX_POLICY_TEXT) continue;
      if (!looksLikeKeyPolicy(new TextDecoder().decode(await vscode.workspace.fs.readFile(uri)))) continue;
    } catch {
      continue;
    }
    policies.push({
      label: `$(json) ${label(uri)}`,
      description: vscode.l10n.t('key policy'),
      detail: vscode.workspace.asRelativePath(uri),
      load: () => readPolicyFile(uri),
    });
  }
  policies.sort((a, b) => (a.detail ?? '').localeCompare(b.detail ?? ''));
  const browse: Item = {
    label: vscode.l10n.t('$(folder-opened) Browse…'),
    description: vscode.l10n.t('a JSON file anywhere'),
  };
  const picked = await vscode.window.showQuickPick<Item>(
    [
      ...(items.length
        ? [{ label: vscode.l10n.t('Open editors'), kind: vscode.QuickPickItemKind.Separator }, ...items]
        : []),
      ...(policies.length
        ? [
            { label: vscode.l10n.t('Key policies in the workspace'), kind: vscode.QuickPickItemKind.Separator },
            ...policies,
          ]
        : []),
      { label: '', kind: vscode.QuickPickItemKind.Separator },
      browse,
    ],
    {
      title: vscode.l10n.t('Would KMS Release This Key? Choose the Key Policy'),
      placeHolder: vscode.l10n.t('A KMS key policy (JSON): an open editor, a workspace file, or Browse…'),
      matchOnDetail: true,
    },
  );
  if (!picked) return undefined;
  if (picked.load) return picked.load();
  const [uri] =
    (await vscode.window.showOpenDialog({
      title: vscode.l10n.t('Key Policy to Dry-Run'),
      openLabel: vscode.l10n.t('Use Policy'),
      canSelectMany: false,
      filters: { [vscode.l10n.t('JSON files')]: ['json'], [vscode.l10n.t('All files')]: ['*'] },
    })) ?? [];
  return uri ? readPolicyFile(uri) : undefined;
}
