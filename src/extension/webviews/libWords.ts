// The words of the webviews' shared building blocks (src/webview/lib) in the user's language: every
// page that uses them puts these in its table of words (WebviewPage.words) beside its own.
import * as vscode from 'vscode';
import type { LibWord } from '../../shared/words';

/** Every word of src/webview/lib (the type makes the table complete), localized. */
export function libWords(): Readonly<Record<LibWord, string>> {
  return {
    '1 byte': vscode.l10n.t('1 byte'),
    '{0} bytes': vscode.l10n.t('{0} bytes'),
    'Copy {0}': vscode.l10n.t('Copy {0}'),
    'Copy KMS condition for PCR{0} (kms:RecipientAttestation:{1})': vscode.l10n.t(
      'Copy KMS condition for PCR{0} (kms:RecipientAttestation:{1})',
    ),
    Measures: vscode.l10n.t('Measures'),
    'Not copied: {0}': vscode.l10n.t('Not copied: {0}'),
    'byte {0}': vscode.l10n.t('byte {0}'),
  };
}
