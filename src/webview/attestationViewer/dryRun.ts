// "Would KMS release this key?": the dry-run card of the Attestation Document Viewer. The person
// pastes a key policy (or has the host pick one from an editor or the workspace), may name the
// caller's ARN and the operation, and the host answers with the engine's evaluation, the one
// `nitro-dev kms dry-run` prints. The card is built once and kept across renders, so what is typed
// stays; the webview state keeps it across hide and show. Everything shown goes in as text.
import {
  KMS_OPERATIONS,
  MAX_DRY_RUN_POLICY,
  MAX_PRINCIPAL,
  type AttestationWebviewState,
  type DryRunBody,
  type DryRunView,
  type KmsOperation,
  type PickedPolicy,
} from '../../shared/attestationViewer';
import { badge, card, h, type CardState } from '../lib/dom';
import { icon } from './icons';
import { button } from './view';
import { t } from './words';

/** What the card asks of its owner (main.ts). */
export interface DryRunHost extends CardState {
  dryRun(body: DryRunBody): Promise<DryRunView>;
  /** Resolves with the picked policy, or null when the person cancelled. */
  pickPolicy(): Promise<PickedPolicy | null>;
  readonly state: AttestationWebviewState['dryRun'];
  setState(state: NonNullable<AttestationWebviewState['dryRun']>): void;
}

const PASTED = t('pasted policy');

/** A principal that is not an ARN or an account ID is still evaluated (as the CLI does), with a hint. */
export function principalHint(text: string): string | undefined {
  const p = text.trim();
  if (p === '' || /^arn:[\w-]+:(iam|sts)::\d{12}:/.test(p) || /^\d{12}$/.test(p) || p === '*') return undefined;
  return t('Principals in key policies are ARNs, such as arn:aws:iam::123456789012:role/NAME.');
}

export class DryRunCard {
  readonly element: HTMLElement;
  private readonly policy: HTMLTextAreaElement;
  private readonly source: HTMLElement;
  private readonly principal: HTMLInputElement;
  private readonly principalNote: HTMLElement;
  private readonly operation: HTMLSelectElement;
  private readonly evaluateButton: HTMLButtonElement;
  private readonly error: HTMLElement;
  private readonly result: HTMLElement;
  private readonly summary: HTMLElement;
  private policyLabel: string;
  private shown: DryRunView | undefined;
  private running = 0;

