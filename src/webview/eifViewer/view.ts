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
import { humanSize, humanU64Size, offsetTitle, plural, shortSize } from '../lib/format';

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
  return h('span', { class: 'where' }, `at ${offsetTitle(offset)} · rule `, h('code', null, code));
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
      badge(model.header.architecture, '', 'CPU architecture (header flags bit 0)'),
      badge(`EIF v${model.header.version}`, '', 'EIF format version'),
      badge(shortSize(model.file.size), '', humanSize(model.file.size)),
      model.signature
        ? badge('signed', model.signature.ok && model.signature.coseValid ? 'ok' : 'bad')
        : badge('unsigned', 'muted'),
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
      button('Run', 'play', () => actions.imageAction('run'), {
        title: 'Run Enclave: run this image on a parent instance',
        id: 'run',
        disabled: !model,
      }),
      button('Sign…', 'key', () => actions.imageAction('sign'), {
        title: 'Sign Image: sign this image in place with a certificate and its private key (PCR8)',
        secondary: true,
        id: 'sign',
        disabled: !model,
      }),
      button('KMS Policy…', 'shield', () => actions.imageAction('kmsPolicy'), {
        title: "Generate KMS Key Policy: a key policy that releases a key only to this image's PCRs",
        secondary: true,
        id: 'kms-policy',
        disabled: !model,
      }),
      button('Describe as JSON', 'json', () => actions.describe(), {
        title: "Open nitro-cli describe-eif's JSON for this image in an editor",
        secondary: true,
        id: 'describe',
        disabled: !model,
      }),
      button('Reload', 'refresh', () => actions.reload(), {
        title: 'Read and measure the file again',
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
        `The stored CRC-32 ${model.crc.stored} does not match ` +
          `the CRC-32 of the file's contents, ${model.crc.computed}.`,
      ),
    );
  }
  const describe = model.describe;
  if (!describe.ok && !model.problems.some((p) => p.code === describe.code && p.offset === describe.offset)) {
    errors.push(
      h(
        'li',
        null,
        h('span', { class: 'problem-message' }, `nitro-cli describe-eif fails: ${describe.message}`),
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
          h('strong', null, `This image is malformed: ${plural(errors.length, 'problem')}`),
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
        h('div', null, h('strong', null, plural(warnings.length, 'warning')), h('ul', null, ...warnings)),
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
      crc.ok ? `CRC-32 matches: ${crc.stored}` : 'CRC-32 MISMATCH',
      crc.ok
        ? 'The header holds the CRC-32 of the file’s contents.'
        : h('span', null, 'stored ', h('code', null, crc.stored), ', computed ', h('code', null, crc.computed)),
    ),
    check(
      structureErrors === 0,
      structureErrors === 0
        ? 'Structure follows the EIF format'
        : `Structure breaks the EIF format (${plural(structureErrors, 'error')})`,
      structureErrors === 0
        ? `${plural(model.sections.filter((s) => s.found).length, 'section')}, and the header table agrees with them.`
        : 'See the problems above.',
    ),
    check(
      describe.ok,
      describe.ok ? 'nitro-cli describe-eif succeeds' : 'nitro-cli describe-eif fails',
      describe.ok
        ? 'Describe as JSON shows its output.'
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
          h('span', { class: 'check-statement' }, 'Not signed'),
          h('div', { class: 'check-detail' }, 'The image has no signature section, so it has no PCR8.'),
        ),
      ),
    );
  } else {
    const sigOk = sig.ok && sig.coseValid && sig.payloadMatchesPcr0;
    list.append(
      check(
        sigOk,
        sigOk ? 'Signature check passed' : 'Signature check FAILED',
        !sig.ok
          ? sentence(sig.error)
          : sigOk
            ? `Signed by ${sig.certificate.subject}`
            : sentence(sig.coseReason ?? 'the signed payload does not match PCR0.'),
      ),
    );
  }
  const ok =
    crc.ok && structureErrors === 0 && describe.ok && (!sig || (sig.ok && sig.coseValid && sig.payloadMatchesPcr0));
  return card(actions, 'integrity', 'Integrity', [list], {
    summary: ok
      ? h('span', { class: 'summary-ok' }, 'all checks pass')
      : h('span', { class: 'summary-bad' }, 'problems found'),
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
  const table = h('table', { class: 'grid pcrs' }, pcrTableHead('Value (SHA-384)'), h('tbody', null, ...rows));
  return card(
    actions,
    'pcrs',
    'Measurements',
    [
      h(
        'p',
        { class: 'note' },
        'Hash algorithm ',
        h('code', null, m.hashAlgorithm),
        model.signature ? '' : ' · unsigned, so there is no PCR8',
      ),
      h('div', { class: 'table-scroll' }, table),
    ],
    {
      tools: [
        button('Copy all as JSON', 'copy', () => void actions.copy(m.json, 'all PCRs as JSON').catch(() => undefined), {
          secondary: true,
          title: "nitro-cli's Measurements JSON",
          id: 'copy-all',
        }),
      ],
    },
  );
}

function headerCard(actions: ViewActions, model: EifViewModel): HTMLElement {
  const hd = model.header;
  const found = model.sections.filter((s) => s.found).length;
  return card(actions, 'header', 'Header', [
    fields([
      ['Magic', h('span', null, h('code', null, hd.magic), ' (".eif")'), 'bytes 0-3'],
      ['Version', String(hd.version), 'bytes 4-5'],
      [
        'Flags',
        h('span', null, h('code', null, hd.flags), ` · architecture ${hd.architecture}`),
        'bytes 6-7; bit 0 is the architecture',
      ],
      [
        'default_mem',
        h('span', null, humanU64Size(hd.defaultMem), h('span', { class: 'muted' }, ' · ignored by nitro-cli')),
        'bytes 8-15',
      ],
      [
        'default_cpus',
        h('span', null, hd.defaultCpus, h('span', { class: 'muted' }, ' · ignored by nitro-cli')),
        'bytes 16-23',
      ],
      [
        'num_sections',
        h(
          'span',
          null,
          String(hd.numSections),
          hd.numSections !== found ? h('span', { class: 'bad' }, ` · ${found} found in the file`) : null,
        ),
        'bytes 26-27',
      ],
      [
        'eif_crc32',
        h(
          'span',
          { class: model.crc.ok ? '' : 'bad' },
          h('code', null, model.crc.stored),
          model.crc.ok
            ? h('span', { class: 'good' }, ' · matches')
            : h('span', null, ' · MISMATCH, computed ', h('code', null, model.crc.computed)),
        ),
        'bytes 544-547',
      ],
      ['File size', humanSize(model.file.size)],
    ]),
  ]);
}

function tableCell(value: string, matches: boolean, found: number | undefined, what: 'offset' | 'size'): HTMLElement {
  if (matches) return h('td', { class: 'num muted', title: `The header table agrees: ${value}` }, value);
  const title =
    found === undefined
      ? `The header table has this ${what} for a section the file does not have`
      : `The header table says ${value}, but the section header ${what === 'offset' ? 'is at' : 'says'} ${found}`;
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
      f ? h('span', { class: `section-type type-${f.typeName}` }, f.typeName) : h('span', { class: 'bad' }, 'missing'),
    ),
    h('td', { class: 'num', title: f ? offsetTitle(f.headerOffset) : undefined }, f ? String(f.headerOffset) : '—'),
    h('td', { class: 'num', title: f ? offsetTitle(f.dataOffset) : undefined }, f ? String(f.dataOffset) : '—'),
    h('td', { class: 'num', title: f ? `${f.size} bytes` : undefined }, f ? humanSize(f.size) : '—'),
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
        h('th', { scope: 'col' }, 'Type'),
        h('th', { class: 'num', scope: 'col', title: 'Where the 12-byte section header starts' }, 'Header at'),
        h('th', { class: 'num', scope: 'col' }, 'Data at'),
        h('th', { class: 'num', scope: 'col' }, 'Size'),
        h('th', { scope: 'col', title: 'The PCRs this section’s bytes are measured into' }, 'Measured in'),
        h(
          'th',
          { class: 'num', scope: 'col', title: "The header's section_offsets entry for this slot" },
          'Table offset',
        ),
        h('th', { class: 'num', scope: 'col', title: "The header's section_sizes entry for this slot" }, 'Table size'),
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
        `${plural(model.trailingBytes, 'byte')} after the last section ` +
          `are not part of any section (nitro-cli ignores them).`,
      ),
    );
  }
  return card(actions, 'sections', 'Sections', [h('div', { class: 'table-scroll' }, table), ...notes], {
    summary:
      mismatches > 0
        ? h('span', { class: 'summary-bad' }, `header table disagrees in ${plural(mismatches, 'slot')}`)
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
        `No metadata section. EIF version ${model.header.version} ` +
          `${model.header.version >= 4 ? 'requires one' : 'predates it (metadata came with version 4)'}.`,
      ),
    ];
  } else if (!md.ok) {
    body = [
      h('ul', { class: 'checks' }, check(false, 'The metadata section cannot be read', sentence(md.error))),
      md.text !== undefined ? jsonBlock(md.text) : null,
    ];
  } else {
    body = [
      fields([
        ['Image name', md.imageName],
        ['Image version', mono(md.imageVersion)],
        ...md.build.map(({ key, value }) => [key, value] as const),
      ]),
      h('h3', null, 'Docker info'),
      jsonBlock(md.dockerInfo),
      h('h3', null, 'Custom metadata'),
      jsonBlock(md.customMetadata),
    ];
  }
  return card(actions, 'metadata', 'Metadata', body, { summary: md?.ok ? md.imageName : undefined });
}

