import * as assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { CAPABILITIES } from '../../../src/engine/platform/capabilities';
import type { BackendKind, EnclaveState } from '../../../src/engine/platform/backend';
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
  PICKER_COMMANDS,
  QEMU_SETTINGS,
  RESTRICTED_SETTINGS,
  SETTINGS,
  SETTING_KINDS,
  STATE_KEYS,
  VIEWS,
  VIEW_CONTAINER,
} from '../../../src/extension/ids';
import { sshHostProblem } from '../../../src/extension/parents/nitroCliSettings';
import { NLS, PKG, PKG_RAW, ROOT } from '../repo';

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
      ...Object.values(STATE_KEYS),
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

  it('activates on specific events only, and lists none that VS Code generates from the contributions', () => {
    // VS Code (1.74 and later) activates on its views (onView), commands (onCommand), custom editors
    // (onCustomEditor) and task types (onTaskType) from `contributes`; a webview panel is not
    // contributed, so restoring one after a reload needs onWebviewPanel; workspaceContains sets the
    // context keys of the palette's when clauses and the status bar in a folder with images.
    const generated = [
      ...Object.values(VIEWS).map((id) => `onView:${id}`),
      ...contributes.commands.map((c: { command: string }) => `onCommand:${c.command}`),
      ...contributes.customEditors.map((e: { viewType: string }) => `onCustomEditor:${e.viewType}`),
      ...contributes.taskDefinitions.map((t: { type: string }) => `onTaskType:${t.type}`),
    ];
    for (const e of pkg.activationEvents as string[]) {
      assert.notEqual(e, '*');
      assert.ok(!generated.includes(e), `${e} is generated by VS Code from the contributions`);
    }
    assert.deepEqual(pkg.activationEvents, [`onWebviewPanel:${ATTESTATION_PANEL}`, 'workspaceContains:**/*.eif']);
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
    // QEMU parents and enclaves: the same commands as the others, but Get Attestation Document (QEMU's
    // NSM is a device inside the enclave) and Run Doctor (nitro-cli's).
    const qemuParent = on(CONTEXT_VALUES.parent('qemu', 'running'));
    const emulatedParent = on(CONTEXT_VALUES.parent('emulator', 'running'));
    assert.deepEqual([...qemuParent].sort(), [...emulatedParent].sort());
    const qemu = on(CONTEXT_VALUES.enclave('RUNNING', false, 'qemu'));
    const qemuDebug = on(CONTEXT_VALUES.enclave('RUNNING', true, 'qemu'));
    assert.equal(CONTEXT_VALUES.enclave('RUNNING', true, 'qemu'), 'debugQemuEnclave');
    assert.deepEqual([...qemu].sort(), [...emulated].filter((id) => id !== COMMANDS.enclaveAttest).sort());
    assert.deepEqual([...qemuDebug].sort(), [...emulatedDebug].filter((id) => id !== COMMANDS.enclaveAttest).sort());
    assert.ok(qemuDebug.has(COMMANDS.enclaveConsole), 'a debug-mode QEMU enclave streams its console');
    assert.deepEqual([...on(CONTEXT_VALUES.qemuSetup)], [COMMANDS.qemuSetup]);
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
    // Every setting that names a program, a path or a host is restricted: the blobs folder too (its
    // kernel and init go into every image built), which an untrusted folder could otherwise swap.
    assert.deepEqual(
      [...RESTRICTED_SETTINGS].sort(),
      Object.entries(SETTING_KINDS)
        .filter(([, kind]) => kind !== 'other')
        .map(([name]) => name)
        .sort(),
    );
    assert.deepEqual(Object.keys(SETTING_KINDS).sort(), Object.values(SETTINGS).sort());
    for (const name of [
      SETTINGS.buildBlobsPath,
      SETTINGS.nitroCliPath,
      SETTINGS.sshPath,
      SETTINGS.sshConfigFile,
      SETTINGS.qemuPath,
      SETTINGS.qemuVhostDeviceVsockPath,
      SETTINGS.qemuCacheDir,
    ])
      assert.ok(untrusted.restrictedConfigurations.includes(name), name);
    const properties = Object.assign(
      {},
      ...(contributes.configuration as { properties: Record<string, unknown> }[]).map((s) => s.properties),
    ) as Record<string, { scope?: string; type?: string; default?: unknown; markdownDescription?: string }>;
    // A string setting whose description says it is an executable or a file the extension hands to a
    // program is restricted: a new one cannot be added and forgotten here.
    for (const [name, p] of Object.entries(properties)) {
      const namesProgramOrPath = /executable|configuration file|folder|path/i.test(p.markdownDescription ?? '');
      if (p.type === 'string' && !('enum' in p) && namesProgramOrPath) {
        assert.notEqual(SETTING_KINDS[name as keyof typeof SETTING_KINDS], 'other', `${name}: say what it names`);
        assert.ok(untrusted.restrictedConfigurations.includes(name), `${name} names a program or path: restrict it`);
      }
    }
    for (const name of RESTRICTED_SETTINGS) assert.ok(properties[name], `${name} is contributed`);
  });

  it('makes the settings of programs, hosts and paths machine-overridable, with their defaults', () => {
    const properties = Object.assign(
      {},
      ...(contributes.configuration as { properties: Record<string, unknown> }[]).map((s) => s.properties),
    ) as Record<string, Record<string, unknown>>;
    for (const name of [...NITRO_CLI_SETTINGS, ...QEMU_SETTINGS, SETTINGS.buildBlobsPath])
      assert.equal(properties[name]?.['scope'], 'machine-overridable', name);
    const qemu = properties[SETTINGS.qemuBackend];
    assert.deepEqual([qemu?.['enum'], qemu?.['default']], [['auto', 'always', 'never'], 'auto']);
    assert.equal((qemu?.['markdownEnumDescriptions'] as unknown[]).length, 3);
    for (const name of [SETTINGS.qemuPath, SETTINGS.qemuVhostDeviceVsockPath, SETTINGS.qemuCacheDir])
      assert.equal(properties[name]?.['default'], '', name);
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

/** Every backend kind and enclave state, checked complete by the compiler. */
const BACKEND_KINDS_ALL = Object.keys({ emulator: 1, 'nitro-cli': 1, qemu: 1 } satisfies Record<BackendKind, 1>);
const ENCLAVE_STATES = Object.keys({ RUNNING: 1, TERMINATING: 1, EMPTY: 1 } satisfies Record<EnclaveState, 1>);

/**
 * Every context value the trees can give a node: the constants of CONTEXT_VALUES, and its functions
 * called with every argument the trees pass (parents are listed running or unreachable; an enclave
 * names its backend when that backend's NSM is out of reach, which is every backend but the emulator).
 */
function producedContextValues(): string[] {
  const domains: Record<string, () => string[]> = {
    parent: () => BACKEND_KINDS_ALL.map((b) => CONTEXT_VALUES.parent(b, 'running')),
    unreachableParent: () => BACKEND_KINDS_ALL.map((b) => CONTEXT_VALUES.unreachableParent(b)),
    enclave: () =>
      ENCLAVE_STATES.flatMap((state) =>
        [false, true].flatMap((debug) =>
          [undefined, ...BACKEND_KINDS_ALL.filter((b) => b !== 'emulator')].map((of) =>
            CONTEXT_VALUES.enclave(state, debug, of),
          ),
        ),
      ),
    kms: () => [CONTEXT_VALUES.kms(true), CONTEXT_VALUES.kms(false)],
  };
  const values: string[] = [];
  for (const [key, value] of Object.entries(CONTEXT_VALUES)) {
    if (typeof value === 'string') values.push(value);
    else {
      const domain = domains[key];
      assert.ok(domain, `CONTEXT_VALUES.${key} is a function: list the arguments the trees call it with`);
      values.push(...domain());
    }
  }
  return [...new Set(values)].sort();
}

/** VS Code's glob for a file name (`*`, `?`, `[...]`, `[!...]`), enough for the selectors here. */
function globMatches(pattern: string, name: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      assert.ok(end > i, `${pattern}: unclosed [`);
      const body = pattern.slice(i + 1, end);
      re += body.startsWith('!') ? `[^${body.slice(1)}]` : `[${body}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`).test(name);
}

describe('(unit) package.json manifest strings are in package.nls.json (translatable)', () => {
  /** Fields VS Code shows to people, by where they are; each must be a %key% of package.nls.json. */
  const SHOWN = new Set([
    'displayName',
    'description',
    'title',
    'shortTitle',
    'category',
    'name',
    'contextualTitle',
    'contents',
    'markdownDescription',
    'deprecationMessage',
    'enumDescriptions',
    'markdownEnumDescriptions',
    'altText',
  ]);
  // Not shown as text: ids, globs, commands, patterns, file paths, JSON-schema details.
  const SKIP = new Set([
    'name',
    'scripts',
    'devDependencies',
    'dependencies',
    'engines',
    'keywords',
    'bin',
    'repository',
  ]);

  function shownStrings(value: unknown, where: string, field: string | undefined, out: [string, string][]): void {
    if (typeof value === 'string') {
      if (field !== undefined && SHOWN.has(field)) out.push([where, value]);
      return;
    }
    if (Array.isArray(value)) value.forEach((v, i) => shownStrings(v, `${where}[${i}]`, field, out));
    else if (value && typeof value === 'object')
      for (const [k, v] of Object.entries(value)) {
        if (SKIP.has(k) && where === '$') continue;
        shownStrings(v, `${where}.${k}`, k, out);
      }
  }

  it('refers with %key% for every string shown to people, and every key is used', () => {
    const found: [string, string][] = [];
    shownStrings(PKG_RAW, '$', undefined, found);
    const literal = found.filter(([, v]) => !/^%[\w.-]+%$/.test(v));
    assert.deepEqual(literal, [], 'move these strings into package.nls.json');
    const used = new Set(found.map(([, v]) => v.slice(1, -1)));
    const unused = Object.keys(NLS).filter((k) => !used.has(k));
    assert.deepEqual(unused, [], 'package.nls.json keys nothing refers to');
  });
});

describe('(unit) package.json manifest follows VS Code conventions', () => {
  const menus = contributes.menus as Record<string, MenuEntry[]>;
  const itemMenus = menus['view/item/context'] ?? [];
  const V = CONTEXT_VALUES;
  const enclaves = (states: string[], debug: boolean[], nsm: (string | undefined)[]) =>
    states.flatMap((s) => debug.flatMap((d) => nsm.map((n) => V.enclave(s, d, n))));
  const allEnclaves = [...new Set(enclaves(ENCLAVE_STATES, [false, true], [undefined, 'nitro-cli', 'qemu']))];
  const runningParents = BACKEND_KINDS_ALL.map((b) => V.parent(b, 'running'));

  /** What each tree menu entry (`command|group`, view) is meant for: exactly these context values. */
  const INTENDED: Record<string, readonly string[]> = {
    // Enclave Images
    'nitroEnclaves.image.copyPcr|inline|images': [V.pcr],
    'nitroEnclaves.image.copyPcr|1_copy@1|images': [V.pcr],
    'nitroEnclaves.pcr.copyKmsCondition|1_copy@2|images': [V.pcr],
    // Copying the PCRs of a malformed image would only end in an error.
    'nitroEnclaves.image.sign|2_sign@1|images': [V.image],
    'nitroEnclaves.image.copyAllPcrs|inline|images': [V.image],
    'nitroEnclaves.image.copyAllPcrs|1_general@2|images': [V.image],
    // Describe says why a malformed image cannot be described; Reveal works on any file.
    'nitroEnclaves.image.describe|1_general@1|images': [V.image, V.brokenImage],
    'nitroEnclaves.image.reveal|1_general@3|images': [V.image, V.brokenImage],
    'nitroEnclaves.kms.generatePolicy|3_kms@1|images': [V.image],
    'nitroEnclaves.enclave.run|0_run@1|images': [V.image],
    'nitroEnclaves.enclave.run|inline|images': [V.image],
    // Parent Instances
    'nitroEnclaves.enclave.run|inline|parents': runningParents,
    'nitroEnclaves.enclave.run|1_general@1|parents': runningParents,
    'nitroEnclaves.parent.editAllocator|2_config@1|parents': [...runningParents, V.pool],
    'nitroEnclaves.parent.editAllocator|inline|parents': [V.pool],
    'nitroEnclaves.enclave.console|inline|parents': enclaves(['RUNNING'], [true], [undefined, 'nitro-cli', 'qemu']),
    'nitroEnclaves.enclave.console|2_lifecycle@1|parents': enclaves(
      ['RUNNING'],
      [true],
      [undefined, 'nitro-cli', 'qemu'],
    ),
    'nitroEnclaves.enclave.describe|1_general@1|parents': allEnclaves,
    'nitroEnclaves.enclave.copyId|1_general@2|parents': allEnclaves,
    'nitroEnclaves.image.copyPcr|inline|parents': [V.enclavePcr],
    'nitroEnclaves.image.copyPcr|1_copy@1|parents': [V.enclavePcr],
    'nitroEnclaves.pcr.copyKmsCondition|1_copy@2|parents': [V.enclavePcr],
    // Only the emulator's NSM answers the extension.
    'nitroEnclaves.enclave.attest|3_attestation@1|parents': enclaves(['RUNNING'], [false, true], [undefined]),
    'nitroEnclaves.enclave.terminate|9_destructive@1|parents': enclaves(
      ['RUNNING'],
      [false, true],
      [undefined, 'nitro-cli', 'qemu'],
    ),
    'nitroEnclaves.enclave.terminate|inline|parents': enclaves(
      ['RUNNING'],
      [false, true],
      [undefined, 'nitro-cli', 'qemu'],
    ),
    'nitroEnclaves.parents.refresh|inline|parents': BACKEND_KINDS_ALL.map((b) => V.unreachableParent(b)),
    'nitroEnclaves.parents.refresh|1_general@1|parents': BACKEND_KINDS_ALL.map((b) => V.unreachableParent(b)),
    'nitroEnclaves.parent.doctor|2_config@2|parents': [
      V.parent('nitro-cli', 'running'),
      V.unreachableParent('nitro-cli'),
    ],
    'nitroEnclaves.kms.start|inline|parents': [V.kms(false)],
    'nitroEnclaves.kms.start|1_general@1|parents': [V.kms(false)],
    'nitroEnclaves.kms.stop|inline|parents': [V.kms(true)],
    'nitroEnclaves.kms.stop|1_general@1|parents': [V.kms(true)],
    'nitroEnclaves.kms.copyKeyArn|inline|parents': [V.kmsKey],
    'nitroEnclaves.kms.copyKeyArn|1_general@1|parents': [V.kmsKey],
    'nitroEnclaves.vsockProxy.stop|inline|parents': [V.proxy],
    'nitroEnclaves.vsockProxy.stop|1_general@1|parents': [V.proxy],
    'nitroEnclaves.vsockProxy.start|2_vsock@1|parents': runningParents,
    // The message of a QEMU backend that lacks its tools.
    'nitroEnclaves.qemu.setup|inline|parents': [V.qemuSetup],
    'nitroEnclaves.qemu.setup|1_general@1|parents': [V.qemuSetup],
  };

  it('matches, in every tree menu entry, exactly the context values it is meant for', () => {
    const produced = producedContextValues();
    assert.ok(produced.includes('brokenEifImage') && produced.includes('debugNitroCliEnclave'));
    // Entries of one command and group in one view (one per regex) together match what is intended.
    const matchedBy = new Map<string, Set<string>>();
    for (const e of itemMenus) {
      const when = e.when ?? '';
      const view = /view == nitroEnclaves\.views\.(\w+)/.exec(when)?.[1];
      const regex = /viewItem =~ \/(.+?)\/(?= |$)/.exec(when)?.[1];
      assert.ok(view && regex, `${e.command}: its when clause names the view and matches viewItem by regex`);
      const key = `${e.command}|${e.group}|${view}`;
      const matched = matchedBy.get(key) ?? new Set<string>();
      const before = matched.size;
      for (const v of produced.filter((v) => new RegExp(regex).test(v))) matched.add(v);
      assert.ok(matched.size > before, `${key}: /${regex}/ matches a context value no other entry of it does`);
      matchedBy.set(key, matched);
    }
    for (const [key, matched] of matchedBy) {
      const intended = INTENDED[key];
      assert.ok(intended, `${key}: say in INTENDED which context values it is meant for`);
      for (const v of intended) assert.ok(produced.includes(v), `${key}: ${v} is a context value the trees produce`);
      assert.deepEqual([...matched].sort(), [...new Set(intended)].sort(), key);
    }
    const seen = new Set(matchedBy.keys());
    assert.deepEqual([...seen].sort(), Object.keys(INTENDED).sort(), 'every intended entry is in the manifest');
  });

  it('offers Copy PCR and Copy KMS Condition on the PCRs of a running enclave', () => {
    const onEnclavePcr = itemMenus
      .filter((e) => (e.when ?? '').includes('view == nitroEnclaves.views.parents'))
      .filter((e) => new RegExp(/viewItem =~ \/(.+?)\/(?= |$)/.exec(e.when ?? '')?.[1] ?? '^$').test(V.enclavePcr))
      .map((e) => `${e.command}|${e.group}`);
    assert.deepEqual(onEnclavePcr.sort(), [
      `${COMMANDS.imageCopyPcr}|1_copy@1`,
      `${COMMANDS.imageCopyPcr}|inline`,
      `${COMMANDS.pcrCopyKmsCondition}|1_copy@2`,
    ]);
  });

  it('ends the titles of commands that ask for input in "..." (never "…"), and shows them in the palette', () => {
    for (const c of contributes.commands as { command: string; title: string }[]) {
      const asks = PICKER_COMMANDS.includes(c.command as (typeof PICKER_COMMANDS)[number]);
      assert.equal(c.title.endsWith('...'), asks, `${c.command} "${c.title}": "..." exactly when it asks`);
      if (asks) assert.notEqual(PALETTE_WHEN[c.command], 'false', `${c.command} asks, so it is in the palette`);
    }
    const text = ['package.json', 'package.nls.json'].map((f) => readFileSync(path.join(root, f), 'utf8')).join('');
    assert.ok(!text.includes('…'), 'the manifest writes "..." everywhere, not "…"');
    assert.ok(PICKER_COMMANDS.includes(COMMANDS.enclaveCopyId));
    assert.equal(PALETTE_WHEN[COMMANDS.enclaveCopyId], `!${STATE_KEYS.noEnclave}`);
  });

  it('hides from the palette enclave commands without enclaves, and parent commands without parents', () => {
    for (const id of [
      COMMANDS.enclaveTerminate,
      COMMANDS.enclaveConsole,
      COMMANDS.enclaveDescribe,
      COMMANDS.enclaveCopyId,
    ])
      assert.equal(PALETTE_WHEN[id], `!${STATE_KEYS.noEnclave}`, id);
    // Get Attestation Document needs an enclave whose NSM the extension reaches (an emulated one).
    assert.equal(PALETTE_WHEN[COMMANDS.enclaveAttest], `!${STATE_KEYS.noAttestable}`);
    for (const id of [COMMANDS.enclaveRun, COMMANDS.parentEditAllocator, COMMANDS.parentSelect])
      assert.equal(PALETTE_WHEN[id], `!${STATE_KEYS.noParent}`, id);
    // Copy All PCRs copies the active image editor's PCRs when not run on a node or file.
    assert.equal(PALETTE_WHEN[COMMANDS.imageCopyAllPcrs], `activeCustomEditorId == ${EIF_VIEWER}`);
    const palette = Object.fromEntries((menus['commandPalette'] ?? []).map((e) => [e.command, e.when]));
    assert.equal(palette[COMMANDS.imageCopyAllPcrs], `activeCustomEditorId == ${EIF_VIEWER}`);
  });

  it('names the two attestation editors apart, and gives every file name at most one of them', () => {
    const editors = contributes.customEditors as {
      viewType: string;
      displayName: string;
      priority: string;
      selector: { filenamePattern: string }[];
    }[];
    assert.equal(new Set(editors.map((e) => e.displayName)).size, editors.length, 'display names differ');
    const matching = (name: string) =>
      editors.filter((e) => e.selector.some((s) => globMatches(s.filenamePattern, name))).map((e) => e.viewType);
    // Every name of up to 4 characters from an alphabet that can spell ".att", before ".cbor".
    const stems = [''];
    for (let n = 0; n < 4; n++) for (const s of [...stems]) for (const ch of 'at.x') stems.push(s + ch);
    for (const stem of new Set(stems)) {
      const name = `${stem}.cbor`;
      if (stem === '') continue;
      const expected = stem.endsWith('.att') ? [ATTESTATION_VIEWER] : [ATTESTATION_VIEWER_CBOR];
      assert.deepEqual(matching(name), expected, name);
    }
    assert.deepEqual(matching('report.att.cbor'), [ATTESTATION_VIEWER]);
    assert.deepEqual(matching('report.cbor'), [ATTESTATION_VIEWER_CBOR]);
    assert.deepEqual(matching('att.cbor'), [ATTESTATION_VIEWER_CBOR]);
    assert.deepEqual(matching('doc.attestation'), [ATTESTATION_VIEWER]);
    assert.deepEqual(matching('image.eif'), [EIF_VIEWER]);
    const byType = Object.fromEntries(editors.map((e) => [e.viewType, e.priority]));
    assert.deepEqual(byType, {
      [EIF_VIEWER]: 'default',
      [ATTESTATION_VIEWER]: 'default',
      [ATTESTATION_VIEWER_CBOR]: 'option',
    });
  });

  /** Codicons that several commands share, each for one meaning. */
  const SHARED_ICONS: Record<string, { readonly commands: readonly string[]; readonly meaning: string }> = {
    '$(refresh)': { commands: [COMMANDS.parentsRefresh, COMMANDS.imagesRefresh], meaning: 'refresh a view' },
    '$(play)': { commands: [COMMANDS.enclaveRun, COMMANDS.kmsStart], meaning: 'start something that runs' },
    '$(debug-stop)': {
      commands: [COMMANDS.enclaveTerminate, COMMANDS.kmsStop, COMMANDS.vsockProxyStop],
      meaning: 'stop something that runs',
    },
    '$(symbol-key)': {
      commands: [COMMANDS.imageComputePcr, COMMANDS.certificateComputePcr],
      meaning: 'compute a PCR (of a file, or PCR8 of a certificate)',
    },
    '$(json)': { commands: [COMMANDS.enclaveDescribe, COMMANDS.imageDescribe], meaning: 'describe as nitro-cli JSON' },
    '$(copy)': {
      commands: [COMMANDS.enclaveCopyId, COMMANDS.imageCopyPcr, COMMANDS.imageCopyAllPcrs, COMMANDS.kmsCopyKeyArn],
      meaning: 'copy a value to the clipboard',
    },
  };

  it('gives every command of a menu an icon, and shares an icon only between commands of one meaning', () => {
    const icons = Object.fromEntries(
      (contributes.commands as { command: string; icon?: string }[]).map((c) => [c.command, c.icon]),
    );
    for (const [menu, entries] of Object.entries(menus)) {
      if (menu === 'commandPalette') continue;
      for (const e of entries) assert.match(icons[e.command] ?? '', /^\$\([a-z-]+\)$/, `${menu}: ${e.command}`);
    }
    const byIcon = new Map<string, string[]>();
    for (const [id, icon] of Object.entries(icons)) if (icon) byIcon.set(icon, [...(byIcon.get(icon) ?? []), id]);
    for (const [icon, ids] of byIcon) {
      if (ids.length === 1) continue;
      const allowed = SHARED_ICONS[icon];
      assert.ok(allowed, `${icon} is used by ${ids.join(', ')}: give them their own icons, or say why in SHARED_ICONS`);
      assert.deepEqual([...ids].sort(), [...allowed.commands].sort(), `${icon} means: ${allowed.meaning}`);
    }
    assert.equal(byIcon.get('$(verified)')?.length, 1, '$(verified) means one thing');
  });

  it("has the Marketplace metadata: a 128x128 PNG icon, a banner and categories from VS Code's list", () => {
    assert.equal(pkg.icon, 'media/nitro-enclaves.png');
    const png = readFileSync(path.join(root, pkg.icon));
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG signature');
    assert.equal(png.toString('latin1', 12, 16), 'IHDR');
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [128, 128]);
    assert.match(pkg.galleryBanner.color, /^#[0-9A-Fa-f]{6}$/);
    assert.ok(['dark', 'light'].includes(pkg.galleryBanner.theme));
    const allowed = [
      'Programming Languages',
      'Snippets',
      'Linters',
      'Themes',
      'Debuggers',
      'Formatters',
      'Keymaps',
      'SCM Providers',
      'Other',
      'Extension Packs',
      'Language Packs',
      'Data Science',
      'Machine Learning',
      'Visualization',
      'Notebooks',
      'Education',
      'Testing',
    ];
    for (const c of pkg.categories) assert.ok(allowed.includes(c), c);
    assert.notDeepEqual(pkg.categories, ['Other'], 'categories that say what the extension is for');
  });
});
