import * as assert from 'node:assert/strict';
import {
  doctorMarkdown,
  runDoctor,
  parseSysCpuList,
  type DoctorFinding,
  type DoctorInput,
  type SystemView,
} from '../../../../src/engine/doctor/doctor';

interface Entry {
  text?: string;
  dir?: boolean;
  mode?: number;
  gid?: number;
}

/** An in-memory parent: paths as on the machine. */
function memorySystem(entries: Record<string, Entry>): SystemView {
  return {
    readText: async (p) => entries[p]?.text,
    stat: async (p) => {
      const e = entries[p];
      if (!e) return undefined;
      return { mode: e.mode ?? 0o644, uid: 0, gid: e.gid ?? 0, isDirectory: e.dir === true };
    },
    list: async (p) => {
      const prefix = `${p}/`;
      const names = Object.keys(entries)
        .filter((k) => k.startsWith(prefix))
        .map((k) => k.slice(prefix.length).split('/')[0] as string);
      return names.length > 0 ? [...new Set(names)] : undefined;
    },
  };
}

const NE_GID = 1001;

function healthy(): Record<string, Entry> {
  return {
    '/usr/bin/nitro-cli': { text: '', mode: 0o755 },
    '/sys/module/nitro_enclaves': { dir: true },
    '/sys/module/nitro_enclaves/parameters/ne_cpus': { text: '1,5\n' },
    '/dev/nitro_enclaves': { mode: 0o660, gid: NE_GID },
    '/etc/group': { text: `root:x:0:\nne:x:${NE_GID}:alice\n` },
    '/etc/nitro_enclaves/allocator.yaml': { text: '---\nmemory_mib: 512\ncpu_count: 2\n' },
    '/etc/nitro_enclaves/vsock-proxy.yaml': {
      text: 'allowlist:\n- {address: kms.eu-west-1.amazonaws.com, port: 443}\n',
    },
    '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages': { text: '256\n' },
    '/sys/devices/system/cpu/online': { text: '0-7\n' },
    '/proc/meminfo': { text: 'MemTotal: 16303412 kB\n' },
  };
}

const alice = { uid: 1000, gids: [1000, NE_GID], name: 'alice' };
const ACTIVE = { 'nitro-enclaves-allocator.service': 'active', 'nitro-enclaves-vsock-proxy.service': 'active' };

async function doctor(entries: Record<string, Entry>, extra: Partial<DoctorInput> = {}): Promise<DoctorFinding[]> {
  return runDoctor({
    system: memorySystem(entries),
    user: alice,
    nitroCliVersion: 'Nitro CLI 1.4.2',
    services: ACTIVE,
    ...extra,
  });
}

const byId = (findings: readonly DoctorFinding[], id: string): DoctorFinding => {
  const f = findings.find((x) => x.id === id);
  assert.ok(f, `no finding ${id} in ${JSON.stringify(findings)}`);
  return f;
};

