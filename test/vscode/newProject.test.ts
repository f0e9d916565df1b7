import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { NitroEnclavesApi } from '../../src/extension/extension';
import type { NewProjectResult } from '../../src/extension/onboarding/newProject';
import { COMMANDS, EXTENSION_ID } from '../../src/extension/ids';
import { failuresOf } from './util';

describe('New Enclave Project... in a real VS Code extension host', function () {
  this.timeout(300_000);
  let parent: string;

  before(async () => {
    const extension = vscode.extensions.getExtension<NitroEnclavesApi>(EXTENSION_ID);
    assert.ok(extension);
    await extension.activate();
    parent = mkdtempSync(path.join(os.tmpdir(), 'nitro-new-project-'));
  });
  after(() => rmSync(parent, { recursive: true, force: true }));

  it('scaffolds the project with the answers given, and its build task builds the image', async () => {
    const result = await vscode.commands.executeCommand<NewProjectResult | undefined>(COMMANDS.projectNew, {
      parent,
      name: 'vscode-enclave',
      open: false,
    });
    assert.ok(result, 'the command finished');
    const folder = path.join(parent, 'vscode-enclave');
    assert.equal(result.folder, folder);
    for (const f of [
      'README.md',
      '.vscode/tasks.json',
      'build.sh',
      'rootfs/app/hello',
      '.nitro/emulator-blobs/cmdline',
    ])
      assert.ok(existsSync(path.join(folder, f)), f);
    assert.equal(statSync(path.join(folder, 'rootfs/app/hello')).mode & 0o111, 0o111);
    // The project's nitro-eif task, given to Build Enclave Image (paths relative to the project).
    const task = JSON.parse(readFileSync(path.join(folder, '.vscode/tasks.json'), 'utf8')).tasks[0];
    const abs = (p: string) => path.join(folder, p);
    const built = await vscode.commands.executeCommand<Awaited<ReturnType<NitroEnclavesApi['build']['build']>>>(
      COMMANDS.imageBuild,
      { ...task, rootfs: abs(task.rootfs), blobs: abs(task.blobs), output: abs(task.output) },
    );
    assert.ok(built, 'the build finished');
    assert.ok(existsSync(abs(task.output)));
    assert.match(built.measurements.PCR2, /^[0-9a-f]{96}$/);
  });

  it('refuses a folder that already exists with files, and writes nothing into it', async () => {
    const folder = path.join(parent, 'vscode-enclave');
    // The user's own edits and files in the folder of the first test.
    writeFileSync(path.join(folder, 'README.md'), 'my notes\n');
    rmSync(path.join(folder, 'build.sh'));
    const before = readdirSync(folder, { recursive: true }).map(String).sort();
    const errors = await failuresOf(() =>
      vscode.commands.executeCommand<NewProjectResult | undefined>(COMMANDS.projectNew, {
        parent,
        name: 'vscode-enclave',
        open: false,
      }),
    );
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0] ?? '', /vscode-enclave/);
    assert.equal(readFileSync(path.join(folder, 'README.md'), 'utf8'), 'my notes\n', 'README.md is left as it was');
    assert.equal(existsSync(path.join(folder, 'build.sh')), false, 'no file is written back');
    assert.deepEqual(readdirSync(folder, { recursive: true }).map(String).sort(), before);
  });
});
