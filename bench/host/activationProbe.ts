// Loaded by the extension host of one benchmark window (extensionTestsPath), with the production
// bundle as the extension under development and demo/ as the workspace: opens the Nitro Enclaves
// container, waits until both views have their first children, and prints the extension's own
// start-up figures on one line (activation.bench.ts reads it from the extension host's console).
import * as vscode from 'vscode';
import type { NitroEnclavesApi } from '../../src/extension/extension';
import { ACTIVATION_MARKER } from '../harness';

const EXTENSION_ID = 'nitroenclaves.nitro-enclaves';

export async function run(): Promise<void> {
  const extension = vscode.extensions.getExtension<NitroEnclavesApi>(EXTENSION_ID);
  if (!extension) throw new Error(`${EXTENSION_ID} is not loaded in this window`);
  const activeBeforeOpen = extension.isActive;
  const openedAt = performance.now();
  await vscode.commands.executeCommand('workbench.view.extension.nitroEnclaves');
  const api = await extension.activate();
  // The benchmark's own deadline: a window whose views never fill is a failed run, not a slow one.
  const deadline = Date.now() + 120_000;
  const { firstChildren } = api.startup;
  while (!(firstChildren.parents && firstChildren.images)) {
    if (Date.now() > deadline) throw new Error(`the views did not fill: ${JSON.stringify(firstChildren)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  console.log(ACTIVATION_MARKER + JSON.stringify({ pid: process.pid, activeBeforeOpen, openedAt, ...api.startup }));
}
