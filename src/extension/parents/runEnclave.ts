// Run Enclave…: an image (a node of the Enclave Images view, an Explorer file, or one picked from
// the workspace), then one multi-step quick input: production or debug mode (or "Run with last
// settings", which skips the rest), memory, CPUs, name and CID, each checked as it is typed with the
// platform's rules (memory at least 4 × the image's size and the driver's 64 MiB, within the pool;
// CPUs within the pool; CID range; unique name), then, on a parent that can attach one (the
// emulator), an application's command line; then launched on the parent instance. The answers are
// remembered per image (lastSettings.ts).
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { pickImage } from '../images/imageFiles';
import { applicationRequest, checkApplicationLine } from './attachApplication';
import { describeSettings, requestOf, type LastRunSettings } from './lastSettings';
import { BACK, askInput, askPick, type StepAnswer, type Validation } from './multiStepInput';
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
  /** A command line remembered for this image before settings were remembered whole; offered when there are none. */
  readonly remembered?: string;
  /** Where the application starts: the image's workspace folder (else the image's folder). */
  readonly cwd: string;
}

/** Run Enclave's memory of an image: its last settings, and how to keep new ones. */
export interface RunMemory {
  readonly last?: LastRunSettings;
  remember(settings: LastRunSettings): Thenable<void> | void;
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

/** What Run Enclave's steps offer and check against. */
interface RunQuestions {
  readonly deps: RunDeps;
  readonly parent: ParentInfo;
  readonly eifBytes: number;
  readonly free: ReturnType<typeof freeOf>;
  readonly title: string;
  readonly steps: number;
  readonly takenNames: readonly string[];
  readonly takenCids: readonly number[];
  readonly attach?: AttachOptions;
}

/** The answers so far, as typed (each step opens on its answer when the user comes back to it). */
interface Answers {
  debugMode: boolean;
  memory: string;
  cpus: string;
  name: string;
  cid: string;
  app: string;
}

interface ModeItem extends vscode.QuickPickItem {
  readonly choice?: 'last' | 'production' | 'debug';
}

/** Asks for (or, with `args`, fills in) everything a run needs; undefined when the user cancels. */
export async function planRun(
  deps: RunDeps,
  parent: ParentInfo,
  eifPath: string,
  args?: Partial<RunEnclaveArgs>,
  attach?: AttachOptions,
  memory?: RunMemory,
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
    title: vscode.l10n.t('Run {0} on {1}', name, parent.name),
    steps: attach ? 6 : 5,
    takenNames: running.map((e) => e.EnclaveName),
    takenCids: running.map((e) => e.EnclaveCID),
    ...(attach ? { attach } : {}),
  };
  const last = memory?.last;
  const answers: Answers = {
    debugMode: last?.debugMode ?? false,
    memory: String(last?.memoryMiB ?? defaults.memoryMiB),
    cpus: String(last?.cpuCount ?? defaults.cpuCount),
    name: last?.enclaveName ?? defaults.enclaveName,
    cid: last?.enclaveCid ? String(last.enclaveCid) : '',
    app: last?.app ?? attach?.remembered ?? '',
  };
  // "Run with last settings": offered when they still pass the engine's checks; otherwise it says
  // why, and choosing it goes through the steps with them filled in.
  let lastProblem: string | undefined;
  if (last) {
    try {
      lastProblem = deps.rules.checkRequest(parent, requestOf(last, eifPath, attach?.cwd), eifBytes, running);
    } catch (e) {
      lastProblem = e instanceof Error ? e.message : String(e);
    }
  }

