// Typed errors and findings of the EIF reader. Every rule has a stable code; messages say what was
// found, where (byte offset) and which rule it breaks.

export type EifErrorCode =
  | 'short-file'
  | 'bad-magic'
  | 'unsupported-version'
  | 'byte-order'
  | 'section-count'
  | 'invalid-section-type'
  | 'section-past-eof'
  | 'length-overflow'
  | 'missing-kernel'
  | 'missing-cmdline'
  | 'missing-ramdisk'
  | 'missing-metadata'
  | 'duplicate-section'
  | 'section-order'
  | 'reserved-bits'
  | 'table-mismatch'
  | 'trailing-bytes'
  | 'bad-metadata'
  | 'bad-signature-section'
  | 'bad-certificate'
  | 'signature-invalid'
  | 'section-too-large';

/** A file that cannot be read as an EIF (or an EIF whose signature does not verify). */
export class EifFormatError extends Error {
  constructor(
    readonly code: EifErrorCode,
    /** Byte offset in the file where the problem is. */
    readonly offset: number,
    message: string,
  ) {
    super(`${message} (at byte ${offset}; rule: ${code})`);
    this.name = 'EifFormatError';
  }
}

export type Severity = 'error' | 'warning';

/** A finding about a file that could still be walked: errors break the format, warnings are odd but tolerated. */
export interface EifProblem {
  readonly code: EifErrorCode;
  readonly severity: Severity;
  readonly offset: number;
  readonly message: string;
}

export function problemToError(p: EifProblem): EifFormatError {
  return new EifFormatError(p.code, p.offset, p.message);
}
