// The lifecycle every document checker of the extension shares: check each open document of its
// kind, again a moment after edits stop, and drop its diagnostics when it closes or stops being of
// that kind. A checker that throws logs the failure and leaves the document without diagnostics.
import * as vscode from 'vscode';
import type { Ctx } from '../ctx';

/** How long edits are collected before a document is checked again. */
const DEBOUNCE_MS = 300;

/**
 * Registers a diagnostic collection `name` fed by `check`, which returns a document's diagnostics,
 * or undefined when the document is not of its kind. `what` names the kind for the log.
 */
export function registerDocumentDiagnostics(
  ctx: Ctx,
  name: string,
  what: string,
  check: (doc: vscode.TextDocument) => vscode.Diagnostic[] | undefined,
): vscode.DiagnosticCollection {
  const collection = vscode.languages.createDiagnosticCollection(name);
  const pending = new Map<string, ReturnType<typeof setTimeout>>();

  const cancel = (uri: vscode.Uri) => {
    const key = uri.toString();
    const t = pending.get(key);
    if (t !== undefined) clearTimeout(t);
    pending.delete(key);
  };
  const run = (doc: vscode.TextDocument) => {
    if (doc.isClosed) return;
    try {
      const diagnostics = check(doc);
      if (diagnostics) collection.set(doc.uri, diagnostics);
      else collection.delete(doc.uri);
    } catch (e) {
      collection.delete(doc.uri);
      const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
      ctx.log.error(`checking ${doc.uri.toString(true)} as ${what} failed: ${message}`);
    }
  };
  const later = (doc: vscode.TextDocument) => {
    cancel(doc.uri);
    pending.set(
      doc.uri.toString(),
      setTimeout(() => {
        pending.delete(doc.uri.toString());
        run(doc);
      }, DEBOUNCE_MS),
    );
  };

  ctx.push(
    collection,
    vscode.workspace.onDidOpenTextDocument(run),
    vscode.workspace.onDidChangeTextDocument((e) => later(e.document)),
    vscode.workspace.onDidCloseTextDocument((doc) => {
      cancel(doc.uri);
      collection.delete(doc.uri);
    }),
    { dispose: () => [...pending.values()].forEach(clearTimeout) },
  );
  for (const doc of vscode.workspace.textDocuments) run(doc);
  return collection;
}
