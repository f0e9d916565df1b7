import * as vscode from 'vscode';
import type { BackendRegistry, NitroCliOptions, NitroCliTarget, QemuMissing } from '../../engine/node';
import { pcrTreeItem } from './pcrItem';
import type { ErrorExplanation } from '../../engine';
import { answersNsmFromParent, hasEmulatedVsock } from '../../engine';
import type {
  BackendKind,
  DescribeEnclaveJson,
  EnclaveBackend,
  EnclaveState,
  ParentInfo,
  VsockPortInUse,
} from '../../engine';
import { EXPLAIN_SCHEME } from '../errors/explain';
import { explanationOf, explanationPath, isBackendError } from '../errors/explainText';
import { COMMANDS, CONTEXT_VALUES } from '../ids';
import { checkCommand } from '../parents/nitroCliSettings';
import type { LocalServices } from '../services/localServices';
import { serviceTreeItem, type ServiceNode } from './servicesTree';
import { shortReason } from './shortReason';
import { enclaveText } from './nodeText';

const SERVICE_KINDS = new Set<ParentNode['kind']>(['vsockPort', 'proxy', 'kms', 'kmsKey']);
const isServiceNode = (node: ParentNode): node is ServiceNode => SERVICE_KINDS.has(node.kind);

/** How the view presents the parents of each kind of backend. */
export const BACKEND_KINDS: Record<
  BackendKind,
  {
    readonly icon: string;
    readonly where: string;
    readonly about: string;
    /**
     * Why Get Attestation Document does not work on its enclaves when its backend lacks the
     * parentNsm capability (only the application inside such an enclave reaches its NSM).
     */
    readonly nsmOutOfReach: string;
  }
> = {
  emulator: {
    icon: 'vm',
    where: vscode.l10n.t('Emulated on this machine'),
    about: vscode.l10n.t(
      'A parent instance emulated on this machine by the embedded enclave emulator: its enclaves run here, and their attestation documents are signed by the local development root, not by AWS.', // eslint-disable-line max-len
    ),
    nsmOutOfReach: vscode.l10n.t("This backend's NSM does not answer the extension."),
  },
  'nitro-cli': {
    icon: 'server',
    where: vscode.l10n.t('Real parent instance (nitro-cli)'),
    about: vscode.l10n.t(
      "A real parent instance (an EC2 instance with Nitro Enclaves enabled), reached through nitro-cli on this machine or over SSH: its enclaves run on the Nitro Hypervisor, and their attestation documents come from AWS's Nitro Secure Module (NSM), signed under the AWS Nitro Enclaves root. Only the application inside an enclave can ask its NSM for one.", // eslint-disable-line max-len
    ),
    nsmOutOfReach: vscode.l10n.t(
      'It runs on a real parent instance, where only the application inside the enclave can ask its NSM for an attestation document (through /dev/nsm). Have the application send the document out (over vsock) and open it with Open Attestation Document.', // eslint-disable-line max-len
    ),
  },
  qemu: {
    icon: 'server-environment',
    where: vscode.l10n.t('QEMU on this machine'),
    about: vscode.l10n.t(
      "A parent instance on this machine whose enclaves boot the image itself (its kernel, init and application) in QEMU's nitro-enclave machine. Their NSM is QEMU's device inside the enclave: only the application inside can ask it for an attestation document, which QEMU does not sign.", // eslint-disable-line max-len
    ),
    nsmOutOfReach: vscode.l10n.t(
      'It runs in QEMU, whose NSM is a device inside the enclave: only the application inside can ask it for an attestation document (through /dev/nsm), and QEMU does not sign it. Have the application send the document out (over vsock) and open it with Open Attestation Document, which reports it as unsigned.', // eslint-disable-line max-len
    ),
  },
};

