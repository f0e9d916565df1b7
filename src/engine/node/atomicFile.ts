import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import * as path from 'node:path';

/** Writes all of `bytes` at `offset` of the file being written. */
export type PositionalWrite = (bytes: Uint8Array, offset: number) => Promise<void>;

/**
 * Writes a file atomically: `fill` writes a temporary file next to the target, which replaces the
 * target only once it is complete and flushed. On any error or cancellation the temporary file is
 * removed and the target is left as it was. `mode` is the new file's (default 0644; the umask applies).
 */
export async function writeAtomically<T>(
  target: string,
  fill: (write: PositionalWrite) => Promise<T>,
  options: { readonly mode?: number } = {},
): Promise<T> {
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.partial`);
  const file = await open(temp, 'wx', options.mode ?? 0o644);
  let ok = false;
  try {
    const result = await fill(async (bytes, offset) => {
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await file.write(bytes, done, bytes.length - done, offset + done);
        done += bytesWritten;
      }
    });
    await file.sync();
    await file.close();
    await rename(temp, target);
    ok = true;
    return result;
  } finally {
    if (!ok) {
      await file.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
    }
  }
}
