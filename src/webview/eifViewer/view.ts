// Renders the Enclave Image Viewer from the host's view model. Everything from the file goes into
// the page as text (textContent through `h`), never as markup.
import type {
  ImageAction,
  EifCertificateView,
  EifProblemView,
  EifSectionView,
  EifSignatureView,
  EifViewError,
  EifViewModel,
} from '../../shared/eifViewer';
import { sentence } from '../../shared/text';
import { badge, card, colonHex, copyButton, fields, h, icon, kmsConditionButtons, mono, type Child } from '../lib/dom';
import type { KmsConditionKey } from '../../shared/protocol';
import { iconTextButton, lineIcon, pcrTableHead } from '../lib/dom';
import { humanSize, humanU64Size, offsetTitle, percent, shortSize } from '../lib/format';
import { EIF_VIEWER_WORDS } from '../../shared/eifViewer';
import { wordsFromPage } from '../lib/l10n';

/** The viewer's words in the user's language, as the host put them in the page. */
const { t, count } = wordsFromPage(EIF_VIEWER_WORDS);
/** `1 byte` or `N bytes`. */
const bytes = (n: number): string => count(n, '1 byte', '{0} bytes');

/** What the view asks of its owner (main.ts): host actions and the persisted UI state. */
export interface ViewActions {
  /** Asks the host to copy; resolves once it has, rejects with its reason when it cannot. */
  copy(text: string, what: string): Promise<unknown>;
  /** Asks the host to copy a PCR's KMS key-policy condition. */
  copyKmsCondition(pcr: number, key: KmsConditionKey): Promise<unknown>;
  describe(): void;
  reload(): void;
  /** Runs Run Enclave…, Sign Image… or Generate KMS Key Policy… on the viewer's file. */
  imageAction(action: ImageAction): void;
  isCollapsed(card: string): boolean;
  setCollapsed(card: string, collapsed: boolean): void;
}

// ---------------------------------------------------------------------------------------------
// Building blocks

/** The viewer's icons: the shared set plus those of the image actions. */
const EXTRA_ICONS = {
  play: ['M5 3.25v9.5L12.5 8z'],
  shield: ['M8 1.5l5.5 2v4.25c0 3.1-2.3 5.6-5.5 6.75-3.2-1.15-5.5-3.65-5.5-6.75V3.5z'],
} as const;
type ViewerIcon = Parameters<typeof icon>[0] | keyof typeof EXTRA_ICONS;
const viewerIcon = (name: ViewerIcon): SVGSVGElement =>
  name in EXTRA_ICONS
    ? lineIcon(name, EXTRA_ICONS[name as keyof typeof EXTRA_ICONS])
    : icon(name as Parameters<typeof icon>[0]);

/** A text button with one of the viewer's icons. */
const button = iconTextButton(viewerIcon);

/** A pass/fail line: icon, statement, and the reason or detail under it. */
function check(ok: boolean, statement: string, detail?: Child, kind: 'fail' | 'warn' = 'fail'): HTMLElement {
  const cls = ok ? 'pass' : kind;
  return h(
    'li',
    { class: `check ${cls}` },
    icon(ok ? 'pass' : kind === 'warn' ? 'warning' : 'error', 'check-icon'),
    h(
      'div',
      { class: 'check-text' },
      h('span', { class: 'check-statement' }, statement),
      detail ? h('div', { class: 'check-detail' }, detail) : null,
    ),
  );
}

function where(offset: number, code: string): HTMLElement {
  return h('span', { class: 'where' }, t('at {0} · rule ', offsetTitle(offset)), h('code', null, code));
}

// ---------------------------------------------------------------------------------------------
// Title bar

