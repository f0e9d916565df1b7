// Plain-JSON forms of decoded documents and verification reports (binary fields as lower-case hex),
// for `nitro-dev decode-attestation` / `verify-attestation --json` and anything else that prints.
import { toHex } from '../util/bytes';
import {
  ATTESTATION_KIND_LABELS,
  PCRS_KEY,
  timestampDate,
  type DecodedAttestation,
  type OptionalBytes,
} from './document';
import type { VerifyReport } from './verify';

const optional = (v: OptionalBytes): string | null | undefined =>
  v.state === 'present' ? toHex(v.value) : v.state === 'null' ? null : undefined;

const plain = (v: unknown): unknown => {
  if (v instanceof Uint8Array) return toHex(v);
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  return v;
};

export function decodedToJson(d: DecodedAttestation): Record<string, unknown> {
  const doc = d.document;
  const time = doc ? timestampDate(doc.timestamp) : undefined;
  return {
    // `enclave` or `nitrotpm`; null when the payload does not say (it has both PCR maps, or is unreadable).
    kind: d.kind ?? null,
    kind_label: d.kind ? ATTESTATION_KIND_LABELS[d.kind] : null,
    encoding: d.encoding,
    size: d.bytes.length,
    tagged: d.cose.tagged,
    protected: { hex: toHex(d.cose.protectedBytes), header: plain(d.cose.protectedHeader) },
    unprotected: plain(d.cose.unprotected),
    signature: toHex(d.cose.signature),
    payload_size: d.cose.payload.length,
    document: doc
      ? {
          module_id: doc.moduleId,
          digest: doc.digest,
          timestamp: doc.timestamp,
          // null when the timestamp lies beyond the range of dates (the problems say so).
          timestamp_iso: time ? time.toISOString() : null,
          ...(time ? {} : { timestamp_out_of_range: true }),
          // Under the key the document uses: pcrs (enclave) or nitrotpm_pcrs (NitroTPM).
          [PCRS_KEY[doc.kind]]: Object.fromEntries([...doc.pcrs].map(([k, v]) => [String(k), toHex(v)])),
          certificate: toHex(doc.certificate),
          cabundle: doc.cabundle.map(toHex),
          public_key: optional(doc.publicKey),
          user_data: optional(doc.userData),
          nonce: optional(doc.nonce),
          ...(doc.unknownKeys.length > 0 ? { unknown_keys: doc.unknownKeys } : {}),
          indefinite_length_map: doc.indefiniteLengthMap,
        }
      : null,
    problems: d.problems,
  };
}

export function reportToJson(r: VerifyReport): Record<string, unknown> {
  return {
    valid: r.valid,
    verdict: r.verdict,
    ...(r.unsigned ? { unsigned: r.unsigned } : {}),
    kind: r.kind ?? null,
    kind_label: r.kind ? ATTESTATION_KIND_LABELS[r.kind] : null,
    summary: r.summary,
    hints: r.hints,
    at: r.at.toISOString(),
    ...(r.timeNote ? { timeNote: r.timeNote } : {}),
    trustedRoot: r.trustedRoot ?? null,
    development: r.development,
    debugMode: r.debugMode,
    checks: r.checks,
    pcrComparisons: r.pcrComparisons,
    chain: r.chain.map((c) => ({
      role: c.role,
      subject: c.subject,
      issuer: c.issuer,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
      serialNumber: c.serialNumberHex,
      sha256: c.sha256,
      validAtTime: c.validAtTime,
    })),
    document: r.decoded ? decodedToJson(r.decoded).document : null,
  };
}
