// A real SSH server for the tests: Debian's sshd on 127.0.0.1, on a free port, with a temporary host key
// and an authorized client key, and an ssh configuration file whose one Host reaches it as the user
// running the tests. Nothing of the user's own ~/.ssh is read or written.
//
// When sshd or ssh is missing, startSshd throws: the tests that need it fail (they never skip);
// `.ci/run` installs openssh-server and openssh-client.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface Sshd {
  /** An ssh configuration file (`ssh -F`) in which `host` reaches the server. */
  readonly configFile: string;
  readonly host: string;
  /** The port the server listens on (127.0.0.1). */
  readonly port: number;
  stop(): Promise<void>;
}

/** An executable from PATH or the usual sbin folders; undefined when missing. */
function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    const file = path.join(dir || '.', name);
    if (dir && existsSync(file)) return file;
  }
  return undefined;
}

function required(name: string, pkg: string): string {
  const file = which(name);
  if (!file) throw new Error(`${name} is not installed: the SSH tests need it (apt-get install ${pkg})`);
  return file;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function keygen(file: string): void {
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'nitro-dev-test', '-f', file], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr || r.error?.message}`);
}

/** Waits for sshd to say it listens (with -e its log goes to stderr), or for it to exit. */
function listening(child: ChildProcess, log: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onData = () => {
      if (/Server listening on 127\.0\.0\.1 port/.test(log())) {
        child.stderr?.off('data', onData);
        child.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (code: number | null) => {
      child.stderr?.off('data', onData);
      reject(new Error(`sshd exited (${code}) before it listened:\n${log()}`));
    };
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    onData();
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/** Starts sshd; resolves once `ssh -F configFile host true` has succeeded through it. */
export async function startSshd(): Promise<Sshd> {
  const sshd = required('sshd', 'openssh-server');
  required('ssh', 'openssh-client');
  required('ssh-keygen', 'openssh-client');
  // sshd's privilege separation needs this folder when it runs as root.
  if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755, recursive: true });

  const dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-sshd-'));
  try {
    keygen(path.join(dir, 'host_ed25519'));
    keygen(path.join(dir, 'client_ed25519'));
    writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(path.join(dir, 'client_ed25519.pub')));
    const hostKey = readFileSync(path.join(dir, 'host_ed25519.pub'), 'utf8').trim();
    const user = os.userInfo().username;
    // A port found free may be taken before sshd binds it: then try another.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const sshdConfig = path.join(dir, 'sshd_config');
      writeFileSync(
        sshdConfig,
        [
          `Port ${port}`,
          'ListenAddress 127.0.0.1',
          `HostKey ${path.join(dir, 'host_ed25519')}`,
          `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
          `PidFile ${path.join(dir, 'sshd.pid')}`,
          'StrictModes no',
          'UsePAM no',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'PubkeyAuthentication yes',
          'PermitRootLogin prohibit-password',
          'Subsystem sftp internal-sftp',
          'LogLevel INFO',
          '',
        ].join('\n'),
      );
      writeFileSync(path.join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostKey}\n`);
      const host = 'nitro-test-parent';
      const configFile = path.join(dir, 'ssh_config');
      writeFileSync(
        configFile,
        [
          `Host ${host}`,
          '  HostName 127.0.0.1',
          `  Port ${port}`,
          `  User ${user}`,
          `  IdentityFile ${path.join(dir, 'client_ed25519')}`,
          '  IdentitiesOnly yes',
          '  IdentityAgent none',
          `  UserKnownHostsFile ${path.join(dir, 'known_hosts')}`,
          '  GlobalKnownHostsFile /dev/null',
          '  StrictHostKeyChecking yes',
          '  BatchMode yes',
          '  ControlMaster no',
          '  ControlPath none',
          '  LogLevel ERROR',
          '',
        ].join('\n'),
      );
      let log = '';
      const child = spawn(sshd, ['-D', '-e', '-f', sshdConfig], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d: string) => {
        if (log.length < 256 * 1024) log += d;
      });
      child.on('error', (e) => {
        log += `\n${e.message}`;
      });
      try {
        await listening(child, () => log);
      } catch (e) {
        if (attempt < 5 && /Address already in use|Cannot bind/i.test(log)) continue;
        throw e;
      }
      const stop = async () => {
        child.kill('SIGTERM');
        await exited(child);
        rmSync(dir, { recursive: true, force: true });
      };
      const probe = spawnSync('ssh', ['-F', configFile, host, 'true'], { encoding: 'utf8', timeout: 60_000 });
      if (probe.status !== 0) {
        await stop();
        throw new Error(`ssh through the test sshd failed: ${probe.stderr}\nsshd:\n${log}`);
      }
      return { configFile, host, port, stop };
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
