import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { connectVsock } from '../../../src/engine/node/vsock/endpoints';
import { repoPath } from '../repo';

const cli = repoPath('dist/cli.js');

/** Waits for a condition (no fixed sleeps). */
async function eventually<T>(what: string, probe: () => T | undefined | false, ms = 40_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('(unit) nitro-dev vsock-proxy', function () {
  this.timeout(90_000);
  let dir: string;
  let vsockDir: string;
  let echo: net.Server;
  let port: number;
  const env = () => ({ ...process.env, NITRO_VSOCK_DIR: vsockDir, NITRO_DEV_STATE_DIR: path.join(dir, 'state') });

  before(() => assert.ok(existsSync(cli), 'build dist/cli.js first'));
  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'vpcli-'));
    vsockDir = path.join(dir, 'v');
    mkdirSync(vsockDir, { mode: 0o700 });
    echo = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => undefined);
      s.pipe(s);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    port = (echo.address() as net.AddressInfo).port;
  });
  afterEach(async () => {
    await new Promise<void>((r) => echo.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  const config = (text: string) => {
    const file = path.join(dir, 'vsock-proxy.yaml');
    writeFileSync(file, text);
    return file;
  };

  it('refuses to start, exit 1, naming each entry tried and why it did not match', () => {
    const file = config(`allowlist:\n- {address: 127.0.0.1, port: 1}\n- {address: 127.0.0.2, port: ${port}}\n`);
    const r = spawnSync(process.execPath, [cli, 'vsock-proxy', '--config', file, '6000', '127.0.0.1', String(port)], {
      env: env(),
      encoding: 'utf8',
    });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      `nitro-dev: error: Error at checking the allowlist ${file}: 127.0.0.1 port ${port} is not allowed: ` +
        `no entry of the allowlist allows 127.0.0.1 port ${port}.\n` +
        `  entry 1 (line 2, 127.0.0.1 port 1): port 1 is not ${port}\n` +
        `  entry 2 (line 3, 127.0.0.2 port ${port}): host name 127.0.0.2 is not 127.0.0.1, ` +
        'and it resolves to 127.0.0.2, not 127.0.0.1\n' +
        '(the real vsock-proxy says only: The given address and port are not allowed)\n',
    );
    assert.ok(!existsSync(path.join(vsockDir, '3.6000.sock')));
  });

  it('refuses -4 with -6, zero workers and bad ports as usage errors (exit 2)', () => {
    const file = config(`allowlist:\n- {address: 127.0.0.1, port: ${port}}\n`);
    for (const [args, re] of [
      [['-4', '-6'], /'--ipv4' cannot be used with '--ipv6'/],
      [['-w', '0'], /Number of workers is not valid: '0'/],
      [['-w', 'x'], /Number of workers is not valid/],
    ] as const) {
      const r = spawnSync(
        process.execPath,
        [cli, 'vsock-proxy', '--config', file, ...args, '6000', '127.0.0.1', String(port)],
        {
          env: env(),
          encoding: 'utf8',
        },
      );
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, re);
    }
    for (const [local, remote, re] of [
      ['4294967295', String(port), /Local port is not valid/],
      ['6000', '70000', /Remote port is not valid: '70000'/],
      ['6000', '0', /Remote port is not valid/],
    ] as const) {
      const r = spawnSync(process.execPath, [cli, 'vsock-proxy', '--config', file, local, '127.0.0.1', remote], {
        env: env(),
        encoding: 'utf8',
      });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, re);
    }
  });

  it('starts, forwards one connection with one line for it, and stops on SIGTERM removing its endpoint', async () => {
    const file = config(`allowlist:\n- {address: localhost, port: ${port}}\n- {address: x, port: ${port}, note: y}\n`);
    const child = spawn(
      process.execPath,
      [cli, 'vsock-proxy', '--config', file, '-w', '2', '6000', '127.0.0.1', String(port)],
      {
        env: env(),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    try {
      await eventually(`the listening line (stderr: ${err})`, () => out.includes('listening'));
      assert.match(
        out,
        new RegExp(
          '^vsock-proxy: listening on vsock 3:6000 \\(.*3\\.6000\\.sock\\), ' +
            `forwarding to 127\\.0\\.0\\.1:${port} \\(127\\.0\\.0\\.1\\); ` +
            `allowed by entry 1 \\(.*vsock-proxy\\.yaml:2\\) by its address; 2 workers\\n$`,
        ),
      );
      // The file's warnings come on stderr with their positions.
      assert.match(err, /vsock-proxy\.yaml:3:\d+: warning: unknown key 'note'/);
      const endpoint = path.join(vsockDir, '3.6000.sock');
      assert.ok(existsSync(endpoint));
      const client = await connectVsock(vsockDir, { cid: 3, port: 6000 });
      const chunks: Buffer[] = [];
      client.on('data', (d: Buffer) => chunks.push(d));
      const closed = new Promise<void>((r) => client.on('close', () => r()));
      client.end('ping');
      await closed;
      assert.equal(Buffer.concat(chunks).toString(), 'ping');
      await eventually('the connection line', () => /connection 1: closed/.test(out));
      assert.match(out, /\nconnection 1: closed \(4 bytes to 127\.0\.0\.1:\d+, 4 back, [\d.]+ s/);
      child.kill('SIGTERM');
      assert.equal(await exited, 143, err);
      assert.ok(!existsSync(endpoint), 'the endpoint is removed');
      assert.match(out, /vsock-proxy: stopped \(1 connection, 4 bytes out, 4 bytes back\)\n$/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
