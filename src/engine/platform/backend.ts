// The interface every enclave backend implements (the embedded emulator now; nitro-cli on a real
// parent instance and QEMU later). Trees, commands and the CLI depend on this interface only. The
// JSON shapes are nitro-cli 1.5's (spec eif.md section 7).
import type { MeasurementsJson } from '../eif/describe';
import type { CancellationLike, EventLike } from './lifecycle';

/**
 * What kind of backend runs a parent's enclaves: the embedded emulator (this machine), nitro-cli on
 * a real parent instance (over SSH), or QEMU booting the image.
 */
export type BackendKind = 'emulator' | 'nitro-cli' | 'qemu';

/** A parent instance and what its enclave pool holds. */
export interface ParentInfo {
  /** `i-` + 17 lower-case hex. */
  readonly id: string;
  readonly name: string;
  readonly backend: BackendKind;
  /** The whole instance. */
  readonly vcpus: number;
  readonly memoryMiB: number;
  /** The enclave pool from the allocator configuration. */
  readonly pool: { readonly cpuIds: readonly number[]; readonly memoryMiB: number };
  /** What running enclaves take from the pool. */
  readonly used: { readonly cpuIds: readonly number[]; readonly memoryMiB: number };
  /** Path of its allocator configuration (allocator.yaml format), when it has one on disk. */
  readonly allocatorPath?: string;
  /** The EC2 instance id of a real parent instance, when known. */
  readonly instanceId?: string;
}

/** `run-enclave`'s arguments (nitro-cli flags / `--config` JSON keys). */
export interface RunEnclaveRequest {
  readonly eifPath: string;
  readonly memoryMiB: number;
  /** Exactly one of cpuCount and cpuIds. */
  readonly cpuCount?: number;
  readonly cpuIds?: readonly number[];
  /** 0 or absent: the next free CID from 16 up. */
  readonly enclaveCid?: number;
  readonly debugMode?: boolean;
  readonly enclaveName?: string;
  /** Emulator only: a command started as the enclave's application (its exit ends the enclave). */
  readonly app?: { readonly command: string; readonly args?: readonly string[]; readonly cwd?: string };
  /** Emulator only: an IAM role ARN for PCR3. */
  readonly iamRoleArn?: string;
}

/** `run-enclave`'s stdout object. */
export interface RunEnclaveJson {
  readonly EnclaveName: string;
  readonly EnclaveID: string;
  readonly ProcessID: number;
  readonly EnclaveCID: number;
  readonly NumberOfCPUs: number;
  readonly CPUIDs: readonly number[];
  readonly MemoryMiB: number;
}

export type EnclaveState = 'RUNNING' | 'TERMINATING' | 'EMPTY';

/** One element of `describe-enclaves`' array. */
export interface DescribeEnclaveJson extends RunEnclaveJson {
  readonly State: EnclaveState;
  readonly Flags: 'DEBUG_MODE' | 'NONE';
  readonly Measurements: MeasurementsJson;
  readonly ImageName?: string;
  readonly ImageVersion?: string;
  readonly Metadata?: Record<string, unknown>;
}

export interface TerminateEnclaveJson {
  readonly EnclaveName?: string;
  readonly EnclaveID: string;
  readonly Terminated: boolean;
}

/** A failure with nitro-cli's error code (E26 insufficient memory, E44 console, E58 naming, ...). */
export class BackendError extends Error {
  constructor(
    /** The number of the Exx code: 26 for E26. The CLI exits with it. */
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'BackendError';
  }
}

export interface ConsoleStream {
  /**
   * Console bytes as they come (what was already written first). Ends when the enclave's console closes or the stream
   * is disposed.
   */
  readonly chunks: AsyncIterable<Uint8Array>;
  dispose(): void;
}

/**
 * What can be done with parents and their enclaves, by parent id. A backend does it for its own
 * parents; the backend registry (engine/node/registry.ts) does it for every registered backend's.
 */
export interface EnclaveOperations {
  listParents(): Promise<readonly ParentInfo[]>;
  runEnclave(
    parentId: string,
    request: RunEnclaveRequest,
    options?: { readonly cancellation?: CancellationLike },
  ): Promise<RunEnclaveJson>;
  describeEnclaves(
    parentId: string,
    options?: { readonly metadata?: boolean },
  ): Promise<readonly DescribeEnclaveJson[]>;
  terminateEnclave(parentId: string, enclaveId: string): Promise<TerminateEnclaveJson>;
  /** Debug-mode enclaves only (BackendError 44 otherwise). */
  openConsole(parentId: string, enclaveId: string): Promise<ConsoleStream>;
  /** Sends one NSM request (its CBOR bytes) to an enclave's NSM and returns the response bytes. */
  nsm(parentId: string, enclaveId: string, request: Uint8Array): Promise<Uint8Array>;
  /** Fires when parents or enclaves change (run, terminate, exit, crash detected, configuration edited). */
  readonly onDidChange: EventLike<{ readonly parentId?: string }>;
}

/**
 * One backend. What only some backends can do (add a parent, development roots, attach an
 * application, repair state) is an optional capability: see capabilities.ts.
 */
export interface EnclaveBackend extends EnclaveOperations {
  readonly kind: BackendKind;
  /** What the Parent Instances view and messages call it: `Embedded emulator`. */
  readonly label: string;
  dispose?(): void;
}
