// The protocol of the Enclave Image Viewer (the read-only custom editor for .eif files): the
// messages between the extension host and the viewer's webview, and the view model the host sends.
// The view model is plain JSON (no bigint, Date or class instances) so it crosses postMessage as is.
import { parseHostEnvelope, type Parsed as ParsedMessage } from './messages';
import {
  isWebviewEnvelope,
  parseCopyBody,
  parseKmsConditionBody,
  READY,
  type HostEnvelope,
  type KmsConditionBody,
} from './protocol';

/** Name of the viewer's bundle (dist/webview/eifViewer.js) and stylesheet (media/eifViewer.css). */
export const EIF_VIEWER_SCRIPT = 'eifViewer';

/** The limits of a `copy` message (checked by parseCopyBody). */
export { MAX_COPY_BYTES, MAX_COPY_WHAT } from './protocol';

// ---------------------------------------------------------------------------------------------
// View model

/** A u64 printed in decimal (JSON numbers are not exact beyond 2^53). */
export type U64Text = string;
/** A CRC-32 printed as `0x%08x`. */
export type CrcText = string;

export interface EifViewModel {
  readonly file: {
    /** The file's base name. */
    readonly name: string;
    /** The file's path, for tooltips. */
    readonly path: string;
    readonly size: number;
  };
  readonly header: EifHeaderView;
  readonly crc: { readonly stored: CrcText; readonly computed: CrcText; readonly ok: boolean };
  /**
   * One row per slot of the header's 32-entry table that is in use: every section found by walking
   * the file, then any slot with a non-zero table entry but no section.
   */
  readonly sections: readonly EifSectionView[];
  /** Bytes after the last section (nitro-cli ignores them). */
  readonly trailingBytes: number;
  readonly problems: readonly EifProblemView[];
  readonly measurements: EifMeasurementsView;
  /** Absent when the image has no metadata section (EIF v2 and v3). */
  readonly metadata?: EifMetadataView;
  /** Absent when the image is not signed. */
  readonly signature?: EifSignatureView;
  /** What `nitro-cli describe-eif` makes of the file. */
  readonly describe: EifDescribeView;
  /** When the file was inspected (ISO 8601); the certificate's validity is checked at this time. */
  readonly inspectedAt: string;
}

export interface EifHeaderView {
  /** The four magic bytes as hex pairs separated by spaces (`2e 65 69 66`). */
  readonly magic: string;
  readonly version: number;
  /** `0x%04x`. */
  readonly flags: string;
  readonly architecture: 'x86_64' | 'aarch64';
  readonly defaultMem: U64Text;
  readonly defaultCpus: U64Text;
  readonly numSections: number;
}

export interface EifSectionView {
  /** Slot in the header table (= position in file order for walked sections). */
  readonly index: number;
  /** Absent for a table slot that has an entry but no section in the file. */
  readonly found?: {
    readonly type: number;
    /** `kernel`, `cmdline`, `ramdisk`, `signature` or `metadata`. */
    readonly typeName: string;
    readonly flags: number;
    readonly headerOffset: number;
    readonly dataOffset: number;
    readonly size: number;
    /** The PCRs whose value this section's bytes feed (`PCR0`, `PCR1`, `PCR2`, `PCR8`). */
    readonly measuredIn: readonly string[];
  };
  /** The header table's entries for this slot. */
  readonly tableOffset: U64Text;
  readonly tableSize: U64Text;
  /** Whether the table entries agree with what the walk found (false for a slot without section). */
  readonly offsetMatches: boolean;
  readonly sizeMatches: boolean;
}

export interface EifProblemView {
  readonly severity: 'error' | 'warning';
  readonly code: string;
  readonly offset: number;
  readonly message: string;
}

export interface EifPcrView {
  /** `PCR0`, `PCR1`, `PCR2`, `PCR8`. */
  readonly name: string;
  /** What the PCR measures, in AWS's words. */
  readonly meaning: string;
  /** Lower-case hex (96 characters). */
  readonly value: string;
}

