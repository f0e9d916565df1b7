// The viewer's icons: the Enclave Image Viewer's set plus a few of its own, drawn the same way
// (16×16 line icons in the current text colour).
import { icon as baseIcon, lineIcon, type IconName as BaseIconName } from '../lib/dom';

const EXTRA = {
  shield: ['M8 1.5l5.5 2v4.25c0 3.1-2.3 5.6-5.5 6.75-3.2-1.15-5.5-3.65-5.5-6.75V3.5z'],
  shieldCheck: [
    'M8 1.5l5.5 2v4.25c0 3.1-2.3 5.6-5.5 6.75-3.2-1.15-5.5-3.65-5.5-6.75V3.5z',
    'M5.5 8l1.75 1.75L10.75 6.25',
  ],
  shieldX: ['M8 1.5l5.5 2v4.25c0 3.1-2.3 5.6-5.5 6.75-3.2-1.15-5.5-3.65-5.5-6.75V3.5z', 'M6 6l4 4', 'M10 6l-4 4'],
  skip: ['M8 1.75a6.25 6.25 0 1 0 0 12.5 6.25 6.25 0 0 0 0-12.5z', 'M5.25 8h5.5'],
  clock: ['M8 1.75a6.25 6.25 0 1 0 0 12.5 6.25 6.25 0 0 0 0-12.5z', 'M8 4.5V8l2.5 1.5'],
  compare: ['M4.5 2.5v8', 'M2.5 8.5l2 2 2-2', 'M11.5 13.5v-8', 'M9.5 7.5l2-2 2 2'],
  play: ['M5 3.25v9.5L12.5 8z'],
  save: ['M2.5 2.5h9l2 2v9h-11z', 'M5 2.5v3.5h5.5V2.5', 'M5 13.5V9.5h6v4'],
  certificate: ['M2.5 2.5h11v8h-11z', 'M5 5h6', 'M5 7.5h3.5', 'M10.5 10.5v3.5l1.25-1 1.25 1v-3.5'],
} as const;

export type IconName = BaseIconName | keyof typeof EXTRA;

export function icon(name: IconName, extraClass = ''): SVGSVGElement {
  return name in EXTRA
    ? lineIcon(name, EXTRA[name as keyof typeof EXTRA], extraClass)
    : baseIcon(name as BaseIconName, extraClass);
}