export type ParentNode =
  /**
   * `source`: the backend's label, shown when the view holds the parents of several backends;
   * `target`: where a nitro-cli parent is reached (this machine or an SSH host), when known.
   */
  | {
      readonly kind: 'parent';
      readonly parent: ParentInfo;
      readonly source?: string;
      readonly target?: NitroCliTarget;
    }
  /**
   * A real parent that could not be listed (one backend, one parent): its backend's label and why,
   * and, when known, where it is reached and the command that checks it in a terminal.
   */
  | {
      readonly kind: 'unreachable';
      readonly key: string;
      readonly backend: BackendKind;
      readonly label: string;
      readonly reason: string;
      readonly explanation?: ErrorExplanation;
      readonly target?: NitroCliTarget;
      readonly check?: string;
    }
  | { readonly kind: 'pool'; readonly parent: ParentInfo }
  /**
   * `vsockPorts`: the ports its application listens on (emulated vsock only); `parentNsm`: its
   * backend answers its NSM from the parent side (the parentNsm capability: Get Attestation Document).
   */
  | {
      readonly kind: 'enclave';
      readonly parent: ParentInfo;
      readonly enclave: DescribeEnclaveJson;
      readonly vsockPorts?: readonly VsockPortInUse[];
      readonly parentNsm?: boolean;
    }
  | { readonly kind: 'pcr'; readonly enclave: DescribeEnclaveJson; readonly name: string; readonly value: string }
  /** The QEMU backend is registered but lacks what it needs to start enclaves: it offers Set Up QEMU Backend... */
  | { readonly kind: 'qemuSetup'; readonly missing: readonly QemuMissing[] }
  | {
      readonly kind: 'message';
      readonly key: string;
      readonly text: string;
      readonly detail: string;
      readonly severity: 'error' | 'info';
      /** The meaning and fix of the failure's nitro-cli code, when it has one. */
      readonly explanation?: ErrorExplanation;
    }
  | ServiceNode;

export type EnclaveNode = Extract<ParentNode, { kind: 'enclave' }>;

/** How long engine events are collected before the view redraws. */
const REFRESH_DEBOUNCE_MS = 150;

const STATE_ICONS: Record<EnclaveState, { readonly icon: string; readonly color?: string }> = {
  RUNNING: { icon: 'vm-running', color: 'testing.iconPassed' },
  TERMINATING: { icon: 'loading~spin' },
  EMPTY: { icon: 'vm-outline', color: 'disabledForeground' },
};

function errorText(e: unknown): string {
  if (isBackendError(e)) return `[E${e.code}] ${e.message.replace(/^\[E\d+\]\s*/, '')}`;
  return e instanceof Error ? e.message : String(e);
}

/** Where a nitro-cli parent is reached, for its tooltip. */
/** What a parent of this target is called (the nitro-cli backend names its parent the same way). */
function targetName(target: NitroCliTarget): string {
  return target.name ?? (target.kind === 'ssh' ? target.host : vscode.l10n.t('This instance'));
}

function targetWhere(target: NitroCliTarget): string {
  return target.kind === 'local'
    ? vscode.l10n.t('Reached through `{0}` on this machine.', target.nitroCliPath)
    : vscode.l10n.t('Reached over SSH: `{0}`, with `{1}` there.', target.host, target.nitroCliPath);
}

/** The meaning, fix and Show Fix link of a nitro-cli code, appended to a tooltip. */
function appendExplanation(tip: vscode.MarkdownString, explanation: ErrorExplanation): void {
  const uri = vscode.Uri.from({ scheme: EXPLAIN_SCHEME, path: explanationPath(explanation.code) });
  tip.appendMarkdown(`\n\n**${explanation.code}: ${explanation.title}**: `);
  tip.appendText(explanation.meaning);
  tip.appendMarkdown(`\n\n**${vscode.l10n.t('Fix:')}** `);
  tip.appendText(explanation.fix);
  tip.appendMarkdown('\n\n');
  tip.appendMarkdown(
    vscode.l10n.t('[Show Fix]({0})', `command:vscode.open?${encodeURIComponent(JSON.stringify([uri.toString()]))}`),
  );
}

