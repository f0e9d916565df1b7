// The Parent Instances side of the extension: the view, the enclave commands, the console
// terminals, allocator diagnostics and the status bar, over the backend registry (every backend's
// parents, each call routed to the parent's backend). What only some backends can do is a
// capability: commands test for it, and menus see it as a context key (ids.ts CONTEXT_KEYS).
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { formatJson } from '../../engine';
import {
  NITRO_ENCLAVES_DEVICE,
  checkNitroMachine,
  createBackendRegistry,
  createQemuBackend,
  qemuBackendWanted,
  qemuCacheDir,
  qemuMissing,
  readKeptConsole,
  type BackendRegistry,
  type NitroCliOptions,
} from '../../engine/node';
import { type DescribeEnclaveJson, type EnclaveBackend, type ParentInfo, type RunEnclaveJson } from '../../engine';
import {
  CAPABILITIES,
  answersNsmFromParent,
  attachesApplications,
  canAddParents,
  canRepairState,
  hasDevelopmentRoots,
  type DevelopmentRoot,
} from '../../engine';
import type { AttestationViewerApi } from '../attestation/registerAttestation';
import { askAttestRequest, requestFromOptions, type AttestRequestOptions } from '../attestation/attestRequest';
import type { DescribeDocuments } from '../commands/describeDocuments';
import { registerCommand } from '../commands/registerCommands';
import type { Ctx } from '../ctx';
import {
  CONTEXT_KEYS,
  COMMANDS,
  NITRO_CLI_SETTINGS,
  PARENT_COMMANDS,
  QEMU_SETTINGS,
  RUN_TASK_TYPE,
  SETTINGS,
  VIEWS,
  type ParentCommandKey,
} from '../ids';
import { BACKEND_KINDS, ParentsTreeProvider, type EnclaveNode, type ParentNode } from '../tree/parentsTree';
import { AllocatorDiagnostics } from './allocatorDiagnostics';
import { EnclaveConsole } from './consoleTerminal';
import {
  attestationDocumentOf,
  attestationRequestBytes,
  checkAllocatorText,
  reachableParents,
  runRules,
  type RunRules,
} from './backendHost';
import { NitroCliParents, type NitroCliBackendFactory } from './nitroCliParents';
import { nitroCliOptionsFrom } from './nitroCliSettings';
import { QemuParents, qemuSettingsFrom, type QemuParentSettings } from './qemuParents';
import { QemuSetupTerminal } from './qemuSetupTerminal';
import { isBackendError } from '../errors/explainText';
import { CurrentParent } from './parentStatusBar';
import { appMemoryKey } from './attachApplication';
import { asLastSettings, lastSettingsKey } from './lastSettings';
import { EnclaveTaskProvider, type EnclaveTaskTerminal } from './runTask';
import {
  isRunEnclaveArgs,
  launch,
  pickEif,
  planRun,
  type AttachOptions,
  type RunEnclaveArgs,
  type RunMemory,
} from './runEnclave';

/** What registerParents returns: handles for the extension-host tests (not a public API). */
export interface ParentsApi {
  /** Every backend: the embedded emulator, and what tests register. */
  readonly backends: BackendRegistry;
  /** Run Enclave's field checks. */
  readonly rules: RunRules;
  readonly current: CurrentParent;
  readonly diagnostics: AllocatorDiagnostics;
  /** The consoles opened by Open Console, newest last. */
  readonly consoles: readonly EnclaveConsole[];
  /** The real parent instances of the settings: their options, targets and backends. */
  readonly nitroCli: NitroCliParents;
  /** The QEMU backend of the settings, and Set Up QEMU Backend...'s terminals (newest last). */
  readonly qemu: {
    readonly parents: QemuParents;
    readonly setupTerminals: readonly QemuSetupTerminal[];
    /**
     * Replaces the program Set Up QEMU Backend... runs in place of `<node> <extension>/dist/cli.js`
     * (its arguments `qemu setup [--cache DIR]` follow); undefined goes back to the bundled CLI.
     */
    useSetupProgram(argv: readonly string[] | undefined): void;
  };
  /** The `nitro-enclave` task type: what it makes of a task (as of tasks.json), and the terminals of the tasks run. */
  readonly enclaveTasks: {
    taskFor(task: vscode.Task): vscode.Task | undefined;
    readonly terminals: readonly EnclaveTaskTerminal[];
  };
}

