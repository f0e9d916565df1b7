// run-enclave's side of the boot heartbeat on the emulator: it listens on the parent's vsock port
// 9000 before the host starts and reports the enclave only once the host's 0xB7 came and was
// echoed; a host that sends no heartbeat, or another byte, is E36 and the enclave is terminated.
// Runs on one parent at the same time take the port in turn and all succeed; a port file left by a
// run that died is taken over.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EmulatorBackend } from '../../../../../src/engine/node/emulator/backend';
import { addParent, liveRecords, pidAlive } from '../../../../../src/engine/node/emulator/state';
import { endpointPath, listenVsock, vsockDirOf } from '../../../../../src/engine/node/vsock/endpoints';
import { BackendError } from '../../../../../src/engine/platform/backend';
import { repoPath } from '../../../repo';

const cli = repoPath('dist/cli.js');
const signed = repoPath('test/fixtures/eif/synthetic-v4-signed.eif');
const HEARTBEAT = { cid: 3, port: 9000 };

async function waitFor(cond: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('(unit) emulator run-enclave: the boot heartbeat on vsock 3:9000', function () {
  this.timeout(120_000);
  let state: string;
  let backend: EmulatorBackend;
  let parentId: string;
  const request = { eifPath: signed, memoryMiB: 128, cpuCount: 2 };

  /** A backend whose hosts run `script` (default: the real host), the parent's vsock folder in FAKE_VSOCK_DIR. */
  function backendWith(script: string | undefined, readyTimeoutMs?: number): EmulatorBackend {
    return new EmulatorBackend({
      stateDir: state,
      watch: false,
      hostScript: script ?? cli,
      env: { ...process.env, FAKE_VSOCK_DIR: vsockDirOf(state, parentId) },
      ...(readyTimeoutMs !== undefined ? { readyTimeoutMs } : {}),
    });
  }

  /** A host script that never boots: it writes its pid, sends `byte` on the heartbeat port (if any), and idles. */
  function fakeHost(byte: number | undefined): string {
    const script = path.join(state, `fake-host-${byte ?? 'silent'}.js`);
    writeFileSync(
      script,
      [
        "const net = require('node:net'), fs = require('node:fs'), path = require('node:path');",
        "fs.writeFileSync(process.argv[3] + '.fake', String(process.pid));",
        byte === undefined
          ? ''
          : "const s = net.createConnection(path.join(process.env.FAKE_VSOCK_DIR, '3.9000.sock'), " +
            `() => s.write(Buffer.of(${byte}))); s.on('error', () => {});`,
        'setInterval(() => {}, 1000);',
      ].join('\n'),
    );
    return script;
  }

  beforeEach(async () => {
    assert.ok(existsSync(cli), 'build dist/cli.js first');
    state = mkdtempSync(path.join(os.tmpdir(), 'ndhb-'));
    const first = new EmulatorBackend({ stateDir: state, watch: false });
    parentId = (await first.listParents())[0]!.id;
    first.dispose();
  });

  afterEach(async () => {
    await backend.terminateAllHosts();
    backend.dispose();
    rmSync(state, { recursive: true, force: true });
  });

  for (const [what, byte, says] of [
    ['sends no heartbeat', undefined, /no heartbeat on vsock 3:9000 within 2 s; the enclave was terminated/],
    ['sends another byte', 0, /its heartbeat was 0x00, not 0xB7; the enclave was terminated/],
  ] as const) {
    it(`a host that ${what} is E36; its host is killed and its record removed`, async () => {
      backend = backendWith(fakeHost(byte), 2000);
      await assert.rejects(
        backend.runEnclave(parentId, request),
        (e: unknown) =>
          e instanceof BackendError &&
          e.code === 36 &&
          /^Enclave boot failure\./.test(e.message) &&
          says.test(e.message),
      );
      const enclaves = path.join(state, 'enclaves');
      const fake = readdirSync(enclaves)
        .filter((n) => n.endsWith('.json.fake'))
        .map((n) => Number(readFileSync(path.join(enclaves, n), 'utf8')));
      assert.equal(fake.length, 1, 'the fake host ran');
      await waitFor(() => !pidAlive(fake[0]), 'the host to be killed');
      assert.deepEqual(liveRecords(state), []);
      assert.equal(existsSync(endpointPath(vsockDirOf(state, parentId), HEARTBEAT)), false, 'the port is let go');
    });
  }

  it('a run that finds the heartbeat port held waits for it within its time limit, then is E36', async () => {
    backend = backendWith(undefined, 1500);
    const holder = await listenVsock(vsockDirOf(state, parentId), HEARTBEAT, (s) => s.destroy());
    try {
      await assert.rejects(
        backend.runEnclave(parentId, request),
        (e: unknown) =>
          e instanceof BackendError &&
          e.code === 36 &&
          /stayed held by other run-enclave calls for 2 s/.test(e.message),
      );
      assert.deepEqual(liveRecords(state), [], 'no host was started');
    } finally {
      holder.close();
    }
  });

  it('runs started together on one parent all succeed, taking the port in turn', async () => {
    backend = backendWith(undefined);
    const big = await addParent(state, {
      name: 'big',
      vcpus: 48,
      memoryMiB: 65536,
      pool: { memoryMiB: 4 * 64, cpuCount: 8 },
    });
    const runs = await Promise.all(
      [0, 1, 2, 3].map(() => backend.runEnclave(big.id, { eifPath: signed, memoryMiB: 64, cpuCount: 2 })),
    );
    assert.equal(new Set(runs.map((r) => r.EnclaveCID)).size, 4);
    assert.equal((await backend.describeEnclaves(big.id)).length, 4);
    assert.equal(existsSync(endpointPath(vsockDirOf(state, big.id), HEARTBEAT)), false, 'the port is let go');
  });

  it('a heartbeat port file left by a run that died is taken over', async function () {
    if (process.platform === 'win32') this.skip();
    backend = backendWith(undefined);
    const where = endpointPath(vsockDirOf(state, parentId), HEARTBEAT);
    // A process that listens there and is killed leaves the socket file behind.
    const child = spawn(
      process.execPath,
      ['-e', `require('node:net').createServer().listen(${JSON.stringify(where)}, () => console.log('up'))`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.kill('SIGKILL');
    await new Promise<void>((resolve) => child.once('exit', () => resolve()));
    assert.ok(existsSync(where), 'the dead listener left its file');
    const started = await backend.runEnclave(parentId, request);
    assert.equal(started.EnclaveCID, 16);
    assert.equal(existsSync(where), false, 'the port is let go once the heartbeat came');
  });
});
