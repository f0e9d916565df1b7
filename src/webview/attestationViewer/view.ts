// Renders the Attestation Document Viewer from the host's view model. Everything from the document
// goes into the page as text (textContent through `h`), never as markup.
import type {
  AttestationViewError,
  AttestationViewModel,
  BytesView,
  CertificateView,
  CheckView,
  ComparisonView,
  NonceCheckView,
  PcrView,
  TimeView,
} from '../../shared/attestationViewer';
import { sentence } from '../../shared/text';
import { badge, card, colonHex, copyButton, fields, h, mono, type Child } from '../lib/dom';
import { iconTextButton, kmsConditionButtons, pcrTableHead } from '../lib/dom';
import type { KmsConditionKey } from '../../shared/protocol';
import { bytes, duration, fingerprintCopyWhat, localTime, pcrMeaningClass } from './format';
import { icon, type IconName } from './icons';
import { count, t } from './words';

/** What the view asks of its owner (main.ts): host actions and the persisted UI state. */
export interface ViewActions {
  /** Asks the host to copy; resolves once it has, rejects with its reason when it cannot. */
  copy(text: string, what: string): Promise<unknown>;
  /** Asks the host to copy a PCR's KMS key-policy condition. */
  copyKmsCondition(pcr: number, key: KmsConditionKey): Promise<unknown>;
  atDocumentTime(): void;
  compare(): void;
  clearComparison(): void;
  /** Re-sign an unsigned QEMU document with the development CA (into a new file). */
  resign(): void;
  isCollapsed(card: string): boolean;
  setCollapsed(card: string, collapsed: boolean): void;
  showAllPcrs(): boolean;
  setShowAllPcrs(value: boolean): void;
}

// ---------------------------------------------------------------------------------------------
// Building blocks

/** A text button with one of the viewer's icons. */
export const button = iconTextButton(icon);

/** A value with its copy button beside it. */
function withCopy(actions: ViewActions, value: Child, text: string, what: string): HTMLElement {
  return h('span', { class: 'with-tool' }, value, copyButton(actions, text, what));
}

/** A time as local time, with UTC under it (and as tooltip the ISO form). */
function timeBlock(t: TimeView, extra?: Child): HTMLElement {
  if (t.outOfRange)
    return h('span', { class: 'time-block' }, h('span', { class: 'time-utc mono' }, t.utc), extra ?? null);
  return h(
    'span',
    { class: 'time-block', title: t.iso },
    h('span', { class: 'time-local' }, localTime(t.ms)),
    h('span', { class: 'time-utc mono' }, t.utc),
    extra ?? null,
  );
}

// ---------------------------------------------------------------------------------------------
// Verdict

