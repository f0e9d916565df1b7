// Number and size formatting for the viewer. Pure (no DOM), so any area can reuse or test it.

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

/** `12 bytes`, `1 byte`, or `1.2 MiB (1234567 bytes)`. */
export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} ${bytes === 1 ? 'byte' : 'bytes'}`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = value.toFixed(value < 10 ? 1 : 0).replace(/\.0$/, '');
  return `${shown} ${UNITS[unit]} (${bytes} bytes)`;
}

/** The short part of humanSize: `1.2 MiB`, `12 bytes`. */
export function shortSize(bytes: number): string {
  return humanSize(bytes).replace(/ \(\d+ bytes\)$/, '');
}

/** A u64 given as decimal text, as a size when it fits in a double exactly. */
export function humanU64Size(text: string): string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? humanSize(n) : `${text} bytes`;
}

/** `0x224`. */
export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** `548 (0x224)`, for tooltips of offsets. */
export function offsetTitle(n: number): string {
  return `byte ${n} (${hex(n)})`;
}

/** `1 error`, `2 errors`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Percentage of done/total, 0-100, whole numbers. */
export function percent(done: number, total: number): number {
  return total <= 0 ? 100 : Math.min(100, Math.max(0, Math.floor((done / total) * 100)));
}
