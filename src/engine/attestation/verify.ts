// Verification of attestation documents (spec sections 1.2, 3 and 4): every check reported on its
// own with a stable code, nothing ambient (the caller gives the roots and the time), and never an
// exception for a hostile document: the answer is always a report.
import type { CryptoPort } from '../cose/port';
import { verifyCoseSign1 } from '../cose/sign1';
import { equalBytes, toHex } from '../util/bytes';
import { firstCertificateDer } from '../util/pem';
import { CertificateError, isValidAt, nameToString, parseCertificate, type CertificateInfo } from '../x509/certificate';
import {
  ATTESTATION_KIND_LABELS,
  AttestationFormatError,
  decodeAttestation,
  timestampDate,
  type AttestationDocument,
  type AttestationKind,
  type CoseEnvelope,
  type DecodedAttestation,
  type SigningMaterial,
} from './document';
import { AWS_NITRO_ROOT_G1_PEM, AWS_NITRO_ROOT_G1_SHA256 } from './roots';
import { QEMU_NSM_SOURCE, listText, partialMarkersReason, unsignedMarkersOf, type UnsignedMarkers } from './unsigned';

/** The cryptography the verifier needs: the engine's crypto port (node:crypto in Node). */
export type AttestationCrypto = CryptoPort;

export type CheckCode =
  | 'cose.structure'
  | 'unsigned.markers'
  | 'cose.algorithm'
  | 'cose.headers'
  | 'cose.signature-size'
  | 'payload.syntax'
  | 'payload.deviations'
  | 'chain.parse'
  | 'chain.root'
  | 'chain.signatures'
  | 'chain.names'
  | 'chain.validity'
  | 'chain.constraints'
  | 'leaf.key'
  | 'cose.signature'
  | 'document.time'
  | 'pcrs.expected'
  | 'nonce.expected'
  | 'debug-mode';

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

export interface Check {
  readonly code: CheckCode;
  readonly status: CheckStatus;
  /** What is checked, in a few words. */
  readonly title: string;
  /** Why it passed, failed or was skipped, in a sentence a person can act on. */
  readonly reason: string;
}

export interface TrustedRoot {
  readonly der: Uint8Array;
  /** How the root is named in reports. */
  readonly label: string;
  /** `aws`: the pinned AWS root; `development`: a local development CA; `custom`: any other root the caller trusts. */
  readonly kind: 'aws' | 'development' | 'custom';
}

export interface ChainEntry {
  readonly role: 'root' | 'intermediate' | 'leaf';
  readonly subject: string;
  readonly issuer: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly sha256: string;
  readonly serialNumberHex: string;
  readonly validAtTime: boolean;
  readonly info: CertificateInfo;
}

export interface PcrComparison {
  readonly index: number;
  readonly expected: string;
  readonly actual: string | undefined;
  readonly match: boolean;
}

export interface VerifyOptions {
  /** Extra trusted roots (the AWS G1 root is always trusted), as DER or PEM. */
  readonly roots?: readonly (
    TrustedRoot | { readonly pem: string; readonly label?: string; readonly kind?: TrustedRoot['kind'] }
  )[];
  /**
   * The time at which certificates must be valid: a date, or `document` for the document's own timestamp. Default: now.
   */
  readonly at?: Date | 'document';
  /** Expected PCR values (index → hex); each is compared. */
  readonly expectedPcrs?: ReadonlyMap<number, string>;
  /**
   * Where the expected PCRs come from: `enclave-image` (an EIF's measurements), which apply only to
   * enclave documents, or `values` (default), compared with the PCRs of either kind.
   */
  readonly expectedPcrsFrom?: 'enclave-image' | 'values';
  /** The nonce the document must carry (hex or bytes). */
  readonly nonce?: Uint8Array;
}

/** A suggestion for the person verifying: what to try when the verdict is likely not what they meant. */
export interface VerifyHint {
  /**
   * `development-root`: the chain starts at the emulator's development root, which was not trusted;
   * `at-document-time`: a genuine document that fails only because its certificates expired since.
   */
  readonly code: 'development-root' | 'at-document-time';
  /** A sentence without any command-line syntax (callers name their own flag or button). */
  readonly message: string;
}

/**
 * `valid`: every check passed; `invalid`: a check failed; `unsigned`: an unsigned document from
 * QEMU's emulated NSM whose checks all passed, but which has no signature or chain to check (never valid).
 */
export type Verdict = 'valid' | 'invalid' | 'unsigned';

/** What makes a document unsigned: where it comes from and the markers it was recognised by. */
export interface UnsignedInfo {
  readonly source: 'qemu';
  /** The markers, in words: `the protected header {1: -1} (…), a signature of 64 zero bytes, …`. */
  readonly markers: string;
}

