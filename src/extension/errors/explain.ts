// Failures with a nitro-cli error code, shown with the code and what it means, and a "Show Fix"
// action that opens the code's explanation as a read-only Markdown document.
import * as vscode from 'vscode';
import { explainError } from '../../engine';
import type { Ctx } from '../ctx';
import {
  UNKNOWN_EXPLANATION,
  codeOfExplanationPath,
  explanationMarkdown,
  explanationOf,
  explanationPath,
  failureNotice,
} from './explainText';

export const EXPLAIN_SCHEME = 'nitro-enclaves-explain';
const SHOW_FIX = 'Show Fix';
const SHOW_LOG = 'Show Log';

/** Serves the explanation documents: their content follows from their path alone. */
export function registerExplanations(ctx: Ctx): void {
  ctx.push(
    vscode.workspace.registerTextDocumentContentProvider(EXPLAIN_SCHEME, {
      provideTextDocumentContent(uri) {
        const code = codeOfExplanationPath(uri.path);
        const explanation = code === undefined ? undefined : explainError(code);
        return explanation ? explanationMarkdown(explanation) : UNKNOWN_EXPLANATION;
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
  const actions = explanation ? [SHOW_FIX, SHOW_LOG] : [SHOW_LOG];
  const choice = await vscode.window.showErrorMessage(failureNotice(e), ...actions);
  if (choice === SHOW_LOG) ctx.log.show(true);
  if (choice === SHOW_FIX && explanation) {
    const uri = vscode.Uri.from({ scheme: EXPLAIN_SCHEME, path: explanationPath(explanation.code) });
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc, { preview: true });
  }
}
