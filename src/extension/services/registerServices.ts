// The commands of the local services: Start/Stop Local KMS, Copy Key ARN, Start/Stop vsock-proxy…,
// and the local KMS started with the extension when `nitroEnclaves.kms.startWithEmulator` is on.
import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import { hasEmulatedVsock, type DevelopmentRoot, type ParentInfo } from '../../engine';
import { parseVsockPort, type BackendRegistry } from '../../engine/node';
import { registerCommand } from '../commands/registerCommands';
import type { Ctx } from '../ctx';
import { COMMANDS, SETTINGS } from '../ids';
import type { ParentsTreeProvider } from '../tree/parentsTree';
import { LocalServices, type KmsSettings, type ProxyView } from './localServices';

/** Where the real vsock-proxy reads its allowlist by default. */
const DEFAULT_ALLOWLIST = '/etc/nitro_enclaves/vsock-proxy.yaml';

function kmsSettings(): KmsSettings {
  const config = vscode.workspace.getConfiguration();
  const port = config.get<number>(SETTINGS.kmsPort, 0);
  const vsockPort = config.get<number>(SETTINGS.kmsVsockPort, 8000);
  return {
    port: Number.isInteger(port) && port >= 0 && port <= 65535 ? port : 0,
    vsockPort: Number.isInteger(vsockPort) && vsockPort >= 0 && vsockPort <= 0xfffffffe ? vsockPort : 8000,
  };
}

/** A tree node's parent, or a `{ parentId }` argument. */
function parentIdOf(arg: unknown): string | undefined {
  if (!arg || typeof arg !== 'object') return undefined;
  const a = arg as { parentId?: unknown; parent?: { id?: unknown } };
  if (typeof a.parentId === 'string') return a.parentId;
  return typeof a.parent?.id === 'string' ? a.parent.id : undefined;
}

async function emulatedParents(backends: BackendRegistry): Promise<ParentInfo[]> {
  const out: ParentInfo[] = [];
  for (const b of backends.capable(hasEmulatedVsock)) out.push(...(await b.listParents()));
  return out;
}

/** `host:port` or `[v6]:port` to its parts, or why not. */
export function parseRemote(text: string): { host: string; port: number } | string {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return vscode.l10n.t('Type host:port, for example kms.us-east-1.amazonaws.com:443 or [::1]:443');
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return vscode.l10n.t('{0} is not a TCP port (1 to 65535)', port);
  return { host: (m[1] ?? m[2]) as string, port };
}

interface ProxyRequest {
  readonly parentId: string;
  readonly localPort: number;
  readonly remoteAddr: string;
  readonly remotePort: number;
  readonly allowlistPath: string;
}

function isProxyRequest(arg: unknown): arg is ProxyRequest {
  const a = arg as Partial<ProxyRequest> | undefined;
  return (
    !!a &&
    typeof a.parentId === 'string' &&
    typeof a.localPort === 'number' &&
    typeof a.remoteAddr === 'string' &&
    typeof a.remotePort === 'number' &&
    typeof a.allowlistPath === 'string'
  );
}

/** Start vsock-proxy…: the parent, the vsock port, the remote host:port and the allowlist file. */
async function askProxy(backends: BackendRegistry, arg: unknown): Promise<ProxyRequest | undefined> {
  const title = 'Start vsock-proxy';
  let parentId = parentIdOf(arg);
  if (parentId === undefined) {
    const parents = await emulatedParents(backends);
    if (parents.length === 1) parentId = parents[0]?.id;
    else {
      const pick = await vscode.window.showQuickPick(
        parents.map((p) => ({ label: p.name, description: p.id, id: p.id })),
        {
          title: vscode.l10n.t('{0}: parent instance', title),
          placeHolder: vscode.l10n.t('The emulated parent the proxy runs on'),
        },
      );
      parentId = pick?.id;
    }
  }
  if (parentId === undefined) return undefined;
  const local = await vscode.window.showInputBox({
    title: vscode.l10n.t('{0}: vsock port on the parent (CID 3)', title),
    value: '8000',
    prompt: vscode.l10n.t('Enclaves connect to this port of CID 3 (8000 is the KMS convention)'),
    validateInput: (v) =>
      parseVsockPort(v.trim()) === undefined ? vscode.l10n.t('A port: 0 to 4294967294') : undefined,
  });
  if (local === undefined) return undefined;
  const remoteText = await vscode.window.showInputBox({
    title: vscode.l10n.t('{0}: remote endpoint', title),
    placeHolder: 'kms.us-east-1.amazonaws.com:443',
    prompt: vscode.l10n.t('The TCP endpoint connections are forwarded to: host:port'),
    validateInput: (v) => {
      const r = parseRemote(v);
      return typeof r === 'string' ? r : undefined;
    },
  });
  if (remoteText === undefined) return undefined;
  const remote = parseRemote(remoteText) as { host: string; port: number };
  const choices: (vscode.QuickPickItem & { path?: string })[] = [];
  if (existsSync(DEFAULT_ALLOWLIST))
    choices.push({
      label: DEFAULT_ALLOWLIST,
      description: vscode.l10n.t("the real tool's default"),
      path: DEFAULT_ALLOWLIST,
    });
  choices.push({ label: vscode.l10n.t('$(folder-opened) Choose an allowlist file…') });
  const choice = await vscode.window.showQuickPick(choices, {
    title: vscode.l10n.t('{0}: allowlist', title),
    placeHolder: vscode.l10n.t('The vsock-proxy allowlist (YAML) the remote endpoint must be in'),
  });
  if (!choice) return undefined;
  let allowlistPath = choice.path;
  if (!allowlistPath) {
    const files = await vscode.window.showOpenDialog({
      title: vscode.l10n.t('{0}: allowlist', title),
      canSelectMany: false,
      filters: { [vscode.l10n.t('vsock-proxy allowlist')]: ['yaml', 'yml'] },
      openLabel: vscode.l10n.t('Use Allowlist'),
    });
    allowlistPath = files?.[0]?.fsPath;
  }
  if (!allowlistPath) return undefined;
  return {
    parentId,
    localPort: parseVsockPort(local.trim()) as number,
    remoteAddr: remote.host,
    remotePort: remote.port,
    allowlistPath,
  };
}

