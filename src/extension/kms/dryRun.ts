// "Would KMS release this key?" in the Attestation Document Viewer: a key policy (its JSON text)
// evaluated against the document on screen by the engine's evaluateKeyPolicy, the function behind
// `nitro-dev kms dry-run`, so the panel and the CLI give the same decision, reasons and notes.
import { PolicyJsonError, evaluateKeyPolicy, parsePolicyJson, type AttestationDocument } from '../../engine';
import type { DryRunBody, DryRunView } from '../../shared/attestationViewer';
import { l10n } from '../l10n';

/**
 * The dry run of `body` against `document` (undefined: a request without Recipient). `invalid` is
 * why the document does not verify at the viewer's time, if it does not. A policy that is not JSON
 * throws, naming the line and column as the CLI does.
 */
export function dryRunOf(body: DryRunBody, document: AttestationDocument | undefined, invalid?: string): DryRunView {
  if (body.policy.trim() === '') throw new Error(l10n.t('Paste a key policy (JSON) or choose one first.'));
  let policy: unknown;
  try {
    policy = parsePolicyJson(body.policy).value;
  } catch (e) {
    if (e instanceof PolicyJsonError)
      throw new Error(
        l10n.t('{0}:{1}:{2}: not JSON: {3}', body.policyLabel, e.position.line, e.position.column, e.message),
        {
          cause: e,
        },
      );
    throw e;
  }
  const result = evaluateKeyPolicy(policy, {
    operation: body.operation,
    document,
    ...(body.principal !== undefined ? { principal: body.principal } : {}),
  });
  return {
    decision: result.decision,
    operation: body.operation,
    policyLabel: body.policyLabel,
    ...(body.principal !== undefined ? { principal: body.principal } : {}),
    reasons: result.reasons,
    notes: result.notes,
    scope: result.scope,
    ...(invalid !== undefined ? { documentInvalid: invalid } : {}),
  };
}
