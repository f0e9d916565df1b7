// The Attestation Document Viewer's webview: says `ready`, then shows whatever the host sends (the
// view model, or why the document cannot be shown). Data always comes from the host, which also
// verifies again when the time selector or the compared image changes. The webview state keeps the
// UI state (collapsed cards) and, for panels, what the host asks it to keep so the panel can be
// restored after a reload.
import {
  parseHostMessage,
  type AttestationHostMessage,
  type AttestationViewError,
  type AttestationViewModel,
  type AttestationWebviewState,
  type DryRunView,
  type PickedPolicy,
  type TimeChoice,
  type TimeMode,
} from '../../shared/attestationViewer';
import { READY } from '../../shared/protocol';
import { HostConnection, collapsedCards } from '../lib/vscodeApi';
import { h } from '../lib/dom';
import { humanSize, shortSize } from '../lib/format';
import { fromLocalInput, toLocalInput, verdictWord } from './format';
import { icon } from './icons';
import { button, errorPage, loadingPage, modelPage, type ViewActions } from './view';
import { DryRunCard } from './dryRun';
import { t } from './words';

type Screen =
  | { readonly kind: 'loading' }
  | { readonly kind: 'model'; readonly model: AttestationViewModel }
  | { readonly kind: 'error'; readonly error: AttestationViewError };

let screen: Screen = { kind: 'loading' };
let busy: string | undefined;
/** The time mode the person picked last, before the host has answered with a model for it. */
let pendingMode: TimeMode | undefined;
/** The custom date-time input is open (Custom picked, not applied yet, or applied). */
let customOpen = false;

const root = document.getElementById('root') ?? document.body.appendChild(document.createElement('div'));

const connection = new HostConnection<AttestationWebviewState, AttestationHostMessage>({
  parse: parseHostMessage,
  handlers: {
    init: ({ body }) => {
      screen = { kind: 'model', model: body.model };
      pendingMode = undefined;
      if (body.model.time.mode === 'custom') customOpen = true;
      render();
    },
    error: ({ body }) => {
      screen = { kind: 'error', error: body };
      pendingMode = undefined;
      render();
    },
    busy: ({ body }) => {
      busy = body.message;
      renderHeader();
    },
    persist: ({ body }) => {
      connection.state = { ...connection.state, panel: body.state };
    },
  },
});

const cards = collapsedCards(connection);

function setTime(time: TimeChoice): void {
  pendingMode = time.mode;
  connection.post('setTime', time);
  renderHeader();
}

const actions: ViewActions = {
  copy: (text, what) => connection.request('copy', { text, what }),
  copyKmsCondition: (pcr, key) => connection.request('copyKmsCondition', { pcr, key }),
  atDocumentTime: () => {
    customOpen = false;
    setTime({ mode: 'document' });
  },
  compare: () => connection.post('compare'),
  clearComparison: () => connection.post('clearComparison'),
  resign: () => connection.post('resign'),
  isCollapsed: cards.isCollapsed,
  setCollapsed: cards.setCollapsed,
  showAllPcrs: () => connection.state?.showAllPcrs === true,
  setShowAllPcrs: (value) => {
    connection.state = { ...connection.state, showAllPcrs: value };
    render();
  },
};

// ---------------------------------------------------------------------------------------------
// The header: title bar and time selector, built once and updated (so the date-time input keeps
// its focus and value while the page below is rendered again).

const titleName = h('h1', null, document.title);
const chips = h('div', { class: 'chips' });
const busyLabel = h('span', { class: 'progress-label', hidden: true });
const compareButton = button(t('Compare with Enclave Image…'), 'compare', () => actions.compare(), {
  secondary: true,
  id: 'compare',
  title: t('Check the document’s PCR0, PCR1, PCR2 (and PCR8) against an .eif file'),
});
const saveButton = button(t('Save…'), 'save', () => connection.post('save'), {
  secondary: true,
  id: 'save',
  title: t('Save the document to a file (its CBOR bytes, as the NSM returned them)'),
});
const copyBase64Button = button(t('Copy as Base64'), 'copy', () => connection.post('copyBase64'), {
  secondary: true,
  id: 'copy-base64',
  title: t('Copy the document (its CBOR bytes) as base64 text'),
});
const reloadButton = button(t('Reload'), 'refresh', () => connection.post('reload'), {
  secondary: true,
  id: 'reload',
  title: t('Read the document again and verify it'),
});
const titlebar = h(
  'header',
  { class: 'titlebar' },
  h('div', { class: 'title' }, icon('certificate', 'title-icon'), titleName, chips, busyLabel),
  h('div', { class: 'actions' }, compareButton, saveButton, copyBase64Button, reloadButton),
);

