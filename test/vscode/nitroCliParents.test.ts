import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { FakeBackend } from './fakeBackend';
import { eventually } from './util';
import { BackendError, explainError } from '../../src/engine';
import type { EnclaveBackend } from '../../src/engine/platform/backend';
import type { NitroCliOptions } from '../../src/engine/node/nitrocli/options';
import type { NitroEnclavesApi } from '../../src/extension/extension';
import { COMMANDS, EXTENSION_ID, SETTINGS } from '../../src/extension/ids';
import type { EnclaveNode, ParentNode } from '../../src/extension/tree/parentsTree';

type ParentRoot = Extract<ParentNode, { kind: 'parent' }>;
type UnreachableRoot = Extract<ParentNode, { kind: 'unreachable' }>;

const REFUSED = 'ssh: connect to host 10.0.0.99 port 22: Connection refused';
/** A parent name that would be a command link and bold text if a tooltip took it as Markdown. */
const EVIL_NAME = 'Evil [Refresh](command:nitroEnclaves.parents.refresh) **bold**';

describe('Real parent instances of the settings (nitro-cli backends, made by a test factory)', function () {
  this.timeout(180_000);
  let api: NitroEnclavesApi;
  const made: FakeBackend[] = [];
  const config = () => vscode.workspace.getConfiguration();

  /** Stands in for the engine's createNitroCliBackends: one fake per target, reachable or not by host. */
  function factory(options: NitroCliOptions): EnclaveBackend[] {
    return options.targets.map((t, i) => {
      const host = t.kind === 'ssh' ? t.host : 'this machine';
      const fake = new FakeBackend(`i-0fa4e00000000${String(made.length + i).padStart(4, '0')}`, {
        label: `nitro-cli on ${host}`,
        instanceId: 'i-0123456789abcdef0',
        ...(host.includes('unreachable') ? { listError: new Error(`${REFUSED}\r\nmore ssh output`) } : {}),
        ...(host.includes('driverless')
          ? { listError: new BackendError(19, 'Device not found. Could not open /dev/nitro_enclaves') }
          : {}),
      });
      made.push(fake);
      return fake;
    });
  }

  before(async () => {
    const extension = vscode.extensions.getExtension<NitroEnclavesApi>(EXTENSION_ID);
    assert.ok(extension);
    api = await extension.activate();
    api.parentInstances.nitroCli.useFactory(factory);
    await config().update(SETTINGS.sshConnectTimeoutSeconds, 3, vscode.ConfigurationTarget.Global);
    await config().update(
      SETTINGS.parentsSshHosts,
      [
        'ec2-user@unreachable-parent',
        { host: 'reachable-parent', name: 'Reachable parent' },
        'driverless-parent',
        '-oProxyCommand=touch /tmp/nitro-enclaves-pwned',
        { host: 'unreachable-named', name: EVIL_NAME },
      ],
      vscode.ConfigurationTarget.Global,
    );
  });

  after(async () => {
    await config().update(SETTINGS.parentsSshHosts, undefined, vscode.ConfigurationTarget.Global);
    await config().update(SETTINGS.sshConnectTimeoutSeconds, undefined, vscode.ConfigurationTarget.Global);
    api?.parentInstances.nitroCli.useFactory(undefined);
  });

  const roots = () => api.parents.getChildren();
  const unreachable = async (label: string) =>
    (await roots()).find((r): r is UnreachableRoot => r.kind === 'unreachable' && r.label === label);
  const reachable = async () =>
    (await roots()).find((r): r is ParentRoot => r.kind === 'parent' && r.target?.kind === 'ssh');

  it('makes one backend per valid host of the settings, and refuses a host ssh would read as an option', async () => {
    await eventually('four nitro-cli backends', () => api.parentInstances.nitroCli.backends.length === 4);
    assert.deepEqual(
      api.parentInstances.nitroCli.options.targets.map((t) => (t.kind === 'ssh' ? t.host : t.kind)),
      ['ec2-user@unreachable-parent', 'reachable-parent', 'driverless-parent', 'unreachable-named'],
    );
    assert.equal(api.parentInstances.nitroCli.options.ssh.connectTimeoutSeconds, 3);
  });

  it('shows an unreachable parent as a parent node that says why, and how to check it', async () => {
    const node = await eventually('the unreachable parent', () => unreachable('ec2-user@unreachable-parent'));
    const item = api.parents.getTreeItem(node);
    assert.equal(item.label, 'ec2-user@unreachable-parent', 'the name it has when reached: its host');
    assert.equal(item.description, 'unreachable: Connection refused');
    assert.equal(item.contextValue, 'unreachableNitroCliParent');
    assert.equal(item.collapsibleState, vscode.TreeItemCollapsibleState.None);
    assert.equal((item.iconPath as vscode.ThemeIcon).id, 'debug-disconnect');
    const tip = (item.tooltip as vscode.MarkdownString).value;
    assert.ok(tip.includes(REFUSED), tip);
    assert.ok(tip.includes('more ssh output'), 'the whole reason');
    assert.ok(
      tip.includes('ssh -o BatchMode=yes -o ConnectTimeout=3 ec2-user@unreachable-parent nitro-cli describe-enclaves'),
      tip,
    );
    assert.ok(tip.includes(`command:${COMMANDS.parentDoctor}`) && tip.includes('Run Doctor on Parent'), tip);
    assert.deepEqual(await api.parents.getChildren(node), []);
  });

  it("shows a parent's name in its tooltip as text, never as Markdown (no link, no bold)", async () => {
    const node = await eventually('the named unreachable parent', () => unreachable(EVIL_NAME));
    const tip = (api.parents.getTreeItem(node).tooltip as vscode.MarkdownString).value;
    assert.ok(!tip.includes('[Refresh](command:nitroEnclaves.parents.refresh) **bold**'), tip);
    assert.ok(tip.includes('\\[Refresh\\]') && tip.includes('\\*\\*bold\\*\\*'), tip);
  });

  it("explains a failure's nitro-cli code in the unreachable parent's tooltip", async () => {
    const node = await eventually('the driverless parent', () => unreachable('driverless-parent'));
    const item = api.parents.getTreeItem(node);
    assert.equal(item.description, 'unreachable: [E19] Device not found. Could not open /dev/nitro_enclaves');
    const tip = (item.tooltip as vscode.MarkdownString).value;
    const e19 = explainError(19);
    assert.ok(e19);
    assert.ok(tip.includes(`${e19.code}: ${e19.title}`), tip);
    assert.ok(tip.includes('Show Fix') && tip.includes('nitro-enclaves-explain'), tip);
  });

  it('shows a reachable parent with its enclaves, where it is reached and its EC2 instance', async () => {
    const parent = await eventually('the reachable parent', reachable);
    const item = api.parents.getTreeItem(parent);
    assert.equal(item.contextValue, 'runningNitroCliParent');
    const tip = (item.tooltip as vscode.MarkdownString).value;
    assert.ok(tip.includes('over SSH: `reachable-parent`'), tip);
    assert.ok(tip.includes('`i-0123456789abcdef0`'), tip);
    assert.ok(tip.includes("AWS's Nitro Secure Module"), tip);
    const enclave = (await api.parents.getChildren(parent)).find((c): c is EnclaveNode => c.kind === 'enclave');
    assert.ok(enclave);
    assert.equal(api.parents.getTreeItem(enclave).contextValue, 'runningNitroCliEnclave');
  });

  it('keeps the other parents usable while one cannot be reached (current parent, Run Enclave target)', async () => {
    await eventually('the unreachable parent', () => unreachable('ec2-user@unreachable-parent'));
    const current = await api.parentInstances.current.get();
    assert.ok(current, 'a current parent despite the unreachable one');
  });

  it('does not ask a real enclave for an attestation document', async () => {
    const parent = await eventually('the reachable parent', reachable);
    const enclave = (await api.parents.getChildren(parent)).find((c): c is EnclaveNode => c.kind === 'enclave');
    assert.ok(enclave);
    const fake = made.find((b) => b.parentId === parent.parent.id && !b.disposed);
    assert.ok(fake);
    const panel = await vscode.commands.executeCommand(COMMANDS.enclaveAttest, enclave, { nonce: '', userData: '' });
    assert.equal(panel, undefined);
    assert.ok(!fake.calls.some((c) => c.startsWith('nsm ')), fake.calls.join('; '));
  });

  it('removes and disposes the backends when the hosts are removed from the settings', async () => {
    const before = [...api.parentInstances.nitroCli.backends];
    await config().update(SETTINGS.parentsSshHosts, [], vscode.ConfigurationTarget.Global);
    await eventually('no nitro-cli backends', () => api.parentInstances.nitroCli.backends.length === 0);
    assert.ok(before.every((b) => (b as FakeBackend).disposed));
    await eventually('no unreachable parents', async () => !(await roots()).some((r) => r.kind === 'unreachable'));
  });

  it('shows a registered nitro-cli backend that cannot list its parent as unreachable too', async () => {
    const fake = new FakeBackend('i-0fa4e00000000ffff', {
      label: 'Lone nitro-cli backend',
      listError: new Error('nitro-cli: command not found'),
    });
    const registration = api.registerBackend(fake);
    try {
      const node = await eventually('the lone unreachable parent', () => unreachable('Lone nitro-cli backend'));
      const item = api.parents.getTreeItem(node);
      assert.equal(item.description, 'unreachable: nitro-cli: command not found');
      assert.ok((item.tooltip as vscode.MarkdownString).value.includes('nitro-cli: command not found'));
    } finally {
      registration.dispose();
      fake.dispose();
    }
  });
});
