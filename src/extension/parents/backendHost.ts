// What the extension does with any backend, over the engine's rules: Run Enclave's field checks
// (nitro-cli's rules from engine/emulator/rules.ts), NSM request encoding, allocator diagnostics.
// Backends themselves come from the backend registry (engine/node/registry.ts); what only some
// can do (add parents, development roots, applications) is a capability (platform/capabilities.ts).
import { parseAllocatorYaml, validateAllocator } from '../../engine';
import {
  cidFieldProblem,
  cpuCountFieldProblem,
  defaultEnclaveName,
  memoryFieldProblem,
  memoryRequirement,
  problemText,
  runRequestProblem,
  uniqueEnclaveName,
} from '../../engine';
import { NSM_MAX_ATTESTATION_FIELD_BYTES } from '../../engine';
import { decodeNsmResponse as decodeResponse, encodeNsmRequest as encodeRequest } from '../../engine';
import type { DescribeEnclaveJson, ParentInfo, RunEnclaveRequest } from '../../engine';
import type { BackendRegistry } from '../../engine/node';
import { l10n } from '../l10n';

/**
 * Every parent the registered backends can list now. A backend that cannot list its parents (an
 * SSH parent that does not answer) leaves them out instead of failing the others: the Parent
 * Instances view says why it is missing.
 */
export async function reachableParents(backends: Pick<BackendRegistry, 'listByBackend'>): Promise<ParentInfo[]> {
  return (await backends.listByBackend()).flatMap((l) => l.parents ?? []);
}

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
  /**
   * The engine's whole check of a request (all rules, in nitro-cli's order), as a dry run; the
   * problem with its error code, or undefined.
   */
  checkRequest(
    parent: ParentInfo,
    request: RunEnclaveRequest,
    eifBytes: number,
    running: readonly DescribeEnclaveJson[],
  ): string | undefined;
}

/** Run Enclave's field checks, with the engine's constants and rules (src/engine/emulator/rules.ts). */
export const runRules: RunRules = {
  minimumMemoryMiB: (eifBytes) => memoryRequirement(eifBytes).minimumMiB,
  memoryRule: (eifBytes) => memoryRequirement(eifBytes).text,
  checkMemory(parent, memoryMiB, eifBytes) {
    const problem = memoryFieldProblem(memoryMiB, eifBytes, parent.pool.memoryMiB, parent.used.memoryMiB);
    return problem && problemText(problem);
  },
  checkCpuCount(parent, cpuCount) {
    const problem = cpuCountFieldProblem(cpuCount, parent, parent.pool.cpuIds, parent.used.cpuIds);
    return problem && problemText(problem);
  },
  checkCid(cid, taken) {
    const problem = cidFieldProblem(cid, taken);
    return problem && problemText(problem);
  },
  defaultName: (eifPath) => defaultEnclaveName(eifPath),
  finalName: (name, taken) => uniqueEnclaveName(name, new Set(taken)),
  checkRequest(parent, request, eifBytes, running) {
    const problem = runRequestProblem({
      parentId: parent.id,
      topology: { vcpus: parent.vcpus, memoryMiB: parent.memoryMiB },
      pool: parent.pool,
      request,
      eifFileSize: eifBytes,
      running: running
        .filter((e) => e.State !== 'EMPTY')
        .map((e) => ({
          enclaveId: e.EnclaveID,
          name: e.EnclaveName,
          cid: e.EnclaveCID,
          cpuIds: e.CPUIDs,
          memoryMiB: e.MemoryMiB,
        })),
    });
    return problem && problemText(problem);
  },
};

/** The largest nonce, user data or public key an NSM Attestation request may carry. */
export const MAX_ATTESTATION_FIELD_BYTES = NSM_MAX_ATTESTATION_FIELD_BYTES;

/** The CBOR bytes of an NSM Attestation request. */
export function attestationRequestBytes(input: AttestationRequestInput): Uint8Array {
  return encodeRequest({
    type: 'Attestation',
    userData: input.userData ?? null,
    nonce: input.nonce ?? null,
    publicKey: input.publicKey ?? null,
  });
}

/** The document of an NSM Attestation response; throws with the NSM's error code otherwise. */
export function attestationDocumentOf(response: Uint8Array): Uint8Array {
  const decoded = decodeResponse(response);
  if (decoded.type === 'Attestation') return decoded.document;
  if (decoded.type === 'Error') throw new Error(l10n.t('the NSM answered {0}', decoded.code));
  throw new Error(l10n.t('the NSM answered {0} to an Attestation request', decoded.type));
}

/** The engine's allocator diagnostics, in the extension's shape. */
export function checkAllocatorText(text: string, parent?: ParentInfo): readonly AllocatorProblem[] {
  const result = parent
    ? validateAllocator(text, { vcpus: parent.vcpus, memoryMiB: parent.memoryMiB })
    : parseAllocatorYaml(text);
  return result.diagnostics.map((d) => ({
    message: `[E${String(d.code).padStart(2, '0')}] ${d.message}`,
    line: d.line,
    column: d.column,
    endLine: d.endLine,
    endColumn: d.endColumn,
    severity: d.severity,
  }));
}
