// Building enclave images in VS Code: the "Build Enclave Image…" quick-input flow, the `nitro-eif`
// task type (tasks.json and Tasks: Run Task), and the reproducibility check. All three run the
// engine's builder in the extension host; none needs Docker.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CancelledError, formatJson, parseCustomMetadata } from '../../engine';
import {
  buildProgressText,
  loadImageBuild,
  readPem,
  type BuildOptions,
  type BuildProgress,
  type BuildResult,
  type ReproducibilityReport,
} from '../../engine/node';
import type { Ctx } from '../ctx';
import { COMMANDS, EIF_VIEWER, SETTINGS, TASK_TYPE } from '../ids';
import type { ImagesTreeProvider } from '../tree/imagesTree';
import { registerCommand } from '../commands/registerCommands';
import { DEFAULT_BLOBS_DIR, blobsFolderStatus } from '../../engine/node';
import { blobsPrompt, buildOptionsOf, commandLineOf, normalizeRequest, type BuildRequest } from './buildRequest';

/** Share of the whole build each stage stands for, for one progress bar. */
const STAGE_SPAN: Record<BuildProgress['stage'], [number, number]> = {
  resolving: [0, 2],
  layers: [2, 60],
  folder: [2, 60],
  ramdisk: [60, 75],
  measuring: [75, 85],
  writing: [85, 100],
};

export function overallPercent(p: BuildProgress): number {
  const [from, to] = STAGE_SPAN[p.stage];
  const frac = p.total ? Math.min(1, p.done / Math.max(1, p.total)) : 0;
  return from + (to - from) * frac;
}

/** The workspace folder a path or task belongs to (its fs path), else the first one. */
function folderFor(scope?: vscode.WorkspaceFolder | vscode.TaskScope): string | undefined {
  if (scope && typeof scope === 'object') return scope.uri.fsPath;
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

/** Reads what the engine needs besides the request itself: PEMs, custom metadata, env, blobs setting. */
async function engineOptions(
  request: BuildRequest,
  extra: Pick<BuildOptions, 'cancellation' | 'onProgress' | 'log'>,
): Promise<BuildOptions> {
  const blobsSetting = vscode.workspace.getConfiguration().get<string>(SETTINGS.buildBlobsPath, '').trim();
  const withBlobs: BuildRequest = request.blobs || !blobsSetting ? request : { ...request, blobs: blobsSetting };
  const signing =
    withBlobs.signingCertificate && withBlobs.privateKey
      ? {
          certificatePem: await readPem(withBlobs.signingCertificate),
          privateKeyPem: await readPem(withBlobs.privateKey),
        }
      : undefined;
  const customMetadata = withBlobs.metadata
    ? parseCustomMetadata(await readFile(withBlobs.metadata), withBlobs.metadata)
    : undefined;
  return buildOptionsOf(withBlobs, {
    env: process.env,
    ...(signing ? { signing } : {}),
    ...(customMetadata !== undefined ? { customMetadata } : {}),
    ...extra,
  });
}

/** Runs a build behind a cancellable notification. Resolves to undefined when cancelled. */
async function buildWithProgress(ctx: Ctx, request: BuildRequest): Promise<BuildResult | undefined> {
  return vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: vscode.l10n.t('Building {0}', path.basename(request.output)),
      cancellable: true,
    },
    async (progress, token) => {
      let shown = 0;
      const options = await engineOptions(request, {
        cancellation: token,
        onProgress: (p) => {
          const pct = overallPercent(p);
          progress.report({ message: buildProgressText(p), increment: Math.max(0, pct - shown) });
          shown = Math.max(shown, pct);
        },
        log: (line) => ctx.log.info(line),
      });
      ctx.log.info(`Building: ${commandLineOf(request)}`);
      try {
        return await (await loadImageBuild()).buildEnclave(options);
      } catch (e) {
        if (e instanceof CancelledError || token.isCancellationRequested) {
          ctx.log.info(`Build of ${request.output} cancelled; nothing was written.`);
          return undefined;
        }
        throw e;
      }
    },
  );
}

interface Choice<T> extends vscode.QuickPickItem {
  readonly value: T;
}

/** The quick-input flow: source, output, blobs (remembered), signing. Undefined when dismissed. */
async function askForRequest(): Promise<BuildRequest | undefined> {
  const picked = await askSource();
  if (!picked) return undefined;
  const { source, baseName } = picked;
  const target = await askOutput(baseName);
  if (!target) return undefined;
  const blobsAnswer = await askBlobs();
  if (!blobsAnswer) return undefined;
  const { blobs } = blobsAnswer;
  const signing = await askSigning();
  if (!signing) return undefined;
  return { ...source, output: target.fsPath, ...(blobs ? { blobs } : {}), ...signing };
}

