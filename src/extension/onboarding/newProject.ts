// Nitro Enclaves: New Enclave Project... asks for a parent folder and a name, writes the project of
// `nitro-dev new` (engine/imagebuild/scaffold.ts) and opens it. A test (or a walkthrough link) may
// pass the answers as the argument: `{ parent, name, open }`.
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { projectNameProblem, scaffoldFiles, type EifArch } from '../../engine';
import { writeScaffold } from '../../engine/node';
import { registerCommand } from '../commands/registerCommands';
import type { Ctx } from '../ctx';
import { COMMANDS } from '../ids';

export interface NewProjectRequest {
  /** The folder the project folder is created in. */
  readonly parent?: string;
  readonly name?: string;
  /** Open the project when done (default true). */
  readonly open?: boolean;
}

export interface NewProjectResult {
  readonly folder: string;
  readonly files: readonly string[];
}

const hostArch = (): EifArch => (process.arch === 'arm64' ? 'aarch64' : 'x86_64');

async function askParent(): Promise<string | undefined> {
  const picked = await vscode.window.showOpenDialog({
    canSelectFiles: false,
    canSelectFolders: true,
    canSelectMany: false,
    openLabel: vscode.l10n.t('Create the Project Here'),
    title: vscode.l10n.t('New Enclave Project: where to create it (1/2)'),
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(os.homedir()),
  });
  return picked?.[0]?.fsPath;
}

async function askName(parent: string): Promise<string | undefined> {
  return vscode.window.showInputBox({
    title: vscode.l10n.t('New Enclave Project: its name (2/2)'),
    prompt: vscode.l10n.t('A new folder of that name is created in {0}', parent),
    placeHolder: 'hello-enclave',
    value: 'hello-enclave',
    validateInput: (value) => projectNameProblem(value.trim()),
  });
}

export function registerNewProject(ctx: Ctx): void {
  registerCommand(
    ctx,
    COMMANDS.projectNew,
    async (request?: NewProjectRequest): Promise<NewProjectResult | undefined> => {
      const parent = request?.parent ?? (await askParent());
      if (!parent) return undefined;
      const name = (request?.name ?? (await askName(parent)))?.trim();
      if (!name) return undefined;
      const problem = projectNameProblem(name);
      if (problem) throw new Error(vscode.l10n.t('The project name "{0}": {1}', name, problem));
      const folder = path.join(parent, name);
      const files = await writeScaffold(folder, scaffoldFiles({ name, arch: hostArch() }));
      ctx.log.info(`New enclave project ${name} in ${folder} (${files.length} files)`);
      if (request?.open !== false) {
        const uri = vscode.Uri.file(folder);
        const inWorkspace = vscode.workspace.workspaceFolders?.some((f) => folder.startsWith(f.uri.fsPath + path.sep));
        if (inWorkspace)
          await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(path.join(folder, 'README.md')));
        else await vscode.commands.executeCommand('vscode.openFolder', uri, { forceNewWindow: false });
      }
      return { folder, files };
    },
  );
}
