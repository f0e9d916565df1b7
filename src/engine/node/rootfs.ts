// `build-enclave --rootfs DIR`: a plain folder as the enclave's root file system (not a nitro-cli
// interface). The folder is read into the same entry list an OCI image's layers flatten to, so the
// customer ramdisk follows the same rules (linuxkit's rewrites, `cmd`, `env`), with these choices
// for what a folder does not fix by itself:
//
//   * order: depth first, each folder's entries sorted by the bytes of their names (as the walk of a
//     flattened image);
//   * owner 0:0 and one fixed time (LINUXKIT_MTIME, 2017-04-18T16:30:00Z) for every entry, so a
//     checkout, a copy or another user gives the same bytes; the permission bits (mode & 0o7777) are
//     the folder's own;
//   * symbolic links are stored as links with their target as written and never followed (inside the
//     enclave they resolve against its root, whatever they say); the folder itself may be a link;
//   * a file with several paths in the folder (hard links) is stored once: its later paths in walk
//     order are hard links, which the ramdisk writes as relative symlinks, as for images;
//   * FIFOs and character or block devices are stored as such (with their device numbers); sockets,
//     names that are not UTF-8, and other file systems mounted inside the folder are refused;
//   * a folder that changes while it is read is detected where it shows: a file whose type, inode,
//     size or modification time differs between the look before reading it and after, or a folder
//     whose list of names differs when it is listed again after its entries were read. The build then stops
//     and writes nothing. A change that keeps sizes and times (a same-size write followed by
//     `touch -d` back) cannot be seen; do not edit the folder during a build.
//
// File data is copied into the build's spool as it is read (the folder is read once), so what is
// measured is what was read.
import { constants as fsConstants, type BigIntStats } from 'node:fs';
import { lstat, open, readdir, readlink, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { ContentRef, ContentStore, FsEntry, FsEntryType } from '../oci/flatten';
import { DEFAULT_MAX_ENTRIES, compareUtf8 } from '../oci/flatten';
import { throwIfCancelled, type CancellationLike } from '../platform/lifecycle';
import { LINUXKIT_MTIME, MAX_FIELD, MAX_LINK_TARGET, MAX_NAME_SIZE } from '../ramdisk/cpio';

/** A folder that cannot be used as a root file system; the message names the path and the rule. */
export class RootfsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RootfsError';
  }
}

export interface RootfsOptions {
  readonly cancellation?: CancellationLike;
  /** Most entries accepted (default: the image path's 2,000,000). */
  readonly maxEntries?: number;
  /** Called with the bytes of file data read so far. */
  readonly onBytes?: (bytes: number) => void;
}

export interface RootfsTree {
  /** In walk order, ready for writeCustomerRamdisk. */
  readonly entries: readonly FsEntry[];
  readonly fileBytes: number;
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const CHUNK = 256 * 1024;
/** "rootfs/" and the NUL: what the ramdisk adds to a path's length. */
const NAME_OVERHEAD = 'rootfs/'.length + 1;

const show = (p: string) => JSON.stringify(p.length > 200 ? `${p.slice(0, 200)}…` : p);

function typeOf(st: BigIntStats): FsEntryType | 'socket' | 'unknown' {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  return 'unknown';
}

/** Linux's dev_t split (glibc's gnu_dev_major / gnu_dev_minor). */
function deviceNumbers(rdev: bigint): { major: number; minor: number } {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}

/** What must stay the same between two looks at a path for the read to count. */
const sameLook = (a: BigIntStats, b: BigIntStats) =>
  a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeNs === b.mtimeNs && a.mode === b.mode;

/** The names in a folder, as UTF-8 strings, in byte order; a name that is not UTF-8 is refused. */
async function sortedNames(dir: string, shown: string): Promise<string[]> {
  const raw = await readdir(dir, { encoding: 'buffer' });
  const names = raw.map((b) => {
    try {
      return decoder.decode(b);
    } catch {
      throw new RootfsError(
        `${shown === '' ? 'the folder' : show(shown)} holds a name that is not UTF-8 ` +
          `(${JSON.stringify(b.toString('latin1'))}); ` +
          'rename it: the enclave image stores names as UTF-8',
      );
    }
  });
  return names.sort(compareUtf8);
}

/** Copies a regular file into the store, checking it is the file that was looked at and did not change. */
async function storeFile(
  abs: string,
  rel: string,
  before: BigIntStats,
  store: ContentStore,
  options: RootfsOptions,
  progress: (n: number) => void,
): Promise<ContentRef> {
  // O_NOFOLLOW: a path swapped for a symlink since the look is refused, never followed;
  // O_NONBLOCK: a path swapped for a FIFO does not hang the build.
  const handle = await open(abs, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK).catch(
    (e: NodeJS.ErrnoException) => {
      if (e.code === 'ELOOP') throw changed(rel, 'became a symbolic link');
      throw e;
    },
  );
  try {
    const opened = await handle.stat({ bigint: true });
    if (!opened.isFile() || !sameLook(before, opened)) throw changed(rel, 'was replaced or modified');
    const size = Number(before.size);
    if (size > MAX_FIELD)
      throw new RootfsError(`${show(rel)} has ${size} bytes; a ramdisk entry holds at most ${MAX_FIELD}`);
    async function* chunks(): AsyncGenerator<Uint8Array> {
      let at = 0;
      for (;;) {
        throwIfCancelled(options.cancellation, 'the build');
        const buffer = new Uint8Array(Math.min(CHUNK, Math.max(1, size - at + 1)));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, at);
        if (bytesRead === 0) break;
        at += bytesRead;
        if (at > size) throw changed(rel, 'grew while it was read');
        progress(bytesRead);
        yield buffer.subarray(0, bytesRead);
      }
      if (at < size) throw changed(rel, 'shrank while it was read');
    }
    const ref = await store.put(chunks(), size);
    const after = await handle.stat({ bigint: true });
    if (!sameLook(before, after)) throw changed(rel, 'was modified while it was read');
    return ref;
  } finally {
    await handle.close();
  }
}

