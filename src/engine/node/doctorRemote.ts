// The doctor on a parent reached over SSH, in one round trip: `ssh HOST sh -s` runs the snapshot
// script (given on its standard input, so no remote shell ever parses an argument of ours), and the
// checks run here on what it printed.
import { spawn } from 'node:child_process';
import { runDoctor, type DoctorFinding, type DoctorInput } from '../doctor/doctor';
import { MAX_SNAPSHOT_BYTES, SnapshotError, parseSnapshot, snapshotStdin } from '../doctor/snapshot';
import { CancelledError, type CancellationLike } from '../platform/lifecycle';
import type { SshOptions } from './nitrocli/options';

export interface RemoteDoctorOptions {
  /** What ssh is given: a Host of the ssh configuration, or `[user@]host`. */
  readonly host: string;
  readonly ssh: SshOptions;
  /** The nitro-cli whose version is asked on the host (default `nitro-cli`, looked up in its PATH). */
  readonly nitroCliPath?: string;
  readonly plan?: DoctorInput['plan'];
  /** A root prefix the host's files are read under (tests point it at a fake tree); default `/`. */
  readonly systemRoot?: string;
  /** How long the whole round trip may take, in milliseconds (default 120 s). */
  readonly timeoutMs?: number;
  /** Cancelling stops ssh; the doctor then rejects with CancelledError. */
  readonly token?: CancellationLike;
}

/** The host could not be reached, or what it ran did not produce a snapshot. */
export class RemoteDoctorError extends Error {
  constructor(
    readonly reason: 'unreachable' | 'failed',
    message: string,
  ) {
    super(message);
    this.name = 'RemoteDoctorError';
  }
}

/** Why ssh must not be given this host, or undefined: an option in disguise, nothing, or a control character. */
export function sshHostProblem(host: string): string | undefined {
  if (host === '') return 'the host is empty';
  if (host.startsWith('-')) return `the host '${host}' starts with '-': ssh would read it as an option`;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f]/.test(host)) return `the host '${host}' holds a space or a control character`;
  return undefined;
}

/** ssh's arguments: no prompts (BatchMode), a connect timeout, the configuration file if given. */
export function sshArguments(ssh: SshOptions, host: string, command: string): string[] {
  const problem = sshHostProblem(host);
  if (problem) throw new RemoteDoctorError('failed', problem);
  const timeout = ssh.connectTimeoutSeconds;
  if (!Number.isSafeInteger(timeout) || timeout < 1)
    throw new RemoteDoctorError('failed', `the ssh connect timeout must be a whole number of seconds, not ${timeout}`);
  return [
    '-o',
    'BatchMode=yes',
    '-o',
    `ConnectTimeout=${timeout}`,
    ...(ssh.configFile !== undefined ? ['-F', ssh.configFile] : []),
    '-T',
    '--',
    host,
    command,
  ];
}

const MAX_STDERR_BYTES = 64 * 1024;

/**
 * What ssh said first, past its warnings (`Warning: Permanently added ...`, newer OpenSSH's
 * `** WARNING: ...` lines): the reason it gives for failing.
 */
const firstLine = (text: string): string => {
  const lines = text.split('\n').map((l) => l.trim().slice(0, 500));
  const said = lines.filter((l) => l !== '');
  return said.find((l) => !/^(?:Warning:|\*\*)/i.test(l)) ?? said[0] ?? '';
};

/** Runs the snapshot script on the host; its output, bounded. */
export function snapshotOverSsh(options: RemoteDoctorOptions): Promise<string> {
  const args = sshArguments(options.ssh, options.host, 'sh -s');
  const host = options.host;
  return new Promise((resolve, reject) => {
    const child = spawn(options.ssh.sshPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    let failure: Error | undefined;
    const stop = (e: Error) => {
      failure ??= e;
      child.kill('SIGKILL');
    };
    const timeoutMs = options.timeoutMs ?? 120_000;
    const timer = setTimeout(
      () => stop(new RemoteDoctorError('failed', `the doctor on ${host} did not finish in ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    const cancelled = () => stop(new CancelledError('the doctor'));
    const subscription = options.token?.onCancellationRequested(cancelled);
    if (options.token?.isCancellationRequested) cancelled();
    const done = () => {
      clearTimeout(timer);
      subscription?.dispose();
    };
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > MAX_SNAPSHOT_BYTES)
        stop(
          new RemoteDoctorError(
            'failed',
            `the doctor's snapshot from ${host} is larger than ${MAX_SNAPSHOT_BYTES} bytes`,
          ),
        );
      else out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (err.length < MAX_STDERR_BYTES) err += chunk.toString('utf8').slice(0, MAX_STDERR_BYTES - err.length);
    });
    // A host that closes the connection early makes the script's write fail: the exit code tells why.
    child.stdin.on('error', () => undefined);
    child.on('error', (e: NodeJS.ErrnoException) => {
      done();
      reject(new RemoteDoctorError('failed', `cannot run ${options.ssh.sshPath}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      done();
      if (failure) return reject(failure);
      if (code === 255)
        return reject(new RemoteDoctorError('unreachable', `cannot reach ${host}: ${firstLine(err) || 'ssh failed'}`));
      if (code !== 0)
        return reject(
          new RemoteDoctorError(
            'failed',
            `the doctor's snapshot failed on ${host} (${code === null ? `signal ${signal ?? '?'}` : `exit ${code}`})` +
              `${firstLine(err) ? `: ${firstLine(err)}` : ''}`,
          ),
        );
      resolve(Buffer.concat(out).toString('latin1'));
    });
    child.stdin.end(
      snapshotStdin({
        ...(options.systemRoot !== undefined ? { root: options.systemRoot } : {}),
        ...(options.nitroCliPath !== undefined ? { nitroCliPath: options.nitroCliPath } : {}),
      }),
    );
  });
}

/** The doctor's findings for a parent reached over SSH. */
export async function runRemoteDoctor(options: RemoteDoctorOptions): Promise<DoctorFinding[]> {
  const output = await snapshotOverSsh(options);
  let snapshot;
  try {
    snapshot = parseSnapshot(output);
  } catch (e) {
    if (e instanceof SnapshotError)
      throw new RemoteDoctorError('failed', `the doctor's snapshot from ${options.host} is not readable: ${e.message}`);
    throw e;
  }
  return runDoctor({
    system: snapshot.system,
    user: snapshot.user,
    nitroCliVersion: snapshot.nitroCliVersion,
    ...(snapshot.services ? { services: snapshot.services } : {}),
    ...(options.plan ? { plan: options.plan } : {}),
  });
}
