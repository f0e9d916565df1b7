import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BUNDLE, bundleText, extensionSources } from '../../../../scripts/l10n.mjs';
import { ROOT } from '../../repo';
import { bareStrings, l10nCalls, placeholderCount, pluralSuffixes, skipsPlaceholder } from './bareStrings';

const sources = extensionSources(ROOT).map((file) => ({ file, text: readFileSync(path.join(ROOT, file), 'utf8') }));

describe('(unit) localization: the extension shows no word outside l10n.t', () => {
  it('hands no bare string or template literal to a VS Code API that shows it', () => {
    const found = sources.flatMap(({ file, text }) => bareStrings(file, text));
    assert.deepEqual(
      found.map((b) => `${b.file}:${b.line} ${b.where} ${b.text}`),
      [],
      'wrap these in vscode.l10n.t (or l10n.t of src/extension/l10n.ts), with {0}-style arguments, then npm run l10n',
    );
  });

  it('finds a bare message, button, title, placeholder, prompt, item, tree and status bar text', () => {
    const source = [
      "import * as vscode from 'vscode';",
      "void vscode.window.showInformationMessage('Built it.', 'Open');",
      'void vscode.window.showErrorMessage(`Cannot read ${file}`);',
      "void vscode.window.showWarningMessage(vscode.l10n.t('Terminate {0}?', what), { modal: true }, 'Terminate');",
      "void vscode.window.withProgress({ location, title: 'Measuring ' + name }, work);",
      "const qp = vscode.window.createQuickPick(); qp.title = 'Run Enclave'; qp.placeholder = ok ? 'The image' : x;",
      "void vscode.window.showInputBox({ prompt: 'Enclave name', validateInput: (v) => v });",
      "void vscode.window.showQuickPick([{ label: 'Production', description: `no console` }]);",
      "const item = new vscode.TreeItem('No enclaves'); item.tooltip = `${n} enclaves`;",
      "status.text = '$(vm) Nitro Enclaves: unavailable'; status.text = `$(vm) ${name}`;",
      'vscode.window.createTerminal({ name: `Enclave Console: ${name}` });',
      "const tip = new vscode.MarkdownString('**Enclave pool**'); tip.appendText(`of ${name}`);",
      "void vscode.window.showInputBox({ validateInput: (v) => (v ? undefined : 'Enter a name.') });",
      'ask({ validate: (v) => { if (!v) return `Enter a ${what}.`; return undefined; } });',
      "this.name = 'BuildRequestError'; status.name = 'Nitro Enclaves Parent Instance';",
      "void vscode.window.showQuickPick([{ label: x, description: `${id}${cur ? ' · current' : ''}` }]);",
      "void vscode.window.showInformationMessage(vscode.l10n.t('No enclave to {0}.', ok ? 'attest' : verb));",
    ].join('\n');
    const found = bareStrings('x.ts', source).map((b) => `${b.line} ${b.where} ${b.text}`);
    assert.deepEqual(found, [
      "2 showInformationMessage 'Built it.'",
      "2 showInformationMessage 'Open'",
      '3 showErrorMessage `Cannot read ${file}`',
      "4 showWarningMessage 'Terminate'",
      "5 title: 'Measuring '",
      "6 .title = 'Run Enclave'",
      "6 .placeholder = 'The image'",
      "7 prompt: 'Enclave name'",
      "8 label: 'Production'",
      '8 description: `no console`',
      "9 TreeItem text 'No enclaves'",
      '9 .tooltip = `${n} enclaves`',
      "10 .text = '$(vm) Nitro Enclaves: unavailable'",
      '11 createTerminal name `Enclave Console: ${name}`',
      "12 MarkdownString text '**Enclave pool**'",
      '12 appendText `of ${name}`',
      "13 validateInput result 'Enter a name.'",
      '14 validate result `Enter a ${what}.`',
      "15 .name = 'Nitro Enclaves Parent Instance'",
      "16 description: ' · current'",
      "17 l10n.t argument 'attest'",
    ]);
  });

  it('leaves alone data (ids, paths, icons alone) and text that goes through l10n.t', () => {
    const source = [
      "item.description = `${e.EnclaveCID}`; item.label = '$(vm)'; x.text = '';",
      "void vscode.window.showInformationMessage(vscode.l10n.t('Built {0}.', name), vscode.l10n.t('Open'));",
      "void vscode.window.showQuickPick(items, { title: l10n.t('Run Enclave'), placeHolder: '0x1f' });",
      "void vscode.window.showQuickPick([{ label: 'x', description: 'nitro-cli pcr --input' }]);",
      "tip.appendMarkdown(vscode.l10n.t('[Refresh]({0})', `command:${COMMANDS.parentsRefresh}`));",
      "md.appendMarkdown(vscode.l10n.t('See [the docs]({0}).', `https://docs.aws.amazon.com/x#${code}`));",
      "md.appendMarkdown(vscode.l10n.t('Run {0}.', `\\`nitro-dev explain ${code}\\``));",
    ].join('\n');
    assert.deepEqual(bareStrings('x.ts', source), []);
  });
});