/** Step 1/4: the image source (its kind, then the image), and a base name for the output file. */
async function askSource(): Promise<{ source: Partial<BuildRequest>; baseName: string } | undefined> {
  const kind = await vscode.window.showQuickPick<Choice<'oci' | 'archive' | 'docker'>>(
    [
      {
        label: vscode.l10n.t('$(folder) OCI image layout'),
        description: vscode.l10n.t(
          'a folder with index.json and blobs/ (skopeo, umoci, buildah, `docker buildx --output type=oci`)',
        ),
        value: 'oci',
      },
      {
        label: vscode.l10n.t('$(file-zip) Image archive'),
        description: vscode.l10n.t('an OCI archive or a `docker save` .tar'),
        value: 'archive',
      },
      {
        label: vscode.l10n.t('$(package) Docker image'),
        description: vscode.l10n.t('exported with `docker save` (needs the docker CLI and daemon)'),
        value: 'docker',
      },
    ],
    {
      title: vscode.l10n.t('Build Enclave Image (1/4): image source'),
      placeHolder: vscode.l10n.t('Where does the image come from?'),
      ignoreFocusOut: true,
    },
  );
  if (!kind) return undefined;
  return kind.value === 'docker' ? askDockerSource() : askFileSource(kind.value);
}

/** Step 1/4 for a Docker image: its name. */
async function askDockerSource(): Promise<{ source: Partial<BuildRequest>; baseName: string } | undefined> {
  const uri = await vscode.window.showInputBox({
    title: vscode.l10n.t('Build Enclave Image (1/4): Docker image'),
    prompt: vscode.l10n.t(
      'Image name, e.g. public.ecr.aws/aws-nitro-enclaves/hello:v1 (":latest" is added when no tag is given)',
    ),
    ignoreFocusOut: true,
    validateInput: (v) => (v.trim() === '' ? vscode.l10n.t('An image name is required') : undefined),
  });
  if (!uri) return undefined;
  const baseName =
    uri
      .trim()
      .replace(/[:@].*$/, '')
      .split('/')
      .pop() || 'enclave';
  return { source: { dockerUri: uri.trim() }, baseName };
}

/** Step 1/4 for an OCI layout folder (and its tag when it holds several images) or an image archive. */
async function askFileSource(
  kind: 'oci' | 'archive',
): Promise<{ source: Partial<BuildRequest>; baseName: string } | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title: kind === 'oci' ? vscode.l10n.t('OCI image layout folder') : vscode.l10n.t('Image archive'),
    canSelectFiles: kind === 'archive',
    canSelectFolders: kind === 'oci',
    canSelectMany: false,
    ...(kind === 'archive'
      ? { filters: { [vscode.l10n.t('Image archives')]: ['tar'], [vscode.l10n.t('All files')]: ['*'] } }
      : {}),
    ...(vscode.workspace.workspaceFolders?.[0] ? { defaultUri: vscode.workspace.workspaceFolders[0].uri } : {}),
  });
  const chosen = picked?.[0];
  if (!chosen) return undefined;
  let reference = '';
  if (kind === 'oci') {
    const tags = await layoutTags(chosen);
    if (tags.length > 1) {
      const tag = await vscode.window.showQuickPick(tags, {
        title: vscode.l10n.t('Build Enclave Image (1/4): which image of the layout?'),
        ignoreFocusOut: true,
      });
      if (!tag) return undefined;
      reference = `:${tag}`;
    }
  }
  const source = kind === 'oci' ? { ociLayout: `${chosen.fsPath}${reference}` } : { imageArchive: chosen.fsPath };
  return { source, baseName: path.basename(chosen.fsPath).replace(/\.tar$/, '') };
}

/** Step 2/4: the output file, offered as `<baseName>.eif` in the first workspace folder. */
async function askOutput(baseName: string): Promise<vscode.Uri | undefined> {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  return vscode.window.showSaveDialog({
    title: vscode.l10n.t('Build Enclave Image (2/4): output file'),
    filters: { [vscode.l10n.t('Enclave images')]: ['eif'] },
    ...(folder ? { defaultUri: vscode.Uri.joinPath(folder, `${baseName}.eif`) } : {}),
  });
}

/**
 * Step 3/4, only when neither the setting nor NITRO_CLI_BLOBS names the blobs folder: the default folder
 * or one picked (remembered in the setting). `blobs` is empty for the builder's default.
 */
