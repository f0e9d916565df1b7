// The one place the extension touches the embedded emulator's concrete classes (the backend, its
// allocator rules, the NSM protocol and the development CA). Everything else in the extension
// sees the EnclaveBackend interface and the small EmulatorHost below.
import { THREADS_PER_CORE, parseAllocatorYaml, validateAllocator } from '../../engine/emulator/allocator';
import {
  checkCid,
  defaultEnclaveName,
  formatCpuList,
  memoryFieldProblem,
  memoryRequirement,
  planRunEnclave,
  uniqueEnclaveName,
} from '../../engine/emulator/rules';
import { exportDevelopmentRoot } from '../../engine/node/devAttestation';
import { EmulatorBackend } from '../../engine/node/emulator/backend';
import { DEFAULT_PARENT, addParent, emulatorStateDir, liveRecords } from '../../engine/node/emulator/state';
import { NSM_MAX_ATTESTATION_FIELD_BYTES } from '../../engine/nsm/device';
import { decodeResponse, encodeRequest } from '../../engine/nsm/protocol';
import { BackendError, type DescribeEnclaveJson, type EnclaveBackend, type ParentInfo, type RunEnclaveRequest } from '../../engine/platform/backend';

/** One problem of an allocator configuration, 1-based positions as editors count them. */
export interface AllocatorProblem {
  readonly message: string;
  readonly line: number;
  readonly column: number;
  readonly endLine?: number;
  readonly endColumn?: number;
  readonly severity: 'error' | 'warning';
}

/** The Attestation request an enclave's application would send its NSM. */
export interface AttestationRequestInput {
  readonly nonce?: Uint8Array;
  readonly userData?: Uint8Array;
  readonly publicKey?: Uint8Array;
}

/** A root to trust besides the pinned AWS root. */
export interface DevelopmentRoot {
  readonly pem: string;
  readonly label: string;
  readonly kind: 'development';
}

/** The platform's rules a run request must meet, checked as each field is typed (the engine checks them again). */
export interface RunRules {
  /** The smallest memory (MiB) an enclave of an image of `eifBytes` bytes may have. */
  minimumMemoryMiB(eifBytes: number): number;
  /** Why `memoryMiB` cannot be given to an enclave of this image on this parent, or undefined. */
  checkMemory(parent: ParentInfo, memoryMiB: number, eifBytes: number): string | undefined;
  /** The memory rule for an image, both parts with their numbers: `at least 64 MiB: the larger of ...`. */
  memoryRule(eifBytes: number): string;
  /** Why `cpuCount` CPUs cannot be taken from this parent's pool, or undefined. */
  checkCpuCount(parent: ParentInfo, cpuCount: number): string | undefined;
  /** Why `cid` cannot be a new enclave's CID (0: the next free one) when `taken` are used, or undefined. */
  checkCid(cid: number, taken: readonly number[]): string | undefined;
  /** The name nitro-cli gives an enclave of this image when none is given. */
  defaultName(eifPath: string): string;
  /** The name an enclave asked to be `name` gets when `taken` names run already. */
  finalName(name: string, taken: readonly string[]): string;
  /** The engine's whole check of a request (all rules, in nitro-cli's order), as a dry run; the problem with its error code, or undefined. */
  checkRequest(parent: ParentInfo, request: RunEnclaveRequest, eifBytes: number, running: readonly DescribeEnclaveJson[]): string | undefined;
}

export interface EmulatorHost {
  readonly backend: EnclaveBackend;
  /** Where the emulator keeps its parents, enclaves and development CA. */
  readonly stateDir: string;
  readonly rules: RunRules;
  /** The engine's validation of an allocator configuration's text: against a parent's instance when known, else its syntax and keys only. */
  checkAllocator(text: string, parent?: ParentInfo): readonly AllocatorProblem[];
  /** Creates a new emulated parent instance. */
  addParent(name: string): Promise<ParentInfo>;
  /** The CBOR bytes of an NSM Attestation request. */
  attestationRequest(input: AttestationRequestInput): Uint8Array;
  /** The attestation document in an NSM response (throws with the NSM's error otherwise). */
  attestationDocument(response: Uint8Array): Uint8Array;
  /** The development root that signs the emulator's attestation documents. */
  developmentRoots(): Promise<readonly DevelopmentRoot[]>;
  /** The image file an enclave was started from, when the emulator knows it. */
  eifPathOf(parentId: string, enclaveId: string): Promise<string | undefined>;
  dispose(): void;
}

export interface EmulatorHostOptions {
  /** The bundle per-enclave host processes run (dist/enclave-host.js). */
  readonly cliPath: string;
  /** Default: NITRO_DEV_STATE_DIR, else the emulator's default state folder. */
  readonly stateDir?: string;
  readonly log: (message: string) => void;
}

