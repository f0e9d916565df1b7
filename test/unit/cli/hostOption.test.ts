// nitro-dev's enclave commands with --host: nitro-cli on a parent reached over ssh (a real sshd on
// 127.0.0.1 whose sessions find the stand-in nitro-cli fixture as `nitro-cli` in their PATH).
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoPath } from '../repo';
import { freePort, startSshd, type TestSshd } from '../sshd';

const cli = repoPath('dist/cli.js');
const EIF = repoPath('test/fixtures/eif/synthetic-v4-unsigned.eif');

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

describe('(unit) nitro-dev enclave commands with --host (nitro-cli over ssh)', function () {
  this.timeout(120_000);
  let sshd: TestSshd;
  let root: string;

  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'nitro-cli-host-'));
    for (const [rel, text] of [
      ['sys/module/nitro_enclaves/parameters/ne_cpus', '1,3\n'],
      ['sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages', '512\n'],
      ['sys/devices/virtual/dmi/id/board_asset_tag', 'i-0abc123def4567890\n'],
    ] as const) {
      mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      writeFileSync(path.join(root, rel), text);
    }
    sshd = await startSshd({
      env: {
        NITRO_CLI_STANDIN_ROOT: root,
        PATH: [repoPath('test/fixtures/nitro-cli'), path.dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
      },
    });
  });
  after(async () => {
    await sshd?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  // The local emulator's state folder is empty and unused: --host never touches it.
  const env = () => ({ ...process.env, NITRO_DEV_STATE_DIR: path.join(root, 'emulator-state') });
  const host = () => ['--host', sshd.host, '--ssh-config', sshd.configFile];
  function run(...args: string[]): Result {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: env(), timeout: 90_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  const ok = (r: Result) => {
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  it('runs, describes, streams the console of and terminates an enclave on the host', async () => {
    assert.deepEqual(ok(run('describe-enclaves', ...host())), []);
    const started = ok(
      run('run-enclave', '--eif-path', EIF, '--memory', '64', '--cpu-count', '2', '--debug-mode', ...host()),
    );
    assert.equal(started.EnclaveName, 'synthetic-v4-unsigned');
    assert.equal(started.EnclaveID, 'i-0abc123def4567890-enc18c2e5a4f1b2d3e');
    const [described] = ok(run('describe-enclaves', ...host()));
    assert.equal(described.EnclaveID, started.EnclaveID);
    assert.equal(described.Flags, 'DEBUG_MODE');

    // The console streams until the enclave ends.
    const child = spawn(process.execPath, [cli, 'console', '--enclave-name', started.EnclaveName, ...host()], {
      env: env(),
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (b) => (err += b));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (b) => {
        out += b;
        if (out.includes('Hello from the enclave synthetic-v4-unsigned')) resolve();
      });
      child.on('close', () => reject(new Error(`console ended early: ${out} ${err}`)));
    });
    const terminated = ok(run('terminate-enclave', '--enclave-id', started.EnclaveID, ...host()));
    assert.deepEqual(terminated, { EnclaveName: started.EnclaveName, EnclaveID: started.EnclaveID, Terminated: true });
    assert.equal(await exited, 0, err);
    assert.match(out, /^Connecting to the console for enclave 16\.\.\.\nSuccessfully connected to the console\.\n/);
    assert.deepEqual(ok(run('describe-enclaves', ...host())), []);
  });

  it("reports nitro-cli's failures with their code: E26, E44", () => {
    const small = run('run-enclave', '--eif-path', EIF, '--memory', '0', '--cpu-count', '2', ...host());
    assert.equal(small.status, 26, small.stderr);
    assert.match(small.stderr, /^\[ E26 \] Insufficient memory requested\. User provided `memory` is 0 MB/m);
    const started = ok(run('run-enclave', '--eif-path', EIF, '--memory', '64', '--cpu-count', '2', ...host()));
    const console = run('console', '--enclave-id', started.EnclaveID, ...host());
    assert.equal(console.status, 44, console.stderr);
    assert.match(console.stderr, /^\[ E44 \] Console connection failure\./m);
    const all = ok(run('terminate-enclave', '--all', ...host()));
    assert.deepEqual(
      all.map((r: { EnclaveID: string }) => r.EnclaveID),
      [started.EnclaveID],
    );
  });

  it('says why a host cannot be reached', async () => {
    const config = path.join(root, 'closed_config');
    writeFileSync(config, `Host parent1\n  HostName 127.0.0.1\n  Port ${await freePort()}\n`);
    const r = run('describe-enclaves', '--host', 'parent1', '--ssh-config', config);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^\[ E00 \] Unspecified error\. cannot reach parent1: Connection refused$/m);
  });

  it('refuses --host with --parent, and --ssh-config without --host', () => {
    const both = run('describe-enclaves', '--host', 'h', '--parent', 'p');
    assert.equal(both.status, 2);
    assert.match(both.stderr, /'--host <HOST>' cannot be used with '--parent <ID>'/);
    const alone = run('describe-enclaves', '--ssh-config', 'f');
    assert.equal(alone.status, 2);
    assert.match(alone.stderr, /'--ssh-config <FILE>' requires '--host <HOST>'/);
  });
});