export interface VerifyReport {
  /** True when no check failed and the document is signed (verdict `valid`). */
  readonly valid: boolean;
  readonly verdict: Verdict;
  /** Set for an unsigned document from QEMU's emulated NSM (whatever the verdict). */
  readonly unsigned?: UnsignedInfo;
  /** Enclave or NitroTPM (instance) attestation, when the payload says which. */
  readonly kind?: AttestationKind;
  /** Suggestions (empty when there are none). */
  readonly hints: readonly VerifyHint[];
  /** Set when the time is not the one asked for: `--at-document-time` on a document whose timestamp cannot be read. */
  readonly timeNote?: string;
  /** One sentence: the verdict and its main reason. */
  readonly summary: string;
  readonly checks: readonly Check[];
  readonly at: Date;
  readonly decoded?: DecodedAttestation;
  readonly document?: AttestationDocument;
  /** Root first, leaf last. */
  readonly chain: readonly ChainEntry[];
  readonly trustedRoot?: { readonly label: string; readonly kind: TrustedRoot['kind'] };
  /** Signed by a development root: not an AWS attestation. */
  readonly development: boolean;
  /** PCR0 is all zeros: the enclave ran in debug mode. */
  readonly debugMode: boolean;
  readonly pcrComparisons: readonly PcrComparison[];
}

const TITLES: Record<CheckCode, string> = {
  'cose.structure': 'COSE_Sign1 structure',
  'unsigned.markers': "Markers of an unsigned document (QEMU's emulated NSM): all or none",
  'cose.algorithm': 'Algorithm is ES384',
  'cose.headers': 'COSE headers',
  'cose.signature-size': 'Signature is 96 bytes (raw r‖s)',
  'payload.syntax': 'Document fields (AWS syntax rules)',
  'payload.deviations': 'Real-world deviations from the AWS rules',
  'chain.parse': 'Certificates parse',
  'chain.root': 'Chain starts at a trusted root',
  'chain.signatures': 'Each certificate is signed by its parent',
  'chain.names': 'Issuer names match parent subjects',
  'chain.validity': 'Certificates valid at the verification time',
  'chain.constraints': 'Basic constraints and key usage',
  'leaf.key': 'Signing certificate has a P-384 key',
  'cose.signature': 'Document signature verifies',
  'document.time': "Document time within the signing certificate's validity",
  'pcrs.expected': 'PCRs equal the expected values',
  'nonce.expected': 'Nonce equals the expected nonce',
  'debug-mode': 'Not a debug-mode enclave',
};

const AWS_ROOT_DER = firstCertificateDer(AWS_NITRO_ROOT_G1_PEM);

/** Extensions whose meaning the chain check enforces: basicConstraints, keyUsage. */
const PROCESSED_EXTENSIONS = new Set(['2.5.29.19', '2.5.29.15']);

const dateText = (d: Date) => (Number.isNaN(d.getTime()) ? 'an invalid time' : d.toISOString().replace('.000Z', 'Z'));

/** The common name of the emulator's development root (src/engine/node/devAttestation.ts names it). */
export const EMULATOR_DEVELOPMENT_ROOT_CN = 'development.nitro-emulator';

/**
 * Verified certificate links, keyed by the SHA-256 fingerprints of issuer and subject, for a
 * long-lived verifier. Validity times are still checked on every verification.
 */
export class LinkCache {
  private readonly links = new Set<string>();
  constructor(private readonly limit = 4096) {}
  has(link: string): boolean {
    return this.links.has(link);
  }
  add(link: string): void {
    if (this.links.size >= this.limit) this.links.clear();
    this.links.add(link);
  }
}

/** The checks of one verification, in the order they are made. */
class CheckList {
  readonly all: Check[] = [];
  add(code: CheckCode, status: CheckStatus, reason: string): void {
    this.all.push({ code, status, title: TITLES[code], reason });
  }
  failed(): Check[] {
    return this.all.filter((c) => c.status === 'fail');
  }
}

/** What the steps of one verification share. */
interface Run {
  readonly options: VerifyOptions;
  readonly crypto: AttestationCrypto;
  readonly checks: CheckList;
  kind?: AttestationKind;
  timeNote?: string;
}

function resolveRoots(crypto: AttestationCrypto, options: VerifyOptions): TrustedRoot[] {
  const roots: TrustedRoot[] = [];
  // The built-in root is trusted only if the embedded copy still has the pinned fingerprint.
  if (toHex(crypto.sha256(AWS_ROOT_DER)) === AWS_NITRO_ROOT_G1_SHA256)
    roots.push({ der: AWS_ROOT_DER, label: 'AWS Nitro Enclaves Root G1', kind: 'aws' });
  for (const r of options.roots ?? []) {
    if ('der' in r) roots.push(r);
    else
      roots.push({
        der: firstCertificateDer(r.pem),
        label: r.label ?? 'a root passed by the caller',
        kind: r.kind ?? 'custom',
      });
  }
  return roots;
}

