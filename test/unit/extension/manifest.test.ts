import * as assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { CAPABILITIES } from '../../../src/engine/platform/capabilities';
import {
  ATTESTATION_PANEL,
  ATTESTATION_VIEWER,
  ATTESTATION_VIEWER_CBOR,
  COMMANDS,
  COMMAND_TABLE,
  CONTEXT_KEYS,
  CONTEXT_VALUES,
  EIF_VIEWER,
  EXTENSION_ID,
  LOG_CHANNEL,
  NITRO_CLI_SETTINGS,
  NODE_ONLY_COMMANDS,
  PALETTE_WHEN,
  PARENT_COMMANDS,
  RESTRICTED_SETTINGS,
  SETTINGS,
  VIEWS,
  VIEW_CONTAINER,
} from '../../../src/extension/ids';
import { sshHostProblem } from '../../../src/extension/parents/nitroCliSettings';
import { PKG, ROOT } from '../repo';

const root = ROOT;
const pkg = PKG;
const contributes = pkg.contributes;

interface MenuEntry {
  command: string;
  when?: string;
  group?: string;
}

/** Every `nitroEnclaves.<noun>.<verb>` string literal in src/extension. */
function idsUsedInExtensionSource(): Set<string> {
  const found = new Set<string>();
  const dir = path.join(root, 'src/extension');
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith('.ts')) continue;
    const text = readFileSync(path.join(e.parentPath, e.name), 'utf8');
    for (const m of text.matchAll(/['"`](nitroEnclaves\.[a-zA-Z]+\.[a-zA-Z.]+)['"`]/g)) found.add(m[1] as string);
  }
  return found;
}

describe('(unit) package.json manifest and src/extension/ids.ts agree', () => {
  it('identifies the extension as publisher.name', () => {
    assert.equal(EXTENSION_ID, `${pkg.publisher}.${pkg.name}`);
    assert.equal(pkg.name, 'nitro-enclaves');
    assert.equal(pkg.displayName, 'Nitro Enclaves');
    assert.equal(pkg.main, './dist/extension.js');
    assert.deepEqual(pkg.bin, { 'nitro-dev': 'dist/cli.js' });
  });

  it('contributes every command of ids.ts, and registers nothing it does not contribute', () => {
    const contributed = contributes.commands.map((c: { command: string }) => c.command).sort();
    assert.deepEqual(contributed, Object.values(COMMANDS).sort());
  });

  it('uses only known ids in the extension source', () => {
    const known = new Set<string>([
      ...Object.values(COMMANDS),
      ...Object.values(VIEWS),
      ...Object.values(SETTINGS),
      ...Object.values(CONTEXT_KEYS),
      EIF_VIEWER,
      ATTESTATION_VIEWER,
      ATTESTATION_VIEWER_CBOR,
      ATTESTATION_PANEL,
    ]);
    const unknown = [...idsUsedInExtensionSource()].filter((id) => !known.has(id));
    assert.deepEqual(unknown, [], 'ids written outside ids.ts must be declared there');
  });

  it('names commands nitroEnclaves.<noun>.<verb> in the "Nitro Enclaves" category, with a title', () => {
    for (const c of contributes.commands) {
      assert.match(c.command, /^nitroEnclaves\.[a-z][a-zA-Z]*\.[a-z][a-zA-Z]*$/, c.command);
      assert.match(c.category, /^Nitro Enclaves( \(.+\))?$/, c.command);
      assert.ok(
        c.title && !c.title.startsWith('Nitro Enclaves'),
        `${c.command}: the category already says "Nitro Enclaves"`,
      );
      if (c.icon !== undefined) assert.match(c.icon, /^\$\([a-z-]+\)$/, `${c.command}: icons are codicons`);
    }
  });

  it('contributes the view container and both views of ids.ts', () => {
    const containers = contributes.viewsContainers.activitybar;
    assert.deepEqual(
      containers.map((c: { id: string }) => c.id),
      [VIEW_CONTAINER],
    );
    assert.equal(containers[0].title, 'Nitro Enclaves');
    assert.match(containers[0].icon, /^media\/.+\.svg$/);
    readFileSync(path.join(root, containers[0].icon)); // the icon file exists
    const views = contributes.views[VIEW_CONTAINER];
    assert.deepEqual(
      views.map((v: { id: string; name: string }) => [v.id, v.name]),
      [
        [VIEWS.parents, 'Parent Instances'],
        [VIEWS.images, 'Enclave Images'],
      ],
    );
    const welcomed = new Set(contributes.viewsWelcome.map((w: { view: string }) => w.view));
    for (const id of Object.values(VIEWS)) assert.ok(welcomed.has(id), `${id} has welcome content`);
  });

  it('activates on specific events only', () => {
    assert.ok(pkg.activationEvents.length > 0);
    for (const e of pkg.activationEvents) assert.notEqual(e, '*');
    for (const id of Object.values(VIEWS)) assert.ok(pkg.activationEvents.includes(`onView:${id}`), id);
  });

  it(
    'refers only to contributed commands in menus and welcome links, ' +
      'and hides node-only commands from the palette',
    () => {
      const commands = new Set(contributes.commands.map((c: { command: string }) => c.command));
      const menus = contributes.menus as Record<string, MenuEntry[]>;
      for (const [menu, entries] of Object.entries(menus)) {
        for (const e of entries) assert.ok(commands.has(e.command), `${menu}: ${e.command} is contributed`);
      }
      for (const w of contributes.viewsWelcome) {
        for (const m of (w.contents as string).matchAll(/\(command:([\w.]+)\)/g)) {
          const id = m[1] as string;
          assert.ok(commands.has(id) || id.startsWith('workbench.'), `welcome link ${id}`);
        }
      }
      const palette = Object.fromEntries((menus['commandPalette'] ?? []).map((e) => [e.command, e.when]));
      assert.deepEqual(palette, PALETTE_WHEN, 'the commandPalette entries are what the command table (ids.ts) says');
      const hidden = new Set(menus['commandPalette']?.filter((e) => e.when === 'false').map((e) => e.command));
      assert.deepEqual(
        [...hidden].sort(),
        [...NODE_ONLY_COMMANDS].sort(),
        'exactly the node-only commands are hidden from the palette',
      );
      const onNodes = new Set(
        [...(menus['view/item/context'] ?? []), ...(menus['explorer/context'] ?? [])].map((e) => e.command),
      );
      for (const id of NODE_ONLY_COMMANDS)
        assert.ok(onNodes.has(id), `${id} is node-only, so a tree or Explorer menu must offer it`);
    },
  );

  it('derives the command ids from one table, the parent commands among them', () => {
    for (const [key, spec] of Object.entries(COMMAND_TABLE))
      assert.equal((COMMANDS as Record<string, string>)[key], spec.id, key);
    for (const [key, spec] of Object.entries(PARENT_COMMANDS))
      assert.equal((COMMAND_TABLE as Record<string, { id: string }>)[key]?.id, spec.id, key);
    assert.equal(new Set(Object.values(COMMANDS)).size, Object.keys(COMMAND_TABLE).length, 'no id is used twice');
  });

  it('has a context key for every backend capability, and menus use only those', () => {
    assert.deepEqual(Object.keys(CONTEXT_KEYS).sort(), Object.keys(CAPABILITIES).sort());
    const used = new Set<string>();
    const clauses = [
      ...Object.values(contributes.menus as Record<string, MenuEntry[]>)
        .flat()
        .map((e) => e.when ?? ''),
      ...contributes.viewsWelcome.map((w: { when?: string }) => w.when ?? ''),
    ];
    for (const when of clauses) for (const m of when.matchAll(/nitroEnclaves\.backends\.\w+/g)) used.add(m[0]);
    const keys = new Set<string>(Object.values(CONTEXT_KEYS));
    for (const k of used) assert.ok(keys.has(k), `${k} is declared in CONTEXT_KEYS`);
    assert.ok(used.has(CONTEXT_KEYS.addParents), 'Add Parent is offered only where a backend can add parents');
  });

  it('matches context values with anchored patterns that the tree items produce', () => {
    const itemMenus = (contributes.menus['view/item/context'] ?? []) as MenuEntry[];
    for (const e of itemMenus) {
      const m = /viewItem =~ \/(.+?)\//.exec(e.when ?? '');
      assert.ok(m, `${e.command}: when clause matches viewItem by regex`);
    }
    assert.equal(CONTEXT_VALUES.parent('emulator', 'not-started'), 'notStartedEmulatorParent');
    assert.equal(CONTEXT_VALUES.parent('nitro-cli', 'running'), 'runningNitroCliParent');
    assert.match(CONTEXT_VALUES.image, /Image$/);
  });

  it('offers on each parents-view node only the commands that work on it', () => {
    const itemMenus = (contributes.menus['view/item/context'] ?? []) as MenuEntry[];
    /** The commands a node of the Parent Instances view with this context value offers. */
    const on = (contextValue: string) =>
      new Set(
        itemMenus
          .filter((e) => (e.when ?? '').includes('view == nitroEnclaves.views.parents'))
          .filter((e) => new RegExp(/viewItem =~ \/(.+?)\//.exec(e.when ?? '')?.[1] ?? '^$').test(contextValue))
          .map((e) => e.command),
      );
    const emulated = on(CONTEXT_VALUES.enclave('RUNNING', false));
    const emulatedDebug = on(CONTEXT_VALUES.enclave('RUNNING', true));
    const real = on(CONTEXT_VALUES.enclave('RUNNING', false, 'nitro-cli'));
    const realDebug = on(CONTEXT_VALUES.enclave('RUNNING', true, 'nitro-cli'));
    assert.equal(CONTEXT_VALUES.enclave('RUNNING', true, 'nitro-cli'), 'debugNitroCliEnclave');
    for (const id of [COMMANDS.enclaveDescribe, COMMANDS.enclaveCopyId, COMMANDS.enclaveTerminate]) {
      for (const offered of [emulated, emulatedDebug, real, realDebug]) assert.ok(offered.has(id), id);
    }
    assert.ok(emulatedDebug.has(COMMANDS.enclaveConsole) && realDebug.has(COMMANDS.enclaveConsole));
    assert.ok(!real.has(COMMANDS.enclaveConsole), 'production enclaves have no console');
    assert.ok(emulated.has(COMMANDS.enclaveAttest) && emulatedDebug.has(COMMANDS.enclaveAttest));
    assert.ok(
      !real.has(COMMANDS.enclaveAttest) && !realDebug.has(COMMANDS.enclaveAttest),
      'the NSM of a real enclave is reachable only from inside it',
    );
    const unreachable = on(CONTEXT_VALUES.unreachableParent('nitro-cli'));
    assert.equal(CONTEXT_VALUES.unreachableParent('nitro-cli'), 'unreachableNitroCliParent');
    assert.deepEqual([...unreachable].sort(), [COMMANDS.parentDoctor, COMMANDS.parentsRefresh].sort());
    const realParent = on(CONTEXT_VALUES.parent('nitro-cli', 'running'));
    assert.ok(realParent.has(COMMANDS.enclaveRun) && realParent.has(COMMANDS.parentDoctor));
    assert.ok(!on(CONTEXT_VALUES.parent('emulator', 'running')).has(COMMANDS.parentDoctor));
  });

  it('describes every setting and names it nitroEnclaves.<area>.<name>', () => {
    const sections = contributes.configuration as {
      title: string;
      properties: Record<string, { markdownDescription?: string; description?: string }>;
    }[];
    const names = sections.flatMap((s) => Object.keys(s.properties));
    assert.deepEqual(names.sort(), Object.values(SETTINGS).sort());
    for (const s of sections) {
      for (const [name, p] of Object.entries(s.properties)) {
        assert.match(name, /^nitroEnclaves\.[a-z][a-zA-Z]*\.[a-z][a-zA-Z]*$/);
        assert.ok((p.markdownDescription ?? p.description ?? '').length > 20, `${name} has a description`);
      }
    }
  });

  it('runs where the workspace is (on the parent in a Remote-SSH window), as a workspace extension', () => {
    assert.deepEqual(pkg.extensionKind, ['workspace']);
  });

  it('restricts, in untrusted workspaces, the settings that name programs it runs or hosts it connects to', () => {
    const untrusted = pkg.capabilities.untrustedWorkspaces;
    assert.equal(untrusted.supported, 'limited');
    assert.ok(untrusted.description.length > 40, 'says what is limited');
    assert.deepEqual([...untrusted.restrictedConfigurations].sort(), [...RESTRICTED_SETTINGS].sort());
    const properties = Object.assign(
      {},
      ...(contributes.configuration as { properties: Record<string, unknown> }[]).map((s) => s.properties),
    ) as Record<string, { scope?: string; type?: string; default?: unknown; markdownDescription?: string }>;
    // A string setting whose description says it is an executable or a file the extension hands to a
    // program is restricted: a new one cannot be added and forgotten here.
    for (const [name, p] of Object.entries(properties)) {
      const namesProgram = /executable|ssh configuration file/i.test(p.markdownDescription ?? '');
      if (p.type === 'string' && namesProgram)
        assert.ok(untrusted.restrictedConfigurations.includes(name), `${name} names a program: restrict it`);
    }
    for (const name of RESTRICTED_SETTINGS) assert.ok(properties[name], `${name} is contributed`);
  });

  it('makes the settings of programs, hosts and paths machine-overridable, with their defaults', () => {
    const properties = Object.assign(
      {},
      ...(contributes.configuration as { properties: Record<string, unknown> }[]).map((s) => s.properties),
    ) as Record<string, Record<string, unknown>>;
    for (const name of [...NITRO_CLI_SETTINGS, SETTINGS.buildBlobsPath])
      assert.equal(properties[name]?.['scope'], 'machine-overridable', name);
    assert.equal(properties[SETTINGS.nitroCliPath]?.['default'], 'nitro-cli');
    assert.equal(properties[SETTINGS.sshPath]?.['default'], 'ssh');
    assert.equal(properties[SETTINGS.sshConfigFile]?.['default'], '');
    assert.deepEqual(properties[SETTINGS.parentsSshHosts]?.['default'], []);
    const timeout = properties[SETTINGS.sshConnectTimeoutSeconds];
    assert.deepEqual([timeout?.['type'], timeout?.['default'], timeout?.['minimum']], ['integer', 10, 1]);
    const local = properties[SETTINGS.parentsLocalParent];
    assert.deepEqual([local?.['enum'], local?.['default']], [['auto', 'always', 'never'], 'auto']);
    assert.equal((local?.['markdownEnumDescriptions'] as unknown[]).length, 3);
  });

  it('describes SSH hosts as strings or objects, with the host rule the extension applies', () => {
    interface Schema {
      type?: string;
      pattern?: string;
      required?: string[];
      additionalProperties?: boolean;
      properties?: Record<string, Schema>;
      items?: { oneOf: Schema[] };
    }
    const hosts = (contributes.configuration as { properties: Record<string, Schema> }[]).find(
      (s) => s.properties[SETTINGS.parentsSshHosts],
    )?.properties[SETTINGS.parentsSshHosts];
    assert.equal(hosts?.type, 'array');
    const [asString, asObject] = hosts?.items?.oneOf ?? [];
    assert.ok(asString?.pattern && asObject?.properties);
    assert.equal(asString.type, 'string');
    assert.equal(asObject.type, 'object');
    assert.deepEqual(asObject.required, ['host']);
    assert.equal(asObject.additionalProperties, false);
    assert.deepEqual(Object.keys(asObject.properties).sort(), ['host', 'name', 'nitroCliPath']);
    const pattern = asString.pattern;
    assert.equal(asObject.properties['host']?.pattern, pattern);
    const schemaAccepts = (host: string) => new RegExp(pattern).test(host);
    for (const host of [
      'ec2-user@10.0.0.12',
      'build-parent',
      '::1',
      'fe80::1%eth0',
      '-oProxyCommand=touch /tmp/x',
      'u@-oProxyCommand=x',
      'a b',
      'h;id',
      '$(id)',
      'a@b@c',
      'ssh://h',
    ])
      assert.equal(schemaAccepts(host), sshHostProblem(host) === undefined, host);
  });

  it('pins the toolchain the harness needs', () => {
    assert.match(pkg.engines.vscode, /^\^1\.(\d+)\.\d+$/);
    const minor = Number(/^\^1\.(\d+)/.exec(pkg.engines.vscode)?.[1]);
    assert.ok(minor <= 100, 'engines.vscode must not exceed the VS Code 1.100 inside code-server 4.100.3');
    assert.equal(pkg.devDependencies['@types/vscode'], `1.${minor}.0`);
    assert.match(pkg.devDependencies['@vscode/test-electron'], /^2\.5\./);
    assert.match(pkg.devDependencies['@vscode/vsce'], /^3\./);
    assert.equal(pkg.overrides['cbor-extract'], '2.2.2');
    for (const [name, version] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
      assert.match(version as string, /^\d+\.\d+\.\d+$/, `${name} is pinned exactly`);
    }
  });

  it('names the log channel "Nitro Enclaves"', () => {
    assert.equal(LOG_CHANNEL, 'Nitro Enclaves');
  });
});
