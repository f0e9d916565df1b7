// Flattens the layers of an OCI image into one filesystem tree, as a container runtime would see
// it: the layer tars are OCI image-spec "changesets" applied in order, with overlayfs semantics.
//
//   * A later entry at an existing path replaces it. A directory over a directory keeps the
//     children and takes the new metadata; anything else replaces the node (and drops a directory's
//     subtree). Missing parent directories are created (0755, uid/gid 0, the entry's mtime); a
//     parent component that is not a directory is replaced by one, because nothing is followed:
//     the tree is never materialised, so symlinks are only data.
//   * Whiteouts: `dir/.wh.name` removes `dir/name` as the lower layers left it; `dir/.wh..wh..opq`
//     empties `dir` of everything the lower layers put there. Entries of the whiteout's own layer
//     stay, whatever order the tar lists them in. Whiteout files never appear in the tree; other
//     `.wh..wh.` metadata (aufs hard-link directories and the like) is dropped.
//   * Hard links share one inode (content, mode, owner, mtime). Replacing or deleting one path of
//     a shared inode later leaves the other paths with the old inode (copy-up).
//
// Memory is proportional to the number of entries: one small node per path, file data goes to a
// ContentStore as it streams past. walk() yields the tree depth-first, siblings in UTF-8 byte order
// (the order of Go's filepath.Walk, which `docker export` uses), with the second and later paths of
// an inode as hard links to the first.
import { readTar, PathGuard, TarFormatError, confinePath, type TarEntry } from './tar';
import { throwIfCancelled, CancelledError, type CancellationLike } from '../platform/lifecycle';

/** Where a file's data lies in a ContentStore. */
export interface ContentRef {
  readonly offset: number;
  readonly size: number;
}

/** Keeps file data while the layers are applied (e.g. an append-only spool file). */
export interface ContentStore {
  /** Stores exactly `size` bytes from `data` (an error if the stream is shorter or longer). */
  put(data: AsyncIterable<Uint8Array>, size: number): Promise<ContentRef>;
}

export type FsEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/** One path of the flattened tree, as walk() yields it. */
export interface FsEntry {
  /** Root-relative, no leading '/' or './', no trailing '/'. */
  readonly path: string;
  readonly type: FsEntryType;
  /** Permission bits (mode & 0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Whole seconds since the epoch, floored and clamped to [0, 0xffffffff]. */
  readonly mtime: number;
  /** Data length of a regular file (0 for other types, hard links included). */
  readonly size: number;
  /** Regular files (also set on hard links, pointing at the shared data). */
  readonly content?: ContentRef;
  /**
   * Symlink: the target as stored. Hard link: the path of the entry emitted earlier in walk order that shares this
   * inode.
   */
  readonly linkName?: string;
  /**
   * A symlink with hard links (its first path, and the hard links to it): how many paths of the
   * tree share the inode. Absent for every other entry.
   */
  readonly links?: number;
  /** A hard link to a symlink: the symlink's target (the link itself is a second path of that symlink). */
  readonly symlinkTarget?: string;
  readonly rdevMajor: number;
  readonly rdevMinor: number;
}

/** What applyLayer saw in one layer. */
export interface LayerStats {
  /** Tar entries read (whiteouts and root entries included). */
  entries: number;
  /** Regular files stored. */
  files: number;
  /** File data bytes stored. */
  bytes: number;
  /** `.wh.<name>` whiteouts applied. */
  whiteouts: number;
  /** `.wh..wh..opq` opaque markers applied. */
  opaque: number;
}

export type FlattenErrorCode =
  /** The tree would hold more entries than the configured cap. */
  | 'too-many-entries'
  /** A hard link whose target path does not exist in the tree at that point. */
  | 'hardlink-missing-target'
  /** A hard link whose target is a directory. */
  | 'hardlink-to-directory'
  /** A name that is absolute, empty, has NUL or a ".." leaving the root. */
  | 'unsafe-path'
  /** A symlink or hard link pointing outside the root. */
  | 'link-escape'
  /** An entry whose path goes through a symlink created earlier in the same layer. */
  | 'through-symlink'
  /** A layer that is not a readable tar stream (truncated, bad header, unsupported entry type, ...). */
  | 'bad-tar'
  /** applyLayer called while another layer is being applied. */
  | 'busy';

