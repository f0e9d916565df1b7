// The protocol of the Attestation Document Viewer (the webview panel of "Open Attestation
// Document…" and the read-only custom editor of *.attestation / *.att.cbor files): the messages
// between the extension host and the viewer's webview, the view model the host sends, and the
// state a panel keeps to be restored after a reload. The view model is plain JSON (no bigint, Date,
// Map or Uint8Array) so it crosses postMessage as is. Every value coming from the webview is
// checked here before the host acts on it.
import { parseHostEnvelope, type Parsed as ParsedMessage } from './messages';
import {
  isWebviewEnvelope,
  parseCopyBody,
  parseKmsConditionBody,
  READY,
  type HostEnvelope,
  type KmsConditionBody,
} from './protocol';

/** Name of the viewer's bundle (dist/webview/attestationViewer.js) and stylesheet (media/attestationViewer.css). */
export const ATTESTATION_VIEWER_SCRIPT = 'attestationViewer';

/** The limits of a `copy` message (checked by parseCopyBody). */
export { MAX_COPY_BYTES, MAX_COPY_WHAT } from './protocol';
/** Longest base64 text of a document a panel keeps in its state (256 KiB); larger ones are not restored. */
export const MAX_PERSISTED_BASE64 = 256 * 1024;
/** Longest URI a panel keeps in its state. */
export const MAX_PERSISTED_URI = 8 * 1024;
/** Longest label of a document source (a file name, "Clipboard"). */
export const MAX_LABEL = 256;
/** The largest nonce an NSM request carries (bytes): the most a panel keeps to check again. */
export const MAX_NONCE_BYTES = 1024;
/** Custom verification times are limited to these years (a certificate's UTCTime/GeneralizedTime range). */
export const MIN_CUSTOM_YEAR = 1950;
export const MAX_CUSTOM_YEAR = 9999;

// ---------------------------------------------------------------------------------------------
// The time at which the document is verified

/**
 * `now`: the current time (taken again on every verification); `document`: the document's own
 * timestamp; `custom`: a chosen instant.
 */
export type TimeMode = 'now' | 'document' | 'custom';

export type TimeChoice =
  | { readonly mode: 'now' }
  | { readonly mode: 'document' }
  | {
      readonly mode: 'custom';
      /** ISO 8601 (UTC). */
      readonly at: string;
    };

export const TIME_MODES: readonly TimeMode[] = ['now', 'document', 'custom'];

// ---------------------------------------------------------------------------------------------
// View model

/**
 * A point in time: milliseconds since the epoch, ISO 8601, and `2022-10-13 08:58:02 UTC`. The
 * webview adds local time.
 */
export interface TimeView {
  readonly ms: number;
  /** Empty when the time lies beyond the range of dates (see outOfRange). */
  readonly iso: string;
  readonly utc: string;
  /** A document timestamp beyond the range of dates (±8.64e15 ms): only `ms` means anything. */
  readonly outOfRange?: true;
}

export interface AttestationViewModel {
  readonly source: SourceView;
  /**
   * Which attestation the document is: `enclave` (an enclave's NSM, PCRs in `pcrs`) or `nitrotpm`
   * (an EC2 instance's NitroTPM, PCRs in `nitrotpm_pcrs`); absent when the payload does not say.
   */
  readonly kind?: 'enclave' | 'nitrotpm';
  /** `Nitro Enclaves (enclave) attestation`, `NitroTPM (instance) attestation`. */
  readonly kindLabel?: string;
  /** When the document was verified, and how that time was chosen. */
  readonly time: {
    readonly mode: TimeMode;
    readonly at: TimeView;
  };
  readonly verdict: VerdictView;
  /** Every check of the verifier, in its order. */
  readonly checks: readonly CheckView[];
  /** The COSE envelope; absent when the input is not a COSE_Sign1 at all. */
  readonly envelope?: EnvelopeView;
  /** The document's fields; absent when the payload cannot be read (the checks say why). */
  readonly document?: DocumentView;
  /** The document's PCRs in index order (empty without a readable document). */
  readonly pcrs: readonly PcrView[];
  /** The enclave image the PCRs are compared with, when one was chosen. */
  readonly comparison?: ComparisonView;
  /** The certificate chain, root first, leaf last (empty when it cannot be read). */
  readonly chain: readonly CertificateView[];
  /**
   * The check of the nonce the viewer asked the enclave for (Get Attestation Document): absent when
   * the document was not asked for with a nonce here.
   */
  readonly nonceCheck?: NonceCheckView;
}

