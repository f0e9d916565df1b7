// What runs beside the emulated parents in the extension host: the local KMS endpoint (one per
// machine, on 127.0.0.1) with, on every emulated parent, a vsock-proxy from the KMS vsock port
// (8000, as the parent's nitro-enclaves-vsock-proxy service) to it; and the vsock-proxies the user
// starts. All of it stops with the extension. The Parent Instances tree shows it under each parent.
import { watch, type FSWatcher } from 'node:fs';
import * as vscode from 'vscode';
import { canRepairState, hasEmulatedVsock, type DevelopmentRoot, type ParentInfo } from '../../engine';
import {
  loadKmsServer,
  startVsockProxy,
  type BackendRegistry,
  type KmsKeyInfo,
  type KmsServer,
  type VsockProxy,
  type VsockProxyStats,
} from '../../engine/node';

/** The local KMS settings (nitroEnclaves.kms.*). */
export interface KmsSettings {
  /** TCP port on 127.0.0.1; 0: any free port. */
  readonly port: number;
  /** The vsock port each emulated parent's KMS proxy listens on. */
  readonly vsockPort: number;
}

/** One vsock-proxy as the tree shows it. */
export interface ProxyView {
  readonly parentId: string;
  readonly localPort: number;
  readonly remoteAddr: string;
  readonly remotePort: number;
  /** `kms`: the one forwarding to the local KMS; `user`: started with Start vsock-proxy. */
  readonly role: 'kms' | 'user';
  /** Where its allowlist came from. */
  readonly allowlist: string;
  readonly stats: VsockProxyStats;
}

/** The local KMS as a parent's node shows it. */
export interface KmsView {
  readonly url: string;
  readonly keyFile: string;
  readonly requests: number;
  readonly allowed: number;
  readonly denied: number;
  /** This parent's proxy to it, or why there is none. */
  readonly proxy: { readonly vsockPort: number; readonly error?: string };
}

const allowlistFor = (port: number) => `allowlist:\n- {address: 127.0.0.1, port: ${port}}\n`;
const proxyKey = (parentId: string, port: number) => `${parentId}:${port}`;

interface RunningProxy {
  readonly proxy: VsockProxy;
  readonly view: Omit<ProxyView, 'stats'>;
  readonly subscription: { dispose(): void };
}

interface RunningKms {
  readonly server: KmsServer;
  readonly settings: KmsSettings;
  /** Parents whose KMS proxy could not start, with why. */
  readonly proxyErrors: Map<string, string>;
  readonly subscription: { dispose(): void };
}

