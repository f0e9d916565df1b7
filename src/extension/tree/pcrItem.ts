import * as vscode from 'vscode';
import { enclavePcrContents, enclavePcrMeaning } from '../../engine';
import { hexLines } from './nodeText';

/**
 * The tree item of one PCR (of an image, or of a running enclave): its name, the start of its value,
 * and as tooltip what it measures (and what goes into it, when `contents`) above the whole value.
 */
export function pcrTreeItem(pcr: {
  readonly id: string;
  readonly name: string;
  readonly value: string;
  readonly contextValue: string;
  readonly contents?: boolean;
}): vscode.TreeItem {
  const item = new vscode.TreeItem(pcr.name, vscode.TreeItemCollapsibleState.None);
  item.id = pcr.id;
  item.description = `${pcr.value.slice(0, 16)}…`;
  const contents = pcr.contents ? `: ${enclavePcrContents(pcr.name) ?? ''}` : '';
  const tip = new vscode.MarkdownString(`**${pcr.name}**: ${enclavePcrMeaning(pcr.name)}${contents}\n\n`);
  // A hover does not wrap a code block: the 96 digits as two lines of 48, shown whole.
  tip.appendCodeblock(hexLines(pcr.value), 'text');
  item.tooltip = tip;
  item.iconPath = new vscode.ThemeIcon('symbol-key');
  item.contextValue = pcr.contextValue;
  return item;
}