/** The proxy a Stop command acts on: a node, `{parentId, localPort}`, or one picked. */
async function proxyToStop(services: LocalServices, arg: unknown): Promise<ProxyView | undefined> {
  const a = arg as { proxy?: ProxyView; parentId?: unknown; localPort?: unknown } | undefined;
  if (a?.proxy) return a.proxy;
  const running = services.proxyViews();
  if (typeof a?.parentId === 'string' && typeof a.localPort === 'number')
    return running.find((p) => p.parentId === a.parentId && p.localPort === a.localPort);
  if (running.length === 0) {
    void vscode.window.showInformationMessage(vscode.l10n.t('No vsock-proxy is running.'));
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    running.map((p) => ({
      label: vscode.l10n.t('vsock-proxy {0} → {1}:{2}', p.localPort, p.remoteAddr, p.remotePort),
      description: p.parentId,
      proxy: p,
    })),
    { title: vscode.l10n.t('Stop vsock-proxy'), placeHolder: vscode.l10n.t('The proxy to stop') },
  );
  return pick?.proxy;
}

export interface ServicesApi {
  readonly services: LocalServices;
}

/** Creates the local services, shows them in the Parent Instances tree and registers their commands. */
export function registerServices(
  ctx: Ctx,
  deps: {
    readonly backends: BackendRegistry;
    readonly tree: ParentsTreeProvider;
    readonly developmentRoots: () => Promise<readonly DevelopmentRoot[]>;
  },
): ServicesApi {
  const services = ctx.own(new LocalServices(deps.backends, ctx.log, deps.developmentRoots));
  deps.tree.setServices(services);

  const startKms = async () => {
    const server = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: vscode.l10n.t('Starting the local KMS') },
      () => services.startKms(kmsSettings()),
    );
    return server.url;
  };
  registerCommand(ctx, COMMANDS.kmsStart, async (options?: { quiet?: boolean }) => {
    const url = await startKms();
    if (!options?.quiet)
      void vscode.window
        .showInformationMessage(
          vscode.l10n.t(
            'Local KMS: {0}. Enclaves reach it on vsock port {1} of their parent.',
            url,
            kmsSettings().vsockPort,
          ),
          vscode.l10n.t('Copy Endpoint URL'),
        )
        .then((a) => {
          if (a) void vscode.env.clipboard.writeText(url);
        });
    return url;
  });
  registerCommand(ctx, COMMANDS.kmsStop, () => services.stopKms());
  registerCommand(ctx, COMMANDS.kmsCopyKeyArn, async (node?: { key?: { arn?: unknown } }) => {
    const arn = node?.key?.arn;
    if (typeof arn !== 'string') return;
    await vscode.env.clipboard.writeText(arn);
    vscode.window.setStatusBarMessage(vscode.l10n.t('Copied {0}', arn), 3000);
  });
  registerCommand(ctx, COMMANDS.vsockProxyStart, async (arg?: unknown) => {
    const request = isProxyRequest(arg) ? arg : await askProxy(deps.backends, arg);
    if (!request) return undefined;
    return services.startProxy(request);
  });
  registerCommand(ctx, COMMANDS.vsockProxyStop, async (arg?: unknown) => {
    const proxy = await proxyToStop(services, arg);
    if (!proxy) return false;
    return services.stopProxy(proxy.parentId, proxy.localPort);
  });

  const startIfConfigured = () => {
    if (!vscode.workspace.getConfiguration().get<boolean>(SETTINGS.kmsStartWithEmulator, false)) return;
    startKms().catch((e: unknown) => {
      const message = e instanceof Error ? e.message : String(e);
      ctx.log.error(`Local KMS: could not start: ${message}`);
      void vscode.window.showWarningMessage(vscode.l10n.t('The local KMS could not start: {0}', message));
    });
  };
  startIfConfigured();
  ctx.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(SETTINGS.kmsStartWithEmulator)) startIfConfigured();
    }),
  );
  return { services };
}
