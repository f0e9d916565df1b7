// One quick input shown as a sequence of steps (the way VS Code's multi-step input works): each
// step is an input box or a quick pick with the flow's title, its `step/totalSteps` counter and a
// placeholder; every step after the first has a Back button; an input box checks its value as it
// is typed and refuses Enter while the check names an error; Escape (hiding the input) cancels.
import * as vscode from 'vscode';

/** What a step answers: a value, Back (to the previous step), or undefined (cancelled). */
export const BACK = Symbol('back');
export type StepAnswer<T> = T | typeof BACK | undefined;

export type Validation = string | vscode.InputBoxValidationMessage | undefined;

interface StepBase {
  readonly title: string;
  readonly step: number;
  readonly totalSteps: number;
  readonly placeholder: string;
}

export interface InputStep extends StepBase {
  readonly prompt: string;
  readonly value: string;
  /** The check of a value (as typed, and again on Enter): an error message refuses it. */
  readonly validate: (text: string) => Validation;
}

export interface PickStep<T extends vscode.QuickPickItem> extends StepBase {
  readonly items: readonly T[];
  /** The item selected when the step opens (else the first). */
  readonly active?: T;
}

function isError(v: Validation): boolean {
  if (v === undefined || v === '') return false;
  return typeof v === 'string' || v.severity === vscode.InputBoxValidationSeverity.Error;
}

function prepare(input: vscode.QuickInput & { placeholder: string | undefined }, s: StepBase): void {
  input.title = s.title;
  input.step = s.step;
  input.totalSteps = s.totalSteps;
  input.placeholder = s.placeholder;
  input.ignoreFocusOut = true;
}

/** Shows an input step; resolves to its accepted value, BACK, or undefined when dismissed. */
export function askInput(s: InputStep): Promise<StepAnswer<string>> {
  const box = vscode.window.createInputBox();
  prepare(box, s);
  box.prompt = s.prompt;
  box.value = s.value;
  box.buttons = s.step > 1 ? [vscode.QuickInputButtons.Back] : [];
  box.validationMessage = s.validate(s.value);
  return new Promise((resolve) => {
    let settled = false;
    const subs: vscode.Disposable[] = [];
    const done = (answer: StepAnswer<string>) => {
      if (settled) return;
      settled = true;
      for (const d of subs) d.dispose();
      box.dispose();
      resolve(answer);
    };
    subs.push(
      box.onDidChangeValue((text) => (box.validationMessage = s.validate(text))),
      box.onDidAccept(() => {
        const v = s.validate(box.value);
        box.validationMessage = v;
        if (!isError(v)) done(box.value);
      }),
      box.onDidTriggerButton((b) => b === vscode.QuickInputButtons.Back && done(BACK)),
      box.onDidHide(() => done(undefined)),
    );
    box.show();
  });
}

/** Shows a pick step; resolves to the item accepted, BACK, or undefined when dismissed. */
export function askPick<T extends vscode.QuickPickItem>(s: PickStep<T>): Promise<StepAnswer<T>> {
  const pick = vscode.window.createQuickPick<T>();
  prepare(pick, s);
  pick.items = s.items;
  pick.matchOnDescription = true;
  pick.matchOnDetail = true;
  if (s.active) pick.activeItems = [s.active];
  pick.buttons = s.step > 1 ? [vscode.QuickInputButtons.Back] : [];
  return new Promise((resolve) => {
    let settled = false;
    const subs: vscode.Disposable[] = [];
    const done = (answer: StepAnswer<T>) => {
      if (settled) return;
      settled = true;
      for (const d of subs) d.dispose();
      pick.dispose();
      resolve(answer);
    };
    subs.push(
      pick.onDidAccept(() => {
        const item = pick.selectedItems[0] ?? pick.activeItems[0];
        if (item) done(item);
      }),
      pick.onDidTriggerButton((b) => b === vscode.QuickInputButtons.Back && done(BACK)),
      pick.onDidHide(() => done(undefined)),
    );
    pick.show();
  });
}