/** An enclave a command acts on: a node of the view, or what a programmatic caller names. */
type EnclaveTarget = { readonly parentId: string; readonly enclave: DescribeEnclaveJson };

function backendMessage(e: unknown): string {
  if (isBackendError(e)) return `[E${e.code}] ${e.message.replace(/^\[E\d+\]\s*/, '')}`;
  return e instanceof Error ? e.message : String(e);
}

class ParentCommands {
  readonly eifOfEnclave = new Map<string, string>();
  readonly consoles: EnclaveConsole[] = [];

  constructor(
    private readonly ctx: Ctx,
    private readonly backends: BackendRegistry,
    private readonly tree: ParentsTreeProvider,
    private readonly current: CurrentParent,
    private readonly diagnostics: AllocatorDiagnostics,
    private readonly attestation: AttestationViewerApi,
    private readonly describeDocuments: DescribeDocuments,
  ) {}

  private async parentById(id: string): Promise<ParentInfo> {
    const parent = (await reachableParents(this.backends)).find((p) => p.id === id);
    if (!parent) throw new Error(vscode.l10n.t('there is no parent instance {0}', id));
    return parent;
  }

  /** The parent a command acts on: the node's, else the current one. */
  private async parentOf(arg: unknown): Promise<ParentInfo | undefined> {
    if (arg && typeof arg === 'object' && 'kind' in arg) {
      const node = arg as ParentNode;
      if (node.kind === 'parent' || node.kind === 'pool' || node.kind === 'enclave')
        return this.parentById(node.parent.id);
    }
    if (arg && typeof arg === 'object' && typeof (arg as { parentId?: unknown }).parentId === 'string')
      return this.parentById((arg as { parentId: string }).parentId);
    const parent = await this.current.get();
    if (!parent)
      void vscode.window.showInformationMessage(
        this.backends.capable(canAddParents).length > 0
          ? vscode.l10n.t('No parent instance is configured. Add a parent first.')
          : vscode.l10n.t('No parent instance is configured.'),
      );
    return parent;
  }

  /** The enclave a command acts on: a node, `{ parentId, enclaveId }`, or one picked from the running enclaves. */
  /**
   * The enclave a command acts on: the node it was run on, else one picked among the enclaves that
   * `filter` keeps. `words` says what the command does, as whole sentences (none: no enclave to act
   * on; title: the picker's).
   */
  private async enclaveOf(
    arg: unknown,
    words: { readonly none: string; readonly title: string },
    filter: (e: DescribeEnclaveJson, parent: ParentInfo, node: EnclaveNode) => boolean = () => true,
  ): Promise<EnclaveTarget | undefined> {
    if (arg && typeof arg === 'object') {
      const node = arg as Partial<EnclaveNode> & { parentId?: unknown; enclaveId?: unknown };
      if (node.kind === 'enclave' && node.parent && node.enclave)
        return { parentId: node.parent.id, enclave: node.enclave };
      if (typeof node.parentId === 'string' && typeof node.enclaveId === 'string') {
        const enclave = (await this.backends.describeEnclaves(node.parentId)).find(
          (e) => e.EnclaveID === node.enclaveId,
        );
        if (!enclave) throw new Error(vscode.l10n.t('there is no enclave {0} on {1}', node.enclaveId, node.parentId));
        return { parentId: node.parentId, enclave };
      }
    }
    const candidates = (await this.tree.enclaves()).filter((n) => filter(n.enclave, n.parent, n));
    if (candidates.length === 0) {
      void vscode.window.showInformationMessage(words.none);
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      candidates.map((n) => ({
        label: `$(vm-running) ${n.enclave.EnclaveName}`,
        description: n.enclave.EnclaveID,
        detail:
          n.enclave.Flags === 'DEBUG_MODE'
            ? vscode.l10n.t(
                '{0} · CID {1} · {2} CPUs · {3} MiB · debug mode',
                n.parent.name,
                n.enclave.EnclaveCID,
                n.enclave.NumberOfCPUs,
                n.enclave.MemoryMiB,
              )
            : vscode.l10n.t(
                '{0} · CID {1} · {2} CPUs · {3} MiB',
                n.parent.name,
                n.enclave.EnclaveCID,
                n.enclave.NumberOfCPUs,
                n.enclave.MemoryMiB,
              ),
        node: n,
      })),
      { title: words.title, matchOnDescription: true },
    );
    return picked ? { parentId: picked.node.parent.id, enclave: picked.node.enclave } : undefined;
  }

