// Finds the words of src/extension that reach people without l10n.t: string and template literals
// handed straight to the VS Code APIs that show text. Read with the TypeScript parser.
import * as ts from 'typescript';

/** One bare string: where it is and what it says. */
export interface BareString {
  readonly file: string;
  readonly line: number;
  readonly text: string;
  readonly where: string;
}

/** Calls whose string arguments (the message, then the buttons) are shown as they are. */
const MESSAGE_CALLS = new Set([
  'showInformationMessage',
  'showWarningMessage',
  'showErrorMessage',
  'setStatusBarMessage',
]);

/** Methods of the extension's pseudoterminals (consoles, tasks, setup) that write their argument to the terminal. */
const TERMINAL_CALLS = new Set(['emit', 'line']);

/** Methods of a MarkdownString (a tooltip) whose argument is shown. */
const MARKDOWN_CALLS = new Set(['appendMarkdown', 'appendText']);

/** Options holding a validation function: what it returns is shown under the input box. */
const VALIDATORS = new Set(['validateInput', 'validate']);

/**
 * Options whose value is shown: quick pick and input box titles, placeholders, prompts, validation
 * messages, dialog titles and buttons, progress titles and messages, quick pick items, tree items,
 * status bar items, terminal names.
 */
const SHOWN_PROPERTIES = new Set([
  'title',
  'placeHolder',
  'placeholder',
  'prompt',
  'validationMessage',
  'openLabel',
  'saveLabel',
  'tooltip',
  'label',
  'description',
  'detail',
  'message',
]);

/** Properties set on a QuickPick, InputBox, StatusBarItem or TreeItem that are shown. */
const SHOWN_ASSIGNMENTS = new Set([
  'title',
  'placeholder',
  'prompt',
  'validationMessage',
  'tooltip',
  'text',
  'name',
  'label',
  'description',
  'detail',
]);

/**
 * Literals that are data, not words, where a placeholder or description shows one: command lines
 * and example values a person types as they are.
 */
export const NOT_WORDS = new Set([
  "'nitro-cli pcr --input'",
  "'nitro-cli pcr --signing-certificate'",
  "'--debug-mode'",
  "'hello-enclave'",
  "'kms.us-east-1.amazonaws.com:443'",
  // nitro-cli build-enclave's own lines, which the nitro-eif task writes as nitro-cli does.
  "'Start building the Enclave Image...'",
  "'Enclave Image successfully created.'",
  '`\\x1b[31m[ E48 ] EIF building error. ${message}\\x1b[0m`',
]);

/** The text of a literal with its `${...}` parts and `$(icon)` references left out. */
function wordsOf(node: ts.Node): string | undefined {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateExpression(node))
    return [node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join(' ');
  return undefined;
}

/** Literals a value is made of: itself, both branches of a conditional, both sides of a `+`. */
function literalsOf(node: ts.Expression): ts.Expression[] {
  if (ts.isParenthesizedExpression(node)) return literalsOf(node.expression);
  if (ts.isConditionalExpression(node)) return [...literalsOf(node.whenTrue), ...literalsOf(node.whenFalse)];
  if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken)
    return [...literalsOf(node.left), ...literalsOf(node.right)];
  // `${a}${cond ? ' · current' : ''}`: the words of the template, and those of the literals inside it.
  if (ts.isTemplateExpression(node)) return [node, ...node.templateSpans.flatMap((s) => literalsOf(s.expression))];
  return wordsOf(node) === undefined ? [] : [node];
}

/** Words a person reads: two letters or more once icons (`$(vm)`) are left out. */
function hasWords(text: string): boolean {
  return /[A-Za-z]{2,}/.test(text.replace(/\$\([\w~-]+\)/g, ''));
}

function calleeName(call: ts.CallExpression | ts.NewExpression): string {
  const callee = call.expression;
  if (ts.isPropertyAccessExpression(callee)) return callee.name.text;
  if (ts.isIdentifier(callee)) return callee.text;
  return '';
}

