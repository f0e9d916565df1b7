// Failures with a nitro-cli error code, shown with the code and what it means, and a "Show Fix"
// action that opens the code's explanation as a read-only Markdown document.
import * as vscode from 'vscode';
import { explainError } from '../../engine';
import type { Ctx } from '../ctx';
import {
  codeOfExplanationPath,
  explanationMarkdown,
  explanationOf,
  explanationPath,
  failureNotice,
  unknownExplanation,
} from './explainText';

export const EXPLAIN_SCHEME = 'nitro-enclaves-explain';

/** Serves the explanation documents: their content follows from their path alone. */
export function registerExplanations(ctx: Ctx): void {
  ctx.push(
    vscode.workspace.registerTextDocumentContentProvider(EXPLAIN_SCHEME, {
      provideTextDocumentContent(uri) {
        const code = codeOfExplanationPath(uri.path);
        const explanation = code === undefined ? undefined : explainError(code);
        return explanation ? explanationMarkdown(explanation) : unknownExplanation();
      },
    }),
  );
}

/**
 * Shows a failed command: the message, and for a nitro-cli code its meaning and "Show Fix"
 * (the explanation document); "Show Log" opens the extension's log.
 */
export async function showFailure(ctx: Ctx, e: unknown): Promise<void> {
  const explanation = explanationOf(e);
  const showFix = vscode.l10n.t('Show Fix');
  const showLog = vscode.l10n.t('Show Log');
  const actions = explanation ? [showFix, showLog] : [showLog];
  const choice = await vscode.window.showErrorMessage(failureNotice(e), ...actions);
  if (choice === showLog) ctx.log.show(true);
  if (choice === showFix && explanation) {
    const uri = vscode.Uri.from({ scheme: EXPLAIN_SCHEME, path: explanationPath(explanation.code) });
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc, { preview: true });
  }
}
