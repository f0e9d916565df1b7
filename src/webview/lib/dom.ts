// A tiny element builder over createElement/textContent: text is always inserted as text, never
// parsed as HTML, so data from the file cannot inject markup. No inline styles (the CSP forbids them).
import type { KmsConditionKey } from '../../shared/protocol';
import { colonParts } from '../../shared/text';
import { libWords } from './l10n';

export type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

/** `h('td', { class: 'mono', title: value }, value)`. Attributes named on<event> add listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.slice(2).toLowerCase(), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, ...children);
  return el;
}

export function append(parent: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.append(typeof c === 'number' ? String(c) : c);
  }
}

const SVG = 'http://www.w3.org/2000/svg';

/** Line icons drawn on a 16×16 grid with the current text colour. */
const ICONS = {
  check: ['M3 8.5l3.2 3.2L13 5'],
  close: ['M4 4l8 8', 'M12 4l-8 8'],
  error: ['M8 1.75a6.25 6.25 0 1 0 0 12.5 6.25 6.25 0 0 0 0-12.5z', 'M5.75 5.75l4.5 4.5', 'M10.25 5.75l-4.5 4.5'],
  pass: ['M8 1.75a6.25 6.25 0 1 0 0 12.5 6.25 6.25 0 0 0 0-12.5z', 'M5 8.25l2 2 4-4.25'],
  warning: ['M8 1.75L14.75 14H1.25z', 'M8 6.25v3.75', 'M8 11.75v.5'],
  info: ['M8 1.75a6.25 6.25 0 1 0 0 12.5 6.25 6.25 0 0 0 0-12.5z', 'M8 7.25v4', 'M8 4.75v.5'],
  copy: ['M5.5 5.5h8v8h-8z', 'M10.5 5.5v-3h-8v8h3'],
  refresh: ['M13.25 8A5.25 5.25 0 1 1 11.7 4.3', 'M12.25 1.75v3h-3'],
  json: [
    'M5.5 2.5c-1.4 0-2 .6-2 1.9v1.7c0 1-.5 1.6-1.5 1.9 1 .3 1.5.9 1.5 1.9v1.7c0 1.3.6 1.9 2 1.9',
    'M10.5 2.5c1.4 0 2 .6 2 1.9v1.7c0 1 .5 1.6 1.5 1.9-1 .3-1.5.9-1.5 1.9v1.7c0 1.3-.6 1.9-2 1.9',
  ],
  chevron: ['M6 3.5L10.5 8 6 12.5'],
  file: ['M3.5 1.5h6l3 3v10h-9z', 'M9.5 1.5v3h3'],
  key: ['M5 5a2.75 2.75 0 1 0 0 5.5 2.75 2.75 0 0 0 0-5.5z', 'M7.75 7.75H14', 'M12 7.75v2', 'M14 7.75v1.5'],
} as const;

export type IconName = keyof typeof ICONS;

export function icon(name: IconName, extraClass = ''): SVGSVGElement {
  return lineIcon(name, ICONS[name], extraClass);
}

/** A 16×16 line icon drawn from `paths` (SVG path data), classed `icon icon-<name>`. */
export function lineIcon(name: string, paths: readonly string[], extraClass = ''): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('class', `icon icon-${name}${extraClass ? ` ${extraClass}` : ''}`);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const d of paths) {
    const p = document.createElementNS(SVG, 'path');
    p.setAttribute('d', d);
    svg.append(p);
  }
  return svg;
}

/** A text button with an icon. */
export function textButton(
  label: string,
  iconElement: SVGSVGElement,
  onClick: () => void,
  options: { title?: string; secondary?: boolean; id?: string; disabled?: boolean } = {},
): HTMLButtonElement {
  return h(
    'button',
    {
      class: `button${options.secondary ? ' secondary' : ''}`,
      type: 'button',
      title: options.title,
      id: options.id,
      disabled: options.disabled,
      onclick: onClick,
    },
    iconElement,
    h('span', null, label),
  );
}

/** `textButton` over a view's icon set: the button's icon is given by its name. */
export function iconTextButton<N extends string>(
  iconOf: (name: N) => SVGSVGElement,
): (label: string, iconName: N, onClick: () => void, options?: Parameters<typeof textButton>[3]) => HTMLButtonElement {
  return (label, iconName, onClick, options) => textButton(label, iconOf(iconName), onClick, options);
}

/**
 * An icon-only button that copies `text` (a request to the host): once the host has copied it, it
 * shows a check mark for a moment; when the host cannot, an error mark with the host's reason.
 */
export function copyButton(
  host: { copy(text: string, what: string): Promise<unknown> },
  text: string,
  what: string,
): HTMLButtonElement {
  return requestButton('copy', libWords.t('Copy {0}', what), () => host.copy(text, what));
}

/**
 * An icon-only button (with an optional short `label` beside the icon) whose click asks the host
 * something: a check mark for a moment once it is done, an error mark with the host's reason when not.
 */
