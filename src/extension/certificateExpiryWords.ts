// The signing certificate's expiry warning (src/shared/certificateExpiry.ts) in the user's language,
// for Sign Image… and the Enclave Image Viewer. Free of vscode (l10n.t of ./l10n), so unit tests load it.
import type { CertificateExpiry } from '../shared/certificateExpiry';
import { l10n } from './l10n';

/** What a person is told about a certificate in `expiry`'s state. */
export function certificateExpiryMessage(expiry: CertificateExpiry): string {
  switch (expiry.state) {
    case 'expired':
      return l10n.t(
        'The signing certificate expired on {0}: nitro-cli run-enclave refuses an image signed with it (E59). Sign it again with a valid certificate.', // eslint-disable-line max-len
        expiry.date,
      );
    case 'not-yet-valid':
      return l10n.t(
        'The signing certificate is not valid before {0}: until then nitro-cli run-enclave refuses an image signed with it (E59).', // eslint-disable-line max-len
        expiry.date,
      );
    case 'expires-soon':
      return expiry.days === 1
        ? l10n.t(
            'The signing certificate expires in 1 day (on {0}); after that nitro-cli run-enclave refuses an image signed with it. Renew it and sign the image again.', // eslint-disable-line max-len
            expiry.date,
          )
        : l10n.t(
            'The signing certificate expires in {0} days (on {1}); after that nitro-cli run-enclave refuses an image signed with it. Renew it and sign the image again.', // eslint-disable-line max-len
            expiry.days,
            expiry.date,
          );
  }
}

/** The expiry with its message. */
export function withExpiryMessage(expiry: CertificateExpiry): CertificateExpiry & { readonly message: string } {
  return { ...expiry, message: certificateExpiryMessage(expiry) };
}