describe('(unit) engine doctor', () => {
  it('finds a healthy parent all ok, each finding without a fix', async () => {
    const findings = await doctor(healthy());
    assert.deepEqual(
      findings.map((f) => f.id),
      [
        'nitro-cli',
        'driver',
        'device',
        'allocator',
        'hugepages',
        'cpu-pool',
        'vsock-proxy-allowlist',
        'allocator-service',
        'vsock-proxy-service',
      ],
    );
    for (const f of findings) assert.deepEqual([f.status, f.fix], ['ok', null], JSON.stringify(f));
    assert.match(byId(findings, 'nitro-cli').message, /Nitro CLI 1\.4\.2/);
    assert.match(byId(findings, 'hugepages').message, /512 MiB/);
    assert.match(byId(findings, 'cpu-pool').message, /1,5 \(2 CPUs\)/);
  });

  it('a user outside group ne fails with usermod; one added after login gets a warning', async () => {
    const outside = await doctor(healthy(), { user: { uid: 1000, gids: [1000], name: 'bob' } });
    assert.equal(byId(outside, 'device').status, 'failure');
    assert.equal(byId(outside, 'device').fix, 'sudo usermod -aG ne $USER');
    const stale = await doctor(healthy(), { user: { uid: 1000, gids: [1000], name: 'alice' } });
    assert.equal(byId(stale, 'device').status, 'warning');
    assert.equal(byId(stale, 'device').fix, 'newgrp ne');
  });

  it('a device of another group or mode fails with chgrp/chmod; no ne group at all says groupadd', async () => {
    const entries = healthy();
    entries['/dev/nitro_enclaves'] = { mode: 0o600, gid: NE_GID };
    const f = byId(await doctor(entries), 'device');
    assert.equal(f.status, 'failure');
    assert.match(f.message, /mode 600/);
    assert.equal(f.fix, 'sudo chgrp ne /dev/nitro_enclaves && sudo chmod 660 /dev/nitro_enclaves');
    const none = healthy();
    none['/etc/group'] = { text: 'root:x:0:\n' };
    assert.match(byId(await doctor(none), 'device').fix ?? '', /groupadd -r ne/);
  });

  it('inactive services fail (allocator) or warn (vsock-proxy); unasked ones warn as not checked', async () => {
    const down = await doctor(healthy(), {
      services: { 'nitro-enclaves-allocator.service': 'failed', 'nitro-enclaves-vsock-proxy.service': 'inactive' },
    });
    assert.equal(byId(down, 'allocator-service').status, 'failure');
    assert.equal(byId(down, 'allocator-service').fix, 'sudo systemctl restart nitro-enclaves-allocator.service');
    assert.match(byId(down, 'allocator-service').message, /journalctl -eu/);
    assert.equal(byId(down, 'vsock-proxy-service').status, 'warning');
    const unasked = await runDoctor({ system: memorySystem(healthy()), user: alice });
    assert.equal(byId(unasked, 'allocator-service').status, 'warning');
    assert.match(byId(unasked, 'allocator-service').message, /not checked/);
    assert.match(byId(unasked, 'nitro-cli').message, /version was not asked/);
    assert.equal(byId(unasked, 'nitro-cli').status, 'ok');
  });

  it('nitro-cli missing, not executable or failing --version is a failure', async () => {
    const missing = healthy();
    delete missing['/usr/bin/nitro-cli'];
    assert.equal(byId(await doctor(missing), 'nitro-cli').status, 'failure');
    const plain = healthy();
    plain['/usr/bin/nitro-cli'] = { text: '', mode: 0o644 };
    assert.match(byId(await doctor(plain), 'nitro-cli').fix ?? '', /chmod 755/);
    assert.equal(byId(await doctor(healthy(), { nitroCliVersion: '' }), 'nitro-cli').status, 'failure');
  });

  it("asks another nitro-cli's answer, not /usr/bin/nitro-cli, when one is named", async () => {
    const elsewhere = healthy();
    delete elsewhere['/usr/bin/nitro-cli'];
    const answered = byId(
      await doctor(elsewhere, { nitroCliPath: '/opt/nitro/bin/nitro-cli', nitroCliVersion: 'Nitro CLI 1.5.0' }),
      'nitro-cli',
    );
    assert.equal(answered.status, 'ok');
    assert.match(answered.message, /\/opt\/nitro\/bin\/nitro-cli\): Nitro CLI 1\.5\.0/);
    const silent = byId(
      await doctor(healthy(), { nitroCliPath: '/opt/nitro/bin/nitro-cli', nitroCliVersion: '' }),
      'nitro-cli',
    );
    assert.equal(silent.status, 'failure');
    assert.match(silent.message, /`\/opt\/nitro\/bin\/nitro-cli --version` failed/);
    // A bare name that does not answer: the package's nitro-cli is looked at, as without a name.
    const bare = byId(await doctor(elsewhere, { nitroCliPath: 'nitro-cli', nitroCliVersion: '' }), 'nitro-cli');
    assert.equal(bare.status, 'failure');
    assert.match(bare.message, /not installed \(\/usr\/bin\/nitro-cli is missing\)/);
  });

  it('checks allocator.yaml against the instance: CPU 0 in cpu_pool is a failure at its line', async () => {
    const entries = healthy();
    entries['/etc/nitro_enclaves/allocator.yaml'] = { text: '---\nmemory_mib: 512\ncpu_pool: 0,4\n' };
    entries['/sys/module/nitro_enclaves/parameters/ne_cpus'] = { text: '0,4\n' };
    const f = byId(await doctor(entries), 'allocator');
    assert.equal(f.status, 'failure');
    assert.match(f.message, /line 3/);
  });

  it('a CPU pool that differs from cpu_pool, or an empty one, is a failure with the allocator restart', async () => {
    const entries = healthy();
    entries['/etc/nitro_enclaves/allocator.yaml'] = { text: 'memory_mib: 512\ncpu_pool: 2,6\n' };
    const f = byId(await doctor(entries), 'cpu-pool');
    assert.equal(f.status, 'failure');
    assert.match(f.message, /pool is 1,5, but allocator\.yaml asks for 2,6/);
    entries['/sys/module/nitro_enclaves/parameters/ne_cpus'] = { text: '\n' };
    assert.match(byId(await doctor(entries), 'cpu-pool').message, /empty/);
  });

  it('the vsock-proxy allowlist: not YAML, no allowlist, entries without a port', async () => {
    const cases: [string, RegExp][] = [
      ['allowlist: [a', /not YAML/],
      ['other: 1\n', /no 'allowlist:'/],
      ['allowlist:\n- {address: kms.eu-west-1.amazonaws.com, port: 443}\n- {address: x.example}\n', /entry 2 must/],
      ['allowlist:\n- {address: x.example, port: 70000}\n', /entry 1 must/],
      // A port in quotes is a string: vsock-proxy stops its check there ("No port field or invalid type").
      ['allowlist:\n- {address: x.example, port: "443"}\n', /entry 1 must .*\(line 2: /],
    ];
    for (const [text, message] of cases) {
      const entries = healthy();
      entries['/etc/nitro_enclaves/vsock-proxy.yaml'] = { text };
      const f = byId(await doctor(entries), 'vsock-proxy-allowlist');
      assert.equal(f.status, 'failure', text);
      assert.match(f.message, message);
    }
    const missing = healthy();
    delete missing['/etc/nitro_enclaves/vsock-proxy.yaml'];
    assert.equal(byId(await doctor(missing), 'vsock-proxy-allowlist').status, 'warning');
  });

  it('a planned run: E26 below 4 × the EIF, E27 above the hugepages, E22 above the pool, odd CPUs E29', async () => {
    const fits = await doctor(healthy(), { plan: { eifSize: 50 * 1024 * 1024, memoryMiB: 256, cpuCount: 2 } });
    assert.equal(byId(fits, 'run-memory').status, 'ok');
    assert.equal(byId(fits, 'run-cpus').status, 'ok');
    const small = byId(
      await doctor(healthy(), { plan: { eifSize: 100 * 1024 * 1024, memoryMiB: 256, cpuCount: 2 } }),
      'run-memory',
    );
    assert.equal(small.status, 'failure');
    assert.match(small.message, /^\[E26\] At least 400 MiB/);
    assert.equal(small.fix, '--memory 400');
    const big = byId(await doctor(healthy(), { plan: { eifSize: 1024, memoryMiB: 1024, cpuCount: 2 } }), 'run-memory');
    assert.match(big.message, /^\[E27\] 1024 MiB is more than the 512 MiB/);
    const cpus = byId(await doctor(healthy(), { plan: { eifSize: 1024, memoryMiB: 64, cpuCount: 4 } }), 'run-cpus');
    assert.match(cpus.message, /^\[E22\] The enclave pool has 2 CPUs \(1,5\)/);
    const odd = byId(await doctor(healthy(), { plan: { eifSize: 1024, memoryMiB: 64, cpuCount: 1 } }), 'run-cpus');
    assert.match(odd.message, /^\[E29\]/);
  });

  it('parses sysfs CPU lists and refuses malformed ones', () => {
    assert.deepEqual(parseSysCpuList('1-3,5\n'), [1, 2, 3, 5]);
    assert.deepEqual(parseSysCpuList('\n'), []);
    assert.equal(parseSysCpuList('1-x'), undefined);
    assert.equal(parseSysCpuList('3-1'), undefined);
    assert.equal(parseSysCpuList('0-4294967295'), undefined);
  });
});

