// The KMS key-policy assistant's commands: Generate KMS Key Policy from Image… and Copy KMS
// Condition on the PCR nodes of both trees.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ACCOUNT_PLACEHOLDER, KeyPolicyInputError, keyPolicyFor, type PolicyMeasurements } from '../../engine';
import { nodeHashes } from '../../engine/node';
import type { DescribeDocuments } from '../commands/describeDocuments';
import { copy, pickEif, targetUri } from '../commands/imageCommands';
import { formatJson } from '../commands/pcrHelpers';
import type { EifService } from '../images/eifService';
import { kmsConditionOf } from './keyPolicyText';

/**
 * Generate KMS Key Policy from Image…: the image (the node or Explorer file it was invoked on, or
 * one picked) is measured, an optional IAM role ARN asked for (empty: none), and the key policy that
 * releases the key only to an enclave running this image opens as a read-only JSON document.
 */
export async function generateKeyPolicy(
  service: EifService,
  documents: DescribeDocuments,
  arg?: unknown,
): Promise<vscode.TextDocument | undefined> {
  const uri =
    targetUri(arg) ??
    (await pickEif(vscode.l10n.t('Generate KMS Key Policy from Image'), vscode.l10n.t('Generate Policy')));
  if (!uri) return undefined;
  const name = path.basename(uri.fsPath);
  const inspection = await service.inspect(uri);
  if ('error' in inspection.describe)
    throw new Error(
      vscode.l10n.t(
        "{0} cannot be measured (nitro-cli's describe-eif would fail with E35): {1}",
        name,
        inspection.describe.error.message,
      ),
    );
  const m = inspection.describe.json.Measurements;
  const measurements: PolicyMeasurements = {
    PCR0: m.PCR0,
    PCR1: m.PCR1,
    PCR2: m.PCR2,
    ...(m.PCR8 ? { PCR8: m.PCR8 } : {}),
  };
  const policyOf = (roleArn: string | undefined) =>
    keyPolicyFor({ measurements, ...(roleArn ? { roleArn } : {}), hashes: nodeHashes });
  const answer = await vscode.window.showInputBox({
    title: vscode.l10n.t('Generate KMS Key Policy from Image: {0}', name),
    prompt: vscode.l10n.t(
      "The parent instance's IAM role ARN: the enclave statement's principal, and PCR3. Leave empty for none (the account root, no PCR3).", // eslint-disable-line max-len
    ),
    placeHolder: vscode.l10n.t('arn:aws:iam::123456789012:role/NAME (optional)'),
    ignoreFocusOut: true,
    validateInput: (text) => {
      const roleArn = text.trim();
      if (!roleArn) return undefined;
      try {
        policyOf(roleArn);
        return undefined;
      } catch (e) {
        if (e instanceof KeyPolicyInputError) return vscode.l10n.t('Not a role ARN: {0}.', e.message);
        throw e;
      }
    },
  });
  if (answer === undefined) return undefined;
  const roleArn = answer.trim() || undefined;
  const doc = await documents.show(`${name}.key-policy.json`, uri.toString(), formatJson(policyOf(roleArn)));
  if (!roleArn)
    void vscode.window.showInformationMessage(
      vscode.l10n.t("Key policy for {0}: replace {1} with the key's account ID before use.", name, ACCOUNT_PLACEHOLDER),
    );
  return doc;
}

/**
 * Copy KMS Condition (on a PCR node of Enclave Images or of an enclave in Parent Instances): the
 * condition entry for the PCR, `"kms:RecipientAttestation:PCR<n>": "<hex>"` (PCR0: ImageSha384).
 */
export async function copyKmsCondition(node?: unknown): Promise<string | undefined> {
  if (!node || typeof node !== 'object') return undefined;
  const n = node as { kind?: unknown; name?: unknown; value?: unknown };
  if (n.kind !== 'pcr' || typeof n.name !== 'string' || typeof n.value !== 'string') return undefined;
  const condition = kmsConditionOf(n.name, n.value);
  if (condition === undefined) {
    void vscode.window.showWarningMessage(vscode.l10n.t('{0} has no KMS attestation condition key.', n.name));
    return undefined;
  }
  return copy(condition, vscode.l10n.t('the KMS condition for {0}', n.name));
}

/**
 * Copy KMS Condition from a viewer's PCR row: the same text and status line as the trees' command,
 * for the PCR value the viewer's host shows (`key` 'PCR' on PCR0: kms:RecipientAttestation:PCR0).
 */
export async function copyViewerKmsCondition(
  pcr: { readonly name: string; readonly value: string } | undefined,
  key: 'ImageSha384' | 'PCR',
): Promise<string> {
  if (!pcr) throw new Error(vscode.l10n.t('this PCR is not shown'));
  const condition = kmsConditionOf(pcr.name, pcr.value, key);
  if (condition === undefined) throw new Error(vscode.l10n.t('{0} has no KMS attestation condition key', pcr.name));
  return copy(
    condition,
    key === 'PCR' && pcr.name === 'PCR0'
      ? vscode.l10n.t('the KMS condition for {0} (PCR0 key)', pcr.name)
      : vscode.l10n.t('the KMS condition for {0}', pcr.name),
  );
}
