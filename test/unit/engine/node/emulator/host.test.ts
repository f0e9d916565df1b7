// The enclave host run in this process (runEnclaveHost with a test NSM): what its console says in
// debug mode, that a client pipelining NSM requests without reading replies is paused rather than
// buffered for, that connections over the limit are refused, and the modes of what it creates; its
// boot heartbeat on the parent's vsock port 9000 (the application starts only after the echo), the
// vsock environment of the application, and the listener files an ended enclave leaves.
import * as assert from 'node:assert/strict';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DEFAULT_HOST_LIMITS,
  bootLines,
  newHostStats,
  runEnclaveHost,
  type EnclaveHostOptions,
  type HostStats,
} from '../../../../../src/engine/node/emulator/host';
import { requestHost, resultOf } from '../../../../../src/engine/node/emulator/protocol';
import { recordPathOf, socketPathFor, type EnclaveRecord } from '../../../../../src/engine/node/emulator/state';
import { encodeRequest } from '../../../../../src/engine/nsm/protocol';
import { endpointPath, listenVsock, vsockDirOf } from '../../../../../src/engine/node/vsock/endpoints';
import { HeartbeatListener } from '../../../../../src/engine/node/vsock/heartbeat';

const PARENT = 'i-0123456789abcdef0';
const ENCLAVE = `${PARENT}-enc0123456789abcdef`;
const PCR0 = 'ab'.repeat(48);

function recordFor(state: string, debugMode: boolean): EnclaveRecord {
  return {
    version: 1,
    parentId: PARENT,
    enclaveId: ENCLAVE,
    name: 'test',
    cid: 16,
    cpuIds: [1, 5],
    memoryMiB: 128,
    debugMode,
    eifPath: '/nowhere/test.eif',
    measurements: { HashAlgorithm: 'Sha384 { ... }', PCR0, PCR1: '11'.repeat(48), PCR2: '22'.repeat(48) },
    socketPath: socketPathFor(state, ENCLAVE, '.sock'),
    nsmSocketPath: socketPathFor(state, ENCLAVE, '.nsm.sock'),
    consoleLogPath: path.join(state, 'enclaves', `${ENCLAVE}.console.log`),
    runnerPid: process.pid,
    createdAt: new Date().toISOString(),
    hostPid: process.pid,
  };
}

async function waitFor(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function frame(bytes: Uint8Array): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(bytes.length);
  return Buffer.concat([head, bytes]);
}

