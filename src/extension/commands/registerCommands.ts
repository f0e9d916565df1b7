import * as os from 'node:os';
import * as vscode from 'vscode';
import { CancelledError } from '../../engine';
import { loadDoctor, type BackendRegistry, type NitroCliOptions, type NitroCliTarget } from '../../engine/node';
import type { EnclaveBackend } from '../../engine';
import type { Ctx } from '../ctx';
import type { DoctorForHost } from '../parents/nitroCliParents';
import { sshHostProblem } from '../parents/nitroCliSettings';
import { showFailure } from '../errors/explain';
import { COMMANDS, SETTINGS, type CommandId, type ParentCommandId } from '../ids';
import type { ImagesTreeProvider } from '../tree/imagesTree';
import type { DescribeDocuments } from './describeDocuments';
import { computePcr, copyAllPcrs, copyPcr, describeImage, targetUri } from './imageCommands';
import { signImage, type SignImageOptions } from './signImage';
import type { ParentsTreeProvider } from '../tree/parentsTree';
import { copyKmsCondition, generateKeyPolicy } from '../kms/kmsCommands';

export interface Views {
  readonly parents: ParentsTreeProvider;
  readonly images: ImagesTreeProvider;
  /** Where describe output opens (read-only JSON documents). */
  readonly describe: DescribeDocuments;
  /** What Run Doctor on Parent… can check besides this machine. */
  readonly doctor?: DoctorDeps;
}

/** The real parents Run Doctor on Parent… offers, and the doctor over SSH. */
export interface DoctorDeps {
  readonly backends: BackendRegistry;
  /** The nitro-cli targets of the settings (parents/nitroCliParents.ts). */
  readonly nitroCli: {
    readonly options: NitroCliOptions;
    targetOf(backend: EnclaveBackend): NitroCliTarget | undefined;
  };
  /** The doctor on an SSH host; undefined: this build checks only this machine. */
  readonly doctorForHost?: DoctorForHost;
}

export type Handler = (...args: never[]) => unknown;

/** Commands registered by the attestation module (src/extension/attestation), not by this table. */
type AttestationCommandId = typeof COMMANDS.attestationOpen | typeof COMMANDS.attestationOpenFromClipboard;

/** Commands registered by the build (src/extension/imagebuild) and onboarding (src/extension/onboarding) modules. */
type BuildCommandId =
  typeof COMMANDS.imageBuild | typeof COMMANDS.imageCheckReproducibility | typeof COMMANDS.projectNew;

/** Commands registered by the local services module (src/extension/services). */
type ServiceCommandId =
  | typeof COMMANDS.kmsStart
  | typeof COMMANDS.kmsStop
  | typeof COMMANDS.kmsCopyKeyArn
  | typeof COMMANDS.vsockProxyStart
  | typeof COMMANDS.vsockProxyStop;

/** Commands registered by the parents module besides its table (src/extension/parents/registerParents.ts). */
type QemuCommandId = typeof COMMANDS.qemuSetup;

/** The table that maps command ids to handlers (all but the attestation, build, parents and services modules'). */
export function commandTable(
  ctx: Ctx,
  views: Views,
): Record<
  Exclude<CommandId, AttestationCommandId | BuildCommandId | ParentCommandId | ServiceCommandId | QemuCommandId>,
  Handler
> {
  return {
    [COMMANDS.parentsRefresh]: () => views.parents.refresh(),
    [COMMANDS.imagesRefresh]: () => views.images.refresh(),
    [COMMANDS.imageDescribe]: (arg?: unknown) => describeImage(views.images.service, views.describe, arg),
    [COMMANDS.imageComputePcr]: (arg?: unknown) => computePcr(arg),
    [COMMANDS.certificateComputePcr]: (arg?: unknown) => computePcr(arg, 'certificate'),
    [COMMANDS.imageSign]: async (arg?: unknown, options?: SignImageOptions) => {
      const result = await signImage(views.images.service, arg, options);
      if (result) views.images.refresh();
      return result;
    },
    [COMMANDS.imageCopyPcr]: (node?: Parameters<typeof copyPcr>[0]) => copyPcr(node),
    [COMMANDS.imageCopyAllPcrs]: (arg?: unknown) => copyAllPcrs(views.images.service, arg),
    [COMMANDS.imageReveal]: async (arg?: unknown) => {
      const uri = targetUri(arg);
      if (!uri) return;
      await vscode.commands.executeCommand('revealInExplorer', uri);
    },
    [COMMANDS.kmsGeneratePolicy]: (arg?: unknown) => generateKeyPolicy(views.images.service, views.describe, arg),
    [COMMANDS.pcrCopyKmsCondition]: (node?: unknown) => copyKmsCondition(node),
    [COMMANDS.logShow]: () => ctx.log.show(true),
    [COMMANDS.parentDoctor]: (arg?: unknown) => runDoctorOnParent(views.describe, views.doctor, arg),
  };
}

