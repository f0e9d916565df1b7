// The words of a webview: the host puts a table of localized words in the page (data-words of
// #root), the webview reads it (src/shared/words.ts), and the Enclave Image Viewer uses every word
// of its list.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { webviewHtml } from '../../../../src/extension/webviews/html';
import { ATTESTATION_VIEWER_WORDS } from '../../../../src/shared/attestationViewerWords';
import { EIF_VIEWER_WORDS } from '../../../../src/shared/eifViewer';
import { fillPlaceholders, LIB_WORDS, parseWords } from '../../../../src/shared/words';
import { ROOT } from '../../repo';
import { pageLiterals } from './bareStrings';

function fakeUri(p: string): vscode.Uri {
  return { scheme: 'file', path: p, with: (c: { path: string }) => fakeUri(c.path) } as unknown as vscode.Uri;
}
const webview = { cspSource: 'vscode-webview://x', asWebviewUri: (u: vscode.Uri) => u };

/** The value of `data-words` in a page, unescaped as a browser reads it. */
function wordsAttribute(html: string): string | undefined {
  const m = /<div id="root" data-words="([^"]*)"><\/div>/.exec(html);
  return m?.[1]?.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
}

describe('(unit) localization: the words a webview page carries', () => {
  const page = { webview, extensionUri: fakeUri('/ext'), script: 'eifViewer', title: 't', nonce: 'n' };

  it('puts the table in #root as data, escaped, with the page language; no words: a bare #root in English', () => {
    const words = { Run: 'Ausführen', 'Signed by {0}': 'Signiert von "{0}" <&>' };
    const html = webviewHtml({ ...page, words, lang: 'de' });
    assert.match(html, /<html lang="de">/);
    const attribute = wordsAttribute(html);
    assert.ok(attribute !== undefined, 'data-words on #root');
    assert.deepEqual(JSON.parse(attribute), words);
    assert.doesNotMatch(html.replace(/<script nonce="n" src="[^"]*"><\/script>/, ''), /<script/);
    const plain = webviewHtml(page);
    assert.match(plain, /<html lang="en">/);
    assert.match(plain, /<div id="root"><\/div>/);
  });

  it('reads the table for its keys: a missing, non-string or broken entry shows the English key', () => {
    const keys = ['Run', 'Reload', 'Signed by {0}'] as const;
    assert.deepEqual(parseWords(keys, JSON.stringify({ Run: 'Ausführen', Reload: 3, Other: 'x' })), {
      Run: 'Ausführen',
      Reload: 'Reload',
      'Signed by {0}': 'Signed by {0}',
    });
    assert.deepEqual(parseWords(keys, '{broken'), { Run: 'Run', Reload: 'Reload', 'Signed by {0}': 'Signed by {0}' });
    assert.deepEqual(parseWords(keys, undefined).Run, 'Run');
  });

  it('fills {0}-style placeholders as vscode.l10n.t does', () => {
    assert.equal(fillPlaceholders('{1} of {0}: {2}', ['a', 2]), '2 of a: {2}');
    assert.equal(fillPlaceholders('no {name} here', ['x']), 'no {name} here');
  });

  /** The words of a list that none of `files` (relative to src/) quotes. */
  const unusedIn = (words: readonly string[], files: readonly string[]) => {
    const text = files.map((f) => readFileSync(path.join(ROOT, 'src', f), 'utf8')).join('\n');
    const quoted = (word: string) => [`'${word.replace(/'/g, "\\'")}'`, `"${word}"`];
    return words.filter((w) => !quoted(w).some((q) => text.includes(q)));
  };
  const lists = {
    'Enclave Image Viewer': { words: EIF_VIEWER_WORDS, files: ['webview/eifViewer/view.ts'] },
    'Attestation Document Viewer': {
      words: ATTESTATION_VIEWER_WORDS,
      files: ['view.ts', 'main.ts', 'dryRun.ts', 'format.ts'].map((f) => `webview/attestationViewer/${f}`),
    },
    'webviews’ shared lib': { words: LIB_WORDS, files: ['webview/lib/dom.ts', 'webview/lib/format.ts'] },
  };

  for (const [name, { words, files }] of Object.entries(lists)) {
    it(`lists for the ${name} only words its sources use, each once`, () => {
      assert.deepEqual(unusedIn(words, files), []);
      assert.equal(new Set(words).size, words.length);
    });

    it(`has the host build every word of the ${name} with vscode.l10n.t, so the bundle holds them`, () => {
      const bundle = JSON.parse(readFileSync(path.join(ROOT, 'l10n/bundle.l10n.json'), 'utf8')) as Record<
        string,
        string
      >;
      assert.deepEqual(
        words.filter((w) => !Object.hasOwn(bundle, w)),
        [],
      );
    });
  }

  it('finds a listed word that no source uses', () => {
    assert.deepEqual(unusedIn(['Copy {0}', 'Never shown'], ['webview/lib/dom.ts']), ['Never shown']);
  });

  it('tells a page literal that is shown from one that is markup, data or in t()', () => {
    const source = [
      "import { t } from './words';",
      "h('p', { class: 'note muted', id: 'x-y', title: 'A tooltip here' }, 'Shown text', t('Fine words'));",
      "badge(ok ? 'all good' : t('not good'), 'warn'); icon('error', 'inline-icon');",
      "const s = `${n} of ${m} match`; if (mode === 'Document time') x.textContent = 'Verifying…';",
    ].join('\n');
    assert.deepEqual(pageLiterals('p.ts', source), [
      "p.ts:2 'A tooltip here'",
      "p.ts:2 'Shown text'",
      "p.ts:3 'all good'",
      'p.ts:4 `${n} of ${m} match`',
      "p.ts:4 'Verifying…'",
    ]);
  });

  it('leaves no string literal of the attestation viewer and the lib that reads as words outside t()', () => {
    const files = [
      ...['view.ts', 'main.ts', 'dryRun.ts', 'format.ts'].map((f) => `webview/attestationViewer/${f}`),
      'webview/lib/dom.ts',
      'webview/lib/format.ts',
    ];
    const found = files.flatMap((f) => pageLiterals(f, readFileSync(path.join(ROOT, 'src', f), 'utf8')));
    assert.deepEqual(found, []);
  });
});