async function askBlobs(): Promise<{ blobs: string } | undefined> {
  const config = vscode.workspace.getConfiguration();
  let blobs = config.get<string>(SETTINGS.buildBlobsPath, '').trim();
  if (!blobs && !process.env['NITRO_CLI_BLOBS']) {
    // The default folder is offered only where it exists and holds the blobs.
    const prompt = blobsPrompt(await blobsFolderStatus(DEFAULT_BLOBS_DIR));
    const choice = await vscode.window.showQuickPick<Choice<'default' | 'pick'>>(
      prompt.items.map((item) => ({ ...item })),
      {
        title: vscode.l10n.t('Build Enclave Image (3/4): blobs'),
        placeHolder: prompt.placeHolder,
        ignoreFocusOut: true,
      },
    );
    if (!choice) return undefined;
    if (choice.value === 'pick') {
      const dir = await vscode.window.showOpenDialog({
        title: vscode.l10n.t('Blobs folder'),
        canSelectFolders: true,
        canSelectFiles: false,
        canSelectMany: false,
      });
      if (!dir?.[0]) return undefined;
      blobs = dir[0].fsPath;
      await config.update(SETTINGS.buildBlobsPath, blobs, vscode.ConfigurationTarget.Global);
    }
  }
  return { blobs };
}

/** Step 4/4: unsigned, or a certificate and its private key. */
async function askSigning(): Promise<Partial<BuildRequest> | undefined> {
  const sign = await vscode.window.showQuickPick<Choice<boolean>>(
    [
      { label: vscode.l10n.t('$(unlock) Do not sign'), value: false },
      {
        label: vscode.l10n.t('$(lock) Sign…'),
        description: vscode.l10n.t('with a PEM certificate and its EC private key (adds PCR8)'),
        value: true,
      },
    ],
    { title: vscode.l10n.t('Build Enclave Image (4/4): signing'), ignoreFocusOut: true },
  );
  if (!sign) return undefined;
  if (!sign.value) return {};
  const cert = await vscode.window.showOpenDialog({
    title: vscode.l10n.t('Signing certificate (PEM)'),
    canSelectMany: false,
    filters: { PEM: ['pem', 'crt'], [vscode.l10n.t('All files')]: ['*'] },
  });
  if (!cert?.[0]) return undefined;
  const key = await vscode.window.showOpenDialog({
    title: vscode.l10n.t('Private key (PEM)'),
    canSelectMany: false,
    filters: { PEM: ['pem', 'key'], [vscode.l10n.t('All files')]: ['*'] },
  });
  if (!key?.[0]) return undefined;
  return { signingCertificate: cert[0].fsPath, privateKey: key[0].fsPath };
}

/** The ref names of an OCI layout's index (for the tag quick pick). */
async function layoutTags(dir: vscode.Uri): Promise<string[]> {
  try {
    const index = JSON.parse(
      new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(dir, 'index.json'))),
    ) as {
      manifests?: { annotations?: Record<string, string> }[];
    };
    return (index.manifests ?? [])
      .map((m) => m.annotations?.['org.opencontainers.image.ref.name'])
      .filter((t): t is string => typeof t === 'string');
  } catch {
    return [];
  }
}

/** What the build command does with a finished build: refresh the view, say so, offer next steps (Run first). */
async function announce(ctx: Ctx, images: ImagesTreeProvider, result: BuildResult): Promise<void> {
  const uri = vscode.Uri.file(result.output);
  images.service.invalidate(uri);
  images.refresh();
  ctx.log.info(`Built ${result.output}: ${formatJson({ Measurements: result.measurements }).replace(/\s+/g, ' ')}`);
  const run = vscode.l10n.t('Run Enclave');
  const open = vscode.l10n.t('Open');
  const copyMeasurements = vscode.l10n.t('Copy Measurements');
  const choice = await vscode.window.showInformationMessage(
    vscode.l10n.t('Built {0} (PCR0 {1}…).', path.basename(result.output), result.measurements.PCR0.slice(0, 16)),
    run,
    open,
    copyMeasurements,
  );
  // Run Enclave's own flow, on the new image (on the current parent).
  if (choice === run) await vscode.commands.executeCommand(COMMANDS.enclaveRun, uri);
  if (choice === open) await vscode.commands.executeCommand('vscode.openWith', uri, EIF_VIEWER);
  if (choice === copyMeasurements)
    await vscode.env.clipboard.writeText(formatJson({ Measurements: result.measurements }));
}

// ---------------------------------------------------------------------------------------------
// The nitro-eif task type.

