import * as assert from 'node:assert/strict';
import { DEFAULT_SSH_OPTIONS } from '../../../../src/engine/node';
import {
  checkCommand,
  nitroCliOptionsFrom,
  sshHostProblem,
  targetText,
} from '../../../../src/extension/parents/nitroCliSettings';

const onParent = { deviceExists: true, homeDir: '/home/dev' };
const onLaptop = { deviceExists: false, homeDir: '/home/dev' };

describe('(unit) extension: the nitro-cli backend options from the settings', () => {
  it('with no settings: a local parent only where /dev/nitro_enclaves exists, default ssh options', () => {
    assert.deepEqual(nitroCliOptionsFrom({}, onLaptop), {
      options: { targets: [], ssh: DEFAULT_SSH_OPTIONS },
      warnings: [],
    });
    assert.deepEqual(nitroCliOptionsFrom({}, onParent).options.targets, [{ kind: 'local', nitroCliPath: 'nitro-cli' }]);
  });

  it('follows localParent: always, never, auto', () => {
    const local = (localParent: unknown, env = onLaptop) =>
      nitroCliOptionsFrom({ localParent, nitroCliPath: '/opt/aws/bin/nitro-cli' }, env).options.targets;
    assert.deepEqual(local('always'), [{ kind: 'local', nitroCliPath: '/opt/aws/bin/nitro-cli' }]);
    assert.deepEqual(local('never', onParent), []);
    assert.deepEqual(local('auto', onParent), [{ kind: 'local', nitroCliPath: '/opt/aws/bin/nitro-cli' }]);
    assert.deepEqual(local('auto'), []);
    const bad = nitroCliOptionsFrom({ localParent: 'sometimes' }, onParent);
    assert.equal(bad.options.targets.length, 1, 'an unknown mode is auto');
    assert.match(
      bad.warnings[0] ?? '',
      /nitroEnclaves\.parents\.localParent: "sometimes" is not one of auto, always, never/,
    );
  });

  it('takes hosts as strings or objects, in order, after the local parent', () => {
    const { options, warnings } = nitroCliOptionsFrom(
      {
        sshHosts: [
          'ec2-user@10.0.0.12',
          { host: 'build-parent', nitroCliPath: '/usr/local/bin/nitro-cli', name: 'Build parent' },
          { host: ' fe80::1%eth0 ' },
        ],
      },
      onParent,
    );
    assert.deepEqual(warnings, []);
    assert.deepEqual(options.targets, [
      { kind: 'local', nitroCliPath: 'nitro-cli' },
      { kind: 'ssh', host: 'ec2-user@10.0.0.12', nitroCliPath: 'nitro-cli' },
      { kind: 'ssh', host: 'build-parent', nitroCliPath: '/usr/local/bin/nitro-cli', name: 'Build parent' },
      { kind: 'ssh', host: 'fe80::1%eth0', nitroCliPath: 'nitro-cli' },
    ]);
  });

  it('refuses hosts ssh would read as options or a shell would interpret, keeping the good ones', () => {
    const hostile = [
      '-oProxyCommand=touch /tmp/pwned',
      'user@-oProxyCommand=x',
      '--',
      'host; rm -rf ~',
      'host name',
      '$(id)',
      'a@b@c',
      'ssh://host:22',
      '',
      'x'.repeat(300),
      { host: '-F/tmp/evil' },
      { host: 'ok-host', nitroCliPath: 'nitro-cli; id' },
      { host: 'ok-host', nitroCliPath: '-h' },
      { host: 'ok-host', name: '' },
      { host: 'ok-host', name: 'line\nbreak' },
      { nitroCliPath: 'nitro-cli' },
      42,
      null,
      ['nested'],
    ];
    const { options, warnings } = nitroCliOptionsFrom({ sshHosts: [...hostile, 'good@parent'] }, onLaptop);
    assert.deepEqual(options.targets, [{ kind: 'ssh', host: 'good@parent', nitroCliPath: 'nitro-cli' }]);
    assert.equal(warnings.length, hostile.length, warnings.join('\n'));
    for (const [i, w] of warnings.entries())
      assert.match(w, new RegExp(`^nitroEnclaves\\.parents\\.sshHosts\\[${i}\\]: .*left out$`));
    assert.match(warnings[0] ?? '', /starts with "-", which ssh would read as an option: refused/);
    assert.match(warnings[1] ?? '', /refused/);
    for (const w of warnings) assert.ok(w.length < 300, 'a warning quotes a long value shortened');
  });

  it('keeps each host once (the first, compared without case) and says so', () => {
    const { options, warnings } = nitroCliOptionsFrom(
      { sshHosts: ['Parent-A', { host: 'parent-a', name: 'again' }, 'user@parent-a', 'parent-b', 'parent-b'] },
      onLaptop,
    );
    assert.deepEqual(
      options.targets.map((t) => (t.kind === 'ssh' ? t.host : t.kind)),
      ['Parent-A', 'user@parent-a', 'parent-b'],
    );
    assert.deepEqual(warnings, [
      'nitroEnclaves.parents.sshHosts[1]: the host parent-a is listed already (item 0); left out',
      'nitroEnclaves.parents.sshHosts[4]: the host parent-b is listed already (item 3); left out',
    ]);
  });

  it('ignores unknown keys of a host object with a warning, and a list that is not a list', () => {
    const typo = nitroCliOptionsFrom({ sshHosts: [{ host: 'h1', nitroCLIPath: '/x' }] }, onLaptop);
    assert.deepEqual(typo.options.targets, [{ kind: 'ssh', host: 'h1', nitroCliPath: 'nitro-cli' }]);
    assert.deepEqual(typo.warnings, [
      'nitroEnclaves.parents.sshHosts[0]: "nitroCLIPath" is not host, nitroCliPath or name; ignored',
    ]);
    const notList = nitroCliOptionsFrom({ sshHosts: 'h1' }, onLaptop);
    assert.deepEqual(notList.options.targets, []);
    assert.match(notList.warnings[0] ?? '', /is not a list of hosts/);
  });

  it('takes the ssh options, replacing bad values by their defaults', () => {
    const good = nitroCliOptionsFrom(
      { sshPath: '/usr/bin/ssh', sshConfigFile: '~/.ssh/parents.conf', connectTimeoutSeconds: 2.5 },
      onLaptop,
    );
    assert.deepEqual(good.options.ssh, {
      sshPath: '/usr/bin/ssh',
      configFile: '/home/dev/.ssh/parents.conf',
      connectTimeoutSeconds: 3,
    });
    assert.deepEqual(good.warnings, []);
    assert.deepEqual(nitroCliOptionsFrom({ sshConfigFile: '' }, onLaptop).options.ssh, DEFAULT_SSH_OPTIONS);
    const bad = nitroCliOptionsFrom(
      { sshPath: '-oProxyCommand=x', sshConfigFile: '-v', connectTimeoutSeconds: 0, nitroCliPath: 7 },
      onParent,
    );
    assert.deepEqual(bad.options, {
      targets: [{ kind: 'local', nitroCliPath: 'nitro-cli' }],
      ssh: DEFAULT_SSH_OPTIONS,
    });
    assert.equal(bad.warnings.length, 4, bad.warnings.join('\n'));
    assert.equal(nitroCliOptionsFrom({ connectTimeoutSeconds: 1e9 }, onLaptop).options.ssh.connectTimeoutSeconds, 300);
    assert.equal(nitroCliOptionsFrom({ connectTimeoutSeconds: 'ten' }, onLaptop).options.ssh.connectTimeoutSeconds, 10);
    assert.equal(
      nitroCliOptionsFrom({ connectTimeoutSeconds: Number.NaN }, onLaptop).options.ssh.connectTimeoutSeconds,
      10,
    );
  });

  it('never lets a value that starts with "-" through', () => {
    assert.match(sshHostProblem('-x') ?? '', /refused/);
    assert.match(sshHostProblem('me@-x') ?? '', /refused/);
    assert.equal(sshHostProblem('me@host-1.example.com'), undefined);
    assert.equal(sshHostProblem('::1'), undefined);
  });

  it('says how to check a target in a terminal, and names it in the log', () => {
    const ssh = { sshPath: 'ssh', connectTimeoutSeconds: 10 };
    assert.equal(
      checkCommand({ kind: 'ssh', host: 'ec2-user@10.0.0.12', nitroCliPath: 'nitro-cli' }, ssh),
      'ssh -o BatchMode=yes -o ConnectTimeout=10 ec2-user@10.0.0.12 nitro-cli describe-enclaves',
    );
    assert.equal(
      checkCommand(
        { kind: 'ssh', host: 'p', nitroCliPath: '/opt/nitro-cli' },
        { sshPath: '/opt/my ssh/ssh', configFile: "/tmp/it's.conf", connectTimeoutSeconds: 3 },
      ),
      `'/opt/my ssh/ssh' -o BatchMode=yes -o ConnectTimeout=3 -F '/tmp/it'\\''s.conf' ` +
        `p /opt/nitro-cli describe-enclaves`,
    );
    assert.equal(checkCommand({ kind: 'local', nitroCliPath: 'nitro-cli' }, ssh), 'nitro-cli describe-enclaves');
    assert.equal(targetText({ kind: 'local', nitroCliPath: 'nitro-cli' }), 'this machine (nitro-cli)');
    assert.equal(
      targetText({ kind: 'ssh', host: 'h', nitroCliPath: 'nitro-cli', name: 'Build' }),
      '"Build": h over SSH (nitro-cli)',
    );
  });
});
