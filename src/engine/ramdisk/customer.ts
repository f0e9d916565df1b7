// The customer ramdisk of an enclave image (ramdisk 1, measured into PCR2), laid out as nitro-cli's
// patched linuxkit (`kernel+initrd-nogz`, `prefix: rootfs/`) writes it (shared EIF spec 6.5, 6.6):
//
//   1. `rootfs` (directory 0755, from the prefix);
//   2. the image filesystem under `rootfs/`, in walk order, with linuxkit's rewrites;
//   3. the "touch" entries the image lacked, in sorted order;
//   4. the `files:` section of nitro-cli's YAML: `rootfs` (once, as the parent of the first file),
//      `rootfs/dev`, `rootfs/run`, `rootfs/sys`, `rootfs/var`, `rootfs/proc`, `rootfs/tmp`
//      (directories 0755), then `cmd` and `env` (files 0644) at the archive root;
//   5. the trailer.
//
// The rewrites follow linuxkit v1.5.2 `src/cmd/linuxkit/moby/build/image.go` (ImageTar, and the
// tables `exclude`, `replace`, `touch`) with the AWS patch "Fix output image duplicate entries"
// (aws-nitro-enclaves-sdk-bootstrap `linuxkit/0003-...patch`: a replaced entry also counts as
// found for the touch list), and `filesystem()` in `build/build.go` (a parent directory of a
// `files:` entry is written once, with the entry's mode plus search bits, uid/gid 0, mtime
// 2017-04-18T16:30:00Z). linuxkit reads the image through `docker export`, whose directory names
// end in "/": the tables are keyed that way, so `dev/pts` and `dev/shm` are dropped only when they
// are not directories, while the directories `dev/pts/` and `dev/shm/` are touch entries (kept with
// their own metadata, mtime forced). Hard links become relative symlinks (`initrd.go`), except a
// hard link to a symlink: it is written as another path of that symlink (same target, same inode
// number, nlink = its paths, as GNU cpio writes one), where linuxkit would point it at the first path.
import type { FsEntry } from '../oci/flatten';
import type { ByteSource } from '../platform/byteSource';
import type { CancellationLike } from '../platform/lifecycle';
import { utf8 } from '../util/bytes';
import { CpioWriter, LINUXKIT_MTIME, hardLinkAsSymlinkTarget, type CpioSink } from './cpio';

export type CustomerRamdiskErrorCode =
  /** The image config has neither Cmd nor Entrypoint. */
  | 'no-entry-point'
  /** A Cmd/Entrypoint element contains a newline or NUL (the `cmd` file has one element per line). */
  | 'newline-in-argument'
  /** An Env element contains a newline or NUL (the `env` file has one variable per line). */
  | 'newline-in-env'
  /** A file whose stored data does not match its size. */
  | 'bad-content';

/** The image cannot be turned into a customer ramdisk; the message names the rule broken. */
export class CustomerRamdiskError extends Error {
  constructor(
    readonly code: CustomerRamdiskErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CustomerRamdiskError';
  }
}

/** `prefix:` of nitro-cli's customer YAML. */
export const ROOTFS_PREFIX = 'rootfs';

/** linuxkit's fixed `/etc/hosts` (image.go `replace["etc/hosts"]`). */
export const LINUXKIT_HOSTS =
  '127.0.0.1       localhost\n' +
  '::1     localhost ip6-localhost ip6-loopback\n' +
  'fe00::0 ip6-localnet\n' +
  'ff00::0 ip6-mcastprefix\n' +
  'ff02::1 ip6-allnodes\n' +
  'ff02::2 ip6-allrouters\n';

/** Target of the `/etc/resolv.conf` symlink (build.go `resolvconfSymlink`, passed for init images). */
export const RESOLV_CONF_TARGET = '/run/resolvconf/resolv.conf';

/** Names linuxkit drops from the image (keys as `docker export` spells them: directories end in "/"). */
const EXCLUDE: ReadonlySet<string> = new Set([
  '.dockerenv',
  'Dockerfile',
  'dev/console',
  'dev/pts',
  'dev/shm',
  'etc/hostname',
]);

interface TouchEntry {
  readonly path: string;
  readonly kind: 'directory' | 'symlink' | 'hosts' | 'resolv';
  readonly mode: number;
  readonly target?: string;
}

