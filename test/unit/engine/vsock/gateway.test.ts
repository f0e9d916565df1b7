// Connections into a guest through its vhost-device-vsock gateway (`<dir>/<cid>.vm.sock`, the hybrid
// vsock handshake `CONNECT <port>\n` / `OK <n>\n`) and the held half-close such connections need.
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  VsockRefusedError,
  connectVsock,
  gatewayPath,
  holdHalfClose,
  listenVsock,
} from '../../../../src/engine/node/vsock/endpoints';

/** A stand-in gateway: reads the CONNECT line, then does what `answer` says with the socket. */
async function gateway(
  dir: string,
  cid: number,
  answer: (socket: net.Socket, line: string) => void,
): Promise<{ server: net.Server; lines: string[] }> {
  const lines: string[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    accepted.push(socket);
    let text = '';
    const onData = (b: Buffer) => {
      text += b.toString('latin1');
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      socket.off('data', onData);
      const line = text.slice(0, nl);
      lines.push(line);
      const rest = text.slice(nl + 1);
      if (rest) socket.unshift(Buffer.from(rest, 'latin1'));
      answer(socket, line);
    };
    socket.on('data', onData);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(gatewayPath(dir, cid), r));
  return { server, lines };
}

/** Every socket the stand-ins accepted, destroyed after each test. */
const accepted: net.Socket[] = [];

const readAll = (s: net.Socket) =>
  new Promise<string>((resolve, reject) => {
    let text = '';
    s.on('data', (b: Buffer) => (text += b.toString()));
    s.once('end', () => resolve(text));
    s.once('error', reject);
  });