type ReportParts = Omit<VerifyReport, 'valid' | 'verdict' | 'summary' | 'checks'>;

/** The verdict in one sentence: who signed, as what, at which time, and why it failed. */
function summaryOf(r: ReportParts, failed: readonly Check[]): string {
  const who = r.trustedRoot
    ? r.trustedRoot.kind === 'aws'
      ? ''
      : r.trustedRoot.kind === 'development'
        ? ' (development attestation: signed by the local development root, not by AWS)'
        : ` (chained to ${r.trustedRoot.label}, not to the AWS root)`
    : '';
  const what = r.kind === 'nitrotpm' ? ` as ${ATTESTATION_KIND_LABELS.nitrotpm}` : '';
  const when = `${dateText(r.at)}${r.timeNote ? ` (${r.timeNote})` : ''}`;
  if (r.unsigned && failed.length === 0) return `UNSIGNED${what}: ${unsignedSentence(r.unsigned)}.`;
  if (failed.length === 0) {
    const debug = r.debugMode ? '; debug mode: PCR0, 1, 2 and 8 are zero, so it proves nothing about the image' : '';
    return `VALID${what} at ${when}${who}${debug}.`;
  }
  // One failure is one sentence; several are numbered, since a reason may list things itself.
  const reasons =
    failed.length === 1
      ? (failed[0] as Check).reason
      : `${failed.length} checks failed: ${failed.map((c, i) => `(${i + 1}) ${c.reason}`).join('; ')}`;
  const unsigned = r.unsigned ? ` (an unsigned document from ${QEMU_NSM_SOURCE}: nothing in it is signed)` : '';
  return `INVALID${what} at ${when}: ${reasons.replace(/\.$/, '')}${unsigned}.`;
}

/** What an unsigned document is and what it proves, in one sentence (no final period). */
export function unsignedSentence(u: UnsignedInfo): string {
  return (
    `a document from ${QEMU_NSM_SOURCE}, recognised by ${u.markers}; ` +
    `no signature or certificate chain exists to check, ` +
    `so its PCRs are only as trustworthy as the machine that ran QEMU`
  );
}

/** The report over the checks made so far; `extra` holds what the verification got to. */
function finish(run: Run, extra: Partial<VerifyReport> & { at: Date }): VerifyReport {
  const base = {
    chain: [] as ChainEntry[],
    development: false,
    debugMode: false,
    pcrComparisons: [] as PcrComparison[],
    hints: [] as VerifyHint[],
  };
  const r = {
    ...base,
    ...extra,
    ...(run.kind ? { kind: run.kind } : {}),
    ...(run.timeNote ? { timeNote: run.timeNote } : {}),
  };
  const failed = run.checks.failed();
  const verdict: Verdict = failed.length > 0 ? 'invalid' : r.unsigned ? 'unsigned' : 'valid';
  return { valid: verdict === 'valid', verdict, summary: summaryOf(r, failed), checks: run.checks.all, ...r };
}

/** The document, or undefined after a failed structure check. */
function decodeStep(run: Run, input: Uint8Array | string): DecodedAttestation | undefined {
  try {
    return decodeAttestation(input);
  } catch (e) {
    const message =
      e instanceof AttestationFormatError
        ? e.message
        : `the document cannot be read: ${e instanceof Error ? e.message : String(e)}`;
    run.checks.add('cose.structure', 'fail', message);
    if (run.options.at === 'document')
      run.timeNote = 'the current time: the document cannot be read, so neither can its timestamp';
    return undefined;
  }
}