function changed(rel: string, what: string): RootfsError {
  return new RootfsError(
    `${show(rel)} ${what}: the folder changed during the build, so the image would not be what the folder holds; ` +
      'build again once nothing writes to it',
  );
}

/**
 * Reads the folder `dir` into the entries of a root file system, its file data into `store`.
 * See the file comment for the rules.
 */
export async function readRootfs(dir: string, store: ContentStore, options: RootfsOptions = {}): Promise<RootfsTree> {
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  let rootStat: BigIntStats;
  try {
    rootStat = await stat(dir, { bigint: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new RootfsError(
      `the root file system folder ${dir} ` +
        (code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(e)})`),
    );
  }
  if (!rootStat.isDirectory()) throw new RootfsError(`the root file system ${dir} is not a folder`);
  const root = path.resolve(dir);
  const entries: FsEntry[] = [];
  // The first path of each multiply-linked file, by inode.
  const firstPaths = new Map<bigint, { path: string; content: ContentRef; size: number }>();
  let fileBytes = 0;
  const progress = (n: number) => {
    fileBytes += n;
    options.onBytes?.(fileBytes);
  };

  // Depth first without recursion: a stack of the folders still to list, with their look.
  const walkFolder = async (rel: string, look: BigIntStats): Promise<void> => {
    const abs = rel === '' ? root : path.join(root, rel);
    const names = await sortedNames(abs, rel);
    for (const name of names) {
      throwIfCancelled(options.cancellation, 'the build');
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const childAbs = path.join(abs, name);
      if (Buffer.byteLength(childRel) + NAME_OVERHEAD > MAX_NAME_SIZE)
        throw new RootfsError(
          `${show(childRel)}: the path is longer than the ${MAX_NAME_SIZE - NAME_OVERHEAD} bytes ` +
            'an enclave image can hold',
        );
      let st: BigIntStats;
      try {
        st = await lstat(childAbs, { bigint: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw changed(childRel, 'disappeared');
        throw e;
      }
      if (entries.length >= maxEntries)
        throw new RootfsError(`the folder holds more than ${maxEntries} entries, the most a build accepts`);
      const type = typeOf(st);
      if (type === 'socket' || type === 'unknown')
        throw new RootfsError(
          `${show(childRel)} is a ${type === 'socket' ? 'socket' : 'special file'}; ` +
            'an enclave image cannot hold it: remove it from the folder',
        );
      if (st.dev !== rootStat.dev)
        throw new RootfsError(
          `${show(childRel)} is on another file system (a mount point inside the folder); ` +
            'the root file system must be one folder tree: copy what you need into it',
        );
      const base = {
        path: childRel,
        mode: Number(st.mode & 0o7777n),
        uid: 0,
        gid: 0,
        mtime: LINUXKIT_MTIME,
        rdevMajor: 0,
        rdevMinor: 0,
      };
      switch (type) {
        case 'directory':
          entries.push({ ...base, type, size: 0 });
          await walkFolder(childRel, st);
          break;
        case 'file': {
          const first = st.nlink > 1n ? firstPaths.get(st.ino) : undefined;
          if (first) {
            entries.push({ ...base, type: 'hardlink', size: 0, linkName: first.path, content: first.content });
            break;
          }
          const content = await storeFile(childAbs, childRel, st, store, options, progress);
          if (st.nlink > 1n) firstPaths.set(st.ino, { path: childRel, content, size: Number(st.size) });
          entries.push({ ...base, type, size: Number(st.size), content });
          break;
        }
        case 'symlink': {
          const raw = await readlink(childAbs, { encoding: 'buffer' });
          let target: string;
          try {
            target = decoder.decode(raw);
          } catch {
            throw new RootfsError(`the symbolic link ${show(childRel)} has a target that is not UTF-8`);
          }
          if (target === '' || target.includes('\0') || raw.length > MAX_LINK_TARGET)
            throw new RootfsError(`the symbolic link ${show(childRel)} has a target an enclave image cannot hold`);
          entries.push({ ...base, type, size: 0, linkName: target });
          break;
        }
        case 'char':
        case 'block': {
          const { major, minor } = deviceNumbers(st.rdev);
          entries.push({ ...base, type, size: 0, rdevMajor: major, rdevMinor: minor });
          break;
        }
        case 'fifo':
          entries.push({ ...base, type, size: 0 });
          break;
        default:
          break;
      }
    }
    // Listed again: a name added, removed or renamed meanwhile shows (a folder's time may not move
    // within a clock tick).
    const after = await (rel === '' ? stat(abs, { bigint: true }) : lstat(abs, { bigint: true })).catch(
      () => undefined,
    );
    const again =
      after?.isDirectory() && after.ino === look.ino ? await sortedNames(abs, rel).catch(() => undefined) : undefined;
    if (!again || again.length !== names.length || again.some((n, i) => n !== names[i]))
      throw changed(rel === '' ? '.' : rel, 'had entries added, removed or renamed while it was read');
  };
  await walkFolder('', rootStat);
  return { entries, fileBytes };
}
