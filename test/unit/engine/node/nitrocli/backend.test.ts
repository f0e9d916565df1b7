// The nitro-cli backend against the stand-in nitro-cli (test/fixtures/nitro-cli): on this machine,
// and over a real sshd on 127.0.0.1 (test/unit/sshd.ts) as if on a remote parent, with the EIF
// copied there by scp.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NitroCliBackend, createNitroCliBackends } from '../../../../../src/engine/node/nitrocli/backend';
import { createBackendRegistry } from '../../../../../src/engine/node/registry';
import { BackendError, type ConsoleStream } from '../../../../../src/engine/platform/backend';
import { repoPath } from '../../../repo';
import { freePort, startSshd, type TestSshd } from '../../../sshd';

const STAND_IN = repoPath('test/fixtures/nitro-cli/nitro-cli');
const EIF = repoPath('test/fixtures/eif/synthetic-v4-unsigned.eif');
const TAG = 'i-0abc123def4567890';

/** A fake parent instance for the stand-in and the facts script: 8 CPUs, pool 1,3,5,7, 2048 MiB of huge pages. */
function fakeParent(dir: string, options: { driver?: boolean } = {}): void {
  const put = (rel: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  };
  put('sys/devices/virtual/dmi/id/board_asset_tag', `${TAG}\n`);
  put('sys/devices/system/cpu/online', '0-7\n');
  put('proc/meminfo', 'MemTotal:       16384000 kB\nMemFree:         1000 kB\n');
  if (options.driver !== false) {
    put('sys/module/nitro_enclaves/parameters/ne_cpus', '1,3,5,7\n');
    put('sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages', '1024\n');
  }
  mkdirSync(path.join(dir, 'run/nitro_enclaves'), { recursive: true });
}

/** Reads a console until `text` has come; returns everything read. */
async function readUntil(stream: ConsoleStream, text: string): Promise<string> {
  let seen = '';
  for await (const chunk of stream.chunks) {
    seen += Buffer.from(chunk).toString('utf8');
    if (seen.includes(text)) return seen;
  }
  throw new Error(`the console ended before "${text}": ${seen}`);
}