function requestButton(
  iconName: IconName,
  title: string,
  run: () => Promise<unknown>,
  options: { label?: string; extraClass?: string } = {},
): HTMLButtonElement {
  const cls = `icon-button${options.label ? ' labelled' : ''}${options.extraClass ? ` ${options.extraClass}` : ''}`;
  const b = h('button', { class: cls, type: 'button', title, 'aria-label': title });
  const face = (name: IconName) => [icon(name), ...(options.label ? [h('span', null, options.label)] : [])];
  b.append(...face(iconName));
  const mark = (name: IconName, markClass: string, tip: string) => {
    b.replaceChildren(...face(name));
    b.classList.add(markClass);
    b.title = tip;
    setTimeout(() => {
      b.replaceChildren(...face(iconName));
      b.classList.remove(markClass);
      b.title = title;
    }, 1500);
  };
  b.addEventListener('click', () => {
    run().then(
      () => mark('check', 'copied', title),
      (e: unknown) =>
        mark('error', 'copy-failed', libWords.t('Not copied: {0}', e instanceof Error ? e.message : String(e))),
    );
  });
  return b;
}

/**
 * Copy KMS Condition on a PCR row: a key button that has the host copy the PCR's key-policy
 * condition (`"kms:RecipientAttestation:PCR<n>": "<hex>"`, PCR0 as ImageSha384, as the trees' command
 * does); PCR0 gets a second button for the `kms:RecipientAttestation:PCR0` key.
 */
export function kmsConditionButtons(
  host: { copyKmsCondition(pcr: number, key: KmsConditionKey): Promise<unknown> },
  pcr: number,
): HTMLButtonElement[] {
  const what = (key: string) => libWords.t('Copy KMS condition for PCR{0} (kms:RecipientAttestation:{1})', pcr, key);
  if (pcr !== 0)
    return [requestButton('key', what(`PCR${pcr}`), () => host.copyKmsCondition(pcr, 'PCR'), { extraClass: 'kms' })];
  return [
    requestButton('key', what('ImageSha384'), () => host.copyKmsCondition(0, 'ImageSha384'), { extraClass: 'kms' }),
    requestButton('key', what('PCR0'), () => host.copyKmsCondition(0, 'PCR'), { label: '0', extraClass: 'kms' }),
  ];
}

/** A long hex or text value in the editor font that wraps anywhere, with the full value as tooltip. */
export function mono(value: string, extraClass = ''): HTMLElement {
  return h('span', { class: `mono wrap${extraClass ? ` ${extraClass}` : ''}`, title: value }, value);
}

export function badge(text: string, kind = '', title?: string): HTMLElement {
  return h('span', { class: `badge${kind ? ` ${kind}` : ''}`, title }, text);
}

/** A definition list of label/value rows. */
export function fields(rows: readonly (readonly [string, Child, string?] | null)[]): HTMLElement {
  const dl = h('dl', { class: 'fields' });
  for (const row of rows) {
    if (!row) continue;
    const [label, value, title] = row;
    dl.append(h('dt', { title }, label), h('dd', null, value));
  }
  return dl;
}

/** Where a view keeps which cards are collapsed (webview state, so it survives hide and show). */
export interface CardState {
  isCollapsed(card: string): boolean;
  setCollapsed(card: string, collapsed: boolean): void;
}

/** A collapsible card. Its open/closed state survives the webview being hidden and shown. */
export function card(
  actions: CardState,
  id: string,
  title: string,
  body: Child[],
  options: { summary?: Child; tools?: Child[] } = {},
): HTMLElement {
  const collapsed = actions.isCollapsed(id);
  const bodyEl = h('div', { class: 'card-body', id: `card-${id}-body` }, ...body);
  const toggle = h(
    'button',
    { class: 'card-toggle', type: 'button', 'aria-expanded': String(!collapsed), 'aria-controls': `card-${id}-body` },
    icon('chevron', 'twisty'),
    h('h2', null, title),
    options.summary ? h('span', { class: 'card-summary' }, options.summary) : null,
  );
  const section = h(
    'section',
    { class: `card${collapsed ? ' collapsed' : ''}`, id: `card-${id}` },
    h('header', { class: 'card-header' }, toggle, h('div', { class: 'card-tools' }, ...(options.tools ?? []))),
    bodyEl,
  );
  toggle.addEventListener('click', () => {
    const nowCollapsed = !section.classList.contains('collapsed');
    section.classList.toggle('collapsed', nowCollapsed);
    toggle.setAttribute('aria-expanded', String(!nowCollapsed));
    actions.setCollapsed(id, nowCollapsed);
  });
  return section;
}

/** Colon-separated hex that may wrap after any colon (and nowhere else). */
export function colonHex(value: string): HTMLElement {
  const el = h('span', { class: 'mono colon-hex', title: value });
  colonParts(value).forEach((part, i) => {
    if (i > 0) el.append(document.createElement('wbr'));
    el.append(part);
  });
  return el;
}

/** The head of a PCR table: PCR, Measures, the value column (`valueHeading`), any `extra` columns, the copy column. */
export function pcrTableHead(valueHeading: string, ...extra: Child[]): HTMLElement {
  return h(
    'thead',
    null,
    h(
      'tr',
      null,
      h('th', { scope: 'col' }, 'PCR'),
      h('th', { scope: 'col' }, libWords.t('Measures')),
      h('th', { scope: 'col' }, valueHeading),
      ...extra,
      h('th', { class: 'cell-tool' }),
    ),
  );
}
