// The doctor on a parent reached over SSH, in one round trip: the snapshot script runs on the host
// through the SshRunner the nitro-cli backend uses (the script on `sh -s`'s standard input, so no
// remote shell ever parses an argument of ours; the same ssh options, host checks and unreachable
// error), and the checks run here on what it printed.
import { runDoctor, type DoctorFinding, type DoctorInput } from '../doctor/doctor';
import { MAX_SNAPSHOT_BYTES, SnapshotError, parseSnapshot, snapshotStdin } from '../doctor/snapshot';
import { firstLines } from '../nitrocli/output';
import type { CancellationLike } from '../platform/lifecycle';
import type { SshOptions } from './nitrocli/options';
import { SshRunner, sshMessages } from './nitrocli/runner';

export interface RemoteDoctorOptions {
  /** What ssh is given: a Host of the ssh configuration, or `[user@]host`. */
  readonly host: string;
  readonly ssh: SshOptions;
  /** The environment ssh runs in (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
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

/**
 * The host ran something that did not produce a snapshot. (A host ssh cannot reach is the runner's
 * SshUnreachableError; ssh missing, the output or time bound passed: its RunnerError.)
 */
export class RemoteDoctorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RemoteDoctorError';
  }
}

/** Runs the snapshot script on the host; its output, bounded. */
export async function snapshotOverSsh(options: RemoteDoctorOptions): Promise<string> {
  const host = options.host;
  const runner = new SshRunner(host, options.ssh, options.env);
  const result = await runner.runScript(
    snapshotStdin({
      ...(options.systemRoot !== undefined ? { root: options.systemRoot } : {}),
      ...(options.nitroCliPath !== undefined ? { nitroCliPath: options.nitroCliPath } : {}),
    }),
    {
      label: `the doctor on ${host}`,
      maxStdout: MAX_SNAPSHOT_BYTES,
      timeoutMs: options.timeoutMs ?? 120_000,
      ...(options.token ? { cancellation: options.token } : {}),
    },
  );
  if (result.status !== 0) {
    const said = firstLines(sshMessages(result.stderr).join('\n'), 2);
    const end = result.status === null ? `signal ${result.signal ?? '?'}` : `exit ${result.status}`;
    throw new RemoteDoctorError(`the doctor's snapshot failed on ${host} (${end})${said ? `: ${said}` : ''}`);
  }
  return result.stdout;
}

/** The doctor's findings for a parent reached over SSH. */
export async function runRemoteDoctor(options: RemoteDoctorOptions): Promise<DoctorFinding[]> {
  const output = await snapshotOverSsh(options);
  let snapshot;
  try {
    snapshot = parseSnapshot(output);
  } catch (e) {
    if (e instanceof SnapshotError)
      throw new RemoteDoctorError(`the doctor's snapshot from ${options.host} is not readable: ${e.message}`);
    throw e;
  }
  return runDoctor({
    system: snapshot.system,
    user: snapshot.user,
    nitroCliVersion: snapshot.nitroCliVersion,
    ...(options.nitroCliPath !== undefined ? { nitroCliPath: options.nitroCliPath } : {}),
    ...(snapshot.services ? { services: snapshot.services } : {}),
    ...(options.plan ? { plan: options.plan } : {}),
  });
}
