// Key-policy diagnostics: the linter's findings (engine/kms/lint.ts) on every open JSON document
// that looks like a KMS key policy, at their line and column, updated as the document changes and
// cleared when it closes.
import * as vscode from 'vscode';
import { lintKeyPolicy, type KeyPolicyFinding } from '../../engine';
import type { Ctx } from '../ctx';
import { registerDocumentDiagnostics } from '../diagnostics/documentDiagnostics';
import { findingStart, looksLikeKeyPolicy } from './keyPolicyText';

/** The source the diagnostics carry. */
export const DIAGNOSTIC_SOURCE = 'Nitro Enclaves';

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
  return registerDocumentDiagnostics(ctx, 'nitroEnclaves.keyPolicy', 'a key policy', (doc) => {
    const text = isJson(doc) ? doc.getText() : '';
    return looksLikeKeyPolicy(text) ? diagnosticsOf(doc, lintKeyPolicy(text)) : undefined;
  });
}