  // --- Run Enclave… ---------------------------------------------------------------------------

  async run(arg?: unknown): Promise<RunEnclaveJson | undefined> {
    let eif: vscode.Uri | undefined;
    let args: RunEnclaveArgs | undefined;
    if (isRunEnclaveArgs(arg)) {
      args = arg;
      eif = typeof arg.eif === 'string' ? vscode.Uri.file(arg.eif) : arg.eif;
    } else if (arg instanceof vscode.Uri) {
      eif = arg;
    } else if (arg && typeof arg === 'object' && 'uri' in arg && arg.uri instanceof vscode.Uri) {
      eif = (arg as { uri: vscode.Uri }).uri; // a node of the Enclave Images view
    }
    const parent = await this.parentOf(args?.parentId !== undefined ? { parentId: args.parentId } : arg);
    if (!parent) return undefined;
    eif ??= await pickEif();
    if (!eif) return undefined;
    if (eif.scheme !== 'file') throw new Error(vscode.l10n.t('{0} is not a file on this machine', eif.toString(true)));
    const deps = { backend: this.backends, rules: runRules, log: this.ctx.log };
    const plan = await planRun(
      deps,
      parent,
      eif.fsPath,
      args,
      await this.attachOptions(parent.id, eif),
      this.runMemory(eif),
    );
    if (!plan) return undefined;
    let result: RunEnclaveJson;
    try {
      result = await launch(deps, plan);
    } catch (e) {
      throw new Error(vscode.l10n.t('{0} did not start: {1}', path.basename(eif.fsPath), backendMessage(e)), {
        cause: e,
      });
    }
    this.eifOfEnclave.set(result.EnclaveID, eif.fsPath);
    this.tree.refresh();
    void this.current.update();
    if (!args) {
      const running = [result.EnclaveName, parent.name, result.EnclaveCID] as const;
      void vscode.window.showInformationMessage(
        plan.request.app
          ? plan.request.debugMode
            ? vscode.l10n.t(
                "Enclave {0} is running on {1} (CID {2}): its application's output is in its console.",
                ...running,
              )
            : vscode.l10n.t(
                "Enclave {0} is running on {1} (CID {2}). Its application's output is not shown: only a debug-mode enclave has a console.", // eslint-disable-line max-len
                ...running,
              )
          : vscode.l10n.t('Enclave {0} is running on {1} (CID {2}).', ...running),
      );
    }
    // An attached application may print and exit at once: its console opens right away (like
    // run-enclave --attach-console), and shows the kept log when the enclave has ended already.
    if (plan.request.app && plan.request.debugMode && (!args || args.openConsole === true))
      this.openConsoleOf(parent.id, result.EnclaveID, result.EnclaveName);
    return result;
  }

  /** The Attach application step's options, for a parent whose backend attaches applications. */
  private async attachOptions(parentId: string, eif: vscode.Uri): Promise<AttachOptions | undefined> {
    if (!(await this.backends.capabilityOf(parentId, attachesApplications))) return undefined;
    const remembered = this.ctx.extension.workspaceState.get<string>(appMemoryKey(eif.fsPath));
    const folder = vscode.workspace.getWorkspaceFolder(eif);
    return {
      ...(remembered !== undefined ? { remembered } : {}),
      cwd: folder && folder.uri.scheme === 'file' ? folder.uri.fsPath : path.dirname(eif.fsPath),
    };
  }

  /** Run Enclave's memory of an image: its last settings in workspaceState. */
  private runMemory(eif: vscode.Uri): RunMemory {
    const state = this.ctx.extension.workspaceState;
    const key = lastSettingsKey(eif.fsPath);
    const last = asLastSettings(state.get(key));
    return { ...(last ? { last } : {}), remember: (settings) => state.update(key, settings) };
  }

  // --- Terminate ------------------------------------------------------------------------------

