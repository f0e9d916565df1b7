import * as vscode from 'vscode';
import { CancelledError, EifFormatError, IMAGE_PCRS, type EifInspection, type EifSection } from '../../engine';
import { CONTEXT_VALUES } from '../ids';
import type { EifService } from '../images/eifService';
import { MAX_IMAGES, affectsImageSearch, findImages } from '../images/imageFiles';
import { readEifHeader } from '../../engine/node';
import { hexLines, imageHeaderText } from './nodeText';
import { pcrTreeItem } from './pcrItem';

export type ImageNode =
  | { readonly kind: 'image'; readonly uri: vscode.Uri }
  | { readonly kind: 'pcr'; readonly uri: vscode.Uri; readonly name: string; readonly value: string }
  | { readonly kind: 'sections'; readonly uri: vscode.Uri; readonly sections: readonly EifSection[] }
  | { readonly kind: 'section'; readonly uri: vscode.Uri; readonly section: EifSection }
  | {
      readonly kind: 'message';
      readonly uri: vscode.Uri;
      readonly text: string;
      readonly detail: string;
      readonly severity: 'error' | 'warning' | 'info';
    };

/** Back-compat name for the image element. */
export type ImageEntry = Extract<ImageNode, { kind: 'image' }>;

/** How long file-system events are collected before the view refreshes. */
const REFRESH_DEBOUNCE_MS = 300;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** The PCR nodes of an inspection, in nitro-cli's order. */
export function pcrNodes(uri: vscode.Uri, inspection: EifInspection): ImageNode[] {
  const m = inspection.measurements;
  return IMAGE_PCRS.filter((k) => m[k] !== undefined).map((name) => ({
    kind: 'pcr',
    uri,
    name,
    value: m[name] as string,
  }));
}

