import * as vscode from 'vscode';
import { CancelledError } from '../../engine';
import { inspectEif, type EifInspection } from '../../engine/node';

/** Files at least this large are measured behind a cancellable progress notification. */
export const PROGRESS_THRESHOLD = 64 * 1024 * 1024;

interface Entry {
  readonly mtime: number;
  readonly size: number;
  readonly result: Promise<EifInspection>;
  settled?: { ok: true; value: EifInspection } | { ok: false; error: unknown };
}

/**
 * Measures .eif files for the tree and the commands, once per file version (mtime and size): a file
 * is read again only after it changed. Large files show a cancellable progress notification.
 */
export class EifService implements vscode.Disposable {
  private readonly cache = new Map<string, Entry>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  /** Fires when a file's cached result is dropped because the file changed. */
  readonly onDidInvalidate = this.changed.event;

  constructor(private readonly log: vscode.LogOutputChannel) {}

  /** The result if this file version was measured already (no I/O). */
  peek(uri: vscode.Uri): Entry['settled'] {
    return this.cache.get(uri.toString())?.settled;
  }

  async inspect(uri: vscode.Uri): Promise<EifInspection> {
    if (uri.scheme !== 'file') throw new Error(`${uri.toString()}: only files on this machine can be read`);
    const stat = await vscode.workspace.fs.stat(uri);
    const key = uri.toString();
    const hit = this.cache.get(key);
    if (hit && hit.mtime === stat.mtime && hit.size === stat.size && !(hit.settled && !hit.settled.ok && hit.settled.error instanceof CancelledError)) {
      return hit.result;
    }
    const result = stat.size >= PROGRESS_THRESHOLD ? this.withProgress(uri, stat.size) : inspectEif(uri.fsPath);
    const entry: Entry = { mtime: stat.mtime, size: stat.size, result };
    this.cache.set(key, entry);
    result.then(
      (value) => (entry.settled = { ok: true, value }),
      (error: unknown) => {
        entry.settled = { ok: false, error };
        if (!(error instanceof CancelledError)) this.log.warn(`${uri.fsPath}: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
    return result;
  }

  private withProgress(uri: vscode.Uri, size: number): Promise<EifInspection> {
    const name = uri.path.slice(uri.path.lastIndexOf('/') + 1);
    return Promise.resolve(
      vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Measuring ${name} (${Math.round(size / 1048576)} MiB)`, cancellable: true },
        (progress, token) => {
          let reported = 0;
          return inspectEif(uri.fsPath, {
            token,
            onProgress: (done, total) => {
              const pct = Math.floor((done / total) * 100);
              if (pct > reported) {
                progress.report({ increment: pct - reported, message: `${pct}%` });
                reported = pct;
              }
            },
          });
        },
      ),
    );
  }

  invalidate(uri: vscode.Uri): void {
    if (this.cache.delete(uri.toString())) this.changed.fire(uri);
  }

  dispose(): void {
    this.cache.clear();
    this.changed.dispose();
  }
}
