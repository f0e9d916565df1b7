import * as assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runDoctor } from '../../../../src/engine/doctor/doctor';
import { CancelledError, Emitter } from '../../../../src/engine/platform/lifecycle';
import { MAX_SNAPSHOT_BYTES } from '../../../../src/engine/doctor/snapshot';
import { runRemoteDoctor } from '../../../../src/engine/node/doctorRemote';
import { RunnerError, SshUnreachableError, sshHostProblem } from '../../../../src/engine/node/nitrocli/runner';
import { systemViewAt } from '../../../../src/engine/node/doctorSystem';
import { DEFAULT_SSH_OPTIONS } from '../../../../src/engine/node/nitrocli/options';
import { FakeTree, otherGroupFile } from '../../doctorTree';
import { startSshd, type TestSshd } from '../../sshd';

describe('(unit) doctor over SSH (a real sshd on 127.0.0.1)', function () {
  this.timeout(120_000);
  let sshd: TestSshd;
  let standInDir: string;
  let standIn: string;
  const trees: FakeTree[] = [];
  before(async () => {
    sshd = await startSshd();
    standInDir = mkdtempSync(path.join(os.tmpdir(), 'nitro-cli-stand-in-'));
    standIn = path.join(standInDir, 'nitro-cli');
    // A stand-in for nitro-cli on the "remote" (not the real tool): it only prints a version line.
    writeFileSync(standIn, '#!/bin/sh\n# A stand-in for nitro-cli in tests.\necho "Nitro CLI 1.4.2"\n');
    chmodSync(standIn, 0o755);
  });
  after(async () => {
    trees.forEach((t) => t.dispose());
    rmSync(standInDir, { recursive: true, force: true });
    await sshd?.stop();
  });
  const ssh = () => ({ ...DEFAULT_SSH_OPTIONS, configFile: sshd.configFile, connectTimeoutSeconds: 30 });

  it('reads a fake parent over ssh: the findings equal the local doctor on the same tree', async () => {
    const t = new FakeTree({ group: otherGroupFile(), hugepages2M: 100 });
    trees.push(t);
    const plan = { eifSize: 300 * 1024 * 1024, memoryMiB: 512, cpuCount: 2 };
    const remote = await runRemoteDoctor({
      host: sshd.host,
      ssh: ssh(),
      nitroCliPath: standIn,
      systemRoot: t.root,
      plan,
    });
    const info = os.userInfo();
    const gids = new Set<number>([...(process.getgroups?.() ?? []), ...(process.getgid ? [process.getgid()] : [])]);
    const direct = await runDoctor({
      system: systemViewAt(t.root),
      user: { uid: info.uid, gids: [...gids], name: info.username },
      nitroCliVersion: 'Nitro CLI 1.4.2',
      nitroCliPath: standIn,
      plan,
    });
    // The services: whatever systemd says on this machine, the same on both sides.
    const withoutServices = (fs: typeof remote) => fs.filter((f) => !f.id.endsWith('-service'));
    assert.deepEqual(withoutServices(remote), withoutServices(direct));
    const byId = Object.fromEntries(remote.map((f) => [f.id, f]));
    // The nitro-cli asked is the one named for the host, not the package's /usr/bin/nitro-cli.
    assert.equal(byId['nitro-cli']?.message, `nitro-cli is installed (${standIn}): Nitro CLI 1.4.2.`);
    assert.equal(byId.device?.status, 'failure');
    assert.equal(byId.hugepages?.status, 'failure');
    assert.match(byId['run-memory']?.message ?? '', /^\[E26\]/);
  });

  it('an unreachable host (a closed port) is a clear error naming the host', async () => {
    // A port that was just free, closed again: nothing listens there.
    const net = await import('node:net');
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as import('node:net').AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const config = path.join(standInDir, 'closed_config');
    writeFileSync(config, `Host closed-parent\n  HostName 127.0.0.1\n  Port ${port}\n`);
    await assert.rejects(
      runRemoteDoctor({
        host: 'closed-parent',
        ssh: { ...DEFAULT_SSH_OPTIONS, configFile: config, connectTimeoutSeconds: 5 },
      }),
      (e: unknown) =>
        e instanceof SshUnreachableError &&
        e.host === 'closed-parent' &&
        /^cannot reach closed-parent: connect to host 127\.0\.0\.1 port \d+: Connection refused\n/.test(e.message) &&
        /\nTo see it yourself: ssh -F \S+ -o BatchMode=yes -o ConnectTimeout=5 .* -T -- closed-parent true$/.test(
          e.message,
        ),
    );
  });

  it("a host whose key is not known: ssh's reason, no prompt (BatchMode)", async () => {
    const config = path.join(standInDir, 'stranger_config');
    writeFileSync(
      config,
      `Host stranger\n  HostName 127.0.0.1\n  Port ${sshd.port}\n` +
        '  UserKnownHostsFile /dev/null\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking ask\n',
    );
    await assert.rejects(
      runRemoteDoctor({ host: 'stranger', ssh: { ...DEFAULT_SSH_OPTIONS, configFile: config } }),
      (e: unknown) => e instanceof SshUnreachableError && /^cannot reach stranger: .*host key/i.test(e.message),
    );
  });

  it('ssh warnings before the reason are passed over', async () => {
    const fake = path.join(standInDir, 'warning-ssh');
    writeFileSync(
      fake,
      '#!/bin/sh\ncat >/dev/null\n' +
        'echo "** WARNING: connection is not using a post-quantum key exchange algorithm." >&2\n' +
        'echo "Warning: Permanently added \'parent-1\' (ED25519) to the list of known hosts." >&2\n' +
        'echo "alice@parent-1: Permission denied (publickey)." >&2\nexit 255\n',
    );
    chmodSync(fake, 0o755);
    await assert.rejects(
      runRemoteDoctor({ host: 'parent-1', ssh: { ...DEFAULT_SSH_OPTIONS, sshPath: fake } }),
      /^SshUnreachableError: cannot reach parent-1: alice@parent-1: Permission denied \(publickey\)\.\nTo see it yourself: /,
    );
  });

  it('an output past the bound stops ssh with an error; so does a round trip that never ends', async () => {
    const flood = path.join(standInDir, 'flood-ssh');
    writeFileSync(flood, `#!/bin/sh\ncat >/dev/null\nexec head -c ${MAX_SNAPSHOT_BYTES + 1024 * 1024} /dev/zero\n`);
    chmodSync(flood, 0o755);
    await assert.rejects(
      runRemoteDoctor({ host: 'parent-1', ssh: { ...DEFAULT_SSH_OPTIONS, sshPath: flood } }),
      (e: unknown) =>
        e instanceof RunnerError &&
        new RegExp(`^the doctor on parent-1 printed more than ${MAX_SNAPSHOT_BYTES} bytes$`).test(e.message),
    );
    const hang = path.join(standInDir, 'hang-ssh');
    writeFileSync(hang, '#!/bin/sh\nexec sleep 100000\n');
    chmodSync(hang, 0o755);
    // The bound is what is tested, not how long it is: this ssh never finishes.
    await assert.rejects(
      runRemoteDoctor({ host: 'parent-1', ssh: { ...DEFAULT_SSH_OPTIONS, sshPath: hang }, timeoutMs: 1000 }),
      /the doctor on parent-1 did not finish in 1 s/,
    );
  });

  it('cancelling stops ssh and rejects with CancelledError', async () => {
    const hang = path.join(standInDir, 'hang-ssh');
    writeFileSync(hang, '#!/bin/sh\necho started >&2\nexec sleep 100000\n');
    chmodSync(hang, 0o755);
    const cancel = new Emitter<void>();
    let requested = false;
    const token = {
      get isCancellationRequested() {
        return requested;
      },
      onCancellationRequested: cancel.event,
    };
    const running = runRemoteDoctor({ host: 'parent-1', ssh: { ...DEFAULT_SSH_OPTIONS, sshPath: hang }, token });
    requested = true;
    cancel.fire();
    await assert.rejects(running, CancelledError);
    assert.equal(cancel.listenerCount, 0);
  });

  it('a host starting with - is refused before ssh runs', async () => {
    assert.match(sshHostProblem('-oProxyCommand=touch /tmp/x') ?? '', /starts with '-'/);
    assert.equal(sshHostProblem('user@parent-1'), undefined);
    assert.match(sshHostProblem('a b') ?? '', /space/);
    await assert.rejects(
      runRemoteDoctor({ host: '-oProxyCommand=false', ssh: DEFAULT_SSH_OPTIONS }),
      /starts with '-'/,
    );
  });

  it('ssh itself missing is a clear error', async () => {
    await assert.rejects(
      runRemoteDoctor({ host: 'parent-1', ssh: { ...DEFAULT_SSH_OPTIONS, sshPath: path.join(standInDir, 'no-ssh') } }),
      /^RunnerError: .*no-ssh was not found$/,
    );
  });

  it('a host whose shell is not the snapshot (exit status, no snapshot) is an error, not empty findings', async () => {
    // A stand-in ssh that runs the command here but prints something else.
    const fake = path.join(standInDir, 'fake-ssh');
    writeFileSync(fake, '#!/bin/sh\ncat >/dev/null\necho "Welcome!"\nexit 0\n');
    chmodSync(fake, 0o755);
    await assert.rejects(
      runRemoteDoctor({ host: 'parent-1', ssh: { ...DEFAULT_SSH_OPTIONS, sshPath: fake } }),
      /the doctor's snapshot from parent-1 is not readable: .*no 'nitro-doctor-snapshot 1' line/,
    );
    writeFileSync(fake, '#!/bin/sh\ncat >/dev/null\necho "sh: not found" >&2\nexit 127\n');
    await assert.rejects(
      runRemoteDoctor({ host: 'parent-1', ssh: { ...DEFAULT_SSH_OPTIONS, sshPath: fake } }),
      /the doctor's snapshot failed on parent-1 \(exit 127\): sh: not found/,
    );
  });
});
