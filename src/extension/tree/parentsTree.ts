import * as vscode from 'vscode';
import { listParents, type ParentSummary } from '../../engine';
import { CONTEXT_VALUES } from '../ids';

const STATE_TEXT: Record<ParentSummary['state'], string> = {
  'not-started': 'not started',
  running: 'running',
  unreachable: 'unreachable',
};

/** Builds the tree item of a parent instance (exported for tests). */
export function parentTreeItem(parent: ParentSummary): vscode.TreeItem {
  const item = new vscode.TreeItem(parent.label, vscode.TreeItemCollapsibleState.None);
  item.id = `parent:${parent.key}`;
  item.description = parent.instanceId ? `${parent.instanceId} · ${STATE_TEXT[parent.state]}` : STATE_TEXT[parent.state];
  const tooltip = new vscode.MarkdownString(undefined, true);
  tooltip.appendMarkdown(`**${parent.label}** ($(${parent.backend === 'emulator' ? 'vm' : 'server'}) ${parent.backend})\n\n`);
  tooltip.appendText(parent.detail);
  item.tooltip = tooltip;
  item.iconPath = new vscode.ThemeIcon(
    parent.backend === 'emulator' ? 'vm' : 'server',
    parent.state === 'running' ? new vscode.ThemeColor('testing.iconPassed') : undefined,
  );
  item.contextValue = CONTEXT_VALUES.parent(parent.backend, parent.state);
  return item;
}

/** The "Parent Instances" view: one root node per configured parent instance. */
export class ParentsTreeProvider implements vscode.TreeDataProvider<ParentSummary>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ParentSummary | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  getTreeItem(parent: ParentSummary): vscode.TreeItem {
    return parentTreeItem(parent);
  }

  getChildren(element?: ParentSummary): ParentSummary[] {
    // A parent that is not started holds no enclaves: it has no children to show.
    return element ? [] : listParents();
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  dispose(): void {
    this.changed.dispose();
  }
}