/** A layer that cannot be applied; the message names the layer, the path and the rule broken. */
export class FlattenError extends Error {
  constructor(
    readonly code: FlattenErrorCode,
    /** Index of the layer being applied. */
    readonly layer: number,
    message: string,
    readonly path?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FlattenError';
  }
}

/** Default entry cap of an ImageTree. */
export const DEFAULT_MAX_ENTRIES = 2_000_000;

const WH_PREFIX = '.wh.';
const WH_META_PREFIX = '.wh..wh.';
const WH_OPAQUE = '.wh..wh..opq';
const MAX_MTIME = 0xffff_ffff;

/** The metadata of an inode; shared by the paths of a hard-linked file, never mutated once built. */
interface Inode extends Omit<FsEntry, 'path' | 'type' | 'links' | 'symlinkTarget'> {
  readonly type: Exclude<FsEntryType, 'hardlink'>;
  /** Set once a second path links to this inode (walk() then tracks its first path). */
  shared?: boolean;
}

interface Node {
  inode: Inode;
  /** Children of a directory (undefined for other types, and for empty directories until used). */
  children?: Map<string, Node>;
  /** The layer that created this node or last gave it new metadata. */
  layer: number;
  /** The layer in which this directory's lower-layer content was last pruned (opaque / whiteout). */
  prunedIn: number;
}

/** Floors, clamps to [0, 0xffffffff]; NaN becomes 0. */
export function normaliseMtime(mtime: number): number {
  if (!(mtime > 0)) return 0;
  if (mtime >= MAX_MTIME) return MAX_MTIME;
  return Math.floor(mtime);
}

/**
 * Orders strings by their UTF-8 bytes (= code point order). UTF-16 code unit order differs only
 * where a surrogate (U+D800..U+DFFF, i.e. a code point above U+FFFF) meets U+E000..U+FFFF.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

const show = (p: string) => JSON.stringify(p.length > 200 ? `${p.slice(0, 200)}…` : p);

/** The flattened filesystem of an image, built layer by layer. */
export class ImageTree {
  private readonly root: Node;
  private readonly maxEntries: number;
  private count = 0;
  private busy = false;

  constructor(options: { maxEntries?: number } = {}) {
    const max = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (!Number.isSafeInteger(max) || max < 0)
      throw new RangeError(`maxEntries must be a non-negative integer, not ${String(max)}`);
    this.maxEntries = max;
    this.root = { inode: dirInode(0o755, 0, 0, 0), layer: -1, prunedIn: -1 };
  }

  /** Paths in the tree (the root not counted). */
  get entryCount(): number {
    return this.count;
  }

  /**
   * Reads one layer tar and applies it. File data is stored in `store` as it is read. Errors:
   * FlattenError (naming the layer), CancelledError, or whatever the store or the input throws.
   * A failed layer may leave the tree partly updated: discard the tree.
   */
  async applyLayer(
    tar: AsyncIterable<Uint8Array>,
    layer: { index: number; name: string },
    store: ContentStore,
    options: { cancellation?: CancellationLike; onEntry?: (path: string) => void } = {},
  ): Promise<LayerStats> {
    const L = layer.index;
    const what = `layer ${L} (${layer.name})`;
    if (this.busy) throw new FlattenError('busy', L, `${what}: another layer is still being applied to this tree`);
    this.busy = true;
    const stats: LayerStats = { entries: 0, files: 0, bytes: 0, whiteouts: 0, opaque: 0 };
    const guard = new PathGuard();
    const cancellation = options.cancellation;
    let current: string | undefined;
    try {
      const reader = readTar(tar, cancellation ? { cancellation } : {});
      for await (const entry of reader) {
        throwIfCancelled(cancellation, 'layer flattening');
        stats.entries++;
        current = entry.name;
        const path = guard.admit(entry);
        current = path;
        options.onEntry?.(path);
        await this.applyEntry(entry, path, L, what, store, stats);
      }
      return stats;
    } catch (e) {
      if (e instanceof FlattenError || e instanceof CancelledError) throw e;
      if (e instanceof TarFormatError) {
        const code: FlattenErrorCode =
          e.code === 'unsafe-path' || e.code === 'link-escape' || e.code === 'through-symlink' ? e.code : 'bad-tar';
        const at = current === undefined ? '' : ` at ${show(current)}`;
        throw new FlattenError(code, L, `${what}${at}: ${e.message}`, current, { cause: e });
      }
      throw e;
    } finally {
      this.busy = false;
    }
  }

