// Sign Image…: signs an enclave image in place with a PEM certificate and its EC private key, as
// `nitro-dev sign-eif` (and nitro-cli sign-eif) does, through the engine's signEifFile: the signed
// image is written beside the old one and replaces it only once complete. A certificate that has
// expired, is not valid yet or expires within 30 days is warned about.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { signEifFile } from '../../engine/node';
import { readPemFile, signingCertificateExpiry } from './pemFiles';
import { pickFile } from './pickFile';
import type { EifService } from '../images/eifService';
import { copy, pickEif, targetUri } from './imageCommands';

/** What Sign Image… did: the signed image, its new PCR8, and the certificate's warning if any. */
export interface SignImageResult {
  readonly uri: vscode.Uri;
  /** The image's PCRs after signing, as measured again (nitro-cli's Measurements). */
  readonly pcr0: string;
  readonly pcr8: string;
  /** The warning about the certificate's validity that was shown, if any. */
  readonly expiryWarning?: string;
}

/** Files Sign Image… uses instead of asking (tests, links): the certificate and the key. */
export interface SignImageOptions {
  readonly certificate?: vscode.Uri;
  readonly privateKey?: vscode.Uri;
}

/**
 * Sign Image…: the image it was invoked on (a tree node, an Explorer file, the viewer) or one picked,
 * then the certificate and the private key; signs in place behind a cancellable progress and
 * measures the image again.
 */
export async function signImage(
  service: EifService,
  arg?: unknown,
  options: SignImageOptions = {},
): Promise<SignImageResult | undefined> {
  const uri = targetUri(arg) ?? (await pickEif(vscode.l10n.t('Sign Enclave Image'), vscode.l10n.t('Sign')));
  if (!uri) return undefined;
  if (uri.scheme !== 'file')
    throw new Error(vscode.l10n.t('Only local files can be signed: {0} is not one.', uri.toString(true)));
  const name = path.basename(uri.fsPath);
  const certificate =
    options.certificate ??
    (await pickFile(vscode.l10n.t('Sign {0} (1/2): the signing certificate', name), vscode.l10n.t('Use Certificate'), {
      [vscode.l10n.t('PEM certificates')]: ['pem', 'crt', 'cer'],
    }));
  if (!certificate) return undefined;
  const privateKey =
    options.privateKey ??
    (await pickFile(
      vscode.l10n.t("Sign {0} (2/2): the certificate's private key (PEM, EC P-256, P-384 or P-521)", name),
      vscode.l10n.t('Sign'),
      {
        [vscode.l10n.t('PEM private keys')]: ['pem', 'key'],
      },
    ));
  if (!privateKey) return undefined;
  const [certificatePem, privateKeyPem] = await Promise.all([
    readPemFile(certificate.fsPath, vscode.l10n.t('The certificate')),
    readPemFile(privateKey.fsPath, vscode.l10n.t('The private key')),
  ]);
  const expiry = signingCertificateExpiry(certificatePem, new Date(), path.basename(certificate.fsPath));
  if (expiry && expiry.state !== 'expires-soon') {
    const sign = vscode.l10n.t('Sign Anyway');
    const choice = await vscode.window.showWarningMessage(
      vscode.l10n.t('{0} Sign {1} with it anyway?', expiry.message, name),
      { modal: true },
      sign,
    );
    if (choice !== sign) return undefined;
  }
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Signing {0}', name), cancellable: true },
    async (progress, token) => {
      let reported = 0;
      await signEifFile(uri.fsPath, {
        certificatePem,
        privateKeyPem,
        token,
        onProgress: (done, total, stage) => {
          // Measuring, then writing: each half of the bar.
          const pct = Math.floor((((stage === 'writing' ? total : 0) + done) / (total * 2 || 1)) * 100);
          if (pct > reported) {
            progress.report({
              increment: pct - reported,
              message: stage === 'writing' ? vscode.l10n.t('writing') : vscode.l10n.t('measuring'),
            });
            reported = pct;
          }
        },
      });
    },
  );
  // The image changed: drop what was measured and show the new PCRs (PCR8 now) in the tree.
  service.invalidate(uri);
  const inspection = await service.inspect(uri);
  const { PCR0: pcr0, PCR8: pcr8 } = inspection.measurements as { PCR0: string; PCR8?: string };
  if (!pcr8) throw new Error(vscode.l10n.t('{0} was signed, but measuring it again finds no PCR8', name));
  const copyPcr8 = vscode.l10n.t('Copy PCR8');
  void vscode.window.showInformationMessage(vscode.l10n.t('Signed {0}. PCR8: {1}', name, pcr8), copyPcr8).then((c) => {
    if (c === copyPcr8) void copy(pcr8, vscode.l10n.t('PCR8 of {0}', name));
  });
  if (expiry?.state === 'expires-soon')
    void vscode.window.showWarningMessage(vscode.l10n.t('{0}: {1}', name, expiry.message));
  return { uri, pcr0, pcr8, ...(expiry ? { expiryWarning: expiry.message } : {}) };
}
