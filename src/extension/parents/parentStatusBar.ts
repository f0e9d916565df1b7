// The current parent instance (where Run Enclave… launches when no parent node is given),
// remembered in the workspace state, and its status bar item: its name and how many enclaves run
// on it; a click switches parent.
import * as vscode from 'vscode';
import type { BackendRegistry } from '../../engine/node';
import { reachableParents } from './backendHost';
import { BACKEND_KINDS } from '../tree/parentsTree';
import { COMMANDS, STATE_KEYS } from '../ids';
import { UNKNOWN_PALETTE_STATE, paletteStateOf, samePaletteState, type PaletteState } from './paletteState';
import { answersNsmFromParent, type ParentInfo } from '../../engine';

/** Workspace-state key of the chosen parent's instance id. */
const CURRENT_PARENT_KEY = 'currentParentId';

export class CurrentParent implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private updating: Promise<void> = Promise.resolve();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastPaletteState: PaletteState | undefined;

  constructor(
    private readonly state: vscode.Memento,
    private readonly backend: BackendRegistry,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.item = vscode.window.createStatusBarItem('nitroEnclaves.parent', vscode.StatusBarAlignment.Left, 20);
    this.item.name = vscode.l10n.t('Nitro Enclaves Parent Instance');
    this.item.command = COMMANDS.parentSelect;
    this.disposables.push(this.item);
    const sub = backend.onDidChange(() => this.scheduleUpdate());
    this.disposables.push({ dispose: () => sub.dispose() });
    void this.update();
  }

  /** The chosen parent, else the first one. */
  async get(): Promise<ParentInfo | undefined> {
    const parents = await reachableParents(this.backend);
    const id = this.state.get<string>(CURRENT_PARENT_KEY);
    return parents.find((p) => p.id === id) ?? parents[0];
  }

  async set(parentId: string): Promise<void> {
    await this.state.update(CURRENT_PARENT_KEY, parentId);
    this.changed.fire();
    await this.update();
  }

  /** The status bar's text right now (for tests). */
  get text(): string {
    return this.item.text;
  }

  private scheduleUpdate(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.update(), 150);
  }

  /** Reads the current parent and its enclaves again; resolves when the item shows them. */
  update(): Promise<void> {
    this.updating = this.updating.then(async () => {
      try {
        const parents = await reachableParents(this.backend);
        // Every parent's enclaves, for the palette's when clauses; the current one's for the item.
        const lists = await Promise.all(
          parents.map((p) =>
            this.backend.describeEnclaves(p.id).then(
              (list) => list,
              () => undefined,
            ),
          ),
        );
        const parentNsm = await Promise.all(
          parents.map((p) => this.backend.capabilityOf(p.id, answersNsmFromParent).then((b) => b !== undefined)),
        );
        this.setPaletteState(paletteStateOf(lists.map((enclaves, i) => ({ enclaves, parentNsm: !!parentNsm[i] }))));
        const id = this.state.get<string>(CURRENT_PARENT_KEY);
        const parent = parents.find((p) => p.id === id) ?? parents[0];
        if (!parent) {
          this.item.hide();
          return;
        }
        const known = lists[parents.indexOf(parent)];
        const running = (known ?? (await this.backend.describeEnclaves(parent.id))).filter(
          (e) => e.State === 'RUNNING',
        ).length;
        this.item.text =
          running === 1
            ? vscode.l10n.t('$(vm) {0}: 1 enclave', parent.name)
            : vscode.l10n.t('$(vm) {0}: {1} enclaves', parent.name, running);
        this.item.tooltip = vscode.l10n.t(
          'Nitro Enclaves: enclaves run on {0} ({1}); {2} running. Click to switch parent instance.',
          parent.name,
          parent.id,
          running,
        );
        this.item.show();
      } catch (e) {
        // E.g. a damaged state file: the message names it and says how to recover; show it, not only "unavailable".
        const message = e instanceof Error ? e.message : String(e);
        this.log.error(`Status bar: cannot read the current parent: ${message}`);
        this.setPaletteState(UNKNOWN_PALETTE_STATE);
        this.item.text = vscode.l10n.t('$(vm) Nitro Enclaves: unavailable');
        this.item.tooltip = vscode.l10n.t('Nitro Enclaves: {0}', message);
        this.item.show();
      }
    });
    return this.updating;
  }

  /** What the palette's when clauses were last told (for tests). */
  get paletteState(): PaletteState | undefined {
    return this.lastPaletteState;
  }

  private setPaletteState(state: PaletteState): void {
    if (samePaletteState(this.lastPaletteState, state)) return;
    this.lastPaletteState = state;
    void vscode.commands.executeCommand('setContext', STATE_KEYS.noParent, state.noParent);
    void vscode.commands.executeCommand('setContext', STATE_KEYS.noEnclave, state.noEnclave);
    void vscode.commands.executeCommand('setContext', STATE_KEYS.noAttestable, state.noAttestable);
  }

  /** Switch Parent Instance...: a quick pick of every parent, the current one marked. */
  async pick(): Promise<ParentInfo | undefined> {
    const [parents, current] = await Promise.all([reachableParents(this.backend), this.get()]);
    const items = await Promise.all(
      parents.map(async (parent) => {
        const running = await this.backend.describeEnclaves(parent.id).then(
          (list) => list.filter((e) => e.State === 'RUNNING').length,
          () => undefined,
        );
        return {
          label: `$(vm) ${parent.name}`,
          description: parent.id === current?.id ? vscode.l10n.t('{0} · current', parent.id) : parent.id,
          detail:
            running === undefined
              ? BACKEND_KINDS[parent.backend].where
              : running === 1
                ? vscode.l10n.t('{0} · 1 enclave running', BACKEND_KINDS[parent.backend].where)
                : vscode.l10n.t('{0} · {1} enclaves running', BACKEND_KINDS[parent.backend].where, running),
          parent,
        };
      }),
    );
    const picked = await vscode.window.showQuickPick(items, {
      title: vscode.l10n.t('Switch Parent Instance'),
      placeHolder: vscode.l10n.t('The parent instance Run Enclave… launches on'),
    });
    if (!picked) return undefined;
    await this.set(picked.parent.id);
    return picked.parent;
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
