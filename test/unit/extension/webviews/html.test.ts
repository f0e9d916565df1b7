// The single webview page builder: its Content Security Policy and the page it writes, checked in
// Node with a stand-in webview (html.ts needs vscode only for types).
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import {
  WEBVIEW_ROOTS,
  contentSecurityPolicy,
  newNonce,
  webviewHtml,
  webviewOptions,
} from '../../../../src/extension/webviews/html';

/** Just enough of vscode.Uri for html.ts: a path and `with`. */
function fakeUri(p: string): vscode.Uri {
  return {
    scheme: 'file',
    path: p,
    with: (change: { path: string }) => fakeUri(change.path),
    toString: () => `file://${p}`,
  } as unknown as vscode.Uri;
}

const CSP_SOURCE = 'vscode-webview://4f1c2a';
const fakeWebview = {
  cspSource: CSP_SOURCE,
  asWebviewUri: (uri: vscode.Uri) => ({ toString: () => `${CSP_SOURCE}${uri.path}` }) as vscode.Uri,
};

/** `directive -> sources` of a policy. */
function directives(policy: string): Map<string, string[]> {
  return new Map(
    policy
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .map(([name, ...sources]) => [name as string, sources]),
  );
}

describe('(unit) webview page builder (src/extension/webviews/html.ts)', () => {
  const nonce = newNonce();
  const policy = contentSecurityPolicy(CSP_SOURCE, nonce);

  it("allows nothing by default: default-src 'none'", () => {
    assert.ok(policy.includes("default-src 'none'"));
    assert.deepEqual(directives(policy).get('default-src'), ["'none'"]);
  });

  it('runs only scripts carrying the nonce', () => {
    assert.ok(policy.includes(`'nonce-${nonce}'`));
    assert.deepEqual(directives(policy).get('script-src'), [`'nonce-${nonce}'`]);
  });

  it('has no unsafe-inline, no unsafe-eval, no wildcard and no remote origin', () => {
    for (const banned of ['unsafe-inline', 'unsafe-eval', '*', 'http:', 'https:'])
      assert.ok(!policy.includes(banned), `the policy holds ${banned}`);
  });

  it("takes styles, images and fonts from the extension's own files only (images also data:)", () => {
    const d = directives(policy);
    assert.deepEqual([...d.keys()].sort(), ['default-src', 'font-src', 'img-src', 'script-src', 'style-src']);
    assert.deepEqual(d.get('style-src'), [CSP_SOURCE]);
    assert.deepEqual(d.get('img-src'), [CSP_SOURCE, 'data:']);
    assert.deepEqual(d.get('font-src'), [CSP_SOURCE]);
  });

  it('makes a fresh 16-byte nonce every time', () => {
    const a = newNonce();
    const b = newNonce();
    assert.notEqual(a, b);
    for (const n of [a, b]) assert.equal(Buffer.from(n, 'base64').length, 16);
  });

  describe('the page', () => {
    const ext = fakeUri('/ext');
    const html = webviewHtml({
      webview: fakeWebview,
      extensionUri: ext,
      script: 'eifViewer',
      styles: ['eifViewer.css'],
      title: 'a <b> & "c".eif',
      nonce: 'N0nce+/=',
    });

    it('declares the policy with the page nonce in a meta tag', () => {
      const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html);
      assert.ok(meta, 'a CSP meta tag');
      assert.equal(meta[1], contentSecurityPolicy(CSP_SOURCE, 'N0nce+/='));
    });

    it('loads one script, from dist/webview, with that nonce; the stylesheet from media/', () => {
      const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
      assert.deepEqual(scripts, [`<script nonce="N0nce+/=" src="${CSP_SOURCE}/ext/dist/webview/eifViewer.js">`]);
      assert.ok(html.includes(`<link rel="stylesheet" href="${CSP_SOURCE}/ext/media/eifViewer.css">`));
      assert.ok(!/\sstyle=|<style/.test(html), 'no inline styles');
    });

    it('escapes the title', () => {
      assert.ok(html.includes('<title>a &#60;b&#62; &#38; &#34;c&#34;.eif</title>'));
      assert.ok(!html.includes('<b>'));
    });

    it('uses a new nonce per page unless given one', () => {
      const page = () =>
        /nonce="([^"]+)"/.exec(
          webviewHtml({ webview: fakeWebview, extensionUri: ext, script: 'eifViewer', title: 't' }),
        )?.[1];
      assert.notEqual(page(), page());
    });

    it('refuses a script name that is not a plain bundle name', () => {
      assert.throws(
        () => webviewHtml({ webview: fakeWebview, extensionUri: ext, script: '../x', title: 't' }),
        /bad script name/,
      );
    });
  });

  it('lets webviews run scripts and load files only from dist/webview and media', () => {
    const options = webviewOptions(fakeUri('/ext'));
    assert.equal(options.enableScripts, true);
    assert.deepEqual(
      options.localResourceRoots?.map((u) => u.path),
      WEBVIEW_ROOTS.map((r) => path.posix.join('/ext', r)),
    );
    assert.deepEqual([...WEBVIEW_ROOTS], ['dist/webview', 'media']);
  });
});