function certificateFields(actions: ViewActions, c: EifCertificateView): HTMLElement {
  return fields([
    ['Subject', c.subject],
    ['Issuer', c.issuer],
    ['Serial number', colonHex(c.serial)],
    ['Not before', h('span', { class: 'keep-spaces', title: c.notBefore.iso }, c.notBefore.openssl)],
    ['Not after', h('span', { class: 'keep-spaces', title: c.notAfter.iso }, c.notAfter.openssl)],
    ['Signature algorithm', c.signatureAlgorithm],
    ['Public key', c.curve ? `${c.keyAlgorithm} (${c.curve})` : c.keyAlgorithm],
    [
      'SHA-256 fingerprint',
      h(
        'span',
        { class: 'with-tool' },
        colonHex(c.sha256Fingerprint),
        copyButton(actions, c.sha256Fingerprint, 'certificate fingerprint'),
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
      'Signature',
      [h('p', { class: 'note' }, 'The image is not signed: it has no signature section, so it has no PCR8.')],
      {
        summary: 'not signed',
      },
    );
  }
  if (!sig.ok) {
    return card(
      actions,
      'signature',
      'Signature',
      [h('ul', { class: 'checks' }, check(false, 'The signature section cannot be read', sentence(sig.error)))],
      {
        summary: h('span', { class: 'summary-bad' }, 'unreadable'),
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
        ? `COSE signature is valid${sig.coseAlgorithm ? ` (${sig.coseAlgorithm})` : ''}`
        : 'COSE signature is NOT valid',
      sig.coseValid ? 'Verified with the certificate’s public key.' : sentence(sig.coseReason ?? ''),
    ),
    check(
      sig.payloadMatchesPcr0,
      sig.payloadMatchesPcr0 ? 'The signed payload matches PCR0' : 'The signed payload does NOT match PCR0',
      sig.payloadMatchesPcr0
        ? 'nitro-cli’s SignatureCheck: true.'
        : 'nitro-cli’s SignatureCheck: false. The signature covers a different image.',
    ),
    check(
      sig.certificateValidNow,
      sig.certificateValidNow ? 'The certificate is valid now' : 'The certificate is NOT valid now',
      `Checked at ${checkedAt
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC')}; ` +
        `valid from ${c.notBefore.iso.slice(0, 10)} to ${c.notAfter.iso.slice(0, 10)}.` +
        `${sig.certificateValidNow ? '' : ' nitro-cli run-enclave refuses it.'}`,
    ),
  );
  const expiry = sig.expiryWarning;
  // An expired or not yet valid certificate already fails the row above; one that expires soon is a warning.
  if (expiry?.state === 'expires-soon') {
    const row = check(
      false,
      `The certificate expires in ${plural(expiry.days ?? 0, 'day')}`,
      sentence(expiry.message),
      'warn',
    );
    row.id = 'certificate-expiry';
    checks.append(row);
  } else if (expiry) {
    const row = check(false, 'The signing certificate needs renewing', sentence(expiry.message));
    row.id = 'certificate-expiry';
    checks.append(row);
  }
  const allOk = sig.coseValid && sig.payloadMatchesPcr0 && sig.certificateValidNow;
  return card(
    actions,
    'signature',
    'Signature',
    [checks, h('h3', null, 'Signing certificate'), certificateFields(actions, c)],
    {
      summary: !allOk
        ? h('span', { class: 'summary-bad' }, 'checks fail')
        : expiry
          ? h('span', { class: 'summary-warn' }, 'valid, certificate expires soon')
          : h('span', { class: 'summary-ok' }, 'valid'),
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

const ERROR_TITLES: Record<EifViewError['kind'], string> = {
  format: 'This file cannot be read as an enclave image',
  unreadable: 'This file cannot be read',
  cancelled: 'Measuring was cancelled',
  unsupported: 'This image cannot be opened here',
};

export function errorPage(actions: ViewActions, error: EifViewError): HTMLElement {
  const cancelled = error.kind === 'cancelled';
  return h(
    'div',
    { class: `banner ${cancelled ? 'info' : 'error'} fatal`, role: cancelled ? 'status' : 'alert' },
    icon(cancelled ? 'info' : 'error', 'banner-icon'),
    h(
      'div',
      null,
      h('strong', null, ERROR_TITLES[error.kind] ?? ERROR_TITLES.unreadable),
      h('p', { class: 'fatal-message' }, sentence(error.message)),
      error.code !== undefined && error.offset !== undefined ? h('p', null, where(error.offset, error.code)) : null,
      h(
        'p',
        null,
        button('Reload', 'refresh', () => actions.reload(), { id: 'reload-error' }),
      ),
    ),
  );
}

export function loadingPage(fileName: string): HTMLElement {
  return h('p', { class: 'note loading' }, `Measuring ${fileName}…`);
}
