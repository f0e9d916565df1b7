// Small file helpers of the QEMU backend's setup and tool lookup: every output is installed by a
// rename. A module of their own so that the tool lookup (which the extension uses) does not carry
// setup.ts and the kernel configuration it embeds.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** A temporary sibling of `target`, unique to this process. */
export const tempName = (target: string): string =>
  path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);

/** Writes `data` to `file` through a temporary sibling and a rename. */
export async function writeFileAtomically(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temp = tempName(file);
  try {
    await fs.writeFile(temp, data, { mode });
    await fs.rename(temp, file);
  } catch (e) {
    await fs.rm(temp, { force: true });
    throw e;
  }
}

/** The executable `name` in `PATH`, or undefined. */
export async function findInPath(name: string, pathVariable: string | undefined): Promise<string | undefined> {
  for (const dir of (pathVariable ?? '').split(path.delimiter)) {
    if (!dir || !path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, name);
    try {
      const st = await fs.stat(candidate);
      if (st.isFile()) {
        await fs.access(candidate, fs.constants.X_OK);
        return candidate;
      }
    } catch {
      // Not here.
    }
  }
  return undefined;
}
