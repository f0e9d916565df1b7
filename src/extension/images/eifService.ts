import * as vscode from 'vscode';
import { CancelledError, type EifInspection } from '../../engine';
import { inspectEif } from '../../engine/node';

/** Files at least this large are measured behind a cancellable progress notification. */
export const PROGRESS_THRESHOLD = 64 * 1024 * 1024;

type Progress = (done: number, total: number) => void;

interface Entry {
  readonly mtime: number;
  readonly size: number;
  /** When the measuring started: the time the certificate's validity was checked at. */
  readonly at: Date;
  readonly result: Promise<EifInspection>;
  settled?: { ok: true; value: EifInspection } | { ok: false; error: unknown };
  /** How far the measuring is, while it runs. */
  progress?: { readonly done: number; readonly total: number };
  /** Who wants to hear how far it is (the viewers of the file), while it runs. */
  readonly listeners: Set<Progress>;
}

export interface InspectRequest {
  /** Told how far the measuring is: now, when it already runs, and as it goes on. */
  readonly onProgress?: Progress;
}

/**
 * Measures .eif files for every face (the tree, the commands, the viewers), once per file version
 * (mtime and size): a file is read again only after it changed, and a viewer opened from the tree
 * shares the tree's measuring. Large files show one cancellable progress notification.
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

  /** The inspection of the file as it is now, and when it was measured (a cached one is shared). */
  async inspectAt(
    uri: vscode.Uri,
    request: InspectRequest = {},
  ): Promise<{ readonly inspection: EifInspection; readonly at: Date }> {
    const entry = await this.entry(uri);
    const { onProgress } = request;
    if (onProgress && !entry.settled) {
      entry.listeners.add(onProgress);
      if (entry.progress) onProgress(entry.progress.done, entry.progress.total);
    }
    try {
      return { inspection: await entry.result, at: entry.at };
    } finally {
      if (onProgress) entry.listeners.delete(onProgress);
    }
  }

  async inspect(uri: vscode.Uri, request: InspectRequest = {}): Promise<EifInspection> {
    return (await this.inspectAt(uri, request)).inspection;
  }

  private async entry(uri: vscode.Uri): Promise<Entry> {
    if (uri.scheme !== 'file')
      throw new Error(vscode.l10n.t('{0}: only files on this machine can be read', uri.toString()));
    const stat = await vscode.workspace.fs.stat(uri);
    const key = uri.toString();
    const hit = this.cache.get(key);
    if (
      hit &&
      hit.mtime === stat.mtime &&
      hit.size === stat.size &&
      !(hit.settled && !hit.settled.ok && hit.settled.error instanceof CancelledError)
    ) {
      return hit;
    }
    const listeners = new Set<Progress>();
    const at = new Date();
    // eslint-disable-next-line prefer-const -- read by onProgress before its assignment: `undefined`, not a TDZ error
    let entry: Entry | undefined;
    const onProgress: Progress = (done, total) => {
      if (entry) entry.progress = { done, total };
      for (const l of listeners) l(done, total);
    };
    const result =
      stat.size >= PROGRESS_THRESHOLD
        ? this.withProgress(uri, stat.size, at, onProgress)
        : inspectEif(uri.fsPath, { at, onProgress });
    entry = { mtime: stat.mtime, size: stat.size, at, result, listeners };
    const settledEntry = entry;
    this.cache.set(key, entry);
    result.then(
      (value) => (settledEntry.settled = { ok: true, value }),
      (error: unknown) => {
        settledEntry.settled = { ok: false, error };
        if (!(error instanceof CancelledError))
          this.log.warn(`${uri.fsPath}: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
    return entry;
  }

  private withProgress(uri: vscode.Uri, size: number, at: Date, onProgress: Progress): Promise<EifInspection> {
    const name = uri.path.slice(uri.path.lastIndexOf('/') + 1);
    return Promise.resolve(
      vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: vscode.l10n.t('Measuring {0} ({1} MiB)', name, Math.round(size / 1048576)),
          cancellable: true,
        },
        (progress, token) => {
          let reported = 0;
          return inspectEif(uri.fsPath, {
            token,
            at,
            onProgress: (done, total) => {
              onProgress(done, total);
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

  /**
   * Drops the cached inspection only when the file is no longer the one measured (another mtime or
   * size, or gone); true when it did, or when nothing is cached (so the caller measures it). A file
   * watcher's event can come late, after the new file was measured already: that must not measure
   * it again.
   */
  async invalidateIfChanged(uri: vscode.Uri): Promise<boolean> {
    const hit = this.cache.get(uri.toString());
    if (!hit) return true;
    let stat: vscode.FileStat | undefined;
    try {
      stat = await vscode.workspace.fs.stat(uri);
    } catch {
      stat = undefined;
    }
    if (stat && stat.mtime === hit.mtime && stat.size === hit.size) return false;
    this.invalidate(uri);
    return true;
  }

  dispose(): void {
    this.cache.clear();
    this.changed.dispose();
  }
}
