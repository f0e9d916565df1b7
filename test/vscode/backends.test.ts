import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { FakeBackend } from './fakeBackend';
import { checkDescribeDocument, eventually, failuresOf } from './util';
import { withQuickInput, type StepSnapshot } from './quickInput';
import { canAddParents } from '../../src/engine/platform/capabilities';
import type { NitroEnclavesApi } from '../../src/extension/extension';
import { COMMANDS, EXTENSION_ID } from '../../src/extension/ids';
import type { EnclaveNode, ParentNode } from '../../src/extension/tree/parentsTree';

type ParentRoot = Extract<ParentNode, { kind: 'parent' }>;

describe('A second backend registered in the running extension (canned parents and enclaves)', function () {
  this.timeout(180_000);
  let api: NitroEnclavesApi;
  let fake: FakeBackend;
  let registration: vscode.Disposable | undefined;

  before(async () => {
    const extension = vscode.extensions.getExtension<NitroEnclavesApi>(EXTENSION_ID);
    assert.ok(extension);
    api = await extension.activate();
    fake = new FakeBackend();
    registration = api.registerBackend(fake);
  });

  after(() => {
    registration?.dispose();
    fake?.dispose();
  });

  async function fakeParent(): Promise<ParentRoot | undefined> {
    return (await api.parents.getChildren()).find(
      (r): r is ParentRoot => r.kind === 'parent' && r.parent.id === fake.parentId,
    );
  }

  async function cannedEnclave(): Promise<EnclaveNode | undefined> {
    const parent = await fakeParent();
    if (!parent) return undefined;
    return (await api.parents.getChildren(parent)).find(
      (c): c is EnclaveNode => c.kind === 'enclave' && c.enclave.EnclaveName === 'canned-enclave',
    );
  }

  it('shows its parent beside the emulated ones, each labelled with its backend', async () => {
    const parent = await eventually('the test backend parent in the view', fakeParent);
    const item = api.parents.getTreeItem(parent);
    assert.equal(item.label, 'canned-parent');
    assert.equal(item.description, `${fake.parentId} · Test backend`);
    assert.equal(item.contextValue, 'runningNitroCliParent');
    const others = (await api.parents.getChildren()).filter(
      (r): r is ParentRoot => r.kind === 'parent' && r.parent.id !== fake.parentId,
    );
    assert.ok(others.length >= 1, 'the emulated parents are still shown');
    for (const other of others)
      assert.match(String(api.parents.getTreeItem(other).description), / · Embedded emulator$/);
    assert.ok(!canAddParents(fake), 'the test backend has none of the optional capabilities');
  });

  it('Run Enclave on a parent that cannot attach an application skips the Attach application step', async () => {
    const parent = await eventually('the test backend parent', fakeParent);
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension);
    const eif = vscode.Uri.file(`${extension.extensionPath}/test/fixtures/eif/synthetic-v4-signed.eif`);
    // Run Enclave on an image runs it on the current parent: the test backend's, for this test.
    const previous = await api.parentInstances.current.get();
    await api.parentInstances.current.set(parent.parent.id);
    let steps: StepSnapshot[];
    let cpuRefusal: string | undefined;
    try {
      let result: unknown;
      ({ result, steps } = await withQuickInput(
        (step) => {
          if (step.kind === 'pick') return step.pick(/^Production$/);
          if (step.step !== 3) return step.accept();
          // The canned enclave holds the pool's two CPUs: the CPU step refuses any count, and says so.
          cpuRefusal = step.tryAccept() ? undefined : step.validationText;
          step.escape();
        },
        () => vscode.commands.executeCommand(COMMANDS.enclaveRun, eif),
      ));
      assert.equal(result, undefined);
    } finally {
      if (previous) await api.parentInstances.current.set(previous.id);
    }
    assert.deepEqual(
      steps.map((s) => `${s.step}/${s.totalSteps}`),
      ['1/5', '2/5', '3/5'],
      'five steps: no Attach application step',
    );
    assert.ok(
      steps.every((s) => !(s.title ?? '').includes('Attach application')),
      steps.map((s) => s.title).join(' | '),
    );
    assert.match(cpuRefusal ?? '', /^\[E\d+\] /, "the CPU step says why with the engine's rule");
    const shown = await failuresOf(() =>
      vscode.commands.executeCommand(COMMANDS.enclaveRun, {
        eif: eif.fsPath,
        parentId: parent.parent.id,
        app: 'node app.js',
      }),
    );
    assert.equal(shown.length, 1, shown.join(' | '));
    assert.match(
      shown[0] ?? '',
      /cannot attach an application: only an emulated parent runs one beside its enclave \(nitro-cli refuses --app with E03\)/,
    );
  });

  it('shows its pool and its enclave with their PCRs', async () => {
    const parent = await eventually('the test backend parent', fakeParent);
    const children = await api.parents.getChildren(parent);
    const pool = children.find((c) => c.kind === 'pool');
    assert.ok(pool);
    assert.equal(api.parents.getTreeItem(pool).description, 'CPUs 2/2 · memory 512/1024 MiB');
    const enclave = children.find((c): c is EnclaveNode => c.kind === 'enclave');
    assert.ok(enclave);
    const item = api.parents.getTreeItem(enclave);
    assert.equal(item.label, 'canned-enclave');
    assert.equal(item.contextValue, 'runningNitroCliEnclave', 'a real enclave: no Get Attestation Document');
    const pcrs = await api.parents.getChildren(enclave);
    assert.deepEqual(
      pcrs.map((p) => (p.kind === 'pcr' ? p.name : p.kind)),
      ['PCR0', 'PCR1', 'PCR2'],
    );
  });

  it('describes its enclave through the registry (describe-enclaves --metadata of the test backend)', async () => {
    const node = await eventually('the canned enclave', cannedEnclave);
    const doc = await vscode.commands.executeCommand<vscode.TextDocument>(COMMANDS.enclaveDescribe, node);
    assert.ok(doc, 'Describe Enclave opened a document');
    const json = (await checkDescribeDocument(doc, 'canned-enclave.describe-enclaves.json')) as { EnclaveID: string }[];
    assert.equal(json[0]?.EnclaveID, node.enclave.EnclaveID);
    assert.ok(fake.calls.includes(`describeEnclaves ${fake.parentId} metadata`), fake.calls.join('; '));
  });

  it('copies its enclave id', async () => {
    const node = await eventually('the canned enclave', cannedEnclave);
    const id = await vscode.commands.executeCommand<string>(COMMANDS.enclaveCopyId, node);
    assert.equal(id, node.enclave.EnclaveID);
    assert.equal(await vscode.env.clipboard.readText(), node.enclave.EnclaveID);
  });

  it('terminates its enclave, and the view follows its change event', async () => {
    const node = await eventually('the canned enclave', cannedEnclave);
    const done = await vscode.commands.executeCommand<number>(COMMANDS.enclaveTerminate, node, undefined, {
      confirmed: true,
    });
    assert.equal(done, 1);
    assert.ok(
      fake.calls.includes(`terminateEnclave ${fake.parentId} ${node.enclave.EnclaveID}`),
      fake.calls.join('; '),
    );
    await eventually('the enclave gone from the view', async () => (await cannedEnclave()) === undefined);
    const parent = await fakeParent();
    assert.ok(parent);
    const pool = (await api.parents.getChildren(parent)).find((c) => c.kind === 'pool');
    assert.ok(pool);
    assert.equal(api.parents.getTreeItem(pool).description, 'CPUs 0/2 · memory 0/1024 MiB');
  });

  it('leaves the view when its registration is disposed', async () => {
    registration?.dispose();
    registration = undefined;
    await eventually('the test backend parent gone', async () => (await fakeParent()) === undefined);
    const roots = (await api.parents.getChildren()).filter((r): r is ParentRoot => r.kind === 'parent');
    for (const r of roots)
      assert.match(
        String(api.parents.getTreeItem(r).description),
        /^i-[0-9a-f]{17}$/,
        'one backend: parents are not labelled',
      );
  });
});
