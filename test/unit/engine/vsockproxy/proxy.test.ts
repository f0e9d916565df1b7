import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { connectVsock, vsockDirOf } from '../../../../src/engine/node/vsock/endpoints';
import {
  VsockProxyRefusedError,
  startVsockProxy,
  type VsockProxy,
  type VsockProxyStats,
} from '../../../../src/engine/node/vsockproxy/proxy';

const PARENT = 'i-0123456789abcdef0';
const LOCAL_PORT = 5005;

/** Waits for a condition (no fixed sleeps: the machine is slow and shared). */
async function eventually<T>(what: string, probe: () => T | undefined | false, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A TCP echo server on loopback. It echoes what comes, and answers `after-end:<n>` once the client
 * ends its side (half-close), then ends. `die` makes it reset that connection.
 */
async function echoServer(): Promise<{ server: net.Server; port: number; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let n = 0;
    s.on('data', (d: Buffer) => {
      if (d.toString() === 'die') {
        s.resetAndDestroy();
        return;
      }
      n += d.length;
      s.write(d);
    });
    s.on('end', () => s.end(`after-end:${n}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as net.AddressInfo).port, sockets };
}

/** Everything a socket receives until its end, and whether it ended cleanly. */
function received(s: net.Socket): Promise<{ bytes: Buffer; error?: string }> {
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', (e) => resolve({ bytes: Buffer.concat(chunks), error: e.message }));
    s.on('close', () => resolve({ bytes: Buffer.concat(chunks) }));
  });
}

const closeServer = (s: net.Server) => new Promise<void>((r) => s.close(() => r()));

describe('(unit) emulated vsock-proxy: forwarding enclave connections to TCP', function () {
  this.timeout(60_000);
  let state: string;
  let dir: string;
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let proxy: VsockProxy | undefined;

  beforeEach(async () => {
    state = mkdtempSync(path.join(os.tmpdir(), 'vproxy-'));
    dir = vsockDirOf(state, PARENT);
    echo = await echoServer();
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    for (const s of echo.sockets) s.destroy();
    await closeServer(echo.server);
    rmSync(state, { recursive: true, force: true });
  });

  const allowlist = (port: number) => ({ text: `allowlist:\n- {address: 127.0.0.1, port: ${port}}\n` });
  const start = async (extra: { workers?: number; log?: (l: string) => void } = {}) =>
    (proxy = await startVsockProxy({
      vsockDir: dir,
      localPort: LOCAL_PORT,
      remoteAddr: '127.0.0.1',
      remotePort: echo.port,
      allowlist: allowlist(echo.port),
      ...extra,
    }));
  const connect = () => connectVsock(dir, { cid: 3, port: LOCAL_PORT });

  it('echoes through (3, LOCAL_PORT), answers after a half-close, and counts bytes both ways', async () => {
    const lines: string[] = [];
    const changes: VsockProxyStats[] = [];
    const p = await start({ log: (l) => lines.push(l) });
    p.onChange((s) => changes.push(s));
    assert.ok(existsSync(p.endpoint));
    assert.equal(p.verdict.entry.number, 1);
    const client = await connect();
    const got = received(client);
    client.write('hello');
    // Half-close: the client is done sending, and still reads the answer that comes after.
    client.end();
    const { bytes, error } = await got;
    assert.equal(error, undefined);
    assert.equal(bytes.toString(), 'helloafter-end:5');
    const done = await eventually('the connection counted', () => {
      const s = p.stats();
      return s.total === 1 && s.open === 0 && s.bytesFromRemote === 16 ? s : undefined;
    });
    assert.deepEqual(
      { ...done },
      {
        state: 'listening',
        localPort: LOCAL_PORT,
        remoteAddr: '127.0.0.1',
        remotePort: echo.port,
        workers: 4,
        open: 0,
        waiting: 0,
        total: 1,
        bytesToRemote: 5,
        bytesFromRemote: 16,
      },
    );
    assert.ok(
      changes.some((s) => s.open === 1),
      'an open connection was reported',
    );
    await eventually('the log line', () => lines.length === 1);
    assert.match(
      lines[0] ?? '',
      /^connection 1: closed \(5 bytes to 127\.0\.0\.1:\d+, 16 back, [\d.]+ s; (11|16) bytes crossed after the enclave side's end of stream: the real vsock-proxy closes the whole connection/,
    );
  });

  it('moves a few MiB both ways with backpressure, intact', async () => {
    const p = await start();
    const client = await connect();
    const got = received(client);
    const data = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 11)) & 0xff;
    client.end(data);
    const { bytes } = await got;
    assert.equal(bytes.length, data.length + `after-end:${data.length}`.length);
    assert.ok(bytes.subarray(0, data.length).equals(data));
    await eventually('the bytes counted', () => p.stats().bytesToRemote === data.length && p.stats().open === 0);
  });

  it('a target resetting one connection closes only that one; a dead target fails each connection alone', async () => {
    const lines: string[] = [];
    const p = await start({ log: (l) => lines.push(l) });
    const a = await connect();
    const aGot: Buffer[] = [];
    a.on('data', (d: Buffer) => aGot.push(d));
    a.write('one');
    await eventually('a first echo', () => Buffer.concat(aGot).toString() === 'one');
    const b = await connect();
    const bGot = received(b);
    await eventually('both forwarded', () => p.stats().open === 2);
    b.write('die');
    await bGot;
    await eventually('b failed', () => p.stats().lastError);
    assert.match(p.stats().lastError ?? '', /^connection 2: .*(ECONNRESET|reset)/i);
    assert.equal(p.stats().open, 1, 'a is still open');
    a.write('two');
    await eventually('a still echoes', () => Buffer.concat(aGot).toString() === 'onetwo');
    a.end();
    await eventually('a closed', () => p.stats().open === 0);

    // The target goes away: each new connection fails alone, and the proxy keeps listening.
    for (const s of echo.sockets) s.destroy();
    await closeServer(echo.server);
    echo.server = net.createServer();
    await new Promise<void>((r) => echo.server.listen(0, '127.0.0.1', () => r()));
    for (const n of [3, 4]) {
      const c = await connect();
      await received(c);
      await eventually(`connection ${n} failed`, () => p.stats().lastError?.startsWith(`connection ${n}: `));
      assert.match(p.stats().lastError ?? '', /ECONNREFUSED/);
    }
    assert.equal(p.stats().state, 'listening');
    assert.ok(
      lines.some((l) => /^connection 3: failed: connect ECONNREFUSED/.test(l)),
      lines.join('\n'),
    );
  });

  it('forwards at most -w connections at once; the next waits for a free worker, as vsock-proxy does', async () => {
    const lines: string[] = [];
    const p = await start({ workers: 1, log: (l) => lines.push(l) });
    const a = await connect();
    const aGot: Buffer[] = [];
    a.on('data', (d: Buffer) => aGot.push(d));
    a.write('a');
    await eventually('a echoed', () => Buffer.concat(aGot).toString() === 'a');
    const b = await connect();
    const bGot = received(b);
    b.write('b');
    await eventually('b waiting', () => p.stats().waiting === 1);
    assert.equal(p.stats().open, 1);
    assert.equal(echo.sockets.size, 1, 'b is not forwarded yet');
    assert.match(lines[0] ?? '', /^connection 2: waiting: all 1 workers are busy \(-w 1\)/);
    a.end();
    b.end();
    assert.equal((await bGot).bytes.toString(), 'bafter-end:1');
    await eventually('both done', () => p.stats().total === 2 && p.stats().open === 0 && p.stats().waiting === 0);
  });

  it('refuses to start when the allowlist does not let the target through, naming the entry and why', async () => {
    await assert.rejects(
      startVsockProxy({
        vsockDir: dir,
        localPort: LOCAL_PORT,
        remoteAddr: '127.0.0.1',
        remotePort: echo.port,
        allowlist: { text: `allowlist:\n- {address: 127.0.0.2, port: ${echo.port}}\n` },
      }),
      (e: unknown) => {
        assert.ok(e instanceof VsockProxyRefusedError);
        assert.deepEqual(
          e.verdict.tried.map((t) => t.why),
          ['host name 127.0.0.2 is not 127.0.0.1, and it resolves to 127.0.0.2, not 127.0.0.1'],
        );
        return true;
      },
    );
    assert.ok(!existsSync(path.join(dir, `3.${LOCAL_PORT}.sock`)), 'nothing listens');
    // From a file, and the workers checked.
    const file = path.join(state, 'vsock-proxy.yaml');
    writeFileSync(file, allowlist(echo.port).text);
    await assert.rejects(
      startVsockProxy({
        vsockDir: dir,
        localPort: LOCAL_PORT,
        remoteAddr: '127.0.0.1',
        remotePort: echo.port,
        allowlist: { path: file },
        workers: 0,
      }),
      /Number of workers must be a whole number from 1/,
    );
    const p = await startVsockProxy({
      vsockDir: dir,
      localPort: LOCAL_PORT,
      remoteAddr: '127.0.0.1',
      remotePort: echo.port,
      allowlist: { path: file },
    });
    proxy = p;
    assert.equal(p.verdict.by, 'host name');
  });

  it('close() removes the endpoint and closes open and waiting connections', async () => {
    const p = await start({ workers: 1 });
    const a = await connect();
    const b = await connect();
    const closedA = received(a);
    const closedB = received(b);
    await eventually('one open, one waiting', () => p.stats().open === 1 && p.stats().waiting === 1);
    const states: string[] = [];
    p.onChange((s) => states.push(s.state));
    await p.close();
    await closedA;
    await closedB;
    assert.ok(!existsSync(p.endpoint), 'the endpoint is gone');
    assert.equal(p.stats().state, 'closed');
    assert.deepEqual(states, ['closed']);
    await assert.rejects(connect(), /Connection refused/);
    proxy = undefined;
  });
});
