// A second enclave backend for the extension-host tests: canned parents and enclaves, no processes,
// none of the optional capabilities. It proves the seam: the Parent Instances view and the enclave
// commands work against any EnclaveBackend registered through the extension's registerBackend.
import { Emitter } from '../../src/engine/platform/lifecycle';
import {
  BackendError,
  type ConsoleStream,
  type DescribeEnclaveJson,
  type EnclaveBackend,
  type ParentInfo,
  type RunEnclaveJson,
  type TerminateEnclaveJson,
} from '../../src/engine/platform/backend';

const ZERO = '0'.repeat(96);

export interface FakeBackendOptions {
  /** What the view calls the backend (default `Test backend`). */
  readonly label?: string;
  /** listParents throws this: a parent that cannot be reached. */
  readonly listError?: Error;
  /** The EC2 instance id its parent reports. */
  readonly instanceId?: string;
  /** The kind of backend it stands in for (default nitro-cli). */
  readonly kind?: 'nitro-cli' | 'qemu';
  /** Its enclave runs in debug mode, and its console streams this text, then closes. */
  readonly console?: string;
}

export class FakeBackend implements EnclaveBackend {
  readonly kind: 'nitro-cli' | 'qemu';
  readonly label: string;
  disposed = false;
  private readonly changed = new Emitter<{ readonly parentId?: string }>();
  readonly onDidChange = this.changed.event;
  readonly parent: ParentInfo;
  private enclaves: DescribeEnclaveJson[];
  /** Every call, for the tests to check what the faces asked. */
  readonly calls: string[] = [];

  constructor(
    readonly parentId = 'i-0fa4e0000000000a1',
    private readonly options: FakeBackendOptions = {},
  ) {
    this.label = options.label ?? 'Test backend';
    this.kind = options.kind ?? 'nitro-cli';
    this.enclaves = [
      {
        EnclaveName: 'canned-enclave',
        EnclaveID: `${parentId}-enc00000000000000a1`,
        ProcessID: 4242,
        EnclaveCID: 21,
        NumberOfCPUs: 2,
        CPUIDs: [2, 3],
        MemoryMiB: 512,
        State: 'RUNNING',
        Flags: options.console !== undefined ? 'DEBUG_MODE' : 'NONE',
        Measurements: { HashAlgorithm: 'Sha384 { ... }', PCR0: 'a1'.repeat(48), PCR1: ZERO, PCR2: ZERO },
      },
    ];
    this.parent = {
      id: parentId,
      name: 'canned-parent',
      backend: this.kind,
      vcpus: 4,
      memoryMiB: 8192,
      pool: { cpuIds: [2, 3], memoryMiB: 1024 },
      used: { cpuIds: [2, 3], memoryMiB: 512 },
      ...(options.instanceId ? { instanceId: options.instanceId } : {}),
    };
  }

  private check(parentId: string): void {
    if (parentId !== this.parentId)
      throw new BackendError(3, `Invalid argument provided. The test backend has no parent ${parentId}`);
  }

  async listParents(): Promise<readonly ParentInfo[]> {
    this.calls.push('listParents');
    if (this.options.listError) throw this.options.listError;
    const used = this.enclaves.filter((e) => e.State === 'RUNNING');
    return [
      {
        ...this.parent,
        used: { cpuIds: used.flatMap((e) => e.CPUIDs), memoryMiB: used.reduce((n, e) => n + e.MemoryMiB, 0) },
      },
    ];
  }

  async runEnclave(parentId: string): Promise<RunEnclaveJson> {
    this.calls.push(`runEnclave ${parentId}`);
    throw new BackendError(3, 'Invalid argument provided. The test backend runs no enclaves');
  }

  async describeEnclaves(
    parentId: string,
    options?: { readonly metadata?: boolean },
  ): Promise<readonly DescribeEnclaveJson[]> {
    this.calls.push(`describeEnclaves ${parentId}${options?.metadata ? ' metadata' : ''}`);
    this.check(parentId);
    return this.enclaves;
  }

  async terminateEnclave(parentId: string, enclaveId: string): Promise<TerminateEnclaveJson> {
    this.calls.push(`terminateEnclave ${parentId} ${enclaveId}`);
    this.check(parentId);
    const found = this.enclaves.find((e) => e.EnclaveID === enclaveId);
    if (!found) throw new BackendError(40, `Socket path not found. No running enclave has the id ${enclaveId}`);
    this.enclaves = this.enclaves.filter((e) => e !== found);
    this.changed.fire({ parentId });
    return { EnclaveName: found.EnclaveName, EnclaveID: enclaveId, Terminated: true };
  }

  async openConsole(parentId: string, enclaveId: string): Promise<ConsoleStream> {
    this.calls.push(`openConsole ${parentId} ${enclaveId}`);
    const text = this.options.console;
    if (text === undefined) throw new BackendError(44, 'Console connection failure. The test backend has no consoles');
    this.check(parentId);
    async function* chunks(): AsyncIterable<Uint8Array> {
      yield new TextEncoder().encode(text);
    }
    return { chunks: chunks(), dispose: () => undefined };
  }

  async nsm(parentId: string, enclaveId: string): Promise<Uint8Array> {
    this.calls.push(`nsm ${parentId} ${enclaveId}`);
    throw new BackendError(39, 'Could not connect to the enclave process. The test backend has no NSM');
  }

  dispose(): void {
    this.disposed = true;
    this.changed.dispose();
  }
}
