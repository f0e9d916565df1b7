import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { repoPath } from '../repo';
import { FakeTree, type TreeSpec } from '../doctorTree';

const cli = repoPath('dist/cli.js');
const eif = repoPath('test/fixtures/eif/synthetic-v4-signed.eif');

describe('(unit) nitro-dev doctor on fake system trees', function () {
  this.timeout(120_000);
  const trees: FakeTree[] = [];
  const tree = (spec: TreeSpec = {}) => {
    const t = new FakeTree(spec);
    trees.push(t);
    return t;
  };
  after(() => trees.forEach((t) => t.dispose()));
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [cli, 'doctor', ...args], { encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const json = (stdout: string) =>
    JSON.parse(stdout) as { findings: { id: string; status: string; message: string; fix: string | null }[] };

  it('--json on a healthy parent prints exactly {"findings":[{id,status,message,fix}]} and exits 0', () => {
    const r = run('--system-root', tree().root, '--json');
    assert.equal(r.status, 0, r.stderr);
    const out = json(r.stdout);
    assert.deepEqual(Object.keys(out), ['findings']);
    for (const f of out.findings) {
      assert.deepEqual(Object.keys(f), ['id', 'status', 'message', 'fix']);
      assert.ok(['ok', 'warning'].includes(f.status), JSON.stringify(f));
    }
    assert.ok(out.findings.some((f) => f.id === 'device' && f.status === 'ok' && f.fix === null));
  });

  it('a failure exits 1; the text report marks it and prints its fix', () => {
    const t = tree({ driver: false, device: false });
    const r = run('--system-root', t.root);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^\[FAIL\] driver: The nitro_enclaves driver is not loaded/m);
    assert.match(r.stdout, /^ {7}fix: sudo modprobe nitro_enclaves$/m);
    assert.match(r.stdout, /^\[ ok \] nitro-cli: /m);
    assert.match(r.stdout, /^\[warn\] allocator-service: .*not checked/m);
  });

  it('hugepages short and a bad allocator.yaml exit 1 with their findings', () => {
    const short = json(run('--system-root', tree({ hugepages2M: 10 }).root, '--json').stdout);
    assert.equal(short.findings.find((f) => f.id === 'hugepages')?.status, 'failure');
    const bad = run('--system-root', tree({ allocator: 'memory_mib: lots\ncpu_count: 2\n' }).root, '--json');
    assert.equal(bad.status, 1);
    assert.match(json(bad.stdout).findings.find((f) => f.id === 'allocator')?.message ?? '', /positive whole number/);
  });

  it('a planned run: the fixture EIF fits; a sparse 200 MiB EIF needs 800 MiB (E26); 4 CPUs exceed the pool', () => {
    const t = tree();
    const fits = run('--system-root', t.root, '--json', '--eif-path', eif, '--memory', '128', '--cpu-count', '2');
    assert.equal(fits.status, 0, fits.stdout);
    const big = t.sparseFile('big.eif', 200 * 1024 * 1024);
    const r = run('--system-root', t.root, '--json', '--eif-path', big, '--memory', '512M', '--cpu-count', '4');
    assert.equal(r.status, 1);
    const findings = json(r.stdout).findings;
    assert.match(findings.find((f) => f.id === 'run-memory')?.message ?? '', /^\[E26\] At least 800 MiB/);
    assert.equal(findings.find((f) => f.id === 'run-memory')?.fix, '--memory 800');
    assert.match(findings.find((f) => f.id === 'run-cpus')?.message ?? '', /^\[E22\]/);
    const missing = run(
      '--system-root',
      t.root,
      '--json',
      '--eif-path',
      'nope.eif',
      '--memory',
      '512',
      '--cpu-count',
      '2',
    );
    assert.equal(missing.status, 1);
    assert.equal(json(missing.stdout).findings.find((f) => f.id === 'eif-file')?.status, 'failure');
  });

  it('usage errors exit 2: an incomplete plan, a bad memory value, --host (not yet supported)', () => {
    const t = tree();
    const partial = run('--system-root', t.root, '--eif-path', eif);
    assert.equal(partial.status, 2);
    assert.match(partial.stderr, /go together/);
    const memory = run('--system-root', t.root, '--eif-path', eif, '--memory', '1.5G', '--cpu-count', '2');
    assert.equal(memory.status, 2);
    assert.match(memory.stderr, /1\.5G/);
    const host = run('--host', 'parent-1');
    assert.equal(host.status, 2);
    assert.match(host.stderr, /--host is not supported yet/);
  });
});
