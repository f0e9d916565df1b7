// VerifyReport (the engine's answer) → AttestationViewModel (plain JSON for the viewer's webview),
// and the verification runs behind it. Pure and free of vscode, so it is unit-tested in Node.
// Everything the viewer says in words (the verdict, the reasons, the notes) is decided here.
import {
  LinkCache,
  fromUtf8,
  pcrIsReserved,
  pcrMeaning,
  toHex,
  verifyAttestation,
  type AttestationCrypto,
  type ChainEntry,
  type Check,
  type OptionalBytes,
  type VerifyOptions,
  type VerifyReport,
} from '../../engine';
import { ATTESTATION_KIND_LABELS, timestampDate } from '../../engine';
import { colonPairs, sentence } from '../../shared/text';
import { l10n } from '../l10n';
import type {
  AttestationViewModel,
  BytesView,
  CertificateView,
  CheckView,
  ComparisonView,
  DocumentView,
  NonceCheckView,
  PcrView,
  SourceView,
  TimeChoice,
  TimeView,
  VerdictView,
} from '../../shared/attestationViewer';

// ---------------------------------------------------------------------------------------------
// Verification

export interface VerifyRun {
  /** The report at the chosen time. */
  readonly report: VerifyReport;
  /**
   * The report at the document's own time, when the chosen time is another one and the document
   * is readable (the viewer says whether the document was valid when it was made).
   */
  readonly atDocumentTime?: VerifyReport;
}

/**
 * Verifies `input` at the chosen time (and again at the document's own time when that differs).
 * Never throws for a hostile document: the engine answers with a report.
 */
export function verifyForView(
  input: Uint8Array | string,
  options: {
    readonly time: TimeChoice;
    readonly expectedPcrs?: ReadonlyMap<number, string>;
    readonly now?: Date;
    readonly roots?: VerifyOptions['roots'];
    /** The nonce the document was asked for: the engine checks that the document carries it. */
    readonly nonce?: Uint8Array;
  },
  crypto: AttestationCrypto,
  cache: LinkCache = new LinkCache(),
): VerifyRun {
  const { time } = options;
  const at =
    time.mode === 'document' ? 'document' : time.mode === 'custom' ? new Date(time.at) : (options.now ?? new Date());
  const common = {
    // The viewer compares with enclave images only (which do not apply to NitroTPM documents).
    ...(options.expectedPcrs && options.expectedPcrs.size > 0
      ? { expectedPcrs: options.expectedPcrs, expectedPcrsFrom: 'enclave-image' as const }
      : {}),
    ...(options.roots && options.roots.length > 0 ? { roots: options.roots } : {}),
    ...(options.nonce && options.nonce.length > 0 ? { nonce: options.nonce } : {}),
  };
  const report = verifyAttestation(input, { at, ...common }, crypto, cache);
  if (time.mode === 'document' || !report.document) return { report };
  return { report, atDocumentTime: verifyAttestation(input, { at: 'document', ...common }, crypto, cache) };
}

/** Why the input is not an attestation document at all (no COSE_Sign1 in it), or undefined when it is one. */
export function unreadableReason(report: VerifyReport): string | undefined {
  if (report.decoded) return undefined;
  const failed = report.checks.find((c) => c.status === 'fail');
  return sentence(failed?.reason ?? l10n.t('the input is not an attestation document'));
}

// ---------------------------------------------------------------------------------------------
// Words and small values

