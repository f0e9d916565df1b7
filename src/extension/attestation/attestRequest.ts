// What Get Attestation Document… asks the enclave's NSM for: a nonce (a fresh random one is filled
// in), user data (hex, text or a file) and a public key (a PEM or DER file, read as `nitro-dev
// attest --public-key` reads it), in three input steps that check what is typed as it is typed.
// The same request can be given as the command's second argument (tests, links).
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { NSM_MAX_ATTESTATION_FIELD_BYTES as MAX_FIELD, toHex } from '../../engine';
import { readPublicKeyFile } from '../../engine/node';
import { pickFile } from '../commands/pickFile';
import { checkHexField, checkTextField, hexField, readUserDataFile, type AttestRequest } from './attestFields';

export { requestFromOptions, type AttestRequest, type AttestRequestOptions } from './attestFields';

type Choice<T extends string> = vscode.QuickPickItem & { readonly choice: T };

/**
 * Asks for the request in three steps: the nonce, the user data, the public key. Undefined when the
 * person cancels a step; a file that cannot be used throws with the reason.
 */
export async function askAttestRequest(enclaveName: string): Promise<AttestRequest | undefined> {
  const title = (step: number) => vscode.l10n.t('Attestation Document of {0} ({1}/3)', enclaveName, step);
  const nonceHex = await vscode.window.showInputBox({
    title: title(1),
    prompt: vscode.l10n.t(
      'Nonce, as hex (at most {0} bytes); empty for none. A fresh random one is filled in.',
      MAX_FIELD,
    ),
    placeHolder: vscode.l10n.t('hex, e.g. 0123456789abcdef'),
    value: toHex(randomBytes(32)),
    ignoreFocusOut: true,
    validateInput: (text) => checkHexField(text, 'nonce'),
  });
  if (nonceHex === undefined) return undefined;
  const nonce = hexField(nonceHex, 'nonce');

  const dataChoice = await vscode.window.showQuickPick<Choice<'none' | 'hex' | 'text' | 'file'>>(
    [
      { label: vscode.l10n.t('No user data'), choice: 'none' },
      { label: vscode.l10n.t('Hex…'), description: vscode.l10n.t('at most {0} bytes', MAX_FIELD), choice: 'hex' },
      {
        label: vscode.l10n.t('Text…'),
        description: vscode.l10n.t('at most {0} bytes in UTF-8', MAX_FIELD),
        choice: 'text',
      },
      {
        label: vscode.l10n.t('From a file…'),
        description: vscode.l10n.t('its bytes, at most {0}', MAX_FIELD),
        choice: 'file',
      },
    ],
    { title: title(2), placeHolder: vscode.l10n.t('User data to put in the document'), ignoreFocusOut: true },
  );
  if (!dataChoice) return undefined;
  let userData: Uint8Array | undefined;
  if (dataChoice.choice === 'hex' || dataChoice.choice === 'text') {
    const hex = dataChoice.choice === 'hex';
    const text = await vscode.window.showInputBox({
      title: title(2),
      prompt: hex
        ? vscode.l10n.t('User data, as hex (at most {0} bytes).', MAX_FIELD)
        : vscode.l10n.t('User data, as text (at most {0} bytes).', MAX_FIELD),
      placeHolder: hex ? vscode.l10n.t('hex, e.g. 68656c6c6f') : vscode.l10n.t('text'),
      ignoreFocusOut: true,
      validateInput: (t) => (hex ? checkHexField(t, 'user data') : checkTextField(t)),
    });
    if (text === undefined) return undefined;
    userData = hex ? hexField(text, 'user data') : text === '' ? undefined : new TextEncoder().encode(text);
  } else if (dataChoice.choice === 'file') {
    const file = await pickFile(vscode.l10n.t('{0}: the user data file', title(2)), vscode.l10n.t('Use File'), {});
    if (!file) return undefined;
    userData = await readUserDataFile(file.fsPath);
  }

  const keyChoice = await vscode.window.showQuickPick<Choice<'none' | 'file'>>(
    [
      { label: vscode.l10n.t('No public key'), choice: 'none' },
      {
        label: vscode.l10n.t('From a file…'),
        description: vscode.l10n.t('PEM or DER public key, as nitro-dev attest --public-key'),
        choice: 'file',
      },
    ],
    { title: title(3), placeHolder: vscode.l10n.t('A public key to put in the document'), ignoreFocusOut: true },
  );
  if (!keyChoice) return undefined;
  let publicKey: Uint8Array | undefined;
  if (keyChoice.choice === 'file') {
    const file = await pickFile(vscode.l10n.t('{0}: the public key file', title(3)), vscode.l10n.t('Use Key'), {
      [vscode.l10n.t('Public keys (PEM, DER)')]: ['pem', 'pub', 'der', 'key'],
    });
    if (!file) return undefined;
    publicKey = await readPublicKeyFile(file.fsPath, path.basename(file.fsPath));
  }
  return {
    ...(nonce ? { nonce } : {}),
    ...(userData && userData.length > 0 ? { userData } : {}),
    ...(publicKey ? { publicKey } : {}),
  };
}
