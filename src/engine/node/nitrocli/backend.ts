// nitro-cli on a real parent instance as an EnclaveBackend: on this machine, or on a host reached
// over ssh with the user's own ssh configuration and agent. One backend per target, one parent per
// backend. Its JSON and `[ Exx ]` reports are read by engine/nitrocli/output.ts; the parent's
// resources come from one sh script (engine/nitrocli/parentFacts.ts), so listing a remote parent
// takes one ssh round trip. Before run-enclave on a remote parent the EIF is copied there with scp,
// into a per-user folder, named by its SHA-256 so an image already there is not copied again.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import * as path from 'node:path';
import {
  nitroCliFailure,
  parseDescribeEnclavesOutput,
  parseRunEnclaveOutput,
  parseTerminateEnclaveOutput,
  firstLines,
} from '../../nitrocli/output';
import { parentFactsScript, parseParentFacts, ParentFactsError } from '../../nitrocli/parentFacts';
import { shellQuote } from '../../nitrocli/shell';
import {
  BackendError,
  type ConsoleStream,
  type DescribeEnclaveJson,
  type EnclaveBackend,
  type ParentInfo,
  type RunEnclaveJson,
  type RunEnclaveRequest,
  type TerminateEnclaveJson,
} from '../../platform/backend';
import { Emitter, type CancellationLike } from '../../platform/lifecycle';
import { DEFAULT_SSH_OPTIONS, type NitroCliOptions, type NitroCliTarget, type SshOptions } from './options';
import { LocalRunner, SshRunner, type CommandResult, type CommandRunner } from './runner';

export interface NitroCliBackendOptions {
  /** How ssh and scp run (ssh targets). Default DEFAULT_SSH_OPTIONS. */
  readonly ssh?: SshOptions;
  /** The environment of the processes started here (nitro-cli, ssh, scp). Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A prefix of the system paths listParents reads on the parent (`/sys`, `/proc`); default none. */
  readonly systemRoot?: string;
}

/** Where a remote parent keeps the images copied to it, below the user's home folder. */
export const REMOTE_EIF_FOLDER = '.cache/nitro-dev/eif';