/** Connects to the NSM socket; resolves with the socket once connected. */
function connect(where: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(where, () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends one request and resolves 'reply' when an answer comes, 'closed' when the host closes first. */
function roundTrip(s: net.Socket, request: Uint8Array): Promise<'reply' | 'closed'> {
  return new Promise((resolve) => {
    s.on('error', () => undefined);
    s.once('data', () => resolve('reply'));
    s.once('close', () => resolve('closed'));
    s.write(frame(request));
  });
}

describe('(unit) enclave host: console banner, NSM backpressure and connection limits', function () {
  this.timeout(120_000);
  let state: string | undefined;
  let record: EnclaveRecord;
  let ended: Promise<number> | undefined;
  const sockets: net.Socket[] = [];
  /** Listeners a test opened: closed after it, whatever happened. */
  const servers: net.Server[] = [];

  /** A state folder with this test's record in it (its app, if any). */
  function prepare(debugMode: boolean, app?: EnclaveRecord['app']): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ndh-'));
    state = dir;
    mkdirSync(path.join(dir, 'enclaves'), { recursive: true });
    record = { ...recordFor(dir, debugMode), ...(app ? { app } : {}) };
    writeFileSync(recordPathOf(dir, ENCLAVE), JSON.stringify(record));
    return dir;
  }

  /** Starts the host as run-enclave does: the parent listens for its heartbeat first, and echoes it. */
  async function startHost(options: EnclaveHostOptions, debugMode = false): Promise<void> {
    const dir = prepare(debugMode);
    const heartbeat = await HeartbeatListener.listen(vsockDirOf(dir, PARENT));
    ended = runEnclaveHost(recordPathOf(dir, ENCLAVE), { handleSignals: false, ...options });
    assert.deepEqual(await heartbeat.outcome, { ok: true });
    await waitFor(() => existsSync(record.socketPath) && existsSync(record.nsmSocketPath), 'the host to listen');
  }

  /** An application that writes its vsock environment to `marker`, then idles. */
  function markerApp(dir: string): { app: NonNullable<EnclaveRecord['app']>; marker: string } {
    const marker = path.join(dir, 'app-started.json');
    const script =
      "require('node:fs').writeFileSync(process.argv[1], JSON.stringify({ dir: process.env.NITRO_VSOCK_DIR, " +
      'parent: process.env.NITRO_PARENT_CID, cid: process.env.NITRO_ENCLAVE_CID })); setInterval(() => {}, 1000)';
    return { app: { command: process.execPath, args: ['-e', script, marker], cwd: dir }, marker };
  }

  /** Starts the host with a plain listener on the parent's port 9000: the heartbeat's connection and first byte. */
  async function acceptHeartbeat(dir: string): Promise<{ socket: net.Socket; byte: number; server: net.Server }> {
    let server!: net.Server;
    const got = new Promise<{ socket: net.Socket; byte: number }>((resolve) => {
      void listenVsock(vsockDirOf(dir, PARENT), { cid: 3, port: 9000 }, (socket) =>
        socket.once('data', (b: Buffer) => resolve({ socket, byte: b[0] as number })),
      ).then((s) => {
        server = s;
        servers.push(s);
      });
    });
    await waitFor(() => server !== undefined, 'the heartbeat listener');
    ended = runEnclaveHost(recordPathOf(dir, ENCLAVE), { handleSignals: false });
    const { socket, byte } = await got;
    sockets.push(socket);
    return { socket, byte, server };
  }

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    for (const s of servers.splice(0)) s.close();
    if (ended) {
      resultOf(await requestHost(record.socketPath, { op: 'terminate' }, { timeoutMs: 30_000 }));
      assert.equal(await ended, 0);
      ended = undefined;
    }
    if (state) rmSync(state, { recursive: true, force: true });
    state = undefined;
  });

  it("debug mode: the console gives the image's PCR0 and says the NSM reports zeros for PCR0, 1, 2 and 8", () => {
    const debug = bootLines(recordFor(os.tmpdir(), true));
    assert.ok(debug.includes(PCR0));
    assert.match(debug, /Debug mode: this enclave's NSM reports PCR0, PCR1, PCR2 and PCR8 as zeros/);
    assert.match(debug, /not the image's PCR0 above/);
    const production = bootLines(recordFor(os.tmpdir(), false));
    assert.ok(production.includes(PCR0));
    assert.doesNotMatch(production, /zeros/);
    const withVsock = bootLines(recordFor(os.tmpdir(), false), '/some/vsock');
    assert.match(withVsock, /no kernel boots/);
    assert.match(withVsock, /emulated vsock folder is \/some\/vsock \(NITRO_VSOCK_DIR\)/);
    assert.match(withVsock, /3\.P\.sock/);
    assert.match(withVsock, /16\.P\.sock/);
  });

  it(
    'boots with the heartbeat: 0xB7 to the parent on vsock 3:9000; ' +
      'the application starts only after the echo, with its vsock environment',
    async () => {
      const dir = prepare(false);
      const { app, marker } = markerApp(dir);
      record = { ...record, app };
      writeFileSync(recordPathOf(dir, ENCLAVE), JSON.stringify(record));
      const { socket, byte, server } = await acceptHeartbeat(dir);
      assert.equal(byte, 0xb7);
      // The host answers requests while it waits for the echo, and the application has not started.
      await waitFor(() => existsSync(record.socketPath), 'the control socket');
      resultOf(await requestHost(record.socketPath, { op: 'describe' }, { timeoutMs: 30_000 }));
      assert.equal(existsSync(marker), false, 'the application started before the echo');
      socket.write(Buffer.of(0xb7));
      await waitFor(() => existsSync(marker) && readFileSync(marker, 'utf8').endsWith('}'), 'the application');
      assert.deepEqual(JSON.parse(readFileSync(marker, 'utf8')), {
        dir: vsockDirOf(dir, PARENT),
        parent: '3',
        cid: '16',
      });
      assert.match(readFileSync(record.consoleLogPath, 'utf8'), /emulated vsock folder is .*\(NITRO_VSOCK_DIR\)/);
      server.close();
    },
  );

  for (const [what, act, says] of [
    ['echoed as another byte', (s: net.Socket) => s.write(Buffer.of(0)), /echoed its boot heartbeat as 0x00, not 0xB7/],
    [
      'not echoed (the connection closes)',
      (s: net.Socket) => s.destroy(),
      /closed its boot heartbeat connection without the echo/,
    ],
  ] as const) {
    it(`a heartbeat ${what} ends the enclave without starting its application`, async () => {
      const dir = prepare(false);
      const { app, marker } = markerApp(dir);
      record = { ...record, app };
      writeFileSync(recordPathOf(dir, ENCLAVE), JSON.stringify(record));
      const { socket, server } = await acceptHeartbeat(dir);
      act(socket);
      assert.equal(await ended, 0);
      ended = undefined;
      assert.match(readFileSync(record.consoleLogPath, 'utf8'), says);
      assert.equal(existsSync(marker), false);
      assert.equal(existsSync(recordPathOf(dir, ENCLAVE)), false, 'the record is removed');
      server.close();
    });
  }

  it('with nobody listening on the heartbeat port the enclave ends at once (as init dies)', async () => {
    const dir = prepare(false);
    ended = runEnclaveHost(recordPathOf(dir, ENCLAVE), { handleSignals: false });
    assert.equal(await ended, 0);
    ended = undefined;
    assert.match(
      readFileSync(record.consoleLogPath, 'utf8'),
      /boot heartbeat did not reach the parent \(Connection refused/,
    );
  });

  it(
    "an ended enclave's listener files of its CID are removed; " + "other CIDs', symlinks and plain files stay",
    async function () {
      if (process.platform === 'win32') this.skip();
      await startHost({});
      const vsock = vsockDirOf(state as string, PARENT);
      const mine = await listenVsock(vsock, { cid: 16, port: 5000 }, () => undefined);
      const other = await listenVsock(vsock, { cid: 17, port: 5000 }, () => undefined);
      const parents = await listenVsock(vsock, { cid: 3, port: 5000 }, () => undefined);
      const target = path.join(state as string, 'target');
      writeFileSync(target, 'keep');
      symlinkSync(target, endpointPath(vsock, { cid: 16, port: 6000 }));
      writeFileSync(endpointPath(vsock, { cid: 16, port: 7000 }), 'not a socket');
      try {
        resultOf(await requestHost(record.socketPath, { op: 'terminate' }, { timeoutMs: 30_000 }));
        assert.equal(await ended, 0);
        ended = undefined;
        assert.equal(
          existsSync(endpointPath(vsock, { cid: 16, port: 5000 })),
          false,
          "the enclave's listener file stays",
        );
        assert.ok(existsSync(endpointPath(vsock, { cid: 17, port: 5000 })));
        assert.ok(existsSync(endpointPath(vsock, { cid: 3, port: 5000 })));
        assert.ok(lstatSync(endpointPath(vsock, { cid: 16, port: 6000 })).isSymbolicLink());
        assert.equal(readFileSync(target, 'utf8'), 'keep');
        assert.ok(existsSync(endpointPath(vsock, { cid: 16, port: 7000 })));
      } finally {
        for (const s of [mine, other, parents]) s.close();
      }
    },
  );

  it(
    'a client that pipelines NSM requests and reads no reply is paused: ' +
      'the host stops reading, replies held stay bounded',
    async () => {
      const stats = newHostStats();
      let calls = 0;
      const reply = new Uint8Array(1024).fill(7);
      await startHost({ stats, nsm: () => async () => (calls++, reply) });
      const client = await connect(record.nsmSocketPath);
      sockets.push(client);
      client.pause(); // reads nothing
      const total = 20_000; // 20 MB of replies if all were answered
      const one = frame(encodeRequest({ type: 'DescribePCR', index: 0 }));
      client.write(Buffer.concat(Array.from({ length: total }, () => one)));
      // Either the host answered everything (nothing held it back), or it waits for the client to read.
      await waitFor(() => calls === total || stats.nsmWaitingForDrain === 1, 'the host to answer all or to wait');
      assert.ok(
        calls < total,
        `the host answered all ${total} requests into a buffer of ${total * reply.length} bytes`,
      );
      assert.equal(stats.nsmWaitingForDrain, 1);
      assert.equal(stats.nsmPaused, 1, 'reading is paused');
      assert.ok(client.writableLength > 0, 'the rest of the requests waits in the client, not in the host');
      assert.ok(
        stats.maxUnsentBytes < DEFAULT_HOST_LIMITS.unsentBytes + reply.length + 4,
        `unsent replies reached ${stats.maxUnsentBytes} bytes`,
      );
      assert.ok(stats.maxUnreadBytes <= 2 * 64 * 1024 + 4, `unanswered request bytes reached ${stats.maxUnreadBytes}`);
      // Once the client reads, the host goes on and answers every request, in order.
      let received = 0;
      client.on('data', (b: Buffer) => (received += b.length));
      client.resume();
      await waitFor(() => received === total * (reply.length + 4), 'every reply');
      assert.equal(calls, total);
      client.destroy();
      await waitFor(
        () => stats.nsmConnections === 0 && stats.nsmPaused === 0 && stats.nsmWaitingForDrain === 0,
        'the connection to be released',
      );
    },
  );

  it(
    'NSM connections over the limit are refused at once; ' + 'the others go on, and a freed place can be taken again',
    async () => {
      const stats: HostStats = newHostStats();
      await startHost({ stats });
      const request = encodeRequest({ type: 'DescribePCR', index: 0 });
      const open: net.Socket[] = [];
      for (let i = 0; i < DEFAULT_HOST_LIMITS.nsmConnections; i++) {
        const s = await connect(record.nsmSocketPath);
        sockets.push(s);
        open.push(s);
        assert.equal(await roundTrip(s, request), 'reply');
      }
      const extra = await connect(record.nsmSocketPath).catch(() => undefined);
      if (extra) {
        sockets.push(extra);
        assert.equal(
          await roundTrip(extra, request),
          'closed',
          `connection ${DEFAULT_HOST_LIMITS.nsmConnections + 1} was served`,
        );
      }
      assert.equal(stats.nsmRefused, 1);
      assert.equal(await roundTrip(open[0]!, request), 'reply', 'an open connection still works');
      open[1]!.destroy();
      await waitFor(() => stats.nsmConnections < DEFAULT_HOST_LIMITS.nsmConnections, 'a place to free up');
      const again = await connect(record.nsmSocketPath);
      sockets.push(again);
      assert.equal(await roundTrip(again, request), 'reply');
    },
  );

  it(
    'the console log and both sockets are 0600; ' +
      'the host gives back the record it holds (what repair-state writes back)',
    async function () {
      if (process.platform === 'win32') this.skip();
      await startHost({}, true);
      const mode = (p: string) => statSync(p).mode & 0o777;
      assert.equal(mode(record.consoleLogPath), 0o600);
      assert.equal(mode(record.socketPath), 0o600);
      assert.equal(mode(record.nsmSocketPath), 0o600);
      const held = resultOf<EnclaveRecord>(
        await requestHost(record.socketPath, { op: 'record' }, { timeoutMs: 30_000 }),
      );
      assert.deepEqual(held, { ...record, hostPid: process.pid });
    },
  );
});
