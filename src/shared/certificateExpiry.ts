// Whether a signing certificate needs a warning: it has expired, is not valid yet, or expires within
// EXPIRY_WARNING_DAYS. Used when signing an image and by the Enclave Image Viewer's signature
// section; pure, so it runs on both sides of the webview.

/** A signing certificate that expires within this many days is warned about. */
export const EXPIRY_WARNING_DAYS = 30;

const DAY_MS = 24 * 60 * 60 * 1000;

export type CertificateExpiry =
  | { readonly state: 'expired' | 'not-yet-valid'; readonly message: string }
  | { readonly state: 'expires-soon'; readonly days: number; readonly message: string };

const dateOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/**
 * The warning a signing certificate valid from `notBefore` to `notAfter` (milliseconds) deserves at
 * `now`, or undefined when it is valid for more than EXPIRY_WARNING_DAYS. `days` is rounded up (a
 * certificate that expires in 9.5 days "expires in 10 days").
 */
export function certificateExpiry(notBefore: number, notAfter: number, now: number): CertificateExpiry | undefined {
  if (now > notAfter) {
    return {
      state: 'expired',
      message:
        `The signing certificate expired on ${dateOf(notAfter)}: nitro-cli run-enclave refuses an image ` +
        `signed with it (E59). Sign it again with a valid certificate.`,
    };
  }
  if (now < notBefore) {
    return {
      state: 'not-yet-valid',
      message:
        `The signing certificate is not valid before ${dateOf(notBefore)}: until then nitro-cli run-enclave ` +
        `refuses an image signed with it (E59).`,
    };
  }
  const left = notAfter - now;
  if (left > EXPIRY_WARNING_DAYS * DAY_MS) return undefined;
  const days = Math.max(1, Math.ceil(left / DAY_MS));
  return {
    state: 'expires-soon',
    days,
    message:
      `The signing certificate expires in ${days} day${days === 1 ? '' : 's'} (on ${dateOf(notAfter)}); ` +
      `after that nitro-cli run-enclave refuses an image signed with it. Renew it and sign the image again.`,
  };
}