export interface NonceCheckView {
  /** The nonce asked for, lower-case hex. */
  readonly expected: string;
  /** The document's nonce, lower-case hex; absent when it carries none. */
  readonly actual?: string;
  readonly match: boolean;
}

export interface SourceView {
  /** `file`: a file (its URI is the source); `bytes`: bytes without a file (the clipboard). */
  readonly kind: 'file' | 'bytes';
  /** File name, or what the bytes came from ("Clipboard"). */
  readonly label: string;
  /** The file's path or URI, for tooltips. */
  readonly detail?: string;
  /** How the input was written: raw CBOR, base64 or hex text. */
  readonly encoding?: 'binary' | 'base64' | 'hex';
  /** Size of the input in bytes (before decoding base64 or hex). */
  readonly inputSize: number;
}

export interface VerdictView {
  readonly valid: boolean;
  /**
   * `valid`, `invalid`, or `unsigned`: a document from QEMU's emulated NSM whose checks pass but
   * which nothing signed (never valid).
   */
  readonly verdict: 'valid' | 'invalid' | 'unsigned';
  /**
   * Set for an unsigned document from QEMU's emulated NSM (whatever the verdict): the markers it was
   * recognised by. The viewer then offers "Re-sign with Development CA…".
   */
  readonly unsigned?: { readonly markers: string };
  /** One line in plain words: `Valid now`, `Invalid now: the signing certificate expired at …`. */
  readonly headline: string;
  /** Why, one sentence per failing check (empty when valid). */
  readonly reasons: readonly string[];
  /** Further notes (valid at document time, chained to a non-AWS root, …). */
  readonly notes: readonly string[];
  /** What to try when the verdict is likely not what the person meant (trust the development root, …). */
  readonly hints: readonly string[];
  /** Signed by a development root, not by AWS. */
  readonly development: boolean;
  /** PCR0 is all zeros: the enclave ran in debug mode. */
  readonly debugMode: boolean;
  /** The trusted root the chain starts at, when it starts at one. */
  readonly trustedRoot?: { readonly label: string; readonly kind: 'aws' | 'development' | 'custom' };
  /**
   * When the time is not the document's own: whether the document verifies at its own time
   * (undefined: not checked).
   */
  readonly validAtDocumentTime?: boolean;
  /** The verifier's own one-sentence summary. */
  readonly summary: string;
}

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

export interface CheckView {
  /** The verifier's stable code (`chain.validity`, `cose.signature`, …). */
  readonly code: string;
  readonly status: CheckStatus;
  readonly title: string;
  readonly reason: string;
}

export interface EnvelopeView {
  /** With CBOR tag 18 (COSE_Sign1_Tagged) in front. */
  readonly tagged: boolean;
  /** The decoded document in bytes (after base64/hex decoding). */
  readonly size: number;
  readonly payloadSize: number;
  readonly signatureSize: number;
  /** The protected header's bytes as hex. */
  readonly protectedHeader: string;
}

/**
 * An optional byte field. `absent`: the key is not in the document; `null`: the key holds CBOR
 * null (what Nitro hardware writes for "none"); `empty`: a zero-length byte string; `present`: bytes.
 */
export type BytesView =
  | { readonly state: 'absent' }
  | { readonly state: 'null' }
  | { readonly state: 'empty' }
  | {
      readonly state: 'present';
      readonly size: number;
      /** Lower-case hex. */
      readonly hex: string;
      /** The bytes as UTF-8 text, when they are valid UTF-8 and printable (tabs and line breaks allowed). */
      readonly text?: string;
    };

export interface DocumentView {
  readonly moduleId: string;
  readonly digest: string;
  readonly timestamp: TimeView;
  readonly nonce: BytesView;
  readonly userData: BytesView;
  readonly publicKey: BytesView;
  /** Payload keys the format does not define. */
  readonly unknownKeys: readonly string[];
  /** The payload map uses CBOR's indefinite-length form (2025+ hardware). */
  readonly indefiniteLengthMap: boolean;
}