  async terminate(arg?: unknown, nodes?: unknown, options?: { readonly confirmed?: boolean }): Promise<number> {
    const selected =
      Array.isArray(nodes) && nodes.length > 1
        ? (nodes as ParentNode[]).filter((n): n is EnclaveNode => n.kind === 'enclave')
        : [];
    const targets: EnclaveTarget[] =
      selected.length > 1
        ? selected.map((n) => ({ parentId: n.parent.id, enclave: n.enclave }))
        : [
            await this.enclaveOf(
              arg,
              { none: vscode.l10n.t('No enclave to terminate.'), title: vscode.l10n.t('Enclave to terminate') },
              (e) => e.State === 'RUNNING',
            ),
          ].filter((t): t is EnclaveTarget => !!t);
    if (targets.length === 0) return 0;
    const confirmed =
      options?.confirmed === true ||
      (nodes &&
        typeof nodes === 'object' &&
        !Array.isArray(nodes) &&
        (nodes as { confirmed?: unknown }).confirmed === true);
    if (!confirmed) {
      const [first] = targets;
      const question =
        targets.length === 1 && first
          ? vscode.l10n.t('Terminate enclave {0} ({1})?', first.enclave.EnclaveName, first.enclave.EnclaveID)
          : vscode.l10n.t('Terminate {0} enclaves?', targets.length);
      const terminate = vscode.l10n.t('Terminate');
      const answer = await vscode.window.showWarningMessage(
        question,
        { modal: true, detail: vscode.l10n.t('Its application stops, and its CPUs and memory return to the pool.') },
        terminate,
      );
      if (answer !== terminate) return 0;
    }
    let done = 0;
    for (const t of targets) {
      try {
        await this.backends.terminateEnclave(t.parentId, t.enclave.EnclaveID);
        this.ctx.log.info(`Terminated ${t.enclave.EnclaveID}`);
        done++;
      } catch (e) {
        throw new Error(vscode.l10n.t('{0} was not terminated: {1}', t.enclave.EnclaveName, backendMessage(e)), {
          cause: e,
        });
      } finally {
        this.tree.refresh();
        void this.current.update();
      }
    }
    return done;
  }

  // --- Open Console ---------------------------------------------------------------------------

  async console(arg?: unknown): Promise<vscode.Terminal | undefined> {
    const target = await this.enclaveOf(
      arg,
      {
        none: vscode.l10n.t('No enclave with a console to open.'),
        title: vscode.l10n.t('Enclave whose console to open'),
      },
      (e) => e.State === 'RUNNING' && e.Flags === 'DEBUG_MODE',
    );
    if (!target) return undefined;
    if (target.enclave.Flags !== 'DEBUG_MODE') {
      throw new Error(
        `${target.enclave.EnclaveName} runs in production mode, which has no console. ` +
          `Run it again in debug mode to read its console.`,
      );
    }
    return this.openConsoleOf(target.parentId, target.enclave.EnclaveID, target.enclave.EnclaveName);
  }

  /** A console terminal for an enclave (running, or ended: then its kept console log). */
  private openConsoleOf(parentId: string, enclaveId: string, enclaveName: string): vscode.Terminal {
    // The emulator keeps each enclave's console log in its state folder after the enclave ends.
    const kept = async () => {
      const keeper = await this.backends.capabilityOf(parentId, canRepairState);
      return keeper ? readKeptConsole(keeper.stateDir, parentId, enclaveId) : undefined;
    };
    const pty = new EnclaveConsole(this.backends, parentId, enclaveId, this.ctx.log, kept);
    this.consoles.push(pty);
    const terminal = vscode.window.createTerminal({
      name: vscode.l10n.t('Enclave Console: {0}', enclaveName),
      pty,
      iconPath: new vscode.ThemeIcon('vm-running'),
    });
    const closed = vscode.window.onDidCloseTerminal((t) => {
      if (t !== terminal) return;
      closed.dispose();
      pty.dispose();
    });
    this.ctx.push(closed);
    terminal.show();
    return terminal;
  }

  // --- Describe -------------------------------------------------------------------------------

  async describe(arg?: unknown): Promise<vscode.TextDocument | undefined> {
    const target = await this.enclaveOf(arg, {
      none: vscode.l10n.t('No enclave to describe.'),
      title: vscode.l10n.t('Enclave to describe'),
    });
    if (!target) return undefined;
    const fresh = (await this.backends.describeEnclaves(target.parentId, { metadata: true })).find(
      (e) => e.EnclaveID === target.enclave.EnclaveID,
    );
    if (!fresh) throw new Error(vscode.l10n.t('{0} no longer exists', target.enclave.EnclaveName));
    return this.describeDocuments.show(
      `${fresh.EnclaveName}.describe-enclaves.json`,
      `enclave=${fresh.EnclaveID}`,
      formatJson([fresh]),
    );
  }

  // --- Copy Enclave ID ------------------------------------------------------------------------

