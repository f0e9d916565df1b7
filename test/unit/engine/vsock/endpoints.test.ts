import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  VsockInUseError,
  VsockRefusedError,
  connectVsock,
  endpointPath,
  listEndpointFiles,
  listenVsock,
  liveEndpoints,
  parseVsockAddress,
  parseVsockPort,
  vsockDirOf,
} from '../../../../src/engine/node/vsock/endpoints';

const PARENT = 'i-0123456789abcdef0';

const closeServer = (s: net.Server) => new Promise<void>((r) => s.close(() => r()));

describe('(unit) emulated vsock endpoints', () => {
  let state: string;
  beforeEach(() => {
    state = mkdtempSync(path.join(os.tmpdir(), 'vsock-'));
  });
  afterEach(() => rmSync(state, { recursive: true, force: true }));

  it('parses CID:PORT and ports, refusing VMADDR_*_ANY and junk', () => {
    assert.deepEqual(parseVsockAddress('16:5000'), { cid: 16, port: 5000 });
    assert.deepEqual(parseVsockAddress('3:4294967294'), { cid: 3, port: 4294967294 });
    for (const bad of ['16:4294967295', '4294967295:1', '16', ':1', '16:-1', '16:5000:1', ' 16:1', '1e3:1'])
      assert.equal(parseVsockAddress(bad), undefined, bad);
    assert.equal(parseVsockPort('8000'), 8000);
    assert.equal(parseVsockPort('4294967295'), undefined);
    assert.equal(parseVsockPort('80a'), undefined);
  });

  it('keeps a parent folder private, under the state or in the short socket folder when paths get long', () => {
    const dir = vsockDirOf(state, PARENT);
    assert.equal(dir, path.join(state, 'parents', PARENT, 'vsock'));
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const deep = path.join(state, 'x'.repeat(60));
    const moved = vsockDirOf(deep, PARENT);
    assert.ok(moved.startsWith(os.tmpdir()), moved);
    assert.ok(Buffer.byteLength(endpointPath(moved, { cid: 4294967294, port: 4294967294 })) <= 100);
    rmSync(moved, { recursive: true, force: true });
    assert.throws(() => vsockDirOf(state, '../evil'), /not an instance id/);
  });

  it('connects a client to a listener, both ways, and lists the listener', async () => {
    const dir = vsockDirOf(state, PARENT);
    const server = await listenVsock(dir, { cid: 3, port: 8000 }, (s) => s.pipe(s));
    assert.equal(statSync(endpointPath(dir, { cid: 3, port: 8000 })).mode & 0o777, 0o600);
    assert.deepEqual(listEndpointFiles(dir), [{ cid: 3, port: 8000 }]);
    const client = await connectVsock(dir, { cid: 3, port: 8000 });
    const echoed = await new Promise<string>((resolve) => {
      client.once('data', (b) => resolve(b.toString()));
      client.write('ping');
    });
    assert.equal(echoed, 'ping');
    client.destroy();
    await closeServer(server);
    assert.deepEqual(listEndpointFiles(dir), []);
  });

  it('refuses a connection to a port nobody listens on, and to a dead listener file', async () => {
    const dir = vsockDirOf(state, PARENT);
    await assert.rejects(connectVsock(dir, { cid: 16, port: 5000 }), VsockRefusedError);
    writeFileSync(endpointPath(dir, { cid: 16, port: 5000 }), '');
    await assert.rejects(
      connectVsock(dir, { cid: 16, port: 5000 }),
      /Connection refused: nothing listens on vsock 16:5000/,
    );
  });

  it('replaces a dead listener but refuses a second live one', async () => {
    const dir = vsockDirOf(state, PARENT);
    const where = endpointPath(dir, { cid: 16, port: 7 });
    // A socket file nobody serves: its listener was killed (SIGKILL leaves the file behind).
    const child = spawn(
      process.execPath,
      ['-e', `require('net').createServer().listen(${JSON.stringify(where)}, () => console.log('up'))`],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
    assert.ok(existsSync(where));
    const first = await listenVsock(dir, { cid: 16, port: 7 }, (s) => {
      s.on('error', () => undefined);
      s.end('one');
    });
    await assert.rejects(
      listenVsock(dir, { cid: 16, port: 7 }, () => undefined),
      VsockInUseError,
    );
    await closeServer(first);
  });

  it('liveEndpoints lists live listeners only: a file left by a killed listener is not one', async function () {
    if (process.platform === 'win32') this.skip();
    const dir = vsockDirOf(state, PARENT);
    const live = await listenVsock(dir, { cid: 3, port: 8000 }, (s) => s.destroy());
    const stale = endpointPath(dir, { cid: 16, port: 5000 });
    const child = spawn(
      process.execPath,
      ['-e', `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    assert.deepEqual(await liveEndpoints(dir), [
      { cid: 3, port: 8000 },
      { cid: 16, port: 5000 },
    ]);
    child.kill('SIGKILL');
    await new Promise<void>((resolve) => child.once('exit', () => resolve()));
    assert.deepEqual(listEndpointFiles(dir), [
      { cid: 3, port: 8000 },
      { cid: 16, port: 5000 },
    ]);
    assert.deepEqual(await liveEndpoints(dir), [{ cid: 3, port: 8000 }]);
    await closeServer(live);
    assert.deepEqual(await liveEndpoints(dir), []);
  });
});
