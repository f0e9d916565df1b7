import * as assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { eventually } from './util';
import { withQuickInput } from './quickInput';
import type { NitroEnclavesApi } from '../../src/extension/extension';
import { COMMANDS, EXTENSION_ID, SETTINGS, TASK_TYPE } from '../../src/extension/ids';

describe('Building enclave images in a real VS Code extension host', function () {
  this.timeout(300_000);
  let api: NitroEnclavesApi;
  let fixtures: string;
  let blobs: string;
  let workspace: vscode.Uri;
  let work: string;

  before(async () => {
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'the test run opens a workspace folder');
    workspace = folder.uri;
    const extension = vscode.extensions.getExtension<NitroEnclavesApi>(EXTENSION_ID);
    assert.ok(extension);
    api = await extension.activate();
    fixtures = path.join(extension.extensionPath, 'test', 'fixtures', 'oci');
    blobs = path.join(extension.extensionPath, 'test', 'fixtures', 'blobs');
    work = path.join(workspace.fsPath, 'build-test');
    mkdirSync(work, { recursive: true });
  });

  after(async () => {
    await vscode.workspace
      .getConfiguration()
      .update(SETTINGS.buildBlobsPath, undefined, vscode.ConfigurationTarget.Workspace);
    rmSync(work, { recursive: true, force: true });
    rmSync(path.join(workspace.fsPath, '.vscode'), { recursive: true, force: true });
  });

  it('contributes the build commands and the nitro-eif task type', async () => {
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes(COMMANDS.imageBuild));
    assert.ok(commands.includes(COMMANDS.imageCheckReproducibility));
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)?.packageJSON;
    assert.equal(pkg.contributes.taskDefinitions[0].type, TASK_TYPE);
  });

  it(
    '"Build Enclave Image" builds from an OCI layout, ' + 'and the image shows up in Enclave Images with its PCRs',
    async () => {
      const output = path.join(work, 'app.eif');
      const result = await vscode.commands.executeCommand<Awaited<ReturnType<NitroEnclavesApi['build']['build']>>>(
        COMMANDS.imageBuild,
        {
          ociLayout: `${path.join(fixtures, 'layout')}:v1`,
          output,
          blobs,
          buildTime: '2024-01-02T03:04:05Z',
        },
      );
      assert.ok(result, 'the build finished');
      assert.ok(existsSync(output));
      const node = await eventually('the new image in the view', async () =>
        (await api.images.getChildren()).find((n) => n.kind === 'image' && n.uri.fsPath === output),
      );
      const children = await api.images.getChildren(node);
      const pcr0 = children.find((c) => c.kind === 'pcr' && c.name === 'PCR0');
      assert.ok(pcr0 && pcr0.kind === 'pcr');
      assert.equal(pcr0.value, result.measurements.PCR0);
    },
  );

  it("the build's notification offers Run Enclave first: it runs the image through Run Enclave's steps", async () => {
    const output = path.join(work, 'to-run.eif');
    const window = vscode.window as { showInformationMessage: (...args: unknown[]) => Thenable<unknown> };
    const original = window.showInformationMessage;
    let offered: unknown[] | undefined;
    window.showInformationMessage = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].startsWith('Built to-run.eif')) {
        offered = args.slice(1);
        return Promise.resolve('Run Enclave');
      }
      return original.apply(vscode.window, args);
    };
    const parents = api.parentInstances.backends;
    const parent = await api.parentInstances.current.get();
    assert.ok(parent, 'a current parent to run on');
    const started = () =>
      parents.describeEnclaves(parent.id).then((list) => list.find((e) => e.EnclaveName === 'from-notification'));
    try {
      const { steps } = await withQuickInput(
        (step) => {
          if (step.kind === 'pick') return step.pick(/^Production$/);
          if (step.step === 4) return step.type('from-notification').accept();
          step.accept();
        },
        async () => {
          const built = await vscode.commands.executeCommand(COMMANDS.imageBuild, {
            ociLayout: `${path.join(fixtures, 'layout')}:v1`,
            output,
            blobs,
            buildTime: '2024-01-02T03:04:05Z',
          });
          assert.ok(built, 'the build finished');
          return eventually('the enclave run from the notification', started);
        },
      );
      assert.deepEqual(offered, ['Run Enclave', 'Open', 'Copy Measurements']);
      assert.match(steps[0]?.title ?? '', /^Run to-run\.eif on /, 'Run Enclave asked about the new image');
    } finally {
      window.showInformationMessage = original;
      const enclave = await started();
      if (enclave) await parents.terminateEnclave(parent.id, enclave.EnclaveID);
    }
  });

  it('"Check Build Reproducibility" builds twice and finds the results identical', async () => {
    const report = await vscode.commands.executeCommand<
      Awaited<ReturnType<NitroEnclavesApi['build']['checkReproducibility']>>
    >(COMMANDS.imageCheckReproducibility, {
      imageArchive: path.join(fixtures, 'docker-save.tar'),
      blobs,
    });
    assert.ok(report);
    assert.equal(report.difference.identical, true);
  });

  it('a nitro-eif task from tasks.json builds the image (blobs from the setting), with exit code 0', async () => {
    await vscode.workspace
      .getConfiguration()
      .update(SETTINGS.buildBlobsPath, blobs, vscode.ConfigurationTarget.Workspace);
    cpSync(path.join(fixtures, 'layout'), path.join(work, 'layout'), { recursive: true });
    mkdirSync(path.join(workspace.fsPath, '.vscode'), { recursive: true });
    writeFileSync(
      path.join(workspace.fsPath, '.vscode', 'tasks.json'),
      JSON.stringify({
        version: '2.0.0',
        tasks: [
          {
            type: TASK_TYPE,
            label: 'enclave: build v1',
            ociLayout: '${workspaceFolder}/build-test/layout:v1',
            output: 'build-test/from-task.eif',
            buildTime: '1704164645',
          },
        ],
      }),
    );
    const task = await eventually('the tasks.json task', async () =>
      (await vscode.tasks.fetchTasks({ type: TASK_TYPE })).find((t) => t.name === 'enclave: build v1'),
    );
    const code = await runTask(task);
    assert.equal(code, 0);
    const built = path.join(work, 'from-task.eif');
    assert.ok(existsSync(built));
    assert.ok(readFileSync(built).subarray(0, 4).equals(Buffer.from('.eif')));
  });

  it(
    'offers a build task per image of each OCI layout in the workspace, ' + 'and a failing task exits non-zero',
    async () => {
      const tasks = await vscode.tasks.fetchTasks({ type: TASK_TYPE });
      const names = tasks.map((t) => t.name);
      for (const tag of ['v1', 'entry-only', 'v1-zstd', 'multi'])
        assert.ok(names.includes(`build build-test/layout:${tag}`), `${tag} in ${names.join(', ')}`);
      const bad = new vscode.Task(
        { type: TASK_TYPE, ociLayout: 'build-test/layout:no-such-tag', output: 'build-test/bad.eif' },
        vscode.TaskScope.Workspace,
        'bad',
        'nitro-eif',
      );
      const resolved = await eventually('a provided task', async () =>
        (await vscode.tasks.fetchTasks({ type: TASK_TYPE })).find((t) => t.name === 'build build-test/layout:v1'),
      );
      assert.ok(resolved.execution instanceof vscode.CustomExecution);
      // A task whose definition names a tag the layout does not have: the build fails, the task says so.
      const provided = api.build.taskFor(bad);
      assert.ok(provided);
      const code = await runTask(provided);
      assert.notEqual(code, 0);
      assert.equal(existsSync(path.join(work, 'bad.eif')), false);
    },
  );
});

/** Runs a task and resolves to its exit code. */
async function runTask(task: vscode.Task): Promise<number | undefined> {
  const done = new Promise<number | undefined>((resolve) => {
    const sub = vscode.tasks.onDidEndTaskProcess((e) => {
      if (e.execution.task.name === task.name) {
        sub.dispose();
        resolve(e.exitCode);
      }
    });
  });
  await vscode.tasks.executeTask(task);
  return Promise.race([
    done,
    new Promise<number | undefined>((_, reject) =>
      setTimeout(() => reject(new Error(`task ${task.name} did not end`)), 240_000),
    ),
  ]);
}
