// The Enclave Image Viewer: a read-only custom editor for .eif files. The host measures the file
// with the engine and sends the webview a plain view model; the webview only displays it and asks
// for a few actions (copy, describe, reload). Each open editor is one EifViewerSession.
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CancelledError, EifFormatError } from '../../engine';
import { inspectEif } from '../../engine/node';
import {
  EIF_VIEWER_SCRIPT,
  parseWebviewMessage,
  type EifViewError,
  type EifViewModel,
  type EifViewerHostMessage,
  type EifViewerWebviewMessage,
  type ErrorMessage,
  type InitMessage,
} from '../../shared/eifViewer';
import type { DescribeDocuments } from '../commands/describeDocuments';
import type { Ctx } from '../ctx';
import { EIF_VIEWER } from '../ids';
import { webviewHtml, webviewOptions } from '../webviews/html';
import { toEifViewModel, toViewError } from './eifViewModel';

/** Files larger than this also show a cancellable notification while they are measured. */
export const LARGE_FILE_BYTES = 64 * 1024 * 1024;
/** At most one progress message per this many milliseconds. */
const PROGRESS_INTERVAL_MS = 100;
/** File-system events within this window cause one re-inspection (a save often fires several). */
const CHANGE_DEBOUNCE_MS = 300;

const MiB = 1024 * 1024;
const mib = (n: number) => `${(n / MiB).toFixed(n < 10 * MiB ? 1 : 0)} MiB`;

/** The document of a read-only editor: just the URI. Opening it reads nothing. */
export class EifDocument implements vscode.CustomDocument {
  constructor(readonly uri: vscode.Uri) {}

  dispose(): void {
    // Nothing held: each editor session reads the file itself.
  }
}

/** What an editor last showed: a view model or an error. */
type Shown = InitMessage | ErrorMessage;

