// vsock-proxy allowlist diagnostics: the engine's problems of an allowlist (engine/vsockproxy) on
// every open YAML document that looks like one (vsock-proxy*.yaml / *.yml, or a top-level
// `allowlist:` key), at their line and column, updated as the document changes and cleared when it
// closes or stops looking like an allowlist.
import * as vscode from 'vscode';
import type { Ctx } from '../ctx';
import { allowlistProblems, looksLikeAllowlist } from './allowlistText';

/** The source the diagnostics carry. */
export const ALLOWLIST_DIAGNOSTIC_SOURCE = 'Nitro Enclaves vsock-proxy';

/** How long edits are collected before a document is checked again. */
const DEBOUNCE_MS = 300;

export function allowlistDiagnosticsOf(doc: vscode.TextDocument, text: string): vscode.Diagnostic[] {
  return allowlistProblems(text).map((p) => {
    const start = doc.validatePosition(new vscode.Position(p.startLine, p.startCharacter));
    let end = doc.validatePosition(new vscode.Position(p.endLine, p.endCharacter));
    if (!end.isAfter(start)) end = doc.validatePosition(start.translate(0, 1));
    const d = new vscode.Diagnostic(
      new vscode.Range(start, end),
      p.message,
      p.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning,
    );
    d.source = ALLOWLIST_DIAGNOSTIC_SOURCE;
    return d;
  });
}

/** Checks open vsock-proxy allowlists into a diagnostic collection for as long as the extension runs. */
export function registerAllowlistDiagnostics(ctx: Ctx): vscode.DiagnosticCollection {
  const collection = vscode.languages.createDiagnosticCollection('nitroEnclaves.vsockProxyAllowlist');
  const pending = new Map<string, ReturnType<typeof setTimeout>>();

  const cancel = (uri: vscode.Uri) => {
    const key = uri.toString();
    const t = pending.get(key);
    if (t !== undefined) clearTimeout(t);
    pending.delete(key);
  };
  const check = (doc: vscode.TextDocument) => {
    if (doc.isClosed) return;
    const text = doc.getText();
    if (
      (doc.uri.scheme !== 'file' && doc.uri.scheme !== 'untitled') ||
      !looksLikeAllowlist(doc.uri.path, doc.languageId, text)
    ) {
      collection.delete(doc.uri);
      return;
    }
    try {
      collection.set(doc.uri, allowlistDiagnosticsOf(doc, text));
    } catch (e) {
      collection.delete(doc.uri);
      const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
      ctx.log.error(`checking ${doc.uri.toString(true)} as a vsock-proxy allowlist failed: ${message}`);
    }
  };
  const later = (doc: vscode.TextDocument) => {
    cancel(doc.uri);
    pending.set(
      doc.uri.toString(),
      setTimeout(() => {
        pending.delete(doc.uri.toString());
        check(doc);
      }, DEBOUNCE_MS),
    );
  };

  ctx.push(
    collection,
    vscode.workspace.onDidOpenTextDocument(check),
    vscode.workspace.onDidChangeTextDocument((e) => later(e.document)),
    vscode.workspace.onDidCloseTextDocument((doc) => {
      cancel(doc.uri);
      collection.delete(doc.uri);
    }),
    { dispose: () => [...pending.values()].forEach(clearTimeout) },
  );
  for (const doc of vscode.workspace.textDocuments) check(doc);
  return collection;
}
