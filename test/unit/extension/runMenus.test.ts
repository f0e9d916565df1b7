import * as assert from 'node:assert/strict';
import { COMMANDS, CONTEXT_VALUES, RUN_TASK_TYPE, TASK_TYPE, VIEWS } from '../../../src/extension/ids';
import { PKG } from '../repo';

interface MenuEntry {
  command: string;
  when?: string;
  group?: string;
}

const itemMenus = PKG.contributes.menus['view/item/context'] as MenuEntry[];

/** The entries of a tree view's item menu that a node with this context value shows. */
function entriesFor(view: string, contextValue: string): MenuEntry[] {
  return itemMenus.filter((e) => {
    const when = e.when ?? '';
    if (!when.includes(`view == ${view}`)) return false;
    const pattern = /viewItem =~ \/(.+?)\//.exec(when)?.[1];
    return pattern !== undefined && new RegExp(pattern).test(contextValue);
  });
}

/** The context menu as VS Code orders it: `navigation` first, then groups by name, then `@order` in a group. */
function contextMenu(view: string, contextValue: string): string[] {
  const key = (e: MenuEntry) => {
    const [group = '', order = '0'] = (e.group ?? '').split('@');
    return { group, order: Number(order) };
  };
  return entriesFor(view, contextValue)
    .filter((e) => key(e).group !== 'inline')
    .sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      if (ka.group !== kb.group) {
        if (ka.group === 'navigation') return -1;
        if (kb.group === 'navigation') return 1;
        return ka.group < kb.group ? -1 : 1;
      }
      return ka.order - kb.order;
    })
    .map((e) => e.command);
}

function inline(view: string, contextValue: string): string[] {
  return entriesFor(view, contextValue)
    .filter((e) => e.group === 'inline')
    .map((e) => e.command);
}

describe('(unit) package.json: Run where the image is, Terminate on the enclave, the nitro-enclave task type', () => {
  it("puts Run Enclave first in an image's context menu in Enclave Images, and inline on its row", () => {
    const menu = contextMenu(VIEWS.images, CONTEXT_VALUES.image);
    assert.equal(menu[0], COMMANDS.enclaveRun, menu.join(', '));
    assert.ok(inline(VIEWS.images, CONTEXT_VALUES.image).includes(COMMANDS.enclaveRun));
    // A malformed image cannot run: neither its menu nor its row offers Run.
    assert.ok(!contextMenu(VIEWS.images, CONTEXT_VALUES.brokenImage).includes(COMMANDS.enclaveRun));
    assert.ok(!inline(VIEWS.images, CONTEXT_VALUES.brokenImage).includes(COMMANDS.enclaveRun));
  });

  it("Run Enclave's inline icon is not used by another command on an image row", () => {
    const icons = new Map(
      (PKG.contributes.commands as { command: string; icon?: string }[]).map((c) => [c.command, c.icon]),
    );
    const run = icons.get(COMMANDS.enclaveRun);
    assert.ok(run === '$(play)' || run === '$(debug-start)', String(run));
    const others = inline(VIEWS.images, CONTEXT_VALUES.image).filter((c) => c !== COMMANDS.enclaveRun);
    for (const c of others) assert.notEqual(icons.get(c), run, `${c} has Run's icon`);
  });

  it('offers Terminate Enclave inline, with the $(debug-stop) icon, on running and debug-mode enclaves only', () => {
    const icon = (PKG.contributes.commands as { command: string; icon?: string }[]).find(
      (c) => c.command === COMMANDS.enclaveTerminate,
    )?.icon;
    assert.equal(icon, '$(debug-stop)');
    for (const value of [
      CONTEXT_VALUES.enclave('RUNNING', false),
      CONTEXT_VALUES.enclave('RUNNING', true),
      CONTEXT_VALUES.enclave('RUNNING', false, 'nitro-cli'),
      CONTEXT_VALUES.enclave('RUNNING', true, 'nitro-cli'),
    ])
      assert.ok(inline(VIEWS.parents, value).includes(COMMANDS.enclaveTerminate), value);
    for (const value of [CONTEXT_VALUES.enclave('TERMINATING', false), CONTEXT_VALUES.enclave('EMPTY', false)])
      assert.ok(!inline(VIEWS.parents, value).includes(COMMANDS.enclaveTerminate), value);
  });

  it("contributes the nitro-enclave task type with nitro-cli's --config keys, and parent and app", () => {
    const definitions = PKG.contributes.taskDefinitions as {
      type: string;
      required?: string[];
      properties: Record<string, { type: string }>;
    }[];
    assert.ok(definitions.some((d) => d.type === TASK_TYPE));
    const run = definitions.find((d) => d.type === RUN_TASK_TYPE);
    assert.ok(run);
    assert.deepEqual(run.required, ['eif_path', 'memory_mib']);
    assert.deepEqual(Object.fromEntries(Object.entries(run.properties).map(([k, v]) => [k, v.type])), {
      eif_path: 'string',
      memory_mib: 'integer',
      cpu_count: 'integer',
      cpu_ids: 'array',
      enclave_cid: 'integer',
      debug_mode: 'boolean',
      attach_console: 'boolean',
      enclave_name: 'string',
      parent: 'string',
      app: 'string',
    });
  });
});