export class LocalServices implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when a service starts or stops, when bytes move, and when a vsock port opens or closes. */
  readonly onDidChange = this.changed.event;
  private kms: RunningKms | undefined;
  private kmsStarting: Promise<KmsServer> | undefined;
  private readonly proxies = new Map<string, RunningProxy>();
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly subscription: { dispose(): void };
  private disposed = false;

  constructor(
    private readonly backends: BackendRegistry,
    private readonly log: vscode.LogOutputChannel,
    /** The roots Recipient documents of emulated enclaves are signed by. */
    private readonly developmentRoots: () => Promise<readonly DevelopmentRoot[]>,
  ) {
    this.subscription = backends.onDidChange(() => void this.followParents());
    void this.followParents();
  }

  /** The emulated parents (those with vsock on this machine), with their backends. */
  private async vsockParents(): Promise<{ parent: ParentInfo; folder: string }[]> {
    const out: { parent: ParentInfo; folder: string }[] = [];
    for (const backend of this.backends.capable(hasEmulatedVsock)) {
      for (const parent of await backend.listParents()) {
        try {
          out.push({ parent, folder: backend.vsockFolder(parent.id) });
        } catch (e) {
          this.log.warn(`vsock: no vsock folder for ${parent.id}: ${(e as Error).message}`);
        }
      }
    }
    return out;
  }

  /** Watches each emulated parent's vsock folder (ports opening and closing), and gives new parents the KMS proxy. */
  private async followParents(): Promise<void> {
    let parents: { parent: ParentInfo; folder: string }[];
    try {
      parents = await this.vsockParents();
    } catch {
      return; // The tree says why the parents cannot be listed.
    }
    if (this.disposed) return;
    for (const { folder } of parents) {
      if (this.watchers.has(folder)) continue;
      try {
        const w = watch(folder, () => this.changed.fire());
        w.on('error', () => w.close());
        this.watchers.set(folder, w);
      } catch (e) {
        this.log.warn(`vsock: cannot watch ${folder}: ${(e as Error).message}`);
      }
    }
    if (this.kms) await this.startKmsProxies(this.kms, parents);
  }

  get kmsServer(): KmsServer | undefined {
    return this.kms?.server;
  }

  /** Starts the local KMS and its proxies (once; a second call returns the running server). */
  startKms(settings: KmsSettings): Promise<KmsServer> {
    if (this.kms) return Promise.resolve(this.kms.server);
    this.kmsStarting ??= this.doStartKms(settings).finally(() => (this.kmsStarting = undefined));
    return this.kmsStarting;
  }

  private async doStartKms(settings: KmsSettings): Promise<KmsServer> {
    const [emulator] = this.backends.capable(canRepairState);
    if (!emulator)
      throw new Error(
        vscode.l10n.t('The local KMS keeps its keys in the emulator state folder, and no emulator is registered'),
      );
    const { startKmsServer } = await loadKmsServer();
    const server = await startKmsServer({
      stateDir: emulator.stateDir,
      port: settings.port,
      developmentRoots: this.developmentRoots,
      log: (line) => this.log.info(`Local KMS: ${line}`),
    });
    const subscription = server.onRequest(() => this.changed.fire());
    const running: RunningKms = { server, settings, proxyErrors: new Map(), subscription };
    this.kms = running;
    this.log.info(`Local KMS: listening on ${server.url}, keys in ${server.keyFile}`);
    await this.startKmsProxies(running, await this.vsockParents());
    this.changed.fire();
    return server;
  }

  private async startKmsProxies(kms: RunningKms, parents: readonly { parent: ParentInfo; folder: string }[]) {
    for (const { parent, folder } of parents) {
      const key = proxyKey(parent.id, kms.settings.vsockPort);
      if (this.proxies.has(key) || kms.proxyErrors.has(parent.id)) continue;
      try {
        await this.addProxy(
          {
            parentId: parent.id,
            localPort: kms.settings.vsockPort,
            remoteAddr: '127.0.0.1',
            remotePort: kms.server.port,
            role: 'kms',
            allowlist: 'the local KMS only',
          },
          folder,
          { text: allowlistFor(kms.server.port) },
        );
      } catch (e) {
        const why = (e as Error).message;
        kms.proxyErrors.set(parent.id, why);
        this.log.warn(`Local KMS: no proxy on ${parent.id} vsock port ${kms.settings.vsockPort}: ${why}`);
      }
    }
  }

  private async addProxy(
    view: Omit<ProxyView, 'stats'>,
    folder: string,
    allowlist: { readonly text: string } | { readonly path: string },
  ): Promise<RunningProxy> {
    const proxy = await startVsockProxy({
      vsockDir: folder,
      localPort: view.localPort,
      remoteAddr: view.remoteAddr,
      remotePort: view.remotePort,
      allowlist,
      log: (line) => this.log.info(`vsock-proxy ${view.parentId} ${view.localPort}: ${line}`),
    });
    const subscription = proxy.onChange(() => this.changed.fire());
    const running = { proxy, view, subscription };
    this.proxies.set(proxyKey(view.parentId, view.localPort), running);
    this.log.info(
      `vsock-proxy: ${view.parentId} vsock port ${view.localPort} → ` +
        `${view.remoteAddr}:${view.remotePort} (${view.allowlist})`,
    );
    this.changed.fire();
    return running;
  }

  /** Stops the local KMS and its proxies. */
  async stopKms(): Promise<void> {
    await this.kmsStarting?.catch(() => undefined);
    const kms = this.kms;
    if (!kms) return;
    this.kms = undefined;
    kms.subscription.dispose();
    const ours = [...this.proxies.values()].filter((p) => p.view.role === 'kms');
    await Promise.all(ours.map((p) => this.closeProxy(p)));
    await kms.server.close();
    this.log.info('Local KMS: stopped');
    this.changed.fire();
  }

  /** Starts a vsock-proxy on an emulated parent (what `nitro-dev vsock-proxy` does, in the extension host). */
  async startProxy(request: {
    readonly parentId: string;
    readonly localPort: number;
    readonly remoteAddr: string;
    readonly remotePort: number;
    readonly allowlistPath: string;
  }): Promise<ProxyView> {
    const backend = await this.backends.backendOf(request.parentId);
    if (!hasEmulatedVsock(backend))
      throw new Error(
        vscode.l10n.t('{0} is not an emulated parent: start vsock-proxy on the instance itself', request.parentId),
      );
    const running = await this.addProxy(
      { ...request, role: 'user', allowlist: request.allowlistPath },
      backend.vsockFolder(request.parentId),
      { path: request.allowlistPath },
    );
    return { ...running.view, stats: running.proxy.stats() };
  }

  /** Stops one proxy (a KMS proxy too: it comes back when the KMS is started again). */
  async stopProxy(parentId: string, localPort: number): Promise<boolean> {
    const running = this.proxies.get(proxyKey(parentId, localPort));
    if (!running) return false;
    if (running.view.role === 'kms') this.kms?.proxyErrors.set(parentId, 'stopped with Stop vsock-proxy');
    await this.closeProxy(running);
    this.changed.fire();
    return true;
  }

  private async closeProxy(running: RunningProxy): Promise<void> {
    this.proxies.delete(proxyKey(running.view.parentId, running.view.localPort));
    running.subscription.dispose();
    await running.proxy.close();
    this.log.info(`vsock-proxy: ${running.view.parentId} vsock port ${running.view.localPort} stopped`);
  }

  /** Every proxy running, or those of one parent. */
  proxyViews(parentId?: string): ProxyView[] {
    return [...this.proxies.values()]
      .filter((p) => parentId === undefined || p.view.parentId === parentId)
      .map((p) => ({ ...p.view, stats: p.proxy.stats() }))
      .sort((a, b) => a.parentId.localeCompare(b.parentId) || a.localPort - b.localPort);
  }

  /** The local KMS as seen from one parent; undefined while it is stopped. */
  kmsView(parentId: string): KmsView | undefined {
    const kms = this.kms;
    if (!kms) return undefined;
    const counters = kms.server.counters();
    const error = kms.proxyErrors.get(parentId);
    return {
      url: kms.server.url,
      keyFile: kms.server.keyFile,
      requests: counters.requests,
      allowed: counters.allowed,
      denied: counters.denied,
      proxy: { vsockPort: kms.settings.vsockPort, ...(error !== undefined ? { error } : {}) },
    };
  }

  /** The local KMS's keys (none while it is stopped). */
  async kmsKeys(): Promise<KmsKeyInfo[]> {
    return this.kms ? this.kms.server.listKeys() : [];
  }

  dispose(): void {
    this.disposed = true;
    this.subscription.dispose();
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    void this.stopKms();
    for (const p of [...this.proxies.values()]) void this.closeProxy(p);
    this.changed.dispose();
  }
}