/** The same checks for a local and an ssh target. */
function behavesLikeNitroCli(setup: () => { backend: NitroCliBackend; parentId: string; root: string }) {
  it('lists its one parent with the pool, the instance id and what enclaves use', async () => {
    const { backend, parentId } = setup();
    const [parent, ...others] = await backend.listParents();
    assert.equal(others.length, 0);
    assert.equal(parent!.id, parentId);
    assert.equal(parent!.backend, 'nitro-cli');
    assert.equal(parent!.instanceId, TAG);
    assert.equal(parent!.vcpus, 8);
    assert.equal(parent!.memoryMiB, 16000);
    assert.deepEqual(parent!.pool, { cpuIds: [1, 3, 5, 7], memoryMiB: 2048 });
    assert.deepEqual(parent!.used, { cpuIds: [], memoryMiB: 0 });
  });

  it('runs, describes and terminates an enclave, and says so on onDidChange', async () => {
    const { backend, parentId } = setup();
    const changes: (string | undefined)[] = [];
    const sub = backend.onDidChange((e) => changes.push(e.parentId));
    const run = await backend.runEnclave(parentId, { eifPath: EIF, memoryMiB: 512, cpuCount: 2, enclaveName: 'hello' });
    assert.equal(run.EnclaveName, 'hello');
    assert.equal(run.EnclaveID, `${TAG}-enc18c2e5a4f1b2d3e`);
    assert.equal(run.EnclaveCID, 16);
    assert.deepEqual(run.CPUIDs, [1, 3]);
    assert.equal(run.MemoryMiB, 512);
    assert.deepEqual(changes, [parentId]);

    const [parent] = await backend.listParents();
    assert.deepEqual(parent!.used, { cpuIds: [1, 3], memoryMiB: 512 });
    const described = await backend.describeEnclaves(parentId, { metadata: true });
    assert.equal(described.length, 1);
    assert.equal(described[0]!.EnclaveID, run.EnclaveID);
    assert.equal(described[0]!.State, 'RUNNING');
    assert.equal(described[0]!.Flags, 'NONE');
    assert.match(described[0]!.Measurements.PCR0, /^[0-9a-f]{96}$/);

    const terminated = await backend.terminateEnclave(parentId, run.EnclaveID);
    assert.deepEqual(terminated, { EnclaveName: 'hello', EnclaveID: run.EnclaveID, Terminated: true });
    assert.deepEqual(changes, [parentId, parentId]);
    assert.deepEqual(await backend.describeEnclaves(parentId), []);
    sub.dispose();
  });

  it("passes the request's flags (cpu ids, cid, debug mode, a name with shell characters) unchanged", async () => {
    const { backend, parentId } = setup();
    const name = `it's $(echo pwned) "x" \`y\` ; * \\ $HOME\nz`;
    const run = await backend.runEnclave(parentId, {
      eifPath: EIF,
      memoryMiB: 64,
      cpuIds: [5, 7],
      enclaveCid: 42,
      debugMode: true,
      enclaveName: name,
    });
    assert.equal(run.EnclaveName, name);
    assert.equal(run.EnclaveCID, 42);
    assert.deepEqual(run.CPUIDs, [5, 7]);
    const [d] = await backend.describeEnclaves(parentId);
    assert.equal(d!.Flags, 'DEBUG_MODE');
    await backend.terminateEnclave(parentId, run.EnclaveID);
  });

  it("turns nitro-cli's E26 report into BackendError 26 with its message", async () => {
    const { backend, parentId } = setup();
    await assert.rejects(
      backend.runEnclave(parentId, { eifPath: EIF, memoryMiB: 0, cpuCount: 2 }),
      (e: unknown) =>
        e instanceof BackendError &&
        e.code === 26 &&
        e.message ===
          'Insufficient memory requested. User provided `memory` is 0 MB, but based on the EIF file size, ' +
            'the minimum memory should be 4 MB',
    );
  });

  it('streams the console of a debug-mode enclave until the enclave ends; dispose stops it', async () => {
    const { backend, parentId } = setup();
    const run = await backend.runEnclave(parentId, { eifPath: EIF, memoryMiB: 64, cpuCount: 2, debugMode: true });
    const stream = await backend.openConsole(parentId, run.EnclaveID);
    const seen = await readUntil(stream, `Hello from the enclave ${run.EnclaveName}`);
    assert.match(seen, /Linux version/);
    await backend.terminateEnclave(parentId, run.EnclaveID);
    // The enclave ended: so does its console.
    for await (const chunk of stream.chunks) assert.ok(chunk);

    const again = await backend.runEnclave(parentId, { eifPath: EIF, memoryMiB: 64, cpuCount: 2, debugMode: true });
    const second = await backend.openConsole(parentId, again.EnclaveID);
    await readUntil(second, 'Hello from the enclave');
    second.dispose();
    for await (const chunk of second.chunks) assert.ok(chunk);
    await backend.terminateEnclave(parentId, again.EnclaveID);
  });

  it('refuses the console of an enclave not in debug mode (E44)', async () => {
    const { backend, parentId } = setup();
    const run = await backend.runEnclave(parentId, { eifPath: EIF, memoryMiB: 64, cpuCount: 2 });
    await assert.rejects(
      backend.openConsole(parentId, run.EnclaveID),
      (e: unknown) => e instanceof BackendError && e.code === 44 && /debug mode/.test(e.message),
    );
    await backend.terminateEnclave(parentId, run.EnclaveID);
  });

  it('reports an unknown enclave with the code nitro-cli gives (E39)', async () => {
    const { backend, parentId } = setup();
    await assert.rejects(
      backend.terminateEnclave(parentId, `${TAG}-enc1`),
      (e: unknown) => e instanceof BackendError && e.code === 39,
    );
  });

  it('refuses emulator-only requests, other parents and NSM requests clearly', async () => {
    const { backend, parentId } = setup();
    await assert.rejects(
      backend.runEnclave(parentId, { eifPath: EIF, memoryMiB: 64, cpuCount: 2, app: { command: 'true' } }),
      (e: unknown) => e instanceof BackendError && e.code === 3 && /emulator feature/.test(e.message),
    );
    await assert.rejects(
      backend.runEnclave(parentId, { eifPath: EIF, memoryMiB: 64, cpuCount: 2, iamRoleArn: 'arn:aws:iam::1:role/r' }),
      (e: unknown) => e instanceof BackendError && e.code === 3 && /emulator feature/.test(e.message),
    );
    await assert.rejects(
      backend.describeEnclaves('i-00000000000000000'),
      (e: unknown) => e instanceof BackendError && e.code === 3,
    );
    await assert.rejects(
      backend.nsm(parentId, `${TAG}-enc1`, new Uint8Array([0xa0])),
      (e: unknown) => e instanceof BackendError && /only from inside the enclave/.test(e.message),
    );
  });
}

