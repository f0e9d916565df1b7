// Whether a signing certificate needs a warning: it has expired, is not valid yet, or expires within
// EXPIRY_WARNING_DAYS. Used when signing an image and by the Enclave Image Viewer's signature
// section. Pure, and free of words: the extension says it in the user's language
// (src/extension/certificateExpiryWords.ts).

/** A signing certificate that expires within this many days is warned about. */
export const EXPIRY_WARNING_DAYS = 30;

const DAY_MS = 24 * 60 * 60 * 1000;

/** `date` is the day (YYYY-MM-DD, UTC) the state is about: the end of the validity, or its start when not yet valid. */
export type CertificateExpiry =
  | { readonly state: 'expired' | 'not-yet-valid'; readonly date: string }
  | { readonly state: 'expires-soon'; readonly days: number; readonly date: string };

const dateOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/**
 * The warning a signing certificate valid from `notBefore` to `notAfter` (milliseconds) deserves at
 * `now`, or undefined when it is valid for more than EXPIRY_WARNING_DAYS. `days` is rounded up (a
 * certificate that expires in 9.5 days "expires in 10 days").
 */
export function certificateExpiry(notBefore: number, notAfter: number, now: number): CertificateExpiry | undefined {
  if (now > notAfter) return { state: 'expired', date: dateOf(notAfter) };
  if (now < notBefore) return { state: 'not-yet-valid', date: dateOf(notBefore) };
  const left = notAfter - now;
  if (left > EXPIRY_WARNING_DAYS * DAY_MS) return undefined;
  return { state: 'expires-soon', days: Math.max(1, Math.ceil(left / DAY_MS)), date: dateOf(notAfter) };
}
