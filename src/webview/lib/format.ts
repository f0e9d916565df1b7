// Number and size formatting for the viewer. Pure (no DOM but the page's words, English without a
// page), so any area can reuse or test it.
import { libWords } from './l10n';

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

/** `1 byte`, `12 bytes`, in the page's words. */
function byteCount(n: number | string): string {
  return n === 1 ? libWords.t('1 byte') : libWords.t('{0} bytes', n);
}

/** `12 bytes`, `1 byte`, or `1.2 MiB (1234567 bytes)`. */
export function humanSize(bytes: number): string {
  return bytes < 1024 ? byteCount(bytes) : `${shortSize(bytes)} (${byteCount(bytes)})`;
}

/** The short part of humanSize: `1.2 MiB`, `12 bytes`. */
export function shortSize(bytes: number): string {
  if (bytes < 1024) return byteCount(bytes);
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = value.toFixed(value < 10 ? 1 : 0).replace(/\.0$/, '');
  return `${shown} ${UNITS[unit]}`;
}

/** A u64 given as decimal text, as a size when it fits in a double exactly. */
export function humanU64Size(text: string): string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? humanSize(n) : byteCount(text);
}

/** `0x224`. */
export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** `548 (0x224)`, for tooltips of offsets. */
export function offsetTitle(n: number): string {
  return `${libWords.t('byte {0}', n)} (${hex(n)})`;
}

/** Percentage of done/total, 0-100, whole numbers. */
export function percent(done: number, total: number): number {
  return total <= 0 ? 100 : Math.min(100, Math.max(0, Math.floor((done / total) * 100)));
}