  const steps: ((q: RunQuestions, a: Answers) => Promise<StepAnswer<boolean>>)[] = [
    async (q, a) => {
      const answer = await askMode(q, a, last, lastProblem);
      if (answer === BACK || answer === undefined) return answer;
      if (answer.choice === 'last' && last) {
        a.debugMode = last.debugMode;
        return lastProblem === undefined; // true: run them as they are; false: go through the steps
      }
      a.debugMode = answer.choice === 'debug';
      return false;
    },
    async (q, a) => store(await askMemory(q, a.memory), (v) => (a.memory = v)),
    async (q, a) => store(await askCpuCount(q, a.cpus), (v) => (a.cpus = v)),
    async (q, a) => store(await askName(q, a.name), (v) => (a.name = v)),
    async (q, a) => store(await askCid(q, a.cid), (v) => (a.cid = v)),
    ...(attach
      ? [async (q: RunQuestions, a: Answers) => store(await askApplication(q, a.app), (v) => (a.app = v))]
      : []),
  ];
  for (let i = 0; i < steps.length;) {
    const step = steps[i] as (typeof steps)[number];
    const answer = await step(q, answers);
    if (answer === undefined) return undefined;
    if (answer === BACK) {
      i = Math.max(0, i - 1);
      continue;
    }
    if (answer === true && last) {
      // Run with last settings.
      const request = requestOf(last, eifPath, attach?.cwd);
      checkAll(deps, parent, request, eifBytes, running);
      await memory?.remember(last);
      return { parent, request };
    }
    i++;
  }
  const settings: LastRunSettings = {
    memoryMiB: parseWhole(answers.memory) as number,
    cpuCount: parseWhole(answers.cpus) as number,
    debugMode: answers.debugMode,
    enclaveName: answers.name,
    enclaveCid: parseWhole(answers.cid) ?? 0,
    app: attach ? answers.app.trim() : (last?.app ?? ''),
  };
  await memory?.remember(settings);
  const request = requestOf(settings, eifPath, attach?.cwd);
  checkAll(deps, parent, request, eifBytes, running);
  return { parent, request };
}

/** A text step's answer kept in the answers; BACK and undefined passed on. */
function store(answer: StepAnswer<string>, keep: (v: string) => void): StepAnswer<boolean> {
  if (answer === undefined || answer === BACK) return answer;
  keep(answer);
  return false;
}

/** Step 1: production or debug mode, or (when the image has them) the last settings. */
function askMode(
  q: RunQuestions,
  a: Answers,
  last: LastRunSettings | undefined,
  lastProblem: string | undefined,
): Promise<StepAnswer<ModeItem>> {
  const production: ModeItem = {
    label: vscode.l10n.t('Production'),
    description: vscode.l10n.t('no console'),
    detail: vscode.l10n.t('PCR0, 1, 2 and 8 measure the image: attestation proves what runs'),
    choice: 'production',
  };
  const debug: ModeItem = {
    label: vscode.l10n.t('Debug mode'),
    description: '--debug-mode',
    detail: vscode.l10n.t(
      'Has a console; PCR0, 1, 2 and 8 read as zero, so its attestation proves nothing about the image',
    ),
    choice: 'debug',
  };
  const lastItem: ModeItem | undefined = last && {
    label: vscode.l10n.t('$(history) Run with last settings'),
    description:
      lastProblem === undefined
        ? ''
        : vscode.l10n.t('$(warning) they cannot be used as they are: choose to change them'),
    detail: describeSettings(last, q.attach !== undefined) + (lastProblem === undefined ? '' : `. ${lastProblem}`),
    choice: 'last',
  };
  const items: ModeItem[] = lastItem
    ? [lastItem, { label: '', kind: vscode.QuickPickItemKind.Separator }, production, debug]
    : [production, debug];
  return askPick<ModeItem>({
    title: q.title,
    step: 1,
    totalSteps: q.steps,
    placeholder: lastItem
      ? vscode.l10n.t('Run with the last settings, or choose production or debug mode')
      : vscode.l10n.t('Production or debug mode?'),
    items,
    active: lastItem && lastProblem === undefined ? lastItem : a.debugMode ? debug : production,
  });
}

/** Step 2: the memory in MiB, checked against the image's minimum and the pool. */
function askMemory(q: RunQuestions, value: string): Promise<StepAnswer<string>> {
  const { deps, parent, eifBytes, free } = q;
  return askInput({
    title: q.title,
    step: 2,
    totalSteps: q.steps,
    prompt: vscode.l10n.t(
      'Memory in MiB, {0}. The pool has {1} of {2} MiB free.',
      deps.rules.memoryRule(eifBytes),
      free.memoryMiB,
      parent.pool.memoryMiB,
    ),
    placeholder: vscode.l10n.t('memory in MiB (at least {0})', deps.rules.minimumMemoryMiB(eifBytes)),
    value,
    validate: (text) => {
      const n = parseWhole(text);
      return n === undefined
        ? vscode.l10n.t('Enter the memory as a whole number of MiB.')
        : deps.rules.checkMemory(parent, n, eifBytes);
    },
  });
}

