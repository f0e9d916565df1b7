// `build-enclave` without Docker: an OCI image (layout directory, OCI or `docker save` archive, or
// a Docker image exported with `docker save`) becomes an .eif with nitro-cli's sections:
// kernel, cmdline, metadata, the bootstrap ramdisk (dev, init, nsm.ko) and the customer ramdisk
// (the flattened image under rootfs/, cmd and env), then an optional signature.
//
// Everything is streamed through the build's own temporary directory: the layers' file data goes
// to an append-only spool file, the customer ramdisk to a cpio file, and the image is written
// atomically (nothing at the output path until it is complete). The temporary directory is
// removed on success, failure and cancellation alike; it records its owner (PID, start time,
// host), so that the next build removes the folder of a build that was killed before it could.
import { createHash, type Hash } from 'node:crypto';
import { lstat, mkdtemp, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  buildMetadata,
  buildTimeOf,
  formatBuildTime,
  imageReferenceOf,
  kernelConfigInfo,
  parseBuildTime,
  sortKeysDeep,
  type BuildTime,
} from '../imagebuild/buildInfo';
import { VERSION } from '../version';
import { SectionType, type EifArch } from '../eif/defs';
import type { MeasurementsJson } from '../eif/describe';
import { encodeMetadata, type EifMetadata } from '../eif/metadata';
import { ImageTree, type FsEntry } from '../oci/flatten';
import type { ResolvedImage } from '../oci/model';
import { CancelledError, throwIfCancelled, type CancellationLike } from '../platform/lifecycle';
import { bootstrapRamdisk } from '../ramdisk/cpio';
import { commandAndEnv, writeCustomerRamdisk } from '../ramdisk/customer';
import { utf8 } from '../util/bytes';
import { locateBlobs, type BlobFiles } from './blobs';
import { signatureSectionFor, writeEif, type SectionInput, type SigningInput } from './eifWriter';
import { FileByteSource } from './fileByteSource';
import { openImage, type ImageSpec } from './oci';
import { readRootfs } from './rootfs';
import { SpoolStore } from './spoolStore';
import type { BuildProgress } from './buildProgress';

export type { ImageSpec };

/**
 * `--rootfs DIR --cmd ... --env K=V`: a plain folder as the root file system, with the command and
 * environment given (not a nitro-cli interface; see rootfs.ts for the rules).
 */
export interface RootfsSpec {
  readonly kind: 'rootfs';
  readonly path: string;
  /** The command and its arguments (the `cmd` file, one per line); at least the command. */
  readonly cmd: readonly string[];
  /** `KEY=VALUE` lines (the `env` file). */
  readonly env: readonly string[];
}

/** Where a build's root file system comes from: an OCI image, or a folder. */
export type BuildSource = ImageSpec | RootfsSpec;

export { buildProgressText, type BuildProgress, type BuildStage } from './buildProgress';

export interface BuildOptions {
  readonly source: BuildSource;
  readonly output: string;
  /**
   * Which architecture to build; default: the image's (or, for a multi-platform index or a rootfs folder, the
   * host's).
   */
  readonly arch?: EifArch;
  /** `--blobs DIR`. */
  readonly blobs?: string;
  /** The environment NITRO_CLI_BLOBS and SOURCE_DATE_EPOCH are read from (default: none). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly name?: string;
  readonly version?: string;
  /** Parsed `--metadata` JSON (CustomMetadata). */
  readonly customMetadata?: unknown;
  /** `--build-time`; else SOURCE_DATE_EPOCH from `env`; else `now`. */
  readonly buildTime?: BuildTime;
  /** The clock for the default build time (default: new Date()). */
  readonly now?: () => Date;
  readonly signing?: SigningInput;
  /** Parent of the build's temporary directory (default: the system's). */
  readonly tempRoot?: string;
  readonly dockerCommand?: string;
  readonly cancellation?: CancellationLike;
  readonly onProgress?: (p: BuildProgress) => void;
  readonly log?: (line: string) => void;
}

