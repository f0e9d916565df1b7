// The files of Sign Image…: a PEM file read with a size limit, and the validity warning its
// certificate deserves. Free of vscode, so it is unit-tested in Node.
import { open } from 'node:fs/promises';
import * as path from 'node:path';
import { firstCertificateDer, parseCertificate } from '../../engine';
import { certificateExpiry, type CertificateExpiry } from '../../shared/certificateExpiry';
import { withExpiryMessage } from '../certificateExpiryWords';
import { l10n } from '../l10n';

/** The largest certificate or key file read (a PEM certificate chain is a few KiB). */
export const MAX_PEM_FILE_BYTES = 1024 * 1024;

/** Reads a PEM file of at most MAX_PEM_FILE_BYTES as text; a larger one is refused before it is read whole. */
export async function readPemFile(file: string, what: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(MAX_PEM_FILE_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_PEM_FILE_BYTES)
      throw new Error(
        l10n.t('{0} {1} is over {2} bytes: it is no PEM file', what, path.basename(file), MAX_PEM_FILE_BYTES),
      );
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** The validity warning a PEM certificate deserves at `now`; throws with a clear reason when it holds none. */
export function signingCertificateExpiry(
  pem: string,
  now: Date,
  name: string,
): (CertificateExpiry & { readonly message: string }) | undefined {
  let cert;
  try {
    cert = parseCertificate(firstCertificateDer(pem));
  } catch (e) {
    throw new Error(
      l10n.t('{0} is not a usable signing certificate: {1}', name, e instanceof Error ? e.message : String(e)),
      {
        cause: e,
      },
    );
  }
  const expiry = certificateExpiry(cert.notBefore.getTime(), cert.notAfter.getTime(), now.getTime());
  return expiry && withExpiryMessage(expiry);
}