/** linuxkit's `touch` table, keyed like `docker export` names, in sorted key order. */
const TOUCH: ReadonlyMap<string, TouchEntry> = new Map<string, TouchEntry>(
  (
    [
      ['dev/', { path: 'dev', kind: 'directory', mode: 0o755 }],
      ['dev/pts/', { path: 'dev/pts', kind: 'directory', mode: 0o755 }],
      ['dev/shm/', { path: 'dev/shm', kind: 'directory', mode: 0o755 }],
      ['etc/', { path: 'etc', kind: 'directory', mode: 0o755 }],
      ['etc/hosts', { path: 'etc/hosts', kind: 'hosts', mode: 0o644 }],
      ['etc/mtab', { path: 'etc/mtab', kind: 'symlink', mode: 0o755, target: '/proc/mounts' }],
      ['etc/resolv.conf', { path: 'etc/resolv.conf', kind: 'resolv', mode: 0o644 }],
      ['proc/', { path: 'proc', kind: 'directory', mode: 0o755 }],
      ['sys/', { path: 'sys', kind: 'directory', mode: 0o755 }],
    ] as const
  )
    .slice()
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
);

/** The directories of nitro-cli's `files:` section, in YAML order (each 0755). */
const FILES_DIRS = ['dev', 'run', 'sys', 'var', 'proc', 'tmp'] as const;

function checkLines(lines: readonly string[], code: 'newline-in-argument' | 'newline-in-env', what: string): string[] {
  return lines.map((line, i) => {
    if (typeof line !== 'string') throw new TypeError(`${what} element ${i} is not a string`);
    if (line.includes('\n') || line.includes('\0')) {
      const c = line.includes('\n') ? 'a newline' : 'a NUL byte';
      throw new CustomerRamdiskError(
        code,
        `${what} element ${i} (${JSON.stringify(line.length > 200 ? `${line.slice(0, 200)}…` : line)}) ` +
          `contains ${c}; the enclave's init reads one element per line, so it cannot be represented`,
      );
    }
    return line;
  });
}

/**
 * The `cmd` and `env` lines nitro-cli derives from the image config: Cmd when it is non-null (the
 * Entrypoint is then ignored, never prepended), else the Entrypoint, else an error; env = Env.
 */
export function commandAndEnv(config: {
  cmd: readonly string[] | null;
  entrypoint: readonly string[] | null;
  env: readonly string[];
}): { cmd: string[]; env: string[] } {
  let cmd: readonly string[];
  let from: string;
  if (config.cmd !== null && config.cmd !== undefined) {
    cmd = config.cmd;
    from = 'CMD';
  } else if (config.entrypoint !== null && config.entrypoint !== undefined) {
    cmd = config.entrypoint;
    from = 'ENTRYPOINT';
  } else {
    throw new CustomerRamdiskError(
      'no-entry-point',
      'unsupported entry point: the image has neither CMD nor ENTRYPOINT, so the enclave would have nothing to run',
    );
  }
  return {
    cmd: checkLines(cmd, 'newline-in-argument', from),
    env: checkLines(config.env ?? [], 'newline-in-env', 'ENV'),
  };
}

/** Each element followed by "\n", as UTF-8 (empty for no elements). */
export function linesFile(lines: readonly string[]): Uint8Array {
  let text = '';
  for (const line of lines) text += `${line}\n`;
  return utf8(text);
}

/** A ByteSource over a range of another one (no copy). */
function slice(source: ByteSource, offset: number, size: number, name: string): ByteSource {
  return {
    size,
    name,
    read: (at, length) => {
      if (!Number.isSafeInteger(at) || !Number.isSafeInteger(length) || at < 0 || length < 0 || at + length > size) {
        throw new RangeError(`${name}: cannot read ${length} bytes at offset ${at} of ${size}`);
      }
      return source.read(offset + at, length);
    },
    close: async () => undefined,
  };
}

type EntryMeta = { mode: number; uid: number; gid: number; mtime: number };

/** Writes one entry of the image's filesystem as `name` (under rootfs/). */
async function writeImageEntry(
  w: CpioWriter,
  e: FsEntry,
  name: string,
  meta: EntryMeta,
  content: ByteSource,
  symlinkInodes: Map<string, number>,
): Promise<void> {
  switch (e.type) {
    case 'directory':
      await w.addDirectory(name, meta);
      break;
    case 'file': {
      const ref = e.content ?? { offset: 0, size: 0 };
      if (ref.size !== e.size) {
        throw new CustomerRamdiskError(
          'bad-content',
          `${e.path}: the stored data has ${ref.size} bytes, the entry ${e.size}`,
        );
      }
      await w.addFile(
        name,
        { ...meta, size: e.size },
        e.size === 0 ? new Uint8Array(0) : slice(content, ref.offset, ref.size, `${content.name} (${e.path})`),
      );
      break;
    }
    case 'symlink':
      if (e.links !== undefined && e.links > 1) {
        symlinkInodes.set(e.path, w.nextInode);
        await w.addSymlink(name, e.linkName ?? '', meta, { nlink: e.links });
      } else {
        await w.addSymlink(name, e.linkName ?? '', meta);
      }
      break;
    case 'hardlink':
      if (e.symlinkTarget !== undefined) {
        // A hard link to a symlink stays one: the same target and inode (linuxkit would point it at its first path).
        const ino = symlinkInodes.get(e.linkName ?? '');
        await w.addSymlink(name, e.symlinkTarget, meta, ino !== undefined ? { ino, nlink: e.links ?? 2 } : {});
      } else {
        await w.addSymlink(name, hardLinkAsSymlinkTarget(name, `${ROOTFS_PREFIX}/${e.linkName ?? ''}`), meta);
      }
      break;
    case 'char':
    case 'block':
      await w.addDevice(name, e.type, e.rdevMajor, e.rdevMinor, meta);
      break;
    case 'fifo':
      await w.addFifo(name, meta);
      break;
  }
}