export function titleBar(
  actions: ViewActions,
  file: { name: string; path?: string },
  model?: EifViewModel,
): HTMLElement {
  const chips: Child[] = [];
  if (model) {
    chips.push(
      badge(model.header.architecture, '', t('CPU architecture (header flags bit 0)')),
      badge(t('EIF v{0}', model.header.version), '', t('EIF format version')),
      badge(shortSize(model.file.size), '', humanSize(model.file.size)),
      model.signature
        ? badge(t('signed'), model.signature.ok && model.signature.coseValid ? 'ok' : 'bad')
        : badge(t('unsigned'), 'muted'),
    );
  }
  return h(
    'header',
    { class: 'titlebar' },
    h(
      'div',
      { class: 'title' },
      icon('file', 'title-icon'),
      h('h1', { title: file.path ?? file.name }, file.name),
      h('div', { class: 'chips' }, ...chips),
    ),
    h(
      'div',
      { class: 'actions' },
      button(t('Run'), 'play', () => actions.imageAction('run'), {
        title: t('Run Enclave: run this image on a parent instance'),
        id: 'run',
        disabled: !model,
      }),
      button(t('Sign…'), 'key', () => actions.imageAction('sign'), {
        title: t('Sign Image: sign this image in place with a certificate and its private key (PCR8)'),
        secondary: true,
        id: 'sign',
        disabled: !model,
      }),
      button(t('KMS Policy…'), 'shield', () => actions.imageAction('kmsPolicy'), {
        title: t("Generate KMS Key Policy: a key policy that releases a key only to this image's PCRs"),
        secondary: true,
        id: 'kms-policy',
        disabled: !model,
      }),
      button(t('Describe as JSON'), 'json', () => actions.describe(), {
        title: t("Open nitro-cli describe-eif's JSON for this image in an editor"),
        secondary: true,
        id: 'describe',
        disabled: !model,
      }),
      button(t('Reload'), 'refresh', () => actions.reload(), {
        title: t('Read and measure the file again'),
        secondary: true,
        id: 'reload',
      }),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Banner: what is wrong with the file

function problemItem(p: EifProblemView): HTMLElement {
  return h('li', null, h('span', { class: 'problem-message' }, sentence(p.message)), ' ', where(p.offset, p.code));
}

function banners(model: EifViewModel): HTMLElement[] {
  const errors: HTMLElement[] = model.problems.filter((p) => p.severity === 'error').map(problemItem);
  if (!model.crc.ok) {
    errors.push(
      h(
        'li',
        null,
        t(
          "The stored CRC-32 {0} does not match the CRC-32 of the file's contents, {1}.",
          model.crc.stored,
          model.crc.computed,
        ),
      ),
    );
  }
  const describe = model.describe;
  if (!describe.ok && !model.problems.some((p) => p.code === describe.code && p.offset === describe.offset)) {
    errors.push(
      h(
        'li',
        null,
        h('span', { class: 'problem-message' }, t('nitro-cli describe-eif fails: {0}', describe.message)),
        ' ',
        where(describe.offset, describe.code),
      ),
    );
  }
  const warnings = model.problems.filter((p) => p.severity === 'warning').map(problemItem);
  const out: HTMLElement[] = [];
  if (errors.length > 0) {
    out.push(
      h(
        'div',
        { class: 'banner error', role: 'alert' },
        icon('error', 'banner-icon'),
        h(
          'div',
          null,
          h('strong', null, t('This image is malformed: {0}', count(errors.length, '1 problem', '{0} problems'))),
          h('ul', null, ...errors),
        ),
      ),
    );
  }
  if (warnings.length > 0) {
    out.push(
      h(
        'div',
        { class: 'banner warning' },
        icon('warning', 'banner-icon'),
        h(
          'div',
          null,
          h('strong', null, count(warnings.length, '1 warning', '{0} warnings')),
          h('ul', null, ...warnings),
        ),
      ),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Cards

function integrityCard(actions: ViewActions, model: EifViewModel): HTMLElement {
  const { crc, describe } = model;
  const structureErrors = model.problems.filter((p) => p.severity === 'error').length;
  const list = h(
    'ul',
    { class: 'checks' },
    check(
      crc.ok,
      crc.ok ? t('CRC-32 matches: {0}', crc.stored) : t('CRC-32 MISMATCH'),
      crc.ok
        ? t('The header holds the CRC-32 of the file’s contents.')
        : h('span', null, t('stored '), h('code', null, crc.stored), t(', computed '), h('code', null, crc.computed)),
    ),
    check(
      structureErrors === 0,
      structureErrors === 0
        ? t('Structure follows the EIF format')
        : t('Structure breaks the EIF format ({0})', count(structureErrors, '1 error', '{0} errors')),
      structureErrors === 0
        ? t(
            '{0}, and the header table agrees with them.',
            count(model.sections.filter((s) => s.found).length, '1 section', '{0} sections'),
          )
        : t('See the problems above.'),
    ),
    check(
      describe.ok,
      describe.ok ? t('nitro-cli describe-eif succeeds') : t('nitro-cli describe-eif fails'),
      describe.ok
        ? t('Describe as JSON shows its output.')
        : h('span', null, sentence(describe.message), ' ', where(describe.offset, describe.code)),
    ),
  );
  const sig = model.signature;
  if (!sig) {
    list.append(
      h(
        'li',
        { class: 'check info' },
        icon('info', 'check-icon'),
        h(
          'div',
          { class: 'check-text' },
          h('span', { class: 'check-statement' }, t('Not signed')),
          h('div', { class: 'check-detail' }, t('The image has no signature section, so it has no PCR8.')),
        ),
      ),
    );
  } else {
    const sigOk = sig.ok && sig.coseValid && sig.payloadMatchesPcr0;
    list.append(
      check(
        sigOk,
        sigOk ? t('Signature check passed') : t('Signature check FAILED'),
        !sig.ok
          ? sentence(sig.error)
          : sigOk
            ? t('Signed by {0}', sig.certificate.subject)
            : sig.coseReason
              ? sentence(sig.coseReason)
              : t('The signed payload does not match PCR0.'),
      ),
    );
  }
  const ok =
    crc.ok && structureErrors === 0 && describe.ok && (!sig || (sig.ok && sig.coseValid && sig.payloadMatchesPcr0));
  return card(actions, 'integrity', t('Integrity'), [list], {
    summary: ok
      ? h('span', { class: 'summary-ok' }, t('all checks pass'))
      : h('span', { class: 'summary-bad' }, t('problems found')),
  });
}

function measurementsCard(actions: ViewActions, model: EifViewModel): HTMLElement {
  const m = model.measurements;
  const rows = m.pcrs.map((pcr) =>
    h(
      'tr',
      { 'data-pcr': pcr.name },
      h('th', { scope: 'row', class: 'pcr-name' }, pcr.name),
      h('td', { class: 'pcr-meaning' }, pcr.meaning),
      h('td', { class: 'pcr-value' }, mono(pcr.value)),
      h(
        'td',
        { class: 'cell-tool' },
        copyButton(actions, pcr.value, pcr.name),
        ...kmsConditionButtons(actions, Number(pcr.name.slice(3))),
      ),
    ),
  );
  const table = h('table', { class: 'grid pcrs' }, pcrTableHead(t('Value (SHA-384)')), h('tbody', null, ...rows));
  return card(
    actions,
    'pcrs',
    t('Measurements'),
    [
      h(
        'p',
        { class: 'note' },
        t('Hash algorithm '),
        h('code', null, m.hashAlgorithm),
        model.signature ? '' : t(' · unsigned, so there is no PCR8'),
      ),
      h('div', { class: 'table-scroll' }, table),
    ],
    {
      tools: [
        button(
          t('Copy all as JSON'),
          'copy',
          () => void actions.copy(m.json, t('all PCRs as JSON')).catch(() => undefined),
          {
            secondary: true,
            title: t("nitro-cli's Measurements JSON"),
            id: 'copy-all',
          },
        ),
      ],
    },
  );
}

function headerCard(actions: ViewActions, model: EifViewModel): HTMLElement {
  const hd = model.header;
  const found = model.sections.filter((s) => s.found).length;
  return card(actions, 'header', t('Header'), [
    fields([
      [t('Magic'), h('span', null, h('code', null, hd.magic), t(' (".eif")')), t('bytes 0-3')],
      [t('Version'), String(hd.version), t('bytes 4-5')],
      [
        t('Flags'),
        h('span', null, h('code', null, hd.flags), t(' · architecture {0}', hd.architecture)),
        t('bytes 6-7; bit 0 is the architecture'),
      ],
      [
        'default_mem',
        h('span', null, humanU64Size(hd.defaultMem), h('span', { class: 'muted' }, t(' · ignored by nitro-cli'))),
        t('bytes 8-15'),
      ],
      [
        'default_cpus',
        h('span', null, hd.defaultCpus, h('span', { class: 'muted' }, t(' · ignored by nitro-cli'))),
        t('bytes 16-23'),
      ],
      [
        'num_sections',
        h(
          'span',
          null,
          String(hd.numSections),
          hd.numSections !== found ? h('span', { class: 'bad' }, t(' · {0} found in the file', found)) : null,
        ),
        t('bytes 26-27'),
      ],
      [
        'eif_crc32',
        h(
          'span',
          { class: model.crc.ok ? '' : 'bad' },
          h('code', null, model.crc.stored),
          model.crc.ok
            ? h('span', { class: 'good' }, t(' · matches'))
            : h('span', null, t(' · MISMATCH, computed '), h('code', null, model.crc.computed)),
        ),
        t('bytes 544-547'),
      ],
      [t('File size'), humanSize(model.file.size)],
    ]),
  ]);
}

function tableCell(value: string, matches: boolean, found: number | undefined, what: 'offset' | 'size'): HTMLElement {
  if (matches) return h('td', { class: 'num muted', title: t('The header table agrees: {0}', value) }, value);
  const title =
    found === undefined
      ? what === 'offset'
        ? t('The header table has this offset for a section the file does not have')
        : t('The header table has this size for a section the file does not have')
      : what === 'offset'
        ? t('The header table says {0}, but the section header is at {1}', value, found)
        : t('The header table says {0}, but the section header says {1}', value, found);
  return h('td', { class: 'num mismatch', title }, icon('error', 'inline-icon'), ` ${value}`);
}

function sectionRow(s: EifSectionView): HTMLElement {
  const f = s.found;
  const ok = s.offsetMatches && s.sizeMatches;
  return h(
    'tr',
    { class: ok ? '' : 'row-mismatch' },
    h('td', { class: 'num' }, String(s.index)),
    h(
      'td',
      null,
      f
        ? h('span', { class: `section-type type-${f.typeName}` }, f.typeName)
        : h('span', { class: 'bad' }, t('missing')),
    ),
    h('td', { class: 'num', title: f ? offsetTitle(f.headerOffset) : undefined }, f ? String(f.headerOffset) : '—'),
    h('td', { class: 'num', title: f ? offsetTitle(f.dataOffset) : undefined }, f ? String(f.dataOffset) : '—'),
    h('td', { class: 'num', title: f ? bytes(f.size) : undefined }, f ? humanSize(f.size) : '—'),
    h('td', null, f && f.measuredIn.length > 0 ? f.measuredIn.join(', ') : h('span', { class: 'muted' }, '—')),
    tableCell(s.tableOffset, s.offsetMatches, f?.headerOffset, 'offset'),
    tableCell(s.tableSize, s.sizeMatches, f?.size, 'size'),
  );
}

function sectionsCard(actions: ViewActions, model: EifViewModel): HTMLElement {
  const mismatches = model.sections.filter((s) => !s.offsetMatches || !s.sizeMatches).length;
  const table = h(
    'table',
    { class: 'grid sections' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', { class: 'num', scope: 'col' }, '#'),
        h('th', { scope: 'col' }, t('Type')),
        h('th', { class: 'num', scope: 'col', title: t('Where the 12-byte section header starts') }, t('Header at')),
        h('th', { class: 'num', scope: 'col' }, t('Data at')),
        h('th', { class: 'num', scope: 'col' }, t('Size')),
        h('th', { scope: 'col', title: t('The PCRs this section’s bytes are measured into') }, t('Measured in')),
        h(
          'th',
          { class: 'num', scope: 'col', title: t("The header's section_offsets entry for this slot") },
          t('Table offset'),
        ),
        h(
          'th',
          { class: 'num', scope: 'col', title: t("The header's section_sizes entry for this slot") },
          t('Table size'),
        ),
      ),
    ),
    h('tbody', null, ...model.sections.map(sectionRow)),
  );
  const notes: Child[] = [];
  if (model.trailingBytes > 0) {
    notes.push(
      h(
        'p',
        { class: 'note warn-text' },
        t(
          '{0} after the last section are not part of any section (nitro-cli ignores them).',
          bytes(model.trailingBytes),
        ),
      ),
    );
  }
  return card(actions, 'sections', t('Sections'), [h('div', { class: 'table-scroll' }, table), ...notes], {
    summary:
      mismatches > 0
        ? h(
            'span',
            { class: 'summary-bad' },
            t('header table disagrees in {0}', count(mismatches, '1 slot', '{0} slots')),
          )
        : `${model.sections.length}`,
  });
}

function jsonBlock(text: string): HTMLElement {
  return h('pre', { class: 'code-block' }, text);
}

function metadataCard(actions: ViewActions, model: EifViewModel): HTMLElement {
  const md = model.metadata;
  let body: Child[];
  if (!md) {
    body = [
      h(
        'p',
        { class: 'note' },
        model.header.version >= 4
          ? t('No metadata section. EIF version {0} requires one.', model.header.version)
          : t('No metadata section. EIF version {0} predates it (metadata came with version 4).', model.header.version),
      ),
    ];
  } else if (!md.ok) {
    body = [
      h('ul', { class: 'checks' }, check(false, t('The metadata section cannot be read'), sentence(md.error))),
      md.text !== undefined ? jsonBlock(md.text) : null,
    ];
  } else {
    body = [
      fields([
        [t('Image name'), md.imageName],
        [t('Image version'), mono(md.imageVersion)],
        ...md.build.map(({ key, value }) => [key, value] as const),
      ]),
      h('h3', null, t('Docker info')),
      jsonBlock(md.dockerInfo),
      h('h3', null, t('Custom metadata')),
      jsonBlock(md.customMetadata),
    ];
  }
  return card(actions, 'metadata', t('Metadata'), body, { summary: md?.ok ? md.imageName : undefined });
}

function certificateFields(actions: ViewActions, c: EifCertificateView): HTMLElement {
  return fields([
    [t('Subject'), c.subject],
    [t('Issuer'), c.issuer],
    [t('Serial number'), colonHex(c.serial)],
    [t('Not before'), h('span', { class: 'keep-spaces', title: c.notBefore.iso }, c.notBefore.openssl)],
    [t('Not after'), h('span', { class: 'keep-spaces', title: c.notAfter.iso }, c.notAfter.openssl)],
    [t('Signature algorithm'), c.signatureAlgorithm],
    [t('Public key'), c.curve ? `${c.keyAlgorithm} (${c.curve})` : c.keyAlgorithm],
    [
      t('SHA-256 fingerprint'),
      h(
        'span',
        { class: 'with-tool' },
        colonHex(c.sha256Fingerprint),
        copyButton(actions, c.sha256Fingerprint, t('certificate fingerprint')),
      ),
    ],
  ]);
}

function signatureCard(actions: ViewActions, model: EifViewModel): HTMLElement {
  const sig: EifSignatureView | undefined = model.signature;
  if (!sig) {
    return card(
      actions,
      'signature',
      t('Signature'),
      [h('p', { class: 'note' }, t('The image is not signed: it has no signature section, so it has no PCR8.'))],
      {
        summary: t('not signed'),
      },
    );
  }
  if (!sig.ok) {
    return card(
      actions,
      'signature',
      t('Signature'),
      [h('ul', { class: 'checks' }, check(false, t('The signature section cannot be read'), sentence(sig.error)))],
      {
        summary: h('span', { class: 'summary-bad' }, t('unreadable')),
      },
    );
  }
  const checkedAt = new Date(sig.checkedAt);
  const c = sig.certificate;
  const checks = h(
    'ul',
    { class: 'checks' },
    check(
      sig.coseValid,
      sig.coseValid
        ? t('COSE signature is valid{0}', sig.coseAlgorithm ? ` (${sig.coseAlgorithm})` : '')
        : t('COSE signature is NOT valid'),
      sig.coseValid ? t('Verified with the certificate’s public key.') : sentence(sig.coseReason ?? ''),
    ),
    check(
      sig.payloadMatchesPcr0,
      sig.payloadMatchesPcr0 ? t('The signed payload matches PCR0') : t('The signed payload does NOT match PCR0'),
      sig.payloadMatchesPcr0
        ? t('nitro-cli’s SignatureCheck: true.')
        : t('nitro-cli’s SignatureCheck: false. The signature covers a different image.'),
    ),
    check(
      sig.certificateValidNow,
      sig.certificateValidNow ? t('The certificate is valid now') : t('The certificate is NOT valid now'),
      t(
        sig.certificateValidNow
          ? 'Checked at {0}; valid from {1} to {2}.'
          : 'Checked at {0}; valid from {1} to {2}. nitro-cli run-enclave refuses it.',
        checkedAt
          .toISOString()
          .replace('T', ' ')
          .replace(/\.\d+Z$/, ' UTC'),
        c.notBefore.iso.slice(0, 10),
        c.notAfter.iso.slice(0, 10),
      ),
    ),
  );
  const expiry = sig.expiryWarning;
  // An expired or not yet valid certificate already fails the row above; one that expires soon is a warning.
  if (expiry?.state === 'expires-soon') {
    const row = check(
      false,
      t('The certificate expires in {0}', count(expiry.days ?? 0, '1 day', '{0} days')),
      sentence(expiry.message),
      'warn',
    );
    row.id = 'certificate-expiry';
    checks.append(row);
  } else if (expiry) {
    const row = check(false, t('The signing certificate needs renewing'), sentence(expiry.message));
    row.id = 'certificate-expiry';
    checks.append(row);
  }
  const allOk = sig.coseValid && sig.payloadMatchesPcr0 && sig.certificateValidNow;
  return card(
    actions,
    'signature',
    t('Signature'),
    [checks, h('h3', null, t('Signing certificate')), certificateFields(actions, c)],
    {
      summary: !allOk
        ? h('span', { class: 'summary-bad' }, t('checks fail'))
        : expiry
          ? h('span', { class: 'summary-warn' }, t('valid, certificate expires soon'))
          : h('span', { class: 'summary-ok' }, t('valid')),
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Whole pages

export function modelPage(actions: ViewActions, model: EifViewModel): HTMLElement[] {
  return [
    ...banners(model),
    integrityCard(actions, model),
    measurementsCard(actions, model),
    headerCard(actions, model),
    sectionsCard(actions, model),
    metadataCard(actions, model),
    signatureCard(actions, model),
  ];
}

/** The heading of the page of a file that cannot be shown. */
function errorTitle(kind: EifViewError['kind']): string {
  switch (kind) {
    case 'format':
      return t('This file cannot be read as an enclave image');
    case 'cancelled':
      return t('Measuring was cancelled');
    case 'unsupported':
      return t('This image cannot be opened here');
    default:
      return t('This file cannot be read');
  }
}

export function errorPage(actions: ViewActions, error: EifViewError): HTMLElement {
  const cancelled = error.kind === 'cancelled';
  return h(
    'div',
    { class: `banner ${cancelled ? 'info' : 'error'} fatal`, role: cancelled ? 'status' : 'alert' },
    icon(cancelled ? 'info' : 'error', 'banner-icon'),
    h(
      'div',
      null,
      h('strong', null, errorTitle(error.kind)),
      h('p', { class: 'fatal-message' }, sentence(error.message)),
      error.code !== undefined && error.offset !== undefined ? h('p', null, where(error.offset, error.code)) : null,
      h(
        'p',
        null,
        button(t('Reload'), 'refresh', () => actions.reload(), { id: 'reload-error' }),
      ),
    ),
  );
}

/** The title bar's line while the host measures the file: `Measuring… 40% (1.2 MiB of 3 MiB)`. */
export function progressText(done: number, total: number): string {
  return t('Measuring… {0}% ({1} of {2})', percent(done, total), shortSize(done), shortSize(total));
}

export function loadingPage(fileName: string): HTMLElement {
  return h('p', { class: 'note loading' }, t('Measuring {0}…', fileName));
}