  /** Applies one admitted tar entry at `path`: root metadata, a whiteout, or a node placed in the tree. */
  private async applyEntry(
    entry: TarEntry,
    path: string,
    L: number,
    what: string,
    store: ContentStore,
    stats: LayerStats,
  ): Promise<void> {
    if (path === '') {
      // "./": only the root's metadata (the PathGuard admits only directories here).
      this.root.inode = dirInode(entry.mode, entry.uid, entry.gid, normaliseMtime(entry.mtime));
      return;
    }
    const slash = path.lastIndexOf('/');
    const base = path.slice(slash + 1);
    const parentPath = slash < 0 ? '' : path.slice(0, slash);
    const mtime = normaliseMtime(entry.mtime);

    // Any component of the path that is whiteout metadata (aufs `.wh..wh.plnk/...`): dropped.
    if (parentPath.includes(WH_META_PREFIX) && parentPath.split('/').some((c) => c.startsWith(WH_META_PREFIX))) return;

    if (base.startsWith(WH_PREFIX)) {
      this.applyWhiteout(base, parentPath, mtime, L, what, stats);
      return;
    }

    const inode = await this.inodeOf(entry, path, mtime, L, what, store, stats);
    if (inode === undefined) return; // a hard link to itself
    this.place(parentPath, base, path, inode, mtime, L, what);
  }

  /** A `.wh.` entry: an opaque marker or a whiteout of one name (other whiteout metadata is dropped). */
  private applyWhiteout(
    base: string,
    parentPath: string,
    mtime: number,
    L: number,
    what: string,
    stats: LayerStats,
  ): void {
    if (base === WH_OPAQUE) {
      const dir = this.ensureDir(parentPath, mtime, L, what);
      stats.opaque++;
      this.prune(dir, L);
    } else if (!base.startsWith(WH_META_PREFIX) && base.length > WH_PREFIX.length) {
      const dir = this.ensureDir(parentPath, mtime, L, what);
      stats.whiteouts++;
      this.whiteout(dir, base.slice(WH_PREFIX.length), L);
    }
  }

  /** The inode an entry brings (a file's data stored first); undefined for a hard link to itself. */
  private async inodeOf(
    entry: TarEntry,
    path: string,
    mtime: number,
    L: number,
    what: string,
    store: ContentStore,
    stats: LayerStats,
  ): Promise<Inode | undefined> {
    switch (entry.type) {
      case 'file': {
        const content = entry.size === 0 ? { offset: 0, size: 0 } : await store.put(entry.data(), entry.size);
        stats.files++;
        stats.bytes += entry.size;
        return entryInode(entry, 'file', mtime, { size: entry.size, content });
      }
      case 'hardlink':
        return this.hardLinked(entry, path, L, what);
      case 'symlink':
        return entryInode(entry, 'symlink', mtime, { linkName: entry.linkName });
      case 'directory':
        return dirInode(entry.mode, entry.uid, entry.gid, mtime);
      case 'char':
      case 'block':
        return entryInode(entry, entry.type, mtime, { rdevMajor: entry.devMajor, rdevMinor: entry.devMinor });
      case 'fifo':
        return entryInode(entry, 'fifo', mtime);
    }
  }

  /** The inode a hard link shares with its target, now marked shared; undefined for a link to itself. */
  private hardLinked(entry: TarEntry, path: string, L: number, what: string): Inode | undefined {
    const target = confinePath(entry.linkName, entry.headerOffset);
    const node = this.lookup(target);
    if (node === undefined) {
      throw new FlattenError(
        'hardlink-missing-target',
        L,
        `${what}: the hard link ${show(path)} points to ${show(target)}, ` +
          'which does not exist in the image at this point (a hard link must follow its target)',
        path,
      );
    }
    if (node.inode.type === 'directory') {
      throw new FlattenError(
        'hardlink-to-directory',
        L,
        `${what}: the hard link ${show(path)} points to the directory ${show(target)}; ` +
          `directories cannot be hard-linked`,
        path,
      );
    }
    const inode = node.inode;
    if (node === this.lookup(path)) return undefined;
    inode.shared = true;
    return inode;
  }

