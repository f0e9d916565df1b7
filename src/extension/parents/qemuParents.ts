// The QEMU backend in the backend registry, from the nitroEnclaves.qemu.* settings: registered when
// they want it (`auto`: once its state folder has parents), made again whenever they change, and
// asked what it lacks for the Parent Instances view. Pure (no vscode): registerParents feeds it the
// settings read, and runs the setup terminal.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EnclaveBackend, ParentInfo } from '../../engine';
import type {
  BackendRegistry,
  DefaultBackendsOptions,
  NitroMachineChecker,
  QemuMissing,
  QemuSettings,
} from '../../engine/node';
import { QemuBackend } from '../../engine/node';
import type { NitroCliLog } from './nitroCliParents';

export type QemuBackendMode = 'auto' | 'always' | 'never';

/** The QEMU settings, checked: the mode and the tool settings (absolute paths, or absent). */
export interface QemuParentSettings extends QemuSettings {
  readonly backend: QemuBackendMode;
}

const MODES: readonly QemuBackendMode[] = ['auto', 'always', 'never'];

/**
 * The settings as read (anything a settings.json may hold) made into QemuParentSettings: an empty
 * path is no setting, `~/` is the home folder, and what cannot be used is dropped with a warning.
 */
export function qemuSettingsFrom(
  raw: {
    readonly backend?: unknown;
    readonly qemuPath?: unknown;
    readonly vhostDeviceVsockPath?: unknown;
    readonly cacheDir?: unknown;
  },
  homeDir: string = os.homedir(),
): { readonly settings: QemuParentSettings; readonly warnings: readonly string[] } {
  const warnings: string[] = [];
  let backend: QemuBackendMode = 'auto';
  if (raw.backend !== undefined) {
    if (MODES.includes(raw.backend as QemuBackendMode)) backend = raw.backend as QemuBackendMode;
    else
      warnings.push(
        `nitroEnclaves.qemu.backend: ${JSON.stringify(raw.backend)} is not auto, always or never; auto is used`,
      );
  }
  const pathOf = (name: string, value: unknown): string | undefined => {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') {
      warnings.push(`nitroEnclaves.qemu.${name}: ${JSON.stringify(value)} is not a path; it is ignored`);
      return undefined;
    }
    const text = value.trim();
    if (text === '') return undefined;
    const expanded = text === '~' ? homeDir : text.startsWith('~/') ? path.join(homeDir, text.slice(2)) : text;
    if (!path.isAbsolute(expanded)) {
      warnings.push(`nitroEnclaves.qemu.${name}: ${text} is not an absolute path; it is ignored`);
      return undefined;
    }
    return path.normalize(expanded);
  };
  const qemuPath = pathOf('qemuPath', raw.qemuPath);
  const vhostDeviceVsockPath = pathOf('vhostDeviceVsockPath', raw.vhostDeviceVsockPath);
  const cacheDir = pathOf('cacheDir', raw.cacheDir);
  return {
    settings: {
      backend,
      ...(qemuPath ? { qemuPath } : {}),
      ...(vhostDeviceVsockPath ? { vhostDeviceVsockPath } : {}),
      ...(cacheDir ? { cacheDir } : {}),
    },
    warnings,
  };
}

export function sameQemuSettings(a: QemuParentSettings, b: QemuParentSettings): boolean {
  return (
    a.backend === b.backend &&
    a.qemuPath === b.qemuPath &&
    a.vhostDeviceVsockPath === b.vhostDeviceVsockPath &&
    a.cacheDir === b.cacheDir
  );
}

/** The engine functions QemuParents uses (the extension passes the engine's; tests their own). */
export interface QemuEngine {
  /** qemuBackendWanted: whether the registry should hold the QEMU backend. */
  wanted(options: DefaultBackendsOptions, env: Readonly<Record<string, string | undefined>>): boolean;
  /** createQemuBackend. */
  make(options: DefaultBackendsOptions, env: Readonly<Record<string, string | undefined>>): EnclaveBackend;
  /** qemuMissing: what the backend lacks (no guest is started). */
  missing(
    options: QemuSettings & { readonly env: Readonly<Record<string, string | undefined>> },
    checkMachine: NitroMachineChecker,
  ): Promise<{ readonly missing: readonly QemuMissing[] }>;
  /** checkNitroMachine. */
  checkMachine: NitroMachineChecker;
}

