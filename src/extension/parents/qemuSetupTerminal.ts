// Set Up QEMU Backend...: `nitro-dev qemu setup` in a VS Code terminal (a Pseudoterminal over the
// child process, so the extension knows its exit status). Ctrl+C or closing the terminal sends it
// SIGINT: setup stops and keeps the steps already done (exit status 130).
import { spawn, type ChildProcess } from 'node:child_process';
import * as vscode from 'vscode';
import { terminalText } from './consoleTerminal';

export class QemuSetupTerminal implements vscode.Pseudoterminal {
  private readonly write = new vscode.EventEmitter<string>();
  readonly onDidWrite = this.write.event;
  private readonly closeEmitter = new vscode.EventEmitter<number | void>();
  readonly onDidClose = this.closeEmitter.event;
  private child: ChildProcess | undefined;
  private closed = false;
  private ended = false;
  /** The exit status (128 + signal number for a signal; -1 when it could not be started). */
  readonly exitStatus: Promise<number>;
  private resolveExit!: (status: number) => void;
  /** Everything written so far (for tests). */
  output = '';

  constructor(
    /** The program and its arguments. */
    private readonly argv: readonly string[],
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.exitStatus = new Promise((resolve) => (this.resolveExit = resolve));
  }

  private emit(text: string): void {
    this.output += text;
    this.write.fire(terminalText(text));
  }

  open(): void {
    const [program, ...args] = this.argv;
    if (program === undefined) return this.finish(-1, 'no command to run');
    this.emit(`${vscode.l10n.t('Running: {0}', ['nitro-dev', ...args.slice(1)].join(' '))}\n`);
    let child: ChildProcess;
    try {
      child = spawn(program, args, { env: this.env, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    } catch (e) {
      return this.finish(-1, e instanceof Error ? e.message : String(e));
    }
    this.child = child;
    const decoder = { out: new TextDecoder(), err: new TextDecoder() };
    // Progress lines rewritten in place (\r) come through as they are.
    child.stdout?.on('data', (b: Buffer) => this.emit(decoder.out.decode(b, { stream: true })));
    child.stderr?.on('data', (b: Buffer) => this.emit(decoder.err.decode(b, { stream: true })));
    child.on('error', (e) => this.finish(-1, e.message));
    child.on('close', (code, signal) => {
      const status = code ?? (signal ? 128 + (SIGNALS[signal] ?? 0) : -1);
      this.finish(status);
    });
  }

  private finish(status: number, problem?: string): void {
    if (this.ended) return;
    this.ended = true;
    this.child = undefined;
    if (problem) this.emit(`\n${vscode.l10n.t('nitro-dev qemu setup could not be started: {0}', problem)}\n`);
    else if (status === 0) this.emit(`\n${vscode.l10n.t('QEMU setup is done. You may close this terminal.')}\n`);
    else this.emit(`\n${vscode.l10n.t('QEMU setup ended with exit status {0}.', status)}\n`);
    this.resolveExit(status);
  }

  handleInput(data: string): void {
    if (data === '\x03') this.interrupt();
  }

  private interrupt(): void {
    try {
      this.child?.kill('SIGINT');
    } catch {
      // It has ended meanwhile.
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.interrupt();
  }

  dispose(): void {
    this.close();
    this.write.dispose();
    this.closeEmitter.dispose();
  }
}

const SIGNALS: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
