// `sign-eif`: adds a signature to an EIF, or replaces the one it has, keeping every other section
// and the header's fixed fields. Unlike image-format 0.5.0, the size table is updated too when an
// existing signature is replaced (the spec's pitfall P14).
import { EifFormatError } from '../eif/errors';
import { readLayout } from '../eif/layout';
import type { CancellationLike } from '../platform/lifecycle';
import { writeEif, type SigningInput, type WriteEifResult } from './eifWriter';
import { FileByteSource } from './fileByteSource';

export interface SignEifOptions extends SigningInput {
  /** Where to write the signed image (default: replace the input, atomically). */
  readonly outPath?: string;
  readonly token?: CancellationLike;
  readonly onProgress?: (done: number, total: number, stage: 'measuring' | 'writing') => void;
}

export async function signEifFile(path: string, options: SignEifOptions): Promise<WriteEifResult> {
  const source = await FileByteSource.open(path);
  try {
    const layout = await readLayout(source);
    // The header table is rewritten from the sections, so a stale table (what nitro-cli's own
    // re-signing leaves behind) is repaired rather than refused; a missing section is not.
    const fatal = layout.problems.find((p) =>
      ['missing-kernel', 'missing-cmdline', 'missing-ramdisk', 'duplicate-section', 'section-order'].includes(p.code),
    );
    if (fatal)
      throw new EifFormatError(fatal.code, fatal.offset, `refusing to sign a malformed image: ${fatal.message}`);
    // writeEif puts the new signature where the first old one was (and drops any others).
    const sections = layout.sections.map((s) => ({
      type: s.type,
      data: { source, offset: s.dataOffset, size: s.size },
    }));
    return await writeEif(options.outPath ?? path, {
      arch: layout.header.arch,
      version: layout.header.version,
      defaultMem: layout.header.defaultMem,
      defaultCpus: layout.header.defaultCpus,
      sections,
      signing: { certificatePem: options.certificatePem, privateKeyPem: options.privateKeyPem },
      ...(options.token ? { token: options.token } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
  } finally {
    await source.close();
  }
}
