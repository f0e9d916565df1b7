// The backend registry: routing by parent, several backends side by side, one backend's failure
// not hiding the others, capabilities found by their guards, registration and disposal.
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EmulatorBackend } from '../../../../src/engine/node/emulator/backend';
import { BackendRegistry, createBackendRegistry } from '../../../../src/engine/node/registry';
import {
  BackendError,
  type DescribeEnclaveJson,
  type EnclaveBackend,
  type ParentInfo,
  type RunEnclaveRequest,
} from '../../../../src/engine/platform/backend';
import {
  answersNsmFromParent,
  attachesApplications,
  canAddParents,
  canRepairState,
  hasDevelopmentRoots,
} from '../../../../src/engine/platform/capabilities';
import { Emitter } from '../../../../src/engine/platform/lifecycle';

function parentInfo(id: string, name: string, backend: ParentInfo['backend']): ParentInfo {
  return {
    id,
    name,
    backend,
    vcpus: 4,
    memoryMiB: 4096,
    pool: { cpuIds: [2, 3], memoryMiB: 1024 },
    used: { cpuIds: [], memoryMiB: 0 },
  };
}

/** A backend with canned parents that records what it is asked. */
class Canned implements EnclaveBackend {
  readonly changed = new Emitter<{ readonly parentId?: string }>();
  readonly onDidChange = this.changed.event;
  readonly calls: string[] = [];
  failure: Error | undefined;
  disposed = false;

  constructor(
    readonly kind: EnclaveBackend['kind'],
    readonly label: string,
    readonly parents: ParentInfo[],
  ) {}

  async listParents(): Promise<readonly ParentInfo[]> {
    if (this.failure) throw this.failure;
    return this.parents;
  }
  async runEnclave(parentId: string, request: RunEnclaveRequest) {
    this.calls.push(`run ${parentId} ${request.eifPath}`);
    return {
      EnclaveName: 'e',
      EnclaveID: `${parentId}-enc0000000000000001`,
      ProcessID: 1,
      EnclaveCID: 16,
      NumberOfCPUs: 2,
      CPUIDs: [2, 3],
      MemoryMiB: 128,
    };
  }
  async describeEnclaves(parentId: string): Promise<readonly DescribeEnclaveJson[]> {
    this.calls.push(`describe ${parentId}`);
    return [];
  }
  async terminateEnclave(parentId: string, enclaveId: string) {
    this.calls.push(`terminate ${parentId} ${enclaveId}`);
    return { EnclaveID: enclaveId, Terminated: true };
  }
  async openConsole(parentId: string, enclaveId: string) {
    this.calls.push(`console ${parentId} ${enclaveId}`);
    return {
      chunks: { [Symbol.asyncIterator]: () => ({ next: async () => ({ value: undefined, done: true as const }) }) },
      dispose: () => undefined,
    };
  }
  async nsm(parentId: string, enclaveId: string, request: Uint8Array) {
    this.calls.push(`nsm ${parentId} ${enclaveId} ${request.length}`);
    return new Uint8Array([1]);
  }
  dispose(): void {
    this.disposed = true;
  }
}

const A = 'i-0aaaaaaaaaaaaaaa1';
const B = 'i-0bbbbbbbbbbbbbbb1';