/** A task's terminal: runs the build in the extension host and prints what the CLI would. */
class BuildTerminal implements vscode.Pseudoterminal {
  private readonly writer = new vscode.EventEmitter<string>();
  private readonly closer = new vscode.EventEmitter<number>();
  readonly onDidWrite = this.writer.event;
  readonly onDidClose = this.closer.event;
  private readonly cancel = new vscode.CancellationTokenSource();
  private lastProgress = '';

  constructor(
    private readonly ctx: Ctx,
    private readonly images: ImagesTreeProvider,
    private readonly request: BuildRequest,
  ) {}

  private line(text: string): void {
    this.writer.fire(`${text.replace(/\r?\n/g, '\r\n')}\r\n`);
  }

  open(): void {
    void this.run();
  }

  close(): void {
    this.cancel.cancel();
  }

  handleInput(data: string): void {
    if (data === '\x03') this.cancel.cancel();
  }

  private async run(): Promise<void> {
    let code = 0;
    try {
      this.line(`\x1b[2m> ${commandLineOf(this.request)}\x1b[0m`);
      this.line('Start building the Enclave Image...');
      const options = await engineOptions(this.request, {
        cancellation: this.cancel.token,
        onProgress: (p) => {
          const text = buildProgressText(p);
          if (text === this.lastProgress) return;
          this.lastProgress = text;
          this.writer.fire(`\r\x1b[K${text}`);
        },
        log: (line) => {
          this.writer.fire('\r\x1b[K');
          this.line(line);
        },
      });
      const result = await (await loadImageBuild()).buildEnclave(options);
      this.writer.fire('\r\x1b[K');
      this.line('Enclave Image successfully created.');
      this.line(formatJson({ Measurements: result.measurements }).trimEnd());
      this.images.service.invalidate(vscode.Uri.file(result.output));
      this.images.refresh();
    } catch (e) {
      this.writer.fire('\r\x1b[K');
      if (e instanceof CancelledError) {
        this.line(vscode.l10n.t('Build cancelled; nothing was written.'));
        code = 130;
      } else {
        const message = e instanceof Error ? e.message : String(e);
        this.line(`\x1b[31m[ E48 ] EIF building error. ${message}\x1b[0m`);
        this.ctx.log.error(`nitro-eif task failed: ${message}`);
        code = 48;
      }
    }
    this.closer.fire(code);
  }
}

class BuildTaskProvider implements vscode.TaskProvider {
  constructor(
    private readonly ctx: Ctx,
    private readonly images: ImagesTreeProvider,
  ) {}

  /**
   * One task per image of each OCI layout in the workspace (found by its `oci-layout` file),
   * building `<folder>[-<tag>].eif` next to it.
   */
  async provideTasks(token: vscode.CancellationToken): Promise<vscode.Task[]> {
    const markers = await vscode.workspace.findFiles('**/oci-layout', '**/node_modules/**', 50, token);
    const tasks: vscode.Task[] = [];
    for (const marker of markers.sort((a, b) => a.fsPath.localeCompare(b.fsPath))) {
      const dir = path.dirname(marker.fsPath);
      const folder = vscode.workspace.getWorkspaceFolder(marker);
      const rel = (p: string) => (folder ? path.relative(folder.uri.fsPath, p) || '.' : p);
      const tags = await layoutTags(vscode.Uri.file(dir));
      for (const tag of tags.length > 1 ? tags : [undefined]) {
        const definition: vscode.TaskDefinition & BuildRequest = {
          type: TASK_TYPE,
          ociLayout: tag ? `${rel(dir)}:${tag}` : rel(dir),
          output: rel(tag ? `${dir}-${tag}.eif` : `${dir}.eif`),
        };
        tasks.push(this.task(definition, folder ?? vscode.TaskScope.Workspace, `build ${definition.ociLayout}`));
      }
    }
    return tasks;
  }

  resolveTask(task: vscode.Task): vscode.Task | undefined {
    const definition = task.definition as vscode.TaskDefinition & BuildRequest;
    if (definition.type !== TASK_TYPE) return undefined;
    return this.task(definition, task.scope ?? vscode.TaskScope.Workspace, task.name);
  }

