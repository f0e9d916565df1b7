// The Attestation Document Viewer's registrations: "Open Attestation Document…" (a file) and "Open
// Attestation Document from Clipboard" (base64 or hex text) open a webview panel; *.attestation and
// *.att.cbor files open in a read-only custom editor (and any *.cbor through "Open With…"); a panel
// serializer restores panels after a reload. Panels and editors share AttestationSession.
import * as vscode from 'vscode';
import {
  AttestationFormatError,
  LinkCache,
  fromHex,
  readDocumentInput,
  type VerifyOptions,
  type VerifyReport,
} from '../../engine';
import {
  parseWebviewState,
  type AttestationViewError,
  type AttestationViewModel,
  type PanelState,
  type TimeChoice,
} from '../../shared/attestationViewer';
import { sentence } from '../../shared/text';
import { registerCommand } from '../commands/registerCommands';
import type { Ctx } from '../ctx';
import { ATTESTATION_PANEL, ATTESTATION_VIEWER, ATTESTATION_VIEWER_CBOR, COMMANDS } from '../ids';
import type { EifService } from '../images/eifService';
import { webviewOptions } from '../webviews/html';
import {
  AttestationSession,
  sourceKey,
  sourceLabel,
  type DevelopmentSigning,
  type DocumentSource,
} from './attestationSession';
import { trackActiveEditor } from '../kms/pickPolicy';

/** A viewer is found by its panel (panels and custom editors alike) or by the URI of the file it shows. */
export type ViewerTarget = vscode.WebviewPanel | vscode.Uri;

export interface OpenOptions {
  /** The time to verify at (default: now). */
  readonly time?: TimeChoice;
  /** What bytes or text came from (default: "Document"). */
  readonly label?: string;
  /**
   * Roots trusted besides the pinned AWS root: the emulator's development root for the documents
   * its enclaves return.
   */
  readonly roots?: VerifyOptions['roots'];
  /** An enclave image whose PCRs the document is compared with, as "Compare with Enclave Image…" does. */
  readonly compareWith?: vscode.Uri;
  /** The nonce the document was asked for: the viewer checks that the document carries it. */
  readonly nonce?: Uint8Array;
}

/** What registerAttestation returns: handles for the extension-host tests (not a public API). */
export interface AttestationViewerApi {
  /** The report of the most recent verification in any viewer. */
  lastReport(): VerifyReport | undefined;
  /** Opens (or reveals) the panel of a file, of document bytes, or of base64/hex text. */
  openPanel(input: vscode.Uri | Uint8Array | string, options?: OpenOptions): Promise<vscode.WebviewPanel>;
  /** The view model a viewer shows, once verified. */
  modelFor(target: ViewerTarget): AttestationViewModel | undefined;
  /** The error a viewer shows instead of a model, if any. */
  errorFor(target: ViewerTarget): AttestationViewError | undefined;
  /** The report behind what a viewer shows. */
  reportFor(target: ViewerTarget): VerifyReport | undefined;
  /** The state a panel asks its webview to keep for the serializer. */
  stateFor(target: ViewerTarget): PanelState | undefined;
  /** Whether a viewer's webview has loaded its page and said `ready`. */
  isReady(target: ViewerTarget): boolean;
  /**
   * Hands a message to the host as if the viewer's webview had sent it (same checks, same handler);
   * resolves when handled.
   */
  receive(target: ViewerTarget, message: unknown): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** Like receive, for a request: resolves with the host's answer (its `body`, or its `error`). */
  request(
    target: ViewerTarget,
    message: { readonly type: string; readonly body?: unknown },
  ): Promise<{ readonly body?: unknown; readonly error?: string }>;
  /** Compares a viewer's document with an enclave image (what the quick pick of "Compare with Enclave Image…" does). */
  compareWith(target: ViewerTarget, image: vscode.Uri): Promise<void>;
  /** What the panel serializer does with a panel and the state its webview kept (`{ panel: PanelState, … }`). */
  revive(panel: vscode.WebviewPanel, webviewState: unknown): Promise<void>;
  /** Where panels restored after a reload that trusted the emulator's development root get it again. */
  useDevelopmentRoots(provider: () => Promise<VerifyOptions['roots']>): void;
  /** Where "Re-sign with Development CA…" gets the development CA (undefined: none is available). */
  useDevelopmentSigning(provider: () => DevelopmentSigning | undefined): void;
}

/** The document of a read-only custom editor: just the URI. Opening it reads nothing. */
class AttestationDocument implements vscode.CustomDocument {
  constructor(readonly uri: vscode.Uri) {}

