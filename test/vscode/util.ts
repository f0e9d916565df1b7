import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

/**
 * Polls `probe` until it returns a truthy value: waits for a state, not for a time. `ms` is only the
 * deadline after which it gives up naming `what`; generous, for a busy 2-core machine, and below the
 * tests' own timeout (test/vscode/index.ts) so the failure says what never happened.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  ms = 120_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Runs a command that fails and returns the failure notices it showed, caught instead of shown;
 * checks that it returned nothing (commands show failures, never throw).
 */
export async function failuresOf(run: () => Thenable<unknown>): Promise<string[]> {
  const window = vscode.window as { showErrorMessage: (message: string) => Thenable<string | undefined> };
  const original = window.showErrorMessage;
  const shown: string[] = [];
  window.showErrorMessage = async (message: string) => {
    shown.push(message);
    return undefined;
  };
  try {
    assert.equal(await run(), undefined, 'the command returned nothing: the failure is shown, not thrown');
  } finally {
    window.showErrorMessage = original;
  }
  return shown;
}

/** The scheme of the extension's read-only describe documents (src/extension/commands/describeDocuments.ts). */
export const DESCRIBE_SCHEME = 'nitro-enclaves-describe';

/**
 * Checks that describe output is a read-only virtual JSON document named `fileName` (not an unsaved
 * "Untitled" file), closes its tab and waits until it is gone: closing never asks to save.
 */
export async function checkDescribeDocument(doc: vscode.TextDocument, fileName: string): Promise<unknown> {
  assert.equal(doc.uri.scheme, DESCRIBE_SCHEME);
  assert.equal(doc.uri.path, `/${fileName}`);
  assert.equal(doc.isUntitled, false);
  assert.equal(doc.isDirty, false, 'nothing to save');
  assert.equal(doc.languageId, 'json');
  const json: unknown = JSON.parse(doc.getText());
  const key = doc.uri.toString();
  const tabOf = () =>
    vscode.window.tabGroups.all
      .flatMap((g) => g.tabs)
      .find((t) => t.input instanceof vscode.TabInputText && t.input.uri.toString() === key);
  const tab = await eventually(`the tab of ${fileName}`, tabOf);
  assert.equal(tab.label, fileName);
  assert.equal(tab.isDirty, false);
  await vscode.window.tabGroups.close(tab);
  await eventually(`the tab of ${fileName} to close`, () => tabOf() === undefined);
  return json;
}