  private task(
    definition: vscode.TaskDefinition & BuildRequest,
    scope: vscode.WorkspaceFolder | vscode.TaskScope,
    name: string,
  ): vscode.Task {
    const execution = new vscode.CustomExecution(async () => {
      try {
        const request = normalizeRequest(definition, folderFor(scope), process.env);
        return new BuildTerminal(this.ctx, this.images, request);
      } catch (e) {
        return errorTerminal(
          `[ E48 ] EIF building error. The task definition: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    });
    const task = new vscode.Task(definition, scope, name, 'nitro-eif', execution, []);
    task.group = vscode.TaskGroup.Build;
    task.detail = commandLineOf(definition);
    return task;
  }
}

/** A terminal that prints one error and closes with exit code 2 (a task definition that cannot run). */
function errorTerminal(message: string): vscode.Pseudoterminal {
  const writer = new vscode.EventEmitter<string>();
  const closer = new vscode.EventEmitter<number>();
  return {
    onDidWrite: writer.event,
    onDidClose: closer.event,
    open: () => {
      writer.fire(`\x1b[31m${message}\x1b[0m\r\n`);
      closer.fire(2);
    },
    close: () => undefined,
  };
}

// ---------------------------------------------------------------------------------------------

/** The reproducibility check's message for a report. */
export function reproducibilityMessage(report: ReproducibilityReport): string {
  const d = report.difference;
  if (d.identical)
    return (
      `Reproducible: two builds gave identical images ` +
      `(${d.size} bytes, SHA-384 ${d.sha384.slice(0, 16)}…, PCR0 ${report.first.measurements.PCR0.slice(0, 16)}…).`
    );
  return (
    `Not reproducible: the two builds first differ at byte ${d.offset}, in ${d.where} ` +
    `(sizes ${d.sizes[0]} and ${d.sizes[1]}).`
  );
}

export interface BuildApi {
  /** Runs a build the way the command does (with its notification), without the quick-input flow. */
  build(request: BuildRequest): Promise<BuildResult | undefined>;
  /** The reproducibility check of a request (its output is ignored). */
  checkReproducibility(request: Omit<BuildRequest, 'output'>): Promise<ReproducibilityReport | undefined>;
  /** What the task provider makes of a `nitro-eif` task (as for a tasks.json entry). */
  taskFor(task: vscode.Task): vscode.Task | undefined;
}

export function registerBuild(ctx: Ctx, images: ImagesTreeProvider): BuildApi {
  const build = async (arg?: unknown): Promise<BuildResult | undefined> => {
    const raw = isRequest(arg) ? arg : await askForRequest();
    if (!raw) return undefined;
    const request = normalizeRequest(raw, folderFor(), process.env);
    const result = await buildWithProgress(ctx, request);
    if (result) void announce(ctx, images, result);
    return result;
  };
  const reproducible = async (arg?: unknown): Promise<ReproducibilityReport | undefined> => {
    const raw = isRequest(arg, false) ? arg : await askForRequest();
    if (!raw) return undefined;
    const request = normalizeRequest({ ...raw, output: raw.output || 'unused.eif' }, folderFor(), process.env);
    const report = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: vscode.l10n.t('Checking build reproducibility'),
        cancellable: true,
      },
      async (progress, token) => {
        let pass = 0;
        let shown = 0;
        const options = await engineOptions(request, {
          cancellation: token,
          onProgress: (p) => {
            if (p.stage === 'resolving' && p.done === 0) pass++;
            const pct = ((pass - 1) * 100 + overallPercent(p)) / 2;
            progress.report({
              message: vscode.l10n.t('build {0} of 2: {1}', pass, buildProgressText(p)),
              increment: Math.max(0, pct - shown),
            });
            shown = Math.max(shown, pct);
          },
          log: (line) => ctx.log.info(line),
        });
        try {
          return await (await loadImageBuild()).checkReproducibility(options);
        } catch (e) {
          if (e instanceof CancelledError || token.isCancellationRequested) return undefined;
          throw e;
        }
      },
    );
    if (!report) return undefined;
    const message = reproducibilityMessage(report);
    ctx.log.info(message);
    if (report.difference.identical) void vscode.window.showInformationMessage(message);
    else void vscode.window.showWarningMessage(message);
    return report;
  };
  registerCommand(ctx, COMMANDS.imageBuild, build);
  registerCommand(ctx, COMMANDS.imageCheckReproducibility, reproducible);
  const provider = new BuildTaskProvider(ctx, images);
  ctx.push(vscode.tasks.registerTaskProvider(TASK_TYPE, provider));
  return {
    taskFor: (task) => provider.resolveTask(task),
    build: (request) => build(request),
    checkReproducibility: (request) => reproducible({ ...request, output: '' }),
  };
}

function isRequest(arg: unknown, needOutput = true): arg is BuildRequest {
  if (typeof arg !== 'object' || arg === null || arg instanceof vscode.Uri) return false;
  const r = arg as Record<string, unknown>;
  return (
    (typeof r['ociLayout'] === 'string' ||
      typeof r['imageArchive'] === 'string' ||
      typeof r['dockerUri'] === 'string' ||
      typeof r['rootfs'] === 'string') &&
    (!needOutput || typeof r['output'] === 'string')
  );
}