export interface PcrView {
  readonly index: number;
  /** `PCR0` … `PCR31`. */
  readonly name: string;
  /** What it measures: `Enclave image`, `Reserved`, `Application-defined`, … */
  readonly meaning: string;
  /**
   * The PCR has no meaning of its own (reserved, or application-defined): the page shows its meaning
   * muted. A flag, so that the page never compares words, which may be translated.
   */
  readonly reserved: boolean;
  /** Lower-case hex (96 characters for SHA-384). */
  readonly value: string;
  readonly allZero: boolean;
  /** Present when this PCR is compared with the chosen image. */
  readonly expected?: { readonly value: string; readonly match: boolean };
}

export type ComparisonView =
  | {
      readonly ok: true;
      readonly image: { readonly name: string; readonly detail: string };
      /** Every compared PCR, including one the image has but the document lacks (then `actual` is absent). */
      readonly rows: readonly {
        readonly index: number;
        readonly name: string;
        readonly expected: string;
        readonly actual?: string;
        readonly match: boolean;
      }[];
      readonly matches: number;
      readonly mismatches: number;
      /** The document is unsigned (QEMU's emulated NSM): its values are compared, but nothing vouches for them. */
      readonly unsigned?: true;
    }
  | {
      readonly ok: false;
      readonly image: { readonly name: string; readonly detail: string };
      /** Why the image could not be measured. */
      readonly error: string;
    };

export interface CertificateView {
  readonly role: 'root' | 'intermediate' | 'leaf';
  /** `Root`, `Regional`, `Zonal`, `Instance`, `Intermediate`, `Signing certificate` (in the user's language). */
  readonly roleLabel: string;
  /**
   * The certificate named by its role inside a sentence, in the user's language: `root certificate`,
   * `zonal certificate`, `signing certificate`, … (the page builds no noun from the label).
   */
  readonly roleNoun: string;
  /** The subject's common name (or the whole subject when it has none). */
  readonly commonName: string;
  readonly subject: string;
  readonly issuer: string;
  readonly notBefore: TimeView;
  readonly notAfter: TimeView;
  /** At the verification time. */
  readonly status: 'valid' | 'expired' | 'not-yet-valid';
  /** SHA-256 of the DER, upper-case hex pairs separated by colons. */
  readonly sha256: string;
  /** Hex pairs separated by colons. */
  readonly serial: string;
  /** The root the chain starts at is a trusted one (root entry only). */
  readonly trusted?: boolean;
}

