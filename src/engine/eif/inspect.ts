// nitro-cli's describe-eif over any byte source: walks the EIF, measures it (PCR0, 1, 2, the CRC,
// PCR8), reads the metadata and checks the signature, and says where describe-eif would fail. Pure
// engine logic over the hashing and crypto ports; src/engine/node/eifFile.ts binds it to Node.
import type { CryptoPort } from '../cose/port';
import type { ByteSource } from '../platform/byteSource';
import type { CancellationLike } from '../platform/lifecycle';
import { fromUtf8, toHex } from '../util/bytes';
import { extendFromZero, type HashPort } from '../util/hashPort';
import { firstCertificateDer } from '../util/pem';
import { CertificateError, isValidAt, parseCertificate, type CertificateInfo } from '../x509/certificate';
import { MAX_DECODED_SECTION, SectionType } from './defs';
import { describeJson, measurementsJson, type DescribeEifJson, type MeasurementsJson } from './describe';
import { EifFormatError } from './errors';
import { readLayout, type EifLayout, type EifSection } from './layout';
import { planMeasurement, runPlan, type MeasureOptions } from './measure';
import { MetadataError, describeMetadata, parseMetadata, type EifMetadata } from './metadata';
import {
  SignatureFormatError,
  checkCoseSignature,
  decodeCoseSign1,
  decodeSignatureSection,
  payloadMatchesPcr0,
  type CoseCheck,
} from './signature';

export interface SignatureInspection {
  /** The certificate file as stored in the section (PEM text). */
  readonly certificatePem?: string;
  readonly certificate?: CertificateInfo;
  readonly cose?: CoseCheck;
  /** The signed payload is the statement "PCR0 = <this image's PCR0>" (nitro-cli's SignatureCheck). */
  readonly payloadMatchesPcr0?: boolean;
  /** The certificate is within its validity window at `checkedAt`. */
  readonly certificateValid?: boolean;
  readonly checkedAt: Date;
  /** Why the section could not be read, if it could not. */
  readonly error?: string;
}

export interface EifInspection {
  readonly layout: EifLayout;
  readonly measurements: MeasurementsJson;
  readonly crc: { readonly stored: number; readonly computed: number; readonly ok: boolean };
  readonly metadata?: { readonly value?: EifMetadata; readonly text?: string; readonly error?: string };
  readonly signature?: SignatureInspection;
  /** describe-eif's output, or why nitro-cli's describe-eif would fail on this file. */
  readonly describe: { readonly json: DescribeEifJson } | { readonly error: EifFormatError };
}

export interface InspectOptions extends Pick<MeasureOptions, 'onProgress' | 'chunkSize'> {
  readonly token?: CancellationLike;
  /** The time the certificate's validity is checked at (default: now). */
  readonly at?: Date;
}

/** The host abilities an inspection uses: hashing (the PCRs, CRC and PCR8) and ECDSA (the signature). */
export interface EifPorts {
  readonly hashes: HashPort;
  readonly crypto: CryptoPort;
  /**
   * Hashes PCR2's ranges elsewhere (another thread) when they hold at least `minBytes`; the
   * inspection hashes them itself otherwise, or when this is absent.
   */
  readonly offloadPcr2?: { readonly minBytes: number; readonly hash: NonNullable<MeasureOptions['offloadPcr2']> };
}

async function readSection(source: ByteSource, s: EifSection): Promise<Uint8Array> {
  if (s.size > MAX_DECODED_SECTION) {
    throw new EifFormatError(
      'section-too-large',
      s.headerOffset,
      `the ${s.typeName} section holds ${s.size} bytes; more than ${MAX_DECODED_SECTION} is not decoded`,
    );
  }
  return source.read(s.dataOffset, s.size);
}

function certificateText(bytes: Uint8Array): string {
  try {
    return fromUtf8(bytes);
  } catch {
    throw new SignatureFormatError('the signing certificate stored in the signature section is not UTF-8 text');
  }
}

