// The vsock-proxy allowlist diagnostics' pieces that need no VS Code: which YAML documents are
// allowlists, and the engine's problems of one as ranges (0-based lines and characters).
import { MAX_ALLOWLIST_BYTES, parseAllowlist, type AllowlistDiagnostic } from '../../engine';

/** vsock-proxy.yaml, vsock-proxy-kms.yml, ... */
const ALLOWLIST_NAME = /^vsock-proxy[^/\\]*\.ya?ml$/i;
/** A top-level `allowlist:` key (at the start of a line, not indented). */
const ALLOWLIST_KEY = /^(?:allowlist|"allowlist"|'allowlist')[ \t]*:/m;

/**
 * Whether a document is a vsock-proxy allowlist: a file named vsock-proxy*.yaml or *.yml, or any YAML
 * document with a top-level `allowlist:` key. Text over MAX_ALLOWLIST_BYTES characters counts only
 * by its name (the check then says it is too large).
 */
export function looksLikeAllowlist(fileName: string, languageId: string, text: string): boolean {
  const base = fileName.split(/[/\\]/).pop() ?? '';
  if (ALLOWLIST_NAME.test(base)) return true;
  const yaml = languageId === 'yaml' || /\.ya?ml$/i.test(base);
  return yaml && text.length <= MAX_ALLOWLIST_BYTES && ALLOWLIST_KEY.test(text);
}

/** A problem's place in a document, 0-based, with at least one character. */
export interface AllowlistProblem {
  readonly startLine: number;
  readonly startCharacter: number;
  readonly endLine: number;
  readonly endCharacter: number;
  readonly message: string;
  readonly severity: 'error' | 'warning';
}

function rangeOf(d: AllowlistDiagnostic): AllowlistProblem {
  const startLine = d.line - 1;
  const startCharacter = d.column - 1;
  let endLine = Math.max(startLine, d.endLine - 1);
  let endCharacter = d.endColumn - 1;
  if (endLine === startLine && endCharacter <= startCharacter) {
    endLine = startLine;
    endCharacter = startCharacter + 1;
  }
  return { startLine, startCharacter, endLine, endCharacter, message: d.message, severity: d.severity };
}

/** The problems of an allowlist text, as the engine finds them. */
export function allowlistProblems(text: string): AllowlistProblem[] {
  return parseAllowlist(text).diagnostics.map(rangeOf);
}
