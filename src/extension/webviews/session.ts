// The base of every webview session (the Enclave Image Viewer's and the Attestation Document
// Viewer's): the page, the one message handler (src/shared/messages.ts) with the webview's `ready`
// answered by replaying what was shown, the file watcher with its debounce, and the generation
// counter that lets a newer run supersede an older one.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { createMessageHandler, type HandleResult, type MessageHandlers, type Parsed } from '../../shared/messages';
import { READY, type HostEnvelope } from '../../shared/protocol';
import type { Ctx } from '../ctx';
import { showFailure } from '../errors/explain';
import { webviewHtml, webviewOptions } from './html';

/** File-system events within this window cause one refresh (a save often fires several). */
export const CHANGE_DEBOUNCE_MS = 300;

export interface SessionSetup<M extends { readonly type: string }> {
  readonly ctx: Ctx;
  readonly panel: vscode.WebviewPanel;
  /** Names the session in the log: `Enclave Image Viewer (hello.eif)`. */
  readonly name: string;
  /** The page: bundle dist/webview/<script>.js, stylesheets in media/, title. */
  readonly page: {
    readonly script: string;
    readonly styles: readonly string[];
    readonly title: string;
    /** The page's words in the user's language (WebviewPage.words). */
    readonly words?: Readonly<Record<string, string>>;
  };
  /** The protocol's check of an untrusted message from the webview. */
  readonly parse: (value: unknown) => Parsed<M>;
  /** A local file whose changes on disk call `fileChanged` (debounced). */
  readonly watch?: vscode.Uri;
}

type Ready = { readonly type: typeof READY };

/**
 * One open webview. `H` is what the host sends, `S` the messages that make up what is on screen
 * (sent again whenever the webview says `ready`), `M` what the webview sends.
 */
export abstract class WebviewSession<H extends HostEnvelope, S extends H, M extends { readonly type: string }>
  implements vscode.Disposable
{
  protected readonly disposables: vscode.Disposable[] = [];
  protected readonly ctx: Ctx;
  readonly panel: vscode.WebviewPanel;
  /** What the webview shows, if anything yet. */
  protected shown: S | undefined;
  private readonly name: string;
  private readonly parse: (value: unknown) => Parsed<M>;
  private handle: ((value: unknown) => Promise<HandleResult>) | undefined;
  private generation = 0;
  private changeTimer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;
  private readyCount = 0;

  constructor(setup: SessionSetup<M>) {
    this.ctx = setup.ctx;
    this.panel = setup.panel;
    this.name = setup.name;
    this.parse = setup.parse;
    const extensionUri = setup.ctx.extension.extensionUri;
    const webview = setup.panel.webview;
    webview.options = webviewOptions(extensionUri);
    webview.html = webviewHtml({ webview, extensionUri, lang: vscode.env.language, ...setup.page });
    this.disposables.push(webview.onDidReceiveMessage((m: unknown) => void this.receive(m)));
    const watched = setup.watch;
    if (watched?.scheme === 'file') {
      // Watch the file's folder (a pattern of the file name itself would need glob escaping) and
      // keep only this file's events.
      const watcher = vscode.workspace.createFileSystemWatcher(
        new vscode.RelativePattern(vscode.Uri.file(path.dirname(watched.fsPath)), '*'),
      );
      const onEvent = (changed: vscode.Uri) => {
        if (changed.fsPath === watched.fsPath) this.scheduleFileChanged();
      };
      this.disposables.push(
        watcher,
        watcher.onDidChange(onEvent),
        watcher.onDidCreate(onEvent),
        watcher.onDidDelete(onEvent),
      );
    }
  }

  /** What the session does with each message of the webview but `ready` (which the base answers). */
  protected abstract handlers(): MessageHandlers<Exclude<M, Ready>>;

  /** After `ready` has sent what is shown again: the session's own replay (progress, state), or its first run. */
  protected abstract replay(first: boolean): void;

  /** The watched file changed on disk (events within CHANGE_DEBOUNCE_MS come as one call). */
  protected fileChanged(): void {
    // Sessions that watch a file override this.
  }

  /** Whether the webview has loaded and said `ready` (at least once). */
  get ready(): boolean {
    return this.readyCount > 0;
  }

  protected get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * Handles a message as if the webview had sent it: checks it, then acts, and answers it when it
   * is a request. Resolves when done, with whether it was accepted. (Tests drive sessions here.)
   */
  receive(raw: unknown): Promise<HandleResult> {
    this.handle ??= createMessageHandler<M>({
      parse: this.parse,
      handlers: { ...this.handlers(), [READY]: () => this.onReady() } as unknown as MessageHandlers<M>,
      reply: (answer) => {
        const waiter = answer.inReplyTo !== undefined ? this.answerWaiters.get(answer.inReplyTo) : undefined;
        if (waiter && answer.inReplyTo !== undefined) {
          this.answerWaiters.delete(answer.inReplyTo);
          waiter(answer);
          return;
        }
        this.post(answer);
      },
      onRefused: (reason) => this.ctx.log.warn(`${this.name}: ignored a message from the webview: ${reason}`),
      onFailed: (type, e) => {
        this.ctx.log.error(`${this.name}: ${type} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        void showFailure(this.ctx, e);
      },
    });
    return this.handle(raw);
  }

  private readonly answerWaiters = new Map<number, (answer: HostEnvelope) => void>();
  private nextRequestId = -1;

  /**
   * Handles a request as if the webview had sent it, and resolves with the host's answer (the
   * `response` envelope, its body or error) instead of posting it to the webview. (Tests drive
   * sessions here.) The request gets an id of its own, so it never meets the webview's answers.
   */
  async request(raw: { readonly type: string; readonly body?: unknown }): Promise<HostEnvelope> {
    const id = Number.MAX_SAFE_INTEGER + this.nextRequestId--;
    const answered = new Promise<HostEnvelope>((resolve) => this.answerWaiters.set(id, resolve));
    await this.receive({ ...raw, id });
    return answered;
  }

  private onReady(): void {
    // The webview (re)loaded: first open, or shown again after being hidden. What was posted
    // before it listened is lost, so it gets what is shown again.
    this.readyCount++;
    if (this.shown) this.post(this.shown);
    this.replay(this.readyCount === 1);
  }

  protected post(message: H | HostEnvelope): void {
    if (this.disposed) return;
    // A hidden webview drops messages; it says `ready` again when shown and gets them then.
    void this.panel.webview.postMessage(message);
  }

  /** Puts `message` on screen (and remembers it for the next `ready`). */
  protected show(message: S): void {
    this.shown = message;
    this.post(message);
  }

  /** Starts a run; the answer says whether it is still the newest one and the session is open. */
  protected newRun(): () => boolean {
    const generation = ++this.generation;
    return () => !this.disposed && generation === this.generation;
  }

  private scheduleFileChanged(): void {
    if (this.disposed) return;
    if (this.changeTimer !== undefined) clearTimeout(this.changeTimer);
    this.changeTimer = setTimeout(() => {
      this.changeTimer = undefined;
      if (!this.disposed) this.fileChanged();
    }, CHANGE_DEBOUNCE_MS);
  }

  dispose(): void {
    this.disposed = true;
    if (this.changeTimer !== undefined) clearTimeout(this.changeTimer);
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
