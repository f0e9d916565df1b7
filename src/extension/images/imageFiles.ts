// The workspace's .eif files, found one way for every face: the Enclave Images view and each
// "which image?" quick pick leave out what `nitroEnclaves.images.exclude` and `files.exclude` name.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { SETTINGS } from '../ids';
import { excludeGlob } from './excludeGlob';

/** A search stops after this many images: a workspace with more is not an enclave project. */
export const MAX_IMAGES = 2000;

/** The exclude glob of image searches, from the settings as they are now. */
export function imagesExclude(): string | undefined {
  const config = vscode.workspace.getConfiguration();
  return excludeGlob(
    config.get<unknown[]>(SETTINGS.imagesExclude, []),
    config.get<Record<string, unknown>>('files.exclude'),
  );
}

/** Whether a configuration change changes which files image searches find. */
export function affectsImageSearch(e: vscode.ConfigurationChangeEvent): boolean {
  return e.affectsConfiguration(SETTINGS.imagesExclude) || e.affectsConfiguration('files.exclude');
}

/** The workspace's .eif files (at most MAX_IMAGES, then `truncated`), in the order of their relative paths. */
export async function findImages(): Promise<{ readonly uris: vscode.Uri[]; readonly truncated: boolean }> {
  if (!vscode.workspace.workspaceFolders?.length) return { uris: [], truncated: false };
  const found = await vscode.workspace.findFiles('**/*.eif', imagesExclude(), MAX_IMAGES);
  const uris = found
    .map((uri) => ({ uri, key: vscode.workspace.asRelativePath(uri, true) }))
    .sort((a, b) => a.key.localeCompare(b.key))
    .map(({ uri }) => uri);
  return { uris, truncated: found.length === MAX_IMAGES };
}

export interface PickImageOptions {
  /** The quick pick's and the file dialog's title (`Compare with Enclave Image`). */
  readonly title: string;
  /** The placeholder when the workspace has images (another one says there are none). */
  readonly placeHolder: string;
  /** The file dialog's button (`Compare`, `Run`). */
  readonly openLabel: string;
  /** The image chosen now, marked in the list. */
  readonly current?: vscode.Uri;
  /** The mark of the current image (default `chosen now`). */
  readonly currentDetail?: string;
}

/** Asks for an enclave image: one of the workspace's .eif files, or any file through a file dialog. */
export async function pickImage(options: PickImageOptions): Promise<vscode.Uri | undefined> {
  type Item = vscode.QuickPickItem & { readonly uri?: vscode.Uri; readonly browse?: true };
  const { uris } = await findImages();
  const items: Item[] = uris.map((uri) => {
    const dir = path.posix.dirname(vscode.workspace.asRelativePath(uri));
    return {
      label: `$(file-binary) ${path.posix.basename(uri.path)}`,
      ...(dir !== '.' ? { description: dir } : {}),
      ...(options.current?.toString() === uri.toString() ? { detail: options.currentDetail ?? 'chosen now' } : {}),
      uri,
    };
  });
  if (items.length > 0) items.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
  items.push({
    label: vscode.l10n.t('$(folder-opened) Browse…'),
    description: vscode.l10n.t('an .eif file anywhere'),
    browse: true,
  });
  const picked = await vscode.window.showQuickPick(items, {
    title: options.title,
    placeHolder:
      uris.length > 0 ? options.placeHolder : vscode.l10n.t('No .eif files in the workspace: browse for one'),
    matchOnDescription: true,
  });
  if (!picked) return undefined;
  if (picked.uri) return picked.uri;
  const chosen = await vscode.window.showOpenDialog({
    canSelectMany: false,
    openLabel: options.openLabel,
    title: options.title,
    filters: { [vscode.l10n.t('Enclave images')]: ['eif'], [vscode.l10n.t('All files')]: ['*'] },
  });
  return chosen?.[0];
}