/** Run Enclave's field checks, with the engine's constants and rules (src/engine/emulator/rules.ts). */
export const runRules: RunRules = {
  minimumMemoryMiB: (eifBytes) => memoryRequirement(eifBytes).minimumMiB,
  memoryRule: (eifBytes) => memoryRequirement(eifBytes).text,
  checkMemory(parent, memoryMiB, eifBytes) {
    const problem = memoryFieldProblem(memoryMiB, eifBytes, parent.pool.memoryMiB, parent.used.memoryMiB);
    return problem && `[E${String(problem.code).padStart(2, '0')}] ${problem.message}`;
  },
  checkCpuCount(parent, cpuCount) {
    if (cpuCount < 1) return '[E29] An enclave needs at least one whole core.';
    if (cpuCount > parent.pool.cpuIds.length) return `[E22] The enclave pool has ${parent.pool.cpuIds.length} CPUs (${formatCpuList(parent.pool.cpuIds) || 'none'}).`;
    const used = new Set(parent.used.cpuIds);
    const free = parent.pool.cpuIds.filter((c) => !used.has(c));
    if (cpuCount > free.length) return `[E32] Only ${free.length} of the pool's ${parent.pool.cpuIds.length} CPUs are free (the others run enclaves).`;
    if (cpuCount % THREADS_PER_CORE !== 0) return `[E29] Enclaves get whole cores: ask for a multiple of ${THREADS_PER_CORE} CPUs (both hyper-threads of each core).`;
    return undefined;
  },
  checkCid(cid, taken) {
    try {
      checkCid(cid);
    } catch (e) {
      return e instanceof BackendError ? `[E${e.code}] ${e.message}` : String(e);
    }
    if (cid !== 0 && taken.includes(cid)) return `[E03] CID ${cid} is used by a running enclave.`;
    return undefined;
  },
  defaultName: (eifPath) => defaultEnclaveName(eifPath),
  finalName: (name, taken) => uniqueEnclaveName(name, new Set(taken)),
  checkRequest(parent, request, eifBytes, running) {
    try {
      planRunEnclave({
        parentId: parent.id,
        topology: { vcpus: parent.vcpus, memoryMiB: parent.memoryMiB },
        pool: parent.pool,
        request,
        eifFileSize: eifBytes,
        running: running
          .filter((e) => e.State !== 'EMPTY')
          .map((e) => ({ enclaveId: e.EnclaveID, name: e.EnclaveName, cid: e.EnclaveCID, cpuIds: e.CPUIDs, memoryMiB: e.MemoryMiB })),
        random8: new Uint8Array(8),
      });
      return undefined;
    } catch (e) {
      return e instanceof BackendError ? `[E${e.code}] ${e.message}` : e instanceof Error ? e.message : String(e);
    }
  },
};

/** The largest nonce, user data or public key an NSM Attestation request may carry. */
export const MAX_ATTESTATION_FIELD_BYTES = NSM_MAX_ATTESTATION_FIELD_BYTES;

/** The CBOR bytes of an NSM Attestation request. */
export function attestationRequestBytes(input: AttestationRequestInput): Uint8Array {
  return encodeRequest({ type: 'Attestation', userData: input.userData ?? null, nonce: input.nonce ?? null, publicKey: input.publicKey ?? null });
}

/** The document of an NSM Attestation response; throws with the NSM's error code otherwise. */
export function attestationDocumentOf(response: Uint8Array): Uint8Array {
  const decoded = decodeResponse(response);
  if (decoded.type === 'Attestation') return decoded.document;
  if (decoded.type === 'Error') throw new Error(`the NSM answered ${decoded.code}`);
  throw new Error(`the NSM answered ${decoded.type} to an Attestation request`);
}

/** The engine's allocator diagnostics, in the extension's shape. */
export function checkAllocatorText(text: string, parent?: ParentInfo): readonly AllocatorProblem[] {
  const result = parent ? validateAllocator(text, { vcpus: parent.vcpus, memoryMiB: parent.memoryMiB }) : parseAllocatorYaml(text);
  return result.diagnostics.map((d) => ({
    message: `[E${String(d.code).padStart(2, '0')}] ${d.message}`,
    line: d.line,
    column: d.column,
    endLine: d.endLine,
    endColumn: d.endColumn,
    severity: d.severity,
  }));
}

/** Starts the embedded emulator's backend. Throws when it cannot (the Parent Instances view then says why). */
export function createEmulatorHost(options: EmulatorHostOptions): EmulatorHost {
  const stateDir = options.stateDir ?? emulatorStateDir(process.env);
  const backend = new EmulatorBackend({ stateDir, hostScript: options.cliPath });
  return {
    backend,
    stateDir,
    rules: runRules,
    checkAllocator: checkAllocatorText,
    async addParent(name) {
      const record = await addParent(stateDir, { name, vcpus: DEFAULT_PARENT.vcpus, memoryMiB: DEFAULT_PARENT.memoryMiB });
      const parent = (await backend.listParents()).find((p) => p.id === record.id);
      if (!parent) throw new Error(`the new parent ${record.id} is not listed`);
      return parent;
    },
    attestationRequest: attestationRequestBytes,
    attestationDocument: attestationDocumentOf,
    async developmentRoots() {
      return [{ pem: await exportDevelopmentRoot(stateDir), label: `the emulator's development root (${stateDir})`, kind: 'development' as const }];
    },
    async eifPathOf(parentId, enclaveId) {
      return liveRecords(stateDir).find((r) => r.parentId === parentId && r.enclaveId === enclaveId)?.eifPath;
    },
    dispose: () => backend.dispose(),
  };
}