  async copyId(arg?: unknown): Promise<string | undefined> {
    const target = await this.enclaveOf(arg, {
      none: vscode.l10n.t('No enclave whose ID to copy.'),
      title: vscode.l10n.t('Enclave whose ID to copy'),
    });
    if (!target) return undefined;
    await vscode.env.clipboard.writeText(target.enclave.EnclaveID);
    vscode.window.setStatusBarMessage(vscode.l10n.t('$(copy) Copied {0}', target.enclave.EnclaveID), 3000);
    return target.enclave.EnclaveID;
  }

  // --- Get Attestation Document… --------------------------------------------------------------

  async attest(arg?: unknown, options?: AttestRequestOptions): Promise<vscode.WebviewPanel | undefined> {
    const target = await this.enclaveOf(
      arg,
      {
        none: vscode.l10n.t('No enclave whose NSM the extension can ask for an attestation document.'),
        title: vscode.l10n.t('Enclave to attest'),
      },
      (e, _parent, node) => e.State === 'RUNNING' && node.parentNsm === true,
    );
    if (!target) return undefined;
    const { enclave, parentId } = target;
    const backend = await this.backends.backendOf(parentId);
    if (!answersNsmFromParent(backend))
      throw new Error(
        vscode.l10n.t(
          '{0} has no attestation document for the extension: {1}',
          enclave.EnclaveName,
          BACKEND_KINDS[backend.kind].nsmOutOfReach,
        ),
      );
    // The nonce, user data and public key: asked for in three steps, or given as the argument.
    const asked = options ? await requestFromOptions(options) : await askAttestRequest(enclave.EnclaveName);
    if (!asked) return undefined;
    const request = attestationRequestBytes(asked);
    let document: Uint8Array;
    try {
      document = attestationDocumentOf(await this.backends.nsm(parentId, enclave.EnclaveID, request));
    } catch (e) {
      throw new Error(
        vscode.l10n.t("{0}'s NSM returned no attestation document: {1}", enclave.EnclaveName, backendMessage(e)),
        {
          cause: e,
        },
      );
    }
    const eifPath =
      this.eifOfEnclave.get(enclave.EnclaveID) ??
      (await (
        await this.backends.capabilityOf(parentId, attachesApplications)
      )?.eifPathOf(parentId, enclave.EnclaveID));
    const roots = (await (await this.backends.capabilityOf(parentId, hasDevelopmentRoots))?.developmentRoots()) ?? [];
    this.ctx.log.info(
      `Attestation document of ${enclave.EnclaveID}: ${document.length} bytes` +
        `${eifPath ? `; PCRs compared with ${eifPath}` : ''}`,
    );
    return this.attestation.openPanel(document, {
      label: `${enclave.EnclaveName} (${enclave.EnclaveID})`,
      roots,
      ...(eifPath ? { compareWith: vscode.Uri.file(eifPath) } : {}),
      // The viewer checks that the document carries the nonce asked for.
      ...(asked.nonce ? { nonce: asked.nonce } : {}),
    });
  }

  // --- parents --------------------------------------------------------------------------------

  async editAllocator(arg?: unknown): Promise<vscode.TextEditor | undefined> {
    const parent = await this.parentOf(arg);
    if (!parent) return undefined;
    if (!parent.allocatorPath) {
      void vscode.window.showInformationMessage(
        vscode.l10n.t('{0} has no allocator configuration file: its pool is fixed by its backend.', parent.name),
      );
      return undefined;
    }
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(parent.allocatorPath));
    this.diagnostics.checkNow(doc);
    return vscode.window.showTextDocument(doc, { preview: false });
  }

  async addParent(arg?: unknown): Promise<ParentInfo | undefined> {
    const creator = this.backends.capable(canAddParents)[0];
    if (!creator) throw new Error(vscode.l10n.t('No backend can add parent instances.'));
    const taken = (await reachableParents(this.backends)).map((p) => p.name);
    let name =
      arg && typeof arg === 'object' && typeof (arg as { name?: unknown }).name === 'string'
        ? (arg as { name: string }).name
        : undefined;
    if (name === undefined) {
      let n = taken.length + 1;
      while (taken.includes(`emulated-parent-${n}`)) n++;
      name = await vscode.window.showInputBox({
        title: vscode.l10n.t('Add Emulated Parent'),
        prompt: vscode.l10n.t(
          'Name of the new emulated parent instance (it gets its own instance ID, allocator pool and enclaves)',
        ),
        value: `emulated-parent-${n}`,
        ignoreFocusOut: true,
        validateInput: (text) =>
          text.trim() === ''
            ? vscode.l10n.t('Enter a name.')
            : taken.includes(text.trim())
              ? vscode.l10n.t('A parent named {0} already exists.', text.trim())
              : undefined,
      });
      if (name === undefined) return undefined;
    }
    const parent = await creator.addParent(name.trim());
    this.ctx.log.info(`Added emulated parent ${parent.name} (${parent.id})`);
    this.tree.refresh();
    this.diagnostics.setParents(await reachableParents(this.backends));
    if (!arg) {
      const use = vscode.l10n.t('Use for New Enclaves');
      void vscode.window
        .showInformationMessage(vscode.l10n.t('Added the emulated parent {0} ({1}).', parent.name, parent.id), use)
        .then((c) => (c === use ? this.current.set(parent.id) : undefined));
    }
    return parent;
  }
}