/** The bare strings of one source file. */
export function bareStrings(file: string, source: string): BareString[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: BareString[] = [];
  const report = (value: ts.Expression, where: string) => {
    for (const literal of literalsOf(value)) {
      const text = wordsOf(literal) ?? '';
      // Data: a link's target (`command:id?args`, a URL) and a command line as Markdown code (`nitro-dev ...`).
      if (!hasWords(text) || NOT_WORDS.has(literal.getText(sf)) || /^(command:|https:\/\/)|^`[^`]+`$/.test(text))
        continue;
      const line = sf.getLineAndCharacterOfPosition(literal.getStart(sf)).line + 1;
      found.push({ file, line, text: literal.getText(sf), where });
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const name = calleeName(node);
      if (MESSAGE_CALLS.has(name)) {
        const shown = name === 'setStatusBarMessage' ? node.arguments.slice(0, 1) : node.arguments;
        for (const arg of shown) report(arg, name);
      }
      if (name === 'createTerminal') {
        for (const arg of node.arguments) if (!ts.isObjectLiteralExpression(arg)) report(arg, name);
      }
      if (MARKDOWN_CALLS.has(name) && node.arguments[0]) report(node.arguments[0], name);
      if (TERMINAL_CALLS.has(name) && node.arguments[0]) report(node.arguments[0], `terminal ${name}`);
      // `l10n.t('No enclave to {0}.', 'terminate')`: an English piece inside a translated sentence.
      if (/(^|\.)l10n\.t$/.test(node.expression.getText(sf)))
        for (const arg of node.arguments.slice(1)) report(arg, 'l10n.t argument');
      if (name === 'createTerminal') {
        const options = node.arguments[0];
        if (options && ts.isObjectLiteralExpression(options))
          for (const p of options.properties)
            if (ts.isPropertyAssignment(p) && ts.isIdentifier(p.name) && p.name.text === 'name')
              report(p.initializer, 'createTerminal name');
      }
    }
    if (ts.isNewExpression(node) && ['TreeItem', 'MarkdownString'].includes(calleeName(node)) && node.arguments?.[0])
      report(node.arguments[0], `${calleeName(node)} text`);
    if (
      ts.isPropertyAssignment(node) &&
      ts.isIdentifier(node.name) &&
      VALIDATORS.has(node.name.text) &&
      (ts.isArrowFunction(node.initializer) || ts.isFunctionExpression(node.initializer))
    ) {
      const where = `${node.name.text} result`;
      const body = node.initializer.body;
      const returns = (n: ts.Node): void => {
        if (ts.isReturnStatement(n) && n.expression) report(n.expression, where);
        if (!ts.isFunctionLike(n)) ts.forEachChild(n, returns);
      };
      if (ts.isBlock(body)) ts.forEachChild(body, returns);
      else report(body, where);
    }
    if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) && SHOWN_PROPERTIES.has(node.name.text))
      report(node.initializer, `${node.name.text}:`);
    if (
      ts.isBinaryExpression(node) &&
      node.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
      ts.isPropertyAccessExpression(node.left) &&
      // `this.name = 'BuildRequestError'` names a class of errors; a status bar item's name is shown.
      node.left.expression.kind !== ts.SyntaxKind.ThisKeyword &&
      SHOWN_ASSIGNMENTS.has(node.left.name.text)
    )
      report(node.right, `.${node.left.name.text} =`);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** One `l10n.t('message', ...args)` call with a literal message. */
export interface L10nCall {
  readonly file: string;
  readonly line: number;
  readonly message: string;
  /** How many arguments follow the message; undefined when a spread makes it unknowable here. */
  readonly args: number | undefined;
}

/** The `l10n.t` and `vscode.l10n.t` calls of one source file whose message is a literal. */
export function l10nCalls(file: string, source: string): L10nCall[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const calls: L10nCall[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && /(^|\.)l10n\.t$/.test(node.expression.getText(sf))) {
      const [first, ...rest] = node.arguments;
      if (first && (ts.isStringLiteral(first) || ts.isNoSubstitutionTemplateLiteral(first))) {
        const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
        const spread = rest.some((a) => ts.isSpreadElement(a));
        // `'Signed by {0}': vscode.l10n.t('Signed by {0}')`: an entry of a webview's table of words,
        // whose placeholders the webview fills.
        const parent = node.parent;
        const tableEntry =
          ts.isPropertyAssignment(parent) && ts.isStringLiteral(parent.name) && parent.name.text === first.text;
        calls.push({ file, line, message: first.text, args: spread || tableEntry ? undefined : rest.length });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return calls;
}

/** How many positional arguments a message takes: one more than its highest `{n}`, 0 without any. */
export function placeholderCount(message: string): number {
  const indices = [...message.matchAll(/\{(\d+)\}/g)].map((m) => Number(m[1]));
  return indices.length === 0 ? 0 : Math.max(...indices) + 1;
}

/** Does a message leave out a placeholder below its highest (`{0} of {2}`)? */
export function skipsPlaceholder(message: string): boolean {
  return Array.from({ length: placeholderCount(message) }, (_, i) => message.includes(`{${i}}`)).includes(false);
}

/** Attribute and option names whose values are markup or data, never shown: classes, ids, roles, states. */
const PAGE_DATA_KEYS = new Set([
  'class',
  'id',
  'type',
  'role',
  'for',
  'scope',
  'spellcheck',
  'mode',
  'aria-live',
  'aria-hidden',
  'aria-controls',
  'aria-describedby',
  'aria-pressed',
  'aria-expanded',
  'extraClass',
]);

/** Calls whose string arguments are markup or data: tag names, icon names, classes, attributes, messages. */
const PAGE_DATA_CALLS = new Set([
  'getElementById',
  'createElement',
  'createElementNS',
  'setAttribute',
  'toggle',
  'add',
  'remove',
  'addEventListener',
  'post',
  'request',
  'icon',
  'lineIcon',
  'mark',
  'requestButton',
  'card',
]);

/** Literals of the pages that are data where a word could be: commands, JSON, names that stay as they are. */
export const PAGE_NOT_WORDS = new Set([
  "'nitro-dev kms dry-run'",
  "'warned unsigned'", // the verdict's classes
  "'Decrypt'", // a KMS operation
  "'ImageSha384'", // a condition key's name
  '\'{ "Version": "2012-10-17", "Statement": [ … ] }\'',
]);

/**
 * The literals of a webview source that read as words (two letters or more) and do not go through
 * its t() or count() (or the lib's libWords): what a page would show in English whatever the
 * language. Markup and data (tags, classes, ids, icon names, compared values) are left out.
 * `everyWord`: every literal with a word in it counts, a single lower-case one (`'signed'`) too;
 * the caller then leaves out the page's data by name.
 */
export function pageLiterals(file: string, source: string, options: { everyWord?: boolean } = {}): string[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const isWordCall = (n: ts.Node) =>
    ts.isCallExpression(n) && /^(libWords\.)?(t|count)$/.test(n.expression.getText(sf));
  const exempt = (node: ts.Node): boolean => {
    let child: ts.Node = node;
    for (let p = node.parent; p; child = p, p = p.parent) {
      if (ts.isImportDeclaration(p) || ts.isExportDeclaration(p) || ts.isLiteralTypeNode(p)) return true;
      if (isWordCall(p)) return true;
      if (ts.isCallExpression(p)) {
        const callee = p.expression;
        const name = ts.isPropertyAccessExpression(callee) ? callee.name.text : callee.getText(sf);
        if (PAGE_DATA_CALLS.has(name)) return true;
        if (name === 'h' && p.arguments[0] === child) return true;
        if (/^(test|exec|replace|match|split|join|startsWith|endsWith|includes|padStart)$/.test(name)) return true;
        return false;
      }
      if (ts.isBinaryExpression(p) && /^[!=]==?$/.test(p.operatorToken.getText(sf))) return true;
      if (ts.isCaseClause(p) || ts.isElementAccessExpression(p)) return true;
      if (ts.isPropertyAssignment(p) && p.name === child) return true;
      if (ts.isPropertyAssignment(p)) {
        const key = ts.isIdentifier(p.name) || ts.isStringLiteral(p.name) ? p.name.text : '';
        return PAGE_DATA_KEYS.has(key) || key.startsWith('data-');
      }
      if (ts.isBinaryExpression(p) && ts.isPropertyAccessExpression(p.left) && p.left.name.text === 'className')
        return true;
      if (ts.isStatement(p)) return false;
    }
    return false;
  };
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateExpression(node)) {
      const text = ts.isTemplateExpression(node)
        ? [node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join(' ')
        : node.text;
      // Words: two of them, or one capitalised ('Reload'). A single lower-case token is a name (an
      // icon, a state, a class); a class list is left out above by where it stands.
      const words = options.everyWord
        ? /[A-Za-z]{2,}/.test(text)
        : /[A-Za-z]{2,}[\s,:;.]+[A-Za-z]{2,}/.test(text) || /^\s*[A-Z][a-z]{2,}/.test(text);
      if (words && !PAGE_NOT_WORDS.has(node.getText(sf)) && !exempt(node)) {
        const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
        found.push(`${file}:${line} ${node.getText(sf)}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** `l10n.t('{1} enclave{2}', ..., n === 1 ? '' : 's')`: an English plural built from a suffix argument. */
export function pluralSuffixes(file: string, source: string): string[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const isSuffix = (e: ts.Expression) => ts.isStringLiteral(e) && /^(s|es)$/.test(e.text);
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && /(^|\.)l10n\.t$/.test(node.expression.getText(sf))) {
      for (const arg of node.arguments.slice(1))
        if (ts.isConditionalExpression(arg) && (isSuffix(arg.whenTrue) || isSuffix(arg.whenFalse))) {
          const line = sf.getLineAndCharacterOfPosition(arg.getStart(sf)).line + 1;
          found.push(`${file}:${line} ${arg.getText(sf)}`);
        }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}
