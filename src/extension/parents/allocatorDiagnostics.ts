// Problems of allocator configurations (allocator.yaml) as you type: the engine's validation,
// shown with its positions in a DiagnosticCollection. A document is checked when it is a parent's
// allocator configuration or any file named allocator.yaml.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ParentInfo } from '../../engine';
import type { AllocatorProblem } from './backendHost';

const CHECK_DEBOUNCE_MS = 200;

/** A problem's range in a document (the engine counts lines and columns from 1). */
export function problemRange(problem: AllocatorProblem, document?: vscode.TextDocument): vscode.Range {
  const line = Math.max(0, problem.line - 1);
  const column = Math.max(0, problem.column - 1);
  if (problem.endLine !== undefined && problem.endColumn !== undefined) {
    const end = new vscode.Position(Math.max(line, problem.endLine - 1), Math.max(0, problem.endColumn - 1));
    if (end.isAfter(new vscode.Position(line, column))) return new vscode.Range(line, column, end.line, end.character);
  }
  // No end given: to the end of the line (at least one character).
  const lineLength = document && line < document.lineCount ? document.lineAt(line).text.length : column + 1;
  return new vscode.Range(line, column, line, Math.max(column + 1, lineLength));
}

export class AllocatorDiagnostics implements vscode.Disposable {
  readonly collection = vscode.languages.createDiagnosticCollection('nitro-enclaves-allocator');
  private readonly disposables: vscode.Disposable[] = [this.collection];
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Allocator paths of the known parents → the parent (whose instance the file is checked against). */
  private known = new Map<string, ParentInfo>();

  constructor(
    private readonly check: (text: string, parent?: ParentInfo) => readonly AllocatorProblem[],
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      vscode.workspace.onDidOpenTextDocument((d) => this.checkNow(d)),
      vscode.workspace.onDidChangeTextDocument((e) => this.schedule(e.document)),
      vscode.workspace.onDidCloseTextDocument((d) => {
        this.cancel(d);
        this.collection.delete(d.uri);
      }),
    );
    for (const d of vscode.workspace.textDocuments) this.checkNow(d);
  }

  /**
   * The parents whose allocator configurations are checked against their instance (even when not
   * named allocator.yaml).
   */
  setParents(parents: readonly ParentInfo[]): void {
    this.known = new Map(
      parents.flatMap((p) => (p.allocatorPath ? [[path.resolve(p.allocatorPath), p] as const] : [])),
    );
    for (const d of vscode.workspace.textDocuments) this.checkNow(d);
  }

  isAllocatorDocument(document: vscode.TextDocument): boolean {
    if (document.uri.scheme !== 'file' && document.uri.scheme !== 'untitled') return false;
    return path.basename(document.uri.fsPath) === 'allocator.yaml' || this.known.has(path.resolve(document.uri.fsPath));
  }

  private schedule(document: vscode.TextDocument): void {
    if (!this.isAllocatorDocument(document)) return;
    this.cancel(document);
    const key = document.uri.toString();
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.checkNow(document);
      }, CHECK_DEBOUNCE_MS),
    );
  }

  private cancel(document: vscode.TextDocument): void {
    const key = document.uri.toString();
    const timer = this.timers.get(key);
    if (timer !== undefined) clearTimeout(timer);
    this.timers.delete(key);
  }

  /** Checks a document now and shows its problems (none for documents that are no allocator configuration). */
  checkNow(document: vscode.TextDocument): readonly vscode.Diagnostic[] {
    if (!this.isAllocatorDocument(document) || document.isClosed) return [];
    let diagnostics: vscode.Diagnostic[];
    try {
      const parent = document.uri.scheme === 'file' ? this.known.get(path.resolve(document.uri.fsPath)) : undefined;
      diagnostics = this.check(document.getText(), parent).map((p) => {
        const d = new vscode.Diagnostic(
          problemRange(p, document),
          p.message,
          p.severity === 'warning' ? vscode.DiagnosticSeverity.Warning : vscode.DiagnosticSeverity.Error,
        );
        d.source = 'Nitro Enclaves allocator';
        return d;
      });
    } catch (e) {
      this.log.error(
        `Allocator configuration ${document.uri.toString(true)}: the check failed: ` +
          `${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
      );
      diagnostics = [];
    }
    this.collection.set(document.uri, diagnostics);
    return diagnostics;
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
