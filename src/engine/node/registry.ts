// The backend registry: every enclave backend this process knows (the embedded emulator today;
// nitro-cli over SSH and QEMU next), behind one EnclaveOperations that routes each call to the
// backend owning the parent (ParentInfo.backend tells its kind, the registry which instance).
// The CLI and the extension reach backends only through it; what only some backends can do is a
// capability (platform/capabilities.ts), looked up with `capable` or `capabilityOf`.
import {
  BackendError,
  type ConsoleStream,
  type DescribeEnclaveJson,
  type EnclaveBackend,
  type EnclaveOperations,
  type ParentInfo,
  type RunEnclaveJson,
  type RunEnclaveRequest,
  type TerminateEnclaveJson,
} from '../platform/backend';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { attachesApplications } from '../platform/capabilities';
import { Emitter, type CancellationLike, type DisposableLike } from '../platform/lifecycle';
import { EmulatorBackend, type EmulatorBackendOptions } from './emulator/backend';
import { emulatorStateDir } from './emulator/state';
import { createNitroCliBackends } from './nitrocli/backend';
import type { NitroCliOptions } from './nitrocli/options';
import { QemuBackend, qemuStateDir } from './qemu/backend';
import { resolveQemuMachine, type QemuSettings } from './qemu/resolve';

/** The parents of one backend, or why they cannot be listed. */
export type BackendListing =
  | { readonly backend: EnclaveBackend; readonly parents: readonly ParentInfo[]; readonly error?: undefined }
  | { readonly backend: EnclaveBackend; readonly parents?: undefined; readonly error: unknown };

/** A backend that should be there but could not start, and why (the Parent Instances view says so). */
export interface UnavailableBackend {
  readonly kind: EnclaveBackend['kind'];
  readonly label: string;
  readonly reason: string;
}

export interface RegisterOptions {
  /** Dispose the backend with the registry (default true). */
  readonly owned?: boolean;
}

interface Entry {
  readonly backend: EnclaveBackend;
  readonly owned: boolean;
  readonly subscription: DisposableLike;
}

export class BackendRegistry implements EnclaveOperations {
  private readonly entries: Entry[] = [];
  private readonly failed: UnavailableBackend[] = [];
  /** Which backend listed each parent id last. */
  private readonly owners = new Map<string, EnclaveBackend>();
  private readonly changed = new Emitter<{ readonly parentId?: string }>();
  readonly onDidChange = this.changed.event;

  /** Adds a backend; disposing the result removes it again (without disposing it). */
  register(backend: EnclaveBackend, options: RegisterOptions = {}): DisposableLike {
    if (this.entries.some((e) => e.backend === backend))
      throw new Error(`the backend ${backend.label} is registered already`);
    const subscription = backend.onDidChange((e) => this.changed.fire(e));
    const entry: Entry = { backend, owned: options.owned !== false, subscription };
    this.entries.push(entry);
    this.changed.fire({});
    return {
      dispose: () => {
        const at = this.entries.indexOf(entry);
        if (at < 0) return;
        this.entries.splice(at, 1);
        subscription.dispose();
        for (const [id, owner] of this.owners) if (owner === backend) this.owners.delete(id);
        this.changed.fire({});
      },
    };
  }

  /** Records a backend that could not start. */
  markUnavailable(failure: UnavailableBackend): void {
    this.failed.push(failure);
    this.changed.fire({});
  }

  /** The registered backends, in registration order. */
  get backends(): readonly EnclaveBackend[] {
    return this.entries.map((e) => e.backend);
  }

  get unavailable(): readonly UnavailableBackend[] {
    return [...this.failed];
  }

  /** The registered backends that have a capability (one of the guards of platform/capabilities.ts). */
  capable<T extends EnclaveBackend>(guard: (b: EnclaveBackend) => b is T): T[] {
    return this.backends.filter(guard);
  }

  /** The backend of a parent when it has the capability, else undefined. */
  async capabilityOf<T extends EnclaveBackend>(
    parentId: string,
    guard: (b: EnclaveBackend) => b is T,
  ): Promise<T | undefined> {
    const backend = await this.backendOf(parentId);
    return guard(backend) ? backend : undefined;
  }

  /** Each backend's parents, or why they cannot be listed; one backend's failure does not hide the others. */
  async listByBackend(): Promise<BackendListing[]> {
    const backends = this.backends;
    const listings = await Promise.all(
      backends.map(async (backend): Promise<BackendListing> => {
        try {
          return { backend, parents: await backend.listParents() };
        } catch (error) {
          return { backend, error };
        }
      }),
    );
    for (const l of listings) {
      if (!l.parents) continue;
      for (const p of l.parents)
        if (!this.owners.has(p.id) || !backends.includes(this.owners.get(p.id) as EnclaveBackend))
          this.owners.set(p.id, l.backend);
    }
    return listings;
  }

  /** Every backend's parents, in registration order; throws the first backend's failure. */
  async listParents(): Promise<readonly ParentInfo[]> {
    const out: ParentInfo[] = [];
    for (const l of await this.listByBackend()) {
      if (l.error !== undefined || !l.parents) throw l.error;
      out.push(...l.parents);
    }
    return out;
  }

  /** The parent with this id, or else this name; undefined when no backend lists it. */
  async findParent(idOrName: string): Promise<ParentInfo | undefined> {
    const parents = await this.listParents();
    return parents.find((p) => p.id === idOrName) ?? parents.find((p) => p.name === idOrName);
  }

