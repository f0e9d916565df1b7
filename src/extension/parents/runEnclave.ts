// Run Enclave…: an image (a node of the Enclave Images view, an Explorer file, or one picked from
// the workspace), then memory, CPUs, debug mode, name and CID, each checked as it is typed with the
// platform's rules (memory at least 4 × the image's size and the driver's 64 MiB, within the pool;
// CPUs within the pool; CID range; unique name), then, on a parent that can attach one (the
// emulator), an application's command line remembered per image, then launched on the parent instance.
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { pickImage } from '../images/imageFiles';
import { applicationRequest, checkApplicationLine } from './attachApplication';
import type {
  DescribeEnclaveJson,
  EnclaveOperations,
  ParentInfo,
  RunEnclaveJson,
  RunEnclaveRequest,
} from '../../engine';
import { freeOf } from '../tree/parentsTree';
import type { RunRules } from './backendHost';

/** Run Enclave's argument when invoked programmatically: runs without asking (defaults fill what is missing). */
export interface RunEnclaveArgs {
  readonly eif: vscode.Uri | string;
  readonly parentId?: string;
  readonly memoryMiB?: number;
  readonly cpuCount?: number;
  readonly debugMode?: boolean;
  readonly enclaveName?: string;
  /** 0 or absent: the next free CID. */
  readonly enclaveCid?: number;
  /** The application's command line (`node app.js`), started in the image's workspace folder; empty or absent: none. */
  readonly app?: string;
  /** With an application in debug mode: open its console once it runs (the interactive command always does). */
  readonly openConsole?: boolean;
}

export function isRunEnclaveArgs(arg: unknown): arg is RunEnclaveArgs {
  return (
    !!arg && typeof arg === 'object' && 'eif' in arg && (typeof arg.eif === 'string' || arg.eif instanceof vscode.Uri)
  );
}

