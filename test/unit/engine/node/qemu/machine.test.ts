// The QEMU machine without QEMU: the command lines it builds (pure), the kernel end watch, the socket
// joint, and QemuEnclaveMachine's control protocol against stand-in programs (node scripts) for
// vhost-device-vsock, the parent VM's QEMU and the enclave's QEMU.
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  KernelEndWatch,
  QemuEnclaveMachine,
  RELAY_CONTROL_PORT,
  enclaveQemuArgs,
  joinSockets,
  relayQemuArgs,
  runFilesIn,
  vhostArgs,
  vhostConfig,
  type MachineEvents,
  type QemuEnclave,
  type QemuMachineSpec,
} from '../../../../../src/engine/node/qemu/machine';
import { listenVsock } from '../../../../../src/engine/node/vsock/endpoints';

const SPEC: QemuMachineSpec = {
  kind: 'qemu',
  qemu: '/opt/q/bin/qemu-system-x86_64',
  vhostDeviceVsock: '/opt/q/bin/vhost-device-vsock',
  relayKernel: '/opt/q/kernel/bzImage',
  relayInitrd: '/opt/q/guest/relay.cpio',
  accel: 'tcg',
};
const ENCLAVE: QemuEnclave = {
  enclaveId: 'i-0123456789abcdef0-enc0123456789abcdef',
  parentId: 'i-0123456789abcdef0',
  cid: 16,
  cpuCount: 2,
  memoryMiB: 512,
  eifPath: '/images/app.eif',
};

/** QEMU's option parser (QemuOpts): `,,` is a comma in a value; a single comma separates options. */
function parseQemuOpts(text: string): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ',') {
      if (text[i + 1] === ',') {
        current += ',';
        i++;
      } else {
        out.push(current);
        current = '';
      }
    } else current += text[i];
  }
  out.push(current);
  return out;
}

/** The value after `flag` in argv (the only one). */
function after(args: readonly string[], flag: string): string {
  const at = args.indexOf(flag);
  assert.ok(at >= 0 && args.indexOf(flag, at + 1) < 0, `${flag} once in ${args.join(' ')}`);
  return args[at + 1] as string;
}