export interface BuildResult {
  readonly output: string;
  readonly measurements: MeasurementsJson;
  readonly size: number;
  readonly arch: EifArch;
  readonly image: {
    readonly description: string;
    readonly manifestDigest: string;
    readonly configDigest: string;
    readonly platform: string;
    readonly platformNote?: string;
  };
  readonly blobs: BlobFiles;
  readonly metadata: EifMetadata;
  readonly stats: {
    readonly layers: number;
    readonly entries: number;
    readonly layerBytes: number;
    readonly ramdiskBytes: number;
  };
}

/** A build input that cannot be used (as opposed to a broken image or an I/O failure). */
export class BuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BuildError';
  }
}

const ARCH_OF: Record<string, EifArch> = { amd64: 'x86_64', arm64: 'aarch64' };

function hostArch(): EifArch | undefined {
  return process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : undefined;
}

/** Writes to a file through a 1 MiB buffer (the cpio writer hands out many small chunks). */
class BufferedFile {
  private readonly buffer = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  private position = 0;
  private constructor(private readonly handle: import('node:fs/promises').FileHandle) {}

  static async create(file: string): Promise<BufferedFile> {
    return new BufferedFile(await open(file, 'wx', 0o600));
  }

  readonly write = async (chunk: Uint8Array): Promise<void> => {
    if (this.used + chunk.length > this.buffer.length) await this.flush();
    if (chunk.length >= this.buffer.length) {
      await this.writeAll(chunk);
      return;
    }
    this.buffer.set(chunk, this.used);
    this.used += chunk.length;
  };

  private async writeAll(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, this.position);
      done += bytesWritten;
      this.position += bytesWritten;
    }
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    await this.writeAll(this.buffer.subarray(0, this.used));
    this.used = 0;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.handle.close();
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

const withReference = (reference: string | undefined) => (reference !== undefined ? { reference } : {});

/** The build time: the option, else SOURCE_DATE_EPOCH, else now. */
function chooseBuildTime(options: BuildOptions): BuildTime {
  if (options.buildTime) return options.buildTime;
  const epoch = options.env?.['SOURCE_DATE_EPOCH'];
  if (epoch !== undefined && epoch !== '') return parseBuildTime(epoch, 'SOURCE_DATE_EPOCH');
  return buildTimeOf((options.now ?? (() => new Date()))());
}

// ---------------------------------------------------------------------------------------------
// The build's temporary folder, and the folders of builds that died without removing theirs.

/** Temporary build folders are `nitro-build-XXXXXX` in the temp root. */
export const BUILD_FOLDER_PREFIX = 'nitro-build-';
/** The record in every build folder of the process that owns it. */
export const BUILD_OWNER_FILE = 'owner.json';

interface BuildOwner {
  readonly pid: number;
  /** Linux: /proc/<pid>/stat field 22 (start time in clock ticks since boot), which tells a reused PID apart. */
  readonly start?: string;
  readonly host: string;
}

/** The start time of process `pid` (Linux: /proc/<pid>/stat field 22), or undefined where it cannot be read. */
export async function processStartTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces or ')': fields 3.. follow the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = fields[22 - 3];
    return start && /^\d+$/.test(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the process an owner record names still runs (the same process, not a later one with its PID). */
async function ownerAlive(owner: BuildOwner): Promise<boolean> {
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: a process with that PID runs as someone else; only its start time can tell it is not the owner.
  }
  if (owner.start === undefined) return true;
  const now = await processStartTime(owner.pid);
  return now === undefined || now === owner.start;
}

