// The words of a webview: the host puts a table of localized words in the page (data-words of
// #root), the webview reads it (src/shared/words.ts), and the Enclave Image Viewer uses every word
// of its list.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { webviewHtml } from '../../../../src/extension/webviews/html';
import { EIF_VIEWER_WORDS } from '../../../../src/shared/eifViewer';
import { fillPlaceholders, parseWords } from '../../../../src/shared/words';
import { ROOT } from '../../repo';

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

  it('lists for the Enclave Image Viewer only words its view uses, each once', () => {
    const view = readFileSync(path.join(ROOT, 'src/webview/eifViewer/view.ts'), 'utf8');
    const quoted = (word: string) => [`'${word.replace(/'/g, "\\'")}'`, `"${word}"`];
    const unused = EIF_VIEWER_WORDS.filter((w) => !quoted(w).some((q) => view.includes(q)));
    assert.deepEqual(unused, []);
    assert.equal(new Set(EIF_VIEWER_WORDS).size, EIF_VIEWER_WORDS.length);
  });

  it('has the host build every viewer word with vscode.l10n.t, so the bundle holds them', () => {
    const bundle = JSON.parse(readFileSync(path.join(ROOT, 'l10n/bundle.l10n.json'), 'utf8')) as Record<string, string>;
    assert.deepEqual(
      EIF_VIEWER_WORDS.filter((w) => !Object.hasOwn(bundle, w)),
      [],
    );
  });
});