  /** The backend that owns a parent (BackendError E03 when none does). */
  async backendOf(parentId: string): Promise<EnclaveBackend> {
    const known = this.owners.get(parentId);
    if (known && this.entries.some((e) => e.backend === known)) return known;
    const listings = await this.listByBackend();
    const owner = this.owners.get(parentId);
    if (owner) return owner;
    const failure = listings.find((l) => l.error !== undefined);
    if (failure) throw failure.error;
    const ids = listings.flatMap((l) => l.parents ?? []).map((p) => p.id);
    throw new BackendError(
      3,
      `Invalid argument provided. There is no parent instance ${parentId} (known: ${ids.join(', ') || 'none'})`,
    );
  }

  async runEnclave(
    parentId: string,
    request: RunEnclaveRequest,
    options?: { readonly cancellation?: CancellationLike },
  ): Promise<RunEnclaveJson> {
    const backend = await this.backendOf(parentId);
    if (request.app && !attachesApplications(backend)) {
      throw new BackendError(
        3,
        `Invalid argument provided. ${backend.label} cannot start an application with an enclave`,
      );
    }
    return backend.runEnclave(parentId, request, options);
  }

  async describeEnclaves(
    parentId: string,
    options?: { readonly metadata?: boolean },
  ): Promise<readonly DescribeEnclaveJson[]> {
    return (await this.backendOf(parentId)).describeEnclaves(parentId, options);
  }

  async terminateEnclave(parentId: string, enclaveId: string): Promise<TerminateEnclaveJson> {
    return (await this.backendOf(parentId)).terminateEnclave(parentId, enclaveId);
  }

  async openConsole(parentId: string, enclaveId: string): Promise<ConsoleStream> {
    return (await this.backendOf(parentId)).openConsole(parentId, enclaveId);
  }

  async nsm(parentId: string, enclaveId: string, request: Uint8Array): Promise<Uint8Array> {
    return (await this.backendOf(parentId)).nsm(parentId, enclaveId, request);
  }

  /** Disposes the backends it owns and forgets them all. */
  dispose(): void {
    for (const e of this.entries.splice(0)) {
      e.subscription.dispose();
      if (e.owned) e.backend.dispose?.();
    }
    this.owners.clear();
    this.changed.dispose();
  }
}

export interface DefaultBackendsOptions extends Partial<EmulatorBackendOptions> {
  /** The environment the state folder comes from (NITRO_DEV_STATE_DIR, XDG_STATE_HOME). Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Told about a backend that could not start. */
  readonly log?: (message: string) => void;
  /** Parents driven through nitro-cli (this machine, hosts over ssh): one backend each, after the emulator. */
  readonly nitroCli?: NitroCliOptions;
  /**
   * The QEMU backend (Linux): `auto` (default) registers it when its state folder has parents (`nitro-dev qemu
   * setup` makes the first), `always` registers it, `never` does not.
   */
  readonly qemu?: QemuSettings & { readonly enabled?: 'auto' | 'always' | 'never' };
}

/** Whether the QEMU backend belongs in a registry with these options. */
export function qemuBackendWanted(
  options: DefaultBackendsOptions,
  env: Readonly<Record<string, string | undefined>>,
): boolean {
  const enabled = options.qemu?.enabled ?? (env.NITRO_DEV_QEMU_BACKEND === '1' ? 'always' : 'auto');
  if (enabled === 'never' || process.platform !== 'linux') return false;
  if (enabled === 'always') return true;
  return existsSync(path.join(qemuStateDirOf(options, env), 'parents.json'));
}

/** The QEMU backend's state folder: `qemu` in the emulator's (the stateDir option, else from `env`). */
function qemuStateDirOf(options: DefaultBackendsOptions, env: Readonly<Record<string, string | undefined>>): string {
  return options.stateDir === undefined ? qemuStateDir(env) : path.join(path.resolve(options.stateDir), 'qemu');
}

/**
 * A registry with this machine's backends: the embedded emulator (its state folder from `env`), then
 * a nitro-cli backend per target of `nitroCli`. A backend that cannot start is recorded as
 * unavailable instead of failing the others.
 */
export function createBackendRegistry(options: DefaultBackendsOptions = {}): BackendRegistry {
  const registry = new BackendRegistry();
  const env = options.env ?? process.env;
  try {
    registry.register(new EmulatorBackend({ ...options, stateDir: options.stateDir ?? emulatorStateDir(env), env }));
  } catch (e) {
    const reason = `The embedded emulator could not start: ${e instanceof Error ? e.message : String(e)}`;
    options.log?.(reason);
    registry.markUnavailable({ kind: 'emulator', label: EmulatorBackend.LABEL, reason });
  }
  if (qemuBackendWanted(options, env)) {
    try {
      registry.register(
        new QemuBackend({
          ...options,
          stateDir: qemuStateDirOf(options, env),
          env,
          resolveMachine: () => resolveQemuMachine({ env, ...options.qemu }),
        }),
      );
    } catch (e) {
      const reason = `The QEMU backend could not start: ${e instanceof Error ? e.message : String(e)}`;
      options.log?.(reason);
      registry.markUnavailable({ kind: 'qemu', label: QemuBackend.LABEL, reason });
    }
  }
  if (options.nitroCli) {
    for (const backend of createNitroCliBackends(options.nitroCli, { env })) registry.register(backend);
  }
  return registry;
}
