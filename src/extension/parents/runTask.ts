// The `nitro-enclave` task type: tasks.json runs an enclave image with nitro-cli's `--config` JSON
// (eif_path, memory_mib, cpu_count or cpu_ids, enclave_cid, debug_mode, enclave_name; plus `parent`,
// the parent instance's id or name, else the current one, and `app`, an application's command line
// on an emulated parent), so "build then run" is a task depending on a `nitro-eif` task.
//
// The task lives as long as its enclave: it checks the definition with the engine's rules (and says
// what is wrong, with nitro-cli's error code as its exit code), starts the enclave, prints
// run-enclave's JSON, then streams the console of a debug-mode enclave (a production enclave has
// none: the task waits) until the enclave ends (exit 0). Terminating the task, or Ctrl-C in its
// terminal, terminates the enclave (exit 130): what the task started does not outlive it.
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  attachesApplications,
  errorCodeNumber,
  formatJson,
  CancelledError,
  runConfigRequest,
  type RunConfigJson,
  type RunEnclaveJson,
  type RunEnclaveRequest,
} from '../../engine';
import type { BackendRegistry } from '../../engine/node';
import { RUN_TASK_TYPE } from '../ids';
import { substitute } from '../imagebuild/buildRequest';
import { isBackendError } from '../errors/explainText';
import { applicationRequest, checkApplicationLine } from './attachApplication';
import { reachableParents, type RunRules } from './backendHost';
import type { CurrentParent } from './parentStatusBar';
import { terminalText } from './consoleTerminal';
import { defaultMemoryMiB } from './runEnclave';

/** A `nitro-enclave` task's definition: run-enclave's `--config` object, and `parent` and `app`. */
export interface EnclaveTaskDefinition extends vscode.TaskDefinition, RunConfigJson {
  readonly parent?: unknown;
  readonly app?: unknown;
}

export interface RunTaskDeps {
  readonly backends: BackendRegistry;
  readonly current: CurrentParent;
  readonly rules: RunRules;
  readonly log: vscode.LogOutputChannel;
  /** Called when the task's enclave runs (the view and status bar show it), and when it is gone. */
  readonly onDidStart: (parentId: string, run: RunEnclaveJson, eifPath: string) => void;
  readonly onDidEnd: () => void;
}

/** A refusal the task prints (`[ Exx ] ...`) and exits with (xx). */
class TaskRefusal extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** A problem text of the engine's rules (`[E26] ...`) as a refusal. */
function refusalOf(problem: string): TaskRefusal {
  const m = /^\[E(\d+)\]\s*(.*)$/s.exec(problem);
  return m ? new TaskRefusal(errorCodeNumber(m[1] as string) ?? 1, m[2] as string) : new TaskRefusal(1, problem);
}

/** The task's terminal: one enclave's run, from the definition's check to the enclave's end. */
export class EnclaveTaskTerminal implements vscode.Pseudoterminal {
  private readonly writer = new vscode.EventEmitter<string>();
  private readonly closer = new vscode.EventEmitter<number>();
  readonly onDidWrite = this.writer.event;
  readonly onDidClose = this.closer.event;
  private readonly cancel = new vscode.CancellationTokenSource();
  private readonly disposables: vscode.Disposable[] = [];
  private stopping = false;
  private finished = false;
  private started: { readonly parentId: string; readonly run: RunEnclaveJson } | undefined;
  private stream: { dispose(): void } | undefined;
  /** Everything written so far (for the extension-host tests). */
  output = '';
  /** The enclave the task started, once it runs. */
  enclave: RunEnclaveJson | undefined;
  /** The task's exit code once it has ended. */
  exitCode: number | undefined;
  /** Resolves to the task's exit code when it ends. */
  readonly ended: Promise<number>;
  private resolveEnded!: (code: number) => void;