/** The parent id of a target: `local`, or `ssh:<host>`. */
export function parentIdOf(target: NitroCliTarget): string {
  return target.kind === 'local' ? 'local' : `ssh:${target.host}`;
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

interface Listing {
  readonly parent: ParentInfo;
  readonly enclaves: readonly DescribeEnclaveJson[];
}

export class NitroCliBackend implements EnclaveBackend {
  readonly kind = 'nitro-cli' as const;
  readonly label: string;
  /** The id of this backend's one parent. */
  readonly parentId: string;
  private readonly runner: CommandRunner;
  private readonly systemRoot: string | undefined;
  private readonly changed = new Emitter<{ readonly parentId?: string }>();
  readonly onDidChange = this.changed.event;
  /** The listing running now: callers at the same time (a view and a status bar) share its round trip. */
  private listing: Promise<Listing> | undefined;

  constructor(
    readonly target: NitroCliTarget,
    options: NitroCliBackendOptions = {},
  ) {
    this.parentId = parentIdOf(target);
    const env = options.env ?? process.env;
    this.runner =
      target.kind === 'local'
        ? new LocalRunner(env)
        : new SshRunner(target.host, options.ssh ?? DEFAULT_SSH_OPTIONS, env);
    this.label = `nitro-cli on ${target.name ?? (target.kind === 'local' ? 'this instance' : target.host)}`;
    this.systemRoot = options.systemRoot;
  }

  /** What the Parent Instances view calls the parent. */
  get parentName(): string {
    return this.target.name ?? (this.target.kind === 'local' ? 'This instance' : this.target.host);
  }

  private get nitroCli(): string {
    return this.target.nitroCliPath || 'nitro-cli';
  }

  private checkParent(parentId: string): void {
    if (parentId !== this.parentId)
      throw new BackendError(3, `Invalid argument provided. ${this.label} has no parent instance ${parentId}`);
  }

  /** Runs `nitro-cli <args>`; a failure becomes the error nitro-cli reported. */
  private async nitro(
    args: readonly string[],
    options?: { readonly cancellation?: CancellationLike },
  ): Promise<CommandResult> {
    const result = await this.runner.run([this.nitroCli, ...args], options);
    if (result.status !== 0) throw this.failure(args[0]!, result);
    return result;
  }

  private failure(command: string, end: Omit<CommandResult, 'stdout'>): Error {
    const e = nitroCliFailure(command, end);
    if (e instanceof BackendError) return e;
    if (end.status === 127)
      return new Error(`nitro-cli not found on ${this.runner.where} (${this.nitroCli}): ${e.message}`);
    return new Error(`${e.message} (on ${this.runner.where})`);
  }

  async listParents(): Promise<readonly ParentInfo[]> {
    return [(await this.sharedListing()).parent];
  }

  private sharedListing(): Promise<Listing> {
    if (this.listing) return this.listing;
    const listing = this.list().finally(() => {
      if (this.listing === listing) this.listing = undefined;
    });
    this.listing = listing;
    return listing;
  }

  /** After this backend changed its parent: a listing begun before is not shared any more. */
  private changedParent(): void {
    this.listing = undefined;
    this.changed.fire({ parentId: this.parentId });
  }

  /** One round trip: the parent's facts and its enclaves (describe-enclaves). */
  private async list(): Promise<Listing> {
    const marker = `@@nitro-dev-${randomBytes(12).toString('hex')}`;
    const script = parentFactsScript({ nitroCli: this.nitroCli, marker, systemRoot: this.systemRoot });
    const result = await this.runner.runScript(script);
    let facts;
    try {
      facts = parseParentFacts(result.stdout, marker);
    } catch (e) {
      if (!(e instanceof ParentFactsError)) throw e;
      const said = firstLines(result.stderr);
      throw new Error(`cannot read ${this.parentName}'s resources: ${e.message}${said ? ` (${said})` : ''}`, {
        cause: e,
      });
    }
    if (facts.version.status === 127)
      throw new Error(
        `nitro-cli not found on ${this.runner.where} (${this.nitroCli})\n${firstLines(facts.version.output)}`,
      );
    if (facts.version.status !== 0)
      throw new Error(
        `nitro-cli --version failed on ${this.runner.where} with exit status ${facts.version.status}\n` +
          firstLines(facts.version.output),
      );
    const describe = facts.describe;
    if (!describe) throw new Error(`cannot read ${this.parentName}'s enclaves: describe-enclaves did not run`);
    if (describe.status !== 0) throw this.failure('describe-enclaves', describe);
    const enclaves = parseDescribeEnclavesOutput(describe.stdout);
    const usedCpus = new Set<number>();
    let usedMemory = 0;
    for (const e of enclaves) {
      for (const c of e.CPUIDs) usedCpus.add(c);
      usedMemory += e.MemoryMiB;
    }
    const parent: ParentInfo = {
      id: this.parentId,
      name: this.parentName,
      backend: 'nitro-cli',
      vcpus: facts.vcpus,
      memoryMiB: facts.memoryMiB,
      pool: { cpuIds: facts.poolCpuIds, memoryMiB: facts.hugepagesMiB },
      used: { cpuIds: [...usedCpus].sort((a, b) => a - b), memoryMiB: usedMemory },
      ...(facts.instanceId !== undefined ? { instanceId: facts.instanceId } : {}),
    };
    return { parent, enclaves };
  }

  async runEnclave(
    parentId: string,
    request: RunEnclaveRequest,
    options?: { readonly cancellation?: CancellationLike },
  ): Promise<RunEnclaveJson> {
    this.checkParent(parentId);
    if (request.app)
      throw new BackendError(
        3,
        `Invalid argument provided. Starting an application with an enclave is an emulator feature; ` +
          `${this.label} runs the image only`,
      );
    if (request.iamRoleArn !== undefined)
      throw new BackendError(
        3,
        `Invalid argument provided. An IAM role for PCR3 is an emulator feature; ` +
          `on a real parent PCR3 comes from the instance's role`,
      );
    const eifPath =
      this.runner instanceof SshRunner
        ? await this.copyImage(this.runner, request.eifPath, options?.cancellation)
        : path.resolve(request.eifPath);
    const args = ['run-enclave', '--eif-path', eifPath, '--memory', String(request.memoryMiB)];
    if (request.cpuCount !== undefined) args.push('--cpu-count', String(request.cpuCount));
    if (request.cpuIds !== undefined) args.push('--cpu-ids', ...request.cpuIds.map(String));
    if (request.enclaveCid !== undefined && request.enclaveCid !== 0)
      args.push('--enclave-cid', String(request.enclaveCid));
    if (request.debugMode) args.push('--debug-mode');
    // A copied image is named by its hash on the host: the default name stays the local file's.
    const name =
      request.enclaveName ??
      (this.runner instanceof SshRunner ? path.basename(request.eifPath).replace(/\.eif$/, '') : undefined);
    if (name !== undefined) args.push('--enclave-name', name);
    try {
      const result = await this.nitro(args, options);
      return parseRunEnclaveOutput(result.stdout);
    } finally {
      this.changedParent();
    }
  }

  /** Copies a local image to the host (unless a complete copy is there) and returns its path there. */
  private async copyImage(runner: SshRunner, localPath: string, cancellation?: CancellationLike): Promise<string> {
    const file = path.resolve(localPath);
    let size: number;
    try {
      const stat = statSync(file);
      if (!stat.isFile()) throw new Error('not a file');
      size = stat.size;
    } catch (e) {
      const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
      throw new BackendError(19, `File operation failure. ${file}: ${reason}`);
    }
    const sha = await sha256Of(file);
    const prepare = [
      `d="$HOME/${REMOTE_EIF_FOLDER}"`,
      `mkdir -p "$d" && chmod 700 "$d" || exit 1`,
      `f="$d/${sha}.eif"`,
      `printf '%s\\n' "$f"`,
      `if [ -f "$f" ] && [ "$(wc -c <"$f")" -eq ${size} ]; then echo present; else echo absent; fi`,
    ].join('\n');
    const prepared = await runner.runScript(prepare, { cancellation });
    const [remote, state] = prepared.stdout.split('\n');
    if (prepared.status !== 0 || !remote?.startsWith('/') || (state !== 'present' && state !== 'absent'))
      throw new Error(
        `cannot prepare ${runner.host}:~/${REMOTE_EIF_FOLDER}: ` +
          (firstLines(prepared.stderr) || `exit status ${prepared.status}`),
      );
    if (state === 'present') return remote;
    const partial = `${remote}.partial-${randomBytes(6).toString('hex')}`;
    await runner.copyTo(file, partial, { cancellation });
    // Only a complete copy with the right content gets the image's name.
    const finish = [
      `t=${shellQuote(partial)}`,
      `f=${shellQuote(remote)}`,
      `if [ "$(wc -c <"$t")" -ne ${size} ]; then rm -f "$t"; echo "the copy has the wrong size" >&2; exit 1; fi`,
      `if command -v sha256sum >/dev/null 2>&1; then`,
      `  h=$(sha256sum <"$t"); h=\${h%% *}`,
      `  if [ "$h" != ${sha} ]; then rm -f "$t"; echo "the copy has the wrong SHA-256" >&2; exit 1; fi`,
      `fi`,
      `mv -f "$t" "$f"`,
    ].join('\n');
    const finished = await runner.runScript(finish, { cancellation });
    if (finished.status !== 0)
      throw new Error(
        `cannot copy ${file} to ${runner.host}: ${firstLines(finished.stderr) || `exit status ${finished.status}`}`,
      );
    return remote;
  }

  async describeEnclaves(
    parentId: string,
    options?: { readonly metadata?: boolean },
  ): Promise<readonly DescribeEnclaveJson[]> {
    this.checkParent(parentId);
    // A listing running now has just asked describe-enclaves: its answer is as fresh as a new one.
    if (!options?.metadata && this.listing) return (await this.listing).enclaves;
    const result = await this.nitro(['describe-enclaves', ...(options?.metadata ? ['--metadata'] : [])]);
    return parseDescribeEnclavesOutput(result.stdout);
  }

  async terminateEnclave(parentId: string, enclaveId: string): Promise<TerminateEnclaveJson> {
    this.checkParent(parentId);
    try {
      const result = await this.nitro(['terminate-enclave', '--enclave-id', enclaveId]);
      return parseTerminateEnclaveOutput(result.stdout);
    } finally {
      this.changedParent();
    }
  }

  async openConsole(parentId: string, enclaveId: string): Promise<ConsoleStream> {
    this.checkParent(parentId);
    // nitro-cli refuses a non-debug enclave only once connected; asking first makes the refusal an
    // error of openConsole, as the interface promises.
    const enclave = (await this.describeEnclaves(parentId)).find((e) => e.EnclaveID === enclaveId);
    if (enclave && enclave.Flags !== 'DEBUG_MODE')
      throw new BackendError(
        44,
        `Console connection failure. Enclave ${enclaveId} was not started in debug mode, ` +
          `so it has no console (run it with --debug-mode)`,
      );
    const command = this.runner.stream([this.nitroCli, 'console', '--enclave-id', enclaveId]);
    let disposed = false;
    const failure = (end: Omit<CommandResult, 'stdout'>) => this.failure('console', end);
    async function* chunks(): AsyncGenerator<Uint8Array> {
      try {
        for await (const chunk of command.chunks) yield chunk;
      } catch (e) {
        if (!disposed) throw e;
      }
      const end = await command.ended;
      if (!disposed && end.status !== 0 && end.status !== null) throw failure(end);
    }
    return {
      chunks: chunks(),
      dispose: () => {
        disposed = true;
        command.kill();
      },
    };
  }

  async nsm(parentId: string, _enclaveId: string, _request: Uint8Array): Promise<Uint8Array> {
    this.checkParent(parentId);
    throw new BackendError(
      3,
      `Invalid argument provided. The NSM of an enclave on a real parent is reachable only from inside the enclave ` +
        `(its application asks /dev/nsm); ${this.label} cannot send it requests`,
    );
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/**
 * One backend per target. Targets naming the same parent (the same host twice) give one backend:
 * the first.
 */
export function createNitroCliBackends(
  options: NitroCliOptions,
  extra: Omit<NitroCliBackendOptions, 'ssh'> = {},
): NitroCliBackend[] {
  const seen = new Set<string>();
  const out: NitroCliBackend[] = [];
  for (const target of options.targets) {
    const id = parentIdOf(target);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(new NitroCliBackend(target, { ...extra, ssh: options.ssh }));
  }
  return out;
}