  /** Puts `inode` at `path`: a directory over a directory takes the new metadata, anything else replaces the node. */
  private place(
    parentPath: string,
    base: string,
    path: string,
    inode: Inode,
    mtime: number,
    L: number,
    what: string,
  ): void {
    const parent = this.ensureDir(parentPath, mtime, L, what);
    const children = (parent.children ??= new Map<string, Node>());
    const existing = children.get(base);
    if (existing !== undefined) {
      if (existing.inode.type === 'directory' && inode.type === 'directory') {
        existing.inode = inode;
        existing.layer = L;
        return;
      }
      this.count -= subtreeSize(existing);
      children.delete(base);
    }
    this.reserve(L, what, path);
    children.set(base, { inode, layer: L, prunedIn: -1 });
  }

  /** The node at `path`, without following symlinks (undefined if absent or under a non-directory). */
  private lookup(path: string): Node | undefined {
    if (path === '') return this.root;
    let node: Node | undefined = this.root;
    for (const part of path.split('/')) {
      node = node.children?.get(part);
      if (node === undefined) return undefined;
    }
    return node;
  }

  /**
   * The directory at `path`, created (0755, root, `mtime`) where missing; a non-directory on the way
   * is replaced by a directory, as overlayfs shows the upper layer's directory.
   */
  private ensureDir(path: string, mtime: number, L: number, what: string): Node {
    let node = this.root;
    if (path === '') return node;
    let at = 0;
    for (;;) {
      const end = path.indexOf('/', at);
      const part = end < 0 ? path.slice(at) : path.slice(at, end);
      const children = (node.children ??= new Map<string, Node>());
      let child = children.get(part);
      if (child === undefined || child.inode.type !== 'directory') {
        const prefix = end < 0 ? path : path.slice(0, end);
        if (child !== undefined) {
          this.count -= subtreeSize(child);
          children.delete(part);
        }
        this.reserve(L, what, prefix);
        child = { inode: dirInode(0o755, 0, 0, mtime), layer: L, prunedIn: -1 };
        children.set(part, child);
      }
      node = child;
      if (end < 0) return node;
      at = end + 1;
    }
  }

  private reserve(L: number, what: string, path: string): void {
    if (this.count >= this.maxEntries) {
      throw new FlattenError(
        'too-many-entries',
        L,
        `${what}: the image has more than ${this.maxEntries} files and directories (at ${show(path)}); ` +
          `this is the limit of the flattener`,
        path,
      );
    }
    this.count++;
  }

  /** `.wh.<name>` in `dir`: removes what the lower layers left at `name`; this layer's entries stay. */
  private whiteout(dir: Node, name: string, L: number): void {
    const node = dir.children?.get(name);
    if (node === undefined) return;
    if (node.layer === L) {
      // Created or re-stated in this layer: only lower content below it goes.
      this.prune(node, L);
      return;
    }
    if (this.prune(node, L)) return; // a lower directory that holds entries of this layer
    this.count -= subtreeSize(node);
    dir.children?.delete(name);
  }

  /**
   * Removes every descendant of `dir` that comes from a layer below `L`, keeping the entries of
   * layer L and the directories leading to them. Returns whether anything of layer L remains below.
   */
  private prune(dir: Node, L: number): boolean {
    const children = dir.children;
    if (children === undefined || children.size === 0) return false;
    if (dir.prunedIn === L) return true; // already pruned in this layer: all that remains is from L
    dir.prunedIn = L;
    let kept = false;
    for (const [name, child] of children) {
      if (child.layer === L) {
        kept = true;
        if (child.inode.type === 'directory') this.prune(child, L);
      } else if (child.inode.type === 'directory' && this.prune(child, L)) {
        kept = true;
      } else {
        this.count -= subtreeSize(child);
        children.delete(name);
      }
    }
    return kept;
  }

