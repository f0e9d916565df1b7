// Key-policy diagnostics: the linter's findings (engine/kms/lint.ts) on every open JSON document
// that looks like a KMS key policy, at their line and column, updated as the document changes and
// cleared when it closes.
import * as vscode from 'vscode';
import { lintKeyPolicy, type KeyPolicyFinding } from '../../engine';
import type { Ctx } from '../ctx';
import { findingStart, looksLikeKeyPolicy } from './keyPolicyText';

/** The source the diagnostics carry. */
export const DIAGNOSTIC_SOURCE = 'Nitro Enclaves';

/** How long edits are collected before a document is linted again. */
const DEBOUNCE_MS = 300;

/** A JSON string (with escapes) or a bare token: what a finding's position starts. */
const TOKEN = /"(?:[^"\\\r\n]|\\.)*"|[^\s,:{}[\]"]+/;

const isJson = (doc: vscode.TextDocument) => doc.languageId === 'json' || doc.languageId === 'jsonc';

export function diagnosticsOf(doc: vscode.TextDocument, findings: readonly KeyPolicyFinding[]): vscode.Diagnostic[] {
  return findings.map((f) => {
    const start = findingStart(f);
    const line = Math.min(start.line, Math.max(0, doc.lineCount - 1));
    const at = doc.validatePosition(new vscode.Position(line, start.character));
    const token = doc.getWordRangeAtPosition(at, TOKEN);
    const range = token?.start.isEqual(at) ? token : new vscode.Range(at, doc.validatePosition(at.translate(0, 1)));
    const where = f.path === '$' ? '' : ` (at ${f.path})`;
    const d = new vscode.Diagnostic(
      range,
      `${f.message}${where}`,
      f.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning,
    );
    d.source = DIAGNOSTIC_SOURCE;
    d.code = f.rule;
    return d;
  });
}

/** Lints open key-policy JSON documents into a diagnostic collection for as long as the extension runs. */
export function registerKeyPolicyDiagnostics(ctx: Ctx): vscode.DiagnosticCollection {
  const collection = vscode.languages.createDiagnosticCollection('nitroEnclaves.keyPolicy');
  const pending = new Map<string, ReturnType<typeof setTimeout>>();

  const cancel = (uri: vscode.Uri) => {
    const key = uri.toString();
    const t = pending.get(key);
    if (t !== undefined) clearTimeout(t);
    pending.delete(key);
  };
  const lint = (doc: vscode.TextDocument) => {
    if (doc.isClosed) return;
    const text = isJson(doc) ? doc.getText() : '';
    if (!looksLikeKeyPolicy(text)) {
      collection.delete(doc.uri);
      return;
    }
    try {
      collection.set(doc.uri, diagnosticsOf(doc, lintKeyPolicy(text)));
    } catch (e) {
      collection.delete(doc.uri);
      const message = e instanceof Error ? e.message : String(e);
      ctx.log.error(`linting ${doc.uri.toString()} as a key policy failed: ${message}`);
    }
  };
  const later = (doc: vscode.TextDocument) => {
    cancel(doc.uri);
    pending.set(
      doc.uri.toString(),
      setTimeout(() => {
        pending.delete(doc.uri.toString());
        lint(doc);
      }, DEBOUNCE_MS),
    );
  };

  ctx.push(
    collection,
    vscode.workspace.onDidOpenTextDocument(lint),
    vscode.workspace.onDidChangeTextDocument((e) => later(e.document)),
    vscode.workspace.onDidCloseTextDocument((doc) => {
      cancel(doc.uri);
      collection.delete(doc.uri);
    }),
    { dispose: () => [...pending.values()].forEach(clearTimeout) },
  );
  for (const doc of vscode.workspace.textDocuments) lint(doc);
  return collection;
}
