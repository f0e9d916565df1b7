// The JSON nitro-cli prints for `describe-eif`, `build-enclave` and `sign-eif`, with the same keys,
// order and value formats (spec section 7). Built from what the reader and the verifier found.
import { toColonHex } from '../util/bytes';
import { opensslTime, rustDebugEscape, type CertificateInfo } from '../x509/certificate';
import { HASH_ALGORITHM_TEXT } from './defs';
import { describeMetadata, type EifMetadata } from './metadata';
import type { PcrValues } from './measure';

export interface MeasurementsJson {
  readonly HashAlgorithm: string;
  readonly PCR0: string;
  readonly PCR1: string;
  readonly PCR2: string;
  readonly PCR8?: string;
}

export interface SigningCertificateJson {
  readonly IssuerName: Record<string, string>;
  readonly Algorithm: string;
  readonly NotBefore: string;
  readonly NotAfter: string;
  readonly Signature: string;
}

export interface DescribeEifJson {
  readonly EifVersion: number;
  readonly Measurements: MeasurementsJson;
  readonly IsSigned: boolean;
  readonly SigningCertificate?: SigningCertificateJson;
  readonly CheckCRC: boolean;
  readonly SignatureCheck?: boolean;
  readonly ImageName?: string;
  readonly ImageVersion?: string;
  readonly Metadata?: Record<string, unknown>;
}

export function measurementsJson(pcrs: PcrValues, pcr8?: string): MeasurementsJson {
  return {
    HashAlgorithm: HASH_ALGORITHM_TEXT,
    PCR0: pcrs.PCR0,
    PCR1: pcrs.PCR1,
    PCR2: pcrs.PCR2,
    ...(pcr8 ? { PCR8: pcr8 } : {}),
  };
}

/**
 * describe-eif's `SigningCertificate`: issuer with OpenSSL long names (sorted), dates and signature as OpenSSL prints
 * them.
 */
export function signingCertificateJson(cert: CertificateInfo): SigningCertificateJson {
  const issuer: Record<string, string> = {};
  // Repeated attribute types collapse to the last one; keys sorted alphabetically.
  for (const a of cert.issuer) issuer[a.name] = rustDebugEscape(a.value);
  const sorted = Object.fromEntries(
    Object.keys(issuer)
      .sort()
      .map((k) => [k, issuer[k] as string]),
  );
  return {
    IssuerName: sorted,
    Algorithm: cert.signatureAlgorithm,
    NotBefore: opensslTime(cert.notBefore),
    NotAfter: opensslTime(cert.notAfter),
    Signature: toColonHex(cert.signature),
  };
}

export interface DescribeInput {
  readonly version: number;
  readonly pcrs: PcrValues;
  readonly pcr8?: string;
  readonly crcOk: boolean;
  readonly signature?: { readonly certificate: CertificateInfo; readonly payloadMatches: boolean };
  readonly metadata?: EifMetadata;
}

export function describeJson(input: DescribeInput): DescribeEifJson {
  const out: Record<string, unknown> = {
    EifVersion: input.version,
    Measurements: measurementsJson(input.pcrs, input.pcr8),
    IsSigned: input.pcr8 !== undefined,
  };
  if (input.signature) out['SigningCertificate'] = signingCertificateJson(input.signature.certificate);
  out['CheckCRC'] = input.crcOk;
  if (input.signature) out['SignatureCheck'] = input.signature.payloadMatches;
  if (input.metadata) {
    out['ImageName'] = input.metadata.ImageName;
    out['ImageVersion'] = input.metadata.ImageVersion;
    out['Metadata'] = describeMetadata(input.metadata);
  }
  return out as unknown as DescribeEifJson;
}

/** nitro-cli's JSON layout: two-space indent, one member per line, a final newline. */
export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