  constructor(private readonly host: DryRunHost) {
    const kept = host.state ?? {};
    this.policyLabel = kept.policyLabel ?? PASTED;
    this.policy = h('textarea', {
      id: 'kms-policy',
      class: 'dry-policy mono',
      rows: 8,
      spellcheck: 'false',
      maxlength: MAX_DRY_RUN_POLICY,
      placeholder: '{ "Version": "2012-10-17", "Statement": [ … ] }',
      'aria-describedby': 'kms-policy-source',
    });
    this.policy.value = kept.policy ?? '';
    this.source = h('span', { class: 'muted dry-source', id: 'kms-policy-source' });
    this.principal = h('input', {
      id: 'kms-principal',
      type: 'text',
      class: 'dry-input mono',
      maxlength: MAX_PRINCIPAL,
      spellcheck: 'false',
      placeholder: t('arn:aws:iam::123456789012:role/NAME (empty: not checked)'),
      'aria-describedby': 'kms-principal-note',
    });
    this.principal.value = kept.principal ?? '';
    this.principalNote = h('span', { class: 'muted dry-hint', id: 'kms-principal-note', 'aria-live': 'polite' });
    this.operation = h(
      'select',
      { id: 'kms-operation', class: 'dry-input' },
      ...KMS_OPERATIONS.map((op) => h('option', { value: op }, op)),
    );
    this.operation.value = kept.operation ?? 'Decrypt';
    this.evaluateButton = button(t('Evaluate'), 'play', () => void this.evaluate(), {
      id: 'kms-evaluate',
      title: t('Evaluate the key policy for this document, as nitro-dev kms dry-run does'),
    });
    this.error = h('p', { class: 'dry-error', id: 'kms-error', role: 'alert', hidden: true });
    this.result = h('div', { class: 'dry-result-slot', id: 'kms-result', role: 'status', 'aria-live': 'polite' });
    this.summary = h('span', { id: 'kms-summary' });

    this.policy.addEventListener('input', () => {
      this.policyLabel = PASTED;
      this.keep();
    });
    this.principal.addEventListener('input', () => {
      this.keep();
      this.renderPrincipalHint();
    });
    this.principal.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') void this.evaluate();
    });
    this.operation.addEventListener('change', () => this.keep());

    const choose = button(t('Choose Policy…'), 'file', () => void this.choose(), {
      secondary: true,
      id: 'kms-choose-policy',
      title: t('A key policy from an open editor, the workspace, or a file'),
    });
    // The sentence around the command, which stays code: {0} marks where it goes.
    const [before, after] = t(
      'A dry run of a KMS key policy against this document sent as Recipient: the kms:RecipientAttestation conditions, the principal and the operation, as {0} evaluates them.', // eslint-disable-line max-len
    ).split('{0}');
    this.element = card(
      host,
      'kms',
      t('Would KMS release this key?'),
      [
        h('p', { class: 'note' }, before ?? '', h('code', null, 'nitro-dev kms dry-run'), after ?? ''),
        h(
          'div',
          { class: 'dry-form' },
          h(
            'div',
            { class: 'dry-policy-head' },
            h('label', { for: 'kms-policy' }, t('Key policy (JSON)')),
            this.source,
            choose,
          ),
          this.policy,
          h(
            'div',
            { class: 'dry-fields' },
            h(
              'span',
              { class: 'dry-field dry-field-wide' },
              h('label', { for: 'kms-principal' }, t('Principal (optional)')),
              this.principal,
              this.principalNote,
            ),
            h('span', { class: 'dry-field' }, h('label', { for: 'kms-operation' }, t('Operation')), this.operation),
            h('span', { class: 'dry-field dry-go' }, this.evaluateButton),
          ),
          this.error,
        ),
        this.result,
      ],
      { summary: this.summary },
    );
    this.renderSource();
    this.renderPrincipalHint();
  }

  private keep(): void {
    this.renderSource();
    this.host.setState({
      policy: this.policy.value,
      policyLabel: this.policyLabel,
      principal: this.principal.value,
      operation: this.operation.value as KmsOperation,
    });
  }

  private renderSource(): void {
    this.source.textContent =
      this.policy.value.trim() === '' ? t('paste one, or choose') : t('from {0}', this.policyLabel);
  }

  private renderPrincipalHint(): void {
    this.principalNote.textContent = principalHint(this.principal.value) ?? '';
  }

  private async choose(): Promise<void> {
    let picked: PickedPolicy | null;
    try {
      picked = await this.host.pickPolicy();
    } catch (e) {
      this.showError(e);
      return;
    }
    if (!picked) return;
    this.policy.value = picked.text;
    this.policyLabel = picked.label;
    this.keep();
    this.policy.focus();
    await this.evaluate();
  }

  private showError(e: unknown): void {
    this.error.hidden = false;
    this.error.replaceChildren(icon('error', 'inline-icon'), ' ', e instanceof Error ? e.message : String(e));
  }

  /** Evaluates again when the document on screen changed (another time, a reload), if a result is shown. */
  refresh(): void {
    if (this.shown) void this.evaluate();
  }

  async evaluate(): Promise<void> {
    const run = ++this.running;
    this.error.hidden = true;
    this.evaluateButton.disabled = true;
    const principal = this.principal.value.trim();
    try {
      const view = await this.host.dryRun({
        policy: this.policy.value,
        policyLabel: this.policyLabel,
        operation: this.operation.value as KmsOperation,
        ...(principal !== '' ? { principal } : {}),
      });
      if (run !== this.running) return;
      this.shown = view;
      this.result.replaceChildren(resultView(view));
      this.summary.replaceChildren(
        badge(view.decision === 'allow' ? t('allow') : t('deny'), view.decision === 'allow' ? 'ok' : 'bad'),
      );
    } catch (e) {
      if (run !== this.running) return;
      this.shown = undefined;
      this.result.replaceChildren();
      this.summary.replaceChildren();
      this.showError(e);
    } finally {
      if (run === this.running) this.evaluateButton.disabled = false;
    }
  }
}

/** The answer: the decision, the reasons, the notes and what a dry run covers. */
export function resultView(v: DryRunView): HTMLElement {
  const allow = v.decision === 'allow';
  const who = v.principal !== undefined ? t(' to {0}', v.principal) : '';
  return h(
    'div',
    { class: `dry-result ${allow ? 'allow' : 'deny'}`, id: 'kms-decision', 'data-decision': v.decision },
    h(
      'p',
      { class: 'dry-headline' },
      icon(allow ? 'pass' : 'error', 'dry-icon'),
      h('strong', null, allow ? t('ALLOW') : t('DENY')),
      allow
        ? t(' KMS would release the key: kms:{0}{1} is allowed by {2}.', v.operation, who, v.policyLabel)
        : t(' KMS would not release the key: kms:{0}{1} is denied by {2}.', v.operation, who, v.policyLabel),
    ),
    h('ul', { class: 'dry-reasons', 'aria-label': t('Reasons') }, ...v.reasons.map((r) => h('li', null, r))),
    v.documentInvalid !== undefined
      ? h(
          'p',
          { class: 'dry-note warn-text', id: 'kms-invalid' },
          icon('warning', 'inline-icon'),
          t(
            ' The document does not verify ({0}): KMS refuses a Recipient whose document does not verify, whatever the policy says.', // eslint-disable-line max-len
            v.documentInvalid,
          ),
        )
      : null,
    v.notes.length > 0
      ? h(
          'ul',
          { class: 'dry-notes', 'aria-label': t('Notes') },
          ...v.notes.map((n) => h('li', null, h('span', { class: 'muted' }, t('note: ')), n)),
        )
      : null,
    h('p', { class: 'dry-scope muted' }, v.scope),
  );
}
