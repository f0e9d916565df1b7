// The single page builder of every webview (panels and custom editors): one Content Security
// Policy, one nonce per page, scripts from dist/webview and styles from media/, nothing else.
//
// It needs vscode only for types: URIs are built with Uri.with() instead of Uri.joinPath(), so the
// whole builder runs (and is unit-tested) in plain Node.
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type * as vscode from 'vscode';

/** The folders (relative to the extension) a webview may load files from. */
export const WEBVIEW_ROOTS = ['dist/webview', 'media'] as const;

/** A fresh nonce for one page: 16 random bytes, base64. */
export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

/**
 * The page's CSP: nothing by default; scripts only with the page's nonce; styles, images and
 * fonts only from the extension's own files (images may also be data: URIs). No inline styles or
 * scripts, no eval, no remote origins.
 */
export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    `default-src 'none'`,
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource}`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
  ].join('; ');
}

function joinUri(base: vscode.Uri, ...parts: string[]): vscode.Uri {
  return base.with({ path: path.posix.join(base.path, ...parts) });
}

/** Webview options shared by every view: scripts on, local files only from WEBVIEW_ROOTS. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return { enableScripts: true, localResourceRoots: WEBVIEW_ROOTS.map((root) => joinUri(extensionUri, root)) };
}

/** Escapes text for HTML content and double-quoted attribute values. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface WebviewPage {
  readonly webview: Pick<vscode.Webview, 'asWebviewUri' | 'cspSource'>;
  readonly extensionUri: vscode.Uri;
  /** Bundle name: loads dist/webview/<script>.js. */
  readonly script: string;
  /** Stylesheets in media/, in order. */
  readonly styles?: readonly string[];
  readonly title: string;
  /** For tests; a fresh one by default. */
  readonly nonce?: string;
  /**
   * The page's words in the user's language (src/shared/words.ts), as `data-words` of #root: the
   * webview reads them there (it cannot call vscode.l10n). Data, never script: the CSP stays strict.
   */
  readonly words?: Readonly<Record<string, string>>;
  /** The page's language (vscode.env.language); English by default. */
  readonly lang?: string;
}

/** The complete HTML of a webview page. The body holds an empty `#root` that the script fills. */
export function webviewHtml(page: WebviewPage): string {
  if (!/^[\w-]+$/.test(page.script)) throw new Error(`webviewHtml: bad script name "${page.script}"`);
  const nonce = page.nonce ?? newNonce();
  const asset = (...parts: string[]) =>
    escapeHtml(page.webview.asWebviewUri(joinUri(page.extensionUri, ...parts)).toString());
  const links = (page.styles ?? []).map((css) => `    <link rel="stylesheet" href="${asset('media', css)}">`);
  return [
    '<!DOCTYPE html>',
    `<html lang="${escapeHtml(page.lang ?? 'en')}">`,
    '  <head>',
    '    <meta charset="UTF-8">',
    `    <meta http-equiv="Content-Security-Policy" ` +
      `content="${escapeHtml(contentSecurityPolicy(page.webview.cspSource, nonce))}">`,
    '    <meta name="viewport" content="width=device-width, initial-scale=1.0">',
    ...links,
    `    <title>${escapeHtml(page.title)}</title>`,
    '  </head>',
    '  <body>',
    page.words
      ? `    <div id="root" data-words="${escapeHtml(JSON.stringify(page.words))}"></div>`
      : '    <div id="root"></div>',
    `    <script nonce="${escapeHtml(nonce)}" src="${asset('dist', 'webview', `${page.script}.js`)}"></script>`,
    '  </body>',
    '</html>',
    '',
  ].join('\n');
}