/** Free CPUs and memory of a parent's pool. */
export function freeOf(parent: ParentInfo): { readonly cpuIds: readonly number[]; readonly memoryMiB: number } {
  const used = new Set(parent.used.cpuIds);
  return {
    cpuIds: parent.pool.cpuIds.filter((c) => !used.has(c)),
    memoryMiB: Math.max(0, parent.pool.memoryMiB - parent.used.memoryMiB),
  };
}

/** `CPUs 2/4 · memory 512/2048 MiB`: what running enclaves take of the pool. */
export function poolText(parent: ParentInfo): string {
  return vscode.l10n.t(
    'CPUs {0}/{1} · memory {2}/{3} MiB',
    parent.used.cpuIds.length,
    parent.pool.cpuIds.length,
    parent.used.memoryMiB,
    parent.pool.memoryMiB,
  );
}

export { enclaveText } from './nodeText';

/** Builds the tree item of a node (exported for tests). */
export function parentsTreeItem(node: ParentNode): vscode.TreeItem {
  if (isServiceNode(node)) return serviceTreeItem(node);
  switch (node.kind) {
    case 'parent': {
      const p = node.parent;
      const item = new vscode.TreeItem(p.name, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `parent:${p.id}`;
      item.description = node.source ? `${p.id} · ${node.source}` : p.id;
      const kind = BACKEND_KINDS[p.backend];
      const tip = new vscode.MarkdownString(undefined, true);
      // Names come from settings and parents: text, never Markdown (the tooltip may be trusted).
      tip.appendMarkdown('**').appendText(p.name).appendMarkdown(`** \`${p.id}\``);
      if (node.source) tip.appendText(` (${node.source})`);
      tip.appendMarkdown('\n\n');
      tip.appendMarkdown(kind.about);
      if (node.target) tip.appendMarkdown(`\n\n${targetWhere(node.target)}`);
      if (p.instanceId) tip.appendMarkdown(`\n\n${vscode.l10n.t('EC2 instance: `{0}`', p.instanceId)}`);
      tip.appendMarkdown(
        `\n\n${vscode.l10n.t('{0} vCPUs, {1} MiB; enclave pool: {2}', p.vcpus, p.memoryMiB, poolText(p))}`,
      );
      if (p.allocatorPath)
        tip.appendMarkdown(`\n\n${vscode.l10n.t('Allocator configuration: `{0}`', p.allocatorPath)}`);
      item.tooltip = tip;
      item.iconPath = new vscode.ThemeIcon(kind.icon, new vscode.ThemeColor('testing.iconPassed'));
      item.contextValue = CONTEXT_VALUES.parent(p.backend, 'running');
      return item;
    }
    case 'pool': {
      const p = node.parent;
      const free = freeOf(p);
      const item = new vscode.TreeItem(vscode.l10n.t('Enclave pool'), vscode.TreeItemCollapsibleState.None);
      item.id = `pool:${p.id}`;
      item.description = poolText(p);
      const none = vscode.l10n.t('none');
      item.tooltip = new vscode.MarkdownString(
        [
          vscode.l10n.t('**Enclave pool** of {0} (from its allocator configuration)', p.name),
          '',
          vscode.l10n.t('| | used | total | free |'),
          '|---|---|---|---|',
          vscode.l10n.t(
            '| CPUs | {0} | {1} ({2}) | {3} ({4}) |',
            p.used.cpuIds.length,
            p.pool.cpuIds.length,
            p.pool.cpuIds.join(', ') || none,
            free.cpuIds.length,
            free.cpuIds.join(', ') || none,
          ),
          vscode.l10n.t('| Memory | {0} MiB | {1} MiB | {2} MiB |', p.used.memoryMiB, p.pool.memoryMiB, free.memoryMiB),
        ].join('\n'),
      );
      item.iconPath = new vscode.ThemeIcon('server-process');
      item.contextValue = CONTEXT_VALUES.pool;
      return item;
    }
    case 'enclave': {
      const e = node.enclave;
      const item = new vscode.TreeItem(e.EnclaveName, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `enclave:${e.EnclaveID}`;
      item.description = enclaveText(e);
      const state = STATE_ICONS[e.State] ?? STATE_ICONS.EMPTY;
      item.iconPath = new vscode.ThemeIcon(state.icon, state.color ? new vscode.ThemeColor(state.color) : undefined);
      const tip = new vscode.MarkdownString(undefined, true);
      tip.appendMarkdown(
        `${
          e.Flags === 'DEBUG_MODE'
            ? vscode.l10n.t('**{0}**: {1} (debug mode: PCR0, 1, 2 and 8 read as zero)', e.EnclaveName, e.State)
            : `**${e.EnclaveName}**: ${e.State}`
        }\n\n`,
      );
      tip.appendMarkdown(
        [
          '| | |',
          '|---|---|',
          vscode.l10n.t('| Enclave ID | `{0}` |', e.EnclaveID),
          vscode.l10n.t('| CID | {0} |', e.EnclaveCID),
          vscode.l10n.t('| CPUs | {0} |', e.CPUIDs.join(', ')),
          vscode.l10n.t('| Memory | {0} MiB |', e.MemoryMiB),
          vscode.l10n.t('| Process | {0} |', e.ProcessID),
        ].join('\n'),
      );
      if (e.ImageName)
        tip.appendMarkdown(
          `\n${vscode.l10n.t('| Image | {0} |', e.ImageVersion ? `${e.ImageName} ${e.ImageVersion}` : e.ImageName)}`,
        );
      item.tooltip = tip;
      item.contextValue = CONTEXT_VALUES.enclave(
        e.State,
        e.Flags === 'DEBUG_MODE',
        node.parentNsm === true ? undefined : node.parent.backend,
      );
      return item;
    }
    case 'pcr':
      return pcrTreeItem({
        id: `enclave-pcr:${node.enclave.EnclaveID}:${node.name}`,
        name: node.name,
        value: node.value,
        contextValue: CONTEXT_VALUES.enclavePcr,
      });
    case 'unreachable': {
      const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
      item.id = `unreachable:${node.key}`;
      item.description = vscode.l10n.t('unreachable: {0}', shortReason(node.reason));
      item.iconPath = new vscode.ThemeIcon('debug-disconnect', new vscode.ThemeColor('errorForeground'));
      item.contextValue = CONTEXT_VALUES.unreachableParent(node.backend);
      const tip = new vscode.MarkdownString(undefined, true);
      tip.isTrusted = { enabledCommands: ['vscode.open', COMMANDS.parentDoctor, COMMANDS.parentsRefresh] };
      // The label is text, never Markdown: the sentence around it is split at its place.
      const [before = '', after = ''] = vscode.l10n.t('**{0}** cannot be reached', '\u0000').split('\u0000');
      tip.appendMarkdown(before).appendText(node.label).appendMarkdown(after);
      if (node.target) tip.appendMarkdown(`\n\n${targetWhere(node.target)}`);
      // The check command below replaces the runner's own "To see it yourself" line.
      const reason = node.check ? node.reason.replace(/^To see it yourself: .*$\n?/gm, '').trimEnd() : node.reason;
      tip.appendCodeblock(reason, 'text');
      if (node.explanation) appendExplanation(tip, node.explanation);
      if (node.check) {
        tip.appendMarkdown(`\n\n${vscode.l10n.t('Check it in a terminal:')}`);
        tip.appendCodeblock(node.check, 'sh');
      }
      const doctorArgs = encodeURIComponent(JSON.stringify([node.target ? { target: node.target } : {}]));
      tip.appendMarkdown(
        `\n\n${vscode.l10n.t(
          '[Run Doctor on Parent...]({0}) checks nitro-cli, the driver, the allocator and the pool there. [Refresh]({1}) tries again.', // eslint-disable-line max-len
          `command:${COMMANDS.parentDoctor}?${doctorArgs}`,
          `command:${COMMANDS.parentsRefresh}`,
        )}`,
      );
      item.tooltip = tip;
      return item;
    }
    case 'qemuSetup': {
      const item = new vscode.TreeItem(
        vscode.l10n.t('QEMU backend: {0} missing', node.missing.map((m) => m.what).join(', ')),
        vscode.TreeItemCollapsibleState.None,
      );
      item.id = 'qemu-setup';
      item.iconPath = new vscode.ThemeIcon('tools', new vscode.ThemeColor('problemsWarningIcon.foreground'));
      item.contextValue = CONTEXT_VALUES.qemuSetup;
      item.command = { command: COMMANDS.qemuSetup, title: vscode.l10n.t('Set Up QEMU Backend...') };
      const tip = new vscode.MarkdownString(undefined, true);
      tip.isTrusted = { enabledCommands: [COMMANDS.qemuSetup] };
      tip.appendMarkdown(`**${vscode.l10n.t('The QEMU backend cannot start enclaves yet')}**\n`);
      // What is missing names paths: text, never Markdown.
      for (const m of node.missing) tip.appendMarkdown('\n- ').appendText(m.why);
      tip.appendMarkdown(
        `\n\n${vscode.l10n.t(
          "[Set Up QEMU Backend...]({0}) runs `nitro-dev qemu setup` in a terminal: it builds QEMU with the nitro-enclave machine and a small kernel, and fetches vhost-device-vsock, from Debian's packages (about 15 minutes on 2 cores).", // eslint-disable-line max-len
          `command:${COMMANDS.qemuSetup}`,
        )}`,
      );
      item.tooltip = tip;
      return item;
    }
    case 'message': {
      const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
      item.id = `message:${node.key}`;
      if (node.explanation) {
        const tip = new vscode.MarkdownString(undefined, true);
        tip.isTrusted = { enabledCommands: ['vscode.open'] };
        tip.appendText(node.detail);
        appendExplanation(tip, node.explanation);
        item.tooltip = tip;
      } else {
        item.tooltip = node.detail;
      }
      item.iconPath = new vscode.ThemeIcon(
        node.severity === 'error' ? 'error' : 'info',
        node.severity === 'error' ? new vscode.ThemeColor('errorForeground') : undefined,
      );
      return item;
    }
  }
}

/** Which target a nitro-cli backend of the settings drives, and the ssh options (parents/nitroCliParents.ts). */
export interface NitroCliTargets {
  targetOf(backend: EnclaveBackend): NitroCliTarget | undefined;
  readonly options: NitroCliOptions;
}

/** What the registered QEMU backend lacks to start enclaves (undefined: `backend` is not it). */
export interface QemuReadiness {
  missing(backend: EnclaveBackend): Promise<readonly QemuMissing[] | undefined>;
}

/**
 * The "Parent Instances" view: each parent instance, its enclave pool and its enclaves (with their
 * PCRs), of every backend in the registry. It redraws on the backends' change events while shown;
 * events that arrive while it is hidden only mark it stale, and it reads everything again when shown.
 */
export class ParentsTreeProvider implements vscode.TreeDataProvider<ParentNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ParentNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private visible = false;
  private stale = false;
  private services: LocalServices | undefined;

  constructor(
    /** Every registered backend: the view shows all their parents (and why a backend has none). */
    readonly backends: BackendRegistry,
    private readonly log: vscode.LogOutputChannel,
    /** Where the nitro-cli backends of the settings reach their parents. */
    private readonly nitroCli?: NitroCliTargets,
    /** What the QEMU backend lacks (parents/qemuParents.ts). */
    private readonly qemu?: QemuReadiness,
  ) {
    const sub = backends.onDidChange(() => this.onBackendChange());
    this.disposables.push({ dispose: () => sub.dispose() });
  }

  /** Follows the view's visibility: events are acted on only while it is shown. */
  attach(view: vscode.TreeView<ParentNode>): void {
    this.visible = view.visible;
    this.disposables.push(
      view.onDidChangeVisibility((e) => {
        this.visible = e.visible;
        if (e.visible && this.stale) this.refresh();
      }),
    );
  }

  private onBackendChange(): void {
    if (!this.visible) {
      this.stale = true;
      return;
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), REFRESH_DEBOUNCE_MS);
  }

  getTreeItem(node: ParentNode): vscode.TreeItem {
    return parentsTreeItem(node);
  }

  getParent(node: ParentNode): ParentNode | undefined {
    if (node.kind === 'kmsKey')
      return { kind: 'kms', parent: node.parent, kms: this.services?.kmsView(node.parent.id) };
    if (node.kind === 'pool' || node.kind === 'enclave' || isServiceNode(node))
      return { kind: 'parent', parent: node.parent };
    return undefined;
  }

  /** Shows the vsock ports, proxies and local KMS of emulated parents, and follows their changes. */
  setServices(services: LocalServices): void {
    this.services = services;
    this.disposables.push(services.onDidChange(() => this.onBackendChange()));
    this.onBackendChange();
  }

  async getChildren(element?: ParentNode): Promise<ParentNode[]> {
    if (!element) return this.roots();
    if (element.kind === 'parent') return this.parentChildren(element.parent);
    if (element.kind === 'enclave') {
      const m = element.enclave.Measurements as unknown as Record<string, string | undefined>;
      const ports: ParentNode[] = (element.vsockPorts ?? []).map((port) => ({
        kind: 'vsockPort',
        parent: element.parent,
        port,
      }));
      return [
        ...ports,
        ...['PCR0', 'PCR1', 'PCR2', 'PCR3', 'PCR4', 'PCR8']
          .filter((k) => typeof m[k] === 'string')
          .map((name): ParentNode => ({ kind: 'pcr', enclave: element.enclave, name, value: m[name] as string })),
      ];
    }
    if (element.kind === 'kms' && this.services) {
      const keys = await this.services.kmsKeys();
      return keys.map((key) => ({ kind: 'kmsKey', parent: element.parent, key }));
    }
    return [];
  }

  private async roots(): Promise<ParentNode[]> {
    this.stale = false;
    const nodes: ParentNode[] = this.backends.unavailable.map((u, i) => ({
      kind: 'message' as const,
      key: `unavailable:${i}`,
      text: `${u.label} is not available`,
      detail: u.reason,
      severity: 'error' as const,
    }));
    const listings = await this.backends.listByBackend();
    const labelled = listings.length > 1;
    for (const [i, l] of listings.entries()) {
      const target = this.nitroCli?.targetOf(l.backend);
      if (l.parents) {
        for (const parent of l.parents)
          nodes.push({
            kind: 'parent',
            parent,
            // A nitro-cli parent's id says where it is (`local`, `ssh:<host>`): its source is the tool.
            ...(labelled ? { source: target ? 'nitro-cli' : l.backend.label } : {}),
            ...(target ? { target } : {}),
          });
        const missing = await this.qemuMissing(l.backend);
        if (missing && missing.length > 0) nodes.push({ kind: 'qemuSetup', missing });
        continue;
      }
      const text = errorText(l.error);
      const explanation = explanationOf(l.error);
      this.log.error(`Parent Instances: cannot list the parent instances of ${l.backend.label}: ${text}`);
      if (l.backend.kind === 'nitro-cli') {
        // One real parent per nitro-cli backend: show the parent, and why it cannot be reached.
        nodes.push({
          kind: 'unreachable',
          key: `${i}:${l.backend.label}`,
          backend: l.backend.kind,
          // The name the parent has when it is reached, so a parent going down keeps its label.
          label: target ? targetName(target) : l.backend.label,
          reason: text,
          ...(explanation ? { explanation } : {}),
          ...(target && this.nitroCli ? { target, check: checkCommand(target, this.nitroCli.options.ssh) } : {}),
        });
        continue;
      }
      const what = labelled ? ` of ${l.backend.label}` : '';
      nodes.push({
        kind: 'message',
        key: `list-failed:${i}`,
        text: `Cannot list the parent instances${what}: ${text}`,
        detail: text,
        severity: 'error',
        ...(explanation ? { explanation } : {}),
      });
    }
    return nodes;
  }

  /** What the QEMU backend lacks, when `backend` is it (undefined otherwise, or when that cannot be told). */
  private async qemuMissing(backend: EnclaveBackend): Promise<readonly QemuMissing[] | undefined> {
    if (backend.kind !== 'qemu' || !this.qemu) return undefined;
    try {
      return await this.qemu.missing(backend);
    } catch (e) {
      this.log.warn(`Parent Instances: cannot tell what the QEMU backend lacks: ${errorText(e)}`);
      return undefined;
    }
  }

  private async parentChildren(parent: ParentInfo): Promise<ParentNode[]> {
    const nodes: ParentNode[] = [{ kind: 'pool', parent }];
    const ports = await this.vsockPortsOf(parent);
    try {
      const enclaves = await this.backends.describeEnclaves(parent.id);
      const parentNsm = enclaves.length > 0 && !!(await this.backends.capabilityOf(parent.id, answersNsmFromParent));
      for (const enclave of enclaves) {
        const own = ports?.filter((p) => p.owner === enclave.EnclaveID);
        nodes.push({
          kind: 'enclave',
          parent,
          enclave,
          parentNsm,
          ...(own && own.length > 0 ? { vsockPorts: own } : {}),
        });
      }
    } catch (e) {
      this.log.error(`Parent Instances: cannot describe the enclaves of ${parent.id}: ${errorText(e)}`);
      const explanation = explanationOf(e);
      nodes.push({
        kind: 'message',
        key: `describe-failed:${parent.id}`,
        text: `Cannot describe its enclaves: ${errorText(e)}`,
        detail: errorText(e),
        severity: 'error',
        ...(explanation ? { explanation } : {}),
      });
    }
    if (ports !== undefined) nodes.push(...this.serviceNodes(parent, ports));
    return nodes;
  }

  /** The live vsock listeners of an emulated parent; undefined for a parent without emulated vsock. */
  private async vsockPortsOf(parent: ParentInfo): Promise<readonly VsockPortInUse[] | undefined> {
    try {
      const backend = await this.backends.capabilityOf(parent.id, hasEmulatedVsock);
      return backend ? await backend.vsockPortsInUse(parent.id) : undefined;
    } catch (e) {
      this.log.warn(`Parent Instances: cannot list the vsock ports of ${parent.id}: ${errorText(e)}`);
      return undefined;
    }
  }

  /** The parent's own vsock listeners (besides its proxies), its proxies, and the local KMS. */
  private serviceNodes(parent: ParentInfo, ports: readonly VsockPortInUse[]): ParentNode[] {
    const proxies = this.services?.proxyViews(parent.id) ?? [];
    const proxied = new Set(proxies.map((p) => p.localPort));
    const nodes: ParentNode[] = ports
      .filter((p) => p.owner === 'parent' && !proxied.has(p.port))
      .map((port) => ({ kind: 'vsockPort', parent, port }));
    for (const proxy of proxies) nodes.push({ kind: 'proxy', parent, proxy });
    if (this.services) nodes.push({ kind: 'kms', parent, kms: this.services.kmsView(parent.id) });
    return nodes;
  }

  /** The enclave nodes of every parent (for pickers and tests). */
  async enclaves(parentId?: string): Promise<EnclaveNode[]> {
    const out: EnclaveNode[] = [];
    for (const root of await this.roots()) {
      if (root.kind !== 'parent' || (parentId !== undefined && root.parent.id !== parentId)) continue;
      for (const child of await this.parentChildren(root.parent)) if (child.kind === 'enclave') out.push(child);
    }
    return out;
  }

  refresh(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.changed.fire(undefined);
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