/** The envelope (spec 1.2): tag, algorithm, headers and the signature's size. */
function checkEnvelope(checks: CheckList, decoded: DecodedAttestation): void {
  const { cose } = decoded;
  checks.add(
    'cose.structure',
    'pass',
    `COSE_Sign1, ${cose.tagged ? 'tagged (18)' : 'untagged'}, ` +
      `${decoded.encoding} input of ${decoded.bytes.length} bytes`,
  );
  const alg = cose.protectedHeader.get(1);
  if (alg === -35) checks.add('cose.algorithm', 'pass', 'the protected header names ES384 (-35)');
  else
    checks.add(
      'cose.algorithm',
      'fail',
      `the protected header names algorithm ${JSON.stringify(typeof alg === 'bigint' ? String(alg) : alg)}; ` +
        `Nitro documents are signed with ES384 (-35)`,
    );
  const extraLabels = [...cose.protectedHeader.keys()].filter((k) => k !== 1);
  if (cose.protectedHeader.has(2))
    checks.add('cose.headers', 'fail', 'the protected header has "crit" (2), which this verifier does not understand');
  else if (extraLabels.length > 0)
    checks.add(
      'cose.headers',
      'fail',
      `the protected header has labels other than alg (1): ${extraLabels.map(String).join(', ')}; ` +
        `Nitro documents carry only the algorithm`,
    );
  else if (cose.unprotected.size > 0)
    checks.add(
      'cose.headers',
      'warn',
      'the unprotected header is not empty (real documents have {}); its contents are not signed',
    );
  else checks.add('cose.headers', 'pass', 'protected header {1: alg} only, unprotected header empty');
  if (cose.signature.length === 96) checks.add('cose.signature-size', 'pass', '96 bytes');
  else
    checks.add(
      'cose.signature-size',
      'fail',
      `the signature is ${cose.signature.length} bytes; ` +
        `an ES384 COSE signature is the 96-byte raw r‖s (DER encoding is not allowed)`,
    );
}

/** The payload's fields (spec 2.3): errors, and the real-world deviations the verifier tolerates. */
function checkPayloadFields(checks: CheckList, decoded: DecodedAttestation): void {
  const errors = decoded.problems.filter((p) => p.severity === 'error');
  const warnings = decoded.problems.filter((p) => p.severity === 'warning');
  if (errors.length > 0) checks.add('payload.syntax', 'fail', errors.map((p) => p.message).join('; '));
  else checks.add('payload.syntax', 'pass', 'every required field is present with the right type and size');
  // Null optional fields are what every hardware document has: say so once, not per field.
  const nulls = warnings.filter((p) => / is null;/.test(p.message)).map((p) => p.field);
  const deviations = [
    ...(nulls.length > 0
      ? [
          `${nulls.join(', ')} ${nulls.length === 1 ? 'is' : 'are'} null (AWS's rules forbid null values; ` +
            `Nitro hardware writes null for absent optional fields)`,
        ]
      : []),
    ...warnings.filter((p) => !/ is null;/.test(p.message)).map((p) => p.message),
  ];
  checks.add(
    'payload.deviations',
    deviations.length > 0 ? 'warn' : 'pass',
    deviations.length > 0 ? deviations.join('; ') : 'none',
  );
}

/** The time certificates are checked at, and the document's own time whenever its timestamp can be read. */
function verificationTime(run: Run, decoded: DecodedAttestation, now: Date): { at: Date; docTime: Date | undefined } {
  const docTime = decoded.timestamp !== undefined ? timestampDate(decoded.timestamp) : undefined;
  if (run.options.at !== 'document') return { at: now, docTime };
  if (docTime) return { at: docTime, docTime };
  run.timeNote =
    decoded.timestamp !== undefined
      ? `the current time: the document's timestamp ${decoded.timestamp} ms lies beyond the range of dates, ` +
        `so it cannot be checked at its own time`
      : "the current time: the document's timestamp cannot be read, so it cannot be checked at its own time";
  return { at: now, docTime };
}

/** The certificates, cabundle (root first) then the leaf; undefined after a failed parse check. */
function parseChain(checks: CheckList, material: SigningMaterial): CertificateInfo[] | undefined {
  const ders = [...material.cabundle, material.certificate];
  const certs: CertificateInfo[] = [];
  for (const [i, der] of ders.entries()) {
    try {
      certs.push(parseCertificate(der));
    } catch (e) {
      const which = i === ders.length - 1 ? 'the signing certificate' : `cabundle[${i}]`;
      checks.add(
        'chain.parse',
        'fail',
        `${which} is not a valid certificate: ${e instanceof CertificateError ? e.message : String(e)}`,
      );
      checks.add('cose.signature', 'skip', 'the signing certificate cannot be used');
      return undefined;
    }
  }
  checks.add(
    'chain.parse',
    'pass',
    `${certs.length} certificates (${certs.length - 1} in cabundle, and the signing certificate)`,
  );
  return certs;
}

function chainEntries(crypto: AttestationCrypto, certs: readonly CertificateInfo[], at: Date): ChainEntry[] {
  return certs.map((c, i) => ({
    role: i === 0 ? 'root' : i === certs.length - 1 ? 'leaf' : 'intermediate',
    subject: nameToString(c.subject),
    issuer: nameToString(c.issuer),
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    sha256: toHex(crypto.sha256(c.der)),
    serialNumberHex: c.serialNumberHex,
    validAtTime: isValidAt(c, at),
    info: c,
  }));
}

