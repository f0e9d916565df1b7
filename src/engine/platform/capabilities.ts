// Optional abilities of an enclave backend. Every backend implements EnclaveBackend (list parents,
// run, describe, terminate, console, NSM); what only some backends can do is one small interface
// here, found with its type guard. Faces test for the ability, never for a backend's kind: the CLI
// calls the guard, the extension also turns it into a context key for menus (package.json `when`).
import type { EnclaveBackend, ParentInfo, TerminateEnclaveJson } from './backend';

/** Creates parent instances on request (the emulator: a new emulated parent on this machine). */
export interface ParentCreation {
  addParent(name: string): Promise<ParentInfo>;
}

/**
 * Answers its enclaves' NSM requests from the parent side (EnclaveBackend.nsm): the emulator, whose
 * NSM is its own. A real enclave's NSM (nitro-cli) and QEMU's (a device inside the guest) answer only
 * the application inside the enclave, so their nsm() fails and no face offers it.
 */
export interface ParentSideNsm {
  readonly answersNsmFromParent: true;
}

/** A root certificate to trust besides the pinned AWS root. */
export interface DevelopmentRoot {
  readonly pem: string;
  /** Says where it comes from, for the viewer: `the emulator's development root (/path)`. */
  readonly label: string;
  readonly kind: 'development';
}

/** Signs its enclaves' attestation documents with its own development roots (the emulator's local CA). */
export interface DevelopmentRoots {
  developmentRoots(): Promise<readonly DevelopmentRoot[]>;
}

/**
 * Starts a command on this machine as an enclave's application (RunEnclaveRequest.app) and knows
 * which image file each enclave runs, so its PCRs can be compared with the file.
 */
export interface ApplicationAttachment {
  readonly attachesApplications: true;
  /** The image file an enclave was started from, when known. */
  eifPathOf(parentId: string, enclaveId: string): Promise<string | undefined>;
}

/** What a state repair did. */
export interface StateRepairReport {
  readonly stateDir: string;
  /** Damaged files and where they are kept now. */
  readonly movedAside: readonly { readonly file: string; readonly keptAs: string; readonly problem: string }[];
  /** Parents that came back with the default size (the rest of their record was damaged). */
  readonly recoveredParents: readonly string[];
  /** Enclave records rewritten from their running enclave. */
  readonly recoveredEnclaves: readonly string[];
}

/** Keeps its parents and enclaves in local state files, which can be damaged and repaired. */
export interface StateRepair {
  /** The folder of the state files. */
  readonly stateDir: string;
  /** The size a recovered parent gets. */
  readonly recoveredParentSize: { readonly vcpus: number; readonly memoryMiB: number };
  /** Moves damaged state files aside and rebuilds what it can from the running enclaves. */
  repairState(): Promise<StateRepairReport>;
  /** Is this error one of a damaged state file (so terminateAllHosts is the way out)? */
  isStateDamage(e: unknown): boolean;
  /** Stops every running enclave (of one parent) found without reading the state files. */
  terminateAllHosts(parentId?: string): Promise<TerminateEnclaveJson[]>;
}

/** A vsock listener on one of a parent's emulated vsock endpoints. */
export interface VsockPortInUse {
  readonly cid: number;
  readonly port: number;
  /** `parent` (CID 3), else the id of the enclave with that CID. */
  readonly owner: string;
}

/**
 * Carries its parents' vsock over local sockets on this machine (see engine/node/vsock/endpoints.ts):
 * programs here can listen and connect as the parent, and the tree can show the ports in use.
 */
export interface EmulatedVsock {
  /** The local folder of a parent's vsock endpoints (made when missing). */
  vsockFolder(parentId: string): string;
  /** The live listeners on a parent's vsock, the parent's and its enclaves'. */
  vsockPortsInUse(parentId: string): Promise<readonly VsockPortInUse[]>;
}

function has(backend: EnclaveBackend, member: string, type: 'function' | 'boolean' | 'string' = 'function'): boolean {
  return typeof (backend as unknown as Record<string, unknown>)[member] === type;
}

export function canAddParents(backend: EnclaveBackend): backend is EnclaveBackend & ParentCreation {
  return has(backend, 'addParent');
}

export function answersNsmFromParent(backend: EnclaveBackend): backend is EnclaveBackend & ParentSideNsm {
  return (backend as Partial<ParentSideNsm>).answersNsmFromParent === true;
}

export function hasDevelopmentRoots(backend: EnclaveBackend): backend is EnclaveBackend & DevelopmentRoots {
  return has(backend, 'developmentRoots');
}

export function attachesApplications(backend: EnclaveBackend): backend is EnclaveBackend & ApplicationAttachment {
  return (backend as Partial<ApplicationAttachment>).attachesApplications === true && has(backend, 'eifPathOf');
}

export function canRepairState(backend: EnclaveBackend): backend is EnclaveBackend & StateRepair {
  return (
    has(backend, 'repairState') &&
    has(backend, 'terminateAllHosts') &&
    has(backend, 'isStateDamage') &&
    has(backend, 'stateDir', 'string')
  );
}

export function hasEmulatedVsock(backend: EnclaveBackend): backend is EnclaveBackend & EmulatedVsock {
  return has(backend, 'vsockFolder') && has(backend, 'vsockPortsInUse');
}

/** Every capability by name, for context keys and tests. */
export const CAPABILITIES = {
  addParents: canAddParents,
  developmentRoots: hasDevelopmentRoots,
  applications: attachesApplications,
  stateRepair: canRepairState,
  emulatedVsock: hasEmulatedVsock,
  parentNsm: answersNsmFromParent,
} as const;

export type CapabilityName = keyof typeof CAPABILITIES;
