import * as vscode from 'vscode';
import { CancelledError, EifFormatError, IMAGE_PCRS, type EifInspection, type EifSection } from '../../engine';
import { CONTEXT_VALUES } from '../ids';
import type { EifService } from '../images/eifService';
import { MAX_IMAGES, affectsImageSearch, findImages } from '../images/imageFiles';
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

  constructor(
    private readonly log: vscode.LogOutputChannel,
    readonly service: EifService,
  ) {
    const watcher = vscode.workspace.createFileSystemWatcher('**/*.eif');
    this.disposables.push(
      watcher,
      watcher.onDidCreate(() => this.scheduleRefresh()),
      watcher.onDidDelete((uri) => {
        service.invalidate(uri);
        this.scheduleRefresh();
      }),
      watcher.onDidChange((uri) => {
        service.invalidate(uri);
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
        return this.imageItem(node.uri);
      case 'pcr':
        return pcrTreeItem({
          id: `pcr:${node.uri.toString()}:${node.name}`,
          name: node.name,
          value: node.value,
          contextValue: CONTEXT_VALUES.pcr,
          contents: true,
        });
      case 'sections': {
        const item = new vscode.TreeItem('Sections', vscode.TreeItemCollapsibleState.Collapsed);
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
        item.description = `${formatBytes(s.size)} at ${s.dataOffset}`;
        item.tooltip =
          `${s.typeName} section ${s.index}\n` +
          `header at byte ${s.headerOffset}, data at byte ${s.dataOffset}\n${s.size} bytes`;
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

  private imageItem(uri: vscode.Uri): vscode.TreeItem {
    const item = new vscode.TreeItem(uri, vscode.TreeItemCollapsibleState.Collapsed);
    item.id = `image:${uri.toString()}`;
    const relative = vscode.workspace.asRelativePath(uri, (vscode.workspace.workspaceFolders?.length ?? 0) > 1);
    const dir = relative.includes('/') ? relative.slice(0, relative.lastIndexOf('/')) : '';
    const known = this.service.peek(uri);
    const facts: string[] = [];
    if (known?.ok) {
      const h = known.value.layout.header;
      facts.push(h.arch, `v${h.version}`, known.value.signature?.certificate ? 'signed' : 'unsigned');
      if (!known.value.crc.ok) facts.push('CRC mismatch');
    } else if (known && !known.ok && !(known.error instanceof CancelledError)) {
      facts.push('malformed');
    }
    item.description = [dir, facts.join(' · ')].filter(Boolean).join('  ');
    item.tooltip = known?.ok ? `${relative}\nPCR0 ${known.value.measurements.PCR0}` : relative;
    item.iconPath = new vscode.ThemeIcon('file-binary');
    item.contextValue =
      known && !known.ok && !(known.error instanceof CancelledError)
        ? CONTEXT_VALUES.brokenImage
        : CONTEXT_VALUES.image;
    item.command = { command: 'vscode.open', title: 'Open', arguments: [uri] };
    return item;
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
          detail: `${p.message}\n(at byte ${p.offset}; rule: ${p.code})`,
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
          detail: "The header's CRC-32 does not match the file's contents.",
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
            detail: 'Collapse and expand the image, or refresh the view, to measure it.',
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
    return uris.map((uri) => ({ kind: 'image', uri }));
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
