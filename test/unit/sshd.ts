// A real sshd for tests: Debian's /usr/sbin/sshd on 127.0.0.1, on a free port, with a temporary
// host key and one authorized temporary client key, and an ssh configuration file (a Host alias
// with everything ssh needs: port, user, identity, the host key in a private known_hosts) that the
// code under test is given with `ssh -F`. No test-framework globals: usable from any tier.
//
// It fails (never skips) when sshd, ssh, scp or ssh-keygen are missing: `.ci/run` installs
// openssh-server and openssh-client.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const SSHD_PATH = '/usr/sbin/sshd';

export interface TestSshd {
  /** The Host alias of `configFile`. */
  readonly host: string;
  readonly port: number;
  /** An ssh configuration file naming `host` (give it to ssh with -F). */
  readonly configFile: string;
  /** The temporary folder with the keys, the configurations and `home`. */
  readonly dir: string;
  /** The HOME of the sessions this sshd starts (inside `dir`). */
  readonly home: string;
  stop(): Promise<void>;
}

export interface TestSshdOptions {
  /** The Host alias (default `nitro-test-parent`). */
  readonly host?: string;
  /** Environment variables set in every session (sshd's SetEnv); PATH and HOME are set already. */
  readonly env?: Readonly<Record<string, string>>;
  /** How long sshd may take to accept a login (default 60 s). */
  readonly readyTimeoutMs?: number;
}

function which(program: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Throws a clear error when a program the SSH tests need is missing. */
export function requireOpenSsh(): void {
  const missing: string[] = [];
  if (!existsSync(SSHD_PATH)) missing.push(`${SSHD_PATH} (package openssh-server)`);
  for (const p of ['ssh', 'scp', 'ssh-keygen']) if (!which(p)) missing.push(`${p} (package openssh-client)`);
  if (missing.length > 0)
    throw new Error(
      `The SSH tests need OpenSSH: missing ${missing.join(', ')}. ` +
        'Install it: apt-get install -y openssh-server openssh-client',
    );
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
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

function tryLogin(configFile: string, host: string): Promise<{ ok: boolean; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      'ssh',
      ['-F', configFile, '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-T', host, 'true'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      if (stderr.length < 4096) stderr += b.toString('utf8');
    });
    child.on('error', (e) => resolve({ ok: false, stderr: e.message }));
    child.on('close', (status) => resolve({ ok: status === 0, stderr }));
  });
}

/** Starts sshd and waits until a login through the configuration file works. */
export async function startSshd(options: TestSshdOptions = {}): Promise<TestSshd> {
  requireOpenSsh();
  const host = options.host ?? 'nitro-test-parent';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-sshd-'));
  const home = path.join(dir, 'home');
  mkdirSync(home);
  const user = os.userInfo().username;
  if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  keygen(path.join(dir, 'host_key'));
  keygen(path.join(dir, 'client_key'));
  writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(path.join(dir, 'client_key.pub')));
  const port = await freePort();
  const hostKey = readFileSync(path.join(dir, 'host_key.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  writeFileSync(path.join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostKey}\n`);

  const env: Record<string, string> = {
    PATH: [path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
    HOME: home,
    ...options.env,
  };
  for (const [k, v] of Object.entries(env))
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || /[\s"\\]/.test(v)) throw new Error(`cannot pass ${k}=${v} to sshd`);
  const sshdConfig = path.join(dir, 'sshd_config');
  writeFileSync(
    sshdConfig,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_key')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      `AllowUsers ${user}`,
      'StrictModes no',
      'UsePAM no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'Subsystem sftp internal-sftp',
      'LogLevel ERROR',
      `SetEnv ${Object.entries(env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
      '',
    ].join('\n'),
  );
  const configFile = path.join(dir, 'ssh_config');
  writeFileSync(
    configFile,
    [
      `Host ${host}`,
      '  HostName 127.0.0.1',
      `  Port ${port}`,
      `  User ${user}`,
      `  IdentityFile ${path.join(dir, 'client_key')}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${path.join(dir, 'known_hosts')}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '  LogLevel ERROR',
      '',
    ].join('\n'),
  );

  const check = spawnSync(SSHD_PATH, ['-t', '-f', sshdConfig], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`sshd refuses its test configuration: ${check.stderr}`);

  const sshd: ChildProcess = spawn(SSHD_PATH, ['-D', '-e', '-f', sshdConfig], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  sshd.stderr!.on('data', (b: Buffer) => {
    if (log.length < 16384) log += b.toString('utf8');
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    sshd.on('close', () => {
      exited = true;
      resolve();
    });
    sshd.on('error', (e) => {
      log += e.message;
    });
  });
  const stop = async (): Promise<void> => {
    if (!exited) {
      sshd.kill('SIGTERM');
      await exit;
    }
    rmSync(dir, { recursive: true, force: true });
  };

  // Ready when a login works (sshd may take a while to listen on a loaded machine).
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`sshd exited before accepting a login: ${log.trim() || 'no message'}`);
    }
    const attempt = await tryLogin(configFile, host);
    if (attempt.ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`sshd did not accept a login in time: ${attempt.stderr.trim()} ${log.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host, port, configFile, dir, home, stop };
}

/**
 * Writes `file`: the sshd's configuration plus a Host `alias` on 127.0.0.1 at a port nobody listens
 * on (found free just before), with the same user and key: a parent that cannot be reached.
 * Returns that port.
 */
export async function writeConfigWithClosedHost(sshd: TestSshd, file: string, alias: string): Promise<number> {
  const closedPort = await freePort();
  writeFileSync(
    file,
    [
      readFileSync(sshd.configFile, 'utf8').trimEnd(),
      '',
      `Host ${alias}`,
      '  HostName 127.0.0.1',
      `  Port ${closedPort}`,
      `  User ${os.userInfo().username}`,
      `  IdentityFile ${path.join(sshd.dir, 'client_key')}`,
      '  IdentitiesOnly yes',
      '  UserKnownHostsFile /dev/null',
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '',
    ].join('\n'),
  );
  return closedPort;
}
