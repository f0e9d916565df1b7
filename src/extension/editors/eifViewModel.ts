// EifInspection (the engine's result) → EifViewModel (plain JSON for the viewer's webview).
// Pure and free of vscode, so it is unit-tested in Node. The only thing computed here rather than
// taken from the engine is the certificate's SHA-256 fingerprint (node:crypto).
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import {
  CancelledError,
  EifFormatError,
  IMAGE_PCRS,
  MAX_SECTIONS,
  enclavePcrMeaning,
  SectionType,
  formatJson,
  nameToRfc4514,
  opensslTime,
  toColonHex,
  toHex,
  type CertificateInfo,
  type EifInspection,
  type EifLayout,
  type SignatureInspection,
} from '../../engine';
import { certificateExpiry } from '../../shared/certificateExpiry';
import { colonPairs } from '../../shared/text';
import type {
  EifCertificateView,
  EifDescribeView,
  EifExpiryWarning,
  EifMeasurementsView,
  EifMetadataView,
  EifSectionView,
  EifSignatureView,
  EifViewError,
  EifViewModel,
} from '../../shared/eifViewer';
import { certificateExpiryMessage } from '../certificateExpiryWords';
import { l10n } from '../l10n';

export const crcText = (crc: number): string => `0x${(crc >>> 0).toString(16).padStart(8, '0')}`;

/**
 * The engine appends "(at byte N; rule: code)" to EifFormatError messages; the view shows those apart
 * (in the page's own words), so the suffix is matched here as the engine writes it, never shown.
 */
function bareMessage(e: EifFormatError): string {
  const suffix = ` (at byte ${e.offset}; rule: ${e.code})`;
  return e.message.endsWith(suffix) ? e.message.slice(0, -suffix.length) : e.message;
}

function sectionRows(layout: EifLayout): EifSectionView[] {
  const { header, sections } = layout;
  const rows: EifSectionView[] = [];
  let ramdisks = 0;
  for (let i = 0; i < MAX_SECTIONS; i++) {
    const s = sections[i];
    const tableOffset = header.sectionOffsets[i] ?? 0n;
    const tableSize = header.sectionSizes[i] ?? 0n;
    if (!s && tableOffset === 0n && tableSize === 0n) continue;
    let measuredIn: string[] = [];
    if (s) {
      if (s.type === SectionType.Kernel || s.type === SectionType.Cmdline) measuredIn = ['PCR0', 'PCR1'];
      else if (s.type === SectionType.Ramdisk) measuredIn = ramdisks++ === 0 ? ['PCR0', 'PCR1'] : ['PCR0', 'PCR2'];
      else if (s.type === SectionType.Signature) measuredIn = ['PCR8'];
    }
    rows.push({
      index: i,
      ...(s
        ? {
            found: {
              type: s.type,
              typeName: s.typeName,
              flags: s.flags,
              headerOffset: s.headerOffset,
              dataOffset: s.dataOffset,
              size: s.size,
              measuredIn,
            },
          }
        : {}),
      tableOffset: tableOffset.toString(),
      tableSize: tableSize.toString(),
      offsetMatches: s !== undefined && tableOffset === BigInt(s.headerOffset),
      sizeMatches: s !== undefined && tableSize === BigInt(s.size),
    });
  }
  return rows;
}

function measurementsView(inspection: EifInspection): EifMeasurementsView {
  const m = inspection.measurements;
  const pcrs = IMAGE_PCRS.filter((name) => m[name] !== undefined).map((name) => ({
    name,
    meaning: enclavePcrMeaning(name),
    value: m[name] as string,
  }));
  return { hashAlgorithm: m.HashAlgorithm, pcrs, json: formatJson(m) };
}

function metadataView(metadata: NonNullable<EifInspection['metadata']>): EifMetadataView {
  const value = metadata.value;
  if (!value) {
    return {
      ok: false,
      error: metadata.error ?? l10n.t('the metadata section could not be read'),
      ...(metadata.text !== undefined ? { text: metadata.text } : {}),
    };
  }
  return {
    ok: true,
    imageName: value.ImageName,
    imageVersion: value.ImageVersion,
    build: Object.entries(value.BuildMetadata).map(([key, v]) => ({ key, value: String(v) })),
    dockerInfo: JSON.stringify(value.DockerInfo ?? null, null, 2),
    customMetadata: JSON.stringify(value.CustomMetadata ?? null, null, 2),
  };
}

export function certificateView(cert: CertificateInfo): EifCertificateView {
  return {
    subject: nameToRfc4514(cert.subject),
    issuer: nameToRfc4514(cert.issuer),
    serial: colonPairs(cert.serialNumberHex),
    notBefore: { openssl: opensslTime(cert.notBefore), iso: cert.notBefore.toISOString() },
    notAfter: { openssl: opensslTime(cert.notAfter), iso: cert.notAfter.toISOString() },
    signatureAlgorithm: cert.signatureAlgorithm,
    keyAlgorithm: cert.publicKeyAlgorithm,
    ...(cert.curve !== undefined ? { curve: cert.curve } : {}),
    sha256Fingerprint: toColonHex(createHash('sha256').update(cert.der).digest()),
  };
}

