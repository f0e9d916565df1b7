import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EmulatorBackend } from '../../../src/engine/node/emulator/backend';
import { addParent, liveRecords, loadParents, pidAlive, readRecordFile } from '../../../src/engine/node/emulator/state';
import { decodeResponse, encodeRequest } from '../../../src/engine/nsm/protocol';
import { toHex } from '../../../src/engine/util/bytes';
import { decodeAttestation } from '../../../src/engine/attestation/document';
import { repoPath } from '../repo';

const cli = repoPath('dist/cli.js');
const signed = repoPath('test/fixtures/eif/synthetic-v4-signed.eif');
const expected = JSON.parse(readFileSync(repoPath('test/fixtures/eif/synthetic-v4-signed.expected.json'), 'utf8'));

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

describe('(unit) nitro-dev run-enclave, describe-enclaves, terminate-enclave, console (emulator)', function () {
  this.timeout(120_000);
  let dir: string;
  /** The state folder the commands use: `dir` unless a test moves it. */
  let stateDir: string;
  const seenPids = new Set<number>();
  const env = () => ({ ...process.env, NITRO_DEV_STATE_DIR: stateDir });

  function run(...args: string[]): Result {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: env(), timeout: 60_000 });
    const result = { status: r.status, stdout: r.stdout, stderr: r.stderr };
    if (args[0] === 'run-enclave' && r.status === 0) seenPids.add(JSON.parse(r.stdout).ProcessID);
    return result;
  }

  function runAsync(...args: string[]): Promise<Result> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [cli, ...args], { env: env() });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b) => (stdout += b));
      child.stderr.on('data', (b) => (stderr += b));
      child.on('close', (status) => {
        if (args[0] === 'run-enclave' && status === 0) seenPids.add(JSON.parse(stdout).ProcessID);
        resolve({ status, stdout, stderr });
      });
    });
  }

  const ok = (r: Result) => {
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const errorCode = (r: Result, code: number) => {
    assert.equal(r.status, code, `exit ${r.status}: ${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(`^(Start allocating memory\\.\\.\\.\\n)?\\[ E${String(code).padStart(2, '0')} \\] `, 'm'),
    );
    assert.match(r.stderr, new RegExp(`cli-errors\\.html#E${String(code).padStart(2, '0')}`));
    assert.equal(r.stdout, '');
  };

  async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out waiting');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  before(() => assert.ok(existsSync(cli), 'build dist/cli.js first'));
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'nde-'));
    stateDir = dir;
  });
  afterEach(async () => {
    try {
      for (const r of liveRecords(stateDir)) if (r.hostPid) seenPids.add(r.hostPid);
    } catch {
      /* a test that damaged the state stopped its hosts itself */
    }
    for (const pid of seenPids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    await waitFor(() => [...seenPids].every((p) => !pidAlive(p)));
    seenPids.clear();
    rmSync(dir, { recursive: true, force: true });
  });

  it('run -> describe -> terminate, in nitro-cli shapes and messages', async () => {
    const r = run(
      'run-enclave',
      '--eif-path',
      signed,
      '--memory',
      '128',
      '--cpu-count',
      '2',
      '--enclave-name',
      'hello',
    );
    const started = ok(r);
    assert.deepEqual(Object.keys(started), [
      'EnclaveName',
      'EnclaveID',
      'ProcessID',
      'EnclaveCID',
      'NumberOfCPUs',
      'CPUIDs',
      'MemoryMiB',
    ]);
    assert.equal(
      r.stderr,
      'Start allocating memory...\nStarted enclave with enclave-cid: 16, memory: 128 MiB, cpu-ids: [1, 5]\n',
    );
    assert.match(started.EnclaveID, /^i-[0-9a-f]{17}-enc[0-9a-f]{16}$/);
    assert.equal(started.EnclaveName, 'hello');
    assert.deepEqual(started.CPUIDs, [1, 5]);
    assert.equal(r.stdout, JSON.stringify(started, null, 2) + '\n');
    assert.ok(pidAlive(started.ProcessID));

    const [described] = ok(run('describe-enclaves'));
    assert.deepEqual(Object.keys(described), [
      'EnclaveName',
      'EnclaveID',
      'ProcessID',
      'EnclaveCID',
      'NumberOfCPUs',
      'CPUIDs',
      'MemoryMiB',
      'State',
      'Flags',
      'Measurements',
    ]);
    assert.equal(described.State, 'RUNNING');
    assert.equal(described.Flags, 'NONE');
    assert.equal(described.Measurements.PCR0, expected.PCR0);
    assert.equal(described.Measurements.PCR8, expected.PCR8);
    const [withMeta] = ok(run('describe-enclaves', '--metadata'));
    assert.equal(withMeta.ImageName, 'test');
    assert.equal(withMeta.Metadata.BuildTool, 'eif_build');

    const t = run('terminate-enclave', '--enclave-id', started.EnclaveID);
    assert.deepEqual(ok(t), { EnclaveName: 'hello', EnclaveID: started.EnclaveID, Terminated: true });
    assert.equal(t.stderr, `Successfully terminated enclave ${started.EnclaveID}.\n`);
    assert.deepEqual(ok(run('describe-enclaves')), []);
    assert.equal(run('describe-enclaves').stdout, '[]\n');
    await waitFor(() => !pidAlive(started.ProcessID));
    assert.deepEqual(readdirSync(path.join(dir, 'enclaves')), [`${started.EnclaveID}.console.log`]);
  });

  it('names, CIDs and --config; terminate by name and --all', () => {
    const a = ok(
      run(
        'run-enclave',
        '--eif-path',
        signed,
        '--memory',
        '64',
        '--cpu-ids',
        '1',
        '--cpu-ids',
        '5',
        '--enclave-cid',
        '4294967294',
      ),
    );
    assert.equal(a.EnclaveName, 'synthetic-v4-signed');
    assert.equal(a.EnclaveCID, 4294967294);
    const cfg = path.join(dir, 'run.json');
    writeFileSync(
      cfg,
      JSON.stringify({ eif_path: signed, memory_mib: 64, cpu_count: 2, enclave_name: 'synthetic-v4-signed' }),
    );
    // The name is taken while `a` runs: free it first.
    ok(run('terminate-enclave', '--enclave-name', 'synthetic-v4-signed'));
    const b = ok(run('run-enclave', '--config', cfg));
    assert.equal(b.EnclaveCID, 16);
    assert.equal(b.EnclaveName, 'synthetic-v4-signed');
    const all = ok(run('terminate-enclave', '--all'));
    assert.deepEqual(all, [{ EnclaveName: 'synthetic-v4-signed', EnclaveID: b.EnclaveID, Terminated: true }]);
  });

  it('every error code with its exit status', () => {
    const base = ['run-enclave', '--eif-path', signed];
    errorCode(run(...base, '--memory', '0', '--cpu-count', '2'), 26);
    const e26 = run(...base, '--memory', '0', '--cpu-count', '2');
    assert.match(
      e26.stderr,
      /\[ E26 \] Insufficient memory requested\. User provided `memory` is 0 MB, but based on the EIF file size, the minimum memory should be 4 MB/,
    );
    errorCode(run(...base, '--memory', '1.5G', '--cpu-count', '2'), 3);
    errorCode(run(...base, '--memory', '128', '--cpu-count', '2', '--enclave-cid', '3'), 3);
    errorCode(run(...base, '--memory', '128', '--cpu-count', '2', '--enclave-cid', '4294967295'), 3);
    errorCode(run(...base, '--memory', '128', '--cpu-count', 'two'), 3);
    errorCode(run(...base, '--memory', '128', '--cpu-ids', '1', '--cpu-ids', '1'), 20);
    errorCode(run(...base, '--memory', '128', '--cpu-ids', '3', '7'), 21);
    errorCode(run(...base, '--memory', '128', '--cpu-count', '6'), 22);
    errorCode(run(...base, '--memory', '4G', '--cpu-count', '2'), 27);
    errorCode(run(...base, '--memory', '128', '--cpu-count', '1'), 29);
    errorCode(run(...base, '--memory', '32', '--cpu-count', '2'), 29);
    errorCode(
      run('run-enclave', '--eif-path', path.join(dir, 'missing.eif'), '--memory', '128', '--cpu-count', '2'),
      19,
    );
    const junk = path.join(dir, 'junk.eif');
    writeFileSync(junk, Buffer.alloc(600, 7));
    errorCode(run('run-enclave', '--eif-path', junk, '--memory', '128', '--cpu-count', '2'), 35);
    const cfg = path.join(dir, 'c.json');
    writeFileSync(cfg, JSON.stringify({ eif_path: signed, memory_mib: 128 }));
    errorCode(run('run-enclave', '--config', cfg), 1);
    writeFileSync(cfg, JSON.stringify({ eif_path: signed, memory_mib: 128, cpu_count: 2, cpu_ids: [1, 5] }));
    errorCode(run('run-enclave', '--config', cfg), 2);
    writeFileSync(cfg, '{ not json');
    errorCode(run('run-enclave', '--config', cfg), 17);
    // Argument-syntax errors are the parser's: exit 2, no Exx.
    assert.equal(run(...base, '--memory', '128').status, 2);
    assert.equal(run(...base, '--memory', '128', '--cpu-count', '2', '--cpu-ids', '1').status, 2);
    assert.equal(run('run-enclave', '--config', cfg, '--memory', '5').status, 2);
    assert.equal(run('terminate-enclave').status, 2);
    const unclosed = run(...base, '--memory', '128', '--cpu-count', '2', '--app', 'node "my app.js');
    assert.equal(unclosed.status, 2);
    assert.match(unclosed.stderr, /'--app <CMD>': The double quote at character 6 is not closed\./);

    // The whole default pool (two cores): no CPU is left for another enclave.
    const prod = ok(run(...base, '--memory', '128', '--cpu-count', '4'));
    errorCode(run(...base, '--memory', '128', '--cpu-count', '2'), 32);
    errorCode(run(...base, '--memory', '128', '--cpu-count', '2', '--enclave-cid', '16'), 3);
    errorCode(run('console', '--enclave-id', prod.EnclaveID), 44);
    errorCode(run('terminate-enclave', '--enclave-name', 'nope'), 58);
    errorCode(run('console', '--enclave-name', 'nope'), 58);
    errorCode(
      run(
        'terminate-enclave',
        '--enclave-id',
        `${prod.EnclaveID.slice(0, -1)}0`.replace(/0$/, prod.EnclaveID.endsWith('0') ? '1' : '0'),
      ),
      40,
    );
    // A broken allocator.yaml stops run-enclave with the file position.
    const [parent] = readFileSync(path.join(dir, 'parents.json'), 'utf8').match(/i-[0-9a-f]{17}/) ?? [];
    writeFileSync(path.join(dir, 'parents', parent as string, 'allocator.yaml'), 'memory_mib: 512\ncpu_pool: "1,x"\n');
    const bad = run(...base, '--memory', '64', '--cpu-count', '2');
    errorCode(bad, 23);
    assert.match(bad.stderr, /allocator\.yaml:2:14: malformed CPU id 'x'/);
  });

  it('the default parent holds two small enclaves (2 CPUs, 512 MiB) at once, and not a third', () => {
    const small = ['run-enclave', '--eif-path', signed, '--memory', '512', '--cpu-count', '2'];
    const a = ok(run(...small, '--enclave-name', 'first'));
    const b = ok(run(...small, '--enclave-name', 'second'));
    assert.deepEqual([a.MemoryMiB, b.MemoryMiB], [512, 512]);
    assert.equal(new Set([...a.CPUIDs, ...b.CPUIDs]).size, 4, 'no CPU is shared');
    const described = ok(run('describe-enclaves'));
    assert.deepEqual(described.map((e: { EnclaveName: string; State: string }) => [e.EnclaveName, e.State]).sort(), [
      ['first', 'RUNNING'],
      ['second', 'RUNNING'],
    ]);
    errorCode(run(...small, '--enclave-name', 'third'), 32);
    assert.equal(ok(run('terminate-enclave', '--all')).length, 2);
  });

  it('--help does not show the hidden host subcommand', () => {
    const help = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' }).stdout;
    assert.match(help, /run-enclave/);
    assert.doesNotMatch(help, /__enclave-host/);
  });

  it('20 concurrent run-enclave processes on one parent: no shared CID or CPU, exact pool accounting', async () => {
    const parent = await addParent(dir, {
      name: 'big',
      vcpus: 48,
      memoryMiB: 65536,
      pool: { memoryMiB: 20 * 64, cpuCount: 40 },
    });
    const results = await Promise.all(
      Array.from({ length: 22 }, () =>
        runAsync('run-enclave', '--parent', parent.id, '--eif-path', signed, '--memory', '64', '--cpu-count', '2'),
      ),
    );
    const started = results.filter((r) => r.status === 0).map((r) => JSON.parse(r.stdout));
    const failed = results.filter((r) => r.status !== 0);
    assert.equal(started.length, 20, results.map((r) => r.stderr).join('\n'));
    assert.equal(failed.length, 2);
    for (const f of failed) errorCode(f, 27);
    assert.equal(new Set(started.map((s) => s.EnclaveCID)).size, 20);
    const cpus = started.flatMap((s) => s.CPUIDs);
    assert.equal(new Set(cpus).size, 40);
    assert.equal(new Set(started.map((s) => s.EnclaveID)).size, 20);
    const backend = new EmulatorBackend({ stateDir: dir, hostScript: cli, watch: false });
    const info = (await backend.listParents()).find((p) => p.id === parent.id);
    assert.deepEqual(info?.used, { cpuIds: [...cpus].sort((a, b) => a - b), memoryMiB: 1280 });
    assert.deepEqual(info?.used.cpuIds, info?.pool.cpuIds);
    assert.equal((await backend.describeEnclaves(parent.id)).length, 20);
    const all = ok(run('terminate-enclave', '--all', '--parent', parent.id));
    assert.equal(all.length, 20);
    assert.deepEqual((await backend.listParents()).find((p) => p.id === parent.id)?.used, { cpuIds: [], memoryMiB: 0 });
  });

  it('kill -9 of an enclave host: the next describe drops it and its resources return', async () => {
    const a = ok(run('run-enclave', '--eif-path', signed, '--memory', '128', '--cpu-count', '2'));
    process.kill(a.ProcessID, 'SIGKILL');
    await waitFor(() => !pidAlive(a.ProcessID));
    assert.deepEqual(ok(run('describe-enclaves')), []);
    assert.equal(existsSync(path.join(dir, 'enclaves', `${a.EnclaveID}.json`)), false);
    assert.equal(existsSync(path.join(dir, 'enclaves', `${a.EnclaveID}.sock`)), false);
    const b = ok(run('run-enclave', '--eif-path', signed, '--memory', '128', '--cpu-count', '2'));
    assert.deepEqual(b.CPUIDs, [1, 5]);
    assert.equal(b.EnclaveCID, 16);
  });

  it('console: emulated boot lines and the application output in debug mode; E44 without', async () => {
    const app =
      `${JSON.stringify(process.execPath)} -e "console.log('app says hi ' + process.env.NITRO_ENCLAVE_CID); ` +
      `console.error('to stderr'); setTimeout(() => {}, 60000)"`;
    const a = ok(
      run('run-enclave', '--eif-path', signed, '--memory', '128', '--cpu-count', '2', '--debug-mode', '--app', app),
    );
    const log = path.join(dir, 'enclaves', `${a.EnclaveID}.console.log`);
    await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('to stderr'));
    const c = run('console', '--enclave-id', a.EnclaveID, '--disconnect-timeout', '1');
    assert.equal(c.status, 0, c.stderr);
    assert.match(
      c.stdout,
      /^Connecting to the console for enclave 16\.\.\.\nSuccessfully connected to the console\.\n/,
    );
    assert.match(c.stdout, /is emulated: no kernel boots/);
    assert.match(c.stdout, /app says hi 16/);
    assert.match(c.stdout, /to stderr/);
    const [d] = ok(run('describe-enclaves'));
    assert.equal(d.Flags, 'DEBUG_MODE');
    const appPid = JSON.parse(readFileSync(path.join(dir, 'enclaves', `${a.EnclaveID}.app.pid`), 'utf8')).pid as number;
    assert.ok(pidAlive(appPid));
    ok(run('terminate-enclave', '--enclave-id', a.EnclaveID));
    await waitFor(() => !pidAlive(appPid));
    assert.match(readFileSync(log, 'utf8'), /was terminated/);
  });

  it("--app: the application's exit ends the enclave; the console log stays", async () => {
    const app = `${JSON.stringify(process.execPath)} -e "console.log('bye from ' + process.env.NITRO_ENCLAVE_ID)"`;
    const a = ok(run('run-enclave', '--eif-path', signed, '--memory', '128', '--cpu-count', '2', '--app', app));
    await waitFor(() => !pidAlive(a.ProcessID));
    assert.deepEqual(ok(run('describe-enclaves')), []);
    const log = readFileSync(path.join(dir, 'enclaves', `${a.EnclaveID}.console.log`), 'utf8');
    assert.match(log, new RegExp(`bye from ${a.EnclaveID}`));
    assert.match(log, /application exited with code 0/);
  });

  it(
    "NSM round trip: DescribePCR 0 is the image's PCR0, " + 'through the backend and through NITRO_NSM_SOCKET',
    async () => {
      const script = path.join(dir, 'nsm-client.js');
      writeFileSync(
        script,
        [
          "const net = require('node:net');",
          "const req = Buffer.from(process.argv[2], 'hex');",
          'const s = net.createConnection(process.env.NITRO_NSM_SOCKET, () => { const h = Buffer.alloc(4); ' +
            'h.writeUInt32BE(req.length); s.write(Buffer.concat([h, req])); });',
          'let buf = Buffer.alloc(0);',
          "s.on('data', (d) => { buf = Buffer.concat([buf, d]); if (buf.length >= " +
            "4 && buf.length >= 4 + buf.readUInt32BE(0)) { console.log('NSM ' + " +
            "buf.subarray(4).toString('hex')); s.end(); setTimeout(() => {}, 60000); } });",
        ].join('\n'),
      );
      const request = encodeRequest({ type: 'DescribePCR', index: 0 });
      const a = ok(
        run(
          'run-enclave',
          '--eif-path',
          signed,
          '--memory',
          '128',
          '--cpu-count',
          '2',
          '--app',
          `${JSON.stringify(process.execPath)} ${JSON.stringify(script)} ${toHex(request)}`,
        ),
      );
      const backend = new EmulatorBackend({ stateDir: dir, hostScript: cli, watch: false });
      const [parent] = await loadParents(dir);
      const response = decodeResponse(await backend.nsm(parent!.id, a.EnclaveID, request));
      assert.equal(response.type, 'DescribePCR');
      assert.equal(toHex((response as { data: Uint8Array }).data), expected.PCR0);
      const log = path.join(dir, 'enclaves', `${a.EnclaveID}.console.log`);
      await waitFor(() => /NSM [0-9a-f]+/.test(readFileSync(log, 'utf8')));
      const hex = /NSM ([0-9a-f]+)/.exec(readFileSync(log, 'utf8'))?.[1] as string;
      const viaSocket = decodeResponse(Buffer.from(hex, 'hex'));
      assert.equal(toHex((viaSocket as { data: Uint8Array }).data), expected.PCR0);
      // Attestation: a development document naming the enclave, with the image's PCR0 and the nonce.
      const nonce = new Uint8Array([1, 2, 3, 4]);
      const attested = decodeResponse(
        await backend.nsm(
          parent!.id,
          a.EnclaveID,
          encodeRequest({ type: 'Attestation', userData: null, nonce, publicKey: null }),
        ),
      );
      assert.equal(attested.type, 'Attestation');
      const doc = decodeAttestation((attested as { document: Uint8Array }).document).document;
      assert.equal(doc?.moduleId, a.EnclaveID);
      assert.equal(toHex(doc?.pcrs.get(0) as Uint8Array), expected.PCR0);
      assert.deepEqual(doc?.nonce, { state: 'present', value: nonce });
      // Debug mode reads PCR0 as zeros.
      ok(run('terminate-enclave', '--all'));
      const d = ok(run('run-enclave', '--eif-path', signed, '--memory', '128', '--cpu-count', '2', '--debug-mode'));
      const zero = decodeResponse(await backend.nsm(parent!.id, d.EnclaveID, request));
      assert.equal(toHex((zero as { data: Uint8Array }).data), '00'.repeat(48));
    },
  );

  it("onDidChange fires for another process's run and terminate (enclaves folder watch)", async () => {
    await loadParents(dir);
    const backend = new EmulatorBackend({ stateDir: dir, hostScript: cli });
    let fired = 0;
    backend.onDidChange(() => fired++);
    const a = ok(run('run-enclave', '--eif-path', signed, '--memory', '128', '--cpu-count', '2'));
    await waitFor(() => fired > 0);
    const before = fired;
    ok(run('terminate-enclave', '--enclave-id', a.EnclaveID));
    await waitFor(() => fired > before);
    backend.dispose();
    assert.equal(readRecordFile(path.join(dir, 'enclaves', `${a.EnclaveID}.json`)), undefined);
  });

  it('onDidChange fires when a host dies without a word (kill -9), and the next look drops the enclave', async () => {
    await loadParents(dir);
    const a = ok(run('run-enclave', '--eif-path', signed, '--memory', '128', '--cpu-count', '2'));
    const backend = new EmulatorBackend({ stateDir: dir, hostScript: cli });
    try {
      let fired = 0;
      backend.onDidChange(() => fired++);
      await new Promise((r) => setTimeout(r, 300)); // the backend connects to the live host
      process.kill(a.ProcessID, 'SIGKILL');
      await waitFor(() => fired > 0);
      const parent = (await backend.listParents())[0];
      assert.ok(parent);
      assert.deepEqual(await backend.describeEnclaves(parent.id), []);
      assert.deepEqual((await backend.listParents())[0]?.used, { cpuIds: [], memoryMiB: 0 });
    } finally {
      backend.dispose();
    }
  });

  it(
    'a damaged parents.json: every command stops with E19 naming it and leaves it as it was; ' +
      'terminate-enclave --all still stops the hosts; repair-state brings them back',
    async () => {
      const a = ok(
        run('run-enclave', '--eif-path', signed, '--memory', '128', '--cpu-count', '2', '--enclave-name', 'kept'),
      );
      const file = path.join(dir, 'parents.json');
      const damaged = '{ "parents": [';
      writeFileSync(file, damaged);
      for (const args of [
        ['describe-enclaves'],
        ['run-enclave', '--eif-path', signed, '--memory', '128', '--cpu-count', '2'],
        ['terminate-enclave', '--enclave-id', a.EnclaveID],
        ['console', '--enclave-id', a.EnclaveID],
      ]) {
        const r = run(...args);
        errorCode(r, 19);
        assert.ok(r.stderr.includes(file), r.stderr);
        assert.match(r.stderr, /nitro-dev repair-state/);
      }
      assert.equal(readFileSync(file, 'utf8'), damaged, 'parents.json is not replaced');
      assert.ok(pidAlive(a.ProcessID), 'the running enclave is not touched');

      // repair-state: the damaged copy is kept beside it, the running enclave's parent comes back.
      const repaired = ok(run('repair-state'));
      assert.equal(repaired.MovedAside.length, 1);
      assert.equal(repaired.MovedAside[0].File, file);
      assert.match(repaired.MovedAside[0].KeptAs, /parents\.json\.damaged-\d{4}-\d\d-\d\dT[\d-]+Z$/);
      assert.equal(readFileSync(repaired.MovedAside[0].KeptAs, 'utf8'), damaged);
      assert.deepEqual(repaired.RecoveredParents, [a.EnclaveID.replace(/-enc[0-9a-f]{16}$/, '')]);
      const [described] = ok(run('describe-enclaves'));
      assert.equal(described.EnclaveID, a.EnclaveID);
      assert.equal(described.EnclaveName, 'kept');

      // Damaged again: terminate-enclave --all finds the host by its socket and stops it.
      writeFileSync(file, 'not json');
      const t = run('terminate-enclave', '--all');
      assert.equal(t.status, 0, t.stderr);
      assert.deepEqual(JSON.parse(t.stdout), [{ EnclaveName: 'kept', EnclaveID: a.EnclaveID, Terminated: true }]);
      assert.ok(t.stderr.includes(file), t.stderr);
      assert.match(t.stderr, new RegExp(`Successfully terminated enclave ${a.EnclaveID}\\.`));
      await waitFor(() => !pidAlive(a.ProcessID));
      assert.equal(readFileSync(file, 'utf8'), 'not json');
    },
  );

  it(
    'a damaged enclave record: E19 naming it; repair-state rewrites ' +
      'it from the running host; terminate-enclave --all stops the host',
    async () => {
      const a = ok(run('run-enclave', '--eif-path', signed, '--memory', '128', '--cpu-count', '2', '--debug-mode'));
      const file = path.join(dir, 'enclaves', `${a.EnclaveID}.json`);
      const original = JSON.parse(readFileSync(file, 'utf8'));
      writeFileSync(file, '{"version": 1, "enclaveId": ');
      const d = run('describe-enclaves');
      errorCode(d, 19);
      assert.ok(d.stderr.includes(file), d.stderr);
      errorCode(run('run-enclave', '--eif-path', signed, '--memory', '128', '--cpu-count', '2'), 19);
      assert.ok(pidAlive(a.ProcessID));

      const repaired = ok(run('repair-state'));
      assert.deepEqual(repaired.RecoveredEnclaves, [a.EnclaveID]);
      assert.equal(readFileSync(repaired.MovedAside[0].KeptAs, 'utf8'), '{"version": 1, "enclaveId": ');
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), original);
      assert.equal(ok(run('describe-enclaves'))[0].EnclaveID, a.EnclaveID);

      // A record pointing its socket elsewhere is damaged too; --all still reaches the host.
      writeFileSync(file, JSON.stringify({ ...original, socketPath: path.join(dir, 'elsewhere.sock') }));
      errorCode(run('describe-enclaves'), 19);
      const t = run('terminate-enclave', '--all');
      assert.equal(t.status, 0, t.stderr);
      assert.equal(JSON.parse(t.stdout)[0].EnclaveID, a.EnclaveID);
      await waitFor(() => !pidAlive(a.ProcessID));
    },
  );

  it(
    "a parent id '../../x' in parents.json is refused " + '(E19) and nothing is written outside the state folder',
    async () => {
      stateDir = path.join(dir, 'a', 'b', 'state');
      await loadParents(stateDir);
      const file = path.join(stateDir, 'parents.json');
      const parents = JSON.parse(readFileSync(file, 'utf8'));
      writeFileSync(file, JSON.stringify({ parents: [{ ...parents.parents[0], id: '../../x' }] }));
      const r = run('run-enclave', '--eif-path', signed, '--memory', '128', '--cpu-count', '2');
      errorCode(r, 19);
      assert.match(r.stderr, /parents\[0\]\.id "\.\.\/\.\.\/x" is not an instance id/);
      errorCode(run('describe-enclaves'), 19);
      assert.deepEqual(readdirSync(path.join(dir, 'a', 'b')), ['state']);
      assert.deepEqual(readdirSync(path.join(dir, 'a')), ['b']);
    },
  );

  it(
    'permissions: the state folder (tightened when older) and enclaves folder 0700; ' +
      'console log, host log, record and sockets 0600',
    async () => {
      const { chmodSync, statSync } = await import('node:fs');
      await loadParents(dir);
      mkdirSync(path.join(dir, 'enclaves'), { recursive: true });
      chmodSync(dir, 0o755); // as an older version made them
      chmodSync(path.join(dir, 'enclaves'), 0o755);
      const a = ok(run('run-enclave', '--eif-path', signed, '--memory', '128', '--cpu-count', '2', '--debug-mode'));
      const mode = (p: string) => statSync(p).mode & 0o777;
      assert.equal(mode(dir), 0o700);
      assert.equal(mode(path.join(dir, 'enclaves')), 0o700);
      const base = path.join(dir, 'enclaves', a.EnclaveID);
      for (const suffix of ['.console.log', '.host.log', '.json', '.sock', '.nsm.sock'])
        assert.equal(mode(base + suffix), 0o600, suffix);
    },
  );

  it(
    'dev-root --export into a folder that does not exist, ' + 'or with a state folder it cannot write, fails with E19',
    () => {
      const missing = run('dev-root', '--export', path.join(dir, 'no', 'such', 'folder', 'root.pem'));
      errorCode(missing, 19);
      assert.match(missing.stderr, /no[/\\]such[/\\]folder/);
      stateDir = path.join(dir, 'blocked');
      mkdirSync(stateDir);
      writeFileSync(path.join(stateDir, 'dev-ca'), 'a file where the CA folder goes');
      const blocked = run('dev-root', '--export', path.join(dir, 'root.pem'));
      errorCode(blocked, 19);
      assert.match(blocked.stderr, /dev-ca/);
    },
  );
});