function certificateDer(pem: string): Uint8Array {
  try {
    return firstCertificateDer(pem);
  } catch (e) {
    throw new SignatureFormatError(
      `the signing certificate stored in the signature section: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/**
 * nitro-cli's describe-eif, and more: reads, measures and checks an EIF from any byte source with
 * the host's ports. Throws EifFormatError only when the file cannot be walked; every later fault
 * (metadata, signature) is reported in the result, with whether describe-eif would fail on it.
 */
export async function inspectEifSource(
  source: ByteSource,
  ports: EifPorts,
  options: InspectOptions = {},
): Promise<EifInspection> {
  const { hashes } = ports;
  const layout = await readLayout(source);
  const plan = planMeasurement(layout);
  const pcr2Bytes = plan.pcr2.reduce((n, r) => n + r.end - r.start, 0);
  const offload = ports.offloadPcr2 && pcr2Bytes >= ports.offloadPcr2.minBytes ? ports.offloadPcr2.hash : undefined;
  const measured = await runPlan(source, plan, hashes, { ...options, ...(offload ? { offloadPcr2: offload } : {}) });
  const crc = { stored: layout.header.crc, computed: measured.crc, ok: layout.header.crc === measured.crc };

  const meta = await inspectMetadata(source, layout);
  const metadata = meta.metadata;
  const checkedAt = options.at ?? new Date();
  const sig = await inspectSignatures(source, layout, ports, measured.pcr0, checkedAt);
  const { signature, pcr8 } = sig;
  const describeError = meta.describeError ?? sig.describeError;

  const measurements = measurementsJson(measured.pcrs, signature?.certificate ? pcr8 : undefined);
  const describe = describeError
    ? { error: describeError }
    : {
        json: describeJson({
          version: layout.header.version,
          pcrs: measured.pcrs,
          ...(pcr8 !== undefined ? { pcr8 } : {}),
          crcOk: crc.ok,
          ...(signature?.certificate
            ? {
                signature: {
                  certificate: signature.certificate,
                  payloadMatches: signature.payloadMatchesPcr0 === true,
                },
              }
            : {}),
          ...(metadata?.value ? { metadata: metadata.value } : {}),
        }),
      };
  return {
    layout,
    measurements,
    crc,
    ...(metadata ? { metadata } : {}),
    ...(signature ? { signature } : {}),
    describe,
  };
}

/** The last metadata section, parsed (with its text), and why describe-eif would fail on it. */
async function inspectMetadata(
  source: ByteSource,
  layout: EifLayout,
): Promise<{ metadata?: EifInspection['metadata']; describeError?: EifFormatError }> {
  const metaSection = layout.sections.filter((s) => s.type === SectionType.Metadata).at(-1);
  if (!metaSection) return {};
  try {
    const bytes = await readSection(source, metaSection);
    let text: string | undefined;
    try {
      text = fromUtf8(bytes);
    } catch {
      text = undefined;
    }
    try {
      const value = parseMetadata(bytes);
      describeMetadata(value); // nitro-cli fails describe-eif when CustomMetadata cannot be listed
      return { metadata: { value, ...(text !== undefined ? { text } : {}) } };
    } catch (e) {
      if (!(e instanceof MetadataError)) throw e;
      return {
        metadata: { error: e.message, ...(text !== undefined ? { text } : {}) },
        describeError: new EifFormatError('bad-metadata', metaSection.dataOffset, e.message),
      };
    }
  } catch (e) {
    if (!(e instanceof EifFormatError)) throw e;
    return { metadata: { error: e.message }, describeError: e };
  }
}

/**
 * Every signature section hashed into PCR8 (of its certificate), the last one checked, and the first
 * reason describe-eif would fail on them.
 */
async function inspectSignatures(
  source: ByteSource,
  layout: EifLayout,
  ports: EifPorts,
  pcr0: Uint8Array,
  checkedAt: Date,
): Promise<{ signature?: SignatureInspection; pcr8?: string; describeError?: EifFormatError }> {
  const { hashes } = ports;
  let signature: SignatureInspection | undefined;
  let describeError: EifFormatError | undefined;
  const sigSections = layout.sections.filter((s) => s.type === SectionType.Signature);
  if (sigSections.length === 0) return {};
  const h8 = hashes.sha384();
  for (const [i, s] of sigSections.entries()) {
    const last = i === sigSections.length - 1;
    try {
      const { entry, pem, der } = await readSignatureEntry(source, s);
      h8.update(der);
      if (!last) continue;
      const certificate = parseCertificate(der);
      const cose = decodeCoseSign1(entry.coseBytes);
      const check = checkCoseSignature(ports.crypto, cose, certificate);
      signature = {
        certificatePem: pem,
        certificate,
        cose: check,
        payloadMatchesPcr0: payloadMatchesPcr0(cose.payload, pcr0),
        certificateValid: isValidAt(certificate, checkedAt),
        checkedAt,
      };
      if (!check.valid)
        describeError ??= new EifFormatError(
          'signature-invalid',
          s.dataOffset,
          `the image's signature is not valid: ${check.reason}`,
        );
    } catch (e) {
      if (!(e instanceof SignatureFormatError || e instanceof CertificateError || e instanceof EifFormatError)) throw e;
      const message = e instanceof EifFormatError ? e.message : `the signature section cannot be read: ${e.message}`;
      if (last) signature = { error: message, checkedAt };
      describeError ??=
        e instanceof EifFormatError ? e : new EifFormatError('bad-signature-section', s.dataOffset, message);
    }
  }
  const pcr8 = toHex(extendFromZero(hashes, h8.digest()));
  return { ...(signature ? { signature } : {}), pcr8, ...(describeError ? { describeError } : {}) };
}

/** The first entry of a signature section: the entry, its certificate as PEM text and as DER. */
async function readSignatureEntry(source: ByteSource, s: EifSection) {
  const entries = decodeSignatureSection(await readSection(source, s));
  const entry = entries[0];
  if (!entry) throw new SignatureFormatError('the signature section holds no entries');
  const pem = certificateText(entry.certificateFile);
  const der = certificateDer(pem);
  return { entry, pem, der };
}