/** The expiry warning of a signing certificate at `at` (expired, not yet valid, or within 30 days). */
function expiryOf(cert: CertificateInfo, at: Date): { expiryWarning?: EifExpiryWarning } {
  const expiry = certificateExpiry(cert.notBefore.getTime(), cert.notAfter.getTime(), at.getTime());
  if (!expiry) return {};
  return {
    expiryWarning: {
      state: expiry.state,
      ...(expiry.state === 'expires-soon' ? { days: expiry.days } : {}),
      message: certificateExpiryMessage(expiry),
    },
  };
}

function signatureView(sig: SignatureInspection): EifSignatureView {
  const checkedAt = sig.checkedAt.toISOString();
  if (sig.error !== undefined || !sig.certificate || !sig.cose) {
    return { ok: false, error: sig.error ?? l10n.t('the signature section could not be read'), checkedAt };
  }
  return {
    ok: true,
    certificate: certificateView(sig.certificate),
    ...(sig.cose.algorithm !== undefined ? { coseAlgorithm: sig.cose.algorithm } : {}),
    coseValid: sig.cose.valid,
    ...(sig.cose.reason !== undefined ? { coseReason: sig.cose.reason } : {}),
    payloadMatchesPcr0: sig.payloadMatchesPcr0 === true,
    certificateValidNow: sig.certificateValid === true,
    ...expiryOf(sig.certificate, sig.checkedAt),
    checkedAt,
  };
}

function describeView(describe: EifInspection['describe']): EifDescribeView {
  if ('json' in describe) return { ok: true, json: formatJson(describe.json) };
  const e = describe.error;
  return { ok: false, message: bareMessage(e), code: e.code, offset: e.offset };
}

/** The view model of an inspected file. `inspectedAt` defaults to the signature check's time, else now. */
export function toEifViewModel(inspection: EifInspection, file: { path: string; inspectedAt?: Date }): EifViewModel {
  const { layout } = inspection;
  const h = layout.header;
  const inspectedAt = file.inspectedAt ?? inspection.signature?.checkedAt ?? new Date();
  return {
    file: { name: path.basename(file.path), path: file.path, size: layout.fileSize },
    header: {
      magic: toHex(h.magic).replace(/(..)(?=.)/g, '$1 '),
      version: h.version,
      flags: `0x${h.flags.toString(16).padStart(4, '0')}`,
      architecture: h.arch,
      defaultMem: h.defaultMem.toString(),
      defaultCpus: h.defaultCpus.toString(),
      numSections: h.numSections,
    },
    crc: { stored: crcText(inspection.crc.stored), computed: crcText(inspection.crc.computed), ok: inspection.crc.ok },
    sections: sectionRows(layout),
    trailingBytes: layout.trailingBytes,
    problems: layout.problems.map((p) => ({
      severity: p.severity,
      code: p.code,
      offset: p.offset,
      message: p.message,
    })),
    measurements: measurementsView(inspection),
    ...(inspection.metadata ? { metadata: metadataView(inspection.metadata) } : {}),
    ...(inspection.signature ? { signature: signatureView(inspection.signature) } : {}),
    describe: describeView(inspection.describe),
    inspectedAt: inspectedAt.toISOString(),
  };
}

/** Why a file could not be shown at all, in words for the viewer. */
export function toViewError(filePath: string, e: unknown): EifViewError {
  const fileName = path.basename(filePath);
  if (e instanceof EifFormatError)
    return { fileName, kind: 'format', message: bareMessage(e), code: e.code, offset: e.offset };
  if (e instanceof CancelledError)
    return {
      fileName,
      kind: 'cancelled',
      message: l10n.t('Measuring the image was cancelled. Reload to measure it again.'),
    };
  const unreadable = (message: string): EifViewError => ({ fileName, kind: 'unreadable', message });
  // Node's error codes, and VS Code's (FileSystemError) for files stat-ed through the workspace.
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'FileNotFound')
    return unreadable(l10n.t('The file does not exist (it was deleted or moved).'));
  if (code === 'EACCES' || code === 'EPERM' || code === 'NoPermissions')
    return unreadable(l10n.t('The file cannot be read: permission denied.'));
  if (code === 'EISDIR' || code === 'FileIsADirectory')
    return unreadable(l10n.t('This is a folder, not an enclave image file.'));
  return unreadable(l10n.t('The file could not be read: {0}', e instanceof Error ? e.message : String(e)));
}
