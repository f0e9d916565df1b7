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

/** Longest text the webview may ask the host to put on the clipboard (UTF-8 bytes). */
export const MAX_COPY_BYTES = 64 * 1024;
/** Longest label of what was copied (shown in the status bar). */
export const MAX_COPY_WHAT = 200;

/** The body of a webview's `copy` message: the text, and a label of what it is. */
export interface CopyBody {
  readonly text: string;
  readonly what: string;
}

/** Checks the untrusted body of a `copy` message: at most MAX_COPY_BYTES of text and a short label. */
export function parseCopyBody(body: unknown): { ok: true; body: CopyBody } | { ok: false; reason: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { ok: false, reason: 'copy: the body is not an object' };
  const { text, what } = body as Record<string, unknown>;
  if (typeof text !== 'string') return { ok: false, reason: 'copy: "text" is not a string' };
  if (utf8Length(text) > MAX_COPY_BYTES)
    return { ok: false, reason: `copy: "text" is longer than ${MAX_COPY_BYTES} bytes` };
  if (typeof what !== 'string' || what.length === 0 || what.length > MAX_COPY_WHAT) {
    return { ok: false, reason: `copy: "what" is not a string of 1 to ${MAX_COPY_WHAT} characters` };
  }
  return { ok: true, body: { text, what } };
}

/**
 * Which condition key a PCR's KMS condition names: `PCR` (`kms:RecipientAttestation:PCR<n>`) or,
 * for PCR0 only, `ImageSha384` (`kms:RecipientAttestation:ImageSha384`, the image digest, the same
 * value). The Copy KMS Condition command of the trees copies PCR0 as ImageSha384.
 */
export type KmsConditionKey = 'ImageSha384' | 'PCR';

/**
 * The body of a webview's `copyKmsCondition` message: which PCR of what the viewer shows. The host
 * takes the value from its own view model, never from the webview.
 */
export interface KmsConditionBody {
  readonly pcr: number;
  readonly key: KmsConditionKey;
}

/** Checks the untrusted body of a `copyKmsCondition` message: a PCR index 0..31 and a key (ImageSha384: PCR0 only). */
export function parseKmsConditionBody(
  body: unknown,
): { ok: true; body: KmsConditionBody } | { ok: false; reason: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { ok: false, reason: 'copyKmsCondition: the body is not an object' };
  const { pcr, key } = body as Record<string, unknown>;
  if (typeof pcr !== 'number' || !Number.isInteger(pcr) || pcr < 0 || pcr > 31)
    return { ok: false, reason: 'copyKmsCondition: "pcr" is not a PCR index from 0 to 31' };
  if (key !== 'ImageSha384' && key !== 'PCR')
    return { ok: false, reason: 'copyKmsCondition: "key" is neither "ImageSha384" nor "PCR"' };
  if (key === 'ImageSha384' && pcr !== 0)
    return { ok: false, reason: 'copyKmsCondition: only PCR0 has the ImageSha384 key' };
  return { ok: true, body: { pcr, key } };
}

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
