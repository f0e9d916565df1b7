// One open Attestation Document Viewer (a panel or a custom editor): its webview, the document it
// shows, the chosen verification time and the enclave image the PCRs are compared with. The host
// verifies with the engine and sends the webview a plain view model; the webview only displays it
// and asks for a few actions (copy, change the time, compare with an image, reload).
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  LinkCache,
  MAX_DOCUMENT_BYTES,
  expectedPcrsOf,
  toHex,
  type VerifyOptions,
  type VerifyReport,
} from '../../engine';
import { RESIGN_LABEL, nodeAttestationCrypto, writeAtomically } from '../../engine/node';
import {
  ATTESTATION_VIEWER_SCRIPT,
  MAX_PERSISTED_BASE64,
  parseWebviewMessage,
  type AttestationHostMessage,
  type AttestationViewError,
  type AttestationViewModel,
  type AttestationWebviewMessage,
  type ErrorMessage,
  type InitMessage,
  type PanelState,
  type SourceView,
  type TimeChoice,
} from '../../shared/attestationViewer';
import type { Ctx } from '../ctx';
import { dryRunOf } from '../kms/dryRun';
import { copyViewerKmsCondition } from '../kms/kmsCommands';
import { pickPolicy } from '../kms/pickPolicy';
import type { EifService } from '../images/eifService';
import { pickImage } from '../images/imageFiles';
import { WebviewSession } from '../webviews/session';
import type { MessageHandlers } from '../../shared/messages';
import { toAttestationViewModel, unreadableReason, verifyForView, type VerifyRun } from './attestationViewModel';
import { attestationViewerWords } from './attestationViewerWords';

/** Inputs larger than this are refused before reading: hex text of the largest document, plus room for line breaks. */
export const MAX_INPUT_BYTES = MAX_DOCUMENT_BYTES * 2 + 64 * 1024;

/**
 * The development CA, for "Re-sign with Development CA…" (the embedded emulator's, which signs its
 * enclaves' documents).
 */
export interface DevelopmentSigning {
  /** Re-signs an unsigned QEMU document; rejects for any other document. */
  resign(document: Uint8Array): Promise<Uint8Array>;
}

/** What a viewer shows a document from. */
export type DocumentSource =
  | { readonly kind: 'file'; readonly uri: vscode.Uri }
  | {
      readonly kind: 'bytes';
      /** The document's bytes (after base64 or hex decoding). */
      readonly bytes: Uint8Array;
      /** Where they came from ("Clipboard"). */
      readonly label: string;
      /** How the input was written, when it was text. */
      readonly encoding?: 'binary' | 'base64' | 'hex';
    }
  /**
   * Nothing to verify: the input was refused before verification (unreadable clipboard, a panel
   * that could not be restored).
   */
  | { readonly kind: 'failed'; readonly error: AttestationViewError };

/** A key that is the same for two viewers of the same document (used to reuse panels). */
export function sourceKey(source: DocumentSource): string | undefined {
  if (source.kind === 'file') return `file:${source.uri.toString()}`;
  if (source.kind === 'bytes') return `bytes:${Buffer.from(source.bytes).toString('base64')}`;
  return undefined;
}

export function sourceLabel(source: DocumentSource): string {
  if (source.kind === 'file') return path.posix.basename(source.uri.path) || source.uri.toString(true);
  if (source.kind === 'bytes') return source.label;
  return source.error.label;
}

type Shown = InitMessage | ErrorMessage;

interface Comparison {
  readonly uri: vscode.Uri;
  readonly name: string;
  readonly detail: string;
  /** The image's PCRs 0, 1, 2 (and 8), once measured. */
  readonly expected?: ReadonlyMap<number, string>;
  /** Why the image could not be measured. */
  readonly error?: string;
}

