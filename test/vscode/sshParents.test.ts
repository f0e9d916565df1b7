// Real parent instances over SSH in the running extension, end to end: the settings name a host of
// a real sshd on 127.0.0.1 (test/unit/sshd.ts) whose sessions run the stand-in nitro-cli
// (test/fixtures/nitro-cli) on a seeded parent state, and a host whose port is closed. The engine's
// nitro-cli backends (no test factory) reach them with ssh -F and the view shows the one with its
// enclaves and the other as unreachable, with ssh's reason. Nothing of the user's ~/.ssh is used:
// the hosts, keys and known hosts all come from the configuration file the settings name.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { eventually } from './util';
import type { RunEnclaveJson } from '../../src/engine';
import type { NitroEnclavesApi } from '../../src/extension/extension';
import { COMMANDS, EXTENSION_ID, SETTINGS } from '../../src/extension/ids';
import type { EnclaveNode, ParentNode } from '../../src/extension/tree/parentsTree';
import { repoPath } from '../unit/repo';
import { startSshd, writeConfigWithClosedHost, type TestSshd } from '../unit/sshd';

type ParentRoot = Extract<ParentNode, { kind: 'parent' }>;
type UnreachableRoot = Extract<ParentNode, { kind: 'unreachable' }>;

const STAND_IN = repoPath('test/fixtures/nitro-cli/nitro-cli');
const EIF = repoPath('test/fixtures/eif/synthetic-v4-unsigned.eif');
const TAG = 'i-0fedcba9876543210';
const PARENT_NAME = 'SSH test parent';
const UNREACHABLE_HOST = 'unreachable-parent';
const CONNECT_TIMEOUT_SECONDS = 5;