describe('(unit) QEMU machine: command lines', () => {
  it('enclaveQemuArgs: the exact argv, with and without firmware folder and role', () => {
    assert.deepEqual(enclaveQemuArgs(SPEC, ENCLAVE, '/run/q/ve.sock'), [
      '-M',
      `nitro-enclave,vsock=c,id=${ENCLAVE.enclaveId},parent-id=${ENCLAVE.parentId}`,
      '-accel',
      'tcg',
      '-kernel',
      '/images/app.eif',
      '-m',
      '512M',
      '-smp',
      '2',
      '-nographic',
      '-monitor',
      'none',
      '-serial',
      'stdio',
      '-no-reboot',
      '-chardev',
      'socket,id=c,path=/run/q/ve.sock',
    ]);
    const withAll = enclaveQemuArgs(
      { ...SPEC, firmwareDir: '/opt/q/share/qemu', accel: 'kvm' },
      { ...ENCLAVE, iamRoleArn: 'arn:aws:iam::123456789012:role/app' },
      '/run/q/ve.sock',
    );
    assert.deepEqual(withAll.slice(0, 2), ['-L', '/opt/q/share/qemu']);
    assert.equal(after(withAll, '-accel'), 'kvm');
    assert.deepEqual(parseQemuOpts(after(withAll, '-M')), [
      'nitro-enclave',
      'vsock=c',
      `id=${ENCLAVE.enclaveId}`,
      `parent-id=${ENCLAVE.parentId}`,
      'parent-role=arn:aws:iam::123456789012:role/app',
    ]);
  });

  it('a comma in a role, an id or a path cannot add a machine or chardev option', () => {
    const args = enclaveQemuArgs(
      SPEC,
      {
        ...ENCLAVE,
        enclaveId: 'e,vsock=evil',
        parentId: 'p,,memory-backend=x',
        iamRoleArn: 'arn:aws:iam::1:role/a,id=other',
      },
      '/run/a,server=on/ve.sock',
    );
    assert.deepEqual(parseQemuOpts(after(args, '-M')), [
      'nitro-enclave',
      'vsock=c',
      'id=e,vsock=evil',
      'parent-id=p,,memory-backend=x',
      'parent-role=arn:aws:iam::1:role/a,id=other',
    ]);
    assert.deepEqual(parseQemuOpts(after(args, '-chardev')), ['socket', 'id=c', 'path=/run/a,server=on/ve.sock']);
    const relay = relayQemuArgs({ ...SPEC, relayInitrd: '/x/r.cpio' }, '/run/a,server=on/v3.sock');
    assert.deepEqual(parseQemuOpts(after(relay, '-chardev')), ['socket', 'id=c3', 'path=/run/a,server=on/v3.sock']);
  });

  it('relayQemuArgs: the exact argv of the parent VM', () => {
    assert.deepEqual(relayQemuArgs({ ...SPEC, firmwareDir: '/fw' }, '/run/q/v3.sock'), [
      '-L',
      '/fw',
      '-M',
      'microvm,acpi=off,memory-backend=mem',
      '-object',
      'memory-backend-memfd,id=mem,size=96M,share=on',
      '-m',
      '96M',
      '-accel',
      'tcg',
      '-kernel',
      '/opt/q/kernel/bzImage',
      '-initrd',
      '/opt/q/guest/relay.cpio',
      '-append',
      'console=ttyS0 panic=-1 quiet',
      '-nographic',
      '-monitor',
      'none',
      '-serial',
      'stdio',
      '-no-reboot',
      '-chardev',
      'socket,id=c3,path=/run/q/v3.sock',
      '-device',
      'vhost-user-vsock-device,chardev=c3',
    ]);
    assert.equal(relayQemuArgs(SPEC, '/s')[0], '-M', 'no -L without a firmware folder');
  });

  it('runFilesIn, vhostConfig and vhostArgs: the run folder files and the two sibling VMs, in a file', () => {
    const run = runFilesIn('/run/q');
    assert.deepEqual(run, {
      dir: '/run/q',
      parentVhost: '/run/q/v3.sock',
      enclaveVhost: '/run/q/ve.sock',
      relayUds: '/run/q/r.sock',
      vhostConfig: '/run/q/vhost.yaml',
    });
    assert.deepEqual(vhostArgs(run), ['--config', '/run/q/vhost.yaml']);
    assert.equal(
      vhostConfig(run, 16, '/vs/16.vm.sock'),
      'vms:\n' +
        '  - guest_cid: 3\n    socket: "/run/q/v3.sock"\n    uds_path: "/run/q/r.sock"\n' +
        '  - guest_cid: 16\n    socket: "/run/q/ve.sock"\n    uds_path: "/vs/16.vm.sock"\n',
    );
  });

  it('vhostConfig keeps paths with commas, quotes, colons and non-ASCII whole (a YAML reader gets them back)', () => {
    const dir = '/tmp/a,b: "c" #d é';
    const run = runFilesIn(dir);
    const gateway = '/state/x,y/16.vm.sock';
    assert.deepEqual(parseYaml(vhostConfig(run, 16, gateway)), {
      vms: [
        { guest_cid: 3, socket: `${dir}/v3.sock`, uds_path: `${dir}/r.sock` },
        { guest_cid: 16, socket: `${dir}/ve.sock`, uds_path: gateway },
      ],
    });
  });
});

describe('(unit) QEMU machine: kernel end lines', () => {
  const feed = (chunks: readonly string[]) => {
    const watch = new KernelEndWatch();
    const seen = chunks.map((c) => watch.push(Buffer.from(c, 'latin1')));
    return seen.filter((s) => s !== undefined);
  };

  it('finds the three end lines, with or without a timestamp, CRLF or LF', () => {
    assert.deepEqual(feed(['booting\r\n', 'reboot: Restarting system\r\n']), ['reboot: Restarting system']);
    assert.deepEqual(feed(['[    1.234567] reboot: Power down\n']), ['reboot: Power down']);
    assert.deepEqual(feed(['[    9.000000] System halted.\r\n']), ['System halted.']);
    assert.deepEqual(feed(['System halted\n']), ['System halted']);
  });

  it('finds a line split across chunks, only once the line is complete, and reports it once', () => {
    const watch = new KernelEndWatch();
    assert.equal(watch.push(Buffer.from('app output\r\n[   2.0] reb')), undefined);
    assert.equal(watch.push(Buffer.from('oot: Restarting sys')), undefined);
    assert.equal(watch.push(Buffer.from('tem')), undefined, 'not before the line ends');
    assert.equal(watch.push(Buffer.from('\r\n')), 'reboot: Restarting system');
    assert.equal(watch.push(Buffer.from('reboot: Power down\n')), undefined, 'once');
  });

  it('does not match text that merely contains reboot', () => {
    assert.deepEqual(
      feed([
        'please reboot\n',
        'I will not reboot: Restarting system\n',
        'reboot: Restarting system now\n',
        'echo reboot: Power down > log\n',
        'the System halted. message\n',
        'reboot: Restarting system', // no end of line yet
      ]),
      [],
    );
  });
});

