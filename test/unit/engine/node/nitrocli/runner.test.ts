// The command runners: output captured up to a bound, cancellation killing the child, ssh's
// arguments (never a prompt), scp found beside ssh, and why ssh could not connect.
import * as assert from 'node:assert/strict';
import {
  LocalRunner,
  RunnerError,
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
      'Connection timed out',
    );
    assert.equal(
      sshFailureReason('ssh: Could not resolve hostname nope: Name or service not known\n'),
      'Could not resolve hostname nope: Name or service not known',
    );
    assert.equal(
      sshFailureReason('Warning: Permanently added x\nuser@h: Permission denied (publickey).\n'),
      'user@h: Permission denied (publickey).',
    );
    assert.equal(sshFailureReason(''), 'ssh failed without a message');
  });
});