/**
 * The nitro-enclave machine check (it runs QEMU twice) remembered per QEMU binary: its path, size
 * and modification time, so a QEMU built or replaced meanwhile is asked again.
 */
export function rememberingMachineCheck(check: NitroMachineChecker): NitroMachineChecker {
  const known = new Map<string, ReturnType<NitroMachineChecker>>();
  return async (qemuPath, firmwareDir) => {
    const st = await fs.stat(qemuPath).catch(() => undefined);
    if (!st) return check(qemuPath, firmwareDir);
    const key = JSON.stringify([qemuPath, firmwareDir ?? null, st.size, st.mtimeMs]);
    let answer = known.get(key);
    if (!answer) {
      answer = check(qemuPath, firmwareDir);
      if (known.size >= 16) known.clear();
      known.set(key, answer);
    }
    return answer;
  };
}

interface Registered {
  readonly backend: EnclaveBackend;
  readonly registration: { dispose(): void };
}

export class QemuParents {
  private current: QemuParentSettings = { backend: 'auto' };
  private registered: Registered | undefined;
  private applied = false;
  private readonly checkMachine: NitroMachineChecker;

  constructor(
    private readonly registry: BackendRegistry,
    private readonly engine: QemuEngine,
    /** What every backend of the registry is made with (the host script, the log, the environment). */
    private readonly base: DefaultBackendsOptions & { readonly env: Readonly<Record<string, string | undefined>> },
    private readonly log: NitroCliLog,
  ) {
    this.checkMachine = rememberingMachineCheck(engine.checkMachine);
  }

  get settings(): QemuParentSettings {
    return this.current;
  }

  /** The registered QEMU backend, if any. */
  get backend(): EnclaveBackend | undefined {
    return this.registered?.backend;
  }

  private options(settings: QemuParentSettings): DefaultBackendsOptions {
    const { backend, ...tools } = settings;
    // `auto` leaves the choice to the engine, which also reads NITRO_DEV_QEMU_BACKEND.
    return { ...this.base, qemu: { ...tools, ...(backend === 'auto' ? {} : { enabled: backend }) } };
  }

  /** Registers the QEMU backend when the settings want it; nothing happens when they are those applied. */
  apply(settings: QemuParentSettings): void {
    if (this.applied && sameQemuSettings(settings, this.current)) return;
    this.applied = true;
    this.current = settings;
    this.clear();
    if (this.engine.wanted(this.options(settings), this.base.env)) this.register();
  }

  private register(): EnclaveBackend | undefined {
    let backend: EnclaveBackend;
    try {
      backend = this.engine.make(this.options(this.current), this.base.env);
    } catch (e) {
      const reason = `The QEMU backend could not start: ${messageOf(e)}`;
      this.log.error(reason);
      this.registry.markUnavailable({ kind: 'qemu', label: QemuBackend.LABEL, reason });
      return undefined;
    }
    const registration = this.registry.register(backend, { owned: false });
    this.registered = { backend, registration };
    this.log.info(`${backend.label}: registered${this.current.cacheDir ? `, cache ${this.current.cacheDir}` : ''}`);
    return backend;
  }

  /**
   * What the QEMU backend lacks to start enclaves (empty: nothing), or undefined when `backend` is
   * not the registered QEMU backend. Cheap: files and PATH, and `qemu -M help` once per binary.
   */
  async missing(backend: EnclaveBackend): Promise<readonly QemuMissing[] | undefined> {
    if (!this.registered || backend !== this.registered.backend) return undefined;
    const { backend: _mode, ...tools } = this.current;
    return (await this.engine.missing({ env: this.base.env, ...tools }, this.checkMachine)).missing;
  }

  /**
   * After a successful setup: the QEMU backend is registered (unless the settings say `never`) and
   * lists its parents, which makes its default parent, so `auto` keeps it from now on. Undefined
   * when the settings say `never`.
   */
  async afterSetup(): Promise<readonly ParentInfo[] | undefined> {
    if (this.current.backend === 'never') return undefined;
    const backend = this.registered?.backend ?? this.register();
    if (!backend) return undefined;
    return backend.listParents();
  }

  private clear(): void {
    const r = this.registered;
    this.registered = undefined;
    if (!r) return;
    r.registration.dispose();
    try {
      r.backend.dispose?.();
    } catch (e) {
      this.log.error(`${r.backend.label}: dispose failed: ${messageOf(e)}`);
    }
  }

  dispose(): void {
    this.clear();
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
