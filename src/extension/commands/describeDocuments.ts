// Describe output (describe-eif, describe-enclaves) as read-only virtual JSON documents: a
// TextDocumentContentProvider on the extension's own scheme, so the editor is not an unsaved
// "Untitled" file and closing it never asks to save. A path such as `/hello.eif.describe.json`
// names the tab; the query keeps two sources with the same name apart.
import * as vscode from 'vscode';

export const DESCRIBE_SCHEME = 'nitro-enclaves-describe';

/** How many describe outputs are kept for their editors (reopened tabs read them again). */
const KEEP = 32;

/** What a document of this scheme shows when its content is no longer kept (for example after a reload). */
export const GONE_TEXT = `${JSON.stringify('This describe output is no longer available: run Describe again.')}\n`;

/**
 * The document of a describe output: `/<fileName>` (a .json name: the editor's title), `?<source>`
 * to tell sources apart.
 */
export function describeUri(fileName: string, source: string, extension = '.json'): vscode.Uri {
  const name = fileName.replace(/[/\\]/g, '_') || 'describe';
  return vscode.Uri.from({
    scheme: DESCRIBE_SCHEME,
    path: `/${name.endsWith(extension) ? name : `${name}${extension}`}`,
    query: source,
  });
}

export class DescribeDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  /** Newest last; at most KEEP entries. */
  private readonly contents = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.toString()) ?? GONE_TEXT;
  }

  /**
   * Shows `json` as the read-only document `describeUri(fileName, source)`; an open one is updated.
   * `language` `markdown` shows a Markdown report instead (a `.md` document).
   */
  async show(
    fileName: string,
    source: string,
    json: string,
    options: vscode.TextDocumentShowOptions = {},
    language: 'json' | 'markdown' = 'json',
  ): Promise<vscode.TextDocument> {
    const uri = describeUri(fileName, source, language === 'json' ? '.json' : '.md');
    const key = uri.toString();
    const before = this.contents.get(key);
    this.contents.delete(key);
    this.contents.set(key, json);
    while (this.contents.size > KEEP) this.contents.delete(this.contents.keys().next().value as string);
    // An open document of this uri is read again (VS Code asks the provider when told it changed).
    if (before !== json) this.changed.fire(uri);
    let doc = await vscode.workspace.openTextDocument(uri);
    if (doc.languageId !== language) doc = await vscode.languages.setTextDocumentLanguage(doc, language);
    await vscode.window.showTextDocument(doc, { preview: false, ...options });
    return doc;
  }

  dispose(): void {
    this.changed.dispose();
    this.contents.clear();
  }
}

/** Creates the describe documents' provider and registers it for its scheme. */
export function registerDescribeDocuments(push: (...items: vscode.Disposable[]) => void): DescribeDocuments {
  const documents = new DescribeDocuments();
  push(documents, vscode.workspace.registerTextDocumentContentProvider(DESCRIBE_SCHEME, documents));
  return documents;
}