/** Writes the paths linuxkit always has (etc/hosts, etc/resolv.conf, ...) that the image lacks. */
async function writeMissingTouched(w: CpioWriter, found: ReadonlySet<string>, hosts: Uint8Array): Promise<void> {
  for (const [key, t] of TOUCH) {
    if (found.has(key)) continue;
    const name = `${ROOTFS_PREFIX}/${t.path}`;
    const meta = { mode: t.mode, uid: 0, gid: 0, mtime: LINUXKIT_MTIME };
    if (t.kind === 'directory') await w.addDirectory(name, meta);
    else if (t.kind === 'symlink') await w.addSymlink(name, t.target as string, meta);
    else if (t.kind === 'resolv') await w.addSymlink(name, RESOLV_CONF_TARGET, meta);
    else await w.addFile(name, { ...meta, size: hosts.length }, hosts);
  }
}

/**
 * Writes the customer ramdisk of an image whose flattened filesystem is `entries` (ImageTree.walk()
 * order) and whose file data lies in `content`. Returns the archive size.
 */
export async function writeCustomerRamdisk(
  entries: Iterable<FsEntry>,
  content: ByteSource,
  cmdEnv: { cmd: readonly string[]; env: readonly string[] },
  sink: CpioSink,
  options: { cancellation?: CancellationLike; onBytes?: (archiveBytesSoFar: number) => void } = {},
): Promise<number> {
  const cmdBytes = linesFile(checkLines(cmdEnv.cmd, 'newline-in-argument', 'command'));
  const envBytes = linesFile(checkLines(cmdEnv.env, 'newline-in-env', 'ENV'));
  let total = 0;
  const onBytes = options.onBytes;
  const counted: CpioSink = onBytes
    ? async (chunk) => {
        await sink(chunk);
        total += chunk.length;
        onBytes(total);
      }
    : sink;
  const w = new CpioWriter(counted, options.cancellation ? { cancellation: options.cancellation } : {});
  const P = `${ROOTFS_PREFIX}/`;
  const fixed = { uid: 0, gid: 0, mtime: LINUXKIT_MTIME };
  const hosts = utf8(LINUXKIT_HOSTS);

  await w.addDirectory(ROOTFS_PREFIX, { mode: 0o755, ...fixed });

  const found = new Set<string>();
  // Hard-linked symlinks: the inode number each one's first path got, by that path.
  const symlinkInodes = new Map<string, number>();
  for (const e of entries) {
    const key = e.type === 'directory' ? `${e.path}/` : e.path;
    if (EXCLUDE.has(key)) continue;
    const name = P + e.path;
    const meta = { mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime };
    if (key === 'etc/hosts') {
      // Replaced: the entry's own header with linuxkit's content and the fixed mtime.
      found.add(key);
      const fileLike = e.type === 'file' || e.type === 'hardlink';
      await w.addFile(
        name,
        { mode: fileLike ? e.mode : 0o644, uid: e.uid, gid: e.gid, mtime: LINUXKIT_MTIME, size: hosts.length },
        hosts,
      );
      continue;
    }
    if (key === 'etc/resolv.conf') {
      found.add(key);
      await w.addSymlink(name, RESOLV_CONF_TARGET, { ...meta, mtime: LINUXKIT_MTIME });
      continue;
    }
    if (TOUCH.has(key)) {
      found.add(key);
      meta.mtime = LINUXKIT_MTIME;
    }
    await writeImageEntry(w, e, name, meta, content, symlinkInodes);
  }

  await writeMissingTouched(w, found, hosts);

  // The files: section. Its parent `rootfs` is written once, before the first entry under it.
  await w.addDirectory(ROOTFS_PREFIX, { mode: 0o755, ...fixed });
  for (const dir of FILES_DIRS) await w.addDirectory(P + dir, { mode: 0o755, ...fixed });
  await w.addFile('cmd', { mode: 0o644, ...fixed, size: cmdBytes.length }, cmdBytes);
  await w.addFile('env', { mode: 0o644, ...fixed, size: envBytes.length }, envBytes);
  return w.finish();
}
