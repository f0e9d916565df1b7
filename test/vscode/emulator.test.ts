import * as assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { checkDescribeDocument, eventually, failuresOf } from './util';
import { withQuickInput, type StepSnapshot } from './quickInput';
import { canRepairState } from '../../src/engine/platform/capabilities';
import type { NitroEnclavesApi } from '../../src/extension/extension';
import { ATTESTATION_PANEL, COMMANDS, EXTENSION_ID, RUN_TASK_TYPE, TASK_TYPE, VIEWS } from '../../src/extension/ids';
import type { EnclaveNode, ParentNode } from '../../src/extension/tree/parentsTree';

interface RunResult {
  readonly EnclaveID: string;
  readonly EnclaveCID: number;
  readonly NumberOfCPUs: number;
  readonly MemoryMiB: number;
}

type ParentRoot = Extract<ParentNode, { kind: 'parent' }>;

describe('The embedded enclave emulator in the Parent Instances view (real VS Code extension host)', function () {
  // Enclave host processes start from dist/cli.js: give them time on a slow machine.
  this.timeout(180_000);
  let api: NitroEnclavesApi;
  let eif: string;
  let expected: Record<string, string>;
  let workspace: vscode.Uri;

  before(async () => {
    assert.ok(process.env.NITRO_DEV_STATE_DIR, 'the test run gives the emulator a temporary NITRO_DEV_STATE_DIR');
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'the test run opens a workspace folder');
    workspace = folder.uri;
    const extension = vscode.extensions.getExtension<NitroEnclavesApi>(EXTENSION_ID);
    assert.ok(extension);
    api = await extension.activate();
    const emulator = api.parentInstances.backends.capable(canRepairState).find((b) => b.kind === 'emulator');
    assert.ok(emulator, `the emulator started (${await describeRoots()})`);
    assert.equal(emulator.stateDir, path.resolve(process.env.NITRO_DEV_STATE_DIR));
    eif = path.join(extension.extensionPath, 'test', 'fixtures', 'eif', 'synthetic-v4-signed.eif');
    expected = JSON.parse(readFileSync(eif.replace(/\.eif$/, '.expected.json'), 'utf8'));
  });

  after(async () => {
    // Leave no enclave host process behind, whatever failed.
    const backend = api?.parentInstances.backends;
    if (!backend) return;
    for (const parent of await backend.listParents()) {
      for (const e of await backend.describeEnclaves(parent.id))
        await backend.terminateEnclave(parent.id, e.EnclaveID).catch(() => undefined);
    }
  });

  async function describeRoots(): Promise<string> {
    const roots = await api.parents.getChildren();
    return roots
      .map((r) => {
        const { label } = api.parents.getTreeItem(r);
        return typeof label === 'object' ? label.label : String(label);
      })
      .join(', ');
  }

  async function defaultParent(): Promise<ParentRoot> {
    const roots = await api.parents.getChildren();
    const parent = roots.find((r): r is ParentRoot => r.kind === 'parent');
    assert.ok(parent, 'the view shows a parent instance');
    return parent;
  }

  async function enclaveNode(id: string): Promise<EnclaveNode | undefined> {
    const children = await api.parents.getChildren(await defaultParent());
    return children.find((c): c is EnclaveNode => c.kind === 'enclave' && c.enclave.EnclaveID === id);
  }

  async function poolText(): Promise<string> {
    const children = await api.parents.getChildren(await defaultParent());
    const pool = children.find((c) => c.kind === 'pool');
    assert.ok(pool, 'the parent shows its enclave pool');
    return String(api.parents.getTreeItem(pool).description);
  }

  it('shows the default emulated parent, running, with its free pool', async () => {
    const parent = await defaultParent();
    const item = api.parents.getTreeItem(parent);
    assert.equal(item.label, parent.parent.name);
    assert.match(String(item.description), /^i-[0-9a-f]{17}$/);
    assert.equal(item.contextValue, 'runningEmulatorParent');
    assert.equal(item.collapsibleState, vscode.TreeItemCollapsibleState.Expanded);
    assert.match((item.tooltip as vscode.MarkdownString).value, /emulated on this machine/);
    const { pool } = parent.parent;
    assert.equal(await poolText(), `CPUs 0/${pool.cpuIds.length} · memory 0/${pool.memoryMiB} MiB`);
    await api.parentInstances.current.update();
    assert.equal(api.parentInstances.current.text, `$(vm) ${parent.parent.name}: 0 enclaves`);
  });

  describe('an enclave run from the command with an argument object', () => {
    let run: RunResult;

    before(async () => {
      const parent = await defaultParent();
      const result = await vscode.commands.executeCommand<RunResult | undefined>(COMMANDS.enclaveRun, {
        eif,
        parentId: parent.parent.id,
        memoryMiB: 128,
        cpuCount: 2,
        enclaveName: 'extension-test',
      });
      assert.ok(result, "Run Enclave returns run-enclave's JSON");
      run = result;
    });

    it('appears in the tree with its state icon, CID, CPUs, memory and PCRs', async () => {
      const node = await eventually('the enclave node', () => enclaveNode(run.EnclaveID));
      const item = api.parents.getTreeItem(node);
      assert.equal(item.label, 'extension-test');
      assert.equal((item.iconPath as vscode.ThemeIcon).id, 'vm-running');
      assert.equal(item.contextValue, 'runningEnclave');
      assert.equal(item.description, `running · CID ${run.EnclaveCID} · 2 CPUs · 128 MiB`, 'its state in words first');
      assert.ok(run.EnclaveCID >= 16);
      const pcrs = await api.parents.getChildren(node);
      const values = Object.fromEntries(pcrs.map((p) => (p.kind === 'pcr' ? [p.name, p.value] : ['', ''])));
      for (const name of ['PCR0', 'PCR1', 'PCR2', 'PCR8']) assert.equal(values[name], expected[name], name);
      for (const p of pcrs) assert.equal(api.parents.getTreeItem(p).contextValue, 'enclavePcr');
      // Copy PCR and Copy KMS Condition work on an enclave's PCR node.
      const pcr0 = pcrs.find((p) => p.kind === 'pcr' && p.name === 'PCR0');
      assert.ok(pcr0);
      assert.equal(await vscode.commands.executeCommand(COMMANDS.imageCopyPcr, pcr0), expected.PCR0);
      assert.equal(await vscode.env.clipboard.readText(), expected.PCR0);
      await vscode.commands.executeCommand(COMMANDS.pcrCopyKmsCondition, pcr0);
      assert.equal(await vscode.env.clipboard.readText(), `"kms:RecipientAttestation:ImageSha384": "${expected.PCR0}"`);
      // The palette shows the enclave commands while an enclave runs.
      await api.parentInstances.current.update();
      assert.deepEqual(api.parentInstances.current.paletteState, {
        noParent: false,
        noEnclave: false,
        noAttestable: false,
      });
      const { pool } = (await defaultParent()).parent;
      assert.equal(await poolText(), `CPUs 2/${pool.cpuIds.length} · memory 128/${pool.memoryMiB} MiB`);
      await api.parentInstances.current.update();
      assert.match(api.parentInstances.current.text ?? '', /: 1 enclave$/);
    });

    it('runs a second small enclave beside it (the default pool holds two), refuses a third', async () => {
      const parent = await defaultParent();
      const second = await vscode.commands.executeCommand<RunResult | undefined>(COMMANDS.enclaveRun, {
        eif,
        parentId: parent.parent.id,
        memoryMiB: 512,
        cpuCount: 2,
        enclaveName: 'extension-test-2',
      });
      assert.ok(second, 'the default pool has room for a second 2-CPU, 512 MiB enclave');
      try {
        await eventually('the second enclave node', () => enclaveNode(second.EnclaveID));
        // The parent as the view reads it now: both enclaves hold its CPUs.
        const full = await eventually('the pool to show both enclaves', async () => {
          const p = await defaultParent();
          return p.parent.used.cpuIds.length === 4 ? p : undefined;
        });
        const before = (await api.parents.enclaves()).length;
        assert.match(api.parentInstances.rules.checkCpuCount(full.parent, 2) ?? '', /^\[E32\]/);
        assert.match(api.parentInstances.rules.checkMemory(full.parent, 1, 2712) ?? '', /^\[E29\]/);
        assert.match(api.parentInstances.rules.checkMemory(full.parent, 1_000_000, 2712) ?? '', /^\[E27\]/);
        assert.equal(
          await vscode.commands.executeCommand(COMMANDS.enclaveRun, {
            eif,
            parentId: full.parent.id,
            memoryMiB: 128,
            cpuCount: 2,
          }),
          undefined,
        );
        assert.equal((await api.parents.enclaves()).length, before);
      } finally {
        const node = await eventually('the second enclave node', () => enclaveNode(second.EnclaveID));
        assert.equal(
          await vscode.commands.executeCommand<number>(COMMANDS.enclaveTerminate, node, { confirmed: true }),
          1,
        );
        await eventually(
          'the second enclave to leave',
          async () => (await enclaveNode(second.EnclaveID)) === undefined,
        );
      }
    });

    it(
      'describes it as describe-enclaves JSON in a read-only JSON editor ' + 'that closes without asking to save',
      async () => {
        const node = await eventually('the enclave node', () => enclaveNode(run.EnclaveID));
        const doc = await vscode.commands.executeCommand<vscode.TextDocument>(COMMANDS.enclaveDescribe, node);
        assert.ok(doc);
        const json = (await checkDescribeDocument(doc, 'extension-test.describe-enclaves.json')) as [
          { EnclaveID: string; State: string; Flags: string; Measurements: { PCR0: string } },
        ];
        assert.equal(json.length, 1);
        assert.deepEqual(Object.keys(json[0]).slice(0, 10), [
          'EnclaveName',
          'EnclaveID',
          'ProcessID',
          'EnclaveCID',
          'NumberOfCPUs',
          'CPUIDs',
          'MemoryMiB',
          'State',
          'Flags',
          'Measurements',
        ]);
        assert.equal(json[0].EnclaveID, run.EnclaveID);
        assert.equal(json[0].State, 'RUNNING');
        assert.equal(json[0].Flags, 'NONE');
        assert.equal(json[0].Measurements.PCR0, expected.PCR0);
      },
    );

    it('copies its enclave ID', async () => {
      const node = await eventually('the enclave node', () => enclaveNode(run.EnclaveID));
      const copied = await vscode.commands.executeCommand<string>(COMMANDS.enclaveCopyId, node);
      assert.equal(copied, run.EnclaveID);
      assert.equal(await vscode.env.clipboard.readText(), run.EnclaveID);
    });

    it(
      'gets an attestation document from its NSM ' + 'and shows it as a development attestation matching the image',
      async () => {
        const node = await eventually('the enclave node', () => enclaveNode(run.EnclaveID));
        const panel = await vscode.commands.executeCommand<vscode.WebviewPanel>(COMMANDS.enclaveAttest, node, {
          nonce: '0123456789abcdef',
          userData: 'hello from the test',
        });
        assert.ok(panel, 'Get Attestation Document opens a panel');
        try {
          const report = api.attestation.reportFor(panel);
          const model = api.attestation.modelFor(panel);
          assert.ok(report && model, 'the panel shows a verified document');
          assert.equal(report.development, true, 'signed by the development root');
          assert.equal(model.verdict.development, true);
          assert.equal(model.verdict.valid, true, model.verdict.reasons.join(' '));
          assert.match(model.verdict.headline, /development attestation/);
          assert.equal(model.verdict.trustedRoot?.kind, 'development');
          assert.ok(model.comparison, 'the PCRs are compared with the image the enclave runs');
          const compared = report.pcrComparisons;
          assert.ok(compared.length >= 3);
          for (const c of compared) assert.equal(c.match, true, `PCR${c.index}`);

          // After a window reload the serializer restores the panel: it keeps only a flag, and the
          // host reads the development root again from the emulator's state.
          const state = api.attestation.stateFor(panel);
          assert.equal(state?.developmentRoot, true, 'the panel state says it trusted the development root');
          assert.ok(
            !JSON.stringify(state).includes('BEGIN CERTIFICATE'),
            'no certificate is kept in the webview state',
          );
          const restored = vscode.window.createWebviewPanel(
            ATTESTATION_PANEL,
            'Attestation: restored',
            vscode.ViewColumn.Active,
            { enableScripts: true },
          );
          try {
            await api.attestation.revive(restored, JSON.parse(JSON.stringify({ panel: state })));
            const again = api.attestation.reportFor(restored);
            assert.equal(again?.development, true, 'still a development attestation after the restore');
            assert.equal(again?.valid, true);
            // A state whose flag is not set restores without the development root: the chain is untrusted.
            const plain = vscode.window.createWebviewPanel(
              ATTESTATION_PANEL,
              'Attestation: plain',
              vscode.ViewColumn.Active,
              { enableScripts: true },
            );
            try {
              await api.attestation.revive(
                plain,
                JSON.parse(JSON.stringify({ panel: { ...state, developmentRoot: undefined } })),
              );
              assert.equal(api.attestation.reportFor(plain)?.valid, false);
            } finally {
              plain.dispose();
            }
          } finally {
            restored.dispose();
          }
        } finally {
          panel.dispose();
        }
      },
    );

    it(
      'Get Attestation Document asks for the nonce, user data as hex and a public key file in three checked steps, ' +
        'and the panel checks the nonce it filled in',
      async () => {
        const node = await eventually('the enclave node', () => enclaveNode(run.EnclaveID));
        const { generateKeyPairSync } = await import('node:crypto');
        const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        const keyFile = vscode.Uri.joinPath(workspace, 'attest-public.pem');
        await vscode.workspace.fs.writeFile(
          keyFile,
          new TextEncoder().encode(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
        );
        const window = vscode.window as unknown as {
          showInputBox: typeof vscode.window.showInputBox;
          showQuickPick: (items: readonly vscode.QuickPickItem[], options?: vscode.QuickPickOptions) => unknown;
          showOpenDialog: typeof vscode.window.showOpenDialog;
        };
        const saved = {
          showInputBox: window.showInputBox,
          showQuickPick: window.showQuickPick,
          showOpenDialog: window.showOpenDialog,
        };
        const inputs: vscode.InputBoxOptions[] = [];
        const picks: string[] = [];
        let nonce = '';
        window.showInputBox = async (options?: vscode.InputBoxOptions) => {
          if (!options) return undefined;
          inputs.push(options);
          if (inputs.length === 1) {
            nonce = options.value ?? '';
            return nonce; // the fresh random nonce the step filled in
          }
          return 'c0ffee00';
        };
        window.showQuickPick = async (items: readonly vscode.QuickPickItem[], options?: vscode.QuickPickOptions) => {
          picks.push(options?.title ?? '');
          return picks.length === 1
            ? items.find((i) => i.label === 'Hex…')
            : items.find((i) => i.label === 'From a file…');
        };
        window.showOpenDialog = async () => [keyFile];
        let panel: vscode.WebviewPanel | undefined;
        try {
          panel = await vscode.commands.executeCommand<vscode.WebviewPanel>(COMMANDS.enclaveAttest, node);
        } finally {
          Object.assign(window, saved);
        }
        try {
          assert.ok(panel, 'Get Attestation Document opens a panel');
          const check = async (step: vscode.InputBoxOptions | undefined, text: string) => {
            const v = await step?.validateInput?.(text);
            return typeof v === 'string' ? v : v?.message;
          };
          assert.match(inputs[0]?.title ?? '', /\(1\/3\)$/);
          assert.match(nonce, /^[0-9a-f]{64}$/, 'a fresh 32-byte nonce is filled in');
          assert.match((await check(inputs[0], 'xyz')) ?? '', /Write the nonce as hex/);
          assert.equal(await check(inputs[0], ''), undefined);
          assert.match(picks[0] ?? '', /\(2\/3\)$/);
          assert.match((await check(inputs[1], 'abc')) ?? '', /Write the user data as hex/);
          assert.match((await check(inputs[1], '00'.repeat(1025))) ?? '', /1025 bytes; the NSM takes at most 1024/);
          assert.match(picks[1] ?? '', /\(3\/3\)$/);

          const report = api.attestation.reportFor(panel);
          const model = api.attestation.modelFor(panel);
          assert.ok(report?.document && model, 'the panel shows a verified document');
          const doc = report.document;
          assert.equal(doc.userData.state === 'present' && Buffer.from(doc.userData.value).toString('hex'), 'c0ffee00');
          assert.equal(
            doc.publicKey.state === 'present' && Buffer.from(doc.publicKey.value).toString('base64'),
            publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
            "the document's public_key is the key file's DER SubjectPublicKeyInfo",
          );
          assert.deepEqual(model.nonceCheck, { expected: nonce, actual: nonce, match: true });
          assert.equal(model.verdict.valid, true, model.verdict.reasons.join(' '));
        } finally {
          panel?.dispose();
          await vscode.workspace.fs.delete(keyFile);
        }
      },
    );

    it('Get Attestation Document takes user data from a file, and refuses one over 1024 bytes', async () => {
      const node = await eventually('the enclave node', () => enclaveNode(run.EnclaveID));
      const data = vscode.Uri.joinPath(workspace, 'attest-user-data.bin');
      await vscode.workspace.fs.writeFile(data, new Uint8Array([1, 2, 3, 0xff]));
      const large = vscode.Uri.joinPath(workspace, 'attest-user-data-large.bin');
      await vscode.workspace.fs.writeFile(large, new Uint8Array(1025));
      try {
        const panel = await vscode.commands.executeCommand<vscode.WebviewPanel>(COMMANDS.enclaveAttest, node, {
          userDataFile: data,
        });
        assert.ok(panel);
        try {
          const doc = api.attestation.reportFor(panel)?.document;
          assert.equal(
            doc?.userData.state === 'present' && Buffer.from(doc.userData.value).toString('hex'),
            '010203ff',
          );
          assert.equal(api.attestation.modelFor(panel)?.nonceCheck, undefined, 'no nonce asked for, no nonce row');
        } finally {
          panel.dispose();
        }
        const shown = await failuresOf(() =>
          vscode.commands.executeCommand(COMMANDS.enclaveAttest, node, { userDataFile: large }),
        );
        assert.equal(shown.length, 1);
        assert.match(
          shown[0] ?? '',
          /attest-user-data-large\.bin is 1025 bytes; the NSM's user data holds at most 1024/,
        );
      } finally {
        await vscode.workspace.fs.delete(data);
        await vscode.workspace.fs.delete(large);
      }
    });

    it('terminates it: the node goes away and the pool is free again', async () => {
      const node = await eventually('the enclave node', () => enclaveNode(run.EnclaveID));
      const terminated = await vscode.commands.executeCommand<number>(COMMANDS.enclaveTerminate, node, {
        confirmed: true,
      });
      assert.equal(terminated, 1);
      await eventually(
        'the enclave node to leave the view',
        async () => (await enclaveNode(run.EnclaveID)) === undefined,
      );
      const { pool } = (await defaultParent()).parent;
      assert.equal(await poolText(), `CPUs 0/${pool.cpuIds.length} · memory 0/${pool.memoryMiB} MiB`);
      // With no enclave left running anywhere, the palette hides the enclave commands.
      await api.parentInstances.current.update();
      const anyRunning = (await api.parents.enclaves()).some((n) => n.enclave.State === 'RUNNING');
      assert.equal(api.parentInstances.current.paletteState?.noEnclave, !anyRunning);
      assert.equal(api.parentInstances.current.paletteState?.noAttestable, !anyRunning);
      assert.equal(api.parentInstances.current.paletteState?.noParent, false);
    });
  });

  it(
    'Run Enclave asks for memory with both rules and their numbers: ' +
      "a 2 MiB image needs 64 MiB (the driver's minimum), not 8",
    async () => {
      const parent = await defaultParent();
      const image = vscode.Uri.joinPath(workspace, 'two-mib.eif');
      await vscode.workspace.fs.writeFile(image, new Uint8Array(2 * 1024 * 1024));
      // Run Enclave's first step picks the mode, its second asks for the memory: typed values are
      // checked as they are typed, a refused one is not accepted, and Escape cancels.
      const checked: Record<string, string | undefined> = {};
      let memory: { prompt: string | undefined; refused: boolean; stepsAfterRefusedEnter: number } | undefined;
      let shownCount = 0;
      try {
        const { result, steps } = await withQuickInput(
          async (step, index) => {
            shownCount = index + 1;
            if (index === 0) return step.pick(/^Production$/);
            for (const text of ['4', '10', '64']) checked[text] = step.type(text).validationText;
            const refused = !step.type('4').tryAccept(); // the step stays
            await new Promise((r) => setImmediate(r));
            memory = { prompt: step.prompt, refused, stepsAfterRefusedEnter: shownCount };
            step.escape();
          },
          () => vscode.commands.executeCommand(COMMANDS.enclaveRun, image),
        );
        assert.equal(result, undefined, 'cancelled at the memory step');
        assert.equal(steps.length, 2, 'Escape ended the flow');
        assert.equal(steps[1]?.step, 2);
      } finally {
        await vscode.workspace.fs.delete(image);
      }
      assert.ok(memory, 'Run Enclave asked for the memory');
      assert.ok(memory.refused, 'Enter on a refused value does not close the step');
      assert.equal(memory.stepsAfterRefusedEnter, 2, 'Enter on a refused value does not go on');
      const { pool } = parent.parent;
      assert.equal(
        memory.prompt,
        `Memory in MiB, at least 64 MiB: the larger of 4 × the image's size (8 MiB) and the driver's 64 MiB minimum. ` +
          `The pool has ${pool.memoryMiB} of ${pool.memoryMiB} MiB free.`,
      );
      const check = async (text: string) => checked[text];
      const atLeast = "At least 64 MiB: the larger of 4 × the image's size (8 MiB) and the driver's 64 MiB minimum.";
      assert.equal(await check('4'), `[E26] ${atLeast}`);
      assert.equal(
        await check('10'),
        `[E29] ${atLeast}`,
        'what E26 names is what the driver accepts: no second refusal',
      );
      assert.equal(await check('64'), undefined);
    },
  );

  it('runs a debug-mode enclave and streams its console into a terminal', async () => {
    const parent = await defaultParent();
    const run = await vscode.commands.executeCommand<RunResult | undefined>(COMMANDS.enclaveRun, {
      eif,
      parentId: parent.parent.id,
      memoryMiB: 64,
      cpuCount: 2,
      debugMode: true,
      enclaveName: 'debug-test',
    });
    assert.ok(run);
    try {
      const node = await eventually('the debug enclave node', () => enclaveNode(run.EnclaveID));
      const item = api.parents.getTreeItem(node);
      assert.equal(item.contextValue, 'debugEnclave');
      assert.match(String(item.description), /debug mode$/);
      const terminal = await vscode.commands.executeCommand<vscode.Terminal>(COMMANDS.enclaveConsole, node);
      assert.ok(terminal);
      assert.equal(terminal.name, 'Enclave Console: debug-test');
      const pty = api.parentInstances.consoles.at(-1);
      assert.ok(pty);
      await eventually('console output', () => pty.output.includes(run.EnclaveID) && pty.output.includes('emulated'));
      terminal.dispose();
    } finally {
      await vscode.commands.executeCommand(
        COMMANDS.enclaveTerminate,
        { parentId: parent.parent.id, enclaveId: run.EnclaveID },
        { confirmed: true },
      );
    }
    await eventually(
      'the debug enclave to leave the view',
      async () => (await enclaveNode(run.EnclaveID)) === undefined,
    );
  });

  describe('an attached application (Run Enclave’s Attach application step)', () => {
    const APP = 'attached-app.mjs';
    const GREETING = 'hello from the attached application';
    let image: vscode.Uri;

    before(async () => {
      // Prints a line and exits at once, like demo/sample-app/nsm-client.mjs: its enclave ends right away.
      await vscode.workspace.fs.writeFile(
        vscode.Uri.joinPath(workspace, APP),
        new TextEncoder().encode(`console.log(${JSON.stringify(GREETING)} + ' ' + process.env.NITRO_ENCLAVE_ID);\n`),
      );
      image = vscode.Uri.joinPath(workspace, 'attach-test.eif');
      await vscode.workspace.fs.writeFile(image, new Uint8Array(readFileSync(eif)));
    });

    after(async () => {
      await vscode.workspace.fs.delete(vscode.Uri.joinPath(workspace, APP));
      await vscode.workspace.fs.delete(image);
    });

    /** Answers Run Enclave's steps: debug mode, the values offered, then `app` at the Attach application step. */
    async function runAnswering(app: string | undefined): Promise<{
      result: RunResult | undefined;
      appStep: StepSnapshot | undefined;
      checked: Record<string, string | vscode.InputBoxValidationMessage | undefined>;
      steps: StepSnapshot[];
    }> {
      let appStep: StepSnapshot | undefined;
      const checked: Record<string, string | vscode.InputBoxValidationMessage | undefined> = {};
      const { result, steps } = await withQuickInput(
        (step) => {
          if (step.kind === 'pick') return step.pick(/^Debug mode$/);
          if (!step.title?.includes('Attach application')) return step.accept();
          appStep = step.snapshot();
          if (app === undefined) return step.escape();
          for (const text of ['', 'node "app.mjs', 'node app.js --port 5000'])
            checked[text] = step.type(text).validationMessage;
          assert.equal(step.type('node "app.mjs').tryAccept(), false, 'an unclosed quote is refused');
          step.type(app).accept();
        },
        () => vscode.commands.executeCommand<RunResult | undefined>(COMMANDS.enclaveRun, image),
      );
      return { result, appStep, checked, steps };
    }

    it(
      'is asked on an emulated parent, checked as it is typed, run in the workspace folder, ' +
        'its output shown in the console that opens, and remembered for the image',
      async () => {
        const line = `node ${APP}`;
        const { result, appStep, checked, steps } = await runAnswering(line);
        assert.ok(appStep, `Run Enclave asked for an application (${steps.map((s) => s.title).join(' | ')})`);
        assert.match(appStep.title ?? '', /: Attach application$/);
        assert.equal(appStep.step, 6);
        assert.equal(appStep.totalSteps, 6);
        assert.equal(appStep.placeholder, 'node app.js --port 5000 (empty: no application)');
        assert.match(appStep.prompt ?? '', new RegExp(`in ${workspace.fsPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
        assert.equal(checked[''], undefined, 'empty: no application');
        assert.equal(checked['node "app.mjs'], 'The double quote at character 6 is not closed.');
        assert.deepEqual(checked['node app.js --port 5000'], {
          message: 'Runs node with 3 arguments: app.js --port 5000',
          severity: vscode.InputBoxValidationSeverity.Info,
        });
        assert.ok(result, 'the enclave started');
        // The console opened by itself, and shows the application's line although the enclave ended at once.
        const pty = await eventually('the console of the enclave', () =>
          api.parentInstances.consoles.find((c) => c.output.includes(result.EnclaveID)),
        );
        await pty.ended;
        assert.ok(pty.output.includes(`${GREETING} ${result.EnclaveID}`), pty.output);
        assert.doesNotMatch(pty.output, /Cannot read the console/);
        assert.match(
          pty.output,
          /\[The console of \S+ closed: the enclave stopped\.\]|\[The enclave \S+ has ended: above is its console log/,
        );
        await eventually('the ended enclave to leave the view', async () => !(await enclaveNode(result.EnclaveID)));

        // Offered again for the same image; cancelling at that step runs nothing.
        const again = await runAnswering(undefined);
        assert.equal(again.result, undefined);
        assert.equal(again.appStep?.value, line, 'the command line is remembered per image');
      },
    );

    it(
      'Run Enclave is one quick input: a step counter, a placeholder in every step, Back after the first, ' +
        'answers kept when going back, Escape cancels',
      async () => {
        const answers: Record<number, string> = {};
        let visits = 0;
        const { result, steps } = await withQuickInput(
          (step) => {
            visits++;
            if (step.kind === 'pick') return step.pick(/^Production$/);
            // On to the CID (5), Back twice (5 → 4 → 3), then on again to the last step, and Escape.
            if (visits === 4) return step.type('multi-step').accept();
            if (visits === 5) return step.back();
            if (visits === 6) {
              answers[step.step ?? 0] = step.value;
              return step.back();
            }
            if (step.step === 6) return step.escape();
            step.accept();
          },
          () => vscode.commands.executeCommand<RunResult | undefined>(COMMANDS.enclaveRun, image),
        );
        assert.equal(result, undefined, 'Escape at the last step runs nothing');
        assert.deepEqual(
          steps.map((s) => s.step),
          [1, 2, 3, 4, 5, 4, 3, 4, 5, 6],
        );
        assert.equal(answers[4], 'multi-step', 'the answer typed is there when the user comes back');
        for (const s of steps) {
          assert.equal(s.totalSteps, 6, 'six steps on an emulated parent');
          assert.match(s.title ?? '', /^Run attach-test\.eif on /);
          assert.ok((s.placeholder ?? '').length > 5, `step ${s.step} has a placeholder`);
          assert.equal(s.back, s.step !== 1, `step ${s.step}: Back on every step after the first`);
        }
        assert.deepEqual(
          steps[0]?.items
            .filter((i) => i.label !== '')
            .map((i) => i.label)
            .slice(-2),
          ['Production', 'Debug mode'],
        );
        const parent = await defaultParent();
        assert.ok(
          (await api.parentInstances.backends.describeEnclaves(parent.parent.id)).every(
            (e) => e.EnclaveName !== 'multi-step',
          ),
          'nothing started',
        );
      },
    );

    it('"Run with last settings" shows the last settings of this image, and runs them without the steps', async () => {
      // The settings of the first run of this image (above): debug mode, the memory and CPUs offered, the application.
      const { result, steps } = await withQuickInput(
        (step) => step.pick(/Run with last settings/),
        () => vscode.commands.executeCommand<RunResult | undefined>(COMMANDS.enclaveRun, image),
      );
      assert.equal(steps.length, 1, 'no step after the first');
      const [first] = steps;
      assert.equal(first?.step, 1);
      assert.match(first?.placeholder ?? '', /Run with the last settings/);
      const last = first?.items[0];
      assert.equal(last?.label, '$(history) Run with last settings');
      assert.match(
        last?.detail ?? '',
        new RegExp(
          '^debug mode · \\d+ MiB · \\d CPUs? · name attach-test · next free CID · ' +
            `application: node ${APP.replace('.', '\\.')}$`,
        ),
      );
      assert.ok(result, 'it ran');
      const memory = Number(/ (\d+) MiB/.exec(last?.detail ?? '')?.[1]);
      assert.equal(result.MemoryMiB, memory, 'with the memory shown');
      const pty = await eventually('the console of the enclave', () =>
        api.parentInstances.consoles.find((c) => c.output.includes(result.EnclaveID)),
      );
      await pty.ended;
      assert.ok(pty.output.includes(`${GREETING} ${result.EnclaveID}`), 'with the application shown');
      await eventually('the ended enclave to leave the view', async () => !(await enclaveNode(result.EnclaveID)));
    });

    it('a console opened on an ended enclave shows its kept console log and a closing line, not an error', async () => {
      const parent = await defaultParent();
      // The image in the workspace folder, where the application starts (APP is there).
      const run = await vscode.commands.executeCommand<RunResult | undefined>(COMMANDS.enclaveRun, {
        eif: image.fsPath,
        parentId: parent.parent.id,
        memoryMiB: 64,
        cpuCount: 2,
        debugMode: true,
        enclaveName: 'ended-app',
        app: `node ${APP}`,
      });
      assert.ok(run);
      await eventually('the enclave to end with its application', async () =>
        (await api.parentInstances.backends.describeEnclaves(parent.parent.id)).every(
          (e) => e.EnclaveID !== run.EnclaveID,
        ),
      );
      // What a node of the view still showing the enclave hands Open Console.
      const stale = {
        kind: 'enclave',
        parent: parent.parent,
        enclave: { ...run, EnclaveName: 'ended-app', State: 'RUNNING', Flags: 'DEBUG_MODE' },
      };
      const terminal = await vscode.commands.executeCommand<vscode.Terminal>(COMMANDS.enclaveConsole, stale);
      assert.ok(terminal);
      const pty = api.parentInstances.consoles.at(-1);
      assert.ok(pty);
      await pty.ended;
      assert.doesNotMatch(pty.output, /Cannot read the console/);
      assert.ok(pty.output.includes(`${GREETING} ${run.EnclaveID}`), pty.output);
      assert.match(
        pty.output,
        new RegExp(`\\[The enclave ${run.EnclaveID} has ended: above is its console log, kept in `),
      );
      terminal.dispose();
    });

    it('a command line with an unclosed quote is refused before anything starts', async () => {
      // (A parent that cannot attach an application: backends.test.ts.)
      const parent = await defaultParent();
      const shown = await failuresOf(() =>
        vscode.commands.executeCommand(COMMANDS.enclaveRun, {
          eif,
          parentId: parent.parent.id,
          memoryMiB: 64,
          cpuCount: 2,
          app: 'node "unclosed',
        }),
      );
      assert.equal(shown.length, 1, shown.join(' | '));
      assert.match(
        shown[0] ?? '',
        /The application's command line cannot be used: The double quote at character 6 is not closed\./,
      );
    });
  });

  it(
    "opens the parent's allocator configuration, " +
      "and shows the engine's problems with positions as a file is edited",
    async () => {
      const parent = await defaultParent();
      assert.ok(parent.parent.allocatorPath);
      const editor = await vscode.commands.executeCommand<vscode.TextEditor>(COMMANDS.parentEditAllocator, parent);
      assert.ok(editor);
      assert.equal(editor.document.uri.fsPath, parent.parent.allocatorPath);
      assert.deepEqual(
        vscode.languages.getDiagnostics(editor.document.uri),
        [],
        'the default allocator.yaml has no problem',
      );
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');

      const file = vscode.Uri.joinPath(workspace, 'allocator-test', 'allocator.yaml');
      await vscode.workspace.fs.writeFile(file, new TextEncoder().encode('---\nmemory_mib: 512\ncpu_count: 2\n'));
      try {
        const doc = await vscode.workspace.openTextDocument(file);
        await vscode.window.showTextDocument(doc);
        await eventually('the check of the opened file', () =>
          api.parentInstances.diagnostics?.isAllocatorDocument(doc),
        );
        assert.deepEqual(vscode.languages.getDiagnostics(file), []);
        const edit = new vscode.WorkspaceEdit();
        edit.replace(file, new vscode.Range(2, 0, 2, 12), 'cpu_pool: "1,x"');
        assert.ok(await vscode.workspace.applyEdit(edit));
        const diagnostics = await eventually('a diagnostic for the bad CPU list', () => {
          const found = vscode.languages.getDiagnostics(file);
          return found.length > 0 ? found : undefined;
        });
        const [first] = diagnostics;
        assert.ok(first);
        assert.equal(first.severity, vscode.DiagnosticSeverity.Error);
        assert.equal(first.range.start.line, 2, first.message);
        assert.ok(
          first.range.start.character >= 'cpu_pool: "'.length,
          `${first.message} at ${first.range.start.character}`,
        );
        assert.match(first.message, /x/);
        await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
      } finally {
        await vscode.workspace.fs.delete(vscode.Uri.joinPath(workspace, 'allocator-test'), { recursive: true });
      }
    },
  );
  describe('the nitro-enclave task type (tasks.json: build then run)', () => {
    const folder = 'loop-test';
    let fixtures: string;

    before(() => {
      const extension = vscode.extensions.getExtension(EXTENSION_ID);
      assert.ok(extension);
      fixtures = path.join(extension.extensionPath, 'test', 'fixtures');
      mkdirSync(path.join(workspace.fsPath, folder), { recursive: true });
      copyFileSync(eif, path.join(workspace.fsPath, folder, 'image.eif'));
      mkdirSync(path.join(workspace.fsPath, '.vscode'), { recursive: true });
      writeFileSync(
        path.join(workspace.fsPath, '.vscode', 'tasks.json'),
        JSON.stringify({
          version: '2.0.0',
          tasks: [
            {
              type: TASK_TYPE,
              label: 'loop: build',
              ociLayout: `${path.join(fixtures, 'oci', 'layout')}:v1`,
              output: `${folder}/built.eif`,
              blobs: path.join(fixtures, 'blobs'),
              buildTime: '1704164645',
              problemMatcher: [],
            },
            {
              type: RUN_TASK_TYPE,
              label: 'loop: build and run',
              dependsOn: ['loop: build'],
              eif_path: '${workspaceFolder}/' + `${folder}/built.eif`,
              memory_mib: 64,
              cpu_count: 2,
              enclave_name: 'built-then-run',
              problemMatcher: [],
            },
          ],
        }),
      );
    });

    after(() => {
      rmSync(path.join(workspace.fsPath, '.vscode'), { recursive: true, force: true });
      rmSync(path.join(workspace.fsPath, folder), { recursive: true, force: true });
    });

    /** A task as the provider makes it of a tasks.json entry with this definition. */
    function taskOf(name: string, definition: Record<string, unknown>): vscode.Task {
      const folderOfWorkspace = vscode.workspace.workspaceFolders?.[0];
      assert.ok(folderOfWorkspace);
      const task = api.parentInstances.enclaveTasks.taskFor(
        new vscode.Task({ type: RUN_TASK_TYPE, ...definition }, folderOfWorkspace, name, RUN_TASK_TYPE),
      );
      assert.ok(task, `the provider resolves ${name}`);
      return task;
    }

    /** The terminal of the task run after `before` terminals, once its enclave runs (or why it did not). */
    async function startedTerminal(name: string, before: number) {
      const terminal = await eventually(`the ${name} task to start its enclave or to end`, () =>
        api.parentInstances.enclaveTasks.terminals
          .slice(before)
          .find((t) => t.enclave !== undefined || t.exitCode !== undefined),
      ).catch((e: Error) => {
        const running = vscode.tasks.taskExecutions.map((x) => x.task.name).join(', ');
        throw new Error(`${e.message} (task executions: ${running || 'none'})`);
      });
      assert.ok(terminal.enclave, `${name} ended with ${terminal.exitCode}: ${terminal.output}`);
      return { terminal, enclave: terminal.enclave };
    }

    const running = async (id: string) =>
      (await api.parentInstances.backends.describeEnclaves((await defaultParent()).parent.id)).find(
        (e) => e.EnclaveID === id,
      );

    it(
      "runs an image in debug mode, prints run-enclave's JSON, streams the console, " +
        'and terminating the task terminates the enclave',
      async () => {
        const task = taskOf('loop: run', {
          eif_path: `${folder}/image.eif`,
          memory_mib: 64,
          cpu_count: 2,
          debug_mode: true,
          enclave_name: 'from-task',
        });
        const before = api.parentInstances.enclaveTasks.terminals.length;
        const execution = await vscode.tasks.executeTask(task);
        const { terminal, enclave } = await startedTerminal('loop: run', before);
        const json = JSON.parse(terminal.output.slice(terminal.output.indexOf('{'), terminal.output.indexOf('}') + 1));
        assert.equal(json.EnclaveID, enclave.EnclaveID);
        assert.equal(json.EnclaveName, 'from-task');
        assert.equal(json.MemoryMiB, 64);
        const described = await eventually('the enclave, running', () => running(enclave.EnclaveID));
        assert.equal(described.Flags, 'DEBUG_MODE');
        await eventually('its console in the task terminal', () => {
          const tail = terminal.output.slice(terminal.output.indexOf(`Console of ${enclave.EnclaveID}`));
          return tail.includes('emulated');
        });
        // Its node offers Terminate inline (the $(debug-stop) button on the row).
        const node = await eventually('the enclave node', () => enclaveNode(enclave.EnclaveID));
        const contextValue = api.parents.getTreeItem(node).contextValue ?? '';
        const pkg = vscode.extensions.getExtension(EXTENSION_ID)?.packageJSON;
        const entries = pkg.contributes.menus['view/item/context'] as {
          command: string;
          when: string;
          group?: string;
        }[];
        const inlineTerminate = entries.filter(
          (e) =>
            e.command === COMMANDS.enclaveTerminate &&
            e.group === 'inline' &&
            e.when.includes(`view == ${VIEWS.parents}`) &&
            new RegExp(/viewItem =~ \/(.+?)\//.exec(e.when)?.[1] ?? '^$').test(contextValue),
        );
        assert.equal(inlineTerminate.length, 1, `an inline Terminate on ${contextValue}`);

        execution.terminate();
        assert.equal(await terminal.ended, 130);
        await eventually('the enclave to be terminated with its task', async () => !(await running(enclave.EnclaveID)));
        assert.match(terminal.output, new RegExp(`Terminated ${enclave.EnclaveID}: the task was stopped\\.`));
      },
    );

    it('runs a production-mode enclave as long as the task, and Ctrl-C in its terminal terminates it', async () => {
      const task = taskOf('loop: run production', {
        eif_path: `${folder}/image.eif`,
        memory_mib: 64,
        cpu_count: 2,
        enclave_name: 'from-task-production',
      });
      const before = api.parentInstances.enclaveTasks.terminals.length;
      await vscode.tasks.executeTask(task);
      const { terminal, enclave } = await startedTerminal('loop: run production', before);
      const described = await eventually('the enclave, running', () => running(enclave.EnclaveID));
      assert.notEqual(described.Flags, 'DEBUG_MODE');
      assert.match(terminal.output, /runs in production mode, which has no console/);
      terminal.handleInput('\x03');
      assert.equal(await terminal.ended, 130);
      await eventually('the enclave to be terminated', async () => !(await running(enclave.EnclaveID)));
    });

    it("says what is wrong with a definition, by the engine's rules, and exits with nitro-cli's code", async () => {
      const cases: [Record<string, unknown>, number, RegExp][] = [
        [{ memory_mib: 4, cpu_count: 2 }, 29, /\[ E29 \] At least 64 MiB/],
        [{ memory_mib: 64, cpu_count: 2, cpu_ids: [0] }, 2, /\[ E02 \] Conflicting arguments provided\./],
        [
          { memory_mib: '64', cpu_count: 2 },
          17,
          /\[ E17 \] Serialization error\. In the nitro-enclave task "bad-\d": memory_mib must be an unsigned integer/,
        ],
        [
          { memory_mib: 64, cpu_count: 2, parent: 'no-such-parent' },
          3,
          /\[ E03 \] Invalid argument provided\. There is no parent instance 'no-such-parent'/,
        ],
        [{ memory_mib: 64, cpu_count: 2, eif_path: 'no-such.eif' }, 19, /\[ E19 \] File operation failure\./],
      ];
      for (const [i, [fields, code, message]] of cases.entries()) {
        const task = taskOf(`bad-${i}`, { eif_path: eif, ...fields });
        const before = api.parentInstances.enclaveTasks.terminals.length;
        await vscode.tasks.executeTask(task);
        const terminal = await eventually(
          `the terminal of bad-${i}`,
          () => api.parentInstances.enclaveTasks.terminals[before],
        );
        assert.equal(await terminal.ended, code, terminal.output);
        assert.match(terminal.output, message);
        assert.equal(terminal.enclave, undefined, 'nothing started');
      }
    });

    it('runs "build then run" from tasks.json: the nitro-eif task it depends on builds the image first', async () => {
      await eventually('the tasks.json task', async () =>
        (await vscode.tasks.fetchTasks({ type: RUN_TASK_TYPE })).find((t) => t.name === 'loop: build and run'),
      );
      const before = api.parentInstances.enclaveTasks.terminals.length;
      // As the user runs it (Tasks: Run Task), which runs what it depends on first.
      await vscode.commands.executeCommand('workbench.action.tasks.runTask', 'loop: build and run');
      const { terminal, enclave } = await startedTerminal('loop: build and run', before);
      assert.ok(existsSync(path.join(workspace.fsPath, folder, 'built.eif')), 'the build task ran first');
      assert.equal(enclave.EnclaveName, 'built-then-run');
      await eventually('the enclave, running', () => running(enclave.EnclaveID));
      const execution = vscode.tasks.taskExecutions.find((x) => x.task.name === 'loop: build and run');
      assert.ok(execution, 'the task runs');
      execution.terminate();
      assert.equal(await terminal.ended, 130);
      await eventually('the enclave to be terminated', async () => !(await running(enclave.EnclaveID)));
    });
  });
});
