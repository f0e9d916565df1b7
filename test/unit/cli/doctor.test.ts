import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { repoPath } from '../repo';
import { FakeTree, type TreeSpec } from '../doctorTree';
import { startSshd, type TestSshd } from '../sshd';

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

  it('usage errors exit 2: an incomplete plan, a bad memory value, --host with --system-root or an option', () => {
    const t = tree();
    const partial = run('--system-root', t.root, '--eif-path', eif);
    assert.equal(partial.status, 2);
    assert.match(partial.stderr, /go together/);
    const memory = run('--system-root', t.root, '--eif-path', eif, '--memory', '1.5G', '--cpu-count', '2');
    assert.equal(memory.status, 2);
    assert.match(memory.stderr, /1\.5G/);
    const both = run('--host', 'parent-1', '--system-root', t.root);
    assert.equal(both.status, 2);
    assert.match(both.stderr, /the argument '--host <HOST>' cannot be used with '--system-root <DIR>'/);
    const alone = run('--ssh-config', 'cfg');
    assert.equal(alone.status, 2);
    assert.match(alone.stderr, /the argument '--ssh-config <FILE>' requires '--host <HOST>'/);
    const nitroCli = run('--nitro-cli', '/opt/nitro-cli');
    assert.equal(nitroCli.status, 2);
    assert.match(nitroCli.stderr, /the argument '--nitro-cli <PATH>' requires '--host <HOST>'/);
    const option = run('--host=-oProxyCommand=touch x', '--json');
    assert.equal(option.status, 2);
    assert.match(option.stderr, /--host: the host '-oProxyCommand=touch x' starts with '-'/);
    assert.equal(option.stdout, '');
  });
});

describe('(unit) nitro-dev doctor --host (over a real sshd on 127.0.0.1)', function () {
  this.timeout(120_000);
  let sshd: TestSshd;
  let scratch: FakeTree;
  before(async () => {
    sshd = await startSshd();
    scratch = new FakeTree();
  });
  after(async () => {
    scratch?.dispose();
    await sshd?.stop();
  });
  // Asynchronous: the test process must not block while ssh and the CLI run.
  const run = (...args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [cli, 'doctor', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });

  it('over ssh on this machine: what the local doctor says, in the same shape (text and --json)', async () => {
    // sshd runs on this machine: the remote parent is this machine's own /, read through ssh.
    const local = await run('--json');
    const remote = await run('--host', sshd.host, '--ssh-config', sshd.configFile, '--json');
    assert.equal(remote.stderr, '');
    assert.deepEqual(JSON.parse(remote.stdout), JSON.parse(local.stdout));
    assert.equal(remote.status, local.status);
    // This machine is no parent: the driver is missing, so the doctor fails.
    assert.equal(remote.status, 1);
    const text = await run('--host', sshd.host, '--ssh-config', sshd.configFile);
    assert.equal(text.stdout, (await run()).stdout);
    assert.match(text.stdout, /^\[FAIL\] driver: /m);
  });

  it('a planned run over ssh measures the EIF here: a sparse 200 MiB image needs 800 MiB (E26)', async () => {
    const big = scratch.sparseFile('big.eif', 200 * 1024 * 1024);
    const standIn = path.join(scratch.root, 'stand-in-nitro-cli');
    // A stand-in for nitro-cli on the "remote" (not the real tool): it only prints a version line.
    writeFileSync(standIn, '#!/bin/sh\necho "Nitro CLI 1.4.2"\n', { mode: 0o755 });
    const r = await run(
      '--host',
      sshd.host,
      '--ssh-config',
      sshd.configFile,
      '--nitro-cli',
      standIn,
      '--json',
      '--eif-path',
      big,
      '--memory',
      '512',
      '--cpu-count',
      '2',
    );
    assert.equal(r.status, 1, r.stderr);
    const findings = json(r.stdout).findings;
    assert.match(findings.find((f) => f.id === 'run-memory')?.message ?? '', /^\[E26\] At least 800 MiB/);
  });

  it('Ctrl-C while ssh runs stops it: "Cancelled.", exit 130', async () => {
    // A stand-in ssh first in PATH: it marks that it runs, then never finishes.
    const bin = path.join(scratch.root, 'fake-bin');
    const marker = path.join(scratch.root, 'ssh-started');
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, 'ssh'), `#!/bin/sh\ntouch '${marker}'\nexec sleep 100000\n`, { mode: 0o755 });
    const child = spawn(process.execPath, [cli, 'doctor', '--host', 'parent-1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    // Wait for the state (ssh running), not for a time.
    while (!existsSync(marker)) await new Promise((resolve) => setTimeout(resolve, 20));
    child.kill('SIGINT');
    assert.equal(await closed, 130, stderr);
    assert.equal(stderr, 'Cancelled.\n');
  });

  it('an unreachable host: a [ Exx ] report naming the host and the reason, nothing on stdout', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const config = path.join(scratch.root, 'closed_config');
    writeFileSync(config, `Host closed-parent\n  HostName 127.0.0.1\n  Port ${port}\n`);
    const r = await run('--host', 'closed-parent', '--ssh-config', config, '--json');
    assert.equal(r.stdout, '');
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^\[ E00 \] Unspecified error\. cannot reach closed-parent: connect to host 127\.0\.0\.1 port \d+: Connection refused\nTo see it yourself: ssh -F /,
    );
    rmSync(config);
  });
});

const json = (stdout: string) =>
  JSON.parse(stdout) as { findings: { id: string; status: string; message: string; fix: string | null }[] };