/** A connected pair of Unix sockets (half-open allowed) through a listener at `where`. */
async function socketPair(where: string): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((r) => server.listen(where, r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.createConnection({ path: where, allowHalfOpen: true });
  await new Promise<void>((r) => client.once('connect', () => r()));
  const other = await accepted;
  server.close();
  return [client, other];
}

const readAll = (s: net.Socket) =>
  new Promise<string>((resolve) => {
    let text = '';
    s.on('data', (b: Buffer) => (text += b.toString()));
    s.once('end', () => resolve(text));
  });

describe('(unit) QEMU machine: joinSockets', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'qj-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('copies both ways and passes each half-close on, so an answer after the end still arrives', async () => {
    const [left, a] = await socketPair(path.join(dir, 'a'));
    const [b, right] = await socketPair(path.join(dir, 'b'));
    joinSockets(a, b);
    const rightGot = readAll(right);
    left.end('request');
    assert.equal(await rightGot, 'request', 'the end reached the far side');
    const leftGot = readAll(left);
    right.end('answer after the request ended');
    assert.equal(await leftGot, 'answer after the request ended');
    await Promise.all([a, b].map((s) => (s.destroyed ? Promise.resolve() : new Promise((r) => s.once('close', r)))));
  });

  it('a close (destroy) of one side ends the other', async () => {
    const [left, a] = await socketPair(path.join(dir, 'a'));
    const [b, right] = await socketPair(path.join(dir, 'b'));
    joinSockets(a, b);
    left.on('error', () => undefined);
    right.on('error', () => undefined);
    const rightEnded = readAll(right);
    left.destroy();
    await rightEnded;
    const closed = [a, b, right].map((s) => (s.closed ? Promise.resolve() : new Promise((r) => s.once('close', r))));
    right.end();
    await Promise.all(closed);
  });
});

// ---- QemuEnclaveMachine against stand-ins ----

/**
 * The stand-ins. Each writes its pid to `<fake>/<role>.pid` and is configured by `<fake>/config.json`:
 *   vhost:  { vhostExit?: text } prints text and exits 1 at once; else makes the socket files its
 *           --config file names (each socket, and the enclave's uds_path) and runs until killed.
 *   qemu -M microvm: the parent VM; connects `<run>/r.sock_<control port>`, logs each line to
 *           `<fake>/control.log` and answers `OK <line>` (or `ERR` for ports in config.refuse).
 *   qemu -M nitro-enclave: writes its argv to `<fake>/enclave.args`, prints config.console (a list
 *           of chunks, a pause between them), then runs until killed.
 */
const VHOST = `
const fs = require('fs'), net = require('net'), path = require('path');
const fake = __dirname;
const put = (name, text) => {
  fs.writeFileSync(path.join(fake, name + '.tmp'), text);
  fs.renameSync(path.join(fake, name + '.tmp'), path.join(fake, name));
};
const config = JSON.parse(fs.readFileSync(path.join(fake, 'config.json'), 'utf8'));
put('vhost.pid', String(process.pid));
if (config.vhostExit) { process.stderr.write(config.vhostExit + '\\n'); process.exit(1); }
const argv = process.argv.slice(2);
put('vhost.args', JSON.stringify(argv));
// The --config file as vhostConfig writes it: one "key: value" per line, values JSON-quoted paths.
const vms = [];
for (const line of fs.readFileSync(argv[argv.indexOf('--config') + 1], 'utf8').split('\\n')) {
  const m = /^  (- |  )(\\w+): (.*)$/.exec(line);
  if (!m) continue;
  if (m[1] === '- ') vms.push({});
  vms[vms.length - 1][m[2]] = JSON.parse(m[3]);
}
for (const vm of vms) {
  net.createServer().listen(vm.socket);
  if (vm.guest_cid !== 3) net.createServer().listen(vm.uds_path);
}
setInterval(() => undefined, 1 << 30);
`;
const QEMU = `
const fs = require('fs'), net = require('net'), path = require('path');
const fake = __dirname;
const put = (name, text) => {
  fs.writeFileSync(path.join(fake, name + '.tmp'), text);
  fs.renameSync(path.join(fake, name + '.tmp'), path.join(fake, name));
};
const config = JSON.parse(fs.readFileSync(path.join(fake, 'config.json'), 'utf8'));
const argv = process.argv.slice(2);
const machine = argv[argv.indexOf('-M') + 1];
const chardev = argv[argv.indexOf('-chardev') + 1];
// QEMU's option syntax: ",," is a comma inside a value.
const chardevPath = chardev.replace(/,,/g, '\\0').split(',').find((o) => o.startsWith('path=')).slice(5);
const run = path.dirname(chardevPath.replace(/\\0/g, ','));
setInterval(() => undefined, 1 << 30);
if (machine.startsWith('microvm')) {
  put('relay.pid', String(process.pid));
  const control = net.createConnection(path.join(run, 'r.sock_${RELAY_CONTROL_PORT}'));
  let buffer = '';
  control.on('data', (b) => {
    buffer += b.toString();
    let nl;
    while ((nl = buffer.indexOf('\\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      fs.appendFileSync(path.join(fake, 'control.log'), line + '\\n');
      const port = Number(line.split(' ')[1]);
      control.write((config.refuse || []).includes(port) ? 'ERR busy\\n' : 'OK ' + line + '\\n');
    }
  });
} else {
  put('enclave.pid', String(process.pid));
  put('enclave.args', JSON.stringify(argv));
  const chunks = [...(config.console || [])];
  const next = () => {
    if (chunks.length === 0) return;
    process.stdout.write(chunks.shift(), () => setTimeout(next, 20));
  };
  next();
}
`;