export interface SessionOptions {
  readonly ctx: Ctx;
  readonly eifService: EifService;
  /** Shared by every viewer: verified certificate links. */
  readonly cache: LinkCache;
  /**
   * Panels keep their document in the webview state so that the serializer can restore them; custom
   * editors do not need to.
   */
  readonly persist: boolean;
  readonly time?: TimeChoice;
  /** Roots trusted besides the pinned AWS root (the emulator's development root for its documents). */
  readonly roots?: VerifyOptions['roots'];
  /** Called after every verification (the registry remembers the last report). */
  readonly onVerified?: (report: VerifyReport) => void;
  /** The nonce the document was asked for (Get Attestation Document): the viewer checks it. */
  readonly nonce?: Uint8Array;
  /** Where "Re-sign with Development CA…" gets the development CA (absent: no emulator, so no CA). */
  readonly signing?: () => DevelopmentSigning | undefined;
  /** Called with the file a re-signed document was written to (the registry opens it). */
  readonly onResigned?: (file: vscode.Uri) => Promise<void>;
}

export class AttestationSession extends WebviewSession<AttestationHostMessage, Shown, AttestationWebviewMessage> {
  private readonly label: string;
  private time: TimeChoice;
  private comparison: Comparison | undefined;
  private run: VerifyRun | undefined;
  private busy: string | undefined;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    panel: vscode.WebviewPanel,
    readonly source: DocumentSource,
    private readonly options: SessionOptions,
  ) {
    const label = sourceLabel(source);
    super({
      ctx: options.ctx,
      panel,
      name: `Attestation viewer (${label})`,
      page: {
        script: ATTESTATION_VIEWER_SCRIPT,
        styles: ['eifViewer.css', 'attestationViewer.css'],
        title: label,
        words: attestationViewerWords(),
      },
      parse: parseWebviewMessage,
      ...(source.kind === 'file' ? { watch: source.uri } : {}),
    });
    this.label = label;
    this.time = options.time ?? { mode: 'now' };
    void this.verify();
  }

  /** The view model on screen, if the viewer shows one. */
  get model(): AttestationViewModel | undefined {
    return this.shown?.type === 'init' ? this.shown.body.model : undefined;
  }

  /** Why the viewer shows no model, if it shows an error. */
  get error(): AttestationViewError | undefined {
    return this.shown?.type === 'error' ? this.shown.body : undefined;
  }

  /** The report behind what the viewer shows. */
  get report(): VerifyReport | undefined {
    return this.run?.report;
  }

  /** Resolves once the verification in progress (if any) has finished. */
  settled(): Promise<void> {
    return this.pending;
  }

  /** The state this panel asks its webview to keep (undefined for editors, and for documents too large to keep). */
  get state(): PanelState | undefined {
    if (!this.options.persist) return undefined;
    const time = this.time;
    const compareWith = {
      ...(this.comparison ? { compareWith: this.comparison.uri.toString() } : {}),
      ...(this.options.roots?.some((r) => 'kind' in r && r.kind === 'development') ? { developmentRoot: true } : {}),
      ...(this.options.nonce && this.options.nonce.length > 0 ? { nonce: toHex(this.options.nonce) } : {}),
    };
    if (this.source.kind === 'file')
      return { source: { kind: 'file', uri: this.source.uri.toString() }, time, ...compareWith };
    if (this.source.kind === 'bytes') {
      const base64 = Buffer.from(this.source.bytes).toString('base64');
      if (base64.length > MAX_PERSISTED_BASE64) return undefined;
      const encoding = this.source.encoding ? { encoding: this.source.encoding } : {};
      return { source: { kind: 'bytes', label: this.source.label, base64, ...encoding }, time, ...compareWith };
    }
    return undefined;
  }

  private persist(): void {
    const state = this.state;
    if (state) this.post({ type: 'persist', body: { state } });
  }

  protected override show(message: Shown): void {
    super.show(message);
    this.persist();
  }

  private setBusy(message: string | undefined): void {
    this.busy = message;
    this.post({ type: 'busy', body: message === undefined ? {} : { message } });
  }

  protected replay(): void {
    this.persist();
    if (this.busy !== undefined) this.post({ type: 'busy', body: { message: this.busy } });
  }

  protected handlers(): MessageHandlers<Exclude<AttestationWebviewMessage, { type: 'ready' }>> {
    return {
      copy: async ({ body }) => {
        await vscode.env.clipboard.writeText(body.text);
        vscode.window.setStatusBarMessage(vscode.l10n.t('Copied {0}', body.what), 3000);
      },
      copyKmsCondition: async ({ body }) => {
        const model = this.model;
        // A NitroTPM document's PCRs are no enclave's: KMS names them with other keys.
        if (model?.kind === 'nitrotpm')
          throw new Error(vscode.l10n.t('a NitroTPM document has no enclave PCR conditions'));
        await copyViewerKmsCondition(
          model?.pcrs.find((p) => p.index === body.pcr),
          body.key,
        );
      },
      setTime: async ({ body }) => {
        this.time = body;
        await this.verify();
      },
      dryRun: ({ body }) => {
        const report = this.run?.report;
        if (!report || this.model === undefined) throw new Error(vscode.l10n.t('No attestation document is shown.'));
        const verdict = this.model.verdict;
        return dryRunOf(body, report.document, verdict.valid ? undefined : verdict.headline);
      },
      pickPolicy: async () => (await pickPolicy()) ?? null,
      compare: () => this.pickImage(),
      clearComparison: async () => {
        this.comparison = undefined;
        await this.verify();
      },
      reload: () => this.verify(),
      save: () => this.save(),
      resign: () => this.resign(),
      copyBase64: async () => {
        const bytes = this.documentBytes();
        await vscode.env.clipboard.writeText(Buffer.from(bytes).toString('base64'));
        vscode.window.setStatusBarMessage(
          vscode.l10n.t('Copied the attestation document as base64 ({0} bytes)', bytes.length),
          3000,
        );
      },
    };
  }

  /** The document's raw CBOR (COSE_Sign1) bytes, after any base64 or hex decoding of the input. */
  private documentBytes(): Uint8Array {
    const decoded = this.run?.report.decoded;
    if (!decoded || this.model === undefined) throw new Error(vscode.l10n.t('No attestation document is shown.'));
    return decoded.bytes;
  }

  /**
   * Save…: writes the document's raw CBOR to a file picked in a save dialog, atomically (a complete
   * file or none); resolves with the file, or undefined when the dialog was cancelled.
   */
  async save(): Promise<vscode.Uri | undefined> {
    const bytes = this.documentBytes();
    const base = this.label.replace(/\.(att\.cbor|attestation|cbor|b64|base64|hex|txt)$/i, '');
    const name = `${base.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'attestation'}.att.cbor`;
    const folder =
      this.source.kind === 'file' && this.source.uri.scheme === 'file'
        ? vscode.Uri.file(path.dirname(this.source.uri.fsPath))
        : vscode.workspace.workspaceFolders?.[0]?.uri;
    const target = await vscode.window.showSaveDialog({
      title: vscode.l10n.t('Save Attestation Document'),
      saveLabel: vscode.l10n.t('Save'),
      filters: { [vscode.l10n.t('Attestation documents (CBOR)')]: ['cbor'], [vscode.l10n.t('All files')]: ['*'] },
      ...(folder ? { defaultUri: vscode.Uri.joinPath(folder, name) } : {}),
    });
    if (!target) return undefined;
    if (target.scheme !== 'file') {
      // Not a local file (a remote or virtual file system): VS Code writes it.
      await vscode.workspace.fs.writeFile(target, bytes);
    } else {
      await writeAtomically(target.fsPath, (write) => write(bytes, 0));
    }
    this.options.ctx.log.info(
      `Attestation viewer (${this.label}): saved ${bytes.length} bytes to ${target.toString(true)}`,
    );
    vscode.window.setStatusBarMessage(
      vscode.l10n.t('Saved the attestation document to {0}', path.basename(target.path)),
      3000,
    );
    return target;
  }

  /**
   * Re-sign with Development CA…: only for an unsigned document from QEMU's emulated NSM, and only on
   * request. Writes a new file picked in a save dialog (atomically; never the document's own file),
   * a development signature over the values QEMU reported, then opens it; resolves with the file, or
   * undefined when the dialog was cancelled. The document shown is not changed.
   */
  async resign(): Promise<vscode.Uri | undefined> {
    const report = this.run?.report;
    if (!report?.unsigned || this.model === undefined)
      throw new Error(
        vscode.l10n.t(
          "Only an unsigned document from QEMU's emulated NSM can be re-signed with the development CA; this one is not, so it keeps its own signature.", // eslint-disable-line max-len
        ),
      );
    const signing = this.options.signing?.();
    if (!signing)
      throw new Error(
        vscode.l10n.t(
          'The development CA is not available: it belongs to the embedded emulator, which is not registered.',
        ),
      );
    const bytes = this.documentBytes();
    const base = this.label.replace(/\.(att\.cbor|attestation|cbor|b64|base64|hex|txt)$/i, '');
    const stem = base.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'attestation';
    const folder =
      this.source.kind === 'file' && this.source.uri.scheme === 'file'
        ? vscode.Uri.file(path.dirname(this.source.uri.fsPath))
        : vscode.workspace.workspaceFolders?.[0]?.uri;
    const target = await vscode.window.showSaveDialog({
      title: vscode.l10n.t(
        'Re-sign with Development CA: save the development attestation document (not an AWS attestation)',
      ),
      saveLabel: vscode.l10n.t('Re-sign and Save'),
      filters: { [vscode.l10n.t('Attestation documents (CBOR)')]: ['cbor'], [vscode.l10n.t('All files')]: ['*'] },
      ...(folder ? { defaultUri: vscode.Uri.joinPath(folder, `${stem}.dev-signed.att.cbor`) } : {}),
    });
    if (!target) return undefined;
    if (this.source.kind === 'file' && target.toString() === this.source.uri.toString())
      throw new Error(
        vscode.l10n.t(
          'The re-signed document goes to a new file: the document from QEMU is never altered. Pick another name.',
        ),
      );
    const resigned = await signing.resign(bytes);
    if (target.scheme !== 'file') await vscode.workspace.fs.writeFile(target, resigned);
    else await writeAtomically(target.fsPath, (write) => write(resigned, 0));
    this.options.ctx.log.info(
      `Attestation viewer (${this.label}): re-signed with the development CA (${RESIGN_LABEL}); ` +
        `wrote ${resigned.length} bytes to ${target.toString(true)}`,
    );
    void vscode.window.showInformationMessage(
      vscode.l10n.t('Re-signed with the development CA into {0}: {1}.', path.posix.basename(target.path), RESIGN_LABEL),
    );
    await this.options.onResigned?.(target);
    return target;
  }

  /** Asks which enclave image to compare with: the workspace's .eif files, or one from a file dialog. */
  private async pickImage(): Promise<void> {
    const uri = await pickImage({
      title: vscode.l10n.t('Compare with Enclave Image'),
      placeHolder: vscode.l10n.t('The image whose PCR0, PCR1, PCR2 (and PCR8) the document should carry'),
      openLabel: vscode.l10n.t('Compare'),
      ...(this.comparison ? { current: this.comparison.uri } : {}),
      currentDetail: vscode.l10n.t('compared now'),
    });
    if (uri) await this.compareWith(uri);
  }

  /** Measures the image and verifies the document again, expecting the image's PCRs. */
  async compareWith(uri: vscode.Uri): Promise<void> {
    const name = path.posix.basename(uri.path);
    const detail = uri.scheme === 'file' ? uri.fsPath : uri.toString(true);
    this.setBusy(`Measuring ${name}…`);
    try {
      const inspection = await this.options.eifService.inspect(uri);
      this.comparison = { uri, name, detail, expected: expectedPcrsOf(inspection.measurements) };
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.options.ctx.log.warn(`Attestation viewer (${this.label}): cannot measure ${detail}: ${message}`);
      this.comparison = { uri, name, detail, error: message };
    } finally {
      this.setBusy(undefined);
    }
    await this.verify();
  }

  protected override fileChanged(): void {
    this.options.ctx.log.info(`Attestation viewer: ${this.label} changed on disk; verifying it again`);
    void this.verify();
  }

  /** Reads the document (files are read again every time) and verifies it at the chosen time. */
  verify(): Promise<void> {
    const current = this.newRun();
    const done = this.verifyNow(current).catch((e: unknown) => {
      // Not expected (the engine answers hostile input with a report), but never let it escape.
      this.options.ctx.log.error(
        `Attestation viewer (${this.label}): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
      );
      if (current())
        this.show({
          type: 'error',
          body: {
            label: this.label,
            kind: 'format',
            message: vscode.l10n.t(
              'The document could not be verified: {0}',
              e instanceof Error ? e.message : String(e),
            ),
            canReload: true,
          },
        });
    });
    this.pending = done;
    return done;
  }

  private async verifyNow(current: () => boolean): Promise<void> {
    const source = this.source;
    if (source.kind === 'failed') {
      this.show({ type: 'error', body: source.error });
      return;
    }
    let input: Uint8Array;
    let sourceView: Omit<SourceView, 'inputSize'> & { readonly encoding?: SourceView['encoding'] };
    if (source.kind === 'file') {
      const read = await this.readFile(source.uri);
      if (!current()) return;
      if (!read.ok) {
        this.run = undefined;
        this.options.ctx.log.warn(`Attestation viewer: ${source.uri.toString(true)}: ${read.message}`);
        this.show({
          type: 'error',
          body: { label: this.label, kind: 'unreadable', message: read.message, canReload: true },
        });
        return;
      }
      input = read.bytes;
      sourceView = {
        kind: 'file',
        label: this.label,
        detail: source.uri.scheme === 'file' ? source.uri.fsPath : source.uri.toString(true),
      };
    } else {
      input = source.bytes;
      sourceView = { kind: 'bytes', label: source.label, ...(source.encoding ? { encoding: source.encoding } : {}) };
    }
    const expectedPcrs = this.comparison?.expected;
    const roots = this.options.roots;
    const nonce = this.options.nonce;
    const run = verifyForView(
      input,
      {
        time: this.time,
        ...(expectedPcrs ? { expectedPcrs } : {}),
        ...(roots ? { roots } : {}),
        ...(nonce ? { nonce } : {}),
      },
      nodeAttestationCrypto,
      this.options.cache,
    );
    if (!current()) return;
    this.run = run;
    this.options.onVerified?.(run.report);
    const unreadable = unreadableReason(run.report);
    if (unreadable !== undefined) {
      this.options.ctx.log.warn(
        `Attestation viewer: ${sourceView.detail ?? this.label} is not an attestation document: ${unreadable}`,
      );
      this.show({
        type: 'error',
        body: { label: this.label, kind: 'format', message: unreadable, canReload: source.kind === 'file' },
      });
      return;
    }
    const comparison = this.comparison;
    const model = toAttestationViewModel(run.report, {
      source: { ...sourceView, inputSize: input.length },
      time: this.time,
      ...(run.atDocumentTime ? { atDocumentTime: run.atDocumentTime } : {}),
      ...(nonce ? { nonce } : {}),
      ...(comparison
        ? {
            comparison: {
              name: comparison.name,
              detail: comparison.detail,
              ...(comparison.error !== undefined ? { error: comparison.error } : {}),
            },
          }
        : {}),
    });
    this.show({ type: 'init', body: { model } });
  }

  private async readFile(uri: vscode.Uri): Promise<{ ok: true; bytes: Uint8Array } | { ok: false; message: string }> {
    try {
      const stat = await vscode.workspace.fs.stat(uri);
      if (stat.type & vscode.FileType.Directory)
        return { ok: false, message: vscode.l10n.t('This is a folder, not an attestation document.') };
      if (stat.size > MAX_INPUT_BYTES) {
        return {
          ok: false,
          message: vscode.l10n.t(
            'The file is {0} bytes; an attestation document is at most {1} bytes ({2} as hex or base64 text).',
            stat.size,
            MAX_DOCUMENT_BYTES,
            MAX_INPUT_BYTES,
          ),
        };
      }
      return { ok: true, bytes: await vscode.workspace.fs.readFile(uri) };
    } catch (e) {
      if (e instanceof vscode.FileSystemError) {
        if (e.code === 'FileNotFound')
          return { ok: false, message: vscode.l10n.t('The file does not exist (it was deleted or moved).') };
        if (e.code === 'NoPermissions')
          return { ok: false, message: vscode.l10n.t('The file cannot be read: permission denied.') };
      }
      return {
        ok: false,
        message: vscode.l10n.t('The file could not be read: {0}', e instanceof Error ? e.message : String(e)),
      };
    }
  }
}
