// The command runners: output captured up to a bound, cancellation killing the child, ssh's
// arguments (never a prompt), scp found beside ssh, and why ssh could not connect.
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  LocalRunner,
  RunnerError,
  SshRunner,
  scpPathFor,
  sshBaseArgs,
  sshFailureReason,
} from '../../../../../src/engine/node/nitrocli/runner';
import { CancelledError, Emitter } from '../../../../../src/engine/platform/lifecycle';

describe('nitro-cli command runners', function () {
  this.timeout(60_000);

  it('stops a command that prints more than the bound, instead of buffering it', async () => {
    const runner = new LocalRunner();
    await assert.rejects(
      runner.runScript('while :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done', { maxStdout: 1 << 16 }),
      (e: unknown) => e instanceof RunnerError && /more than 65536 bytes/.test(e.message),
    );
  });

  it('kills the command when cancelled', async () => {
    const runner = new LocalRunner();
    const cancel = new Emitter<unknown>();
    let cancelled = false;
    const token = {
      get isCancellationRequested() {
        return cancelled;
      },
      onCancellationRequested: cancel.event,
    };
    const running = runner.runScript('echo started; exec sleep 600', { cancellation: token });
    cancelled = true;
    cancel.fire(undefined);
    await assert.rejects(running, CancelledError);
  });

  it('ends a run at its bound even when a process it started still holds its output open', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-runner-'));
    const pidFile = path.join(dir, 'pid');
    try {
      const runner = new LocalRunner();
      // The bound is what is tested, not how long it is: this script never finishes.
      await assert.rejects(
        runner.runScript(`sleep 100000 & echo $! >'${pidFile}'; wait`, { timeoutMs: 2000 }),
        (e: unknown) => e instanceof RunnerError && e.message === 'sh did not finish in 2 s',
      );
    } finally {
      if (existsSync(pidFile)) process.kill(Number(readFileSync(pidFile, 'utf8')));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('captures stdout, stderr and the exit status; a missing program is a clear error', async () => {
    const runner = new LocalRunner();
    const r = await runner.runScript('printf out; printf err >&2; exit 7');
    assert.deepEqual([r.stdout, r.stderr, r.status], ['out', 'err', 7]);
    await assert.rejects(runner.run(['/no/such/program']), /\/no\/such\/program was not found/);
  });

  it('runs ssh in batch mode without passwords, and finds scp beside ssh', () => {
    assert.deepEqual(sshBaseArgs({ sshPath: 'ssh', connectTimeoutSeconds: 7, configFile: '/c' }), [
      '-F',
      '/c',
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=7',
      '-o',
      'PasswordAuthentication=no',
      '-o',
      'KbdInteractiveAuthentication=no',
    ]);
    assert.equal(scpPathFor('ssh'), 'scp');
    assert.equal(scpPathFor('/opt/openssh/bin/ssh'), '/opt/openssh/bin/scp');
  });

  it("reads ssh's reason from its stderr", () => {
    assert.equal(
      sshFailureReason('ssh: connect to host 10.0.0.5 port 22: Connection timed out\r\n'),
      'connect to host 10.0.0.5 port 22: Connection timed out',
    );
    assert.equal(
      sshFailureReason('ssh: Could not resolve hostname nope: Name or service not known\n'),
      'Could not resolve hostname nope: Name or service not known',
    );
    assert.equal(
      sshFailureReason('Warning: Permanently added x\nuser@h: Permission denied (publickey).\n'),
      'user@h: Permission denied (publickey).',
    );
    // Newer OpenSSH's warning block, before or after the reason.
    assert.equal(
      sshFailureReason(
        '** WARNING: connection is not using a post-quantum key exchange algorithm.\n' +
          '** This session may be vulnerable to "store now, decrypt later" attacks.\n' +
          'user@h: Permission denied (publickey).\n** The server may need to be upgraded.\n',
      ),
      'user@h: Permission denied (publickey).',
    );
    // A host whose key changed: the @ banner, then the verdict.
    assert.equal(
      sshFailureReason(
        '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n' +
          '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n' +
          'Host key for h has changed and you have requested strict checking.\nHost key verification failed.\n',
      ),
      'Host key verification failed.',
    );
    const long = sshFailureReason('x'.repeat(10_000));
    assert.equal(long.length, 500);
    assert.ok(long.endsWith('…'));
    assert.equal(sshFailureReason(''), 'ssh failed without a message');
    assert.equal(sshFailureReason('Warning: Permanently added x\n'), 'ssh failed without a message');
  });

  describe('SshRunner (a stand-in ssh that runs the remote command here)', () => {
    let dir: string;
    let ssh: string;
    before(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-ssh-runner-'));
      ssh = path.join(dir, 'ssh');
      // A stand-in for ssh in tests: records its arguments, then becomes its last one, the remote
      // command (`sh -s` here, split into its words), so that killing it kills what runs.
      writeFileSync(ssh, `#!/bin/sh\nprintf '%s\\n' "$@" >'${dir}/args'\nshift $(($# - 1))\nexec $1\n`, {
        mode: 0o755,
      });
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("gives a script to `sh -s` on its standard input; a command in it cannot read the script's rest", async () => {
      const runner = new SshRunner('parent-1', { sshPath: ssh, connectTimeoutSeconds: 5 });
      const r = await runner.runScript(`cat\necho "it's $((1 + 2))"\nexit 4`);
      assert.deepEqual([r.stdout, r.status], ["it's 3\n", 4]);
      const args = readFileSync(path.join(dir, 'args'), 'utf8').trimEnd().split('\n');
      assert.deepEqual(args.slice(-4), ['-T', '--', 'parent-1', 'sh -s']);
      assert.ok(args.includes('BatchMode=yes'));
    });

    it('refuses a host ssh must not be given before ssh runs', async () => {
      rmSync(path.join(dir, 'args'), { force: true });
      for (const [host, why] of [
        ['-oProxyCommand=touch x', /starts with '-'/],
        ['parent 1', /holds a space or a control character/],
        ['parent\n1', /holds a space or a control character/],
        ['', /the host is empty/],
      ] as const) {
        const runner = new SshRunner(host, { sshPath: ssh, connectTimeoutSeconds: 5 });
        await assert.rejects(
          runner.run(['nitro-cli', '--version']),
          (e: unknown) => e instanceof RunnerError && why.test(e.message),
        );
        await assert.rejects(runner.runScript('true'), why);
        await assert.rejects(runner.copyTo(ssh, '/tmp/x'), why);
      }
      assert.equal(existsSync(path.join(dir, 'args')), false);
    });

    it('a run that does not finish in its time bound is killed with an error naming it', async () => {
      const runner = new SshRunner('parent-1', { sshPath: ssh, connectTimeoutSeconds: 5 });
      // The bound is what is tested, not how long it is: this command never finishes.
      await assert.rejects(
        runner.runScript('exec sleep 100000', { timeoutMs: 500, label: 'the check on parent-1' }),
        (e: unknown) => e instanceof RunnerError && e.message === 'the check on parent-1 did not finish in 0.5 s',
      );
    });
  });
});
