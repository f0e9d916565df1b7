// The Enclave Image Viewer: a read-only custom editor for .eif files. The host measures the file
// with the engine and sends the webview a plain view model; the webview only displays it and asks
// for a few actions (copy, describe, reload). Each open editor is one EifViewerSession.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CancelledError, EifFormatError } from '../../engine';
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
import { COMMANDS, EIF_VIEWER } from '../ids';
import { copyViewerKmsCondition } from '../kms/kmsCommands';
import type { EifService } from '../images/eifService';
import { WebviewSession } from '../webviews/session';
import type { MessageHandlers } from '../../shared/messages';
import { toEifViewModel, toViewError } from './eifViewModel';
import { eifViewerWords } from './eifViewerWords';

/** At most one progress message per this many milliseconds. */
const PROGRESS_INTERVAL_MS = 100;

/** The file is gone: Node's ENOENT, or VS Code's FileNotFound when the workspace stat-ed it. */
function isFileNotFound(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  return code === 'ENOENT' || code === 'FileNotFound';
}

/** The document of a read-only editor: just the URI. Opening it reads nothing. */
export class EifDocument implements vscode.CustomDocument {
  constructor(readonly uri: vscode.Uri) {}

  dispose(): void {
    // Nothing held: each editor session reads the file itself.
  }
}

/** What an editor last showed: a view model or an error. */
type Shown = InitMessage | ErrorMessage;

/** One open viewer: its webview, the file watcher, and the measuring it waits for. */
class EifViewerSession extends WebviewSession<EifViewerHostMessage, Shown, EifViewerWebviewMessage> {
  private readonly fileName: string;
  private started = false;
  private lastProgress: { done: number; total: number } | undefined;

  constructor(
    ctx: Ctx,
    private readonly uri: vscode.Uri,
    panel: vscode.WebviewPanel,
    private readonly onShown: (shown: Shown) => void,
    private readonly services: { readonly describeDocuments: DescribeDocuments; readonly eifService: EifService },
  ) {
    const fileName = path.posix.basename(uri.path);
    super({
      ctx,
      panel,
      name: `Enclave Image Viewer (${fileName})`,
      page: { script: EIF_VIEWER_SCRIPT, styles: ['eifViewer.css'], title: fileName, words: eifViewerWords() },
      parse: parseWebviewMessage,
      watch: uri,
    });
    this.fileName = fileName;
  }

  protected override show(message: Shown): void {
    this.lastProgress = undefined;
    this.onShown(message);
    super.show(message);
  }

  /** The view model on screen, if the editor shows one. */
  get model(): EifViewModel | undefined {
    return this.shown?.type === 'init' ? this.shown.body.model : undefined;
  }

  protected handlers(): MessageHandlers<Exclude<EifViewerWebviewMessage, { type: 'ready' }>> {
    return {
      copy: async ({ body }) => {
        await vscode.env.clipboard.writeText(body.text);
        vscode.window.setStatusBarMessage(vscode.l10n.t('Copied {0}', body.what), 3000);
      },
      copyKmsCondition: async ({ body }) => {
        await copyViewerKmsCondition(
          this.model?.measurements.pcrs.find((p) => p.name === `PCR${body.pcr}`),
          body.key,
        );
      },
      describe: async () => {
        await this.describe();
      },
      reload: () => {
        this.services.eifService.invalidate(this.uri);
        void this.inspect();
      },
      // The image actions run their commands on this viewer's file; each command shows its own failures.
      // The answer carries nothing: what a command returns (a panel, a document) does not cross postMessage.
      run: async () => {
        await vscode.commands.executeCommand(COMMANDS.enclaveRun, this.uri);
      },
      sign: async () => {
        await vscode.commands.executeCommand(COMMANDS.imageSign, this.uri);
      },
      kmsPolicy: async () => {
        await vscode.commands.executeCommand(COMMANDS.kmsGeneratePolicy, this.uri);
      },
    };
  }

  protected replay(): void {
    if (!this.shown && !this.started) void this.inspect();
    if (this.lastProgress) this.post({ type: 'progress', body: this.lastProgress });
  }

  protected override fileChanged(): void {
    if (!this.started) return;
    void this.services.eifService.invalidateIfChanged(this.uri).then((changed) => {
      if (!changed) return;
      this.ctx.log.info(`Enclave Image Viewer: ${this.fileName} changed on disk; measuring it again`);
      void this.inspect();
    });
  }