/** Step 3: the number of CPUs, checked against the pool. */
function askCpuCount(q: RunQuestions, value: string): Promise<StepAnswer<string>> {
  const { deps, parent, free } = q;
  return askInput({
    title: q.title,
    step: 3,
    totalSteps: q.steps,
    prompt: vscode.l10n.t(
      'Number of CPUs: the pool has {0} of {1} free ({2})',
      free.cpuIds.length,
      parent.pool.cpuIds.length,
      free.cpuIds.join(', ') || vscode.l10n.t('none'),
    ),
    placeholder: vscode.l10n.t('number of CPUs'),
    value,
    validate: (text) => {
      const n = parseWhole(text);
      return n === undefined
        ? vscode.l10n.t('Enter the number of CPUs as a whole number.')
        : deps.rules.checkCpuCount(parent, n);
    },
  });
}

/** Step 4: the enclave name (a name in use is told, with the one the enclave will get). */
function askName(q: RunQuestions, value: string): Promise<StepAnswer<string>> {
  return askInput({
    title: q.title,
    step: 4,
    totalSteps: q.steps,
    prompt: vscode.l10n.t('Enclave name'),
    placeholder: vscode.l10n.t('enclave name'),
    value,
    validate: (text): Validation => {
      if (text.trim() === '') return vscode.l10n.t('Enter a name.');
      const final = q.deps.rules.finalName(text, q.takenNames);
      return final === text
        ? undefined
        : {
            message: vscode.l10n.t('An enclave named {0} runs already: this one will be named {1}.', text, final),
            severity: vscode.InputBoxValidationSeverity.Info,
          };
    },
  });
}

/** Step 5: the CID, empty for the next free one. */
function askCid(q: RunQuestions, value: string): Promise<StepAnswer<string>> {
  return askInput({
    title: q.title,
    step: 5,
    totalSteps: q.steps,
    prompt: vscode.l10n.t('Enclave CID: empty for the next free one'),
    placeholder: vscode.l10n.t('next free CID'),
    value,
    validate: (text) => {
      if (text.trim() === '') return undefined;
      const n = parseWhole(text);
      return n === undefined
        ? vscode.l10n.t('Enter the CID as a whole number, or leave it empty.')
        : q.deps.rules.checkCid(n, q.takenCids);
    },
  });
}

/**
 * Step 6 (emulated parents only): the application, a command line started on this machine in the
 * image's workspace folder, its output the enclave's console, its exit the enclave's end; empty for
 * none.
 */
function askApplication(q: RunQuestions, value: string): Promise<StepAnswer<string>> {
  const attach = q.attach as AttachOptions;
  return askInput({
    title: vscode.l10n.t('{0}: Attach application', q.title),
    step: q.steps,
    totalSteps: q.steps,
    prompt: vscode.l10n.t(
      "Optional: a command started as the enclave's application in {0} (no shell: quotes group words). Its output goes to the enclave's console; when it exits, the enclave ends. Empty: none.", // eslint-disable-line max-len
      attach.cwd,
    ),
    placeholder: vscode.l10n.t('node app.js --port 5000 (empty: no application)'),
    value,
    validate: (text): Validation => {
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
      title: vscode.l10n.t('Starting {0} on {1}…', request.enclaveName ?? name, parent.name),
      cancellable: true,
    },
    (_progress, token) => deps.backend.runEnclave(parent.id, request, { cancellation: token }),
  );
  deps.log.info(`Run Enclave: started ${result.EnclaveID} (CID ${result.EnclaveCID}, CPUs ${result.CPUIDs.join(',')})`);
  return result;
}

/** Picks an .eif file of the workspace (or one from a file dialog). */
export function pickEif(): Promise<vscode.Uri | undefined> {
  return pickImage({
    title: vscode.l10n.t('Run Enclave'),
    placeHolder: vscode.l10n.t('The enclave image to run'),
    openLabel: vscode.l10n.t('Run'),
  });
}
