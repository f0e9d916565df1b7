import * as vscode from 'vscode';
import { LOG_CHANNEL } from './ids';

/**
 * What every part of the extension is handed explicitly (no module-level singletons): the log and
 * the extension's lifetime, into which every registration goes.
 */
export class Ctx implements vscode.Disposable {
  readonly log: vscode.LogOutputChannel;
  private readonly cleanup: vscode.Disposable[] = [];

  constructor(readonly extension: vscode.ExtensionContext) {
    this.log = vscode.window.createOutputChannel(LOG_CHANNEL, { log: true });
    this.cleanup.push(this.log);
  }

  /** Registers disposables that live as long as the extension. */
  push(...items: vscode.Disposable[]): void {
    this.cleanup.push(...items);
  }

  /** Registers one disposable and hands it back. */
  own<T extends vscode.Disposable>(item: T): T {
    this.cleanup.push(item);
    return item;
  }

  dispose(): void {
    for (const d of this.cleanup.splice(0).reverse()) {
      try {
        d.dispose();
      } catch (e) {
        console.error('Nitro Enclaves: dispose failed', e);
      }
    }
  }
}