describe('(unit) backend registry', () => {
  let registry: BackendRegistry;
  let emulated: Canned;
  let remote: Canned;

  beforeEach(() => {
    registry = new BackendRegistry();
    emulated = new Canned('emulator', 'Emulated', [parentInfo(A, 'alpha', 'emulator')]);
    remote = new Canned('nitro-cli', 'Remote', [parentInfo(B, 'beta', 'nitro-cli')]);
    registry.register(emulated);
    registry.register(remote);
  });

  afterEach(() => registry.dispose());

  it('lists the parents of every backend, in registration order', async () => {
    assert.deepEqual(
      (await registry.listParents()).map((p) => [p.id, p.backend]),
      [
        [A, 'emulator'],
        [B, 'nitro-cli'],
      ],
    );
  });

  it('routes each call to the backend that lists the parent', async () => {
    await registry.describeEnclaves(B);
    await registry.runEnclave(A, { eifPath: 'x.eif', memoryMiB: 128, cpuCount: 2 });
    await registry.terminateEnclave(B, `${B}-enc0000000000000001`);
    await registry.nsm(A, `${A}-enc0000000000000001`, new Uint8Array(3));
    await registry.openConsole(B, `${B}-enc0000000000000002`);
    assert.deepEqual(emulated.calls, [`run ${A} x.eif`, `nsm ${A} ${A}-enc0000000000000001 3`]);
    assert.deepEqual(remote.calls, [
      `describe ${B}`,
      `terminate ${B} ${B}-enc0000000000000001`,
      `console ${B} ${B}-enc0000000000000002`,
    ]);
  });

  it('refuses a parent no backend lists with E03, naming the known ones', async () => {
    await assert.rejects(
      registry.describeEnclaves('i-0ccccccccccccccc1'),
      (e: unknown) => e instanceof BackendError && e.code === 3 && e.message.includes(A) && e.message.includes(B),
    );
  });

  it('finds a parent by id first, then by name', async () => {
    assert.equal((await registry.findParent('beta'))?.id, B);
    assert.equal((await registry.findParent(A))?.name, 'alpha');
    assert.equal(await registry.findParent('gamma'), undefined);
  });

  it('keeps listing the other backends when one fails, and says which failed', async () => {
    remote.failure = new Error('ssh: connection refused');
    const listings = await registry.listByBackend();
    assert.deepEqual(
      listings[0]?.parents?.map((p) => p.id),
      [A],
    );
    assert.equal(listings[1]?.backend, remote);
    assert.equal((listings[1]?.error as Error).message, 'ssh: connection refused');
    await assert.rejects(registry.listParents(), /connection refused/, 'the flat list is all or nothing');
    await registry.describeEnclaves(A); // the working backend still routes
    assert.deepEqual(emulated.calls, [`describe ${A}`]);
  });

  it('refuses an application for a backend without the capability', async () => {
    await registry.listParents();
    const request: RunEnclaveRequest = { eifPath: 'x.eif', memoryMiB: 128, cpuCount: 2, app: { command: 'sleep' } };
    await assert.rejects(
      registry.runEnclave(B, request),
      (e: unknown) => e instanceof BackendError && e.code === 3 && /Remote cannot start an application/.test(e.message),
    );
    assert.deepEqual(remote.calls, []);
  });

  it('forwards change events of every backend, and announces (un)registration', () => {
    const seen: (string | undefined)[] = [];
    const sub = registry.onDidChange((e) => seen.push(e.parentId));
    remote.changed.fire({ parentId: B });
    emulated.changed.fire({});
    const third = new Canned('qemu', 'QEMU', []);
    const registration = registry.register(third);
    third.changed.fire({ parentId: 'q' });
    registration.dispose();
    third.changed.fire({ parentId: 'after' });
    sub.dispose();
    assert.deepEqual(seen, [B, undefined, undefined, 'q', undefined]);
    assert.deepEqual(registry.backends, [emulated, remote]);
  });

  it('refuses the same backend twice; after unregistering, its parents are not routed any more', async () => {
    assert.throws(() => registry.register(remote), /registered already/);
    const extra = new Canned('qemu', 'Extra', [parentInfo('i-0ddddddddddddddd1', 'delta', 'qemu')]);
    const registration = registry.register(extra, { owned: false });
    await registry.describeEnclaves('i-0ddddddddddddddd1');
    registration.dispose();
    await assert.rejects(
      registry.describeEnclaves('i-0ddddddddddddddd1'),
      (e: unknown) => e instanceof BackendError && e.code === 3,
    );
    registry.dispose();
    assert.equal(extra.disposed, false, 'a backend registered as not owned is not disposed with the registry');
    assert.equal(emulated.disposed, true);
  });

  it('finds capabilities by their guards: none on a plain backend', async () => {
    assert.deepEqual(registry.capable(canAddParents), []);
    assert.equal(await registry.capabilityOf(B, hasDevelopmentRoots), undefined);
    for (const guard of [
      canAddParents,
      hasDevelopmentRoots,
      attachesApplications,
      canRepairState,
      answersNsmFromParent,
    ])
      assert.equal(guard(remote), false);
  });

  describe('with the embedded emulator', () => {
    let state: string;
    before(() => {
      state = mkdtempSync(path.join(os.tmpdir(), 'registry-'));
    });
    after(() => rmSync(state, { recursive: true, force: true }));

    it('createBackendRegistry registers the emulator, which has every optional capability', async () => {
      const defaults = createBackendRegistry({ env: { NITRO_DEV_STATE_DIR: state }, watch: false });
      try {
        assert.deepEqual(defaults.unavailable, []);
        const [emulator] = defaults.backends;
        assert.ok(emulator instanceof EmulatorBackend);
        assert.equal(emulator.stateDir, path.resolve(state));
        for (const guard of [
          canAddParents,
          hasDevelopmentRoots,
          attachesApplications,
          canRepairState,
          answersNsmFromParent,
        ])
          assert.equal(guard(emulator), true, guard.name);
        const [parent] = await defaults.listParents();
        assert.ok(parent);
        assert.equal(await defaults.capabilityOf(parent.id, canAddParents), emulator);
        const added = await emulator.addParent('second');
        assert.deepEqual(
          (await defaults.listParents()).map((p) => p.name),
          [parent.name, 'second'],
        );
        assert.deepEqual(await defaults.describeEnclaves(added.id), []);
        const [root] = await emulator.developmentRoots();
        assert.match(root?.pem ?? '', /^-----BEGIN CERTIFICATE-----/);
        assert.equal(await emulator.eifPathOf(added.id, `${added.id}-enc0000000000000001`), undefined);
      } finally {
        defaults.dispose();
      }
    });
  });
});