function parseOwner(text: string): BuildOwner | undefined {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (!Number.isSafeInteger(v['pid']) || (v['pid'] as number) <= 0 || typeof v['host'] !== 'string') return undefined;
    if (v['start'] !== undefined && (typeof v['start'] !== 'string' || !/^\d+$/.test(v['start']))) return undefined;
    return {
      pid: v['pid'] as number,
      host: v['host'],
      ...(v['start'] !== undefined ? { start: v['start'] } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * Removes the build folders in `root` left by builds that died without cleaning up (SIGKILL, a
 * crash, a power cut): real directories (never symlinks), owned by this user, whose owner record
 * names a process on this host that no longer runs. A folder without a readable record, owned by
 * someone else, or whose process still runs is left alone. Returns the folders removed.
 */
export async function removeStaleBuildFolders(root: string): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = (await readdir(root)).filter((n) => n.startsWith(BUILD_FOLDER_PREFIX));
  } catch {
    return removed;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const dir = path.join(root, name);
    try {
      const st = await lstat(dir);
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      const record = path.join(dir, BUILD_OWNER_FILE);
      const rst = await lstat(record);
      if (!rst.isFile() || rst.size > 4096) continue;
      const owner = parseOwner(await readFile(record, 'utf8'));
      if (!owner || owner.host !== os.hostname() || (await ownerAlive(owner))) continue;
      // fs.rm removes symbolic links inside the folder, never what they point to.
      await rm(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // Gone meanwhile, or unreadable: not ours to judge.
    }
  }
  return removed;
}

/** Creates the build's temporary folder with its owner record (this process, its start time, this host). */
async function createBuildFolder(root: string): Promise<string> {
  const dir = await mkdtemp(path.join(root, BUILD_FOLDER_PREFIX));
  try {
    const start = await processStartTime(process.pid);
    const owner: BuildOwner = { pid: process.pid, ...(start !== undefined ? { start } : {}), host: os.hostname() };
    await writeFile(path.join(dir, BUILD_OWNER_FILE), JSON.stringify(owner), { flag: 'wx', mode: 0o600 });
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return dir;
}

/** What every step of a build reports to. */
interface BuildSteps {
  readonly token: CancellationLike | undefined;
  readonly log: (line: string) => void;
  readonly progress: (p: BuildProgress) => void;
}

const cancellable = (token: CancellationLike | undefined) => (token ? { cancellation: token } : {});

/** Opens the image source (in `temp`, for `docker save`) and checks that it is for an architecture enclaves run. */
async function openSourceImage(
  options: BuildOptions & { source: ImageSpec },
  temp: string,
  steps: BuildSteps,
): Promise<{ img: ResolvedImage; arch: EifArch; platform: string }> {
  steps.progress({ stage: 'resolving', done: 0 });
  const img: ResolvedImage = await openImage(options.source, {
    ...(options.arch ? { arch: options.arch } : {}),
    ...(hostArch() ? { defaultArch: hostArch() } : {}),
    tempDir: temp,
    ...cancellable(steps.token),
    ...(options.dockerCommand ? { dockerCommand: options.dockerCommand } : {}),
    log: steps.log,
  });
  try {
    const platform = [img.platform.os, img.platform.architecture, img.platform.variant].filter(Boolean).join('/');
    steps.log(`Image: ${img.description}, ${platform}, manifest ${img.manifestDigest}, config ${img.configDigest}`);
    if (img.platformNote) steps.log(img.platformNote);
    const arch = ARCH_OF[img.config.architecture];
    if (!arch) {
      throw new BuildError(
        `the image is built for "${img.config.architecture}"; ` +
          'enclaves run amd64 (x86_64) or arm64 (aarch64) images only',
      );
    }
    if (options.arch && options.arch !== arch) {
      throw new BuildError(
        `--arch ${options.arch} was asked for, but the image is ${img.config.architecture} (${arch})`,
      );
    }
    return { img, arch, platform };
  } catch (e) {
    await img.close().catch(() => undefined);
    throw e;
  }
}

/** Finds the kernel, cmdline, init and nsm.ko for `arch`, and reads the cmdline and kernel config. */
async function readBlobs(
  arch: EifArch,
  options: BuildOptions,
  steps: BuildSteps,
): Promise<{ blobs: BlobFiles; cmdline: string; kernelConfig: string | undefined }> {
  const blobs = await locateBlobs(arch, options.blobs, options.env ?? {});
  steps.log(
    `Blobs: ${blobs.dir} ` +
      `(${blobs.origin === 'flag' ? '--blobs' : blobs.origin === 'env' ? 'NITRO_CLI_BLOBS' : 'default location'})`,
  );
  const [cmdline, kernelConfig] = await Promise.all([
    readFile(blobs.cmdline, 'utf8'),
    blobs.kernelConfig ? readFile(blobs.kernelConfig, 'utf8') : Promise.resolve(undefined),
  ]);
  return { blobs, cmdline, kernelConfig };
}

/** Applies the layers in order to one tree, their file data going to the spool. */
async function flattenLayers(
  img: ResolvedImage,
  spool: SpoolStore,
  steps: BuildSteps,
): Promise<{ tree: ImageTree; layerBytes: number }> {
  const { token, progress } = steps;
  const tree = new ImageTree();
  const layerBytes = img.layers.reduce((n, l) => n + l.size, 0);
  let layerDone = 0;
  for (const layer of img.layers) {
    throwIfCancelled(token, 'the build');
    const detail = `layer ${layer.index + 1} of ${img.layers.length}`;
    progress({ stage: 'layers', done: layerDone, total: layerBytes, detail });
    const stream = layer.open({
      ...cancellable(token),
      onRead: (n) => {
        layerDone += n;
        progress({ stage: 'layers', done: layerDone, total: layerBytes, detail });
      },
    });
    await tree.applyLayer(stream, { index: layer.index, name: layer.digest }, spool, cancellable(token));
  }
  steps.log(`Flattened ${img.layers.length} layer(s) into ${tree.entryCount} entries`);
  return { tree, layerBytes };
}

/** Writes the customer ramdisk (rootfs/, cmd, env) to `file`; returns its size. */
async function writeCustomerFile(
  file: string,
  entries: Iterable<FsEntry>,
  spool: SpoolStore,
  cmdEnv: ReturnType<typeof commandAndEnv>,
  steps: BuildSteps,
  hash?: Hash,
): Promise<number> {
  const out = await BufferedFile.create(file);
  const sink = hash
    ? (chunk: Uint8Array) => {
        hash.update(chunk);
        return out.write(chunk);
      }
    : out.write;
  try {
    const bytes = await writeCustomerRamdisk(entries, await spool.source(), cmdEnv, sink, {
      ...cancellable(steps.token),
      onBytes: (n) => steps.progress({ stage: 'ramdisk', done: n }),
    });
    await out.close();
    return bytes;
  } catch (e) {
    await out.abort();
    throw e;
  }
}

/** The bootstrap ramdisk (dev, init, nsm.ko) is small: built in memory. */
async function bootstrapBytes(
  init: FileByteSource,
  nsm: FileByteSource,
  token: CancellationLike | undefined,
): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  await bootstrapRamdisk(init, nsm, (c) => void chunks.push(c.slice()), cancellable(token));
  return Buffer.concat(chunks);
}

/** The image's metadata section: names, versions and build time from the options and the image. */
function metadataOf(
  options: BuildOptions & { source: ImageSpec },
  img: ResolvedImage,
  buildTime: BuildTime,
  kernelConfig: string | undefined,
): EifMetadata {
  return buildMetadata({
    image: img,
    ...withReference(imageReferenceOf(img, options.source.kind === 'docker' ? options.source.uri : undefined)),
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.version !== undefined ? { version: options.version } : {}),
    fallbackName: path
      .basename('path' in options.source ? options.source.path : options.source.uri)
      .replace(/\.(tar|oci)$/, ''),
    buildTime,
    ...(kernelConfig !== undefined ? { kernelConfig } : {}),
    customMetadata: options.customMetadata ?? null,
  });
}

/**
 * The metadata of a rootfs build: ImageName `--name` or the folder's name, ImageVersion `--version` or the
 * SHA-256 of the customer ramdisk (what the folder, the command and the environment made), and DockerInfo
 * with what there is: the architecture and the command and environment as Config.Cmd and Config.Env.
 */
function rootfsMetadataOf(
  options: BuildOptions,
  spec: RootfsSpec,
  arch: EifArch,
  ramdiskSha256: string,
  buildTime: BuildTime,
  kernelConfig: string | undefined,
): EifMetadata {
  return {
    ImageName: options.name ?? path.basename(path.resolve(spec.path)),
    ImageVersion: options.version ?? ramdiskSha256,
    BuildMetadata: {
      BuildTime: formatBuildTime(buildTime),
      BuildTool: 'nitro-dev',
      BuildToolVersion: VERSION,
      ...kernelConfigInfo(kernelConfig),
    },
    DockerInfo: sortKeysDeep({
      Architecture: arch === 'x86_64' ? 'amd64' : 'arm64',
      Config: { Cmd: [...spec.cmd], Env: [...spec.env] },
      Os: 'linux',
    }),
    CustomMetadata: options.customMetadata ?? null,
  };
}

/** Removes the folders of builds that were stopped (saying so), then creates this build's folder. */
async function startBuildFolder(options: BuildOptions, steps: BuildSteps): Promise<string> {
  const tempRoot = options.tempRoot ?? os.tmpdir();
  for (const dir of await removeStaleBuildFolders(tempRoot))
    steps.log(`Removed ${dir}, left by a build that was stopped before it could clean up`);
  return createBuildFolder(tempRoot);
}

/** The EIF's sections in nitro-cli's order: kernel, command line, metadata, bootstrap and customer ramdisks. */
function eifSections(
  kernel: FileByteSource,
  cmdline: string,
  metadata: EifMetadata,
  bootstrap: Buffer,
  customer: FileByteSource,
): SectionInput[] {
  return [
    { type: SectionType.Kernel, data: { source: kernel, offset: 0, size: kernel.size } },
    { type: SectionType.Cmdline, data: utf8(cmdline.trim()) },
    { type: SectionType.Metadata, data: encodeMetadata(metadata) },
    { type: SectionType.Ramdisk, data: bootstrap },
    { type: SectionType.Ramdisk, data: { source: customer, offset: 0, size: customer.size } },
  ];
}

/** What the result says about the source image. */
function imageFacts(img: ResolvedImage, platform: string): BuildResult['image'] {
  return {
    description: img.description,
    manifestDigest: img.manifestDigest,
    configDigest: img.configDigest,
    platform,
    ...(img.platformNote ? { platformNote: img.platformNote } : {}),
  };
}

/** The blobs, ramdisks and metadata of a build, ready to be written. */
interface PreparedBuild {
  readonly arch: EifArch;
  readonly blobs: BlobFiles;
  readonly cmdline: string;
  readonly customerPath: string;
  readonly metadata: EifMetadata;
  readonly image: BuildResult['image'];
  readonly stats: BuildResult['stats'];
}

/** The OCI path: the image's layers flattened into the customer ramdisk. */
async function prepareFromImage(
  options: BuildOptions & { source: ImageSpec },
  temp: string,
  buildTime: BuildTime,
  steps: BuildSteps,
  keep: { image?: ResolvedImage; spool?: SpoolStore },
): Promise<PreparedBuild> {
  const { img, arch, platform } = await openSourceImage(options, temp, steps);
  keep.image = img;
  const cmdEnv = commandAndEnv(img.config);
  const { blobs, cmdline, kernelConfig } = await readBlobs(arch, options, steps);

  // Layers → one tree, file data in the spool; then the customer ramdisk, into the temporary directory.
  const spool = await SpoolStore.create(temp);
  keep.spool = spool;
  const { tree, layerBytes } = await flattenLayers(img, spool, steps);
  const customerPath = path.join(temp, 'customer-initrd.img');
  const ramdiskBytes = await writeCustomerFile(customerPath, tree.walk(), spool, cmdEnv, steps);
  return {
    arch,
    blobs,
    cmdline,
    customerPath,
    metadata: metadataOf(options, img, buildTime, kernelConfig),
    image: imageFacts(img, platform),
    stats: { layers: img.layers.length, entries: tree.entryCount, layerBytes, ramdiskBytes },
  };
}

/** The rootfs path: a folder read into the customer ramdisk with the command and environment given. */
async function prepareFromFolder(
  options: BuildOptions & { source: RootfsSpec },
  temp: string,
  buildTime: BuildTime,
  steps: BuildSteps,
  keep: { spool?: SpoolStore },
): Promise<PreparedBuild> {
  const spec = options.source;
  const arch = options.arch ?? hostArch();
  if (!arch) throw new BuildError(`this machine is ${process.arch}: say which architecture to build with --arch`);
  if (spec.cmd.length === 0 || spec.cmd[0] === '')
    throw new BuildError('the command to run is empty: give the program the enclave runs (--cmd)');
  const cmdEnv = commandAndEnv({ cmd: spec.cmd, entrypoint: null, env: spec.env });
  const { blobs, cmdline, kernelConfig } = await readBlobs(arch, options, steps);
  steps.log(`Root file system: the folder ${path.resolve(spec.path)} (owner 0:0, fixed times, its own modes)`);

  const spool = await SpoolStore.create(temp);
  keep.spool = spool;
  steps.progress({ stage: 'folder', done: 0 });
  const tree = await readRootfs(spec.path, spool, {
    ...cancellable(steps.token),
    onBytes: (n) => steps.progress({ stage: 'folder', done: n }),
  });
  steps.log(`Read ${tree.entries.length} entries (${tree.fileBytes} bytes of file data) from the folder`);
  const customerPath = path.join(temp, 'customer-initrd.img');
  const hash = createHash('sha256');
  const ramdiskBytes = await writeCustomerFile(customerPath, tree.entries, spool, cmdEnv, steps, hash);
  const digest = hash.digest('hex');
  return {
    arch,
    blobs,
    cmdline,
    customerPath,
    metadata: rootfsMetadataOf(options, spec, arch, digest, buildTime, kernelConfig),
    image: {
      description: `the folder ${path.resolve(spec.path)}`,
      manifestDigest: '',
      configDigest: `sha256:${digest}`,
      platform: `linux/${arch === 'x86_64' ? 'amd64' : 'arm64'}`,
    },
    stats: { layers: 0, entries: tree.entries.length, layerBytes: tree.fileBytes, ramdiskBytes },
  };
}

/** Builds an enclave image from an OCI image or a folder; see the file comment. */
export async function buildEnclave(options: BuildOptions): Promise<BuildResult> {
  const token = options.cancellation;
  const steps: BuildSteps = {
    token,
    log: options.log ?? (() => undefined),
    progress: options.onProgress ?? (() => undefined),
  };
  const buildTime = chooseBuildTime(options);

  // Fail closed before any work: a key that does not belong to the certificate is refused now.
  if (options.signing) signatureSectionFor(new Uint8Array(48), options.signing);

  const temp = await startBuildFolder(options, steps);
  const keep: { image?: ResolvedImage; spool?: SpoolStore } = {};
  const sources: FileByteSource[] = [];
  try {
    const source = options.source;
    const prepared =
      source.kind === 'rootfs'
        ? await prepareFromFolder({ ...options, source }, temp, buildTime, steps, keep)
        : await prepareFromImage({ ...options, source }, temp, buildTime, steps, keep);
    await keep.spool?.close();
    keep.spool = undefined;
    const { arch, blobs, cmdline, metadata } = prepared;

    const [init, nsm, kernel, customer] = await Promise.all([
      FileByteSource.open(blobs.init),
      FileByteSource.open(blobs.nsmKo),
      FileByteSource.open(blobs.kernel),
      FileByteSource.open(prepared.customerPath),
    ]);
    sources.push(init, nsm, kernel, customer);
    const bootstrap = await bootstrapBytes(init, nsm, token);
    const sections = eifSections(kernel, cmdline, metadata, bootstrap, customer);
    const written = await writeEif(options.output, {
      arch,
      sections,
      ...(options.signing ? { signing: options.signing } : {}),
      ...(token ? { token } : {}),
      onProgress: (done, total, stage) => steps.progress({ stage, done, total }),
    });
    return {
      output: options.output,
      measurements: written.measurements,
      size: written.size,
      arch,
      image: prepared.image,
      blobs,
      metadata,
      stats: prepared.stats,
    };
  } catch (e) {
    // Whatever a cancelled build ran into (a killed `docker save`, a closed stream), it was cancelled.
    if (token?.isCancellationRequested && !(e instanceof CancelledError)) throw new CancelledError('the build');
    throw e;
  } finally {
    await keep.spool?.close().catch(() => undefined);
    for (const s of sources) await s.close().catch(() => undefined);
    await keep.image?.close().catch(() => undefined);
    await rm(temp, { recursive: true, force: true });
  }
}