/** The root the chain starts at, when it is trusted. */
function checkRoot(
  checks: CheckList,
  roots: readonly TrustedRoot[],
  chain: readonly ChainEntry[],
): TrustedRoot | undefined {
  const root = (chain[0] as ChainEntry).info;
  const trusted = roots.find((r) => equalBytes(r.der, root.der));
  if (trusted) checks.add('chain.root', 'pass', `cabundle[0] is ${trusted.label} (SHA-256 ${chain[0]?.sha256})`);
  else
    checks.add(
      'chain.root',
      'fail',
      `cabundle[0] (${chain[0]?.subject}, SHA-256 ${chain[0]?.sha256}) is not a trusted root; ` +
        `pass it as a root only if you trust it`,
    );
  return trusted;
}

const certLabel = (i: number, count: number) =>
  i === 0 ? 'the root' : i === count - 1 ? 'the signing certificate' : `cabundle[${i}]`;

/** Signatures and names: the root signs itself; each certificate is signed by the one before it. */
function checkChainLinks(
  run: Run,
  chain: readonly ChainEntry[],
  trusted: TrustedRoot | undefined,
  cache: LinkCache | undefined,
): void {
  const certs = chain.map((c) => c.info);
  const badSig: string[] = [];
  const badName: string[] = [];
  for (let i = 0; i < certs.length; i++) {
    const cert = certs[i] as CertificateInfo;
    const parent = certs[Math.max(0, i - 1)] as CertificateInfo;
    const label = certLabel(i, certs.length);
    if (!equalBytes(cert.issuerDer, parent.subjectDer))
      badName.push(
        `${label}'s issuer (${nameToString(cert.issuer)}) is not ` +
          `${i === 0 ? 'its own subject' : 'the subject of the certificate above it'} ` +
          `(${nameToString(parent.subject)})`,
      );
    if (cert.signatureAlgorithm !== 'ecdsa-with-SHA384') {
      badSig.push(`${label} is signed with ${cert.signatureAlgorithm}, not ecdsa-with-SHA384`);
      continue;
    }
    // A root trusted by its exact bytes is the anchor: its self-signature adds nothing to check.
    if (i === 0 && trusted) continue;
    const link = `${chain[Math.max(0, i - 1)]?.sha256}${chain[i]?.sha256}`;
    if (cache?.has(link)) continue;
    if (run.crypto.verifyCertificateSignature(cert.der, parent.der)) cache?.add(link);
    else
      badSig.push(
        `${label}'s signature does not verify with the key of ${i === 0 ? 'itself' : 'the certificate above it'}`,
      );
  }
  run.checks.add(
    'chain.signatures',
    badSig.length ? 'fail' : 'pass',
    badSig.length
      ? badSig.join('; ')
      : `the ${certs.length - 1} certificates below the root carry valid signatures by their parents`,
  );
  run.checks.add(
    'chain.names',
    badName.length ? 'fail' : 'pass',
    badName.length ? badName.join('; ') : 'each issuer equals the subject above it',
  );
}

function checkChainValidity(checks: CheckList, chain: readonly ChainEntry[], at: Date): void {
  const expired = chain.filter((c) => !c.validAtTime);
  const name = (c: ChainEntry) =>
    c.role === 'leaf'
      ? 'the signing certificate'
      : c.role === 'root'
        ? 'the root'
        : `intermediate ${c.subject.match(/CN=([^,]+)/)?.[1] ?? c.subject}`;
  checks.add(
    'chain.validity',
    expired.length ? 'fail' : 'pass',
    expired.length
      ? expired
          .map(
            (c) =>
              `${name(c)} is valid ${dateText(c.notBefore)} to ${dateText(c.notAfter)}, ` +
              `${at < c.notBefore ? 'not yet' : 'no longer'} at ${dateText(at)}`,
          )
          .join('; ')
      : `all ${chain.length} valid at ${dateText(at)}`,
  );
}

