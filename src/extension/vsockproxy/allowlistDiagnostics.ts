// vsock-proxy allowlist diagnostics: the engine's problems of an allowlist (engine/vsockproxy) on
// every open YAML document that looks like one (vsock-proxy*.yaml / *.yml, or a top-level
// `allowlist:` key), at their line and column, updated as the document changes and cleared when it
// closes or stops looking like an allowlist.
import * as vscode from 'vscode';
import type { Ctx } from '../ctx';
import { registerDocumentDiagnostics } from '../diagnostics/documentDiagnostics';
import { allowlistProblems, looksLikeAllowlist } from './allowlistText';

/** The source the diagnostics carry. */
export const ALLOWLIST_DIAGNOSTIC_SOURCE = 'Nitro Enclaves vsock-proxy';

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
  return registerDocumentDiagnostics(ctx, 'nitroEnclaves.vsockProxyAllowlist', 'a vsock-proxy allowlist', (doc) => {
    const text = doc.getText();
    const ours =
      (doc.uri.scheme === 'file' || doc.uri.scheme === 'untitled') &&
      looksLikeAllowlist(doc.uri.path, doc.languageId, text);
    return ours ? allowlistDiagnosticsOf(doc, text) : undefined;
  });
}