export interface EifMeasurementsView {
  readonly hashAlgorithm: string;
  /** In nitro-cli's order: PCR0, PCR1, PCR2, then PCR8 when the image is signed. */
  readonly pcrs: readonly EifPcrView[];
  /** nitro-cli's `Measurements` JSON (HashAlgorithm first), as "Copy all as JSON" puts it on the clipboard. */
  readonly json: string;
}

export type EifMetadataView =
  | {
      readonly ok: true;
      readonly imageName: string;
      readonly imageVersion: string;
      /** The BuildMetadata fields, in the order nitro-cli writes them. */
      readonly build: readonly { readonly key: string; readonly value: string }[];
      /** Pretty-printed JSON (`null` when absent). */
      readonly dockerInfo: string;
      readonly customMetadata: string;
    }
  | {
      readonly ok: false;
      readonly error: string;
      /** The section's text, when it is UTF-8. */
      readonly text?: string;
    };

export interface EifTimeView {
  /** As OpenSSL prints it (`Jan  1 00:00:00 2020 GMT`), the form describe-eif uses. */
  readonly openssl: string;
  readonly iso: string;
}

export interface EifCertificateView {
  /** `CN=…, O=…` in the certificate's attribute order. */
  readonly subject: string;
  readonly issuer: string;
  /** Hex pairs separated by colons. */
  readonly serial: string;
  readonly notBefore: EifTimeView;
  readonly notAfter: EifTimeView;
  /** OpenSSL long name, e.g. `ecdsa-with-SHA384`. */
  readonly signatureAlgorithm: string;
  readonly keyAlgorithm: string;
  readonly curve?: string;
  /** SHA-256 of the certificate's DER, upper-case hex pairs separated by colons. */
  readonly sha256Fingerprint: string;
}

/** Why the signing certificate deserves a warning (src/shared/certificateExpiry.ts). */
export interface EifExpiryWarning {
  readonly state: 'expired' | 'not-yet-valid' | 'expires-soon';
  /** Whole days left (rounded up), when it expires soon. */
  readonly days?: number;
  readonly message: string;
}

export type EifSignatureView =
  | {
      readonly ok: true;
      readonly certificate: EifCertificateView;
      /** `ES256`, `ES384` or `ES512`, when the COSE header names a known one. */
      readonly coseAlgorithm?: string;
      readonly coseValid: boolean;
      /** Why the COSE signature is not valid. */
      readonly coseReason?: string;
      /** nitro-cli's SignatureCheck: the signed payload is "PCR0 = this image's PCR0". */
      readonly payloadMatchesPcr0: boolean;
      /** The certificate is within its validity window at `checkedAt`. */
      readonly certificateValidNow: boolean;
      /** At `checkedAt` the certificate has expired, is not valid yet, or expires within 30 days. */
      readonly expiryWarning?: EifExpiryWarning;
      readonly checkedAt: string;
    }
  | { readonly ok: false; readonly error: string; readonly checkedAt: string };

export type EifDescribeView =
  | { readonly ok: true; /** describe-eif's JSON output, formatted as nitro-cli prints it. */ readonly json: string }
  | { readonly ok: false; readonly message: string; readonly code: string; readonly offset: number };

/** A file that could not be shown at all (not an EIF, unreadable, measuring cancelled, ...). */
export interface EifViewError {
  readonly fileName: string;
  /**
   * `format`: not a readable EIF; `unreadable`: the file system refused (missing, no permission);
   * `cancelled`: the person cancelled measuring; `unsupported`: not a local file.
   */
  readonly kind: 'format' | 'unreadable' | 'cancelled' | 'unsupported';
  readonly message: string;
  /** The format rule the file breaks, when it is a format error. */
  readonly code?: string;
  readonly offset?: number;
}

// ---------------------------------------------------------------------------------------------
// Messages

/** Host → webview: the view model of the file (after `ready`, a reload or a change on disk). */
export interface InitMessage extends HostEnvelope<'init', { readonly model: EifViewModel }> {
  readonly body: { readonly model: EifViewModel };
}

/** Host → webview: measuring progress in bytes. `done === total` ends it. */
export interface ProgressMessage extends HostEnvelope<'progress', { readonly done: number; readonly total: number }> {
  readonly body: { readonly done: number; readonly total: number };
}

/** Host → webview: the file cannot be shown. */
export interface ErrorMessage extends HostEnvelope<'error', EifViewError> {
  readonly body: EifViewError;
}