describe('(unit) localization: the arguments of each message', () => {
  it('passes as many arguments as the message has placeholders, {0} to {n}, none skipped', () => {
    const calls = sources.flatMap(({ file, text }) => l10nCalls(file, text));
    assert.ok(calls.length > 200, `found ${calls.length} l10n.t calls`);
    const wrong = calls
      .filter((c) => c.args !== undefined && c.args !== placeholderCount(c.message))
      .map((c) => `${c.file}:${c.line} '${c.message}' takes ${placeholderCount(c.message)}, gets ${c.args}`);
    const gaps = calls
      .filter((c) => skipsPlaceholder(c.message))
      .map((c) => `${c.file}:${c.line} '${c.message}' skips a placeholder`);
    assert.deepEqual([...wrong, ...gaps], []);
  });

  it('tells a call with too few or too many arguments, and a skipped placeholder', () => {
    const source = [
      "vscode.l10n.t('Built {0} (PCR0 {1}).', name);",
      "vscode.l10n.t('Copy', extra);",
      "l10n.t('{0} of {2}', a, b, c);",
      "vscode.l10n.t('{0} on {1}', ...both);",
      "const words = { 'Signed by {0}': vscode.l10n.t('Signed by {0}') };",
    ].join('\n');
    const calls = l10nCalls('x.ts', source);
    assert.deepEqual(
      calls.map((c) => [c.line, c.message, c.args, placeholderCount(c.message)]),
      [
        [1, 'Built {0} (PCR0 {1}).', 1, 2],
        [2, 'Copy', 1, 0],
        [3, '{0} of {2}', 3, 3],
        [4, '{0} on {1}', undefined, 2],
        [5, 'Signed by {0}', undefined, 1],
      ],
    );
    assert.deepEqual(
      calls.map((c) => skipsPlaceholder(c.message)),
      [false, false, true, false, false],
    );
  });
});

describe('(unit) localization: plurals', () => {
  it('builds no plural from an English suffix argument: one message for one, another for the rest', () => {
    assert.deepEqual(
      sources.flatMap(({ file, text }) => pluralSuffixes(file, text)),
      [],
    );
    assert.deepEqual(pluralSuffixes('x.ts', "vscode.l10n.t('{0} enclave{1}', n, n === 1 ? '' : 's');"), [
      "x.ts:1 n === 1 ? '' : 's'",
    ]);
  });
});

describe('(unit) localization: l10n/bundle.l10n.json', () => {
  it('is what @vscode/l10n-dev exports from the sources now (npm run l10n)', async function () {
    this.timeout(60_000);
    const committed = readFileSync(path.join(ROOT, BUNDLE), 'utf8');
    assert.equal(committed, await bundleText(ROOT), `${BUNDLE} is stale: run npm run l10n`);
  });

  it('holds every message the sources pass to l10n.t (a comment before a message hides it from the exporter)', () => {
    const bundle = JSON.parse(readFileSync(path.join(ROOT, BUNDLE), 'utf8')) as Record<string, unknown>;
    const missing = sources
      .flatMap(({ file, text }) => l10nCalls(file, text))
      .filter((c) => !Object.hasOwn(bundle, c.message))
      .map((c) => `${c.file}:${c.line} '${c.message}'`);
    assert.deepEqual(missing, []);
  });

  it('is the folder package.json names, and holds English messages keyed by themselves', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { l10n?: string };
    assert.equal(pkg.l10n, './l10n');
    assert.equal(path.posix.join(pkg.l10n, 'bundle.l10n.json'), BUNDLE);
    const bundle = JSON.parse(readFileSync(path.join(ROOT, BUNDLE), 'utf8')) as Record<string, unknown>;
    assert.ok(Object.keys(bundle).length > 100, 'the bundle holds the extension strings');
    for (const [key, value] of Object.entries(bundle)) {
      const message = typeof value === 'string' ? value : (value as { message: string }).message;
      assert.equal(typeof value === 'string' ? key : key.split('/')[0], message, key);
    }
  });

  it('is packed into the .vsix', function () {
    this.timeout(120_000);
    // The files vsce packs, as scripts/package.mjs lists them (vsce ls).
    const vsce = path.join(ROOT, 'node_modules/@vscode/vsce/vsce');
    const r = spawnSync(process.execPath, [vsce, 'ls', '--no-dependencies'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const files = r.stdout.split('\n').map((l) => l.trim());
    assert.ok(files.includes(BUNDLE), `the .vsix lacks ${BUNDLE} (.vscodeignore)`);
  });
});