/** Why a document cannot be shown at all (not an attestation document, unreadable file, …). */
export interface AttestationViewError {
  /** The file name or "Clipboard". */
  readonly label: string;
  /**
   * `format`: not an attestation document; `unreadable`: the file cannot be read; `restore`: a
   * panel whose document could not be kept.
   */
  readonly kind: 'format' | 'unreadable' | 'restore';
  readonly message: string;
  /** Reading the source again may help (a file, which can change); false for bytes that were refused. */
  readonly canReload?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Dry run: would KMS release the key? (a key policy against the document, as `nitro-dev kms dry-run`)

/** The operations the dry run offers: the three that take a Recipient (Decrypt first, the default). */
export const KMS_OPERATIONS = ['Decrypt', 'GenerateDataKey', 'GenerateRandom'] as const;
export type KmsOperation = (typeof KMS_OPERATIONS)[number];

/** Longest key policy text the webview may send (characters): what the engine's policy reader takes. */
export const MAX_DRY_RUN_POLICY = 131072;
/** Longest principal ARN (IAM's limit on an ARN is 2048 characters). */
export const MAX_PRINCIPAL = 2048;

/** Webview → host: evaluate this policy for the document on screen. */
export interface DryRunBody {
  /** The key policy's JSON text. */
  readonly policy: string;
  /** Where it came from (a file name, `pasted policy`), for messages. */
  readonly policyLabel: string;
  /** The caller's ARN; absent: principals are not checked. */
  readonly principal?: string;
  readonly operation: KmsOperation;
}

/** Host → webview: the engine's answer (evaluateKeyPolicy), as `nitro-dev kms dry-run` prints it. */
export interface DryRunView {
  readonly decision: 'allow' | 'deny';
  readonly operation: KmsOperation;
  readonly policyLabel: string;
  readonly principal?: string;
  /** Why, statement by statement, the deciding ones first. */
  readonly reasons: readonly string[];
  /** What the dry run did not check, for this request. */
  readonly notes: readonly string[];
  /** What a dry run evaluates at all. */
  readonly scope: string;
  /** The document does not verify at the chosen time (KMS would refuse it before reading the policy). */
  readonly documentInvalid?: string;
}

/** Host → webview: a key policy picked from the workspace or an editor. */
export interface PickedPolicy {
  readonly label: string;
  readonly text: string;
}

/** Checks the untrusted body of a `dryRun` request. */
export function parseDryRunBody(body: unknown): Parsed<DryRunBody> {
  if (!isRecord(body)) return { ok: false, reason: 'dryRun: the body is not an object' };
  const { policy, policyLabel, principal, operation } = body;
  if (typeof policy !== 'string') return { ok: false, reason: 'dryRun: "policy" is not a string' };
  if (policy.length > MAX_DRY_RUN_POLICY)
    return { ok: false, reason: `dryRun: the policy is longer than ${MAX_DRY_RUN_POLICY} characters` };
  if (typeof policyLabel !== 'string' || policyLabel.length === 0 || policyLabel.length > MAX_LABEL)
    return { ok: false, reason: `dryRun: "policyLabel" is not a string of 1 to ${MAX_LABEL} characters` };
  if (principal !== undefined && (typeof principal !== 'string' || principal.length > MAX_PRINCIPAL))
    return { ok: false, reason: `dryRun: "principal" is not a string of at most ${MAX_PRINCIPAL} characters` };
  if (!(KMS_OPERATIONS as readonly unknown[]).includes(operation))
    return { ok: false, reason: `dryRun: "operation" is not one of ${KMS_OPERATIONS.join(', ')}` };
  const trimmed = typeof principal === 'string' ? principal.trim() : '';
  return {
    ok: true,
    value: {
      policy,
      policyLabel,
      operation: operation as KmsOperation,
      ...(trimmed !== '' ? { principal: trimmed } : {}),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The state of a panel (kept by the webview with setState, read back by the panel serializer)

export type PersistedSource =
  | { readonly kind: 'file'; readonly uri: string }
  | {
      readonly kind: 'bytes';
      readonly label: string;
      /** The document's bytes (after decoding the text it was given as). */
      readonly base64: string;
      /** How it was given (base64 or hex text, or binary). */
      readonly encoding?: 'binary' | 'base64' | 'hex';
    };

export interface PanelState {
  readonly source: PersistedSource;
  readonly time: TimeChoice;
  /** The URI of the enclave image compared with, if any. */
  readonly compareWith?: string;
  /**
   * The panel trusted the embedded emulator's development root. Only this flag is kept: after a
   * reload the host reads the root again from the emulator's own state, never from the webview.
   */
  readonly developmentRoot?: boolean;
  /** The nonce the document was asked for (lower-case hex), checked again after a reload. */
  readonly nonce?: string;
}

/**
 * The whole state a viewer's webview keeps with setState: its view state, and for panels what the
 * host asked it to keep.
 */
export interface AttestationWebviewState {
  /** Ids of the collapsed cards. */
  readonly collapsed?: readonly string[];
  /** All PCRs are listed, including the all-zero reserved ones. */
  readonly showAllPcrs?: boolean;
  /** What the dry-run form holds (the policy text, its label, the principal and the operation). */
  readonly dryRun?: {
    readonly policy?: string;
    readonly policyLabel?: string;
    readonly principal?: string;
    readonly operation?: KmsOperation;
  };
  /** Set by the host (panels only); read back by the panel serializer after a reload. */
  readonly panel?: PanelState;
}

// ---------------------------------------------------------------------------------------------
// Messages

/** Host → webview: what to show. */
export interface InitMessage extends HostEnvelope<'init', { readonly model: AttestationViewModel }> {
  readonly body: { readonly model: AttestationViewModel };
}

/** Host → webview: the document cannot be shown. */
export interface ErrorMessage extends HostEnvelope<'error', AttestationViewError> {
  readonly body: AttestationViewError;
}

/** Host → webview: work in progress (measuring an image), or done (`message` absent). */
export interface BusyMessage extends HostEnvelope<'busy', { readonly message?: string }> {
  readonly body: { readonly message?: string };
}

/** Host → webview (panels only): the state to keep so that the panel can be restored after a reload. */
export interface PersistMessage extends HostEnvelope<'persist', { readonly state: PanelState }> {
  readonly body: { readonly state: PanelState };
}

export type AttestationHostMessage = InitMessage | ErrorMessage | BusyMessage | PersistMessage;

export const HOST_MESSAGE_TYPES = [
  'init',
  'error',
  'busy',
  'persist',
] as const satisfies readonly AttestationHostMessage['type'][];

/** The webview's check of what its host sends: the shape of each message type's body. */
export function parseHostMessage(value: unknown): ParsedMessage<AttestationHostMessage> {
  return parseHostEnvelope<AttestationHostMessage>(value, "the attestation viewer's", {
    init: (body) => typeof body['model'] === 'object' && body['model'] !== null,
    error: (body) => typeof body['message'] === 'string',
    busy: (body) => body['message'] === undefined || typeof body['message'] === 'string',
    persist: (body) => typeof body['state'] === 'object' && body['state'] !== null,
  });
}

/** Webview → host. */
export type AttestationWebviewMessage =
  | { readonly type: typeof READY }
  | { readonly type: 'copy'; readonly body: { readonly text: string; readonly what: string } }
  | { readonly type: 'copyKmsCondition'; readonly body: KmsConditionBody }
  | { readonly type: 'setTime'; readonly body: TimeChoice }
  | { readonly type: 'dryRun'; readonly body: DryRunBody }
  | { readonly type: 'pickPolicy' }
  | { readonly type: 'compare' }
  | { readonly type: 'clearComparison' }
  | { readonly type: 'reload' }
  /** Save the document (its raw CBOR bytes) to a file the person picks. */
  | { readonly type: 'save' }
  /** Put the document on the clipboard as base64 (of its raw CBOR bytes). */
  | { readonly type: 'copyBase64' }
  /**
   * Re-sign an unsigned QEMU document with the development CA into a new file the person picks (the
   * original is never altered); offered only for unsigned documents.
   */
  | { readonly type: 'resign' };

export const WEBVIEW_MESSAGE_TYPES = [
  READY,
  'copy',
  'copyKmsCondition',
  'setTime',
  'dryRun',
  'pickPolicy',
  'compare',
  'clearComparison',
  'reload',
  'save',
  'copyBase64',
  'resign',
] as const satisfies readonly AttestationWebviewMessage['type'][];

type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks an untrusted time choice: a known mode and, for `custom`, an ISO 8601 instant in a sane range. */
export function parseTimeChoice(value: unknown): Parsed<TimeChoice> {
  if (!isRecord(value)) return { ok: false, reason: 'the time is not an object' };
  const { mode, at } = value;
  if (mode === 'now' || mode === 'document') return { ok: true, value: { mode } };
  if (mode !== 'custom')
    return {
      ok: false,
      reason: `the time mode ${JSON.stringify(mode) ?? typeof mode} is not one of ${TIME_MODES.join(', ')}`,
    };
  if (
    typeof at !== 'string' ||
    at.length > 40 ||
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(at)
  ) {
    return { ok: false, reason: 'a custom time must be an ISO 8601 date and time with a zone (2022-10-13T09:00:00Z)' };
  }
  const ms = Date.parse(at);
  if (!Number.isFinite(ms)) return { ok: false, reason: `${at} is not a valid date and time` };
  const year = new Date(ms).getUTCFullYear();
  if (year < MIN_CUSTOM_YEAR || year > MAX_CUSTOM_YEAR)
    return { ok: false, reason: `a custom time must lie in the years ${MIN_CUSTOM_YEAR} to ${MAX_CUSTOM_YEAR}` };
  return { ok: true, value: { mode: 'custom', at: new Date(ms).toISOString() } };
}

/**
 * Checks an untrusted message from the viewer's webview: the envelope, then the body of the
 * message types that have one. Returns the typed message, or a sentence saying why it was refused.
 */
export function parseWebviewMessage(
  value: unknown,
): { ok: true; message: AttestationWebviewMessage } | { ok: false; reason: string } {
  if (!isWebviewEnvelope(value, WEBVIEW_MESSAGE_TYPES)) {
    const type = isRecord(value) ? value['type'] : undefined;
    return {
      ok: false,
      reason: `not a message of the attestation viewer's protocol (type ${JSON.stringify(type) ?? typeof value})`,
    };
  }
  switch (value.type) {
    case 'copy': {
      const copy = parseCopyBody(value.body);
      return copy.ok ? { ok: true, message: { type: 'copy', body: copy.body } } : copy;
    }
    case 'copyKmsCondition': {
      const kms = parseKmsConditionBody(value.body);
      return kms.ok ? { ok: true, message: { type: 'copyKmsCondition', body: kms.body } } : kms;
    }
    case 'setTime': {
      const time = parseTimeChoice(value.body);
      return time.ok
        ? { ok: true, message: { type: 'setTime', body: time.value } }
        : { ok: false, reason: `setTime: ${time.reason}` };
    }
    case 'dryRun': {
      const dry = parseDryRunBody(value.body);
      return dry.ok ? { ok: true, message: { type: 'dryRun', body: dry.value } } : dry;
    }
    case READY:
    case 'pickPolicy':
    case 'compare':
    case 'clearComparison':
    case 'reload':
    case 'save':
    case 'copyBase64':
    case 'resign':
      if (value.body !== undefined) return { ok: false, reason: `${value.type}: takes no body` };
      return { ok: true, message: { type: value.type } };
  }
}

/**
 * Checks the state a panel left behind (it comes from the webview, so it is untrusted): a file URI
 * or the base64 of the document (at most MAX_PERSISTED_BASE64 characters), the time, and the image.
 */
export function parsePanelState(value: unknown): Parsed<PanelState> {
  if (!isRecord(value)) return { ok: false, reason: 'the panel kept no state' };
  const source = value['source'];
  if (!isRecord(source)) return { ok: false, reason: 'the panel kept no document' };
  let parsedSource: PersistedSource;
  if (source['kind'] === 'file') {
    const uri = source['uri'];
    if (
      typeof uri !== 'string' ||
      uri.length === 0 ||
      uri.length > MAX_PERSISTED_URI ||
      !/^[a-z][a-z0-9+.-]*:/i.test(uri)
    ) {
      return { ok: false, reason: 'the kept file URI is not a URI' };
    }
    parsedSource = { kind: 'file', uri };
  } else if (source['kind'] === 'bytes') {
    const { base64, label } = source;
    if (
      typeof base64 !== 'string' ||
      base64.length === 0 ||
      base64.length > MAX_PERSISTED_BASE64 ||
      base64.length % 4 !== 0 ||
      !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)
    ) {
      return { ok: false, reason: `the kept document is not base64 of at most ${MAX_PERSISTED_BASE64} characters` };
    }
    if (typeof label !== 'string' || label.length === 0 || label.length > MAX_LABEL)
      return { ok: false, reason: 'the kept document has no label' };
    const encoding = source['encoding'];
    if (encoding !== undefined && encoding !== 'binary' && encoding !== 'base64' && encoding !== 'hex')
      return { ok: false, reason: 'the kept document has an unknown encoding' };
    parsedSource = { kind: 'bytes', label, base64, ...(encoding !== undefined ? { encoding } : {}) };
  } else {
    return { ok: false, reason: 'the kept document is neither a file nor bytes' };
  }
  const time =
    value['time'] === undefined ? ({ ok: true, value: { mode: 'now' } } as const) : parseTimeChoice(value['time']);
  if (!time.ok) return { ok: false, reason: time.reason };
  const compareWith = value['compareWith'];
  if (
    compareWith !== undefined &&
    (typeof compareWith !== 'string' ||
      compareWith.length > MAX_PERSISTED_URI ||
      !/^[a-z][a-z0-9+.-]*:/i.test(compareWith))
  ) {
    return { ok: false, reason: 'the kept image URI is not a URI' };
  }
  const developmentRoot = value['developmentRoot'];
  if (developmentRoot !== undefined && typeof developmentRoot !== 'boolean')
    return { ok: false, reason: 'the kept development-root flag is not a boolean' };
  const nonce = value['nonce'];
  if (
    nonce !== undefined &&
    (typeof nonce !== 'string' ||
      nonce.length === 0 ||
      nonce.length > 2 * MAX_NONCE_BYTES ||
      !/^([0-9a-f]{2})+$/.test(nonce))
  )
    return { ok: false, reason: `the kept nonce is not lower-case hex of 1 to ${MAX_NONCE_BYTES} bytes` };
  return {
    ok: true,
    value: {
      source: parsedSource,
      time: time.value,
      ...(compareWith !== undefined ? { compareWith } : {}),
      ...(developmentRoot === true ? { developmentRoot } : {}),
      ...(nonce !== undefined ? { nonce } : {}),
    },
  };
}

/**
 * The panel state inside what a webview kept (the state the panel serializer is handed), checked
 * like parsePanelState.
 */
export function parseWebviewState(value: unknown): Parsed<PanelState> {
  if (!isRecord(value)) return { ok: false, reason: 'the panel kept no state' };
  return parsePanelState(value['panel']);
}
