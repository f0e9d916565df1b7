// Open Console: a VS Code terminal (a Pseudoterminal) that shows an enclave's console as the
// backend streams it, like `nitro-cli console`. Typing does nothing (the console is read-only);
// closing the terminal stops the stream. An enclave that has ended already (an attached application
// that printed and exited at once) has no console to connect to: then the terminal shows the console
// log its backend kept, and a closing line, instead of an error.
import * as vscode from 'vscode';
import type { ConsoleStream, EnclaveOperations } from '../../engine';
import type { KeptConsole } from '../../engine/node';
import { explanationLines } from '../errors/explainText';

/** Console text as a terminal wants it: every line break as CR LF. */
export function terminalText(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}

/** The console log a backend kept of an ended enclave, when it keeps one. */
export type KeptConsoleLookup = () => Promise<KeptConsole | undefined> | KeptConsole | undefined;

export class EnclaveConsole implements vscode.Pseudoterminal {
  private readonly write = new vscode.EventEmitter<string>();
  readonly onDidWrite = this.write.event;
  private readonly closeEmitter = new vscode.EventEmitter<number | void>();
  readonly onDidClose = this.closeEmitter.event;
  private stream: ConsoleStream | undefined;
  private closed = false;
  private readonly decoder = new TextDecoder('utf-8');
  /** Resolves when the console has ended (the enclave's console closed or the terminal was closed). */
  readonly ended: Promise<void>;
  private resolveEnded!: () => void;
  /** Everything written so far (for tests). */
  output = '';

  constructor(
    private readonly backend: EnclaveOperations,
    private readonly parentId: string,
    private readonly enclaveId: string,
    private readonly log: vscode.LogOutputChannel,
    private readonly kept?: KeptConsoleLookup,
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  private emit(text: string): void {
    this.output += text;
    this.write.fire(terminalText(text));
  }

  open(): void {
    this.emit(`${vscode.l10n.t('Connecting to the console of {0}…', this.enclaveId)}\n`);
    void this.pump();
  }

  private async pump(): Promise<void> {
    try {
      this.stream = await this.backend.openConsole(this.parentId, this.enclaveId);
      if (this.closed) {
        this.stream.dispose();
        return;
      }
      for await (const chunk of this.stream.chunks) {
        if (this.closed) break;
        this.emit(this.decoder.decode(chunk, { stream: true }));
      }
      if (!this.closed) {
        const closing = vscode.l10n.t('[The console of {0} closed: the enclave stopped.]', this.enclaveId);
        this.emit(`${this.decoder.decode()}\n${closing}\n`);
      }
    } catch (e) {
      if (await this.showKept().catch(() => false)) return;
      const message = e instanceof Error ? e.message : String(e);
      this.log.warn(`Console of ${this.enclaveId}: ${message}`);
      if (!this.closed)
        this.emit(`\n${vscode.l10n.t('[Cannot read the console: {0}]', message)}\n${explanationLines(e)}`);
    } finally {
      this.stream?.dispose();
      this.resolveEnded();
    }
  }

  /** Shows the kept console log of an enclave that is no longer running; false when there is none to show. */
  private async showKept(): Promise<boolean> {
    if (!this.kept || this.closed) return false;
    const running = (await this.backend.describeEnclaves(this.parentId)).some((e) => e.EnclaveID === this.enclaveId);
    if (running) return false;
    const kept = await this.kept();
    if (!kept || this.closed) return false;
    this.log.info(`Console of ${this.enclaveId}: the enclave has ended; showing its kept console log ${kept.path}`);
    const decoder = new TextDecoder('utf-8');
    const text = decoder.decode(kept.bytes);
    const leftOut = vscode.l10n.t('[… the first {0} bytes of the log are left out]', kept.skipped);
    const closing = vscode.l10n.t(
      '[The enclave {0} has ended: above is its console log, kept in {1}.]',
      this.enclaveId,
      kept.path,
    );
    this.emit(
      (kept.skipped > 0 ? `${leftOut}\n` : '') +
        text +
        (text === '' || text.endsWith('\n') ? '' : '\n') +
        `${closing}\n`,
    );
    return true;
  }

  handleInput(): void {
    // nitro-cli's console is read-only; so is this one.
  }

  /** Called by VS Code when the terminal is closed: stops the stream. */
  close(): void {
    this.closed = true;
    this.stream?.dispose();
  }

  dispose(): void {
    this.close();
    this.write.dispose();
    this.closeEmitter.dispose();
  }
}