/** Basic constraints, key usage and critical extensions (RFC 5280 4.2). */
function checkConstraints(checks: CheckList, certs: readonly CertificateInfo[]): void {
  const constraints: string[] = [];
  for (let i = 0; i < certs.length; i++) {
    const c = certs[i] as CertificateInfo;
    const isLeaf = i === certs.length - 1;
    const label = certLabel(i, certs.length);
    const bc = c.basicConstraints;
    const ku = c.keyUsage?.usages ?? [];
    // RFC 5280 4.2: a critical extension the verifier does not process makes the certificate unusable.
    for (const ext of c.extensions) {
      if (ext.critical && !PROCESSED_EXTENSIONS.has(ext.oid))
        constraints.push(`${label} has a critical extension this verifier does not process (${ext.oid})`);
    }
    if (isLeaf) {
      if (bc?.ca) constraints.push(`${label} is a CA certificate`);
      if (bc?.pathLen !== undefined) constraints.push(`${label} has a path length`);
      if (!ku.includes('digitalSignature')) constraints.push(`${label}'s key usage lacks digitalSignature`);
    } else {
      if (!bc || !bc.ca) constraints.push(`${label} is not a CA (basicConstraints CA:TRUE is missing)`);
      else if (!bc.critical) constraints.push(`${label}'s basicConstraints is not critical`);
      const below = certs.length - 2 - i; // CA certificates under this one
      if (bc?.pathLen !== undefined && bc.pathLen < below)
        constraints.push(`${label} allows ${bc.pathLen} CA certificate(s) below it, but ${below} follow`);
      if (!ku.includes('keyCertSign')) constraints.push(`${label}'s key usage lacks keyCertSign`);
    }
  }
  checks.add(
    'chain.constraints',
    constraints.length ? 'fail' : 'pass',
    constraints.length
      ? constraints.join('; ')
      : 'CA certificates are CAs with room for the path and keyCertSign; ' +
          'the signing certificate is not a CA and has digitalSignature',
  );
}

/** The leaf's key, and the ES384 signature over the Sig_structure with it. */
function checkDocumentSignature(run: Run, leaf: CertificateInfo, cose: CoseEnvelope): void {
  const leafOk = leaf.publicKeyAlgorithm === 'id-ecPublicKey' && leaf.curve === 'secp384r1';
  run.checks.add(
    'leaf.key',
    leafOk ? 'pass' : 'fail',
    leafOk
      ? 'EC P-384'
      : `the signing certificate's key is ` +
          `${leaf.publicKeyAlgorithm}${leaf.curve ? ` on ${leaf.curve}` : ''}, not EC P-384`,
  );
  if (leafOk && cose.signature.length === 96) {
    const ok = verifyCoseSign1(run.crypto, cose, 'ES384', leaf.spki);
    run.checks.add(
      'cose.signature',
      ok ? 'pass' : 'fail',
      ok
        ? "ES384 signature over the protected header and payload verifies with the signing certificate's key"
        : "the signature does not verify with the signing certificate's key: " +
            'the document was altered or signed by another key',
    );
  } else {
    run.checks.add(
      'cose.signature',
      'fail',
      cose.signature.length !== 96
        ? 'a signature that is not 96 bytes cannot be an ES384 COSE signature'
        : 'the signing certificate has no P-384 key to verify with',
    );
  }
}

/** The emulator's development root, not passed as trusted: say how to trust it. */
function developmentRootHint(trusted: TrustedRoot | undefined, chain: readonly ChainEntry[]): VerifyHint[] {
  if (trusted || (/(?:^|,\s*)CN=([^,]+)/.exec(chain[0]?.subject ?? '')?.[1] ?? '') !== EMULATOR_DEVELOPMENT_ROOT_CN)
    return [];
  return [
    {
      code: 'development-root',
      message:
        "the chain starts at the Nitro Enclaves emulator's development root, which is not trusted here: " +
        'trust that root as a development root to verify it as development attestation ' +
        '(it never proves anything about AWS hardware)',
    },
  ];
}

/** A genuine document that fails only because its certificates are no longer (or not yet) valid. */
function atDocumentTimeHint(
  run: Run,
  trusted: TrustedRoot | undefined,
  chain: readonly ChainEntry[],
  docTime: Date | undefined,
): VerifyHint[] {
  const checks = run.checks.all;
  const onlyValidity =
    checks.filter((c) => c.status === 'fail').every((c) => c.code === 'chain.validity') &&
    checks.some((c) => c.code === 'chain.validity' && c.status === 'fail');
  if (
    !onlyValidity ||
    !trusted ||
    run.options.at === 'document' ||
    !docTime ||
    !chain.every((c) => isValidAt(c.info, docTime))
  )
    return [];
  return [
    {
      code: 'at-document-time',
      message:
        `it is valid at its own time (${dateText(docTime)}): attestation documents are short-lived, ` +
        `and this one fails now only because its certificates are no longer valid`,
    },
  ];
}

function checkDocumentTime(
  checks: CheckList,
  doc: AttestationDocument,
  docTime: Date | undefined,
  leaf: CertificateInfo,
): void {
  if (!docTime)
    checks.add(
      'document.time',
      'fail',
      `the document's timestamp ${doc.timestamp} ms lies beyond the range of dates (at most 8.64e15 ms), ` +
        `so when it was made cannot be known`,
    );
  else if (isValidAt(leaf, docTime))
    checks.add(
      'document.time',
      'pass',
      `${dateText(docTime)} lies in ${dateText(leaf.notBefore)} to ${dateText(leaf.notAfter)}`,
    );
  else
    checks.add(
      'document.time',
      'warn',
      `the document says it was made at ${dateText(docTime)}, outside its signing certificate's validity ` +
        `(${dateText(leaf.notBefore)} to ${dateText(leaf.notAfter)})`,
    );
}

