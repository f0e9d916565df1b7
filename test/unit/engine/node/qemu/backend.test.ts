// QemuBackend's checks before anything starts (no QEMU needed): images it cannot boot, --app, a
// machine that cannot be resolved, the NSM it cannot reach, and what it offers (its capabilities).
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { QemuBackend, QemuUnavailableError } from '../../../../../src/engine/node/qemu/backend';
import type { QemuMachineSpec } from '../../../../../src/engine/node/qemu/machine';
import { BackendError } from '../../../../../src/engine/platform/backend';
import { CAPABILITIES } from '../../../../../src/engine/platform/capabilities';
import { repoPath } from '../../../repo';
import { withFixedCrc } from '../../eif/helpers';

const unsignedEif = repoPath('test', 'fixtures', 'eif', 'synthetic-v4-unsigned.eif');

describe('(unit) QEMU backend: run-enclave checks and capabilities', function () {
  this.timeout(60_000);
  let dir: string;
  let state: string;
  let resolved: number;
  const backends: QemuBackend[] = [];
  const backend = (resolveMachine: () => Promise<QemuMachineSpec>) => {
    const b = new QemuBackend({ stateDir: state, watch: false, resolveMachine });
    backends.push(b);
    return b;
  };
  const unavailable = () => {
    resolved++;
    return Promise.reject(
      new QemuUnavailableError(['qemu-system-x86_64 was not found', 'vhost-device-vsock was not found in PATH']),
    );
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'qemu-backend-'));
    state = path.join(dir, 'state', 'qemu');
    resolved = 0;
  });
  afterEach(() => {
    for (const b of backends.splice(0)) b.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Nothing was started: no enclave record, no host, the parent's resources unused. */
  async function nothingStarted(b: QemuBackend, parentId: string) {
    const enclaves = path.join(state, 'enclaves');
    assert.deepEqual(existsSync(enclaves) ? readdirSync(enclaves).filter((n) => n.endsWith('.json')) : [], []);
    assert.deepEqual(await b.describeEnclaves(parentId), []);
    assert.equal((await b.listParents())[0]?.used.memoryMiB, 0);
  }

  it("its parents are kind 'qemu' named 'QEMU parent', with the capabilities it has and not the others", async () => {
    const b = backend(unavailable);
    assert.equal(b.kind, 'qemu');
    assert.equal(b.label, 'QEMU');
    const [parent] = await b.listParents();
    assert.ok(parent);
    assert.equal(parent.name, 'QEMU parent');
    assert.equal(parent.backend, 'qemu');
    assert.equal(b.stateDir, state);
    const has = Object.fromEntries(Object.entries(CAPABILITIES).map(([name, guard]) => [name, guard(b)]));
    assert.deepEqual(has, {
      addParents: true,
      developmentRoots: false,
      applications: false,
      stateRepair: true,
      emulatedVsock: true,
      // Its NSM is inside the guest: the parent cannot ask it (Get Attestation Document).
      parentNsm: false,
    });
  });

  it('refuses an aarch64 image (EIF flags 1) before resolving or starting anything', async () => {
    const arm = path.join(dir, 'arm.eif');
    const bytes = Buffer.from(readFileSync(unsignedEif));
    bytes.writeUInt16BE(1, 6); // the header's flags: 1 is aarch64
    writeFileSync(arm, withFixedCrc(bytes));
    const b = backend(unavailable);
    const [parent] = await b.listParents();
    assert.ok(parent);
    await assert.rejects(b.runEnclave(parent.id, { eifPath: arm, memoryMiB: 256, cpuCount: 2 }), (e: unknown) => {
      assert.ok(e instanceof BackendError, String(e));
      assert.equal(e.code, 3);
      assert.match(e.message, /is an aarch64 image \(EIF flags 1\).*boots x86_64 images only/);
      return true;
    });
    assert.equal(resolved, 0);
    await nothingStarted(b, parent.id);
  });

  it('refuses --app before resolving or starting anything', async () => {
    const b = backend(unavailable);
    const [parent] = await b.listParents();
    assert.ok(parent);
    await assert.rejects(
      b.runEnclave(parent.id, { eifPath: unsignedEif, memoryMiB: 256, cpuCount: 2, app: { command: '/bin/true' } }),
      (e: unknown) => e instanceof BackendError && e.code === 3 && /--app is the emulator's/.test(e.message),
    );
    assert.equal(resolved, 0);
    await nothingStarted(b, parent.id);
  });

  it('refuses with what is missing and the setup command when the machine cannot be resolved', async () => {
    const b = backend(unavailable);
    const [parent] = await b.listParents();
    assert.ok(parent);
    await assert.rejects(
      b.runEnclave(parent.id, { eifPath: unsignedEif, memoryMiB: 256, cpuCount: 2 }),
      (e: unknown) => {
        assert.ok(e instanceof QemuUnavailableError, String(e));
        assert.equal(e.code, 5);
        assert.match(e.message, /qemu-system-x86_64 was not found; vhost-device-vsock was not found in PATH/);
        assert.match(e.message, /`nitro-dev qemu setup`/);
        return true;
      },
    );
    assert.equal(resolved, 1);
    await nothingStarted(b, parent.id);
  });

  it("nsm() refuses: the NSM is QEMU's device inside the enclave; an unknown parent is refused as such", async () => {
    const b = backend(unavailable);
    const [parent] = await b.listParents();
    assert.ok(parent);
    await assert.rejects(
      b.nsm(parent.id, `${parent.id}-enc0123456789abcdef`, new Uint8Array([0xa0])),
      (e: unknown) =>
        e instanceof BackendError && e.code === 3 && /runs in QEMU: its NSM is QEMU's device/.test(e.message),
    );
    await assert.rejects(b.nsm('i-00000000000000000', 'x', new Uint8Array()), (e: unknown) => {
      assert.ok(e instanceof BackendError);
      assert.doesNotMatch(e.message, /runs in QEMU/);
      return true;
    });
  });
});