function writeFake(dir: string, name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!${process.execPath}\n${body}`, { mode: 0o755 });
  return file;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits (without a fixed time) until `check` holds; the suite's timeout bounds it. */
async function until<T>(check: () => T | undefined | false | ''): Promise<T> {
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    const v = check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, delay));
  }
}

const readText = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '');

describe('(unit) QEMU machine: QemuEnclaveMachine with stand-in programs', function () {
  this.timeout(90_000);
  let root: string;
  let fake: string;
  let vsockDir: string;
  let runDir: string;
  let spec: QemuMachineSpec;
  const machines: QemuEnclaveMachine[] = [];
  const servers: net.Server[] = [];

  const events = () => {
    const log = { console: '', notes: [] as string[], ended: [] as string[] };
    const e: MachineEvents = {
      console: (b) => (log.console += b.toString()),
      note: (line) => log.notes.push(line),
      ended: (reason) => log.ended.push(reason),
    };
    return { log, events: e };
  };

  const configure = (config: object) => writeFileSync(path.join(fake, 'config.json'), JSON.stringify(config));

  const machine = (e: MachineEvents) => {
    const m = new QemuEnclaveMachine(spec, ENCLAVE, vsockDir, runDir, e);
    machines.push(m);
    return m;
  };

  /** A parent listener on (3, port) that answers each connection with its bytes upper-cased, then ends. */
  const listenUpper = async (port: number) => {
    const s = await listenVsock(vsockDir, { cid: 3, port }, (c) => {
      let got = '';
      c.on('data', (b: Buffer) => (got += b.toString()));
      c.on('end', () => c.end(got.toUpperCase()));
    });
    servers.push(s);
    return s;
  };

  beforeEach(() => {
    // A comma in every path: vhost-device-vsock and QEMU must both get them whole.
    root = mkdtempSync(path.join(os.tmpdir(), 'q,m-'));
    fake = path.join(root, 'fake');
    vsockDir = path.join(root, 'vs');
    runDir = path.join(root, 'run');
    mkdirSync(fake);
    mkdirSync(vsockDir, { mode: 0o700 });
    spec = {
      ...SPEC,
      qemu: writeFake(fake, 'qemu', QEMU),
      vhostDeviceVsock: writeFake(fake, 'vhost', VHOST),
    };
    configure({});
  });
  afterEach(async () => {
    for (const m of machines.splice(0)) await m.stop(500);
    for (const s of servers.splice(0)) s.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('starts the three programs, relays the ports listened on at start, and joins a relayed connection', async () => {
    await listenUpper(5000);
    await listenUpper(9000);
    const { log, events: e } = events();
    const m = machine(e);
    await m.start();
    assert.deepEqual(readText(path.join(fake, 'control.log')).split('\n').filter(Boolean).sort(), ['L 5000', 'L 9000']);
    assert.ok(
      log.notes.some((n) => n.includes('relays vsock ports 5000, 9000 of CID 3')),
      log.notes.join('\n'),
    );
    assert.deepEqual(JSON.parse(readText(path.join(fake, 'vhost.args'))), [
      '--config',
      path.join(runDir, 'vhost.yaml'),
    ]);
    assert.equal(
      readText(path.join(runDir, 'vhost.yaml')),
      vhostConfig(runFilesIn(runDir), 16, path.join(vsockDir, '16.vm.sock')),
    );
    const enclaveArgs = await until(() => readText(path.join(fake, 'enclave.args')));
    assert.deepEqual(JSON.parse(enclaveArgs), enclaveQemuArgs(spec, ENCLAVE, path.join(runDir, 've.sock')));

    // What vhost-device-vsock does for a connection the enclave makes to (3, 5000) through the relay.
    const relayed = net.createConnection({ path: path.join(runDir, 'r.sock_5000'), allowHalfOpen: true });
    const answer = readAll(relayed);
    relayed.end('bytes from the enclave');
    assert.equal(await answer, 'BYTES FROM THE ENCLAVE');
    assert.deepEqual(log.ended, []);
  });

  it('follows the parent: a listener added later is relayed, one removed is unrelayed', async () => {
    const { log, events: e } = events();
    const m = machine(e);
    await m.start();
    assert.equal(readText(path.join(fake, 'control.log')), '');
    const later = await listenUpper(7001);
    await until(() => readText(path.join(fake, 'control.log')).includes('L 7001\n'));
    await until(() => existsSync(path.join(runDir, 'r.sock_7001')));
    const relayed = net.createConnection({ path: path.join(runDir, 'r.sock_7001'), allowHalfOpen: true });
    const answer = readAll(relayed);
    relayed.end('late');
    assert.equal(await answer, 'LATE');
    await new Promise<void>((r) => later.close(() => r()));
    await until(() => readText(path.join(fake, 'control.log')).includes('U 7001\n'));
    assert.deepEqual(log.ended, []);
  });

  it('a port the parent VM refuses is not relayed, and said so', async () => {
    configure({ refuse: [6000] });
    await listenUpper(6000);
    const { log, events: e } = events();
    await machine(e).start();
    assert.ok(
      log.notes.some((n) => /cannot listen on vsock port 6000: ERR busy/.test(n)),
      log.notes.join('\n'),
    );
    assert.ok(
      log.notes.some((n) => n.includes('relays vsock ports none')),
      log.notes.join('\n'),
    );
    assert.equal(existsSync(path.join(runDir, 'r.sock_6000')), false);
  });

  it('streams the console; a kernel restart ends the enclave; stop() ends all three, removes the files', async () => {
    configure({
      console: ['Linux version 6.1\r\n', '[    0.5] app: hello\r\n[    0.6] reb', 'oot: Restarting system\r\n'],
    });
    const { log, events: e } = events();
    const m = machine(e);
    await m.start();
    const ended = await until(() => log.ended[0]);
    assert.match(ended, /^QEMU was ended by SIGTERM$/);
    assert.match(log.console, /app: hello/);
    assert.ok(
      log.notes.some((n) => n.includes('printed "reboot: Restarting system"')),
      log.notes.join('\n'),
    );
    const pids = ['vhost', 'relay', 'enclave'].map((r) => Number(readText(path.join(fake, `${r}.pid`))));
    assert.equal(alive(pids[2] as number), false, 'the enclave QEMU is gone');
    assert.ok(alive(pids[0] as number) && alive(pids[1] as number));
    assert.ok(existsSync(path.join(vsockDir, '16.vm.sock')));
    await m.stop();
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid}`);
    assert.equal(existsSync(runDir), false);
    assert.equal(existsSync(path.join(vsockDir, '16.vm.sock')), false);
  });

  it('console text merely containing reboot does not end the enclave; stop() then ends it', async () => {
    configure({ console: ['please reboot: Restarting system soon\r\n', 'done\r\n'] });
    const { log, events: e } = events();
    const m = machine(e);
    await m.start();
    await until(() => log.console.includes('done'));
    const pid = Number(readText(path.join(fake, 'enclave.pid')));
    assert.ok(alive(pid));
    assert.deepEqual(log.ended, []);
    await m.stop();
    assert.equal(alive(pid), false);
  });

  it('a vhost-device-vsock that exits at once fails start() with what it printed', async () => {
    configure({ vhostExit: 'vhost-device-vsock: error: invalid guest-cid' });
    const { events: e } = events();
    const m = machine(e);
    const handles = () => process.getActiveResourcesInfo().filter((r) => r === 'PipeWrap').length;
    const before = handles();
    await assert.rejects(
      m.start(),
      /vhost-device-vsock exited with code 1: vhost-device-vsock: error: invalid guest-cid/,
    );
    await m.stop();
    assert.equal(existsSync(runDir), false);
    // No listener is left behind (its handle goes once closed; without the close this waits forever).
    await until(() => handles() === before);
  });
});
