// The typed message protocol between the extension host and its webviews. Each webview defines
// its two message unions on top of these envelopes, with a parser for each direction (src/shared/
// <view>.ts); both sides hand what arrives to the one message handler (src/shared/messages.ts),
// which checks it with that parser, runs the handler of its type and answers requests.

/** A message from a webview. `id` is set on requests, which the host answers with a `response`. */
export interface WebviewEnvelope<TType extends string = string, TBody = unknown> {
  readonly type: TType;
  readonly id?: number;
  readonly body?: TBody;
}

/** A message from the host. `inReplyTo` answers a webview request carrying that `id`. */
export interface HostEnvelope<TType extends string = string, TBody = unknown> {
  readonly type: TType;
  readonly inReplyTo?: number;
  readonly body?: TBody;
  /** Set instead of `body` when the request failed. */
  readonly error?: string;
}

/** Every webview starts with this message; the host answers with the view's initial data. */
export const READY = 'ready';

/**
 * Checks the envelope shape of an untrusted message: a plain object with a string `type` from the
 * allowed set and, if present, a non-negative integer `id`.
 */
export function isWebviewEnvelope<T extends string>(
  value: unknown,
  allowed: readonly T[],
): value is WebviewEnvelope<T> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  if (typeof v['type'] !== 'string' || !(allowed as readonly string[]).includes(v['type'])) return false;
  if (v['id'] !== undefined && !(Number.isSafeInteger(v['id']) && (v['id'] as number) >= 0)) return false;
  return true;
}

/** UTF-8 length of a string, without TextEncoder (src/shared sees neither the DOM nor Node). */
export function utf8Length(s: string): number {
  let n = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return n;
}
