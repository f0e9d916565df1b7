// The steps of EmulatorBackend.runEnclave that need no host process: checking the image (E19, E35,
// E59's reason), the enclave record of a plan, run-enclave's JSON, and the state-damage capability.
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  EmulatorBackend,
  checkImage,
  enclaveRecordFor,
  runJsonOf,
  signatureProblemOf,
} from '../../../../../src/engine/node/emulator/backend';
import { StateFileError } from '../../../../../src/engine/node/emulator/state';
import { BackendError } from '../../../../../src/engine/platform/backend';
import { repoPath } from '../../../repo';

const PARENT = 'i-0123456789abcdef0';
const PLAN = {
  enclaveId: `${PARENT}-enc0123456789abcdef`,
  name: 'hello',
  cid: 16,
  cpuIds: [2, 3],
  memoryMiB: 256,
  debugMode: true,
};

const fixture = (name: string): string => repoPath('test', 'fixtures', 'eif', name);

describe('(unit) emulator backend: run-enclave steps', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'emulator-backend-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('checkImage: a missing file is E19, a file that is not an EIF is E35', async () => {
    await assert.rejects(
      checkImage(path.join(dir, 'missing.eif')),
      (e: unknown) => e instanceof BackendError && e.code === 19 && /no such file/.test(e.message),
    );
    const junk = path.join(dir, 'junk.eif');
    writeFileSync(junk, Buffer.alloc(600, 7));
    await assert.rejects(
      checkImage(junk),
      (e: unknown) => e instanceof BackendError && e.code === 35 && /^EIF parsing error\./.test(e.message),
    );
  });

  it('checkImage: a signed image gives its size, measurements and no signature problem', async () => {
    const eif = fixture('synthetic-v4-signed.eif');
    const image = await checkImage(path.relative(process.cwd(), eif));
    assert.equal(image.eifPath, eif, 'the path is made absolute');
    assert.ok(image.size > 0);
    assert.match(image.inspection.measurements.PCR0, /^[0-9a-f]{96}$/);
    assert.equal(image.signatureProblem, undefined);
  });

  it(
    'signatureProblemOf: unsigned passes; unreadable, ' + 'not verifying, or an expired certificate is a reason (E59)',
    () => {
      const at = new Date(0);
      assert.equal(signatureProblemOf(undefined), undefined);
      assert.equal(
        signatureProblemOf({ checkedAt: at, error: 'the signature section cannot be read' }),
        'the signature section cannot be read',
      );
      assert.match(
        signatureProblemOf({ checkedAt: at, cose: { valid: false, reason: 'bad r' } }) ?? '',
        /does not verify: bad r/,
      );
      assert.match(
        signatureProblemOf({ checkedAt: at, cose: { valid: true }, certificateValid: false }) ?? '',
        /not valid now/,
      );
      assert.equal(signatureProblemOf({ checkedAt: at, cose: { valid: true }, certificateValid: true }), undefined);
    },
  );

  it(
    'enclaveRecordFor: the plan, the image and the ' + 'sockets in the state folder; the app cwd made absolute',
    async () => {
      const image = await checkImage(fixture('synthetic-v4-signed.eif'));
      const now = new Date('2025-01-02T03:04:05.000Z');
      const request = {
        eifPath: image.eifPath,
        memoryMiB: 256,
        cpuCount: 2,
        app: { command: 'sleep', args: ['1'], cwd: 'rel' },
        iamRoleArn: 'arn:aws:iam::1:role/r',
      };
      const record = enclaveRecordFor(dir, PARENT, PLAN, request, image, { runnerPid: 99, now });
      assert.equal(record.enclaveId, PLAN.enclaveId);
      assert.deepEqual(
        [record.name, record.cid, record.cpuIds, record.memoryMiB, record.debugMode],
        ['hello', 16, [2, 3], 256, true],
      );
      assert.equal(record.eifPath, image.eifPath);
      assert.deepEqual(record.measurements, image.inspection.measurements);
      assert.equal(record.app?.cwd, path.resolve('rel'));
      assert.equal(record.iamRoleArn, 'arn:aws:iam::1:role/r');
      assert.equal(record.consoleLogPath, path.join(dir, 'enclaves', `${PLAN.enclaveId}.console.log`));
      assert.ok(record.socketPath.endsWith(`${PLAN.enclaveId}.sock`));
      assert.ok(record.nsmSocketPath.endsWith(`${PLAN.enclaveId}.nsm.sock`));
      assert.equal(record.runnerPid, 99);
      assert.equal(record.createdAt, '2025-01-02T03:04:05.000Z');
      assert.equal(record.hostPid, undefined, 'the host pid comes once it is spawned');
      const bare = enclaveRecordFor(dir, PARENT, PLAN, { eifPath: image.eifPath, memoryMiB: 256, cpuCount: 2 }, image, {
        runnerPid: 1,
        now,
      });
      assert.equal('app' in bare, false);
      assert.equal('iamRoleArn' in bare, false);
    },
  );

  it("runJsonOf: run-enclave's stdout object", async () => {
    const image = await checkImage(fixture('synthetic-v4-signed.eif'));
    const record = enclaveRecordFor(dir, PARENT, PLAN, { eifPath: image.eifPath, memoryMiB: 256, cpuCount: 2 }, image, {
      runnerPid: 1,
      now: new Date(),
    });
    assert.deepEqual(runJsonOf(record, 4321), {
      EnclaveName: 'hello',
      EnclaveID: PLAN.enclaveId,
      ProcessID: 4321,
      EnclaveCID: 16,
      NumberOfCPUs: 2,
      CPUIDs: [2, 3],
      MemoryMiB: 256,
    });
  });

  it('runEnclave stops at the image check before touching the state (E19), for a parent it knows', async () => {
    const state = path.join(dir, 'state');
    const backend = new EmulatorBackend({ stateDir: state, watch: false });
    const [parent] = await backend.listParents();
    assert.ok(parent);
    await assert.rejects(
      backend.runEnclave(parent.id, { eifPath: path.join(dir, 'none.eif'), memoryMiB: 256, cpuCount: 2 }),
      (e: unknown) => e instanceof BackendError && e.code === 19,
    );
    assert.equal((await backend.listParents())[0]?.used.memoryMiB, 0);
    assert.equal(backend.isStateDamage(new StateFileError('parents.json', 'broken')), true);
    assert.equal(backend.isStateDamage(new Error('other')), false);
    backend.dispose();
  });
});