  dispose(): void {
    // Nothing held: each session reads the file itself.
  }
}

function clipboardHint(message: string): string {
  return vscode.l10n.t(
    '{0}. Copy an attestation document as base64 or hex text (for example the output of {1}) and try again.',
    sentence(message),
    '`base64 -w0 document.cbor`',
  );
}

/** A panel's title: `Attestation: <label>`, in the user's language. */
function panelTitle(label: string): string {
  return vscode.l10n.t('Attestation: {0}', label);
}

/** The label a panel's title names (what panelTitle put around it), or the title itself when it is not one. */
function labelOfPanelTitle(title: string): string {
  const [before = '', after = ''] = panelTitle('\u0000').split('\u0000');
  if (!title.startsWith(before) || !title.endsWith(after) || title.length < before.length + after.length) return title;
  return title.slice(before.length, title.length - after.length);
}

/** Every open viewer, panels and custom editors alike. */
class AttestationViewers
  implements
    vscode.CustomReadonlyEditorProvider<AttestationDocument>,
    vscode.WebviewPanelSerializer<unknown>,
    AttestationViewerApi
{
  private readonly sessions = new Set<AttestationSession>();
  private readonly cache = new LinkCache();
  private last: VerifyReport | undefined;

  /**
   * Where a restored panel that trusted the emulator's development root gets it again (set once the
   * emulator is up).
   */
  private developmentRoots: (() => Promise<VerifyOptions['roots']>) | undefined;

  useDevelopmentRoots(provider: () => Promise<VerifyOptions['roots']>): void {
    this.developmentRoots = provider;
  }

  private developmentSigning: (() => DevelopmentSigning | undefined) | undefined;

  useDevelopmentSigning(provider: () => DevelopmentSigning | undefined): void {
    this.developmentSigning = provider;
  }

  /** Opens a re-signed document, verified with the development root trusted (it verifies with nothing else). */
  private async openResigned(file: vscode.Uri): Promise<void> {
    let roots: VerifyOptions['roots'];
    try {
      roots = await this.developmentRoots?.();
    } catch (e) {
      this.ctx.log.warn(
        `Attestation viewer: the development root could not be read: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    await this.openPanel(file, roots ? { roots } : {});
  }

  constructor(
    private readonly ctx: Ctx,
    private readonly eifService: EifService,
  ) {}

  private attach(
    panel: vscode.WebviewPanel,
    source: DocumentSource,
    persist: boolean,
    time?: TimeChoice,
    roots?: VerifyOptions['roots'],
    nonce?: Uint8Array,
  ): AttestationSession {
    const session = new AttestationSession(panel, source, {
      ctx: this.ctx,
      eifService: this.eifService,
      cache: this.cache,
      persist,
      ...(time ? { time } : {}),
      ...(roots ? { roots } : {}),
      ...(nonce && nonce.length > 0 ? { nonce } : {}),
      signing: () => this.developmentSigning?.(),
      onResigned: (file) => this.openResigned(file),
      onVerified: (report) => (this.last = report),
    });
    this.sessions.add(session);
    const closed = panel.onDidDispose(() => {
      closed.dispose();
      session.dispose();
      this.sessions.delete(session);
    });
    return session;
  }

  /** The session of a panel, or the newest one showing a file. */
  private find(target: ViewerTarget): AttestationSession | undefined {
    const all = [...this.sessions].reverse();
    if (target instanceof vscode.Uri) {
      const key = target.toString();
      return all.find((s) => s.source.kind === 'file' && s.source.uri.toString() === key);
    }
    return all.find((s) => s.panel === target);
  }

  private require(target: ViewerTarget): AttestationSession {
    const session = this.find(target);
    if (!session)
      throw new Error(
        target instanceof vscode.Uri
          ? vscode.l10n.t('no attestation viewer is open for {0}', target.toString(true))
          : vscode.l10n.t('no attestation viewer is open for this panel'),
      );
    return session;
  }

  // --- panels ---------------------------------------------------------------------------------

  /** The source of a URI, bytes or text; input that is no document at all becomes a `failed` source that says why. */
  private sourceOf(input: vscode.Uri | Uint8Array | string, label: string): DocumentSource {
    if (input instanceof vscode.Uri) return { kind: 'file', uri: input };
    try {
      const { bytes, encoding } = readDocumentInput(input);
      return { kind: 'bytes', bytes, label, encoding };
    } catch (e) {
      const message = e instanceof AttestationFormatError ? e.message : String(e);
      return {
        kind: 'failed',
        error: {
          label,
          kind: 'format',
          message: label === vscode.l10n.t('Clipboard') ? clipboardHint(message) : `${sentence(message)}.`,
        },
      };
    }
  }

  async openPanel(input: vscode.Uri | Uint8Array | string, options: OpenOptions = {}): Promise<vscode.WebviewPanel> {
    const source = this.sourceOf(input, options.label ?? 'Document');
    const key = sourceKey(source);
    const existing =
      key === undefined
        ? undefined
        : [...this.sessions].find((s) => s.panel.viewType === ATTESTATION_PANEL && sourceKey(s.source) === key);
    if (existing) {
      let alive = true;
      try {
        existing.panel.reveal();
      } catch {
        // Closed a moment ago: its dispose event has not arrived yet.
        alive = false;
        existing.dispose();
        this.sessions.delete(existing);
      }
      if (alive) {
        if (options.time) await existing.receive({ type: 'setTime', body: options.time });
        if (options.compareWith) await existing.compareWith(options.compareWith);
        return existing.panel;
      }
    }
    const label = sourceLabel(source);
    const panel = vscode.window.createWebviewPanel(ATTESTATION_PANEL, panelTitle(label), vscode.ViewColumn.Active, {
      ...webviewOptions(this.ctx.extension.extensionUri),
      enableFindWidget: true,
      retainContextWhenHidden: false,
    });
    const session = this.attach(panel, source, true, options.time, options.roots, options.nonce);
    this.ctx.log.info(`Attestation viewer: opened ${source.kind === 'file' ? source.uri.toString(true) : label}`);
    if (options.compareWith) await session.compareWith(options.compareWith);
    await session.settled();
    return panel;
  }

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    await this.revive(panel, state);
  }

  async revive(panel: vscode.WebviewPanel, webviewState: unknown): Promise<void> {
    const parsed = parseWebviewState(webviewState);
    let source: DocumentSource;
    if (!parsed.ok) {
      this.ctx.log.warn(`Attestation viewer: a panel could not be restored: ${parsed.reason}`);
      source = {
        kind: 'failed',
        error: {
          label: labelOfPanelTitle(panel.title) || vscode.l10n.t('Attestation document'),
          kind: 'restore',
          message: vscode.l10n.t(
            'This panel could not be restored after the reload ({0}). Open the document again.',
            parsed.reason,
          ),
        },
      };
    } else if (parsed.value.source.kind === 'file') {
      source = { kind: 'file', uri: vscode.Uri.parse(parsed.value.source.uri, true) };
    } else {
      const kept = parsed.value.source;
      const restored = this.sourceOf(Buffer.from(kept.base64, 'base64'), kept.label);
      // The bytes are kept decoded; the viewer still says how the document was first given.
      source = restored.kind === 'bytes' && kept.encoding ? { ...restored, encoding: kept.encoding } : restored;
    }
    let roots: VerifyOptions['roots'];
    if (parsed.ok && parsed.value.developmentRoot) {
      try {
        roots = await this.developmentRoots?.();
      } catch (e) {
        this.ctx.log.warn(
          `Attestation viewer: the development root could not be read again: ` +
            `${e instanceof Error ? e.message : String(e)}`,
        );
      }
      if (!roots)
        this.ctx.log.warn(
          'Attestation viewer: a restored panel trusted the development root, ' +
            'which is not available now; it is verified without it.',
        );
    }
    const nonce = parsed.ok && parsed.value.nonce ? fromHex(parsed.value.nonce) : undefined;
    const session = this.attach(panel, source, true, parsed.ok ? parsed.value.time : undefined, roots, nonce);
    if (parsed.ok && parsed.value.compareWith !== undefined)
      await session.compareWith(vscode.Uri.parse(parsed.value.compareWith, true));
    await session.settled();
  }

  // --- custom editor --------------------------------------------------------------------------

  openCustomDocument(uri: vscode.Uri): AttestationDocument {
    return new AttestationDocument(uri);
  }

  resolveCustomEditor(document: AttestationDocument, panel: vscode.WebviewPanel): void {
    this.attach(panel, { kind: 'file', uri: document.uri }, false);
  }

  // --- commands -------------------------------------------------------------------------------

  /** "Open Attestation Document…": the file it was invoked on (Explorer, tests), else one from a file dialog. */
  async openCommand(arg?: unknown): Promise<vscode.WebviewPanel | undefined> {
    let uri = arg instanceof vscode.Uri ? arg : undefined;
    if (!uri) {
      const chosen = await vscode.window.showOpenDialog({
        canSelectMany: false,
        openLabel: vscode.l10n.t('Open'),
        title: vscode.l10n.t('Open Attestation Document'),
        ...(vscode.workspace.workspaceFolders?.[0] ? { defaultUri: vscode.workspace.workspaceFolders[0].uri } : {}),
        filters: {
          [vscode.l10n.t('Attestation documents (CBOR, base64, hex)')]: [
            'cbor',
            'attestation',
            'b64',
            'base64',
            'hex',
            'txt',
          ],
          [vscode.l10n.t('All files')]: ['*'],
        },
      });
      uri = chosen?.[0];
    }
    return uri ? this.openPanel(uri) : undefined;
  }

  /** "Open Attestation Document from Clipboard": base64 or hex text. */
  async openFromClipboardCommand(): Promise<vscode.WebviewPanel | undefined> {
    const text = await vscode.env.clipboard.readText();
    if (text.trim().length === 0) {
      void vscode.window.showInformationMessage(
        vscode.l10n.t(
          'The clipboard holds no text. Copy an attestation document as base64 or hex text, then run this command again.', // eslint-disable-line max-len
        ),
      );
      return undefined;
    }
    return this.openPanel(text, { label: vscode.l10n.t('Clipboard') });
  }

  // --- the tests' handles ---------------------------------------------------------------------

  lastReport(): VerifyReport | undefined {
    return this.last;
  }

  modelFor(target: ViewerTarget): AttestationViewModel | undefined {
    return this.find(target)?.model;
  }

  errorFor(target: ViewerTarget): AttestationViewError | undefined {
    return this.find(target)?.error;
  }

  reportFor(target: ViewerTarget): VerifyReport | undefined {
    return this.find(target)?.report;
  }

  stateFor(target: ViewerTarget): PanelState | undefined {
    return this.find(target)?.state;
  }

  isReady(target: ViewerTarget): boolean {
    return this.find(target)?.ready === true;
  }

  receive(target: ViewerTarget, message: unknown): Promise<{ ok: true } | { ok: false; reason: string }> {
    return this.require(target).receive(message);
  }

  request(
    target: ViewerTarget,
    message: { readonly type: string; readonly body?: unknown },
  ): Promise<{ readonly body?: unknown; readonly error?: string }> {
    return this.require(target).request(message);
  }

  compareWith(target: ViewerTarget, image: vscode.Uri): Promise<void> {
    return this.require(target).compareWith(image);
  }

  dispose(): void {
    for (const s of this.sessions) s.dispose();
    this.sessions.clear();
  }
}

/** Registers the commands, both custom editor view types and the panel serializer; returns the tests' handles. */
export function registerAttestation(ctx: Ctx, deps: { readonly eifService: EifService }): AttestationViewerApi {
  const viewers = ctx.own(new AttestationViewers(ctx, deps.eifService));
  ctx.push(trackActiveEditor());
  registerCommand(ctx, COMMANDS.attestationOpen, (arg?: unknown) => viewers.openCommand(arg));
  registerCommand(ctx, COMMANDS.attestationOpenFromClipboard, () => viewers.openFromClipboardCommand());
  const editorOptions = {
    supportsMultipleEditorsPerDocument: true,
    webviewOptions: { retainContextWhenHidden: false, enableFindWidget: true },
  };
  ctx.push(
    vscode.window.registerCustomEditorProvider(ATTESTATION_VIEWER, viewers, editorOptions),
    vscode.window.registerCustomEditorProvider(ATTESTATION_VIEWER_CBOR, viewers, editorOptions),
    vscode.window.registerWebviewPanelSerializer(ATTESTATION_PANEL, viewers),
  );
  return {
    lastReport: () => viewers.lastReport(),
    openPanel: (input, options) => viewers.openPanel(input, options),
    modelFor: (target) => viewers.modelFor(target),
    errorFor: (target) => viewers.errorFor(target),
    reportFor: (target) => viewers.reportFor(target),
    stateFor: (target) => viewers.stateFor(target),
    isReady: (target) => viewers.isReady(target),
    receive: (target, message) => viewers.receive(target, message),
    request: (target, message) => viewers.request(target, message),
    compareWith: (target, image) => viewers.compareWith(target, image),
    revive: (panel, state) => viewers.revive(panel, state),
    useDevelopmentRoots: (provider) => viewers.useDevelopmentRoots(provider),
    useDevelopmentSigning: (provider) => viewers.useDevelopmentSigning(provider),
  };
}