/** Why a nonce field cannot be used, or undefined. */
/**
 * Sets one context key per capability: true while a registered backend has it (package.json `when`
 * clauses use them).
 */
function updateCapabilityKeys(backends: BackendRegistry): void {
  for (const [name, guard] of Object.entries(CAPABILITIES)) {
    const key = CONTEXT_KEYS[name as keyof typeof CONTEXT_KEYS];
    void vscode.commands.executeCommand(
      'setContext',
      key,
      backends.backends.some((b) => guard(b)),
    );
  }
}

/** Every development root of the registered backends (for the attestation viewer). */
export async function developmentRootsOf(backends: BackendRegistry): Promise<DevelopmentRoot[]> {
  const roots: DevelopmentRoot[] = [];
  for (const b of backends.capable(hasDevelopmentRoots)) roots.push(...(await b.developmentRoots()));
  return roots;
}

function logBackend(ctx: Ctx, backend: EnclaveBackend): void {
  ctx.log.info(`${backend.label}: registered${canRepairState(backend) ? `, state in ${backend.stateDir}` : ''}`);
}

/** Creates the backend registry and registers the Parent Instances view, its commands and the status bar. */
export function registerParents(
  ctx: Ctx,
  deps: {
    readonly attestation: AttestationViewerApi;
    readonly describe: DescribeDocuments;
    /** The engine's nitro-cli backends (one per target); undefined: no real parents in this build. */
    readonly nitroCliBackends?: NitroCliBackendFactory;
  },
): { readonly tree: ParentsTreeProvider; readonly api: ParentsApi } {
  const base = {
    hostScript: vscode.Uri.joinPath(ctx.extension.extensionUri, 'dist', 'enclave-host.js').fsPath,
    log: (m: string) => ctx.log.error(m),
    env: process.env,
  };
  // The QEMU backend is QemuParents' (below), made again when its settings change.
  const backends = createBackendRegistry({ ...base, qemu: { enabled: 'never' } });
  ctx.push({ dispose: () => backends.dispose() });
  for (const b of backends.backends) logBackend(ctx, b);
  const qemu = new QemuParents(
    backends,
    { wanted: qemuBackendWanted, make: createQemuBackend, missing: qemuMissing, checkMachine: checkNitroMachine },
    base,
    ctx.log,
  );
  ctx.push(
    { dispose: () => qemu.dispose() },
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (QEMU_SETTINGS.some((s) => e.affectsConfiguration(s))) qemu.apply(qemuSettings(ctx));
    }),
  );
  qemu.apply(qemuSettings(ctx));
  // The real parents of the settings, made again when one of their settings changes. Disposed
  // before the registry (ctx disposes in reverse order).
  const nitroCli = new NitroCliParents(backends, deps.nitroCliBackends, ctx.log);
  ctx.push(
    { dispose: () => nitroCli.dispose() },
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (NITRO_CLI_SETTINGS.some((s) => e.affectsConfiguration(s))) nitroCli.apply(nitroCliOptions(ctx));
    }),
  );
  nitroCli.apply(nitroCliOptions(ctx));
  updateCapabilityKeys(backends);
  const tree = ctx.own(new ParentsTreeProvider(backends, ctx.log, nitroCli, qemu));
  const view = vscode.window.createTreeView(VIEWS.parents, {
    treeDataProvider: tree,
    showCollapseAll: true,
    canSelectMany: true,
  });
  ctx.push(view);
  tree.attach(view);

  const current = ctx.own(new CurrentParent(ctx.extension.workspaceState, backends, ctx.log));
  const diagnostics = ctx.own(new AllocatorDiagnostics((text, parent) => checkAllocatorText(text, parent), ctx.log));
  const knownPaths = async () => {
    try {
      diagnostics.setParents(await reachableParents(backends));
    } catch {
      // The view shows why the parents cannot be listed.
    }
  };
  void knownPaths();
  let count = backends.backends.length;
  const sub = backends.onDidChange(() => {
    if (backends.backends.length !== count) {
      count = backends.backends.length;
      updateCapabilityKeys(backends);
    }
    void knownPaths();
  });
  ctx.push(
    { dispose: () => sub.dispose() },
    // A saved allocator configuration changes a pool: show it (the backend watches only its enclaves).
    vscode.workspace.onDidSaveTextDocument((d) => {
      if (!diagnostics.isAllocatorDocument(d)) return;
      tree.refresh();
      void current.update();
    }),
  );

  const commands = new ParentCommands(ctx, backends, tree, current, diagnostics, deps.attestation, deps.describe);
  const handlers: Record<ParentCommandKey, (...args: never[]) => unknown> = {
    enclaveRun: (arg?: unknown) => commands.run(arg),
    enclaveTerminate: (arg?: unknown, nodes?: unknown, options?: { confirmed?: boolean }) =>
      commands.terminate(arg, nodes, options),
    enclaveConsole: (arg?: unknown) => commands.console(arg),
    enclaveDescribe: (arg?: unknown) => commands.describe(arg),
    enclaveAttest: (arg?: unknown, options?: AttestRequestOptions) => commands.attest(arg, options),
    enclaveCopyId: (arg?: unknown) => commands.copyId(arg),
    parentEditAllocator: (arg?: unknown) => commands.editAllocator(arg),
    parentAdd: (arg?: unknown) => commands.addParent(arg),
    parentSelect: () => current.pick(),
  };
  for (const [key, spec] of Object.entries(PARENT_COMMANDS))
    registerCommand(ctx, spec.id, handlers[key as ParentCommandKey]);
  const setup = new QemuSetup(ctx, qemu, tree, current);
  registerCommand(ctx, COMMANDS.qemuSetup, (options?: { readonly confirmed?: boolean }) => setup.run(options));
  const shown = () => {
    tree.refresh();
    void current.update();
  };
  const enclaveTasks = new EnclaveTaskProvider({
    backends,
    current,
    rules: runRules,
    log: ctx.log,
    onDidStart: (_parentId, run, eifPath) => {
      commands.eifOfEnclave.set(run.EnclaveID, eifPath);
      shown();
    },
    onDidEnd: shown,
  });
  ctx.push(vscode.tasks.registerTaskProvider(RUN_TASK_TYPE, enclaveTasks));
  return {
    tree,
    api: {
      backends,
      rules: runRules,
      current,
      diagnostics,
      consoles: commands.consoles,
      nitroCli,
      qemu: {
        parents: qemu,
        setupTerminals: setup.terminals,
        useSetupProgram: (argv) => setup.useProgram(argv),
      },
      enclaveTasks: { taskFor: (task) => enclaveTasks.resolveTask(task), terminals: enclaveTasks.terminals },
    },
  };
}