  /** Opens describe-eif's JSON in a read-only editor beside the viewer (the Describe button). */
  async describe(): Promise<vscode.TextDocument | undefined> {
    const model = this.model;
    if (!model) {
      void vscode.window.showInformationMessage(
        vscode.l10n.t('{0} has not been measured, so there is nothing to describe.', this.fileName),
      );
      return undefined;
    }
    if (!model.describe.ok) {
      void vscode.window.showErrorMessage(
        vscode.l10n.t('nitro-cli describe-eif fails on {0}: {1}', this.fileName, model.describe.message),
      );
      return undefined;
    }
    return this.services.describeDocuments.show(
      `${this.fileName}.describe.json`,
      this.uri.toString(),
      model.describe.json,
      { viewColumn: vscode.ViewColumn.Beside },
    );
  }

  /**
   * Shows the file's inspection from the image service (measured once per file version, with the
   * tree and the commands: large files show its one progress notification). A newer run supersedes
   * an older one.
   */
  private async inspect(): Promise<void> {
    this.started = true;
    const current = this.newRun();
    if (this.uri.scheme !== 'file') {
      this.show({
        type: 'error',
        body: {
          fileName: this.fileName,
          kind: 'unsupported',
          message: vscode.l10n.t(
            'Only local files are supported: this image is a "{0}" resource ({1}). Copy it to a local folder to view it.', // eslint-disable-line max-len
            this.uri.scheme,
            this.uri.toString(true),
          ),
        },
      });
      return;
    }
    const filePath = this.uri.fsPath;
    let last = 0;
    const onProgress = (done: number, total: number) => {
      const now = Date.now();
      if (!current() || (done < total && now - last < PROGRESS_INTERVAL_MS)) return;
      last = now;
      this.lastProgress = { done, total };
      this.post({ type: 'progress', body: this.lastProgress });
    };
    try {
      const { inspection, at } = await this.services.eifService.inspectAt(this.uri, { onProgress });
      if (!current()) return;
      this.show({ type: 'init', body: { model: toEifViewModel(inspection, { path: filePath, inspectedAt: at }) } });
    } catch (e) {
      if (!current()) return; // superseded or closed: its failure is not news
      const error: EifViewError = toViewError(filePath, e);
      // A malformed, vanished or cancelled file is the file's story, not a fault of the extension.
      const expected = e instanceof EifFormatError || e instanceof CancelledError || isFileNotFound(e);
      if (expected) {
        this.ctx.log.warn(
          `Enclave Image Viewer: ${filePath}: ${error.message}` +
            `${error.code ? ` (rule ${error.code}, at byte ${error.offset})` : ''}`,
        );
      } else {
        this.ctx.log.error(
          `Enclave Image Viewer: ${filePath}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
        );
      }
      this.show({ type: 'error', body: error });
    }
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
    private readonly services: { readonly describeDocuments: DescribeDocuments; readonly eifService: EifService },
  ) {}

  openCustomDocument(uri: vscode.Uri): EifDocument {
    return new EifDocument(uri);
  }

  resolveCustomEditor(document: EifDocument, panel: vscode.WebviewPanel): void {
    const key = document.uri.toString();
    this.openEditors.set(key, (this.openEditors.get(key) ?? 0) + 1);
    const session = new EifViewerSession(
      this.ctx,
      document.uri,
      panel,
      (shown) => this.shown.set(key, shown),
      this.services,
    );
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

  /**
   * Hands a request to the host of the editor of `uri` as if its webview had sent it; resolves with
   * the answer (its `body` or `error`). For the extension-host tests.
   */
  async request(
    uri: vscode.Uri,
    message: { readonly type: string; readonly body?: unknown },
  ): Promise<{ readonly body?: unknown; readonly error?: string }> {
    const [session] = this.sessions.get(uri.toString()) ?? [];
    if (!session) throw new Error(vscode.l10n.t('no Enclave Image Viewer shows {0}', uri.toString(true)));
    return session.request(message);
  }

  /** The error the editor of `uri` shows instead of a model, if any. */
  errorFor(uri: vscode.Uri): EifViewError | undefined {
    const shown = this.shown.get(uri.toString());
    return shown?.type === 'error' ? shown.body : undefined;
  }
}

/** Registers the Enclave Image Viewer and returns its provider (exposed to the extension-host tests). */
export function registerEifViewer(
  ctx: Ctx,
  services: { readonly describeDocuments: DescribeDocuments; readonly eifService: EifService },
): EifEditorProvider {
  const provider = new EifEditorProvider(ctx, services);
  ctx.push(
    vscode.window.registerCustomEditorProvider(EIF_VIEWER, provider, {
      supportsMultipleEditorsPerDocument: true,
      webviewOptions: { retainContextWhenHidden: false },
    }),
  );
  return provider;
}
