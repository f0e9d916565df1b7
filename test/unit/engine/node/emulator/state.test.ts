// The emulator's state folder under attack and damage: a parents.json that cannot be read is never
// replaced, ids read from disk are checked before they become paths, a record cannot point cleanup
// at files outside the state, and a stale .app.pid cannot get an unrelated process killed.
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  StateFileError,
  addParent,
  appPidPathOf,
  ensureStateDirs,
  liveRecords,
  loadParents,
  pidAlive,
  processIdentity,
  recordProblem,
  readParents,
  recordPathOf,
  socketPathFor,
  withStateLock,
  writeAppPid,
  type EnclaveRecord,
} from '../../../../../src/engine/node/emulator/state';
import { repairState } from '../../../../../src/engine/node/emulator/repair';

const PARENT = 'i-0123456789abcdef0';
const ENCLAVE = `${PARENT}-enc0123456789abcdef`;

/** A pid that no process has now: one that just exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  assert.ok(r.pid);
  return r.pid;
}

export function validRecord(state: string, overrides: Partial<EnclaveRecord> = {}): EnclaveRecord {
  const enclaveId = overrides.enclaveId ?? ENCLAVE;
  return {
    version: 1,
    parentId: PARENT,
    enclaveId,
    name: 'test',
    cid: 16,
    cpuIds: [1, 5],
    memoryMiB: 128,
    debugMode: false,
    eifPath: '/nowhere/test.eif',
    measurements: {
      HashAlgorithm: 'Sha384 { ... }',
      PCR0: '00'.repeat(48),
      PCR1: '11'.repeat(48),
      PCR2: '22'.repeat(48),
    },
    socketPath: socketPathFor(state, enclaveId, '.sock'),
    nsmSocketPath: socketPathFor(state, enclaveId, '.nsm.sock'),
    consoleLogPath: path.join(state, 'enclaves', `${enclaveId}.console.log`),
    runnerPid: deadPid(),
    createdAt: new Date().toISOString(),
    hostPid: deadPid(),
    ...overrides,
  };
}

function putRecord(state: string, record: unknown, enclaveId = ENCLAVE): string {
  mkdirSync(path.join(state, 'enclaves'), { recursive: true });
  const file = recordPathOf(state, enclaveId);
  writeFileSync(file, JSON.stringify(record, null, 2));
  return file;
}

describe('(unit) emulator state folder: damaged files, ids from disk, stale pid files', function () {
  this.timeout(60_000);
  let root: string;
  let state: string;
  const children: ChildProcess[] = [];

  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'nds-'));
    state = path.join(root, 'a', 'b', 'state');
    mkdirSync(state, { recursive: true });
  });
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  it(
    'a parents.json that is not JSON is never replaced: ' +
      'loadParents and addParent stop with an error naming it and the way out',
    async () => {
      const file = path.join(state, 'parents.json');
      for (const text of ['{', '', '{"parents": 3}', '[]', 'null']) {
        writeFileSync(file, text);
        await assert.rejects(loadParents(state), (e: unknown) => {
          assert.ok(e instanceof StateFileError, String(e));
          assert.equal(e.code, 19);
          assert.ok(e.message.includes(file), e.message);
          assert.match(e.message, /nitro-dev repair-state/);
          assert.match(e.message, /parents\.json\.damaged-<time>/);
          return true;
        });
        await assert.rejects(addParent(state, { name: 'x', vcpus: 8, memoryMiB: 16384 }), StateFileError);
        assert.equal(readFileSync(file, 'utf8'), text, 'the damaged file is left as it was');
        assert.equal(existsSync(path.join(state, 'parents')), false, 'no new parent was made');
      }
    },
  );

  it(
    'ids read from parents.json are checked against i- and 17 hex digits; ' +
      '../../x is refused before it becomes a path',
    async () => {
      const file = path.join(state, 'parents.json');
      const entry = { id: PARENT, name: 'p', vcpus: 8, memoryMiB: 16384 };
      for (const [bad, pattern] of [
        [{ ...entry, id: '../../x' }, /parents\[0\]\.id "\.\.\/\.\.\/x" is not an instance id/],
        [{ ...entry, id: 'i-0123456789ABCDEF0' }, /is not an instance id/],
        [{ ...entry, id: 'i-0123456789abcdef0/..' }, /is not an instance id/],
        [{ ...entry, id: 7 }, /is not an instance id/],
        [{ ...entry, vcpus: 5 }, /vcpus/],
        [{ ...entry, memoryMiB: -1 }, /memoryMiB/],
        [{ ...entry, name: {} }, /name/],
      ] as const) {
        writeFileSync(file, JSON.stringify({ parents: [bad] }));
        assert.throws(
          () => readParents(state),
          (e: unknown) => e instanceof StateFileError && pattern.test(e.message),
        );
        await assert.rejects(loadParents(state), StateFileError);
      }
      writeFileSync(file, JSON.stringify({ parents: [entry, entry] }));
      assert.throws(() => readParents(state), /appears twice/);
      writeFileSync(file, JSON.stringify({ parents: [entry] }));
      assert.deepEqual(readParents(state), [entry]);
      // Nothing was made outside the state folder.
      assert.deepEqual(readdirSync(path.join(root, 'a')), ['b']);
      assert.deepEqual(readdirSync(root), ['a']);
    },
  );

  it(
    'an enclave record whose paths point outside the state ' + 'folder is refused, and cleanup deletes nothing there',
    () => {
      const victim = path.join(root, 'victim.txt');
      writeFileSync(victim, 'keep me');
      const file = putRecord(state, { ...validRecord(state), socketPath: victim });
      assert.throws(
        () => liveRecords(state),
        (e: unknown) => e instanceof StateFileError && e.message.includes(file) && /socketPath/.test(e.message),
      );
      assert.equal(readFileSync(victim, 'utf8'), 'keep me');
      assert.ok(existsSync(file), 'the record is kept for repair-state');
      for (const bad of [
        { ...validRecord(state), nsmSocketPath: victim },
        { ...validRecord(state), consoleLogPath: victim },
        { ...validRecord(state), parentId: '../../x' },
        { ...validRecord(state), enclaveId: '../../x' },
        { ...validRecord(state), version: 2 },
      ]) {
        putRecord(state, bad);
        assert.throws(() => liveRecords(state), StateFileError, JSON.stringify(bad));
        assert.equal(readFileSync(victim, 'utf8'), 'keep me');
      }
      // A record whose file name is not an enclave id.
      rmSync(file);
      writeFileSync(path.join(state, 'enclaves', '..x.json'), JSON.stringify(validRecord(state)));
      assert.throws(() => liveRecords(state), /name does not hold an enclave id/);
    },
  );

  it(
    'a record that is not JSON stops liveRecords with its ' +
      'name (it is not quietly dropped, its host may still run)',
    () => {
      const file = putRecord(state, {});
      writeFileSync(file, '{"version": 1, "enclaveId"');
      assert.throws(
        () => liveRecords(state),
        (e: unknown) => e instanceof StateFileError && e.message.includes(file) && /not valid JSON/.test(e.message),
      );
      assert.ok(existsSync(file));
    },
  );

  it("a record's machine (the QEMU backend) must be a QEMU machine with absolute paths and kvm or tcg", () => {
    const machine = {
      kind: 'qemu',
      qemu: '/opt/q/bin/qemu-system-x86_64',
      vhostDeviceVsock: '/opt/q/bin/vhost-device-vsock',
      relayKernel: '/opt/q/kernel/bzImage',
      relayInitrd: '/opt/q/guest/relay.cpio',
      accel: 'kvm',
    };
    const problem = (m: unknown) => recordProblem(state, { ...validRecord(state), machine: m }, ENCLAVE);
    assert.equal(problem(machine), undefined);
    assert.equal(problem({ ...machine, accel: 'tcg', firmwareDir: '/opt/q/share/qemu' }), undefined);
    assert.equal(problem({ ...machine, kind: 'emulator' }), 'machine is not a QEMU machine');
    assert.equal(problem('qemu'), 'machine is not a QEMU machine');
    assert.equal(problem(null), 'machine is not a QEMU machine');
    for (const key of ['qemu', 'vhostDeviceVsock', 'relayKernel', 'relayInitrd'] as const) {
      assert.equal(problem({ ...machine, [key]: 'bin/tool' }), `machine.${key} is not an absolute path`);
      assert.equal(problem({ ...machine, [key]: undefined }), `machine.${key} is not an absolute path`);
      assert.equal(problem({ ...machine, [key]: 7 }), `machine.${key} is not an absolute path`);
    }
    assert.equal(problem({ ...machine, firmwareDir: 'share/qemu' }), 'machine.firmwareDir is not an absolute path');
    assert.equal(problem({ ...machine, firmwareDir: 1 }), 'machine.firmwareDir is not an absolute path');
    for (const accel of ['hvf', 'KVM', '', undefined, 1])
      assert.equal(problem({ ...machine, accel }), 'machine.accel is not kvm or tcg', String(accel));
    // A record whose machine is bad is damaged: reading the state says why (and changes nothing).
    putRecord(state, { ...validRecord(state, { hostPid: process.pid }), machine: { ...machine, qemu: 'qemu' } });
    assert.throws(
      () => liveRecords(state),
      (e: unknown) => e instanceof StateFileError && /machine\.qemu is not an absolute path/.test(e.message),
    );
  });

  it('a well-formed record of a dead host is cleaned up as before', () => {
    const record = validRecord(state);
    const file = putRecord(state, record);
    assert.deepEqual(liveRecords(state), []);
    assert.equal(existsSync(file), false);
  });

  it(
    'a stale .app.pid naming an unrelated live process leaves that process ' +
      'alive (bare pid of an older version, or a different start time)',
    async () => {
      const sleeper = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
      children.push(sleeper);
      await new Promise((r) => sleeper.once('spawn', r));
      const pid = sleeper.pid as number;
      assert.ok(pidAlive(pid));
      for (const pidFile of [
        `${pid}\n`,
        JSON.stringify({ pid, pgid: pid, start: '1' }) + '\n',
        JSON.stringify({ pid }) + '\n',
        'garbage',
      ]) {
        putRecord(state, validRecord(state));
        writeFileSync(appPidPathOf(state, ENCLAVE), pidFile);
        assert.deepEqual(liveRecords(state), []); // the dead host's record is cleaned up...
        assert.equal(existsSync(appPidPathOf(state, ENCLAVE)), false);
        assert.ok(pidAlive(pid), `...and ${JSON.stringify(pidFile)} did not kill ${pid}`);
        assert.equal(sleeper.exitCode, null);
        assert.equal(sleeper.signalCode, null);
      }
    },
  );

  it(
    'the application recorded at launch is still killed ' + 'when its host died (same start time, its own group)',
    async function () {
      if (process.platform === 'win32') this.skip();
      const app = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
      children.push(app);
      await new Promise((r) => app.once('spawn', r));
      assert.ok(processIdentity(app.pid as number));
      putRecord(state, validRecord(state));
      writeAppPid(state, ENCLAVE, app.pid as number);
      const exited = new Promise((r) => app.once('exit', (_code, signal) => r(signal)));
      assert.deepEqual(liveRecords(state), []);
      assert.equal(await exited, 'SIGKILL');
    },
  );

  it(
    'permissions: the state folder and its sub-folders are 0700 ' +
      '(an older 0755 one is tightened), records and the lock 0600',
    async function () {
      if (process.platform === 'win32') this.skip();
      chmodSync(state, 0o755);
      mkdirSync(path.join(state, 'enclaves'), { mode: 0o755 });
      chmodSync(path.join(state, 'enclaves'), 0o755);
      const parents = await loadParents(state);
      const mode = (p: string) => statSync(p).mode & 0o777;
      assert.equal(mode(state), 0o700);
      assert.equal(mode(path.join(state, 'enclaves')), 0o700);
      assert.equal(mode(path.join(state, 'parents')), 0o700);
      assert.equal(mode(path.join(state, 'parents', parents[0]!.id)), 0o700);
      assert.equal(mode(path.join(state, 'parents.json')), 0o600);
      assert.equal(mode(path.join(state, 'parents', parents[0]!.id, 'allocator.yaml')), 0o600);
      await withStateLock(state, () => assert.equal(mode(path.join(state, 'lock')), 0o600));
      const fresh = path.join(root, 'fresh', 'state');
      ensureStateDirs(fresh);
      assert.equal(mode(fresh), 0o700);
    },
  );

  it(
    'repair-state moves a damaged parents.json aside, ' +
      'keeps its sound entries and brings back the parents the folder still shows',
    async () => {
      const keep = { id: 'i-00000000000000001', name: 'kept', vcpus: 16, memoryMiB: 32768 };
      const file = path.join(state, 'parents.json');
      const text = JSON.stringify({ parents: [keep, { id: '../../x', name: 'evil', vcpus: 8, memoryMiB: 1 }] });
      writeFileSync(file, text);
      mkdirSync(path.join(state, 'parents', PARENT), { recursive: true });
      mkdirSync(path.join(state, 'parents', '..evil'), { recursive: true });
      const report = await repairState(state, { now: () => new Date('2024-05-01T12:00:00.000Z') });
      const kept = path.join(state, 'parents.json.damaged-2024-05-01T12-00-00-000Z');
      assert.deepEqual(
        report.movedAside.map((m) => [m.file, m.keptAs]),
        [[file, kept]],
      );
      assert.equal(readFileSync(kept, 'utf8'), text, 'the damaged copy is kept as it was');
      assert.deepEqual(report.recoveredParents, [PARENT]);
      const parents = readParents(state);
      assert.deepEqual(
        parents?.map((p) => p.id),
        [keep.id, PARENT],
      );
      assert.deepEqual(parents?.[0], keep);
      // Sound state: nothing to do.
      const again = await repairState(state);
      assert.deepEqual(again.movedAside, []);
      assert.deepEqual(again.recoveredParents, []);
    },
  );
});
