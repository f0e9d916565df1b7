import * as vscode from 'vscode';
import { CONTEXT_VALUES, SETTINGS } from '../ids';

export interface ImageEntry {
  readonly uri: vscode.Uri;
}

/** How long file-system events are collected before the view refreshes. */
const REFRESH_DEBOUNCE_MS = 300;
/** findFiles stops after this many results: a workspace with more is not an enclave project. */
const MAX_IMAGES = 2000;

/** The "Enclave Images" view: the workspace's `.eif` files, kept current by a file watcher. */
export class ImagesTreeProvider implements vscode.TreeDataProvider<ImageEntry>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ImageEntry | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly log: vscode.LogOutputChannel) {
    const watcher = vscode.workspace.createFileSystemWatcher('**/*.eif', false, true, false);
    this.disposables.push(
      watcher,
      watcher.onDidCreate(() => this.scheduleRefresh()),
      watcher.onDidDelete(() => this.scheduleRefresh()),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.refresh()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(SETTINGS.imagesExclude) || e.affectsConfiguration('files.exclude')) this.refresh();
      }),
    );
  }

  getTreeItem(entry: ImageEntry): vscode.TreeItem {
    const item = new vscode.TreeItem(entry.uri, vscode.TreeItemCollapsibleState.None);
    item.id = `image:${entry.uri.toString()}`;
    const relative = vscode.workspace.asRelativePath(entry.uri, (vscode.workspace.workspaceFolders?.length ?? 0) > 1);
    const dir = relative.includes('/') ? relative.slice(0, relative.lastIndexOf('/')) : '';
    item.description = dir;
    item.tooltip = relative;
    item.iconPath = new vscode.ThemeIcon('file-binary');
    item.contextValue = CONTEXT_VALUES.image;
    return item;
  }

  async getChildren(element?: ImageEntry): Promise<ImageEntry[]> {
    if (element || !vscode.workspace.workspaceFolders?.length) return [];
    const patterns = vscode.workspace.getConfiguration().get<string[]>(SETTINGS.imagesExclude, []);
    const exclude = patterns.length === 0 ? undefined : patterns.length === 1 ? patterns[0] : `{${patterns.join(',')}}`;
    const uris = await vscode.workspace.findFiles('**/*.eif', exclude, MAX_IMAGES);
    if (uris.length === MAX_IMAGES) {
      this.log.warn(`Enclave Images: showing the first ${MAX_IMAGES} .eif files only`);
    }
    return uris
      .map((uri) => ({ uri, key: vscode.workspace.asRelativePath(uri, true) }))
      .sort((a, b) => a.key.localeCompare(b.key))
      .map(({ uri }) => ({ uri }));
  }

  refresh(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.changed.fire(undefined);
  }

  private scheduleRefresh(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), REFRESH_DEBOUNCE_MS);
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