describe('Real parent instances over SSH (the nitro-cli backend, a real sshd, the stand-in nitro-cli)', function () {
  this.timeout(180_000);
  let api: NitroEnclavesApi;
  let sshd: TestSshd | undefined;
  let dir: string | undefined;
  let root: string;
  let configFile: string;
  let closedPort: number;
  const started: RunEnclaveJson[] = [];
  const config = () => vscode.workspace.getConfiguration();

  /** Starts an enclave on the stand-in's parent state, as nitro-cli on that parent would. */
  function runOnStandIn(args: readonly string[]): RunEnclaveJson {
    const r = spawnSync(process.execPath, [STAND_IN, 'run-enclave', '--eif-path', EIF, ...args], {
      encoding: 'utf8',
      env: { ...process.env, NITRO_CLI_STANDIN_ROOT: root, ELECTRON_RUN_AS_NODE: '1' },
    });
    assert.equal(r.status, 0, `the stand-in's run-enclave failed: ${r.stderr || r.error?.message}`);
    return JSON.parse(r.stdout) as RunEnclaveJson;
  }

  before(async function () {
    this.timeout(120_000);
    const extension = vscode.extensions.getExtension<NitroEnclavesApi>(EXTENSION_ID);
    assert.ok(extension);
    api = await extension.activate();
    // The real backends: whatever factory another test gave is taken away.
    api.parentInstances.nitroCli.useFactory(undefined);
    assert.match(
      STAND_IN,
      /^[A-Za-z0-9_./+][A-Za-z0-9_./+-]*$/,
      'the repository path is not one the nitroCliPath setting takes (letters, digits and . _ / + - only)',
    );

    dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-ssh-parents-'));
    // The stand-in's parent: a pool of CPUs 1,3,5,7 and 2048 MiB of huge pages, two running enclaves.
    root = path.join(dir, 'parent');
    const put = (rel: string, text: string) => {
      mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      writeFileSync(path.join(root, rel), text);
    };
    put('sys/module/nitro_enclaves/parameters/ne_cpus', '1,3,5,7\n');
    put('sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages', '1024\n');
    put('sys/devices/virtual/dmi/id/board_asset_tag', `${TAG}\n`);
    mkdirSync(path.join(root, 'run/nitro_enclaves'), { recursive: true });
    started.push(runOnStandIn(['--memory', '64', '--cpu-count', '2', '--enclave-name', 'ssh-hello']));
    started.push(
      runOnStandIn(['--memory', '128', '--cpu-ids', '5', '7', '--enclave-name', 'ssh-debug', '--debug-mode']),
    );

    // Fails (never skips) when OpenSSH is missing.
    sshd = await startSshd({ env: { NITRO_CLI_STANDIN_ROOT: root } });
    // The sshd's Host, and one whose port nobody listens on: ssh reads only this file (-F).
    configFile = path.join(dir, 'ssh_config');
    closedPort = await writeConfigWithClosedHost(sshd, configFile, UNREACHABLE_HOST);

    await config().update(SETTINGS.sshConfigFile, configFile, vscode.ConfigurationTarget.Global);
    await config().update(
      SETTINGS.sshConnectTimeoutSeconds,
      CONNECT_TIMEOUT_SECONDS,
      vscode.ConfigurationTarget.Global,
    );
    await config().update(
      SETTINGS.parentsSshHosts,
      [{ host: sshd.host, nitroCliPath: STAND_IN, name: PARENT_NAME }, UNREACHABLE_HOST],
      vscode.ConfigurationTarget.Global,
    );
  });

  after(async function () {
    this.timeout(120_000);
    try {
      if (api) {
        await config().update(SETTINGS.parentsSshHosts, undefined, vscode.ConfigurationTarget.Global);
        await config().update(SETTINGS.sshConnectTimeoutSeconds, undefined, vscode.ConfigurationTarget.Global);
        await config().update(SETTINGS.sshConfigFile, undefined, vscode.ConfigurationTarget.Global);
        await eventually('no nitro-cli backends', () => api.parentInstances.nitroCli.backends.length === 0);
      }
    } finally {
      await sshd?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  const roots = () => api.parents.getChildren();
  const sshParent = async () =>
    (await roots()).find((r): r is ParentRoot => r.kind === 'parent' && r.parent.id === `ssh:${sshd!.host}`);
  const unreachableParent = async () =>
    (await roots()).find((r): r is UnreachableRoot => r.kind === 'unreachable' && r.label.includes(UNREACHABLE_HOST));
  const enclavesOf = async (parent: ParentRoot) =>
    (await api.parents.getChildren(parent)).filter((c): c is EnclaveNode => c.kind === 'enclave');
  const standInRecord = (enclaveId: string) => path.join(root, 'run/nitro_enclaves', `${enclaveId}.json`);

  it('makes the engine nitro-cli backends of the settings, with ssh reading only the configured file', async () => {
    await eventually('two nitro-cli backends', () => api.parentInstances.nitroCli.backends.length === 2);
    const { options, backends } = api.parentInstances.nitroCli;
    assert.equal(options.ssh.configFile, configFile);
    assert.equal(options.ssh.connectTimeoutSeconds, CONNECT_TIMEOUT_SECONDS);
    assert.deepEqual(
      options.targets.map((t) => (t.kind === 'ssh' ? [t.host, t.nitroCliPath, t.name] : [t.kind])),
      [
        [sshd!.host, STAND_IN, PARENT_NAME],
        [UNREACHABLE_HOST, 'nitro-cli', undefined],
      ],
    );
    assert.deepEqual(
      backends.map((b) => [b.kind, b.label]),
      [
        ['nitro-cli', `nitro-cli on ${PARENT_NAME}`],
        ['nitro-cli', `nitro-cli on ${UNREACHABLE_HOST}`],
      ],
    );
  });

  it('shows the SSH parent with the enclaves nitro-cli describes there', async () => {
    const parent = await eventually('the SSH parent in the view', sshParent);
    const item = api.parents.getTreeItem(parent);
    assert.equal(item.label, PARENT_NAME);
    assert.equal(item.description, `ssh:${sshd!.host} · nitro-cli`);
    assert.equal(item.contextValue, 'runningNitroCliParent');
    const tip = (item.tooltip as vscode.MarkdownString).value;
    assert.ok(tip.includes(`Reached over SSH: \`${sshd!.host}\`, with \`${STAND_IN}\` there.`), tip);
    // What the running enclaves take (from describe-enclaves over ssh).
    assert.deepEqual(parent.parent.used, { cpuIds: [1, 3, 5, 7], memoryMiB: 192 });

    const enclaves = await enclavesOf(parent);
    assert.deepEqual(
      enclaves.map((e) => [e.enclave.EnclaveName, e.enclave.EnclaveID, e.enclave.State, e.enclave.Flags]),
      [
        ['ssh-hello', `${TAG}-enc18c2e5a4f1b2d3e`, 'RUNNING', 'NONE'],
        ['ssh-debug', `${TAG}-enc18c2e5a4f1b2d3f`, 'RUNNING', 'DEBUG_MODE'],
      ],
    );
    assert.deepEqual(
      enclaves.map((e) => e.enclave.EnclaveID),
      started.map((s) => s.EnclaveID),
    );
    const hello = api.parents.getTreeItem(enclaves[0]!);
    assert.equal(hello.label, 'ssh-hello');
    assert.equal(hello.description, 'running · CID 16 · 2 CPUs · 64 MiB');
    assert.equal(hello.contextValue, 'runningNitroCliEnclave');
    const debug = api.parents.getTreeItem(enclaves[1]!);
    assert.equal(debug.description, 'running · CID 17 · 2 CPUs · 128 MiB · debug mode');
    assert.equal(debug.contextValue, 'debugNitroCliEnclave');
    const pcrs = await api.parents.getChildren(enclaves[0]);
    assert.deepEqual(
      pcrs.map((p) => (p.kind === 'pcr' ? p.name : p.kind)),
      ['PCR0', 'PCR1', 'PCR2'],
    );
  });

  it("shows the host whose port is closed as an unreachable parent, with ssh's reason", async () => {
    const node = await eventually('the unreachable parent in the view', unreachableParent);
    const item = api.parents.getTreeItem(node);
    assert.equal(item.label, UNREACHABLE_HOST, 'the name an unnamed host has when reached: the host');
    assert.equal(item.description, 'unreachable: Connection refused');
    assert.equal(item.contextValue, 'unreachableNitroCliParent');
    assert.equal(item.collapsibleState, vscode.TreeItemCollapsibleState.None);
    const tip = (item.tooltip as vscode.MarkdownString).value;
    assert.ok(
      tip.includes(
        `cannot reach ${UNREACHABLE_HOST}: connect to host 127.0.0.1 port ${closedPort}: Connection refused`,
      ),
      tip,
    );
    assert.ok(tip.includes(`Reached over SSH: \`${UNREACHABLE_HOST}\``), tip);
    assert.ok(
      tip.includes(
        `ssh -o BatchMode=yes -o ConnectTimeout=${CONNECT_TIMEOUT_SECONDS} -F ${configFile} ` +
          `${UNREACHABLE_HOST} nitro-cli describe-enclaves`,
      ),
      tip,
    );
    assert.ok(!tip.includes('To see it yourself'), 'one command to check the host, not two');
    assert.deepEqual(await api.parents.getChildren(node), []);
    // The reachable parent is still there beside it.
    assert.ok(await sshParent());
  });

  it("terminates an enclave of the SSH parent with the view's command: it leaves the view and the parent", async () => {
    const parent = await eventually('the SSH parent', sshParent);
    const hello = (await enclavesOf(parent)).find((e) => e.enclave.EnclaveName === 'ssh-hello');
    assert.ok(hello);
    assert.ok(existsSync(standInRecord(hello.enclave.EnclaveID)));
    const done = await vscode.commands.executeCommand<number>(COMMANDS.enclaveTerminate, hello, undefined, {
      confirmed: true,
    });
    assert.equal(done, 1);
    await eventually('ssh-hello to leave the SSH parent in the view', async () => {
      const now = await sshParent();
      return now && !(await enclavesOf(now)).some((e) => e.enclave.EnclaveID === hello.enclave.EnclaveID);
    });
    assert.ok(!existsSync(standInRecord(hello.enclave.EnclaveID)), 'terminated on the parent (the stand-in state)');
    const now = await eventually('the SSH parent', sshParent);
    assert.deepEqual(
      (await enclavesOf(now)).map((e) => e.enclave.EnclaveName),
      ['ssh-debug'],
    );
    assert.deepEqual(now.parent.used, { cpuIds: [5, 7], memoryMiB: 128 });
  });

  it("runs the doctor on the SSH parent from its node: the host's report, read over ssh", async () => {
    const parent = await eventually('the SSH parent', sshParent);
    const doc = await vscode.commands.executeCommand<vscode.TextDocument>(COMMANDS.parentDoctor, parent);
    assert.ok(doc, 'a report');
    assert.equal(doc.languageId, 'markdown');
    const text = doc.getText();
    assert.match(
      text,
      new RegExp(
        `^# Nitro Enclaves doctor: ${PARENT_NAME} \\(over SSH: ${sshd!.host}\\)\\n\\n\\d+ failure\\(s\\), ` +
          `\\d+ warning\\(s\\), \\d+ OK\\.\\n`,
      ),
    );
    for (const id of ['nitro-cli', 'driver', 'device', 'allocator', 'hugepages', 'cpu-pool']) {
      assert.match(text, new RegExp(`^- \\*\\*(OK|Warning|Failure)\\*\\* \\(\`${id}\`\\): `, 'm'), id);
    }
    // nitro-cli on that host is the stand-in, found at the host's nitroCliPath (this machine has none).
    assert.match(text, /^- \*\*OK\*\* \(`nitro-cli`\): .*1\.5\.0/m);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('says why the doctor cannot check the unreachable parent, and shows no report', async () => {
    const node = await eventually('the unreachable parent in the view', unreachableParent);
    const doc = await vscode.commands.executeCommand<vscode.TextDocument | undefined>(COMMANDS.parentDoctor, node);
    assert.equal(doc, undefined, 'no report for a host that cannot be reached');
  });
});