/** A whole number written in decimal, or undefined. */
export function parseWhole(text: string): number | undefined {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The memory offered first: the image's minimum, at least 256 MiB, in 64 MiB steps, within what is free. */
export function defaultMemoryMiB(minimum: number, free: number): number {
  const wanted = Math.ceil(Math.max(minimum, 256) / 64) * 64;
  return wanted <= free ? wanted : Math.max(minimum, free);
}

export interface RunDeps {
  readonly backend: EnclaveOperations;
  readonly rules: RunRules;
  readonly log: vscode.LogOutputChannel;
}

/** The Attach application step, offered when the parent's backend can attach one (the emulator). */
export interface AttachOptions {
  /** The command line last given for this image ('' for none), offered again. */
  readonly remembered?: string;
  /** Where the application starts: the image's workspace folder (else the image's folder). */
  readonly cwd: string;
  /** Keeps the command line given for this image. */
  remember(text: string): Thenable<void> | void;
}

export interface RunPlan {
  readonly parent: ParentInfo;
  readonly request: RunEnclaveRequest;
}

/** The engine's whole check of a request, before launching (it checks again when it runs). */
function checkAll(
  deps: RunDeps,
  parent: ParentInfo,
  request: RunEnclaveRequest,
  eifBytes: number,
  running: readonly DescribeEnclaveJson[],
): void {
  const problem = deps.rules.checkRequest(parent, request, eifBytes, running);
  if (problem !== undefined) throw new Error(problem);
}

/** What Run Enclave's questions offer and check against. */
interface RunQuestions {
  readonly deps: RunDeps;
  readonly parent: ParentInfo;
  readonly eifBytes: number;
  readonly free: ReturnType<typeof freeOf>;
  readonly title: string;
  readonly steps: number;
  readonly takenNames: readonly string[];
  readonly takenCids: readonly number[];
  readonly defaults: { readonly memoryMiB: number; readonly cpuCount: number; readonly enclaveName: string };
  readonly attach?: AttachOptions;
}

/** Asks for (or, with `args`, fills in) everything a run needs; undefined when the user cancels. */
export async function planRun(
  deps: RunDeps,
  parent: ParentInfo,
  eifPath: string,
  args?: Partial<RunEnclaveArgs>,
  attach?: AttachOptions,
): Promise<RunPlan | undefined> {
  const eifBytes = (await stat(eifPath)).size;
  const existing = await deps.backend.describeEnclaves(parent.id);
  const running = existing.filter((e) => e.State !== 'EMPTY');
  const free = freeOf(parent);
  const minimum = deps.rules.minimumMemoryMiB(eifBytes);
  const name = path.basename(eifPath);
  const defaults = {
    memoryMiB: defaultMemoryMiB(minimum, free.memoryMiB),
    cpuCount: Math.min(2, free.cpuIds.length) || 2,
    enclaveName: deps.rules.defaultName(eifPath),
  };

  if (args) {
    let request: RunEnclaveRequest = {
      eifPath,
      memoryMiB: args.memoryMiB ?? defaults.memoryMiB,
      cpuCount: args.cpuCount ?? defaults.cpuCount,
      debugMode: args.debugMode ?? false,
      enclaveName: args.enclaveName ?? defaults.enclaveName,
      ...(args.enclaveCid ? { enclaveCid: args.enclaveCid } : {}),
    };
    if (args.app !== undefined && args.app.trim() !== '') {
      if (!attach)
        throw new Error(
          `${parent.name} cannot attach an application: only an emulated parent runs one beside its enclave ` +
            `(nitro-cli refuses --app with E03).`,
        );
      const app = applicationRequest(args.app, attach.cwd);
      if (app) request = { ...request, app };
    }
    checkAll(deps, parent, request, eifBytes, running);
    return { parent, request };
  }

  const q: RunQuestions = {
    deps,
    parent,
    eifBytes,
    free,
    title: `Run ${name} on ${parent.name}`,
    steps: attach ? 6 : 5,
    takenNames: running.map((e) => e.EnclaveName),
    takenCids: running.map((e) => e.EnclaveCID),
    defaults,
    ...(attach ? { attach } : {}),
  };
  const memoryText = await askMemory(q);
  if (memoryText === undefined) return undefined;
  const cpuText = await askCpuCount(q);
  if (cpuText === undefined) return undefined;
  const mode = await askMode(q);
  if (!mode) return undefined;
  const enclaveName = await askName(q);
  if (enclaveName === undefined) return undefined;
  const cidText = await askCid(q);
  if (cidText === undefined) return undefined;
  let appText: string | undefined;
  if (q.attach) {
    appText = await askApplication(q, q.attach);
    if (appText === undefined) return undefined;
    await q.attach.remember(appText.trim());
  }
  const cid = parseWhole(cidText) ?? 0;
  const app = appText !== undefined && q.attach ? applicationRequest(appText, q.attach.cwd) : undefined;
  const request: RunEnclaveRequest = {
    eifPath,
    memoryMiB: parseWhole(memoryText) as number,
    cpuCount: parseWhole(cpuText),
    debugMode: mode.debug,
    enclaveName,
    ...(cid ? { enclaveCid: cid } : {}),
    ...(app ? { app } : {}),
  };
  checkAll(deps, parent, request, eifBytes, running);
  return { parent, request };
}

/** Step 1: the memory in MiB, checked against the image's minimum and the pool. */
function askMemory(q: RunQuestions): Thenable<string | undefined> {
  const { deps, parent, eifBytes, free } = q;
  return vscode.window.showInputBox({
    title: `${q.title} (1/${q.steps})`,
    prompt:
      `Memory in MiB, ${deps.rules.memoryRule(eifBytes)}. ` +
      `The pool has ${free.memoryMiB} of ${parent.pool.memoryMiB} MiB free.`,
    value: String(q.defaults.memoryMiB),
    ignoreFocusOut: true,
    validateInput: (text) => {
      const n = parseWhole(text);
      return n === undefined
        ? 'Enter the memory as a whole number of MiB.'
        : deps.rules.checkMemory(parent, n, eifBytes);
    },
  });
}

/** Step 2: the number of CPUs, checked against the pool. */
function askCpuCount(q: RunQuestions): Thenable<string | undefined> {
  const { deps, parent, free } = q;
  return vscode.window.showInputBox({
    title: `${q.title} (2/${q.steps})`,
    prompt:
      `Number of CPUs: the pool has ${free.cpuIds.length} of ${parent.pool.cpuIds.length} free ` +
      `(${free.cpuIds.join(', ') || 'none'})`,
    value: String(q.defaults.cpuCount),
    ignoreFocusOut: true,
    validateInput: (text) => {
      const n = parseWhole(text);
      return n === undefined ? 'Enter the number of CPUs as a whole number.' : deps.rules.checkCpuCount(parent, n);
    },
  });
}

/** Step 3: production or debug mode. */
function askMode(q: RunQuestions): Thenable<{ debug: boolean } | undefined> {
  return vscode.window.showQuickPick(
    [
      {
        label: 'Production',
        description: 'no console',
        detail: 'PCR0, 1, 2 and 8 measure the image: attestation proves what runs',
        debug: false,
      },
      {
        label: 'Debug mode',
        description: '--debug-mode',
        detail: 'Has a console; PCR0, 1, 2 and 8 read as zero, so its attestation proves nothing about the image',
        debug: true,
      },
    ],
    { title: `${q.title} (3/${q.steps})`, placeHolder: 'Production or debug mode?', ignoreFocusOut: true },
  );
}

/** Step 4: the enclave name (a name in use is told, with the one the enclave will get). */
function askName(q: RunQuestions): Thenable<string | undefined> {
  return vscode.window.showInputBox({
    title: `${q.title} (4/${q.steps})`,
    prompt: 'Enclave name',
    value: q.defaults.enclaveName,
    ignoreFocusOut: true,
    validateInput: (text): string | vscode.InputBoxValidationMessage | undefined => {
      if (text.trim() === '') return 'Enter a name.';
      const final = q.deps.rules.finalName(text, q.takenNames);
      return final === text
        ? undefined
        : {
            message: `An enclave named ${text} runs already: this one will be named ${final}.`,
            severity: vscode.InputBoxValidationSeverity.Info,
          };
    },
  });
}

/** Step 5: the CID, empty for the next free one. */
function askCid(q: RunQuestions): Thenable<string | undefined> {
  return vscode.window.showInputBox({
    title: `${q.title} (5/${q.steps})`,
    prompt: 'Enclave CID: empty for the next free one',
    placeHolder: 'next free CID',
    ignoreFocusOut: true,
    validateInput: (text) => {
      if (text.trim() === '') return undefined;
      const n = parseWhole(text);
      return n === undefined
        ? 'Enter the CID as a whole number, or leave it empty.'
        : q.deps.rules.checkCid(n, q.takenCids);
    },
  });
}

/**
 * Step 6 (emulated parents only): the application, a command line started on this machine in the
 * image's workspace folder, its output the enclave's console, its exit the enclave's end; empty for
 * none. The last line given for this image is offered again.
 */
function askApplication(q: RunQuestions, attach: AttachOptions): Thenable<string | undefined> {
  return vscode.window.showInputBox({
    title: `${q.title} (${q.steps}/${q.steps}): Attach application`,
    prompt:
      `Optional: a command started as the enclave's application in ${attach.cwd} (no shell: quotes group words). ` +
      `Its output goes to the enclave's console; when it exits, the enclave ends. Empty: none.`,
    placeHolder: 'node app.js --port 5000 (empty: no application)',
    value: attach.remembered ?? '',
    ignoreFocusOut: true,
    validateInput: (text): string | vscode.InputBoxValidationMessage | undefined => {
      const check = checkApplicationLine(text);
      if (check === undefined) return undefined;
      if ('error' in check) return check.error;
      return { message: check.info, severity: vscode.InputBoxValidationSeverity.Info };
    },
  });
}

/** Launches a planned run with a progress notification; returns run-enclave's JSON. */
export async function launch(deps: RunDeps, plan: RunPlan): Promise<RunEnclaveJson> {
  const { parent, request } = plan;
  const name = path.basename(request.eifPath);
  deps.log.info(
    `Run Enclave: ${name} on ${parent.id}: ${request.memoryMiB} MiB, ${request.cpuCount} CPUs` +
      `${request.debugMode ? ', debug mode' : ''}, name ${request.enclaveName}` +
      `${request.app ? `, application ${[request.app.command, ...(request.app.args ?? [])].join(' ')}` : ''}`,
  );
  const result = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Starting ${request.enclaveName ?? name} on ${parent.name}…`,
      cancellable: true,
    },
    (_progress, token) => deps.backend.runEnclave(parent.id, request, { cancellation: token }),
  );
  deps.log.info(`Run Enclave: started ${result.EnclaveID} (CID ${result.EnclaveCID}, CPUs ${result.CPUIDs.join(',')})`);
  return result;
}

/** Picks an .eif file of the workspace (or one from a file dialog). */
export function pickEif(): Promise<vscode.Uri | undefined> {
  return pickImage({ title: 'Run Enclave', placeHolder: 'The enclave image to run', openLabel: 'Run' });
}
