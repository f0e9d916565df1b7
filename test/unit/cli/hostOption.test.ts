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
  function runIn(environment: NodeJS.ProcessEnv, ...args: string[]): Result {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: environment, timeout: 90_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  const run = (...args: string[]): Result => runIn(env(), ...args);
  /** The report up to nitro-cli's documentation link: the `[ Exx ]` line and what follows it. */
  const report = (r: Result) => r.stderr.split('\n\n')[0] ?? '';
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
    assert.match(
      r.stderr,
      /^\[ E00 \] Unspecified error\. cannot reach parent1: connect to host 127\.0\.0\.1 port \d+: Connection refused$/m,
    );
  });

  it('doctor --host and describe-enclaves --host say the same of a host that cannot be reached', async () => {
    const config = path.join(root, 'closed_config_2');
    writeFileSync(config, `Host parent2\n  HostName 127.0.0.1\n  Port ${await freePort()}\n`);
    const doctor = run('doctor', '--host', 'parent2', '--ssh-config', config);
    const describe = run('describe-enclaves', '--host', 'parent2', '--ssh-config', config);
    for (const r of [doctor, describe]) {
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(
        report(r),
        /^\[ E00 \] Unspecified error\. cannot reach parent2: connect to host 127\.0\.0\.1 port \d+: Connection refused\n/,
      );
    }
    assert.equal(report(doctor), report(describe));
  });

  it("both pass over ssh's warning lines to its reason, and say how to see it again", () => {
    // A stand-in ssh first in PATH: the warnings OpenSSH prints, then its reason, and ssh's exit status 255.
    const bin = path.join(root, 'warning-bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      path.join(bin, 'ssh'),
      '#!/bin/sh\n# A stand-in for ssh in tests.\ncat >/dev/null\n' +
        'echo "** WARNING: connection is not using a post-quantum key exchange algorithm." >&2\n' +
        'echo "** This session may be vulnerable to \\"store now, decrypt later\\" attacks." >&2\n' +
        'echo "Warning: Permanently added \'parent-3\' (ED25519) to the list of known hosts." >&2\n' +
        'echo "alice@parent-3: Permission denied (publickey)." >&2\nexit 255\n',
      { mode: 0o755 },
    );
    const withFakeSsh = { ...env(), PATH: `${bin}:${process.env.PATH ?? ''}` };
    const doctor = runIn(withFakeSsh, 'doctor', '--host', 'parent-3');
    const describe = runIn(withFakeSsh, 'describe-enclaves', '--host', 'parent-3');
    for (const r of [doctor, describe]) {
      assert.equal(r.status, 1, r.stderr);
      assert.equal(
        report(r),
        '[ E00 ] Unspecified error. cannot reach parent-3: alice@parent-3: Permission denied (publickey).\n' +
          'To see it yourself: ssh -o BatchMode=yes -o ConnectTimeout=10 -o PasswordAuthentication=no ' +
          '-o KbdInteractiveAuthentication=no -T -- parent-3 true',
      );
    }
  });

  it('refuses a host ssh must not be given, before ssh runs, on every command that takes --host', () => {
    for (const [args, host, why] of [
      [['describe-enclaves'], '-oProxyCommand=touch x', /starts with '-'/],
      [['terminate-enclave', '--all'], 'parent 1', /holds a space or a control character/],
      [['console', '--enclave-name', 'e'], '', /the host is empty/],
      [['run-enclave', '--eif-path', EIF, '--memory', '64', '--cpu-count', '2'], '-x', /starts with '-'/],
      [['doctor'], '-x', /starts with '-'/],
    ] as const) {
      const r = run(...args, `--host=${host}`);
      assert.equal(r.status, 2, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^error: --host: .*${why.source}`));
      assert.equal(r.stdout, '');
    }
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
