// nitro-dev vsock connect / listen against an emulated enclave's attached application: the
// application reaches a parent listener at $NITRO_VSOCK_DIR/3.PORT.sock, and a parent-side
// `vsock connect CID:PORT` reaches a port the application listens on; bytes go both ways and the
// write side closes at the end of standard input. The ports in use are listed with their owners, and
// the application's listener file goes when its enclave ends.
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EmulatorBackend } from '../../../src/engine/node/emulator/backend';
import { liveRecords, pidAlive } from '../../../src/engine/node/emulator/state';
import { endpointPath, vsockDirOf } from '../../../src/engine/node/vsock/endpoints';
import { vsockPortsInUse } from '../../../src/engine/node/vsock/ports';
import { repoPath } from '../repo';

const cli = repoPath('dist/cli.js');
const signed = repoPath('test/fixtures/eif/synthetic-v4-signed.eif');

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('(unit) nitro-dev vsock connect and listen (emulator)', function () {
  this.timeout(120_000);
  let dir: string;
  const env = () => ({ ...process.env, NITRO_DEV_STATE_DIR: dir, NITRO_VSOCK_DIR: '' });
  const children: ChildProcessWithoutNullStreams[] = [];

  function run(...args: string[]): Result {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: env(), timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** Starts nitro-dev in the background; `done` resolves with its exit status and output. */
  function start(...args: string[]): {
    child: ChildProcessWithoutNullStreams;
    done: Promise<Result>;
    out: () => string;
    err: () => string;
  } {
    const child = spawn(process.execPath, [cli, ...args], { env: env() });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    const done = new Promise<Result>((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
    return { child, done, out: () => stdout, err: () => stderr };
  }

  function runEnclave(script: string): { EnclaveID: string; EnclaveCID: number; ProcessID: number } {
    const file = path.join(dir, 'app.js');
    writeFileSync(file, script);
    const r = run(
      'run-enclave',
      '--eif-path',
      signed,
      '--memory',
      '128',
      '--cpu-count',
      '2',
      '--debug-mode',
      '--app',
      `${JSON.stringify(process.execPath)} ${JSON.stringify(file)}`,
    );
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  }

  const consoleOf = (enclaveId: string) => {
    const log = path.join(dir, 'enclaves', `${enclaveId}.console.log`);
    return existsSync(log) ? readFileSync(log, 'utf8') : '';
  };

  before(() => assert.ok(existsSync(cli), 'build dist/cli.js first'));
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ndv-'));
  });
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    const backend = new EmulatorBackend({ stateDir: dir, watch: false });
    const pids = liveRecords(dir).map((r) => r.hostPid);
    await backend.terminateAllHosts();
    backend.dispose();
    await waitFor(() => pids.every((p) => !pidAlive(p)), 'the hosts to end');
    rmSync(dir, { recursive: true, force: true });
  });

  it("an attached application talks to `vsock listen` (the parent's port) via NITRO_VSOCK_DIR, both ways", async () => {
    const listen = start('vsock', 'listen', '5005');
    await waitFor(() => /listening on vsock 3:5005/.test(listen.err()), 'the listener');
    const a = runEnclave(
      [
        "const net = require('node:net'), path = require('node:path');",
        "const where = path.join(process.env.NITRO_VSOCK_DIR, process.env.NITRO_PARENT_CID + '.5005.sock');",
        "let got = '';",
        'const s = net.createConnection(where, () => s.write(`hello from ${process.env.NITRO_ENCLAVE_CID}\\n`));',
        "s.on('data', (d) => (got += d));",
        "s.on('end', () => console.log('app got ' + JSON.stringify(got)));",
        "s.on('error', (e) => console.log('app error ' + e.message));",
        'setInterval(() => {}, 1000);',
      ].join('\n'),
    );
    // The application's bytes arrive before the parent says anything: then the parent answers and ends.
    await waitFor(() => listen.out().includes('hello from 16\n'), "the app's bytes");
    listen.child.stdin.end('hi enclave\n');
    const r = await listen.done;
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'hello from 16\n');
    await waitFor(() => consoleOf(a.EnclaveID).includes('app got "hi enclave\\n"'), "the parent's bytes in the app");
  });

  it(
    '`vsock connect CID:PORT` from the parent reaches a port the application listens on; ' +
      'the port is listed, and goes with the enclave',
    async () => {
      const a = runEnclave(
        [
          "const net = require('node:net'), path = require('node:path');",
          "const where = path.join(process.env.NITRO_VSOCK_DIR, process.env.NITRO_ENCLAVE_CID + '.6000.sock');",
          'net.createServer((s) => { let got = ""; s.on("data", (d) => (got += d));',
          '  s.on("end", () => s.end(got.toUpperCase())); }).listen(where, () => console.log("app listening"));',
        ].join('\n'),
      );
      await waitFor(() => consoleOf(a.EnclaveID).includes('app listening'), 'the application to listen');
      const [parent] = await new EmulatorBackend({ stateDir: dir, watch: false }).listParents();
      const ports = await vsockPortsInUse(dir, parent!.id);
      assert.deepEqual(ports, [{ cid: 16, port: 6000, owner: a.EnclaveID }]);
      const connect = start('vsock', 'connect', '16:6000');
      connect.child.stdin.end('ping\n');
      const r = await connect.done;
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'PING\n');
      // The application dies with its enclave and leaves its socket file; the enclave's end removes it.
      const file = endpointPath(vsockDirOf(dir, parent!.id), { cid: 16, port: 6000 });
      assert.ok(existsSync(file));
      assert.equal(run('terminate-enclave', '--enclave-id', a.EnclaveID).status, 0);
      assert.equal(existsSync(file), false, "the ended enclave's listener file stays");
      assert.deepEqual(await vsockPortsInUse(dir, parent!.id), []);
    },
  );

  it('a refused connection is a plain error, exit 1; a bad address or action is a usage error, exit 2', () => {
    const refused = run('vsock', 'connect', '16:7000');
    assert.equal(refused.status, 1);
    assert.equal(refused.stderr, 'nitro-dev: error: Connection refused: nothing listens on vsock 16:7000\n');
    assert.equal(refused.stdout, '');
    for (const bad of ['16', '16:x', '4294967295:1', '-1:5']) {
      const r = run('vsock', 'connect', '--', bad);
      assert.equal(r.status, 2, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, /is not a vsock address: CID:PORT/);
    }
    const port = run('vsock', 'listen', '99999999999');
    assert.equal(port.status, 2);
    assert.match(port.stderr, /is not a vsock port/);
    const action = run('vsock', 'send', '16:1');
    assert.equal(action.status, 2);
    assert.match(action.stderr, /unknown vsock action 'send'; the actions are connect, listen/);
    const help = run('vsock', '--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /vsock connect CID:PORT/);
    assert.match(run('--help').stdout, /\bvsock\b/);
  });
});