describe('(unit) engine doctor Markdown report', () => {
  it('a heading, the counts, one item per finding with its fix as a code span; markup in messages escaped', () => {
    const md = doctorMarkdown(
      [
        {
          id: 'driver',
          status: 'failure',
          message: 'The nitro_enclaves driver is *not* loaded.',
          fix: 'sudo modprobe nitro_enclaves',
        },
        { id: 'device', status: 'warning', message: 'Log in again <now>.', fix: 'newgrp ne' },
        { id: 'allocator', status: 'ok', message: 'memory_mib 512 [cpu_count 2]', fix: null },
        { id: 'odd', status: 'failure', message: '_x_ and `y`', fix: 'echo `id`' },
      ],
      'parent-1',
    );
    assert.equal(
      md,
      [
        '# Nitro Enclaves doctor: parent-1',
        '',
        '2 failure(s), 1 warning(s), 1 OK.',
        '',
        '- **Failure** (`driver`): The nitro_enclaves driver is \\*not\\* loaded.',
        '  - Fix: ` sudo modprobe nitro_enclaves `',
        '- **Warning** (`device`): Log in again \\<now\\>.',
        '  - Fix: ` newgrp ne `',
        '- **OK** (`allocator`): memory_mib 512 \\[cpu_count 2\\]',
        '- **Failure** (`odd`): \\_x\\_ and \\`y\\`',
        '  - Fix: `` echo `id` ``',
        '',
      ].join('\n'),
    );
  });
});