const MODES: readonly { mode: TimeMode; label: string; title: string }[] = [
  { mode: 'now', label: t('Now'), title: t('Verify at the current time (what a relying party does)') },
  { mode: 'document', label: t('Document time'), title: t('Verify at the time the document says it was made') },
  { mode: 'custom', label: t('Custom…'), title: t('Verify at a date and time you choose') },
];
const modeButtons = new Map<TimeMode, HTMLButtonElement>();
for (const { mode, label, title } of MODES) {
  const b = h(
    'button',
    { class: 'segment', type: 'button', id: `time-${mode}`, title, 'aria-pressed': 'false' },
    label,
  );
  b.addEventListener('click', () => {
    if (mode === 'custom') {
      customOpen = true;
      const at = screen.kind === 'model' ? screen.model.time.at.ms : Date.now();
      if (!customInput.value) customInput.value = toLocalInput(at);
      renderHeader();
      customInput.focus();
      return;
    }
    customOpen = false;
    setTime({ mode });
  });
  modeButtons.set(mode, b);
}
const customInput = h('input', {
  type: 'datetime-local',
  step: 1,
  id: 'time-custom-input',
  'aria-label': t('Verification time (local time)'),
  class: 'time-input',
});
const customError = h('span', { class: 'time-error', role: 'alert', hidden: true });
function applyCustom(): void {
  const at = fromLocalInput(customInput.value);
  customError.hidden = at !== undefined;
  customError.textContent = at === undefined ? t('Enter a complete date and time.') : '';
  if (at !== undefined) setTime({ mode: 'custom', at });
}
customInput.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') applyCustom();
});
const applyButton = button(t('Verify'), 'clock', applyCustom, {
  id: 'time-apply',
  title: t('Verify at this local date and time'),
});
const customGroup = h(
  'span',
  { class: 'time-custom', hidden: true },
  customInput,
  h('span', { class: 'muted time-zone' }, t('local time')),
  applyButton,
  customError,
);
const effective = h('span', { class: 'muted time-pending', hidden: true }, t('Verifying…'));
const timebar = h(
  'div',
  { class: 'timebar', id: 'timebar' },
  h('span', { class: 'timebar-label' }, icon('clock'), t('Verify at')),
  h('div', { class: 'segmented', role: 'group', 'aria-label': t('Verification time') }, ...modeButtons.values()),
  customGroup,
  effective,
);

// base64 and hex are names, the same in every language.
const ENCODINGS = { binary: t('binary CBOR'), base64: 'base64', hex: 'hex' } as const;

function renderHeader(): void {
  const model = screen.kind === 'model' ? screen.model : undefined;
  const label = model?.source.label ?? (screen.kind === 'error' ? screen.error.label : document.title);
  titleName.textContent = label;
  titleName.title = model?.source.detail ?? label;
  chips.replaceChildren();
  if (model) {
    const src = model.source;
    if (src.encoding)
      chips.append(h('span', { class: 'badge', title: t('How the input is written') }, ENCODINGS[src.encoding]));
    chips.append(h('span', { class: 'badge', title: humanSize(src.inputSize) }, shortSize(src.inputSize)));
    if (src.kind === 'bytes')
      chips.append(
        h('span', { class: 'badge muted', title: t('Not a file: the bytes are kept with the panel') }, t('no file')),
      );
    chips.append(
      h(
        'span',
        {
          class: `badge ${model.verdict.valid ? 'ok' : model.verdict.verdict === 'unsigned' ? 'warn' : 'bad'}`,
          id: 'verdict-chip',
        },
        verdictWord(model.verdict.verdict),
      ),
    );
  }
  busyLabel.hidden = busy === undefined;
  busyLabel.textContent = busy ?? '';
  compareButton.disabled = busy !== undefined;
  compareButton.hidden = !model || model.comparison !== undefined;
  saveButton.hidden = !model;
  copyBase64Button.hidden = !model;
  reloadButton.hidden = !(
    model?.source.kind === 'file' ||
    (screen.kind === 'error' && screen.error.canReload === true)
  );

  const mode = pendingMode ?? (customOpen ? 'custom' : model?.time.mode);
  for (const [m, b] of modeButtons) {
    b.setAttribute('aria-pressed', String(m === mode));
    b.classList.toggle('selected', m === mode);
    b.disabled = !model;
  }
  customGroup.hidden = !customOpen;
  applyButton.disabled = !model;
  timebar.hidden = screen.kind === 'error';
  effective.hidden = pendingMode === undefined;
}

const main = h('main', { class: 'content att-content' });
root.replaceChildren(titlebar, timebar, main);

// Built once, so what is typed into it survives every render of the page around it.
const dryRun = new DryRunCard({
  isCollapsed: cards.isCollapsed,
  setCollapsed: cards.setCollapsed,
  dryRun: (body) => connection.request<'dryRun', DryRunView>('dryRun', body),
  pickPolicy: () => connection.request<'pickPolicy', PickedPolicy | null>('pickPolicy'),
  get state() {
    return connection.state?.dryRun;
  },
  setState: (value) => {
    connection.state = { ...connection.state, dryRun: value };
  },
});

function render(): void {
  renderHeader();
  if (screen.kind === 'model') {
    const page = modelPage(actions, screen.model);
    // After the PCRs it is about, before the certificate chain.
    const at = page.findIndex((el) => el.id === 'card-chain');
    if (screen.model.document) page.splice(at < 0 ? page.length : at, 0, dryRun.element);
    main.replaceChildren(...page);
    dryRun.refresh();
  } else if (screen.kind === 'error')
    main.replaceChildren(errorPage(screen.error, screen.error.canReload ? () => connection.post('reload') : undefined));
  else main.replaceChildren(loadingPage(document.title));
  document.body.dataset['state'] = screen.kind;
}

render();
connection.post(READY);