/** The expected PCRs against the document's, when the caller gives any (`unsigned`: its values are not signed). */
function comparePcrs(run: Run, doc: AttestationDocument, unsigned = false): PcrComparison[] {
  const { expectedPcrs, expectedPcrsFrom } = run.options;
  if (!expectedPcrs || expectedPcrs.size === 0) return [];
  if (doc.kind === 'nitrotpm' && expectedPcrsFrom === 'enclave-image') {
    run.checks.add(
      'pcrs.expected',
      'fail',
      "an enclave image's PCRs do not apply to a NitroTPM (instance) attestation document: " +
        "its nitrotpm_pcrs measure an EC2 instance's boot (firmware, boot loader, kernel), not an enclave image; " +
        "compare them with the instance's reference measurements instead",
    );
    return [];
  }
  const comparisons = [...expectedPcrs]
    .sort((a, b) => a[0] - b[0])
    .map(([index, expected]): PcrComparison => {
      const value = doc.pcrs.get(index);
      const actual = value ? toHex(value) : undefined;
      return { index, expected: expected.toLowerCase(), actual, match: actual === expected.toLowerCase() };
    });
  const bad = comparisons.filter((p) => !p.match);
  const mismatch = (p: PcrComparison) =>
    p.actual === undefined
      ? `PCR${p.index} is not in the document`
      : `PCR${p.index} is ${p.actual.slice(0, 16)}…, expected ${p.expected.slice(0, 16)}…`;
  const label = unsigned ? `comparing unsigned values (as ${QEMU_NSM_SOURCE} reported them, signed by no one): ` : '';
  run.checks.add(
    'pcrs.expected',
    bad.length ? 'fail' : 'pass',
    label + (bad.length ? bad.map(mismatch).join('; ') : `${comparisons.map((p) => `PCR${p.index}`).join(', ')} match`),
  );
  return comparisons;
}

function checkNonce(checks: CheckList, doc: AttestationDocument, expected: Uint8Array): void {
  const n = doc.nonce.state === 'present' ? doc.nonce.value : undefined;
  if (!n) checks.add('nonce.expected', 'fail', 'the document carries no nonce');
  else if (equalBytes(n, expected)) checks.add('nonce.expected', 'pass', 'the nonce matches');
  else
    checks.add(
      'nonce.expected',
      'fail',
      `the nonce is ${toHex(n).slice(0, 32)}…, not the expected ${toHex(expected).slice(0, 32)}…`,
    );
}

/**
 * Debug mode zeroes the image PCRs (0, 1, 2 and 8 when present); PCR3 and PCR4 stay set. An
 * instance's NitroTPM has no debug mode: its PCRs follow the TPM's own conventions.
 */
function checkDebugMode(checks: CheckList, doc: AttestationDocument): boolean {
  const zero = (i: number) => doc.pcrs.get(i)?.every((b) => b === 0);
  const debugMode =
    doc.kind === 'enclave' && zero(0) === true && zero(1) === true && zero(2) === true && zero(8) !== false;
  if (doc.kind === 'nitrotpm')
    checks.add(
      'debug-mode',
      'skip',
      'not applicable: a NitroTPM (instance) attestation document has no enclave debug mode',
    );
  else
    checks.add(
      'debug-mode',
      debugMode ? 'warn' : 'pass',
      debugMode
        ? 'PCR0, 1, 2 and 8 are all zeros: the enclave ran in debug mode, so its PCRs say nothing about the image; ' +
            'do not grant it secrets'
        : 'the image PCRs are set',
    );
  return debugMode;
}

/**
 * Verifies a document. `cache` (optional) remembers verified certificate links across calls.
 * Returns a report for any input; throws only for a wrong `options` (e.g. a root that is not PEM).
 */
