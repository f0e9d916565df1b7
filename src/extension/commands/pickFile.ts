import * as vscode from 'vscode';

/** One file from an open dialog (in the first workspace folder, with an "All files" filter too), or undefined. */
export async function pickFile(
  title: string,
  openLabel: string,
  filters: Record<string, string[]>,
): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title,
    openLabel,
    canSelectMany: false,
    filters: { ...filters, [vscode.l10n.t('All files')]: ['*'] },
    ...(vscode.workspace.workspaceFolders?.[0] ? { defaultUri: vscode.workspace.workspaceFolders[0].uri } : {}),
  });
  return picked?.[0];
}