export type EifViewerHostMessage = InitMessage | ProgressMessage | ErrorMessage;

export const HOST_MESSAGE_TYPES = [
  'init',
  'progress',
  'error',
] as const satisfies readonly EifViewerHostMessage['type'][];

/** The webview's check of what its host sends: the shape of each message type's body. */
export function parseHostMessage(value: unknown): ParsedMessage<EifViewerHostMessage> {
  return parseHostEnvelope<EifViewerHostMessage>(value, "the viewer's", {
    init: (body) => typeof body['model'] === 'object' && body['model'] !== null,
    progress: (body) => typeof body['done'] === 'number' && typeof body['total'] === 'number',
    error: (body) => typeof body['message'] === 'string',
  });
}

/** Webview → host. */
export type EifViewerWebviewMessage =
  | { readonly type: typeof READY }
  | { readonly type: 'copy'; readonly body: { readonly text: string; readonly what: string } }
  | { readonly type: 'copyKmsCondition'; readonly body: KmsConditionBody }
  | { readonly type: 'describe' }
  | { readonly type: 'reload' }
  /** The image actions of the title bar: each runs its command on the viewer's file (never one the webview names). */
  | { readonly type: ImageAction };

/**
 * The title bar's image actions: `run` (Run Enclave…), `sign` (Sign Image…) and `kmsPolicy`
 * (Generate KMS Key Policy from Image…).
 */
export type ImageAction = 'run' | 'sign' | 'kmsPolicy';
export const IMAGE_ACTIONS = ['run', 'sign', 'kmsPolicy'] as const satisfies readonly ImageAction[];

export const WEBVIEW_MESSAGE_TYPES = [
  READY,
  'copy',
  'copyKmsCondition',
  'describe',
  'reload',
  ...IMAGE_ACTIONS,
] as const satisfies readonly EifViewerWebviewMessage['type'][];

/**
 * Checks an untrusted message from the viewer's webview: the envelope, then the body of the one
 * message type that has one. Returns the typed message, or a sentence saying why it was refused.
 */
export function parseWebviewMessage(
  value: unknown,
): { ok: true; message: EifViewerWebviewMessage } | { ok: false; reason: string } {
  if (!isWebviewEnvelope(value, WEBVIEW_MESSAGE_TYPES)) {
    const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
    return {
      ok: false,
      reason: `not a message of the viewer's protocol (type ${JSON.stringify(type) ?? typeof value})`,
    };
  }
  if (value.type === 'copyKmsCondition') {
    const kms = parseKmsConditionBody(value.body);
    return kms.ok ? { ok: true, message: { type: 'copyKmsCondition', body: kms.body } } : kms;
  }
  if ((IMAGE_ACTIONS as readonly string[]).includes(value.type) && value.body !== undefined)
    return { ok: false, reason: `${value.type}: takes no body (the action is on the viewer's own file)` };
  if (value.type !== 'copy') return { ok: true, message: { type: value.type } };
  const copy = parseCopyBody(value.body);
  return copy.ok ? { ok: true, message: { type: 'copy', body: copy.body } } : copy;
}

/**
 * The words of the Enclave Image Viewer's page, in English: the keys of the table of localized words
 * the host puts in the page (src/extension/editors/eifViewerWords.ts, with vscode.l10n.t) and the
 * webview reads (src/webview/lib/l10n.ts). `{0}`-style placeholders take the webview's data.
 */
