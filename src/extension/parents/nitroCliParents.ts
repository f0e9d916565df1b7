// The real parent instances of the settings in the backend registry: one nitro-cli backend per
// target (this machine, each SSH host), created by the engine's factory and replaced whenever the
// options change. Pure (no vscode): registerParents feeds it the options read from the settings.
import type { CancellationLike, EnclaveBackend } from '../../engine';
import type { BackendRegistry, NitroCliOptions, NitroCliTarget, SshOptions } from '../../engine/node';
import { DEFAULT_SSH_OPTIONS, loadDoctor } from '../../engine/node';
import { sameOptions, targetText } from './nitroCliSettings';
import { l10n } from '../l10n';

/** The engine's `createNitroCliBackends`: one backend per target of the options. */
export type NitroCliBackendFactory = (options: NitroCliOptions) => EnclaveBackend[];

/** The doctor on a target (this machine or an SSH host), as findings and a Markdown report. */
export type DoctorForHost = (
  target: NitroCliTarget,
  ssh: SshOptions,
  token?: CancellationLike,
) => Promise<{ readonly findings: readonly unknown[]; readonly markdown: string }>;

/** The engine's doctor over SSH on an SSH target, with the report the local doctor's command shows. */
export const engineDoctorForHost: DoctorForHost = async (target, ssh, token) => {
  if (target.kind !== 'ssh') throw new Error(l10n.t('the doctor over SSH needs an SSH parent'));
  const { runRemoteDoctor, doctorMarkdown } = await loadDoctor();
  const findings = await runRemoteDoctor({
    host: target.host,
    ssh,
    nitroCliPath: target.nitroCliPath,
    ...(token ? { token } : {}),
  });
  return { findings, markdown: doctorMarkdown(findings, `${target.name ?? target.host} (over SSH: ${target.host})`) };
};

export interface NitroCliLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

interface Registered {
  readonly target: NitroCliTarget;
  readonly backend: EnclaveBackend;
  readonly registration: { dispose(): void };
}

export class NitroCliParents {
  private current: NitroCliOptions = { targets: [], ssh: DEFAULT_SSH_OPTIONS };
  private registered: Registered[] = [];
  private applied = false;
  private factory: NitroCliBackendFactory | undefined;

  constructor(
    private readonly registry: BackendRegistry,
    /** Undefined: this build has no nitro-cli backend, the options are only logged. */
    private readonly ownFactory: NitroCliBackendFactory | undefined,
    private readonly log: NitroCliLog,
  ) {
    this.factory = ownFactory;
  }

  /** The options the registered backends were made from. */
  get options(): NitroCliOptions {
    return this.current;
  }

  /** The registered nitro-cli backends, in the order of their targets. */
  get backends(): readonly EnclaveBackend[] {
    return this.registered.map((r) => r.backend);
  }

  /** The target a backend of this class drives, or undefined (another backend). */
  targetOf(backend: EnclaveBackend): NitroCliTarget | undefined {
    return this.registered.find((r) => r.backend === backend)?.target;
  }

  /**
   * Replaces the factory (the extension-host tests give one that makes test backends) and makes the
   * backends of the current options again with it; undefined goes back to the factory this was made
   * with (the engine's), so the real parents work again after such a test.
   */
  useFactory(factory: NitroCliBackendFactory | undefined): void {
    this.factory = factory ?? this.ownFactory;
    this.replace(this.current);
  }

  /**
   * Registers one backend per target of `options`, after removing (and disposing) the previous
   * ones; nothing happens when the options are those applied already. A target whose backend cannot
   * be made is logged and left out; the others are still registered.
   */
  apply(options: NitroCliOptions): void {
    if (this.applied && sameOptions(options, this.current)) return;
    this.replace(options);
  }

  private replace(options: NitroCliOptions): void {
    this.applied = true;
    this.current = options;
    this.clear();
    const list = options.targets.map(targetText).join('; ') || 'none';
    if (!this.factory) {
      this.log.info(`Real parent instances (nitro-cli): ${list}; this build has no nitro-cli backend to reach them`);
      return;
    }
    this.log.info(`Real parent instances (nitro-cli): ${list}`);
    for (const target of options.targets) {
      // One call per target: each backend is known to be that target's.
      let made: EnclaveBackend[];
      try {
        made = this.factory({ targets: [target], ssh: options.ssh });
      } catch (e) {
        this.log.error(`${targetText(target)}: the nitro-cli backend could not be made: ${messageOf(e)}`);
        continue;
      }
      for (const backend of made) {
        try {
          const registration = this.registry.register(backend, { owned: false });
          this.registered.push({ target, backend, registration });
          this.log.info(`${backend.label}: registered, ${targetText(target)}`);
        } catch (e) {
          this.log.error(`${targetText(target)}: ${messageOf(e)}`);
          disposeQuietly(backend, this.log);
        }
      }
    }
  }

  private clear(): void {
    for (const r of this.registered.splice(0)) {
      r.registration.dispose();
      disposeQuietly(r.backend, this.log);
    }
  }

  dispose(): void {
    this.clear();
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function disposeQuietly(backend: EnclaveBackend, log: NitroCliLog): void {
  try {
    backend.dispose?.();
  } catch (e) {
    log.error(`${backend.label}: dispose failed: ${messageOf(e)}`);
  }
}
