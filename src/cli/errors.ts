// How a failed command is reported, in one place: nitro-cli's `[ Exx ] <what failed>. <reason>` on
// stderr, a pointer to the error's documentation, and the exit status xx (spec section 7.9); then a
// line pointing to `nitro-dev explain Exx`.
//
// Commands throw: a CommandError (a code of the CLI's own choosing), the engine's BackendError
// (code and titled message from a backend), an engine error class, a Node errno error, a
// cancellation, or a UsageError. Each command's catch hands what it caught to reportFailure, which
// classifies it (failureOf), prints it and returns the exit status. Usage errors go back to runCli,
// which prints them with the command's usage and exits 2.
import { CancelledError, CertificateError, EifFormatError, MetadataError, SignatureFormatError } from '../engine';
import { BackendError, explainError } from '../engine';
import { SigningError, SshUnreachableError } from '../engine/node';
import { UsageError } from './args';
import type { CliIo } from './types';

/** A failure as nitro-cli reports it: the code and the text after `[ Exx ] ` (its title first). */
export interface CliFailure {
  readonly code: number;
  readonly text: string;
}

const TITLES: Record<number, string> = {
  0: 'Unspecified error',
  19: 'File operation failure',
  35: 'EIF parsing error',
  48: 'EIF building error',
  57: 'Hasher error',
  59: 'EIF signature checker error',
  60: 'EIF signing error',
};

/** A failure with the nitro-cli code the CLI chose for it; `message` is the reason (the title is added). */
export class CommandError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

/** How the failures of one command read (the default: nitro-cli's reports, unclassified failures as E00). */
export interface FailureStyle {
  /** What the command was doing: a bad signing certificate is E60 while signing, else E57 (hasher). */
  readonly during?: 'reading' | 'signing' | 'hashing';
  /** The code of a failure that no rule classifies (default 0, "Unspecified error"; build-enclave: 48). */
  readonly fallback?: number;
  /** The line printed when the user cancels the command (exit status 130). */
  readonly cancelled?: string;
  /**
   * `nitro-cli` (default): `[ Exx ] ...` reports with exit status xx. `plain`: `nitro-dev: error:
   * <reason>` and exit status 1, for verify-attestation and decode-attestation, which nitro-cli
   * does not have and whose exit status 1 already means "no valid document".
   */
  readonly report?: 'nitro-cli' | 'plain';
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function titled(code: number, reason: string): CliFailure {
  return { code, text: `${TITLES[code] ?? 'Error'}. ${reason}` };
}

/** The nitro-cli code and report text of any failure. */
export function failureOf(e: unknown, style: FailureStyle = {}): CliFailure {
  if (e instanceof CommandError) return titled(e.code, e.message);
  // A backend's message already starts with its title ("Insufficient CPUs available. ...").
  if (e instanceof BackendError) return { code: e.code, text: e.message };
  if (e instanceof SigningError) return titled(60, e.message);
  if (e instanceof EifFormatError || e instanceof MetadataError || e instanceof SignatureFormatError)
    return titled(35, e.message);
  if (e instanceof CertificateError) return titled(style.during === 'signing' ? 60 : 57, e.message);
  // A parent ssh cannot reach (doctor --host, the enclave commands' --host): none of nitro-cli's
  // codes is about reaching a host (E08-E11 are its sockets to enclave processes), so E00, exit 1,
  // whatever the command's own fallback.
  if (e instanceof SshUnreachableError) return titled(0, e.message);
  // A file the command could not read or write (a missing file, a read-only folder): E19.
  const errno = e as NodeJS.ErrnoException;
  if (errno && typeof errno.code === 'string' && typeof errno.syscall === 'string') {
    return titled(19, `${errno.path ?? ''}${errno.path ? ': ' : ''}${errno.message.replace(/^\w+: /, '')}`);
  }
  return titled(style.fallback ?? 0, message(e));
}

/**
 * `[ Exx ] <text>` and the pointer to nitro-cli's documentation of the code, as nitro-cli prints them
 * (spec 7.9; `text` starts with the error's title), then, for a code `nitro-dev explain` knows, a last
 * line pointing to it. nitro-cli's lines come first and unchanged: whatever reads its reports (the
 * first line, the link) reads these the same.
 */
export function formatErrorReport(code: number, text: string): string {
  const c = `E${String(code).padStart(2, '0')}`;
  const explain = explainError(code) ? `Run \`nitro-dev explain ${c}\` for what it means and how to fix it.\n` : '';
  return (
    `[ ${c} ] ${text}\n\nFor more details, please visit https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#${c}\n` +
    explain
  );
}

/**
 * Reports a command's failure on stderr and returns the exit status: 130 when the user cancelled,
 * else the nitro-cli code (1 for E00). A UsageError is thrown on, for runCli to print with the usage.
 */
export function reportFailure(io: CliIo, e: unknown, style: FailureStyle = {}): number {
  if (e instanceof UsageError) throw e;
  // A progress line may be on the terminal: clear it first.
  if (io.stderrIsTty && style.report !== 'plain') io.stderr('\r\x1b[K');
  if (e instanceof CancelledError || io.cancellation?.isCancellationRequested) {
    io.stderr(`${style.cancelled ?? 'Cancelled.'}\n`);
    return 130;
  }
  if (style.report === 'plain') {
    io.stderr(`nitro-dev: error: ${message(e)}\n`);
    return 1;
  }
  const failure = failureOf(e, style);
  io.stderr(formatErrorReport(failure.code, failure.text));
  return failure.code === 0 ? 1 : failure.code;
}
