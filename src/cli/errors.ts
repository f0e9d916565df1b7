// nitro-cli's way of reporting a failed command: `[ Exx ] <what failed>. <reason>` on stderr, a
// pointer to the error's documentation, and the exit status xx (spec section 7.9).
import { CertificateError, EifFormatError, MetadataError, SignatureFormatError } from '../engine';
import { SigningError } from '../engine/node';

export interface CliError {
  readonly code: number;
  readonly message: string;
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

export class CommandError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

/** The nitro-cli error code an engine failure corresponds to. */
export function classify(e: unknown, during: 'reading' | 'signing' | 'hashing'): CliError {
  if (e instanceof CommandError) return { code: e.code, message: e.message };
  if (e instanceof SigningError) return { code: 60, message: e.message };
  if (e instanceof EifFormatError || e instanceof MetadataError || e instanceof SignatureFormatError) return { code: 35, message: e.message };
  if (e instanceof CertificateError) return { code: during === 'signing' ? 60 : 57, message: e.message };
  const errno = e as NodeJS.ErrnoException;
  if (errno && typeof errno.code === 'string' && typeof errno.syscall === 'string') {
    return { code: 19, message: `${errno.path ?? ''}${errno.path ? ': ' : ''}${errno.message.replace(/^\w+: /, '')}` };
  }
  return { code: 0, message: e instanceof Error ? e.message : String(e) };
}

export function formatCliError(err: CliError): string {
  return formatErrorReport(err.code, `${TITLES[err.code] ?? 'Error'}. ${err.message}`);
}

/** `[ Exx ] <text>` and the pointer to nitro-cli's documentation of the code (spec 7.9); `text` starts with the error's title. */
export function formatErrorReport(code: number, text: string): string {
  const c = `E${String(code).padStart(2, '0')}`;
  return `[ ${c} ] ${text}\n\nFor more details, please visit https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#${c}\n`;
}