describe('(unit) vsock gateway of a guest (QEMU backend)', function () {
  this.timeout(30_000);
  let dir: string;
  const servers: net.Server[] = [];
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'vgw-'));
  });
  afterEach(async () => {
    for (const s of accepted.splice(0)) s.destroy();
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
    rmSync(dir, { recursive: true, force: true });
  });

  it('gatewayPath: <dir>/<cid>.vm.sock, refusing a CID that is not one', () => {
    assert.equal(gatewayPath('/v', 16), path.join('/v', '16.vm.sock'));
    assert.throws(() => gatewayPath('/v', 4294967295), /Not a vsock address/);
    assert.throws(() => gatewayPath('/v', -1), /Not a vsock address/);
    assert.throws(() => gatewayPath('/v', 1.5), /Not a vsock address/);
  });

  it('with no endpoint file, connects through the gateway; bytes sent with the OK line reach the caller', async () => {
    const g = await gateway(dir, 16, (s) => {
      // The OK line and the guest's first bytes in one chunk; then an echo of what comes.
      s.write('OK 1073741824\nhello from the guest|');
      // A guest answers, then ends its side (the caller's half-close is held until then).
      s.once('data', (b: Buffer) => s.end(b));
    });
    servers.push(g.server);
    const socket = await connectVsock(dir, { cid: 16, port: 5005 });
    const got = readAll(socket);
    socket.end('ping');
    assert.equal(await got, 'hello from the guest|ping');
    assert.deepEqual(g.lines, ['CONNECT 5005']);
  });

  it('an endpoint file wins over the gateway', async () => {
    const g = await gateway(dir, 16, (s) => s.destroy());
    servers.push(g.server);
    const listener = await listenVsock(dir, { cid: 16, port: 7 }, (s) => s.end('endpoint'));
    servers.push(listener);
    const socket = await connectVsock(dir, { cid: 16, port: 7 });
    assert.equal(await readAll(socket), 'endpoint');
    assert.deepEqual(g.lines, []);
  });

  it('refuses (VsockRefusedError) when the gateway closes without OK or answers something else', async () => {
    const closes = await gateway(dir, 16, (s) => s.end());
    servers.push(closes.server);
    await assert.rejects(connectVsock(dir, { cid: 16, port: 1 }), (e: unknown) => {
      assert.ok(e instanceof VsockRefusedError);
      assert.deepEqual(e.address, { cid: 16, port: 1 });
      return true;
    });
    const other = await gateway(dir, 17, (s) => s.write('ERR no listener\n'));
    servers.push(other.server);
    await assert.rejects(connectVsock(dir, { cid: 17, port: 2 }), VsockRefusedError);
    const noNumber = await gateway(dir, 18, (s) => s.write('OK\n'));
    servers.push(noNumber.server);
    await assert.rejects(connectVsock(dir, { cid: 18, port: 3 }), VsockRefusedError);
    // No gateway and no endpoint: refused as before.
    await assert.rejects(connectVsock(dir, { cid: 19, port: 4 }), VsockRefusedError);
  });

  it('a gateway answering an endless line fails clearly instead of reading on', async () => {
    const g = await gateway(dir, 16, (s) => {
      const chunk = 'x'.repeat(4096);
      const more = () => {
        while (!s.destroyed && s.write(chunk));
        if (!s.destroyed) s.once('drain', more);
      };
      more();
    });
    servers.push(g.server);
    await assert.rejects(connectVsock(dir, { cid: 16, port: 9 }), /vsock gateway .*16\.vm\.sock answered with no line/);
  });

  it('with allowHalfOpen, the caller still writes after the guest ended its side', async () => {
    const g = await gateway(dir, 16, (s) => {
      s.write('OK 5\n');
      s.end('bye');
    });
    servers.push(g.server);
    const socket = await connectVsock(dir, { cid: 16, port: 5 }, { allowHalfOpen: true });
    assert.equal(await readAll(socket), 'bye');
    assert.equal(socket.writable, true, 'our side stays open');
    socket.destroy();
  });

  describe('holdHalfClose', () => {
    /** A pair of half-open sockets: `near` (held) and `far`. */
    async function pair(): Promise<{ near: net.Socket; far: net.Socket }> {
      const server = net.createServer({ allowHalfOpen: true });
      servers.push(server);
      await new Promise<void>((r) => server.listen(path.join(dir, 'p.sock'), r));
      const far = new Promise<net.Socket>((r) =>
        server.once('connection', (s: net.Socket) => {
          accepted.push(s);
          r(s);
        }),
      );
      const near = net.createConnection({ path: path.join(dir, 'p.sock'), allowHalfOpen: true });
      await new Promise<void>((r) => near.once('connect', () => r()));
      accepted.push(near);
      return { near, far: await far };
    }

    it("end(chunk) sends the chunk at once, holds the half-close until the peer's end, calls back", async () => {
      const { near, far } = await pair();
      holdHalfClose(near);
      let farEnded = false;
      let farText = '';
      far.on('data', (b: Buffer) => (farText += b.toString()));
      far.once('end', () => (farEnded = true));
      let called = false;
      const chunkArrived = new Promise<void>((r) => far.once('data', () => r()));
      near.end('request', () => (called = true));
      await chunkArrived;
      assert.equal(farText, 'request');
      // The far side answers after our end(): it still can, and our half-close has not come.
      const answered = new Promise<string>((r) => near.once('data', (b: Buffer) => r(b.toString())));
      far.write('answer');
      assert.equal(await answered, 'answer');
      assert.equal(farEnded, false, 'the half-close is held');
      const farGotEnd = new Promise<void>((r) => (farEnded ? r() : far.once('end', () => r())));
      const nearClosed = new Promise<void>((r) => near.once('close', () => r()));
      far.end();
      await farGotEnd;
      await nearClosed;
      assert.equal(called, true);
      far.destroy();
    });

    it('end() after the peer ended ends at once', async () => {
      const { near, far } = await pair();
      holdHalfClose(near);
      near.on('data', () => undefined);
      const nearSawEnd = new Promise<void>((r) => near.once('end', () => r()));
      far.end();
      await nearSawEnd;
      const farGot = readAll(far);
      near.end(Buffer.from('last'));
      assert.equal(await farGot, 'last');
    });
  });
});