/** One open viewer: its webview, the file watcher, and the measuring run in progress. */
class EifViewerSession implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly fileName: string;
  /** Cancels the run in progress (on reload, file change, panel close or the notification's Cancel). */
  private running: vscode.CancellationTokenSource | undefined;
  /** Increases with every run; a run whose number is no longer current drops its result. */
  private generation = 0;
  private started = false;
  private disposed = false;
  private shown: Shown | undefined;
  private lastProgress: { done: number; total: number } | undefined;
  private changeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly ctx: Ctx,
    private readonly uri: vscode.Uri,
    private readonly panel: vscode.WebviewPanel,
    private readonly onShown: (shown: Shown) => void,
    private readonly describeDocuments: DescribeDocuments,
  ) {
    this.fileName = path.posix.basename(uri.path);
    const extensionUri = ctx.extension.extensionUri;
    panel.webview.options = webviewOptions(extensionUri);
    panel.webview.html = webviewHtml({
      webview: panel.webview,
      extensionUri,
      script: EIF_VIEWER_SCRIPT,
      styles: ['eifViewer.css'],
      title: this.fileName,
    });
    this.disposables.push(panel.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(m)));
    if (uri.scheme === 'file') {
      // Watch the file's folder (a pattern of the file name itself would need glob escaping) and
      // keep only this file's events.
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(path.dirname(uri.fsPath)), '*'));
      const onEvent = (changed: vscode.Uri) => {
        if (changed.fsPath === uri.fsPath) this.scheduleReinspect();
      };
      this.disposables.push(watcher, watcher.onDidChange(onEvent), watcher.onDidCreate(onEvent), watcher.onDidDelete(onEvent));
    }
  }

  private post(message: EifViewerHostMessage): void {
    if (this.disposed) return;
    // A hidden webview drops messages; it sends `ready` again when shown and gets `shown` then.
    void this.panel.webview.postMessage(message);
  }

  private show(message: Shown): void {
    this.shown = message;
    this.lastProgress = undefined;
    this.onShown(message);
    this.post(message);
  }

  /** The view model on screen, if the editor shows one. */
  get model(): EifViewModel | undefined {
    return this.shown?.type === 'init' ? this.shown.body.model : undefined;
  }

  private async onMessage(raw: unknown): Promise<void> {
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      this.ctx.log.warn(`Enclave Image Viewer (${this.fileName}): ignored a message from the webview: ${parsed.reason}`);
      return;
    }
    try {
      await this.handle(parsed.message);
    } catch (e) {
      this.ctx.log.error(`Enclave Image Viewer (${this.fileName}): ${parsed.message.type} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      void vscode.window.showErrorMessage(`Nitro Enclaves: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private async handle(message: EifViewerWebviewMessage): Promise<void> {
    switch (message.type) {
      case 'ready':
        // The webview (re)loaded: first open, or shown again after being hidden.
        if (this.shown) this.post(this.shown);
        else if (!this.started) void this.inspect();
        if (this.lastProgress) this.post({ type: 'progress', body: this.lastProgress });
        return;
      case 'copy':
        await vscode.env.clipboard.writeText(message.body.text);
        vscode.window.setStatusBarMessage(`Copied ${message.body.what}`, 3000);
        return;
      case 'describe':
        await this.describe();
        return;
      case 'reload':
        void this.inspect();
        return;
    }
  }

  /** Opens describe-eif's JSON in a read-only editor beside the viewer (the Describe button). */
  async describe(): Promise<vscode.TextDocument | undefined> {
    const model = this.model;
    if (!model) {
      void vscode.window.showInformationMessage(`${this.fileName} has not been measured, so there is nothing to describe.`);
      return undefined;
    }
    if (!model.describe.ok) {
      void vscode.window.showErrorMessage(`nitro-cli describe-eif fails on ${this.fileName}: ${model.describe.message}`);
      return undefined;
    }
    return this.describeDocuments.show(`${this.fileName}.describe.json`, this.uri.toString(), model.describe.json, { viewColumn: vscode.ViewColumn.Beside });
  }

  private scheduleReinspect(): void {
    if (!this.started || this.disposed) return;
    if (this.changeTimer !== undefined) clearTimeout(this.changeTimer);
    this.changeTimer = setTimeout(() => {
      this.changeTimer = undefined;
      this.ctx.log.info(`Enclave Image Viewer: ${this.fileName} changed on disk; measuring it again`);
      void this.inspect();
    }, CHANGE_DEBOUNCE_MS);
  }

  /** Measures the file (again) and shows the result. A newer run supersedes an older one. */
  private async inspect(): Promise<void> {
    this.started = true;
    this.running?.cancel();
    const generation = ++this.generation;
    const current = () => !this.disposed && generation === this.generation;

    if (this.uri.scheme !== 'file') {
      this.show({
        type: 'error',
        body: {
          fileName: this.fileName,
          kind: 'unsupported',
          message: `Only local files are supported: this image is a "${this.uri.scheme}" resource (${this.uri.toString(true)}). Copy it to a local folder to view it.`,
        },
      });
      return;
    }
    const cts = new vscode.CancellationTokenSource();
    this.running = cts;
    const filePath = this.uri.fsPath;
    const at = new Date();
    try {
      const size = (await stat(filePath)).size;
      if (!current()) return;
      const measure = (report?: (done: number, total: number) => void) => {
        let last = 0;
        this.lastProgress = { done: 0, total: size };
        this.post({ type: 'progress', body: this.lastProgress });
        return inspectEif(filePath, {
          token: cts.token,
          at,
          onProgress: (done, total) => {
            const now = Date.now();
            if (done < total && now - last < PROGRESS_INTERVAL_MS) return;
            last = now;
            if (!current()) return;
            this.lastProgress = { done, total };
            this.post({ type: 'progress', body: this.lastProgress });
            report?.(done, total);
          },
        });
      };
      const inspection =
        size > LARGE_FILE_BYTES
          ? await vscode.window.withProgress(
              { location: vscode.ProgressLocation.Notification, title: `Measuring ${this.fileName}`, cancellable: true },
              async (progress, token) => {
                const sub = token.onCancellationRequested(() => cts.cancel());
                let reported = 0;
                try {
                  return await measure((done, total) => {
                    const percent = (done / total) * 100;
                    progress.report({ increment: percent - reported, message: `${mib(done)} of ${mib(total)}` });
                    reported = percent;
                  });
                } finally {
                  sub.dispose();
                }
              },
            )
          : await measure();
      if (!current()) return;
      this.show({ type: 'init', body: { model: toEifViewModel(inspection, { path: filePath, inspectedAt: at }) } });
    } catch (e) {
      if (!current()) return; // superseded or closed: its cancellation is not news
      const error: EifViewError = toViewError(filePath, e);
      // A malformed, vanished or cancelled file is the file's story, not a fault of the extension.
      const expected = e instanceof EifFormatError || e instanceof CancelledError || (e as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
      if (expected) {
        this.ctx.log.warn(`Enclave Image Viewer: ${filePath}: ${error.message}${error.code ? ` (rule ${error.code}, at byte ${error.offset})` : ''}`);
      } else {
        this.ctx.log.error(`Enclave Image Viewer: ${filePath}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
      this.show({ type: 'error', body: error });
    } finally {
      if (this.running === cts) this.running = undefined;
      cts.dispose();
    }
  }

  dispose(): void {
    this.disposed = true;
    if (this.changeTimer !== undefined) clearTimeout(this.changeTimer);
    this.running?.cancel();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

/**
 * The provider behind `nitroEnclaves.eifViewer`. Besides VS Code's interface it answers what each
 * file's editor shows (`modelFor`, `errorFor`), which the extension-host tests read.
 */
export class EifEditorProvider implements vscode.CustomReadonlyEditorProvider<EifDocument> {
  /** What the editors of each URI last showed, while at least one of them is open. */
  private readonly shown = new Map<string, Shown>();
  private readonly openEditors = new Map<string, number>();
  private readonly sessions = new Map<string, Set<EifViewerSession>>();

  constructor(
    private readonly ctx: Ctx,
    private readonly describeDocuments: DescribeDocuments,
  ) {}

  openCustomDocument(uri: vscode.Uri): EifDocument {
    return new EifDocument(uri);
  }

  resolveCustomEditor(document: EifDocument, panel: vscode.WebviewPanel): void {
    const key = document.uri.toString();
    this.openEditors.set(key, (this.openEditors.get(key) ?? 0) + 1);
    const session = new EifViewerSession(this.ctx, document.uri, panel, (shown) => this.shown.set(key, shown), this.describeDocuments);
    this.sessions.set(key, (this.sessions.get(key) ?? new Set()).add(session));
    const closed = panel.onDidDispose(() => {
      closed.dispose();
      session.dispose();
      this.sessions.get(key)?.delete(session);
      if (this.sessions.get(key)?.size === 0) this.sessions.delete(key);
      const left = (this.openEditors.get(key) ?? 1) - 1;
      if (left > 0) {
        this.openEditors.set(key, left);
      } else {
        this.openEditors.delete(key);
        this.shown.delete(key);
      }
    });
  }

  /** The view model the editor of `uri` shows, if it is open and shows one. */
  modelFor(uri: vscode.Uri): EifViewModel | undefined {
    const shown = this.shown.get(uri.toString());
    return shown?.type === 'init' ? shown.body.model : undefined;
  }

  /** What the Describe button of an open editor of `uri` does; the document it opens. */
  async describe(uri: vscode.Uri): Promise<vscode.TextDocument | undefined> {
    const [session] = this.sessions.get(uri.toString()) ?? [];
    return session?.describe();
  }

  /** The error the editor of `uri` shows instead of a model, if any. */
  errorFor(uri: vscode.Uri): EifViewError | undefined {
    const shown = this.shown.get(uri.toString());
    return shown?.type === 'error' ? shown.body : undefined;
  }
}

/** Registers the Enclave Image Viewer and returns its provider (exposed to the extension-host tests). */
export function registerEifViewer(ctx: Ctx, describeDocuments: DescribeDocuments): EifEditorProvider {
  const provider = new EifEditorProvider(ctx, describeDocuments);
  ctx.push(
    vscode.window.registerCustomEditorProvider(EIF_VIEWER, provider, {
      supportsMultipleEditorsPerDocument: true,
      webviewOptions: { retainContextWhenHidden: false },
    }),
  );
  return provider;
}