describe('nitro-cli backend', function () {
  this.timeout(120_000);

  describe('on this instance', () => {
    let root: string;
    let backend: NitroCliBackend;
    beforeEach(() => {
      root = mkdtempSync(path.join(os.tmpdir(), 'nitro-cli-local-'));
      fakeParent(root);
      backend = new NitroCliBackend(
        { kind: 'local', nitroCliPath: STAND_IN },
        { env: { ...process.env, NITRO_CLI_STANDIN_ROOT: root }, systemRoot: root },
      );
    });
    afterEach(() => {
      backend.dispose();
      rmSync(root, { recursive: true, force: true });
    });

    behavesLikeNitroCli(() => ({ backend, parentId: 'local', root }));

    it('is named after the instance, its parent id is local', async () => {
      assert.equal(backend.label, 'nitro-cli on this instance');
      assert.equal(backend.kind, 'nitro-cli');
      assert.equal((await backend.listParents())[0]!.name, 'This instance');
      const named = new NitroCliBackend({ kind: 'local', nitroCliPath: STAND_IN, name: 'box' });
      assert.equal(named.label, 'nitro-cli on box');
      assert.equal(named.parentId, 'local');
    });

    it('shares one round trip among callers at the same time (two listings and a describe)', async () => {
      // A nitro-cli that writes down each command it is asked, then runs the stand-in.
      const log = path.join(root, 'calls.log');
      const counting = path.join(root, 'counting-nitro-cli');
      writeFileSync(counting, `#!/bin/sh\necho "$1" >> '${log}'\nexec '${STAND_IN}' "$@"\n`, { mode: 0o755 });
      const shared = new NitroCliBackend(
        { kind: 'local', nitroCliPath: counting },
        { env: { ...process.env, NITRO_CLI_STANDIN_ROOT: root }, systemRoot: root },
      );
      const [a, b, enclaves] = await Promise.all([
        shared.listParents(),
        shared.listParents(),
        shared.describeEnclaves('local'),
      ]);
      assert.deepEqual(a, b);
      assert.deepEqual(enclaves, []);
      assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['--version', 'describe-enclaves']);
      // Once it has ended, the next caller asks again.
      await shared.describeEnclaves('local');
      assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), [
        '--version',
        'describe-enclaves',
        'describe-enclaves',
      ]);
    });

    it('has an empty pool when the driver is not loaded', async () => {
      rmSync(path.join(root, 'sys/module'), { recursive: true });
      rmSync(path.join(root, 'sys/kernel'), { recursive: true });
      const [parent] = await backend.listParents();
      assert.deepEqual(parent!.pool, { cpuIds: [], memoryMiB: 0 });
    });

    it('says nitro-cli is not there when it is not', async () => {
      const missing = new NitroCliBackend({ kind: 'local', nitroCliPath: path.join(root, 'no-such-nitro-cli') });
      await assert.rejects(missing.listParents(), /^Error: nitro-cli not found on this instance/);
      await assert.rejects(missing.describeEnclaves('local'), /no-such-nitro-cli was not found/);
    });

    it('is registered after the emulator by createBackendRegistry', async () => {
      const state = path.join(root, 'state');
      const registry = createBackendRegistry({
        stateDir: state,
        watch: false,
        env: { ...process.env, NITRO_CLI_STANDIN_ROOT: root },
        nitroCli: {
          targets: [
            { kind: 'local', nitroCliPath: STAND_IN },
            { kind: 'ssh', host: 'h1', nitroCliPath: 'nitro-cli' },
            { kind: 'ssh', host: 'h1', nitroCliPath: 'other' },
          ],
          ssh: { sshPath: 'ssh', connectTimeoutSeconds: 5 },
        },
      });
      try {
        assert.deepEqual(
          registry.backends.map((b) => b.label),
          ['Embedded emulator', 'nitro-cli on this instance', 'nitro-cli on h1'],
        );
      } finally {
        registry.dispose();
      }
      assert.deepEqual(
        createNitroCliBackends({
          targets: [{ kind: 'ssh', host: 'p', nitroCliPath: 'nitro-cli', name: 'Prod' }],
          ssh: { sshPath: 'ssh', connectTimeoutSeconds: 5 },
        }).map((b) => [b.parentId, b.label, b.parentName]),
        [['ssh:p', 'nitro-cli on Prod', 'Prod']],
      );
    });
  });

  describe('over ssh (a real sshd on 127.0.0.1)', () => {
    let sshd: TestSshd;
    let root: string;
    let backend: NitroCliBackend;
    before(async () => {
      root = mkdtempSync(path.join(os.tmpdir(), 'nitro-cli-remote-'));
      sshd = await startSshd({ env: { NITRO_CLI_STANDIN_ROOT: root } });
    });
    after(async () => {
      await sshd?.stop();
      rmSync(root, { recursive: true, force: true });
    });
    beforeEach(() => {
      rmSync(root, { recursive: true, force: true });
      mkdirSync(root);
      fakeParent(root);
      backend = new NitroCliBackend(
        { kind: 'ssh', host: sshd.host, nitroCliPath: STAND_IN },
        { ssh: { sshPath: 'ssh', configFile: sshd.configFile, connectTimeoutSeconds: 10 }, systemRoot: root },
      );
    });
    afterEach(() => backend.dispose());

    behavesLikeNitroCli(() => ({ backend, parentId: `ssh:${sshd.host}`, root }));

    it('is named after the host', async () => {
      assert.equal(backend.label, `nitro-cli on ${sshd.host}`);
      assert.equal((await backend.listParents())[0]!.name, sshd.host);
    });

    it('copies the image once into ~/.cache/nitro-dev/eif, named by its SHA-256', async () => {
      const sha = createHash('sha256').update(readFileSync(EIF)).digest('hex');
      const remote = path.join(sshd.home, '.cache/nitro-dev/eif', `${sha}.eif`);
      rmSync(path.join(sshd.home, '.cache'), { recursive: true, force: true });
      const first = await backend.runEnclave(`ssh:${sshd.host}`, { eifPath: EIF, memoryMiB: 64, cpuCount: 2 });
      assert.deepEqual(readFileSync(remote), readFileSync(EIF));
      const before = statSync(remote);
      const second = await backend.runEnclave(`ssh:${sshd.host}`, { eifPath: EIF, memoryMiB: 64, cpuCount: 2 });
      const after = statSync(remote);
      assert.equal(after.ino, before.ino, 'the second run copied the image again');
      assert.equal(after.mtimeMs, before.mtimeMs);
      assert.equal(first.EnclaveName, 'synthetic-v4-unsigned');
      assert.equal(second.EnclaveName, 'synthetic-v4-unsigned_1');
      await backend.terminateEnclave(`ssh:${sshd.host}`, first.EnclaveID);
      await backend.terminateEnclave(`ssh:${sshd.host}`, second.EnclaveID);
      // A copy cut short (wrong size) is replaced.
      writeFileSync(remote, 'short');
      await backend.runEnclave(`ssh:${sshd.host}`, { eifPath: EIF, memoryMiB: 64, cpuCount: 2 });
      assert.deepEqual(readFileSync(remote), readFileSync(EIF));
    });

    it('says a local image that is not there is not there (E19), without connecting', async () => {
      await assert.rejects(
        backend.runEnclave(`ssh:${sshd.host}`, { eifPath: path.join(root, 'nope.eif'), memoryMiB: 64, cpuCount: 2 }),
        (e: unknown) => e instanceof BackendError && e.code === 19 && /no such file/.test(e.message),
      );
    });

    it('says why a host cannot be reached, fast, with the command to reproduce it', async () => {
      const port = await freePort();
      const config = path.join(root, 'unreachable_config');
      writeFileSync(config, `Host parent1\n  HostName 127.0.0.1\n  Port ${port}\n`);
      const unreachable = new NitroCliBackend(
        { kind: 'ssh', host: 'parent1', nitroCliPath: 'nitro-cli' },
        { ssh: { sshPath: 'ssh', configFile: config, connectTimeoutSeconds: 3 } },
      );
      await assert.rejects(unreachable.listParents(), (e: unknown) => {
        const [first, ...rest] = (e as Error).message.split('\n');
        assert.match(first ?? '', /^cannot reach parent1: connect to host 127\.0\.0\.1 port \d+: Connection refused$/);
        assert.match(
          rest.join('\n'),
          /^To see it yourself: ssh -F \S+ -o BatchMode=yes -o ConnectTimeout=3 .* -T -- parent1 true$/,
        );
        return true;
      });
      await assert.rejects(
        unreachable.describeEnclaves('ssh:parent1'),
        /^SshUnreachableError: cannot reach parent1: connect to host 127\.0\.0\.1 port \d+: Connection refused\n/,
      );
    });

    it('says nitro-cli is not on the host when it is not', async () => {
      const missing = new NitroCliBackend(
        { kind: 'ssh', host: sshd.host, nitroCliPath: '/no/such/nitro-cli' },
        { ssh: { sshPath: 'ssh', configFile: sshd.configFile, connectTimeoutSeconds: 10 } },
      );
      await assert.rejects(
        missing.listParents(),
        new RegExp(`^Error: nitro-cli not found on ${sshd.host} \\(/no/such/nitro-cli\\)`),
      );
      await assert.rejects(missing.describeEnclaves(`ssh:${sshd.host}`), /nitro-cli not found on/);
    });

    it('runs no command on the host but the words it is given (hostile nitro-cli path)', async () => {
      const marker = path.join(root, 'pwned');
      const hostile = new NitroCliBackend(
        { kind: 'ssh', host: sshd.host, nitroCliPath: `nitro-cli; touch ${marker}; $(touch ${marker})` },
        { ssh: { sshPath: 'ssh', configFile: sshd.configFile, connectTimeoutSeconds: 10 } },
      );
      await assert.rejects(hostile.listParents(), /nitro-cli not found/);
      await assert.rejects(hostile.describeEnclaves(`ssh:${sshd.host}`));
      assert.equal(existsSync(marker), false);
    });
  });
});

describe('the stand-in nitro-cli fixture', () => {
  it('is executable and says it is a stand-in', () => {
    assert.ok(statSync(STAND_IN).mode & 0o100, 'the stand-in lost its exec bit');
    assert.match(readFileSync(STAND_IN, 'utf8').split('\n').slice(0, 3).join('\n'), /TEST STAND-IN for nitro-cli/);
    const r = spawnSync(STAND_IN, ['--version'], {
      encoding: 'utf8',
      env: { ...process.env, NITRO_CLI_STANDIN_ROOT: '/nonexistent' },
    });
    assert.equal(r.stdout, 'Nitro CLI 1.5.0\n');
  });
});
