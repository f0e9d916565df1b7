// Drives the extension's multi-step quick inputs in the extension-host tests: replaces
// vscode.window.createInputBox and createQuickPick with scripted stand-ins for one call, and hands
// each step, as it is shown, to the test, which answers it as a user would (types, accepts, picks,
// presses Back or Escape) and reads what the step showed (title, counter, placeholder, buttons,
// validation message as typed).
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

/** One step shown: an input box or a quick pick, as the user sees and answers it. */
export class ShownStep {
  title: string | undefined;
  step: number | undefined;
  totalSteps: number | undefined;
  placeholder: string | undefined;
  prompt: string | undefined;
  value = '';
  buttons: readonly vscode.QuickInputButton[] = [];
  validationMessage: string | vscode.InputBoxValidationMessage | undefined;
  items: readonly vscode.QuickPickItem[] = [];
  activeItems: readonly vscode.QuickPickItem[] = [];
  selectedItems: readonly vscode.QuickPickItem[] = [];
  ignoreFocusOut = false;
  enabled = true;
  busy = false;
  matchOnDescription = false;
  matchOnDetail = false;
  canSelectMany = false;
  password = false;
  keepScrollPosition = false;
  sortByLabel = true;
  valueSelection: readonly [number, number] | undefined;
  disposed = false;
  private readonly changedValue = new vscode.EventEmitter<string>();
  private readonly accepted = new vscode.EventEmitter<void>();
  private readonly triggered = new vscode.EventEmitter<vscode.QuickInputButton>();
  private readonly hidden = new vscode.EventEmitter<void>();
  private readonly changedActive = new vscode.EventEmitter<readonly vscode.QuickPickItem[]>();
  private readonly changedSelection = new vscode.EventEmitter<readonly vscode.QuickPickItem[]>();
  readonly onDidChangeValue = this.changedValue.event;
  readonly onDidAccept = this.accepted.event;
  readonly onDidTriggerButton = this.triggered.event;
  readonly onDidHide = this.hidden.event;
  readonly onDidChangeActive = this.changedActive.event;
  readonly onDidChangeSelection = this.changedSelection.event;
  readonly onDidTriggerItemButton = new vscode.EventEmitter<never>().event;

  constructor(
    readonly kind: 'input' | 'pick',
    private readonly onShow: (step: ShownStep) => void,
  ) {}

  show(): void {
    // Answered once the caller has finished setting the step up (as a user answers after it appears).
    setImmediate(() => this.onShow(this));
  }

  hide(): void {
    this.hidden.fire();
  }

  dispose(): void {
    this.disposed = true;
  }

  /** The validation message as text. */
  get validationText(): string | undefined {
    const v = this.validationMessage;
    return typeof v === 'string' ? v || undefined : v?.message;
  }

  /** Types a value (replacing what is there), as the user does: the step checks it as typed. */
  type(text: string): this {
    this.value = text;
    this.changedValue.fire(text);
    return this;
  }

  /** Presses Enter, expecting the step to take the value (it closes); fails naming the refusal otherwise. */
  accept(): void {
    assert.ok(this.tryAccept(), `step ${this.step} refused ${JSON.stringify(this.value)}: ${this.validationText}`);
  }

  /** Presses Enter; true when the step took the value (it closed), false when it refused it and stays. */
  tryAccept(): boolean {
    this.accepted.fire();
    return this.disposed;
  }

  /** Picks the item whose label matches, and presses Enter. */
  pick(label: RegExp): void {
    const item = this.items.find((i) => label.test(i.label));
    assert.ok(item, `no item ${label} among ${this.items.map((i) => i.label).join(', ')}`);
    this.activeItems = [item];
    this.changedActive.fire(this.activeItems);
    this.selectedItems = [item];
    this.changedSelection.fire(this.selectedItems);
    this.accepted.fire();
  }

  /** Presses the Back button (it must be there). */
  back(): void {
    const back = this.buttons.find((b) => b === vscode.QuickInputButtons.Back);
    assert.ok(back, `step ${this.step} has a Back button`);
    this.triggered.fire(back);
  }

  /** Presses Escape. */
  escape(): void {
    this.hide();
  }

  /** What the step showed, for assertions after the flow. */
  snapshot(): StepSnapshot {
    return {
      kind: this.kind,
      title: this.title,
      step: this.step,
      totalSteps: this.totalSteps,
      placeholder: this.placeholder,
      prompt: this.prompt,
      value: this.value,
      back: this.buttons.includes(vscode.QuickInputButtons.Back),
      items: this.items.map((i) => ({ label: i.label, description: i.description, detail: i.detail })),
    };
  }
}

export interface StepSnapshot {
  readonly kind: 'input' | 'pick';
  readonly title: string | undefined;
  readonly step: number | undefined;
  readonly totalSteps: number | undefined;
  readonly placeholder: string | undefined;
  readonly prompt: string | undefined;
  readonly value: string;
  readonly back: boolean;
  readonly items: readonly { label: string; description?: string | undefined; detail?: string | undefined }[];
}

/**
 * Runs `run` with scripted quick inputs: `answer` is called with each step as it is shown (and the
 * number of steps shown before it) and answers it. Resolves to what `run` returned and every step shown.
 */
export async function withQuickInput<T>(
  answer: (step: ShownStep, index: number) => void | Promise<void>,
  run: () => Thenable<T>,
): Promise<{ result: T; steps: StepSnapshot[] }> {
  const window = vscode.window as {
    createInputBox: typeof vscode.window.createInputBox;
    createQuickPick: typeof vscode.window.createQuickPick;
  };
  const inputBox = window.createInputBox;
  const quickPick = window.createQuickPick;
  const steps: StepSnapshot[] = [];
  let failure: Error | undefined;
  const onShow = (step: ShownStep) => {
    const index = steps.length;
    steps.push(step.snapshot());
    Promise.resolve()
      .then(() => answer(step, index))
      .catch((e: unknown) => {
        failure ??= e instanceof Error ? e : new Error(String(e));
        step.escape();
      });
  };
  const stand = (kind: 'input' | 'pick'): unknown => new ShownStep(kind, onShow);
  window.createInputBox = () => stand('input') as vscode.InputBox;
  window.createQuickPick = (() => stand('pick')) as typeof vscode.window.createQuickPick;
  try {
    const result = await run();
    if (failure) throw failure;
    return { result, steps };
  } finally {
    window.createInputBox = inputBox;
    window.createQuickPick = quickPick;
  }
}
