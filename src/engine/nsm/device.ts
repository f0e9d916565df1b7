// The emulated NSM of one enclave (attestation spec 4 and 5.3): a bank of 32 SHA-384 PCRs,
// PCR0/1/2/8 from the image's measurements, PCR3 from the parent's IAM role and PCR4 from the
// parent instance ID, PCRs 0-15 locked from the start and 16-31 free to extend and lock. Requests
// and responses are the real CBOR protocol (protocol.ts); failures are the real error codes.
// Hashing, randomness and the signing of attestation documents come through ports.
import { utf8 } from '../util/bytes';
import { extendFromZero, type HashPort } from '../util/hashPort';
import {
  NSM_MAX_REQUEST_BYTES,
  NSM_MAX_RESPONSE_BYTES,
  NsmProtocolError,
  decodeRequest,
  encodeResponse,
  type NsmErrorCode,
  type NsmRequest,
  type NsmResponse,
} from './protocol';

/** PCRs in the bank (DescribeNSM's max_pcrs on hardware). */
export const NSM_PCR_COUNT = 32;
/** PCRs locked from the start: 0-15 (spec 4.5). */
export const NSM_BOOT_LOCKED_PCRS = 16;
/** SHA-384. */
export const NSM_PCR_LENGTH = 48;
/**
 * The largest user_data, nonce and public_key an Attestation request may carry. AWS's document
 * rules say 512 for user_data and nonce, but AWS's own hardware test asks for 1024 bytes of each
 * at once and expects success (spec 2.3, 5.3).
 */
export const NSM_MAX_ATTESTATION_FIELD_BYTES = 1024;
/** Bytes per GetRandom (nsm-lib: "up to 256"; QEMU returns 256; spec 5.2). */
export const NSM_RANDOM_BYTES = 256;
/** DescribeNSM's version. Real hardware's numbers are not public; QEMU's emulated NSM reports 1.0.0 (spec 5.2). */
export const NSM_VERSION = { major: 1, minor: 0, patch: 0 } as const;

/** What goes into an attestation document besides the time, certificates and signature (spec 2.1). */
export interface AttestationFields {
  readonly moduleId: string;
  readonly digest: 'SHA384';
  /** Every locked PCR at the time of the request, by index (spec 4.5). */
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  readonly userData: Uint8Array | null;
  readonly nonce: Uint8Array | null;
  readonly publicKey: Uint8Array | null;
}

/** Signs an attestation document (COSE_Sign1 bytes) for the given fields; the port adds the time and certificates. */
export type AttestPort = (fields: AttestationFields) => Promise<Uint8Array>;

export interface NsmImageMeasurements {
  /** 48 bytes each (raw PCR values of the EIF). */
  readonly pcr0: Uint8Array;
  readonly pcr1: Uint8Array;
  readonly pcr2: Uint8Array;
  /** Signed images only. */
  readonly pcr8?: Uint8Array;
}

export interface NsmDeviceOptions {
  /** The enclave ID, `<parent instance id>-enc<16 hex>`: the module_id. */
  readonly enclaveId: string;
  /** The parent instance ID for PCR4. Default: the part of enclaveId before `-enc`. */
  readonly parentInstanceId?: string;
  /** The IAM role ARN of the parent's instance profile, for PCR3 (zero without one). */
  readonly iamRoleArn?: string;
  readonly measurements: NsmImageMeasurements;
  /** Debug mode: PCR0, 1, 2 and 8 read as zeros (spec 4.4); PCR3 and PCR4 are still set. */
  readonly debugMode?: boolean;
  readonly hashes: HashPort;
  /** `length` random bytes from a cryptographic source. */
  readonly random: (length: number) => Uint8Array;
  readonly attest: AttestPort;
}

export class NsmDeviceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NsmDeviceError';
  }
}

/** PCRn = SHA-384(0x00×48 ‖ utf8(text)): PCR3 from a role ARN, PCR4 from an instance ID (spec 4.2). */
export function pcrOfText(hashes: HashPort, text: string): Uint8Array {
  return extendFromZero(hashes, utf8(text));
}

/** What a request does to the bank and what it answers, or the error code it fails with. */
type Outcome = NsmResponse | NsmErrorCode;

export class NsmDevice {
  readonly moduleId: string;
  private readonly pcrs: Uint8Array[];
  private readonly locked: boolean[];
  /** Requests run one at a time, like the kernel driver's mutex. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: NsmDeviceOptions) {
    if (options.enclaveId.length === 0) throw new NsmDeviceError('the enclave ID (module_id) must not be empty');
    this.moduleId = options.enclaveId;
    const parent = options.parentInstanceId ?? /^(.+)-enc[0-9a-f]+$/.exec(options.enclaveId)?.[1];
    if (!parent)
      throw new NsmDeviceError(
        `the enclave ID ${JSON.stringify(options.enclaveId)} does not name its parent instance ` +
          '(<instance id>-enc<hex>); pass parentInstanceId',
      );
    const m = options.measurements;
    for (const [name, value] of [
      ['PCR0', m.pcr0],
      ['PCR1', m.pcr1],
      ['PCR2', m.pcr2],
      ['PCR8', m.pcr8],
    ] as const) {
      if (value !== undefined && value.length !== NSM_PCR_LENGTH)
        throw new NsmDeviceError(`${name} is ${value.length} bytes; a PCR is ${NSM_PCR_LENGTH}`);
    }
    this.pcrs = Array.from({ length: NSM_PCR_COUNT }, () => new Uint8Array(NSM_PCR_LENGTH));
    if (!options.debugMode) {
      this.pcrs[0] = m.pcr0.slice();
      this.pcrs[1] = m.pcr1.slice();
      this.pcrs[2] = m.pcr2.slice();
      if (m.pcr8) this.pcrs[8] = m.pcr8.slice();
    }
    if (options.iamRoleArn !== undefined && options.iamRoleArn !== '')
      this.pcrs[3] = pcrOfText(options.hashes, options.iamRoleArn);
    this.pcrs[4] = pcrOfText(options.hashes, parent);
    this.locked = Array.from({ length: NSM_PCR_COUNT }, (_, i) => i < NSM_BOOT_LOCKED_PCRS);
  }

  /** A copy of PCR `index` (0-31). */
  pcr(index: number): Uint8Array {
    const v = this.pcrs[index];
    if (!v) throw new NsmDeviceError(`PCR${index} does not exist; the NSM has PCRs 0 to ${NSM_PCR_COUNT - 1}`);
    return v.slice();
  }

