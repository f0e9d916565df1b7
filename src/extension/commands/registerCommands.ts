import * as os from 'node:os';
import * as vscode from 'vscode';
import { doctorMarkdown } from '../../engine';
import { runLocalDoctor } from '../../engine/node';
import type { Ctx } from '../ctx';
import { showFailure } from '../errors/explain';
import { COMMANDS, type CommandId, type ParentCommandId } from '../ids';
import type { ImageNode, ImagesTreeProvider } from '../tree/imagesTree';
import type { DescribeDocuments } from './describeDocuments';
import { computePcr, copyAllPcrs, copyPcr, describeImage, targetUri } from './imageCommands';
import type { ParentsTreeProvider } from '../tree/parentsTree';

export interface Views {
  readonly parents: ParentsTreeProvider;
  readonly images: ImagesTreeProvider;
  /** Where describe output opens (read-only JSON documents). */
  readonly describe: DescribeDocuments;
}

export type Handler = (...args: never[]) => unknown;

/** Commands registered by the attestation module (src/extension/attestation), not by this table. */
type AttestationCommandId = typeof COMMANDS.attestationOpen | typeof COMMANDS.attestationOpenFromClipboard;

/** Commands registered by the build module (src/extension/imagebuild). */
type BuildCommandId = typeof COMMANDS.imageBuild | typeof COMMANDS.imageCheckReproducibility;

/** The table that maps command ids to handlers (all but the attestation, build and parents modules'). */
export function commandTable(
  ctx: Ctx,
  views: Views,
): Record<Exclude<CommandId, AttestationCommandId | BuildCommandId | ParentCommandId>, Handler> {
  return {
    [COMMANDS.parentsRefresh]: () => views.parents.refresh(),
    [COMMANDS.imagesRefresh]: () => views.images.refresh(),
    [COMMANDS.imageDescribe]: (arg?: unknown) => describeImage(views.images.service, views.describe, arg),
    [COMMANDS.imageComputePcr]: (arg?: unknown) => computePcr(arg),
    [COMMANDS.imageCopyPcr]: (node?: ImageNode) => copyPcr(node),
    [COMMANDS.imageCopyAllPcrs]: (arg?: unknown) => copyAllPcrs(views.images.service, arg),
    [COMMANDS.imageReveal]: async (arg?: unknown) => {
      const uri = targetUri(arg);
      if (!uri) return;
      await vscode.commands.executeCommand('revealInExplorer', uri);
    },
    [COMMANDS.logShow]: () => ctx.log.show(true),
    [COMMANDS.parentDoctor]: () => runDoctorOnParent(views.describe),
  };
}

/**
 * The doctor's report on this machine (the one the extension runs on: the parent itself in a
 * Remote-SSH window) as a read-only Markdown document; returns the document.
 */
async function runDoctorOnParent(documents: DescribeDocuments): Promise<vscode.TextDocument> {
  const findings = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: 'Nitro Enclaves: running the doctor' },
    () => runLocalDoctor(),
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

/** Registers a command whose failures are logged and shown, never thrown into VS Code. */
export function registerCommand(ctx: Ctx, id: string, handler: Handler): void {
  ctx.push(
    vscode.commands.registerCommand(id, async (...args: never[]) => {
      try {
        return await handler(...args);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        ctx.log.error(`${id} failed: ${e instanceof Error ? (e.stack ?? message) : message}`);
        void showFailure(ctx, e);
        return undefined;
      }
    }),
  );
}