/** `2022-10-13 08:58:02 UTC`, with milliseconds when the instant has them. */
export function utcText(date: Date): string {
  const iso = date.toISOString();
  const ms = iso.slice(19, 23);
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${ms === '.000' ? '' : ms} UTC`;
}

export function timeView(date: Date): TimeView {
  return { ms: date.getTime(), iso: date.toISOString(), utc: utcText(date) };
}

/** A document's timestamp, which may lie beyond the range of dates (then only the number is shown). */
export function documentTimeView(ms: number): TimeView {
  const date = timestampDate(ms);
  return date
    ? timeView(date)
    : { ms, iso: '', utc: l10n.t('{0} ms, beyond the range of dates', ms), outOfRange: true };
}

/** Text a person can read: valid UTF-8 without control characters other than tab and line breaks. */
function printableText(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    text = fromUtf8(bytes);
  } catch {
    return undefined;
  }
  return /^[\P{C}\t\n\r]+$/u.test(text) && /\S/.test(text) ? text : undefined;
}

export function bytesView(value: OptionalBytes): BytesView {
  if (value.state !== 'present') return { state: value.state };
  if (value.value.length === 0) return { state: 'empty' };
  const text = printableText(value.value);
  return {
    state: 'present',
    size: value.value.length,
    hex: toHex(value.value),
    ...(text !== undefined ? { text } : {}),
  };
}

const CN = /(?:^|,\s*)CN=([^,]+)/;

/** A certificate's place in the chain: the root, the names of AWS's intermediates, another CA, the signer. */
type CertificateKind = 'root' | 'regional' | 'zonal' | 'instance' | 'intermediate' | 'leaf';

function certificateKind(entry: ChainEntry, commonName: string): CertificateKind {
  if (entry.role === 'root') return 'root';
  if (entry.role === 'leaf') return 'leaf';
  if (/\.zonal\.[a-z0-9-]+\.aws\.nitro-enclaves$/.test(commonName)) return 'zonal';
  if (/^i-[0-9a-f]+\.[a-z0-9-]+\.aws\.nitro-enclaves$/.test(commonName)) return 'instance';
  if (/^[0-9a-f]{16}\.[a-z0-9-]+\.aws\.nitro-enclaves$/.test(commonName)) return 'regional';
  return 'intermediate';
}

/** Root, Regional, Zonal, Instance, Intermediate, or Signing certificate: the label of a chain's row. */
function roleLabel(kind: CertificateKind): string {
  switch (kind) {
    case 'root':
      return l10n.t('Root');
    case 'regional':
      return l10n.t('Regional');
    case 'zonal':
      return l10n.t('Zonal');
    case 'instance':
      return l10n.t('Instance');
    case 'intermediate':
      return l10n.t('Intermediate');
    case 'leaf':
      return l10n.t('Signing certificate');
  }
}

/** The certificate named by its role inside a sentence: root certificate, ..., signing certificate. */
function roleNoun(kind: CertificateKind): string {
  switch (kind) {
    case 'root':
      return l10n.t('root certificate');
    case 'regional':
      return l10n.t('regional certificate');
    case 'zonal':
      return l10n.t('zonal certificate');
    case 'instance':
      return l10n.t('instance certificate');
    case 'intermediate':
      return l10n.t('intermediate certificate');
    case 'leaf':
      return l10n.t('signing certificate');
  }
}

function certificateView(entry: ChainEntry, at: Date, trusted: boolean): CertificateView {
  const commonName = CN.exec(entry.subject)?.[1] ?? entry.subject;
  const kind = certificateKind(entry, commonName);
  return {
    role: entry.role,
    roleLabel: roleLabel(kind),
    roleNoun: roleNoun(kind),
    commonName,
    subject: entry.subject,
    issuer: entry.issuer,
    notBefore: timeView(entry.notBefore),
    notAfter: timeView(entry.notAfter),
    status: entry.validAtTime ? 'valid' : at < entry.notBefore ? 'not-yet-valid' : 'expired',
    sha256: colonPairs(entry.sha256).toUpperCase(),
    serial: colonPairs(entry.serialNumberHex).toUpperCase(),
    ...(entry.role === 'root' ? { trusted } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// The verdict in plain words

/** Which failing check explains the verdict best: a forged or malformed document before an old one. */
const PRIORITY: readonly string[] = [
  'cose.structure',
  'unsigned.markers',
  'payload.syntax',
  'cose.algorithm',
  'cose.signature-size',
  'cose.headers',
  'chain.parse',
  'cose.signature',
  'chain.root',
  'chain.signatures',
  'chain.names',
  'chain.constraints',
  'leaf.key',
  'pcrs.expected',
  'nonce.expected',
  'chain.validity',
];

const rank = (c: Check) => {
  const i = PRIORITY.indexOf(c.code);
  return i < 0 ? PRIORITY.length : i;
};

/** "now", "at document time", "at 2022-10-13 09:00:00 UTC". */
function timePhrase(time: TimeChoice, at: Date): string {
  return time.mode === 'now'
    ? l10n.t('now')
    : time.mode === 'document'
      ? l10n.t('at document time')
      : l10n.t('at {0}', utcText(at));
}

/**
 * Why the chain is not valid at `at`, naming the signing certificate first; `short` leaves out the
 * other certificates.
 */
function validityReason(chain: readonly ChainEntry[], at: Date, fallback: string, short: boolean): string {
  const bad = chain.filter((c) => !c.validAtTime);
  if (bad.length === 0) return fallback;
  const leaf = bad.find((c) => c.role === 'leaf');
  const first = leaf ?? bad[0];
  if (!first) return fallback;
  const name = CN.exec(first.subject)?.[1] ?? first.subject;
  const early = at < first.notBefore;
  const from = utcText(first.notBefore);
  const until = utcText(first.notAfter);
  const main =
    first.role === 'leaf'
      ? early
        ? l10n.t('its signing certificate is not valid before {0}', from)
        : l10n.t('its signing certificate expired at {0}', until)
      : first.role === 'root'
        ? early
          ? l10n.t('its root certificate is not valid before {0}', from)
          : l10n.t('its root certificate expired at {0}', until)
        : early
          ? l10n.t('the CA certificate {0} is not valid before {1}', name, from)
          : l10n.t('the CA certificate {0} expired at {1}', name, until);
  const others = bad.length - 1;
  if (others === 0 || short) return main;
  return others === 1
    ? l10n.t('{0} (1 more certificate of the chain is not valid at that time either)', main)
    : l10n.t('{0} ({1} more certificates of the chain are not valid at that time either)', main, others);
}

function plainReason(check: Check, report: VerifyReport, imageName: string | undefined, short = false): string {
  switch (check.code) {
    case 'chain.validity':
      return validityReason(report.chain, report.at, check.reason, short);
    case 'pcrs.expected': {
      // An enclave image compared with a NitroTPM document: the reason says it does not apply.
      if (report.kind === 'nitrotpm') return check.reason;
      const differ = report.pcrComparisons.filter((p) => !p.match).map((p) => `PCR${p.index}`);
      const image = imageName ?? l10n.t('the expected values');
      if (!short) return l10n.t('its PCRs do not match {0}: {1}', image, check.reason);
      const last = differ.at(-1);
      if (last === undefined) return l10n.t('its PCRs do not match {0}', image);
      return differ.length === 1
        ? l10n.t('its PCRs do not match {0} ({1} differs)', image, last)
        : l10n.t('its PCRs do not match {0} ({1} and {2} differ)', image, differ.slice(0, -1).join(', '), last);
    }
    case 'chain.root':
      return l10n.t('it is not signed through a trusted root: {0}', check.reason);
    default:
      return check.reason;
  }
}

function verdictView(
  report: VerifyReport,
  time: TimeChoice,
  atDocumentTime: VerifyReport | undefined,
  imageName: string | undefined,
): VerdictView {
  const phrase = timePhrase(time, report.at);
  const failed = report.checks.filter((c) => c.status === 'fail').sort((a, b) => rank(a) - rank(b));
  const reasons = failed.map((c) => sentence(plainReason(c, report, imageName)));
  const notes: string[] = [];
  const hints: string[] = [];
  for (const h of report.hints) {
    // Valid at document time is already a note (with a button to verify then).
    if (h.code === 'development-root') {
      hints.push(
        l10n.t(
          "Signed by the Nitro Enclaves emulator's development root, which this viewer does not trust here. Documents fetched from an emulated enclave are verified with that root; on the command line, pass it with --development-root.", // eslint-disable-line max-len
        ),
      );
    }
  }
  if (report.kind === 'nitrotpm')
    notes.push(
      l10n.t(
        "{0}: its PCRs (nitrotpm_pcrs) measure an EC2 instance's boot, not an enclave image.",
        ATTESTATION_KIND_LABELS.nitrotpm,
      ),
    );
  if (report.timeNote) notes.push(`${sentence(report.timeNote)}.`);
  let headline: string;
  if (report.unsigned) {
    notes.push(
      l10n.t(
        "Unsigned: this document comes from QEMU's emulated NSM (the nitro-enclave machine type), recognised by {0}. No signature or certificate chain exists to check, so its PCRs are only as trustworthy as the machine that ran QEMU.", // eslint-disable-line max-len
        report.unsigned.markers,
      ),
    );
  }
  if (report.verdict === 'unsigned') {
    headline = l10n.t("Unsigned: a document from QEMU's emulated NSM, with no signature to verify");
  } else if (report.valid) {
    headline = report.development
      ? report.debugMode
        ? l10n.t('Valid development attestation {0}, but the enclave ran in debug mode', phrase)
        : l10n.t('Valid development attestation {0}', phrase)
      : report.debugMode
        ? l10n.t('Valid {0}, but the enclave ran in debug mode', phrase)
        : l10n.t('Valid {0}', phrase);
  } else {
    headline = l10n.t(
      'Invalid {0}: {1}',
      phrase,
      failed[0] ? plainReason(failed[0], report, imageName, true) : l10n.t('a check failed'),
    );
  }
  if (!report.valid && atDocumentTime?.valid) {
    const leaf = report.chain.find((c) => c.role === 'leaf');
    notes.push(
      leaf
        ? l10n.t(
            'At document time ({0}) it is valid: the document is genuine, but attestation documents are short-lived; its signing certificate was valid only from {1} to {2}.', // eslint-disable-line max-len
            utcText(atDocumentTime.at),
            utcText(leaf.notBefore),
            utcText(leaf.notAfter),
          )
        : l10n.t(
            'At document time ({0}) it is valid: the document is genuine, but attestation documents are short-lived.',
            utcText(atDocumentTime.at),
          ),
    );
  }
  if (report.development) {
    notes.push(
      l10n.t(
        'Development attestation: signed by {0}, not by AWS, so it proves nothing about Nitro hardware.',
        report.trustedRoot?.label ?? l10n.t('a local development root'),
      ),
    );
  } else if (report.trustedRoot && report.trustedRoot.kind !== 'aws') {
    notes.push(l10n.t('Chained to {0}, not to the AWS Nitro Enclaves root.', report.trustedRoot.label));
  }
  if (report.debugMode) {
    notes.push(
      l10n.t(
        'Debug mode: PCR0 is all zeros (and so are PCR1, PCR2 and PCR8), so this document says nothing about the enclave image. Do not grant it secrets.', // eslint-disable-line max-len
      ),
    );
  }
  return {
    valid: report.valid,
    verdict: report.verdict,
    ...(report.unsigned ? { unsigned: { markers: report.unsigned.markers } } : {}),
    headline,
    reasons,
    notes,
    hints,
    development: report.development,
    debugMode: report.debugMode,
    ...(report.trustedRoot ? { trustedRoot: { label: report.trustedRoot.label, kind: report.trustedRoot.kind } } : {}),
    ...(time.mode !== 'document' && atDocumentTime ? { validAtDocumentTime: atDocumentTime.valid } : {}),
    summary: report.summary,
  };
}

// ---------------------------------------------------------------------------------------------
// The whole model

export interface ViewContext {
  /** Where the document came from; `encoding` is taken from the report when not given. */
  readonly source: Omit<SourceView, 'encoding'> & { readonly encoding?: SourceView['encoding'] };
  readonly time: TimeChoice;
  /** The same document verified at its own time (see VerifyRun). */
  readonly atDocumentTime?: VerifyReport;
  /** The enclave image the PCRs were compared with; `error` when it could not be measured. */
  readonly comparison?: { readonly name: string; readonly detail: string; readonly error?: string };
  /** The nonce the document was asked for (verified with it: the report has the nonce.expected check). */
  readonly nonce?: Uint8Array;
}

/** The nonce row: the nonce asked for against the document's, as the engine's nonce.expected check decided. */
function nonceCheckView(report: VerifyReport, expected: Uint8Array): NonceCheckView {
  const check = report.checks.find((c) => c.code === 'nonce.expected');
  const n = report.document?.nonce;
  const actual = n?.state === 'present' && n.value.length > 0 ? toHex(n.value) : undefined;
  return { expected: toHex(expected), ...(actual !== undefined ? { actual } : {}), match: check?.status === 'pass' };
}

function comparisonView(report: VerifyReport, comparison: NonNullable<ViewContext['comparison']>): ComparisonView {
  const image = { name: comparison.name, detail: comparison.detail };
  if (comparison.error !== undefined) return { ok: false, image, error: comparison.error };
  if (report.kind === 'nitrotpm') {
    return {
      ok: false,
      image,
      error: l10n.t(
        "Does not apply: this is a NitroTPM (instance) attestation document, whose PCRs measure an EC2 instance's boot, not an enclave image.", // eslint-disable-line max-len
      ),
    };
  }
  const rows = report.pcrComparisons.map((p) => ({
    index: p.index,
    name: `PCR${p.index}`,
    expected: p.expected,
    ...(p.actual !== undefined ? { actual: p.actual } : {}),
    match: p.match,
  }));
  const matches = rows.filter((r) => r.match).length;
  return {
    ok: true,
    image,
    rows,
    matches,
    mismatches: rows.length - matches,
    ...(report.unsigned ? { unsigned: true as const } : {}),
  };
}

export function toAttestationViewModel(report: VerifyReport, context: ViewContext): AttestationViewModel {
  const decoded = report.decoded;
  const doc = report.document;
  const encoding = context.source.encoding ?? decoded?.encoding;
  const source: SourceView = { ...context.source, ...(encoding !== undefined ? { encoding } : {}) };
  const checks: CheckView[] = report.checks.map((c) => ({
    code: c.code,
    status: c.status,
    title: c.title,
    reason: c.reason,
  }));
  const expected = new Map(report.pcrComparisons.map((p) => [p.index, p]));
  const pcrs: PcrView[] = doc
    ? [...doc.pcrs].map(([index, value]) => {
        const e = expected.get(index);
        return {
          index,
          name: `PCR${index}`,
          meaning: pcrMeaning(index, doc.kind),
          reserved: pcrIsReserved(index, doc.kind),
          value: toHex(value),
          allZero: value.every((b) => b === 0),
          ...(e ? { expected: { value: e.expected, match: e.match } } : {}),
        };
      })
    : [];
  const document: DocumentView | undefined = doc
    ? {
        moduleId: doc.moduleId,
        digest: doc.digest,
        timestamp: documentTimeView(doc.timestamp),
        nonce: bytesView(doc.nonce),
        userData: bytesView(doc.userData),
        publicKey: bytesView(doc.publicKey),
        unknownKeys: [...doc.unknownKeys],
        indefiniteLengthMap: doc.indefiniteLengthMap,
      }
    : undefined;
  const rootTrusted = report.checks.some((c) => c.code === 'chain.root' && c.status === 'pass');
  return {
    source,
    ...(report.kind ? { kind: report.kind, kindLabel: ATTESTATION_KIND_LABELS[report.kind] } : {}),
    time: { mode: context.time.mode, at: timeView(report.at) },
    verdict: verdictView(report, context.time, context.atDocumentTime, context.comparison?.name),
    checks,
    ...(decoded
      ? {
          envelope: {
            tagged: decoded.cose.tagged,
            size: decoded.bytes.length,
            payloadSize: decoded.cose.payload.length,
            signatureSize: decoded.cose.signature.length,
            protectedHeader: toHex(decoded.cose.protectedBytes),
          },
        }
      : {}),
    ...(document ? { document } : {}),
    pcrs,
    ...(context.comparison ? { comparison: comparisonView(report, context.comparison) } : {}),
    chain: report.chain.map((c) => certificateView(c, report.at, rootTrusted)),
    ...(context.nonce && context.nonce.length > 0 ? { nonceCheck: nonceCheckView(report, context.nonce) } : {}),
  };
}
