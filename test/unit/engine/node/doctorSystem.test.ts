import * as assert from 'node:assert/strict';
import { runLocalDoctor, systemViewAt } from '../../../../src/engine/node/doctorSystem';
import type { DoctorFinding } from '../../../../src/engine/doctor/doctor';
import { FakeTree, otherGroupFile, type TreeSpec } from '../../doctorTree';

const status = (findings: readonly DoctorFinding[]) => Object.fromEntries(findings.map((f) => [f.id, f.status]));

describe('(unit) doctor on fake system trees', () => {
  const trees: FakeTree[] = [];
  const tree = (spec: TreeSpec = {}) => {
    const t = new FakeTree(spec);
    trees.push(t);
    return t;
  };
  after(() => trees.forEach((t) => t.dispose()));

  it('a healthy parent: every check ok except the services, which are not checked under another root', async () => {
    const findings = await runLocalDoctor({ systemRoot: tree().root });
    const s = status(findings);
    for (const [id, st] of Object.entries(s)) {
      if (id.endsWith('-service')) assert.equal(st, 'warning', id);
      else assert.equal(st, 'ok', `${id}: ${JSON.stringify(findings)}`);
    }
  });

  it('driver missing: the driver, the device and the CPU pool fail (E19 territory)', async () => {
    const s = status(await runLocalDoctor({ systemRoot: tree({ driver: false, device: false }).root }));
    assert.equal(s.driver, 'failure');
    assert.equal(s.device, 'failure');
    assert.equal(s['cpu-pool'], 'failure');
  });

  it('device group wrong: /dev/nitro_enclaves not in group ne', async () => {
    const findings = await runLocalDoctor({ systemRoot: tree({ group: otherGroupFile() }).root });
    const device = findings.find((f) => f.id === 'device');
    assert.equal(device?.status, 'failure');
    assert.match(device?.message ?? '', /not group 'ne'/);
    assert.equal(device?.fix, 'sudo chgrp ne /dev/nitro_enclaves && sudo chmod 660 /dev/nitro_enclaves');
  });

  it('hugepages short of memory_mib (E27 territory)', async () => {
    const findings = await runLocalDoctor({ systemRoot: tree({ hugepages2M: 100 }).root });
    const f = findings.find((x) => x.id === 'hugepages');
    assert.equal(f?.status, 'failure');
    assert.match(f?.message ?? '', /Only 200 MiB .* memory_mib 512: enclaves fail with E27/);
    assert.equal(f?.fix, 'sudo systemctl restart nitro-enclaves-allocator.service');
  });

  it('pool too small for a planned run (E22)', async () => {
    const t = tree();
    const findings = await runLocalDoctor({ systemRoot: t.root, plan: { eifSize: 4096, memoryMiB: 128, cpuCount: 4 } });
    assert.equal(status(findings)['run-cpus'], 'failure');
    assert.equal(status(findings)['run-memory'], 'ok');
  });

  it('bad allocator.yaml: unknown key and both cpu_count and cpu_pool', async () => {
    const f1 = (await runLocalDoctor({ systemRoot: tree({ allocator: 'memory_mb: 512\ncpu_count: 2\n' }).root })).find(
      (f) => f.id === 'allocator',
    );
    assert.equal(f1?.status, 'failure');
    assert.match(f1?.message ?? '', /unknown key 'memory_mb'/);
    const f2 = (
      await runLocalDoctor({ systemRoot: tree({ allocator: 'memory_mib: 512\ncpu_count: 2\ncpu_pool: 1,5\n' }).root })
    ).find((f) => f.id === 'allocator');
    assert.match(f2?.message ?? '', /cannot both be set/);
    const missing = (await runLocalDoctor({ systemRoot: tree({ allocator: undefined }).root })).find(
      (f) => f.id === 'allocator',
    );
    assert.equal(missing?.status, 'failure');
  });

  it('EIF too large for the memory (E26), measured from a sparse file', async () => {
    const t = tree();
    const { size } = await import('node:fs').then((fs) => fs.statSync(t.sparseFile('big.eif', 300 * 1024 * 1024)));
    const findings = await runLocalDoctor({ systemRoot: t.root, plan: { eifSize: size, memoryMiB: 512, cpuCount: 2 } });
    const f = findings.find((x) => x.id === 'run-memory');
    assert.equal(f?.status, 'failure');
    assert.match(f?.message ?? '', /^\[E26\] At least 1200 MiB/);
  });

  it('the port reads under its root and never outside it; an oversized file reads as missing', async () => {
    const t = tree();
    t.write('etc/big', 'x'.repeat(1024 * 1024 + 1));
    const view = systemViewAt(t.root);
    assert.equal(await view.readText('/etc/nitro_enclaves/allocator.yaml'), '---\nmemory_mib: 512\ncpu_count: 2\n');
    assert.equal(await view.readText('/etc/big'), undefined);
    assert.equal(await view.readText('/sys/module/nitro_enclaves'), undefined);
    assert.equal((await view.stat('/sys/module/nitro_enclaves'))?.isDirectory, true);
    assert.deepEqual([...((await view.list('/sys/kernel/mm/hugepages')) ?? [])].sort(), [
      'hugepages-1048576kB',
      'hugepages-2048kB',
    ]);
  });
});
