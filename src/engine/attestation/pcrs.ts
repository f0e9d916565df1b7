// The PCRs of an attestation document in words, and the PCRs an enclave image makes a document
// carry. The enclave's PCR meanings are the EIF's (eif/defs.ts); a NitroTPM's are listed here.
import { IMAGE_PCRS, enclavePcrIsDefined, enclavePcrMeaning } from '../eif/defs';
import type { MeasurementsJson } from '../eif/describe';
import type { AttestationKind } from './document';

/** What each PCR of an instance's NitroTPM measures (AWS EC2 User Guide, "NitroTPM Attestation Document contents"). */
const NITROTPM_PCRS: Readonly<Record<number, string>> = {
  0: 'Core system firmware code',
  1: 'Core system firmware data',
  2: 'Extended or pluggable code',
  3: 'Extended or pluggable firmware data',
  4: 'Boot manager code',
  5: 'Boot manager configuration and GPT',
  6: 'Host platform manufacturer',
  7: 'Secure Boot policy',
  16: 'Debug',
  23: 'Application support',
};

/** What PCR `index` of a document measures: of an enclave (spec section 4.1), or of an instance's NitroTPM. */
export function pcrMeaning(index: number, kind: AttestationKind = 'enclave'): string {
  if (kind === 'enclave') return enclavePcrMeaning(index);
  return NITROTPM_PCRS[index] ?? (nitroTpmStaticOs(index) ? 'Static operating system' : 'Reserved');
}

const nitroTpmStaticOs = (index: number) => index >= 8 && index <= 15;

/**
 * Whether PCR `index` of a document measures nothing of its own: reserved, or application-defined
 * (pcrMeaning says which in words; this says it as data, for pages whose words are translated).
 */
export function pcrIsReserved(index: number, kind: AttestationKind = 'enclave'): boolean {
  if (kind === 'enclave') return !enclavePcrIsDefined(index);
  return NITROTPM_PCRS[index] === undefined && !nitroTpmStaticOs(index);
}

/** The PCRs of an image that a document is compared with: 0, 1, 2, and 8 when the image is signed. */
export function expectedPcrsOf(
  measurements: Pick<MeasurementsJson, 'PCR0' | 'PCR1' | 'PCR2' | 'PCR8'>,
): Map<number, string> {
  const pcrs = new Map<number, string>();
  for (const name of IMAGE_PCRS) {
    const value = measurements[name];
    if (value !== undefined) pcrs.set(Number(name.slice(3)), value);
  }
  return pcrs;
}