/** The QEMU settings now; what they drop is logged as a warning. */
function qemuSettings(ctx: Ctx): QemuParentSettings {
  const config = vscode.workspace.getConfiguration();
  const { settings, warnings } = qemuSettingsFrom({
    backend: config.get(SETTINGS.qemuBackend),
    qemuPath: config.get(SETTINGS.qemuPath),
    vhostDeviceVsockPath: config.get(SETTINGS.qemuVhostDeviceVsockPath),
    cacheDir: config.get(SETTINGS.qemuCacheDir),
  });
  for (const w of warnings) ctx.log.warn(`Settings: ${w}`);
  return settings;
}

/**
 * Set Up QEMU Backend...: asks, then runs `nitro-dev qemu setup` (the bundled CLI, under VS Code's
 * Node) in a terminal; once it succeeds, the QEMU backend is registered and makes its parent (so
 * `auto` keeps it), and the view shows it. Resolves true when set up, false when setup failed,
 * undefined when not run.
 */
class QemuSetup {
  readonly terminals: QemuSetupTerminal[] = [];
  private program: readonly string[] | undefined;

  constructor(
    private readonly ctx: Ctx,
    private readonly qemu: QemuParents,
    private readonly tree: ParentsTreeProvider,
    private readonly current: CurrentParent,
  ) {}