export function verifyAttestation(
  input: Uint8Array | string,
  options: VerifyOptions,
  crypto: AttestationCrypto,
  cache?: LinkCache,
): VerifyReport {
  const run: Run = { options, crypto, checks: new CheckList() };
  const roots = resolveRoots(crypto, options);
  const now = options.at instanceof Date ? options.at : new Date();
  const decoded = decodeStep(run, input);
  if (!decoded) return finish(run, { at: now });
  run.kind = decoded.kind;
  const markers = unsignedMarkersOf(decoded);
  if (markers.all) return verifyUnsigned(run, decoded, markers, now);
  checkEnvelope(run.checks, decoded);
  // Some markers but not all: not QEMU's document, and no real one either (the other checks say more).
  if (markers.any) run.checks.add('unsigned.markers', 'fail', partialMarkersReason(markers));
  checkPayloadFields(run.checks, decoded);
  const doc = decoded.document;
  const { at, docTime } = verificationTime(run, decoded, now);
  const material = doc ?? decoded.signingMaterial;
  if (!material) {
    for (const code of ['chain.root', 'chain.signatures', 'cose.signature'] as const)
      run.checks.add(code, 'skip', "the document's certificates cannot be read");
    return finish(run, { at, decoded });
  }

  const certs = parseChain(run.checks, material);
  if (!certs) return finish(run, { at, decoded, ...(doc ? { document: doc } : {}) });
  const chain = chainEntries(crypto, certs, at);
  const trusted = checkRoot(run.checks, roots, chain);
  checkChainLinks(run, chain, trusted, cache);
  checkChainValidity(run.checks, chain, at);
  checkConstraints(run.checks, certs);
  const leaf = certs[certs.length - 1] as CertificateInfo;
  checkDocumentSignature(run, leaf, decoded.cose);
  const hints = developmentRootHint(trusted, chain);
  const signedBy = {
    chain,
    ...(trusted ? { trustedRoot: { label: trusted.label, kind: trusted.kind } } : {}),
    development: trusted?.kind === 'development',
  };
  if (!doc)
    return finish(run, {
      at,
      decoded,
      ...signedBy,
      hints: [...hints, ...atDocumentTimeHint(run, trusted, chain, docTime)],
    });

  checkDocumentTime(run.checks, doc, docTime, leaf);
  const pcrComparisons = comparePcrs(run, doc);
  if (options.nonce) checkNonce(run.checks, doc, options.nonce);
  const debugMode = checkDebugMode(run.checks, doc);
  return finish(run, {
    at,
    decoded,
    document: doc,
    ...signedBy,
    debugMode,
    pcrComparisons,
    hints: [...hints, ...atDocumentTimeHint(run, trusted, chain, docTime)],
  });
}

/**
 * An unsigned document from QEMU's emulated NSM: its envelope and fields are checked, its PCRs
 * compared and its nonce checked like any document's; its signature and chain are not, since there
 * are none. The verdict is UNSIGNED when nothing fails, INVALID otherwise; never VALID.
 */
function verifyUnsigned(run: Run, decoded: DecodedAttestation, markers: UnsignedMarkers, now: Date): VerifyReport {
  const { checks } = run;
  const { cose } = decoded;
  const unsigned: UnsignedInfo = { source: 'qemu', markers: listText(markers.markers.map((m) => m.text)) };
  checks.add(
    'cose.structure',
    'pass',
    `COSE_Sign1, ${cose.tagged ? 'tagged (18)' : 'untagged'}, ` +
      `${decoded.encoding} input of ${decoded.bytes.length} bytes`,
  );
  checks.add(
    'unsigned.markers',
    'warn',
    `all four markers of an unsigned document from ${QEMU_NSM_SOURCE}: ${unsigned.markers}`,
  );
  checks.add('cose.algorithm', 'skip', 'alg -1 names no signing algorithm: QEMU does not sign its documents');
  checks.add(
    'cose.headers',
    cose.unprotected.size > 0 ? 'warn' : 'pass',
    cose.unprotected.size > 0
      ? 'the unprotected header is not empty (QEMU writes {}); its contents are not signed'
      : 'protected header {1: -1} only, unprotected header empty',
  );
  const placeholder = `the ${cose.signature.length} zero bytes are a placeholder, not a signature`;
  checks.add('cose.signature-size', 'skip', placeholder);
  checkPayloadFields(checks, decoded);
  const { at, docTime } = verificationTime(run, decoded, now);
  checks.add(
    'chain.root',
    'skip',
    'there is no certificate chain: the certificate and the cabundle entries are zero-byte placeholders',
  );
  checks.add('cose.signature', 'skip', 'there is no signature to check: the document is unsigned');
  const doc = decoded.document;
  if (!doc) return finish(run, { at, decoded, unsigned });
  checks.add(
    'document.time',
    'skip',
    docTime
      ? `the document says it was made at ${dateText(docTime)} (QEMU's host clock); no certificate bounds it`
      : `the document's timestamp ${doc.timestamp} ms lies beyond the range of dates`,
  );
  const pcrComparisons = comparePcrs(run, doc, true);
  if (run.options.nonce) checkNonce(checks, doc, run.options.nonce);
  const debugMode = checkDebugMode(checks, doc);
  return finish(run, { at, decoded, document: doc, unsigned, debugMode, pcrComparisons });
}