  /**
   * How many paths each hard-linked symlink has in the tree now (links may have been replaced or deleted since);
   * iterative.
   */
  private sharedSymlinkPaths(): Map<Inode, number> {
    const counts = new Map<Inode, number>();
    const pending: Node[] = [this.root];
    while (pending.length > 0) {
      const x = pending.pop() as Node;
      if (x !== this.root && x.inode.shared && x.inode.type === 'symlink')
        counts.set(x.inode, (counts.get(x.inode) ?? 0) + 1);
      if (x.children !== undefined) for (const c of x.children.values()) pending.push(c);
    }
    for (const [inode, n] of counts) if (n < 2) counts.delete(inode);
    return counts;
  }

  /**
   * The tree depth-first, pre-order, siblings in UTF-8 byte order; the root is not included. The
   * second and later paths of a hard-linked inode come as 'hardlink' entries naming the first.
   */
  *walk(): Iterable<FsEntry> {
    const firstPath = new Map<Inode, string>();
    const symlinkPaths = this.sharedSymlinkPaths();
    // Stack of pending siblings: each frame is a directory path and its sorted child names.
    const stack: { prefix: string; names: string[]; nodes: Map<string, Node>; next: number }[] = [];
    const push = (prefix: string, node: Node) => {
      if (node.children === undefined || node.children.size === 0) return;
      const names = [...node.children.keys()].sort(compareUtf8);
      stack.push({ prefix, names, nodes: node.children, next: 0 });
    };
    push('', this.root);
    while (stack.length > 0) {
      const frame = stack[stack.length - 1] as (typeof stack)[number];
      if (frame.next >= frame.names.length) {
        stack.pop();
        continue;
      }
      const name = frame.names[frame.next++] as string;
      const node = frame.nodes.get(name) as Node;
      const path = frame.prefix === '' ? name : `${frame.prefix}/${name}`;
      const inode = node.inode;
      if (inode.shared) {
        const first = firstPath.get(inode);
        if (first !== undefined) {
          yield {
            path,
            type: 'hardlink',
            mode: inode.mode,
            uid: inode.uid,
            gid: inode.gid,
            mtime: inode.mtime,
            size: 0,
            ...(inode.content ? { content: inode.content } : {}),
            linkName: first,
            ...(inode.type === 'symlink'
              ? { links: symlinkPaths.get(inode) ?? 2, symlinkTarget: inode.linkName ?? '' }
              : {}),
            rdevMajor: inode.rdevMajor,
            rdevMinor: inode.rdevMinor,
          };
          continue;
        }
        firstPath.set(inode, path);
      }
      const out: FsEntry = {
        path,
        type: inode.type,
        mode: inode.mode,
        uid: inode.uid,
        gid: inode.gid,
        mtime: inode.mtime,
        size: inode.size,
        ...(inode.content ? { content: inode.content } : {}),
        ...(inode.linkName !== undefined ? { linkName: inode.linkName } : {}),
        ...(symlinkPaths.has(inode) ? { links: symlinkPaths.get(inode) } : {}),
        rdevMajor: inode.rdevMajor,
        rdevMinor: inode.rdevMinor,
      };
      yield out;
      if (inode.type === 'directory') push(path, node);
    }
  }
}

function dirInode(mode: number, uid: number, gid: number, mtime: number): Inode {
  return { type: 'directory', mode, uid, gid, mtime, size: 0, rdevMajor: 0, rdevMinor: 0 };
}

/** An inode of `type` with the entry's mode and owner: no data and no device numbers unless `fields` give them. */
function entryInode(
  entry: TarEntry,
  type: Inode['type'],
  mtime: number,
  fields: Partial<Pick<Inode, 'size' | 'content' | 'linkName' | 'rdevMajor' | 'rdevMinor'>> = {},
): Inode {
  return {
    type,
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    mtime,
    size: 0,
    rdevMajor: 0,
    rdevMinor: 0,
    ...fields,
  };
}

/** Number of nodes in the subtree rooted at `node` (itself included); iterative. */
function subtreeSize(node: Node): number {
  let n = 0;
  const pending: Node[] = [node];
  while (pending.length > 0) {
    const x = pending.pop() as Node;
    n++;
    if (x.children !== undefined) for (const c of x.children.values()) pending.push(c);
  }
  return n;
}