  constructor(
    private readonly deps: RunTaskDeps,
    private readonly definition: EnclaveTaskDefinition,
    private readonly name: string,
    private readonly folder: string | undefined,
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  private line(text: string): void {
    const t = `${text}\n`;
    this.output += t;
    this.writer.fire(terminalText(t));
  }

  open(): void {
    void this.run();
  }

  /** VS Code closes the terminal: the task was terminated. The enclave it started is terminated too. */
  close(): void {
    void this.stop();
  }

  handleInput(data: string): void {
    if (data === '\x03') void this.stop();
  }

  private async run(): Promise<void> {
    let code: number;
    try {
      const { parentId, request } = await this.plan();
      if (this.stopping) throw new TaskRefusal(130, vscode.l10n.t('Cancelled before the enclave started.'));
      this.line(`\x1b[2m${vscode.l10n.t('> run-enclave on {0}: {1}', parentId, describeRequest(request))}\x1b[0m`);
      const run = await this.deps.backends.runEnclave(parentId, request, { cancellation: this.cancel.token });
      this.started = { parentId, run };
      this.enclave = run;
      this.deps.log.info(`${RUN_TASK_TYPE} task ${this.name}: started ${run.EnclaveID} on ${parentId}`);
      this.deps.onDidStart(parentId, run, request.eifPath);
      this.line(formatJson(run).trimEnd());
      if (this.stopping) {
        await this.terminateStarted();
        code = 130;
      } else {
        code = await this.follow(parentId, run, request.debugMode === true);
      }
    } catch (e) {
      if (this.stopping || e instanceof CancelledError) {
        code = 130;
      } else if (e instanceof TaskRefusal) {
        this.line(`\x1b[31m[ E${String(e.code).padStart(2, '0')} ] ${e.message}\x1b[0m`);
        code = e.code;
      } else if (isBackendError(e)) {
        this.line(`\x1b[31m[ E${String(e.code).padStart(2, '0')} ] ${e.message.replace(/^\[E\d+\]\s*/, '')}\x1b[0m`);
        code = e.code || 1;
      } else {
        this.line(`\x1b[31m${e instanceof Error ? e.message : String(e)}\x1b[0m`);
        code = 1;
      }
      if (code !== 130)
        this.deps.log.error(`${RUN_TASK_TYPE} task ${this.name}: ${this.output.trim().split('\n').at(-1)}`);
    }
    this.finish(code);
  }

  private finish(code: number): void {
    if (this.finished) return;
    this.finished = true;
    this.exitCode = code;
    for (const d of this.disposables) d.dispose();
    this.stream?.dispose();
    this.closer.fire(code);
    this.resolveEnded(code);
  }

  /** The definition checked (its shape, the parent, the image, then the engine's whole check). */
  private async plan(): Promise<{ parentId: string; request: RunEnclaveRequest }> {
    const where = `the ${RUN_TASK_TYPE} task "${this.name}"`;
    const d = this.definition;
    const resolve = (p: string) => path.resolve(this.folder ?? process.cwd(), substitute(p, this.folder, process.env));
    let { request } = runConfigRequest(d, where, resolve);
    if (d.parent !== undefined && typeof d.parent !== 'string')
      throw new TaskRefusal(17, `Serialization error. In ${where}: parent must be a string (a parent's id or name)`);
    if (d.app !== undefined && typeof d.app !== 'string')
      throw new TaskRefusal(17, `Serialization error. In ${where}: app must be a string (a command line)`);
    const parents = await reachableParents(this.deps.backends);
    const parent =
      typeof d.parent === 'string'
        ? (parents.find((p) => p.id === d.parent) ?? parents.find((p) => p.name === d.parent))
        : await this.deps.current.get();
    if (!parent)
      throw new TaskRefusal(
        3,
        typeof d.parent === 'string'
          ? `Invalid argument provided. There is no parent instance '${d.parent}' ` +
              `(known: ${parents.map((p) => `${p.name} (${p.id})`).join(', ') || 'none'})`
          : 'Invalid argument provided. There is no parent instance: add one, or name one with `parent`',
      );
    let eifBytes: number;
    try {
      eifBytes = (await stat(request.eifPath)).size;
    } catch (e) {
      throw new TaskRefusal(19, `File operation failure. ${request.eifPath}: ${(e as Error).message}`);
    }
    if (typeof d.app === 'string' && d.app.trim() !== '') {
      if (!(await this.deps.backends.capabilityOf(parent.id, attachesApplications)))
        throw new TaskRefusal(
          3,
          `Invalid argument provided. ${parent.name} cannot attach an application: ` +
            'only an emulated parent runs one beside its enclave',
        );
      const check = checkApplicationLine(d.app);
      if (check && 'error' in check) throw new TaskRefusal(3, `Invalid argument provided. app: ${check.error}`);
      const app = applicationRequest(d.app, this.folder ?? path.dirname(request.eifPath));
      if (app) request = { ...request, app };
    }
    const running = (await this.deps.backends.describeEnclaves(parent.id)).filter((e) => e.State !== 'EMPTY');
    // The fields' checks of Run Enclave's steps first (they name the rule with its numbers), then the whole request's.
    const { rules } = this.deps;
    const problem =
      rules.checkMemory(parent, request.memoryMiB, eifBytes) ??
      (request.cpuCount !== undefined ? rules.checkCpuCount(parent, request.cpuCount) : undefined) ??
      rules.checkCid(
        request.enclaveCid ?? 0,
        running.map((e) => e.EnclaveCID),
      ) ??
      rules.checkRequest(parent, request, eifBytes, running);
    if (problem !== undefined) throw refusalOf(problem);
    return { parentId: parent.id, request };
  }

  /** Waits for the enclave's end: streams the console of a debug-mode enclave, else watches its state. */
  private async follow(parentId: string, run: RunEnclaveJson, debug: boolean): Promise<number> {
    const stopHint = vscode.l10n.t('Terminate the task (or press Ctrl-C here) to terminate the enclave.');
    if (debug) {
      this.line(vscode.l10n.t('Console of {0} ({1})', run.EnclaveID, stopHint));
      try {
        const stream = await this.deps.backends.openConsole(parentId, run.EnclaveID);
        this.stream = stream;
        const decoder = new TextDecoder('utf-8');
        for await (const chunk of stream.chunks) {
          if (this.stopping) break;
          const text = decoder.decode(chunk, { stream: true });
          this.output += text;
          this.writer.fire(terminalText(text));
        }
      } catch (e) {
        // An enclave that ended at once has no console to connect to; one still running does.
        if (!this.stopping && (await this.isRunning(parentId, run.EnclaveID)))
          this.line(vscode.l10n.t('[Cannot read the console: {0}]', e instanceof Error ? e.message : String(e)));
      }
      if (!this.stopping) await this.waitForEnd(parentId, run.EnclaveID);
    } else {
      this.line(vscode.l10n.t('{0} runs in production mode, which has no console. {1}', run.EnclaveName, stopHint));
      await this.waitForEnd(parentId, run.EnclaveID);
    }
    if (this.stopping) return 130;
    this.line(vscode.l10n.t('[The enclave {0} has ended.]', run.EnclaveID));
    this.deps.onDidEnd();
    return 0;
  }

  private async isRunning(parentId: string, enclaveId: string): Promise<boolean> {
    try {
      return (await this.deps.backends.describeEnclaves(parentId)).some(
        (e) => e.EnclaveID === enclaveId && e.State !== 'EMPTY',
      );
    } catch {
      return true; // cannot tell: keep waiting (terminating the task still stops it)
    }
  }

  /** Resolves once the enclave is gone or the task is stopping (on the backends' changes, and every few seconds). */
  private waitForEnd(parentId: string, enclaveId: string): Promise<void> {
    return new Promise((resolve) => {
      let checking = false;
      const check = async () => {
        if (checking) return;
        checking = true;
        try {
          if (this.stopping || !(await this.isRunning(parentId, enclaveId))) {
            sub.dispose();
            clearInterval(timer);
            resolve();
          }
        } finally {
          checking = false;
        }
      };
      const sub = this.deps.backends.onDidChange(() => void check());
      const timer = setInterval(() => void check(), 3000);
      this.disposables.push({ dispose: () => sub.dispose() }, { dispose: () => clearInterval(timer) });
      this.stopWaiting = () => {
        sub.dispose();
        clearInterval(timer);
        resolve();
      };
      void check();
    });
  }

  private stopWaiting: () => void = () => undefined;

  /** The task stops (terminated, or Ctrl-C): the launch is cancelled, or the started enclave terminated. */
  private async stop(): Promise<void> {
    if (this.stopping || this.finished) return;
    this.stopping = true;
    this.cancel.cancel();
    this.stream?.dispose();
    this.stopWaiting();
    await this.terminateStarted();
    if (!this.started) return; // run() ends the task once the launch gives up
    this.finish(130);
  }

  private async terminateStarted(): Promise<void> {
    const started = this.started;
    if (!started) return;
    try {
      if (await this.isRunning(started.parentId, started.run.EnclaveID)) {
        await this.deps.backends.terminateEnclave(started.parentId, started.run.EnclaveID);
        this.line(vscode.l10n.t('Terminated {0}: the task was stopped.', started.run.EnclaveID));
        this.deps.log.info(`${RUN_TASK_TYPE} task ${this.name}: terminated ${started.run.EnclaveID}`);
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.line(`\x1b[31m${vscode.l10n.t('{0} was not terminated: {1}', started.run.EnclaveName, message)}\x1b[0m`);
      this.deps.log.error(
        `${RUN_TASK_TYPE} task ${this.name}: ${started.run.EnclaveID} was not terminated: ${message}`,
      );
    } finally {
      this.deps.onDidEnd();
    }
  }
}

function describeRequest(r: RunEnclaveRequest): string {
  return [
    path.basename(r.eifPath),
    vscode.l10n.t('{0} MiB', r.memoryMiB),
    r.cpuIds
      ? vscode.l10n.t('CPUs {0}', r.cpuIds.join(','))
      : r.cpuCount === 1
        ? vscode.l10n.t('1 CPU')
        : vscode.l10n.t('{0} CPUs', r.cpuCount ?? 0),
    ...(r.debugMode ? [vscode.l10n.t('debug mode')] : []),
    ...(r.enclaveName ? [vscode.l10n.t('name {0}', r.enclaveName)] : []),
    ...(r.enclaveCid ? [vscode.l10n.t('CID {0}', r.enclaveCid)] : []),
    ...(r.app ? [vscode.l10n.t('application {0}', [r.app.command, ...(r.app.args ?? [])].join(' '))] : []),
  ].join(', ');
}

/** The task provider: a task per image of the workspace, and the tasks of tasks.json. */
export class EnclaveTaskProvider implements vscode.TaskProvider {
  /** The terminals of the tasks run, newest last (for the extension-host tests). */
  readonly terminals: EnclaveTaskTerminal[] = [];

  constructor(private readonly deps: RunTaskDeps) {}

  /** One task per .eif of the workspace: debug mode, its minimum memory (at least 256 MiB), 2 CPUs. */
  async provideTasks(token: vscode.CancellationToken): Promise<vscode.Task[]> {
    const images = await vscode.workspace.findFiles('**/*.eif', '**/node_modules/**', 50, token);
    const tasks: vscode.Task[] = [];
    for (const image of images.sort((a, b) => a.fsPath.localeCompare(b.fsPath))) {
      const folder = vscode.workspace.getWorkspaceFolder(image);
      let bytes: number;
      try {
        bytes = (await stat(image.fsPath)).size;
      } catch {
        continue;
      }
      const rel = folder ? path.relative(folder.uri.fsPath, image.fsPath) : image.fsPath;
      const definition: EnclaveTaskDefinition = {
        type: RUN_TASK_TYPE,
        eif_path: rel,
        memory_mib: defaultMemoryMiB(this.deps.rules.minimumMemoryMiB(bytes), Number.MAX_SAFE_INTEGER),
        cpu_count: 2,
        debug_mode: true,
      };
      tasks.push(this.task(definition, folder ?? vscode.TaskScope.Workspace, `run ${rel}`));
    }
    return tasks;
  }

  resolveTask(task: vscode.Task): vscode.Task | undefined {
    const definition = task.definition as EnclaveTaskDefinition;
    if (definition.type !== RUN_TASK_TYPE) return undefined;
    return this.task(definition, task.scope ?? vscode.TaskScope.Workspace, task.name);
  }

  private task(
    definition: EnclaveTaskDefinition,
    scope: vscode.WorkspaceFolder | vscode.TaskScope,
    name: string,
  ): vscode.Task {
    const folder =
      scope && typeof scope === 'object' ? scope.uri.fsPath : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const execution = new vscode.CustomExecution(async () => {
      const terminal = new EnclaveTaskTerminal(this.deps, definition, name, folder);
      this.terminals.push(terminal);
      return terminal;
    });
    const task = new vscode.Task(definition, scope, name, RUN_TASK_TYPE, execution, []);
    task.detail = `run-enclave ${typeof definition.eif_path === 'string' ? definition.eif_path : ''}`.trim();
    task.isBackground = false;
    task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, panel: vscode.TaskPanelKind.Dedicated };
    return task;
  }
}