export const EIF_VIEWER_WORDS = [
  ' (".eif")',
  ' · MISMATCH, computed ',
  ' · architecture {0}',
  ' · ignored by nitro-cli',
  ' · matches',
  ' · unsigned, so there is no PCR8',
  ' · {0} found in the file',
  ', computed ',
  '1 byte',
  '1 day',
  '1 error',
  '1 problem',
  '1 section',
  '1 slot',
  '1 warning',
  'COSE signature is NOT valid',
  'COSE signature is valid{0}',
  'CPU architecture (header flags bit 0)',
  'CRC-32 MISMATCH',
  'CRC-32 matches: {0}',
  'Checked at {0}; valid from {1} to {2}.',
  'Checked at {0}; valid from {1} to {2}. nitro-cli run-enclave refuses it.',
  'Copy all as JSON',
  'Custom metadata',
  'Data at',
  'Describe as JSON',
  'Describe as JSON shows its output.',
  'Docker info',
  'EIF format version',
  'EIF v{0}',
  'File size',
  'Flags',
  "Generate KMS Key Policy: a key policy that releases a key only to this image's PCRs",
  'Hash algorithm ',
  'Header',
  'Header at',
  'Image name',
  'Image version',
  'Integrity',
  'Issuer',
  'KMS Policy…',
  'Magic',
  'Measured in',
  'Measurements',
  'Measuring was cancelled',
  'Measuring {0}…',
  'Measuring… {0}% ({1} of {2})',
  'Metadata',
  'No metadata section. EIF version {0} predates it (metadata came with version 4).',
  'No metadata section. EIF version {0} requires one.',
  'Not after',
  'Not before',
  'Not signed',
  "Open nitro-cli describe-eif's JSON for this image in an editor",
  'Public key',
  'Read and measure the file again',
  'Reload',
  'Run',
  'Run Enclave: run this image on a parent instance',
  'SHA-256 fingerprint',
  'Sections',
  'See the problems above.',
  'Serial number',
  'Sign Image: sign this image in place with a certificate and its private key (PCR8)',
  'Signature',
  'Signature algorithm',
  'Signature check FAILED',
  'Signature check passed',
  'Signed by {0}',
  'Signing certificate',
  'Sign…',
  'Size',
  'Structure breaks the EIF format ({0})',
  'Structure follows the EIF format',
  'Subject',
  'Table offset',
  'Table size',
  'The PCRs this section’s bytes are measured into',
  'The certificate expires in {0}',
  'The certificate is NOT valid now',
  'The certificate is valid now',
  'The header holds the CRC-32 of the file’s contents.',
  'The header table agrees: {0}',
  'The header table has this offset for a section the file does not have',
  'The header table has this size for a section the file does not have',
  'The header table says {0}, but the section header is at {1}',
  'The header table says {0}, but the section header says {1}',
  "The header's section_offsets entry for this slot",
  "The header's section_sizes entry for this slot",
  'The image has no signature section, so it has no PCR8.',
  'The image is not signed: it has no signature section, so it has no PCR8.',
  'The metadata section cannot be read',
  'The signature section cannot be read',
  'The signed payload does NOT match PCR0',
  'The signed payload does not match PCR0.',
  'The signed payload matches PCR0',
  'The signing certificate needs renewing',
  "The stored CRC-32 {0} does not match the CRC-32 of the file's contents, {1}.",
  'This file cannot be read',
  'This file cannot be read as an enclave image',
  'This image cannot be opened here',
  'This image is malformed: {0}',
  'Type',
  'Value (SHA-384)',
  'Verified with the certificate’s public key.',
  'Version',
  'Where the 12-byte section header starts',
  'all PCRs as JSON',
  'all checks pass',
  'at {0} · rule ',
  'bytes 0-3',
  'bytes 16-23',
  'bytes 26-27',
  'bytes 4-5',
  'bytes 544-547',
  'bytes 6-7; bit 0 is the architecture',
  'bytes 8-15',
  'certificate fingerprint',
  'checks fail',
  'header table disagrees in {0}',
  'missing',
  'nitro-cli describe-eif fails',
  'nitro-cli describe-eif fails: {0}',
  'nitro-cli describe-eif succeeds',
  "nitro-cli's Measurements JSON",
  'nitro-cli’s SignatureCheck: false. The signature covers a different image.',
  'nitro-cli’s SignatureCheck: true.',
  'not signed',
  'problems found',
  'signed',
  'stored ',
  'unreadable',
  'unsigned',
  'valid',
  'valid, certificate expires soon',
  '{0} after the last section are not part of any section (nitro-cli ignores them).',
  '{0} bytes',
  '{0} days',
  '{0} errors',
  '{0} problems',
  '{0} sections',
  '{0} slots',
  '{0} warnings',
  '{0}, and the header table agrees with them.',
] as const;

export type EifViewerWord = (typeof EIF_VIEWER_WORDS)[number];
