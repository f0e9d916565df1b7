// Writes a new project's files (engine/imagebuild/scaffold.ts) into a folder that does not exist
// or is empty. Nothing is overwritten; on a failure the files and folders this call created are
// removed again, so a project is either whole or absent.
import { chmod, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { ScaffoldFile } from '../imagebuild/scaffold';

export class ScaffoldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScaffoldError';
  }
}

/** Creates `dir` (and missing parents) with `files`; returns the paths written. */
export async function writeScaffold(dir: string, files: readonly ScaffoldFile[]): Promise<string[]> {
  const root = path.resolve(dir);
  let existing: string[] | undefined;
  try {
    existing = await readdir(root);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw new ScaffoldError(`${root} is a file, not a folder`);
    if (code !== 'ENOENT') throw e;
  }
  if (existing && existing.length > 0)
    throw new ScaffoldError(`${root} is not empty (${existing.length} entries): choose a new or empty folder`);
  const createdRoot = existing === undefined;
  const created: string[] = [];
  try {
    await mkdir(root, { recursive: true });
    for (const f of files) {
      const target = path.resolve(root, ...f.path.split('/'));
      if (!target.startsWith(root + path.sep)) throw new ScaffoldError(`${f.path} is outside the project`);
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, f.data, { flag: 'wx', mode: f.mode });
      created.push(target);
      await chmod(target, f.mode); // the umask does not decide an executable's bits
    }
    return created;
  } catch (e) {
    if (createdRoot) await rm(root, { recursive: true, force: true });
    // The folder was empty: everything in it now is this call's.
    else
      for (const name of await readdir(root).catch(() => []))
        await rm(path.join(root, name), { recursive: true, force: true });
    throw e;
  }
}