/** An SSH target a command argument names (`{ target }`, a node of the Parent Instances view), if valid. */
async function sshTargetOf(arg: unknown, deps: DoctorDeps): Promise<NitroCliTarget | 'local' | undefined> {
  if (!arg || typeof arg !== 'object') return undefined;
  const a = arg as { target?: unknown; kind?: unknown; parent?: { id?: unknown } };
  let target: unknown = a.target;
  if (target === undefined && a.kind === 'parent' && typeof a.parent?.id === 'string') {
    try {
      target = deps.nitroCli.targetOf(await deps.backends.backendOf(a.parent.id));
    } catch {
      target = undefined;
    }
  }
  if (!target || typeof target !== 'object') return undefined;
  const t = target as Partial<Record<'kind' | 'host' | 'nitroCliPath' | 'name', unknown>>;
  if (t.kind === 'local') return 'local';
  // The argument may come from a command link: take only a host the settings would take.
  if (t.kind !== 'ssh' || typeof t.host !== 'string' || sshHostProblem(t.host) !== undefined) return undefined;
  const known = deps.nitroCli.options.targets.find((k) => k.kind === 'ssh' && k.host === t.host);
  return known ?? undefined;
}

/**
 * Run Doctor on Parent…: the doctor's report on this machine (the one the extension runs on: the
 * parent itself in a Remote-SSH window) or, when the doctor over SSH is available, on an SSH parent
 * of the settings (the node's, the argument's, or one picked), as a read-only Markdown document;
 * returns the document.
 */
async function runDoctorOnParent(
  documents: DescribeDocuments,
  deps: DoctorDeps | undefined,
  arg?: unknown,
): Promise<vscode.TextDocument | undefined> {
  const doctorForHost = deps?.doctorForHost;
  let choice: NitroCliTarget | 'local' | undefined = deps && doctorForHost ? await sshTargetOf(arg, deps) : undefined;
  const hosts = deps && doctorForHost ? deps.nitroCli.options.targets.filter((t) => t.kind === 'ssh') : [];
  if (choice === undefined && hosts.length > 0) {
    const picked = await vscode.window.showQuickPick(
      [
        { label: vscode.l10n.t('$(vm) This machine'), description: os.hostname(), choice: 'local' as const },
        ...hosts.map((t) => ({
          label: `$(remote) ${t.name ?? (t.kind === 'ssh' ? t.host : '')}`,
          description: t.kind === 'ssh' ? vscode.l10n.t('over SSH: {0}', t.host) : '',
          choice: t,
        })),
      ],
      { title: vscode.l10n.t('Run Doctor on Parent'), placeHolder: vscode.l10n.t('The parent instance to check') },
    );
    if (!picked) return undefined;
    choice = picked.choice;
  }
  if (choice !== undefined && choice !== 'local' && choice.kind === 'ssh' && doctorForHost && deps) {
    const host = choice.host;
    const ssh = deps.nitroCli.options.ssh;
    const target = choice;
    const { markdown } = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: vscode.l10n.t('Nitro Enclaves: running the doctor on {0}', host),
        cancellable: true,
      },
      (_progress, token) => doctorForHost(target, ssh, token),
    );
    return documents.show('doctor.md', `ssh-${host}`, markdown, {}, 'markdown');
  }
  const { runLocalDoctor, doctorMarkdown } = await loadDoctor();
  const findings = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: vscode.l10n.t('Nitro Enclaves: running the doctor') },
    () => {
      // The nitro-cli the local parent is driven with (a user or machine setting in untrusted workspaces).
      const nitroCliPath = vscode.workspace.getConfiguration().get<string>(SETTINGS.nitroCliPath)?.trim();
      return runLocalDoctor(nitroCliPath ? { nitroCliPath } : {});
    },
  );
  return documents.show(
    'doctor.md',
    'local',
    doctorMarkdown(findings, `${os.hostname()} (this machine)`),
    {},
    'markdown',
  );
}

export function registerCommands(ctx: Ctx, views: Views): void {
  for (const [id, handler] of Object.entries(commandTable(ctx, views))) registerCommand(ctx, id, handler);
}

/** Registers a command whose failures are logged and shown (a cancellation only logged), never thrown into VS Code. */
export function registerCommand(ctx: Ctx, id: string, handler: Handler): void {
  ctx.push(
    vscode.commands.registerCommand(id, async (...args: never[]) => {
      try {
        return await handler(...args);
      } catch (e) {
        if (e instanceof CancelledError) {
          ctx.log.info(`${id} cancelled`);
          return undefined;
        }
        const message = e instanceof Error ? e.message : String(e);
        ctx.log.error(`${id} failed: ${e instanceof Error ? (e.stack ?? message) : message}`);
        void showFailure(ctx, e);
        return undefined;
      }
    }),
  );
}