/** The "Enclave Images" view: the workspace's `.eif` files with their PCRs and sections. */
export class ImagesTreeProvider implements vscode.TreeDataProvider<ImageNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ImageNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The image nodes last listed, by URI: the same object each time, so that `reveal` finds them. */
  private imageNodes = new Map<string, ImageEntry>();
  /**
   * What the header of each listed image says (its first 548 bytes, read when the row is first
   * drawn): its architecture and version before the image is measured; `malformed` when unreadable.
   */
  private readonly headers = new Map<string, string>();
  private view: vscode.TreeView<ImageNode> | undefined;

  constructor(
    private readonly log: vscode.LogOutputChannel,
    readonly service: EifService,
  ) {
    const watcher = vscode.workspace.createFileSystemWatcher('**/*.eif');
    this.disposables.push(
      watcher,
      watcher.onDidCreate(() => this.scheduleRefresh()),
      watcher.onDidDelete((uri) => {
        this.headers.delete(uri.toString());
        service.invalidate(uri);
        this.scheduleRefresh();
      }),
      watcher.onDidChange((uri) => {
        this.headers.delete(uri.toString());
        void service.invalidateIfChanged(uri);
        this.scheduleRefresh();
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.refresh()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (affectsImageSearch(e)) this.refresh();
      }),
    );
  }

  getTreeItem(node: ImageNode): vscode.TreeItem {
    switch (node.kind) {
      case 'image':
        return this.imageItem(node);
      case 'pcr':
        return pcrTreeItem({
          id: `pcr:${node.uri.toString()}:${node.name}`,
          name: node.name,
          value: node.value,
          contextValue: CONTEXT_VALUES.pcr,
          contents: true,
        });
      case 'sections': {
        const item = new vscode.TreeItem(vscode.l10n.t('Sections'), vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `sections:${node.uri.toString()}`;
        item.description = String(node.sections.length);
        item.iconPath = new vscode.ThemeIcon('list-tree');
        item.contextValue = CONTEXT_VALUES.sectionGroup;
        return item;
      }
      case 'section': {
        const s = node.section;
        const item = new vscode.TreeItem(`${s.index}: ${s.typeName}`, vscode.TreeItemCollapsibleState.None);
        item.id = `section:${node.uri.toString()}:${s.index}`;
        item.description = vscode.l10n.t('{0} at {1}', formatBytes(s.size), s.dataOffset);
        item.tooltip = vscode.l10n.t(
          '{0} section {1}\nheader at byte {2}, data at byte {3}\n{4} bytes',
          s.typeName,
          s.index,
          s.headerOffset,
          s.dataOffset,
          s.size,
        );
        item.iconPath = new vscode.ThemeIcon(
          s.typeName === 'signature' ? 'verified' : s.typeName === 'metadata' ? 'json' : 'symbol-field',
        );
        item.contextValue = CONTEXT_VALUES.section;
        return item;
      }
      case 'message': {
        const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
        item.tooltip = node.detail;
        item.iconPath = new vscode.ThemeIcon(
          node.severity === 'error' ? 'error' : node.severity === 'warning' ? 'warning' : 'info',
          node.severity === 'error'
            ? new vscode.ThemeColor('errorForeground')
            : node.severity === 'warning'
              ? new vscode.ThemeColor('editorWarning.foreground')
              : undefined,
        );
        return item;
      }
    }
  }

  private imageItem(node: ImageEntry): vscode.TreeItem {
    const { uri } = node;
    const item = new vscode.TreeItem(uri, vscode.TreeItemCollapsibleState.Collapsed);
    item.id = `image:${uri.toString()}`;
    const relative = vscode.workspace.asRelativePath(uri, (vscode.workspace.workspaceFolders?.length ?? 0) > 1);
    const dir = relative.includes('/') ? relative.slice(0, relative.lastIndexOf('/')) : '';
    const known = this.service.peek(uri);
    const facts: string[] = [];
    if (known?.ok) {
      const h = known.value.layout.header;
      facts.push(
        imageHeaderText(h),
        known.value.signature?.certificate ? vscode.l10n.t('signed') : vscode.l10n.t('unsigned'),
      );
      if (!known.value.crc.ok) facts.push(vscode.l10n.t('CRC mismatch'));
    } else if (known && !known.ok && !(known.error instanceof CancelledError)) {
      facts.push(vscode.l10n.t('malformed'));
    } else {
      // Not measured yet: its header alone says the architecture and version.
      const header = this.headerOf(node);
      if (header !== undefined) facts.push(header);
    }
    item.description = [dir, facts.join(' · ')].filter(Boolean).join('  ');
    const tip = new vscode.MarkdownString();
    tip.appendText(relative);
    if (known?.ok) {
      tip.appendMarkdown(`\n\n${vscode.l10n.t('PCR0 (the image):')}`);
      // A hover does not wrap a code block: the 96 digits as two lines, shown whole.
      tip.appendCodeblock(hexLines(known.value.measurements.PCR0 ?? ''), 'text');
    }
    item.tooltip = tip;
    item.iconPath = new vscode.ThemeIcon('file-binary');
    const malformed =
      (known && !known.ok && !(known.error instanceof CancelledError)) ||
      (!known && this.headers.get(uri.toString()) === 'malformed');
    item.contextValue = malformed ? CONTEXT_VALUES.brokenImage : CONTEXT_VALUES.image;
    item.command = { command: 'vscode.open', title: vscode.l10n.t('Open'), arguments: [uri] };
    return item;
  }

  /** The header text of an image, read (once per file version) the first time it is asked for. */
  private headerOf(node: ImageEntry): string | undefined {
    const key = node.uri.toString();
    const known = this.headers.get(key);
    if (known === 'reading') return undefined;
    if (known !== undefined) return known;
    if (node.uri.scheme !== 'file') return undefined;
    this.headers.set(key, 'reading');
    readEifHeader(node.uri.fsPath).then(
      (h) => this.headerRead(node, imageHeaderText(h)),
      () => this.headerRead(node, 'malformed'),
    );
    return undefined;
  }

  private headerRead(node: ImageEntry, text: string): void {
    const key = node.uri.toString();
    if (this.headers.get(key) !== 'reading') return; // the file changed meanwhile: it is read again
    this.headers.set(key, text);
    if (this.imageNodes.get(key) === node) this.changed.fire(node);
  }

  /** The node above a node (for `reveal`): an image's children sit under its node. */
  getParent(node: ImageNode): ImageNode | undefined {
    if (node.kind === 'image') return undefined;
    if (node.kind === 'section') {
      const sections = this.service.peek(node.uri);
      if (sections?.ok) return { kind: 'sections', uri: node.uri, sections: sections.value.layout.sections };
    }
    return this.imageNodes.get(node.uri.toString());
  }

  /**
   * Follows the active editor, as the Explorer does: when an .eif file's editor (the Enclave Image
   * Viewer, or any other) becomes active while the view is shown, its image is revealed and selected.
   */
  attach(view: vscode.TreeView<ImageNode>): void {
    this.view = view;
    this.disposables.push(
      vscode.window.tabGroups.onDidChangeTabs(() => void this.revealActive()),
      vscode.window.tabGroups.onDidChangeTabGroups(() => void this.revealActive()),
      view.onDidChangeVisibility((e) => e.visible && void this.revealActive()),
    );
  }

  /** What the view has selected (for tests). */
  get selection(): readonly ImageNode[] {
    return this.view?.selection ?? [];
  }

  /** The .eif file of the active editor tab, if any. */
  static activeImage(): vscode.Uri | undefined {
    const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    const uri = input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText ? input.uri : undefined;
    return uri && uri.path.endsWith('.eif') ? uri : undefined;
  }

  /** Reveals and selects the active editor's image; resolves to its node, or undefined when not shown. */
  async revealActive(): Promise<ImageEntry | undefined> {
    const view = this.view;
    const uri = ImagesTreeProvider.activeImage();
    if (!view?.visible || !uri) return undefined;
    // A file new since the view last listed (or never listed) is looked for once more.
    if (!this.imageNodes.has(uri.toString())) await this.images();
    const node = this.imageNodes.get(uri.toString());
    if (!node) return undefined;
    const selected = view.selection[0];
    if (selected?.kind === 'image' && selected.uri.toString() === uri.toString()) return node;
    try {
      await view.reveal(node, { select: true, focus: false, expand: false });
    } catch (e) {
      this.log.debug(`Enclave Images: cannot reveal ${uri.fsPath}: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
    return node;
  }

  async getChildren(element?: ImageNode): Promise<ImageNode[]> {
    if (!element) return this.images();
    if (element.kind === 'sections')
      return element.sections.map((section) => ({ kind: 'section', uri: element.uri, section }));
    if (element.kind !== 'image') return [];
    const { uri } = element;
    // The image item's description and context value show the result: redraw it once, when this
    // call is the one that measured the file (the redraw finds it measured and does not loop).
    const firstTime = this.service.peek(uri) === undefined;
    try {
      const inspection = await this.service.inspect(uri);
      if (firstTime) queueMicrotask(() => this.changed.fire(element));
      const nodes: ImageNode[] = [];
      for (const p of inspection.layout.problems.filter((p) => p.severity === 'error')) {
        nodes.push({
          kind: 'message',
          uri,
          text: p.message,
          detail: vscode.l10n.t('{0}\n(at byte {1}; rule: {2})', p.message, p.offset, p.code),
          severity: 'error',
        });
      }
      if ('error' in inspection.describe) {
        const e = inspection.describe.error;
        nodes.push({ kind: 'message', uri, text: e.message, detail: e.message, severity: 'error' });
      }
      if (!inspection.crc.ok) {
        const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
        nodes.push({
          kind: 'message',
          uri,
          text: `CRC mismatch: stored ${hex(inspection.crc.stored)}, computed ${hex(inspection.crc.computed)}`,
          detail: vscode.l10n.t("The header's CRC-32 does not match the file's contents."),
          severity: 'warning',
        });
      }
      nodes.push(...pcrNodes(uri, inspection), { kind: 'sections', uri, sections: inspection.layout.sections });
      return nodes;
    } catch (e) {
      if (e instanceof CancelledError) {
        return [
          {
            kind: 'message',
            uri,
            text: 'Not measured (cancelled)',
            detail: vscode.l10n.t('Collapse and expand the image, or refresh the view, to measure it.'),
            severity: 'info',
          },
        ];
      }
      if (firstTime) queueMicrotask(() => this.changed.fire(element));
      const text =
        e instanceof EifFormatError
          ? e.message
          : `Cannot read the image: ${e instanceof Error ? e.message : String(e)}`;
      return [{ kind: 'message', uri, text, detail: text, severity: 'error' }];
    }
  }

  private async images(): Promise<ImageNode[]> {
    const { uris, truncated } = await findImages();
    if (truncated) this.log.warn(`Enclave Images: showing the first ${MAX_IMAGES} .eif files only`);
    const nodes = new Map<string, ImageEntry>();
    for (const uri of uris) nodes.set(uri.toString(), this.imageNodes.get(uri.toString()) ?? { kind: 'image', uri });
    this.imageNodes = nodes;
    return [...nodes.values()];
  }

  refresh(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.headers.clear();
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