function verdict(actions: ViewActions, model: AttestationViewModel): HTMLElement {
  const v = model.verdict;
  const flags: Child[] = [];
  if (v.development)
    flags.push(badge(t('development attestation'), 'warn', t('Signed by a local development root, not by AWS')));
  if (v.debugMode)
    flags.push(badge(t('debug mode'), 'warn', t('PCR0 is all zeros: the enclave ran with --debug-mode')));
  if (v.unsigned)
    flags.push(badge(t('unsigned'), 'warn', t("From QEMU's emulated NSM: no signature or certificate chain to check")));
  // The headline says the main reason; the others are listed when there are several.
  const reasons = v.reasons.length > 1 ? v.reasons : [];
  const offerDocumentTime = !v.valid && v.validAtDocumentTime === true && model.time.mode !== 'document';
  const warned = v.valid && (v.debugMode || v.development);
  const unsigned = v.verdict === 'unsigned';
  const tone = unsigned ? 'warned unsigned' : v.valid ? (warned ? 'warned' : 'valid') : 'invalid';
  const when =
    model.time.mode === 'now'
      ? t('now')
      : model.time.mode === 'document'
        ? t('the document’s own time')
        : t('the chosen time');
  const root = v.trustedRoot ? t(' · root: {0}', v.trustedRoot.label) : '';
  return h(
    'section',
    {
      class: `verdict ${tone}`,
      id: 'verdict',
      role: 'status',
      'aria-live': 'polite',
      'data-valid': String(v.valid),
      'data-verdict': v.verdict,
    },
    icon(unsigned || (v.valid && warned) ? 'shield' : v.valid ? 'shieldCheck' : 'shieldX', 'verdict-icon'),
    h(
      'div',
      { class: 'verdict-text' },
      h('div', { class: 'verdict-title' }, h('p', { class: 'verdict-headline' }, `${v.headline}.`), ...flags),
      model.kindLabel ? h('p', { class: 'verdict-kind', id: 'attestation-kind' }, model.kindLabel) : null,
      reasons.length > 0 ? h('ul', { class: 'verdict-reasons' }, ...reasons.map((r) => h('li', null, r))) : null,
      ...v.notes.map((n) => h('p', { class: 'verdict-note' }, n)),
      ...v.hints.map((n) => h('p', { class: 'verdict-note verdict-hint' }, h('strong', null, t('Hint: ')), n)),
      offerDocumentTime
        ? h(
            'p',
            { class: 'verdict-actions' },
            button(t('Verify at document time'), 'clock', () => actions.atDocumentTime(), {
              id: 'verify-document-time',
              secondary: true,
            }),
          )
        : null,
      v.unsigned
        ? h(
            'p',
            { class: 'verdict-actions' },
            button(t('Re-sign with Development CA…'), 'certificate', () => actions.resign(), {
              id: 'resign',
              secondary: true,
              title: t(
                'Write a new file with a development signature over the values QEMU reported (not an AWS attestation); this document is not changed', // eslint-disable-line max-len
              ),
            }),
          )
        : null,
      h(
        'p',
        { class: 'verdict-time', title: model.time.at.iso },
        t('Verified at {0} ({1}) · local time {2}', model.time.at.utc, when, localTime(model.time.at.ms)) + root,
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Comparison with an enclave image

function comparisonBar(actions: ViewActions, c: ComparisonView): HTMLElement {
  const tools = h(
    'div',
    { class: 'comparison-tools' },
    button(t('Change…'), 'compare', () => actions.compare(), {
      secondary: true,
      id: 'compare-change',
      title: t('Compare with another enclave image'),
    }),
    button(t('Clear'), 'close', () => actions.clearComparison(), {
      secondary: true,
      id: 'compare-clear',
      title: t('Stop comparing with this image'),
    }),
  );
  if (!c.ok) {
    return h(
      'div',
      { class: 'comparison bad', id: 'comparison' },
      icon('error', 'comparison-icon'),
      h(
        'div',
        { class: 'comparison-text' },
        h('strong', { title: c.image.detail }, t('Cannot compare with {0}', c.image.name)),
        h('span', { class: 'muted' }, c.error),
      ),
      tools,
    );
  }
  const all = c.mismatches === 0;
  const marks = c.rows.map((r) =>
    h(
      'span',
      {
        class: `pcr-mark ${r.match ? 'match' : 'mismatch'}`,
        title: r.match
          ? t('{0} matches', r.name)
          : r.actual === undefined
            ? t('{0}: the image has {1}, the document has no such PCR', r.name, r.expected)
            : t('{0}: the image has {1}, the document {2}', r.name, r.expected, r.actual),
      },
      icon(r.match ? 'check' : 'close', 'inline-icon'),
      r.name,
    ),
  );
  return h(
    'div',
    { class: `comparison ${all ? 'good' : 'bad'}`, id: 'comparison' },
    icon(all ? 'pass' : 'error', 'comparison-icon'),
    h(
      'div',
      { class: 'comparison-text' },
      h(
        'strong',
        { title: c.image.detail },
        all ? t('The PCRs match {0}', c.image.name) : t('The PCRs do not match {0}', c.image.name),
      ),
      c.unsigned
        ? h(
            'span',
            { class: 'muted', id: 'comparison-unsigned' },
            t('Comparing unsigned values: QEMU reported these PCRs and nothing signed them.'),
          )
        : null,
      h(
        'span',
        { class: 'muted' },
        c.rows.length === 1
          ? t('{0} of 1 PCR match · ', c.matches)
          : t('{0} of {1} PCRs match · ', c.matches, c.rows.length),
        ...marks,
      ),
    ),
    tools,
  );
}

// ---------------------------------------------------------------------------------------------
// Cards

const CHECK_ICONS: Record<CheckView['status'], IconName> = {
  pass: 'pass',
  fail: 'error',
  warn: 'warning',
  skip: 'skip',
};

function checksCard(actions: ViewActions, model: AttestationViewModel): HTMLElement {
  const tally = (s: CheckView['status']) => model.checks.filter((c) => c.status === s).length;
  const items = model.checks.map((c) =>
    h(
      'li',
      { class: `check ${c.status}`, 'data-code': c.code },
      icon(CHECK_ICONS[c.status], 'check-icon'),
      h(
        'div',
        { class: 'check-text' },
        h('span', { class: 'check-statement', title: c.code }, c.title),
        h('div', { class: 'check-detail' }, sentence(c.reason)),
      ),
      h('code', { class: 'check-code', title: t('The check’s code in reports') }, c.code),
    ),
  );
  const parts: Child[] = [];
  const fails = tally('fail');
  const warns = tally('warn');
  const skips = tally('skip');
  parts.push(
    h('span', { class: fails ? 'summary-bad' : 'summary-ok' }, fails ? t('{0} failed', fails) : t('none failed')),
  );
  parts.push(t(' · {0} passed', tally('pass')));
  if (warns) parts.push(' · ', h('span', { class: 'warn-text' }, count(warns, '1 warning', '{0} warnings')));
  if (skips) parts.push(t(' · {0} skipped', skips));
  return card(actions, 'checks', t('Checks'), [h('ul', { class: 'checks att-checks' }, ...items)], {
    summary: h('span', null, ...parts),
  });
}

function bytesField(actions: ViewActions, name: string, b: BytesView): HTMLElement {
  switch (b.state) {
    case 'absent':
      return h(
        'span',
        { class: 'muted state', 'data-state': 'absent' },
        t('absent'),
        h('span', { class: 'state-note' }, t(' · the key is not in the document')),
      );
    case 'null':
      return h(
        'span',
        { class: 'muted state', 'data-state': 'null' },
        t('null'),
        h('span', { class: 'state-note' }, t(' · the key holds CBOR null (how Nitro hardware writes “none”)')),
      );
    case 'empty':
      return h(
        'span',
        { class: 'muted state', 'data-state': 'empty' },
        t('empty'),
        h('span', { class: 'state-note' }, t(' · a byte string of 0 bytes')),
      );
    case 'present':
      return h(
        'div',
        { class: 'bytes', 'data-state': 'present' },
        h(
          'div',
          { class: 'bytes-head' },
          h('span', { class: 'muted' }, bytes(b.size)),
          copyButton(actions, b.hex, t('{0} (hex)', name)),
        ),
        h('div', { class: 'hex-block' }, mono(b.hex)),
        b.text !== undefined
          ? h(
              'div',
              { class: 'bytes-text' },
              h(
                'div',
                { class: 'bytes-head' },
                h('span', { class: 'muted' }, t('as text')),
                copyButton(actions, b.text, t('{0} (text)', name)),
              ),
              h('pre', { class: 'code-block text-block' }, b.text),
            )
          : null,
      );
  }
}

function documentCard(actions: ViewActions, model: AttestationViewModel): HTMLElement {
  const d = model.document;
  const env = model.envelope;
  const input = inputText(model.source);
  const envelope = env ? envelopeLine(env) : null;
  if (!d) {
    return card(actions, 'document', t('Document'), [
      h('p', { class: 'note' }, t('The document’s fields cannot be read: see the failed checks above.')),
      fields([[t('Input'), input], env ? [t('Envelope'), envelope] : null]),
    ]);
  }
  return card(
    actions,
    'document',
    t('Document'),
    [
      fields([
        ...originRows(actions, model, d),
        ...contentRows(actions, d, model.nonceCheck),
        [t('Envelope'), envelope],
        [t('Input'), input],
      ]),
    ],
    { summary: d.moduleId },
  );
}

/** The input as read: its encoding and size. */
function inputText(src: AttestationViewModel['source']): string {
  const encoding =
    src.encoding === 'binary'
      ? t('binary CBOR')
      : src.encoding === 'base64'
        ? t('base64 text')
        : src.encoding === 'hex'
          ? t('hex text')
          : t('input');
  return t('{0} of {1}', encoding, bytes(src.inputSize));
}

/** The COSE_Sign1 envelope in one line: tagging, sizes and the protected header. */
function envelopeLine(env: NonNullable<AttestationViewModel['envelope']>): HTMLElement {
  return h(
    'span',
    null,
    t(
      'COSE_Sign1, {0}: {1}, payload {2}, signature {3}',
      env.tagged ? t('tagged (18)') : t('untagged'),
      bytes(env.size),
      bytes(env.payloadSize),
      bytes(env.signatureSize),
    ),
    h('span', { class: 'muted' }, t(' · protected header ')),
    h('code', null, env.protectedHeader),
  );
}

type FieldRow = Parameters<typeof fields>[0][number];

/** Who made the document and when: its kind, module ID and timestamp. */
function originRows(
  actions: ViewActions,
  model: AttestationViewModel,
  d: NonNullable<AttestationViewModel['document']>,
): FieldRow[] {
  return [
    ...(model.kindLabel
      ? ([
          [
            t('Kind'),
            h('span', { class: 'field-kind' }, model.kindLabel),
            model.kind === 'nitrotpm'
              ? t('nitrotpm_pcrs: made by the NitroTPM of an EC2 instance')
              : t('pcrs: made by the NSM of an enclave'),
          ],
        ] as const)
      : []),
    [
      t('Module ID'),
      withCopy(actions, mono(d.moduleId, 'field-module'), d.moduleId, t('module ID')),
      model.kind === 'nitrotpm'
        ? t('module_id: the instance ID, -tpm, and the NitroTPM ID')
        : t('module_id: the parent instance ID, -enc, and the enclave ID'),
    ],
    [
      t('Timestamp'),
      withCopy(
        actions,
        timeBlock(d.timestamp, h('span', { class: 'muted mono' }, t('{0} ms', d.timestamp.ms))),
        d.timestamp.iso || String(d.timestamp.ms),
        t('timestamp'),
      ),
      model.kind === 'nitrotpm'
        ? t('timestamp: when the NitroTPM made the document')
        : t('timestamp: when the NSM made the document'),
    ],
  ];
}

/** Pass or fail: the document carries the nonce this viewer asked for. */
function nonceCheckRow(c: NonceCheckView): HTMLElement {
  const short = (hex: string) => (hex.length > 32 ? `${hex.slice(0, 32)}…` : hex);
  return h(
    'span',
    { class: `nonce-check ${c.match ? 'good' : 'bad'}`, id: 'nonce-check', 'data-match': String(c.match) },
    icon(c.match ? 'pass' : 'error', 'inline-icon'),
    c.match
      ? t(' Matches the nonce asked for ({0} bytes)', c.expected.length / 2)
      : c.actual === undefined
        ? t(' FAILS: the document carries no nonce, but {0} was asked for', short(c.expected))
        : t(' FAILS: the document carries {0}, not the nonce asked for, {1}', short(c.actual), short(c.expected)),
  );
}

/** What the document says: digest, nonce, user data, public key, other keys and the payload's form. */
function contentRows(
  actions: ViewActions,
  d: NonNullable<AttestationViewModel['document']>,
  nonceCheck: NonceCheckView | undefined,
): FieldRow[] {
  return [
    [t('Digest'), h('code', null, d.digest), t('digest: the hash algorithm of the PCRs')],
    [
      t('Nonce'),
      bytesField(actions, t('nonce'), d.nonce),
      t('nonce: the challenge of the party asking for the document'),
    ],
    nonceCheck ? [t('Nonce check'), nonceCheckRow(nonceCheck), t('the nonce this viewer asked the enclave for')] : null,
    [
      t('User data'),
      bytesField(actions, t('user data'), d.userData),
      t('user_data: bytes the enclave chose to have signed'),
    ],
    [
      t('Public key'),
      bytesField(actions, t('public key'), d.publicKey),
      t('public_key: a key the enclave made (its format is up to the application)'),
    ],
    d.unknownKeys.length > 0
      ? [
          t('Other keys'),
          h(
            'span',
            { class: 'warn-text' },
            d.unknownKeys.join(', '),
            t(' (not defined by the format; signed, so harmless)'),
          ),
        ]
      : null,
    [
      t('Payload'),
      d.indefiniteLengthMap ? t('CBOR map of indefinite length (2025+ hardware)') : t('CBOR map of definite length'),
    ],
  ];
}

/** PCRs shown even when all zero: the ones with a documented meaning. */
const KNOWN_PCRS = new Set([0, 1, 2, 3, 4, 8]);
/** The same for a NitroTPM (instance) document: the firmware and boot PCRs 0 to 7. */
const KNOWN_TPM_PCRS = new Set([0, 1, 2, 3, 4, 5, 6, 7]);

function pcrRow(actions: ViewActions, p: PcrView, comparing: boolean, enclave: boolean): HTMLElement {
  const value = p.allZero
    ? h('span', { class: 'mono zero', title: p.value }, t('all zeros ({0} bytes)', p.value.length / 2))
    : mono(p.value);
  const expected =
    p.expected && !p.expected.match
      ? h('div', { class: 'expected' }, h('span', { class: 'expected-label' }, t('image: ')), mono(p.expected.value))
      : null;
  const mark = !comparing
    ? null
    : h(
        'td',
        { class: 'pcr-match' },
        p.expected === undefined
          ? h('span', { class: 'muted', title: t('Not compared') }, '—')
          : p.expected.match
            ? h(
                'span',
                { class: 'match', title: t('Equals the image’s value') },
                icon('check', 'inline-icon'),
                t(' match'),
              )
            : h(
                'span',
                { class: 'mismatch', title: t('The image has {0}', p.expected.value) },
                icon('close', 'inline-icon'),
                t(' differs'),
              ),
      );
  return h(
    'tr',
    { 'data-pcr': p.name, class: p.expected && !p.expected.match ? 'row-mismatch' : '' },
    h('th', { scope: 'row', class: 'pcr-name' }, p.name),
    h('td', { class: pcrMeaningClass(p) }, p.meaning),
    h('td', { class: 'pcr-value' }, value, expected),
    mark,
    h(
      'td',
      { class: 'cell-tool' },
      copyButton(actions, p.value, p.name),
      // A NitroTPM document's PCRs are not what kms:RecipientAttestation:PCR<n> compares.
      ...(enclave ? kmsConditionButtons(actions, p.index) : []),
    ),
  );
}

function pcrsCard(actions: ViewActions, model: AttestationViewModel): HTMLElement {
  const comparing = model.comparison?.ok === true;
  const showAll = actions.showAllPcrs();
  const known = model.kind === 'nitrotpm' ? KNOWN_TPM_PCRS : KNOWN_PCRS;
  const shown = model.pcrs.filter((p) => showAll || known.has(p.index) || !p.allZero || p.expected !== undefined);
  const hidden = model.pcrs.length - shown.length;
  const table = h(
    'table',
    { class: 'grid pcrs att-pcrs' },
    pcrTableHead(
      t('Value ({0})', model.document?.digest ?? t('hash')),
      comparing ? h('th', { scope: 'col', title: t('Compared with the chosen enclave image') }, t('Image')) : null,
    ),
    h('tbody', null, ...shown.map((p) => pcrRow(actions, p, comparing, model.kind !== 'nitrotpm'))),
  );
  const zeroNames = model.pcrs.filter((p) => !shown.includes(p)).map((p) => p.index);
  const toggle =
    hidden > 0 || showAll
      ? h(
          'p',
          { class: 'note' },
          h(
            'button',
            {
              class: 'link-button',
              type: 'button',
              id: 'toggle-pcrs',
              onclick: () => actions.setShowAllPcrs(!showAll),
            },
            showAll
              ? t('Hide the all-zero reserved PCRs')
              : hidden === 1
                ? t('Show 1 more PCR ({0}: reserved, all zeros)', rangeText(zeroNames))
                : t('Show {0} more PCRs ({1}: reserved, all zeros)', hidden, rangeText(zeroNames)),
          ),
        )
      : null;
  const json = JSON.stringify(Object.fromEntries(model.pcrs.map((p) => [p.name, p.value])), null, 2);
  const nonZero = model.pcrs.filter((p) => !p.allZero).length;
  return card(
    actions,
    'pcrs',
    t('PCRs'),
    model.pcrs.length > 0
      ? [h('div', { class: 'table-scroll' }, table), toggle]
      : [h('p', { class: 'note' }, t('The document’s PCRs cannot be read.'))],
    {
      summary:
        model.pcrs.length === 1
          ? t('1 PCR, {0} not zero', nonZero)
          : t('{0} PCRs, {1} not zero', model.pcrs.length, nonZero),
      tools:
        model.pcrs.length > 0
          ? [
              button(
                t('Copy all as JSON'),
                'copy',
                () => void actions.copy(json, t('all PCRs as JSON')).catch(() => undefined),
                { secondary: true, id: 'copy-pcrs', title: t('The PCRs as a JSON object {"PCR0": "…", …}') },
              ),
              comparing
                ? null
                : button(t('Compare with Enclave Image…'), 'compare', () => actions.compare(), {
                    secondary: true,
                    id: 'compare-card',
                    title: t('Check the PCRs against an .eif file'),
                  }),
            ].filter((b): b is HTMLButtonElement => b !== null)
          : [],
    },
  );
}

/** `5–7, 9–15`. */
function rangeText(indices: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < indices.length; i++) {
    const start = indices[i] as number;
    let end = start;
    while (indices[i + 1] === end + 1) end = indices[++i] as number;
    out.push(end === start ? String(start) : end === start + 1 ? `${start}, ${end}` : `${start}–${end}`);
  }
  return out.join(', ');
}

function statusText(status: CertificateView['status']): string {
  return status === 'valid' ? t('valid') : status === 'expired' ? t('expired') : t('not yet valid');
}

function certificateItem(actions: ViewActions, c: CertificateView, atUtc: string): HTMLElement {
  const status = badge(
    statusText(c.status),
    c.status === 'valid' ? 'ok' : 'bad',
    t('At the verification time, {0}', atUtc),
  );
  const trusted =
    c.trusted === undefined
      ? null
      : c.trusted
        ? badge(t('trusted root'), 'ok', t('Byte for byte the pinned AWS Nitro Enclaves Root G1'))
        : badge(t('not a trusted root'), 'bad');
  const lifetime = c.notAfter.ms - c.notBefore.ms;
  return h(
    'li',
    { class: `cert cert-${c.role} status-${c.status}`, 'data-role': c.role },
    h('span', { class: 'cert-dot', 'aria-hidden': 'true' }),
    h(
      'div',
      { class: 'cert-head' },
      h('span', { class: 'cert-role' }, c.roleLabel),
      h('span', { class: 'cert-cn mono', title: c.subject }, c.commonName),
      status,
      trusted,
    ),
    fields([
      [t('Subject'), h('span', { class: 'dn' }, c.subject)],
      [t('Issuer'), h('span', { class: 'dn' }, c.issuer)],
      [
        t('Valid'),
        h(
          'span',
          { class: 'validity' },
          h(
            'span',
            {
              class: c.status === 'not-yet-valid' ? 'bad-edge' : '',
              title: `${c.notBefore.iso} · ${localTime(c.notBefore.ms)}`,
            },
            c.notBefore.utc,
          ),
          ' → ',
          h(
            'span',
            {
              class: c.status === 'expired' ? 'bad-edge' : '',
              title: `${c.notAfter.iso} · ${localTime(c.notAfter.ms)}`,
            },
            c.notAfter.utc,
          ),
          h('span', { class: 'muted' }, ` (${duration(lifetime)})`),
        ),
      ],
      [
        'SHA-256',
        withCopy(actions, colonHex(c.sha256), c.sha256, fingerprintCopyWhat(c)),
        t('SHA-256 fingerprint of the certificate’s DER'),
      ],
      [t('Serial number'), colonHex(c.serial)],
    ]),
  );
}

function chainCard(actions: ViewActions, model: AttestationViewModel): HTMLElement {
  const bad = model.chain.filter((c) => c.status !== 'valid').length;
  return card(
    actions,
    'chain',
    t('Certificate chain'),
    model.chain.length > 0
      ? [
          h(
            'p',
            { class: 'note' },
            t(
              'From the root (cabundle[0]) down to the certificate that signed the document; validity at the verification time.', // eslint-disable-line max-len
            ),
          ),
          h('ol', { class: 'chain' }, ...model.chain.map((c) => certificateItem(actions, c, model.time.at.utc))),
        ]
      : [h('p', { class: 'note' }, t('The certificates cannot be read: see the failed checks above.'))],
    {
      summary:
        model.chain.length === 0
          ? undefined
          : bad > 0
            ? h(
                'span',
                { class: 'summary-bad' },
                t('{0} of {1} not valid at the verification time', bad, model.chain.length),
              )
            : h(
                'span',
                { class: 'summary-ok' },
                t('{0} certificates, all valid at the verification time', model.chain.length),
              ),
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Whole pages

export function modelPage(actions: ViewActions, model: AttestationViewModel): HTMLElement[] {
  return [
    verdict(actions, model),
    ...(model.comparison ? [comparisonBar(actions, model.comparison)] : []),
    checksCard(actions, model),
    documentCard(actions, model),
    pcrsCard(actions, model),
    chainCard(actions, model),
  ];
}

function errorTitle(kind: AttestationViewError['kind']): string {
  return kind === 'unreadable'
    ? t('This file cannot be read')
    : kind === 'restore'
      ? t('This panel cannot be restored')
      : t('This is not an attestation document');
}

export function errorPage(error: AttestationViewError, reload?: () => void): HTMLElement {
  return h(
    'div',
    { class: 'banner error fatal', role: 'alert', id: 'error' },
    icon('error', 'banner-icon'),
    h(
      'div',
      null,
      h('strong', null, errorTitle(error.kind)),
      h('p', { class: 'fatal-message' }, error.message),
      error.kind === 'format'
        ? h(
            'p',
            { class: 'muted' },
            t('An attestation document is a COSE_Sign1 structure in CBOR, as raw bytes or as base64 or hex text.'),
          )
        : null,
      reload ? h('p', null, button(t('Reload'), 'refresh', reload, { id: 'reload-error' })) : null,
    ),
  );
}

export function loadingPage(label: string): HTMLElement {
  return h('p', { class: 'note loading' }, t('Verifying {0}…', label));
}