  useProgram(argv: readonly string[] | undefined): void {
    this.program = argv;
  }

  async run(options?: { readonly confirmed?: boolean }): Promise<boolean | undefined> {
    if (process.platform !== 'linux')
      throw new Error(
        vscode.l10n.t("The QEMU backend needs Linux (QEMU's nitro-enclave machine and vhost-device-vsock)."),
      );
    const settings = this.qemu.settings;
    const cacheDir = settings.cacheDir ?? qemuCacheDir(process.env);
    if (options?.confirmed !== true) {
      const go = vscode.l10n.t('Set Up');
      const answer = await vscode.window.showInformationMessage(
        vscode.l10n.t('Set up the QEMU backend in {0}?', cacheDir),
        {
          modal: true,
          detail: vscode.l10n.t(
            "nitro-dev qemu setup builds QEMU with the nitro-enclave machine and a small kernel from Debian's source packages, and fetches vhost-device-vsock, into that folder: about 15 minutes on 2 cores, on a Debian machine with the build dependencies (it says which are missing). It runs in a terminal; closing the terminal stops it.", // eslint-disable-line max-len
          ),
        },
        go,
      );
      if (answer !== go) return undefined;
    }
    const prefix = this.program ?? [
      process.execPath,
      vscode.Uri.joinPath(this.ctx.extension.extensionUri, 'dist', 'cli.js').fsPath,
    ];
    const argv = [...prefix, 'qemu', 'setup', ...(settings.cacheDir ? ['--cache', settings.cacheDir] : [])];
    const pty = new QemuSetupTerminal(argv, { ...process.env, ELECTRON_RUN_AS_NODE: '1' });
    this.terminals.push(pty);
    const terminal = vscode.window.createTerminal({
      name: vscode.l10n.t('QEMU Setup'),
      pty,
      iconPath: new vscode.ThemeIcon('tools'),
    });
    const closed = vscode.window.onDidCloseTerminal((t) => {
      if (t !== terminal) return;
      closed.dispose();
      pty.dispose();
    });
    this.ctx.push(closed, { dispose: () => pty.close() });
    terminal.show();
    this.ctx.log.info(`QEMU setup: ${argv.slice(1).join(' ')}`);
    const status = await pty.exitStatus;
    this.ctx.log.info(`QEMU setup: exit status ${status}`);
    if (status !== 0) {
      void vscode.window.showErrorMessage(
        vscode.l10n.t('QEMU setup did not finish (exit status {0}): its terminal says why.', status),
      );
      return false;
    }
    const parents = await this.qemu.afterSetup();
    this.tree.refresh();
    void this.current.update();
    const names = (parents ?? []).map((p) => p.name).join(', ');
    void vscode.window.showInformationMessage(
      parents === undefined
        ? vscode.l10n.t('The QEMU backend is set up; the nitroEnclaves.qemu.backend setting keeps it off (never).')
        : vscode.l10n.t('The QEMU backend is set up: {0} is in Parent Instances.', names),
    );
    return true;
  }
}

/** The nitro-cli backend's options from the settings now; what they drop is logged as a warning. */
function nitroCliOptions(ctx: Ctx): NitroCliOptions {
  const config = vscode.workspace.getConfiguration();
  const { options, warnings } = nitroCliOptionsFrom(
    {
      nitroCliPath: config.get(SETTINGS.nitroCliPath),
      sshHosts: config.get(SETTINGS.parentsSshHosts),
      localParent: config.get(SETTINGS.parentsLocalParent),
      sshPath: config.get(SETTINGS.sshPath),
      sshConfigFile: config.get(SETTINGS.sshConfigFile),
      connectTimeoutSeconds: config.get(SETTINGS.sshConnectTimeoutSeconds),
    },
    { deviceExists: existsSync(NITRO_ENCLAVES_DEVICE), homeDir: os.homedir() },
  );
  for (const w of warnings) ctx.log.warn(`Settings: ${w}`);
  return options;
}

/**
 * Registers a backend in the running extension (what activate()'s `registerBackend` does): its
 * parents join the view, its capabilities the context keys. Disposing the result removes it.
 */
export function registerBackend(ctx: Ctx, backends: BackendRegistry, backend: EnclaveBackend): vscode.Disposable {
  const registration = backends.register(backend, { owned: false });
  logBackend(ctx, backend);
  return new vscode.Disposable(() => registration.dispose());
}