  isLocked(index: number): boolean {
    return this.locked[index] === true;
  }

  /** Locked PCR indices, ascending. */
  lockedPcrs(): number[] {
    return this.locked.flatMap((l, i) => (l ? [i] : []));
  }

  /** Answers one request (CBOR bytes) with the response's CBOR bytes; never rejects. */
  handle(request: Uint8Array): Promise<Uint8Array> {
    const run = this.queue.then(() => this.respond(request));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Answers one decoded request (for callers that already hold one); never rejects. */
  handleRequest(request: NsmRequest): Promise<NsmResponse> {
    const run = this.queue.then(() => this.answer(request));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async answer(request: NsmRequest): Promise<NsmResponse> {
    const outcome = await this.execute(request);
    return typeof outcome === 'string' ? { type: 'Error', code: outcome } : outcome;
  }

  private async respond(bytes: Uint8Array): Promise<Uint8Array> {
    let request: NsmRequest;
    try {
      if (bytes.length > NSM_MAX_REQUEST_BYTES) return encodeResponse({ type: 'Error', code: 'InputTooLarge' });
      request = decodeRequest(bytes);
    } catch (e) {
      // A request the device cannot read: too large, a variant it does not know, or bad fields.
      const code: NsmErrorCode =
        e instanceof NsmProtocolError
          ? e.code === 'too-large'
            ? 'InputTooLarge'
            : e.code === 'unknown-variant'
              ? 'InvalidOperation'
              : 'InvalidArgument'
          : 'InternalError';
      return encodeResponse({ type: 'Error', code });
    }
    const response = await this.answer(request);
    try {
      const out = encodeResponse(response);
      return out.length <= NSM_MAX_RESPONSE_BYTES ? out : encodeResponse({ type: 'Error', code: 'InternalError' });
    } catch {
      return encodeResponse({ type: 'Error', code: 'InternalError' });
    }
  }

  private async execute(request: NsmRequest): Promise<Outcome> {
    switch (request.type) {
      case 'DescribePCR': {
        const value = this.pcrs[request.index];
        if (!value) return 'InvalidIndex';
        return { type: 'DescribePCR', lock: this.isLocked(request.index), data: value.slice() };
      }
      case 'ExtendPCR': {
        const value = this.pcrs[request.index];
        if (!value) return 'InvalidIndex';
        if (this.isLocked(request.index)) return 'ReadOnlyIndex';
        const h = this.options.hashes.sha384();
        h.update(value);
        h.update(request.data);
        const next = h.digest();
        this.pcrs[request.index] = next;
        return { type: 'ExtendPCR', data: next.slice() };
      }
      case 'LockPCR':
        if (request.index >= NSM_PCR_COUNT) return 'InvalidIndex';
        if (this.isLocked(request.index)) return 'ReadOnlyIndex';
        this.locked[request.index] = true;
        return { type: 'LockPCR' };
      case 'LockPCRs':
        if (request.range > NSM_PCR_COUNT) return 'InvalidIndex';
        for (let i = 0; i < request.range; i++) this.locked[i] = true;
        return { type: 'LockPCRs' };
      case 'DescribeNSM':
        return {
          type: 'DescribeNSM',
          versionMajor: NSM_VERSION.major,
          versionMinor: NSM_VERSION.minor,
          versionPatch: NSM_VERSION.patch,
          moduleId: this.moduleId,
          maxPcrs: NSM_PCR_COUNT,
          lockedPcrs: this.lockedPcrs(),
          digest: 'SHA384',
        };
      case 'GetRandom': {
        let random: Uint8Array;
        try {
          random = this.options.random(NSM_RANDOM_BYTES);
        } catch {
          return 'InternalError';
        }
        if (!(random instanceof Uint8Array) || random.length !== NSM_RANDOM_BYTES) return 'InternalError';
        return { type: 'GetRandom', random: random.slice() };
      }
      case 'Attestation': {
        for (const field of [request.userData, request.nonce, request.publicKey]) {
          if (field !== null && field.length > NSM_MAX_ATTESTATION_FIELD_BYTES) return 'InputTooLarge';
        }
        // The document holds every PCR locked now (spec 4.5), taken before anything else can run.
        const pcrs = new Map<number, Uint8Array>();
        for (const i of this.lockedPcrs()) pcrs.set(i, (this.pcrs[i] as Uint8Array).slice());
        const fields: AttestationFields = {
          moduleId: this.moduleId,
          digest: 'SHA384',
          pcrs,
          userData: request.userData?.slice() ?? null,
          nonce: request.nonce?.slice() ?? null,
          publicKey: request.publicKey?.slice() ?? null,
        };
        try {
          const document = await this.options.attest(fields);
          return { type: 'Attestation', document };
        } catch {
          return 'InternalError';
        }
      }
    }
  }
}
