// `nitro-dev qemu setup`: fills the cache folder (layout.ts) with what the QEMU backend needs, from
// Debian's packages, on a Debian machine:
//
//   apt        a private apt configuration per suite (trixie, sid) under <cache>/work/apt, using the
//              mirror the machine's own sources name; the machine's apt configuration is never touched
//   download   QEMU's source package, meson, python3-pycotap, qemu-system-data, seabios and
//              linux-source-6.12 from trixie; vhost-device-vsock from sid (into <cache>/work/dl)
//   vhost-device-vsock   the binary from its .deb
//   firmware   usr/share/qemu of qemu-system-data and seabios's *.bin (bios-microvm.bin)
//   qemu       QEMU built from Debian's orig tarball with libcbor and gnutls (the nitro-enclave machine),
//              with one edit to its virtio-nsm device (VIRTIO_NSM_EDIT)
//   kernel     a small kernel from linux-source-6.12 with kernel-min.config
//   guest      the caller's hook (`afterKernel`): the guest programs
//
// Idempotent: a step whose outputs exist, match the sha256 the manifest recorded, and whose recipe is
// unchanged is skipped (`force` redoes every step). Each step builds in <cache>/work and installs its
// outputs by renaming a finished temporary file into place, so an interrupted setup never leaves a
// half-written tool; the manifest is rewritten (atomically) after each step.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CancelledError, throwIfCancelled, type CancellationLike } from '../../platform/lifecycle';
import { commandLine, localToolRunner, type ToolCommand, type ToolOutcome, type ToolRunner } from './commandRunner';
import { findInPath, tempName, writeFileAtomically } from './files';
import { qemuCacheLayout, type QemuCacheLayout } from './layout';
import KERNEL_CONFIG from './kernel-min.config';

export { findInPath, writeFileAtomically };

/** Bumped when the recipe changes in a way that must redo every step. */
export const SETUP_VERSION = 1;

/** The configuration the kernel is built with (kernel-min.config, bundled as text). */
export const KERNEL_MIN_CONFIG: string = KERNEL_CONFIG;

/** The README section for machines this setup does not cover. */
export const OTHER_DISTRIBUTIONS_SECTION = 'QEMU backend: setup on other Linux distributions';

/** The one apt-get line that installs every build dependency. */
export const BUILD_DEPENDENCIES_LINE =
  'apt-get install flex bison bc libelf-dev libssl-dev ninja-build pkg-config libglib2.0-dev libcbor-dev ' +
  'libgnutls28-dev libfdt-dev libpixman-1-dev python3-venv zlib1g-dev cpio xz-utils build-essential';

/** The Debian mirror used when the machine's sources name none. */
export const FALLBACK_MIRROR = 'http://deb.debian.org/debian';

export const QEMU_CONFIGURE_FLAGS: readonly string[] = [
  '--target-list=x86_64-softmmu',
  '--without-default-features',
  '--enable-kvm',
  '--enable-tcg',
  '--enable-libcbor',
  '--enable-gnutls',
  '--enable-vhost-user',
  '--enable-fdt=system',
  '--disable-docs',
  '--disable-werror',
  '--disable-install-blobs',
];

/** What setup runs and how; everything but the cache folder, jobs and log has a default. */
export interface QemuSetupOptions {
  readonly cacheDir: string;
  /** Parallel jobs of ninja and make. */
  readonly jobs: number;
  /** Redo every step, even those whose outputs are current. */
  readonly force?: boolean;
  log(line: string): void;
  /** The step running (its id) and, when known, how far it is (0 to 1). */
  progress?(step: SetupStepId, fraction?: number): void;
  readonly cancellation?: CancellationLike;
  /**
   * Runs once the kernel is in place, on every setup (it must skip its own work when current): the
   * guest programs (`buildGuestPrograms(layout, log)` of the backend's guest module) are wired here
   * by the caller. A failure fails the setup.
   */
  readonly afterKernel?: (layout: QemuCacheLayout, log: (line: string) => void) => Promise<void>;
  /** Runs the programs (tests pass a fake one). */
  readonly runner?: ToolRunner;
  /** The facts of the machine setup reads (tests pass their own). */
  readonly host?: Partial<SetupHost>;
}

/** What setup reads of the machine. */
export interface SetupHost {
  readonly platform: NodeJS.Platform;
  readonly isRoot: boolean;
  /** The environment the programs run with (PATH is searched for the prerequisites). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The machine's deb822 sources and one-line sources list (missing files are fine). */
  readonly debianSourcesFile: string;
  readonly sourcesListFile: string;
  /** Where the C compiler finds headers (for the libraries without a pkg-config file). */
  readonly includeDirs: readonly string[];
}

export type SetupStepId = 'prerequisites' | 'apt' | 'download' | ProductStepId | 'guest';
type ProductStepId = 'vhost-device-vsock' | 'firmware' | 'qemu' | 'kernel';

/** What happened to one step in this run. */
export interface SetupStepReport {
  readonly id: SetupStepId;
  readonly title: string;
  readonly skipped: boolean;
  readonly durationMs: number;
}

export interface QemuSetupResult {
  readonly layout: QemuCacheLayout;
  readonly steps: readonly SetupStepReport[];
  readonly durationMs: number;
}

/** A setup that could not be done; the message says what to do. */
export class QemuSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QemuSetupError';
  }
}

/** A program setup ran that failed: its command line, where, its exit and its last lines. */
export class SetupCommandError extends QemuSetupError {
  constructor(
    readonly command: ToolCommand,
    readonly outcome: ToolOutcome,
    what: string,
  ) {
    const end = outcome.signal ? `was killed by ${outcome.signal}` : `failed with exit status ${outcome.status}`;
    const tail = outcome.tail.length > 0 ? `\nIts last ${outcome.tail.length} lines:\n${outcome.tail.join('\n')}` : '';
    super(`${what}: \`${commandLine(command.argv)}\`${command.cwd ? ` (in ${command.cwd})` : ''} ${end}.${tail}`);
    this.name = 'SetupCommandError';
  }
}

// ---------------------------------------------------------------------------------------------
// The manifest

export interface ManifestStep {
  /** The step's recipe: when it changes, the step is redone. */
  readonly recipe: string;
  /** Debian package name → version, of the packages the step's outputs came from. */
  readonly packages: Readonly<Record<string, string>>;
  /** Output files (relative to the cache folder, `/`-separated) → sha256 (hex). */
  readonly files: Readonly<Record<string, string>>;
  readonly date: string;
  readonly durationMs: number;
}

export interface SetupManifest {
  readonly setupVersion: number;
  /** When the last setup ended. */
  readonly date: string;
  readonly steps: Readonly<Partial<Record<ProductStepId, ManifestStep>>>;
  /** Every step of the last setup, done or skipped, and how long it took. */
  readonly lastRun: readonly SetupStepReport[];
}

/** The manifest of a cache folder, or undefined when there is none (or it is not one of ours). */
export async function readSetupManifest(file: string): Promise<SetupManifest | undefined> {
  let text: string;
  try {
    const handle = await fs.open(file, 'r');
    try {
      if ((await handle.stat()).size > 1024 * 1024) return undefined;
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as SetupManifest;
    if (typeof value !== 'object' || value === null || typeof value.steps !== 'object' || value.steps === null)
      return undefined;
    return value;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Small file helpers: every output is installed by a rename.

/** Copies `source` to `target` through a temporary sibling and a rename. */
async function installFile(source: string, target: string, mode: number): Promise<void> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  const temp = tempName(target);
  try {
    await fs.copyFile(source, temp);
    await fs.chmod(temp, mode);
    await fs.rename(temp, target);
  } catch (e) {
    await fs.rm(temp, { force: true });
    throw e;
  }
}

/** Replaces the folder `target` with the finished folder `staged` (a sibling): renames only. */
async function installFolder(staged: string, target: string): Promise<void> {
  const old = tempName(target);
  let moved = false;
  try {
    await fs.rename(target, old);
    moved = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await fs.rename(staged, target);
  if (moved) await fs.rm(old, { recursive: true, force: true });
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

async function someExists(files: readonly string[]): Promise<boolean> {
  for (const f of files) if (await exists(f)) return true;
  return false;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The regular files below `dir`, relative to it (`/`-separated), sorted. */
async function filesBelow(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

const relative = (layout: QemuCacheLayout, file: string) => path.relative(layout.root, file).split(path.sep).join('/');

// ---------------------------------------------------------------------------------------------
// The machine's Debian mirror

const DEBIAN_SUITES = new Set([
  'buster',
  'bullseye',
  'bookworm',
  'trixie',
  'forky',
  'duke',
  'sid',
  'oldoldstable',
  'oldstable',
  'stable',
  'testing',
  'unstable',
]);

const usableUri = (uri: string | undefined): uri is string => uri !== undefined && /^https?:\/\/\S+$/.test(uri);

/**
 * The mirror URI of the machine's main Debian suite: the `URIs:` of the first deb822 stanza whose
 * Suites include a Debian release (bookworm, not bookworm-security), else the first such `deb` line
 * of the one-line list. Undefined when neither names one.
 */
export function debianMirrorOf(
  debianSources: string | undefined,
  sourcesList: string | undefined,
): { uri: string; from: 'deb822' | 'list' } | undefined {
  if (debianSources !== undefined) {
    for (const stanza of debianSources.split(/\n\s*\n/)) {
      const fields = new Map<string, string>();
      for (const line of stanza.split('\n')) {
        if (line.startsWith('#')) continue;
        const m = /^([A-Za-z][\w-]*):\s*(.*)$/.exec(line);
        if (m) fields.set(m[1]!.toLowerCase(), m[2]!.trim());
      }
      if (fields.get('enabled')?.toLowerCase() === 'no') continue;
      const types = (fields.get('types') ?? '').split(/\s+/);
      const suites = (fields.get('suites') ?? '').split(/\s+/);
      const uri = (fields.get('uris') ?? '').split(/\s+/)[0];
      if (types.includes('deb') && suites.some((s) => DEBIAN_SUITES.has(s)) && usableUri(uri))
        return { uri: uri.replace(/\/+$/, ''), from: 'deb822' };
    }
  }
  if (sourcesList !== undefined) {
    for (const raw of sourcesList.split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      // deb [options] URI suite components...
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
      if (m && DEBIAN_SUITES.has(m[2]!) && usableUri(m[1])) return { uri: m[1].replace(/\/+$/, ''), from: 'list' };
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Prerequisites

/** A command setup needs, and the Debian package that has it. */
const PREREQUISITE_COMMANDS: readonly (readonly [string, string])[] = [
  ['apt-get', 'apt'],
  ['dpkg', 'dpkg'],
  ['dpkg-deb', 'dpkg'],
  ['tar', 'tar'],
  ['xz', 'xz-utils'],
  ['gcc', 'build-essential'],
  ['make', 'build-essential'],
  ['ninja', 'ninja-build'],
  ['python3', 'python3-venv'],
  ['flex', 'flex'],
  ['bison', 'bison'],
  ['bc', 'bc'],
  ['pkg-config', 'pkg-config'],
];

/**
 * A pkg-config module setup needs, what it is for, its Debian package, and the header that stands
 * for it where the package has no pkg-config file (bookworm's libfdt-dev has none; QEMU then finds
 * the library by name).
 */
const PREREQUISITE_MODULES: readonly (readonly [string, string, string, string?])[] = [
  ['glib-2.0', 'QEMU', 'libglib2.0-dev'],
  ['gnutls', 'QEMU', 'libgnutls28-dev'],
  ['libcbor', 'QEMU', 'libcbor-dev'],
  ['libfdt', 'QEMU', 'libfdt-dev', 'libfdt.h'],
  ['zlib', 'QEMU', 'zlib1g-dev'],
  ['pixman-1', 'QEMU', 'libpixman-1-dev'],
  ['libelf', 'the kernel', 'libelf-dev'],
  ['openssl', 'the kernel', 'libssl-dev'],
];

function otherDistributionError(why: string): QemuSetupError {
  return new QemuSetupError(
    `${why} nitro-dev qemu setup builds QEMU and the test kernel from Debian's packages and needs a Debian ` +
      `machine (apt-get and dpkg). On other systems, follow the README section "${OTHER_DISTRIBUTIONS_SECTION}": ` +
      'build QEMU >= 9.2 with --enable-libcbor --enable-gnutls, get vhost-device-vsock with cargo, and name them ' +
      'in the settings or in NITRO_DEV_QEMU and NITRO_DEV_VHOST_DEVICE_VSOCK.',
  );
}

/**
 * Checks every command, library and module setup needs; throws one error naming exactly what is
 * missing and the apt-get line that installs it.
 */
export async function checkSetupPrerequisites(
  host: SetupHost,
  runner: ToolRunner,
  cancellation?: CancellationLike,
): Promise<void> {
  if (host.platform !== 'linux') throw otherDistributionError(`This is ${host.platform}, not Linux.`);
  const missing: string[] = [];
  const packages = new Set<string>();
  const found = new Map<string, string>();
  for (const [command, pkg] of PREREQUISITE_COMMANDS) {
    const file = await findInPath(command, host.env.PATH);
    if (file) found.set(command, file);
    else {
      missing.push(`the command ${command}`);
      packages.add(pkg);
    }
  }
  if (!found.has('apt-get') || !found.has('dpkg') || !found.has('dpkg-deb'))
    throw otherDistributionError(
      `${['apt-get', 'dpkg', 'dpkg-deb'].filter((c) => !found.has(c)).join(', ')} not found in PATH.`,
    );
  const run = async (argv: string[]) => {
    try {
      return (await runner({ argv, env: host.env }, cancellation ? { cancellation } : {})).status === 0;
    } catch (e) {
      if (e instanceof CancelledError) throw e;
      return false;
    }
  };
  if (found.has('python3') && !(await run([found.get('python3')!, '-c', 'import venv, ensurepip']))) {
    missing.push("python3's venv module (with ensurepip)");
    packages.add('python3-venv');
  }
  if (found.has('pkg-config')) {
    for (const [module, forWhat, pkg, header] of PREREQUISITE_MODULES) {
      if (await run([found.get('pkg-config')!, '--exists', module])) continue;
      const headerFound =
        header !== undefined && (await someExists(host.includeDirs.map((dir) => path.join(dir, header))));
      if (!headerFound) {
        missing.push(
          `the pkg-config module ${module}${header ? ` (or the header ${header})` : ''} (${pkg}, for ${forWhat})`,
        );
        packages.add(pkg);
      }
    }
  } else {
    missing.push('(the libraries could not be checked without pkg-config)');
  }
  if (missing.length > 0)
    throw new QemuSetupError(
      `Missing: ${missing.join('; ')}. Debian packages: ${[...packages].join(' ')}. ` +
        `Install every build dependency with:\n  ${host.isRoot ? '' : 'sudo '}${BUILD_DEPENDENCIES_LINE}`,
    );
}

// ---------------------------------------------------------------------------------------------
// apt, privately

type Suite = 'trixie' | 'sid';

/** A package setup downloads, the suite it comes from, and the names of its files once downloaded. */
interface Download {
  readonly name: string;
  readonly suite: Suite;
  /** A source package (apt-get source --download-only) rather than a .deb. */
  readonly source?: boolean;
  /** The downloaded files this package is made of (matched in <work>/dl). */
  readonly files: readonly RegExp[];
}

const deb = (name: string, suite: Suite): Download => ({
  name,
  suite,
  files: [new RegExp(`^${name.replace(/[.+]/g, '\\$&')}_[^_]+_(all|amd64)\\.deb$`)],
});

const DOWNLOADS = {
  qemuSource: {
    name: 'qemu',
    suite: 'trixie',
    source: true,
    files: [/^qemu_[^_]+\.dsc$/, /^qemu_[^_]+\.orig\.tar\.xz$/],
  },
  meson: deb('meson', 'trixie'),
  pycotap: deb('python3-pycotap', 'trixie'),
  qemuSystemData: deb('qemu-system-data', 'trixie'),
  seabios: deb('seabios', 'trixie'),
  linuxSource: deb('linux-source-6.12', 'trixie'),
  vhostDeviceVsock: deb('vhost-device-vsock', 'sid'),
} satisfies Record<string, Download>;

/** Package name and version of a downloaded file's name (`name_version_arch.deb`, `name_version.dsc`). */
export function packageOfFile(file: string): { name: string; version: string } | undefined {
  const base = path.basename(file);
  const m = /^([^_]+)_([^_]+)(?:_[^_]+\.deb|\.dsc)$/.exec(base);
  if (!m) return undefined;
  return { name: m[1]!, version: decodeURIComponent(m[2]!) };
}

// ---------------------------------------------------------------------------------------------
// The run

interface ProductStep {
  readonly id: ProductStepId;
  readonly title: string;
  readonly recipe: string;
  readonly downloads: readonly Download[];
  /** Runs the step: builds in the work folder and installs the outputs; returns the output files. */
  run(ctx: StepContext): Promise<{ files: string[]; packages: Record<string, string> }>;
}

interface StepContext {
  readonly layout: QemuCacheLayout;
  readonly jobs: number;
  readonly host: SetupHost;
  /** The downloaded files of a package (absolute paths, in the order of its `files`). */
  filesOf(download: Download): string[];
  /** Runs a program; a failure (non-zero exit) throws SetupCommandError saying `what` failed. */
  run(what: string, command: ToolCommand, onLine?: (line: string) => void): Promise<ToolOutcome>;
  /** Runs a program and returns its outcome whatever the exit status. */
  try(command: ToolCommand): Promise<ToolOutcome>;
  log(line: string): void;
  progress(fraction?: number): void;
  /** A fresh, empty folder below <work>/build (removed first if it exists). */
  freshDir(name: string): Promise<string>;
}

const packagesOf = (files: readonly string[]) =>
  Object.fromEntries(
    files.map((f) => packageOfFile(f)).flatMap((p) => (p ? [[p.name, p.version] as [string, string]] : [])),
  );

/** The only folder inside `dir` (an unpacked tarball's top folder). */
async function onlyFolderIn(dir: string, what: string): Promise<string> {
  const entries = (await fs.readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory());
  if (entries.length !== 1)
    throw new QemuSetupError(`${what} did not unpack to one folder: ${dir} holds ${entries.length} folders`);
  return path.join(dir, entries[0]!.name);
}

async function requireFile(file: string, what: string): Promise<string> {
  if (!(await exists(file))) throw new QemuSetupError(`${what} was expected at ${file}, but it is not there`);
  return file;
}

const VHOST_STEP: ProductStep = {
  id: 'vhost-device-vsock',
  title: 'vhost-device-vsock from Debian sid',
  recipe: `v${SETUP_VERSION} usr/bin/vhost-device-vsock of the sid package`,
  downloads: [DOWNLOADS.vhostDeviceVsock],
  async run(ctx) {
    const [file] = ctx.filesOf(DOWNLOADS.vhostDeviceVsock);
    const dir = await ctx.freshDir('vhost-device-vsock');
    await ctx.run('Unpacking vhost-device-vsock', { argv: ['dpkg', '-x', file!, dir] });
    const binary = await requireFile(path.join(dir, 'usr/bin/vhost-device-vsock'), "vhost-device-vsock's program");
    await installFile(binary, ctx.layout.vhostDeviceVsock, 0o755);
    await fs.rm(dir, { recursive: true, force: true });
    return { files: [ctx.layout.vhostDeviceVsock], packages: packagesOf([file!]) };
  },
};

const FIRMWARE_STEP: ProductStep = {
  id: 'firmware',
  title: 'firmware from qemu-system-data and seabios',
  recipe: `v${SETUP_VERSION} usr/share/qemu of qemu-system-data + usr/share/seabios/*.bin`,
  downloads: [DOWNLOADS.qemuSystemData, DOWNLOADS.seabios],
  async run(ctx) {
    const [data] = ctx.filesOf(DOWNLOADS.qemuSystemData);
    const [seabios] = ctx.filesOf(DOWNLOADS.seabios);
    const dir = await ctx.freshDir('firmware');
    await ctx.run('Unpacking qemu-system-data', { argv: ['dpkg', '-x', data!, path.join(dir, 'data')] });
    await ctx.run('Unpacking seabios', { argv: ['dpkg', '-x', seabios!, path.join(dir, 'seabios')] });
    const staged = tempName(ctx.layout.firmwareDir);
    try {
      await fs.mkdir(staged, { recursive: true });
      // Links (to other packages' files) are left out: only the files these packages carry.
      await fs.cp(path.join(dir, 'data/usr/share/qemu'), staged, {
        recursive: true,
        filter: async (source) => !(await fs.lstat(source)).isSymbolicLink(),
      });
      const biosDir = path.join(dir, 'seabios/usr/share/seabios');
      for (const name of (await fs.readdir(biosDir)).filter((n) => n.endsWith('.bin'))) {
        await fs.rm(path.join(staged, name), { force: true });
        await fs.copyFile(path.join(biosDir, name), path.join(staged, name));
      }
      await requireFile(path.join(staged, 'bios-microvm.bin'), 'The microvm firmware (from seabios)');
      await requireFile(path.join(staged, 'linuxboot_dma.bin'), 'The Linux boot option ROM (from qemu-system-data)');
      await installFolder(staged, ctx.layout.firmwareDir);
    } finally {
      await fs.rm(staged, { recursive: true, force: true });
    }
    await fs.rm(dir, { recursive: true, force: true });
    const files = (await filesBelow(ctx.layout.firmwareDir)).map((f) => path.join(ctx.layout.firmwareDir, f));
    return { files, packages: packagesOf([data!, seabios!]) };
  },
};

/** What `pc-bios/meson.build`'s line 2 must say, and what it becomes (the +ds tarball has no edk2 blobs). */
const EDK2_LINE = 'if unpack_edk2_blobs';

/**
 * QEMU 10.0's virtio-nsm device takes a request and its response buffer as two queue elements, and
 * when the response buffer is not queued yet it marks the device broken ("Expected response buffer
 * after request buffer in virtqueue"): every later NSM request of the enclave then waits out the
 * driver's 2-minute timeout and fails. Linux's nsm driver can be caught between the two: it
 * registers its hwrng during probe, whose thread sends GetRandom at once, before DRIVER_OK; QEMU
 * starting the queue's ioeventfd at DRIVER_OK kicks the queue, and that kick may find the request
 * without its response buffer (seen about once in ten boots under TCG). The edit puts the request
 * back instead; the driver kicks again once the response buffer is queued, and both are taken then.
 */
export const VIRTIO_NSM_EDIT = {
  file: 'hw/virtio/virtio-nsm.c',
  original: [
    '    in_elem = virtqueue_pop(vq, sizeof(VirtQueueElement));',
    '    if (!in_elem) {',
    '        virtio_error(vdev, "Expected response buffer after request buffer "',
    '                     "in virtqueue");',
    '        goto cleanup;',
    '    }',
  ].join('\n'),
  edited: [
    '    in_elem = virtqueue_pop(vq, sizeof(VirtQueueElement));',
    '    if (!in_elem) {',
    '        /* nitro-dev qemu setup: the response buffer is not queued yet; the',
    "         * driver's next kick brings it. Put the request back until then. */",
    '        virtqueue_unpop(vq, out_elem, 0);',
    '        return;',
    '    }',
  ].join('\n'),
} as const;

/** `virtio-nsm.c`'s text with VIRTIO_NSM_EDIT made; refuses a source where the block is not there once. */
export function editVirtioNsm(text: string, file: string): string {
  const at = text.indexOf(VIRTIO_NSM_EDIT.original);
  if (at < 0 || text.indexOf(VIRTIO_NSM_EDIT.original, at + 1) >= 0)
    throw new QemuSetupError(
      `${file}: the request handler's check for a missing response buffer was expected once, as QEMU 10.0 ` +
        'writes it, and is not there. This QEMU source is not the one setup knows.',
    );
  return text.slice(0, at) + VIRTIO_NSM_EDIT.edited + text.slice(at + VIRTIO_NSM_EDIT.original.length);
}

const QEMU_STEP: ProductStep = {
  id: 'qemu',
  title: 'QEMU with the nitro-enclave machine',
  recipe:
    `v${SETUP_VERSION} configure ${QEMU_CONFIGURE_FLAGS.join(' ')}; ninja qemu-system-x86_64; ` +
    'virtio-nsm waits for the response buffer',
  downloads: [DOWNLOADS.qemuSource, DOWNLOADS.meson, DOWNLOADS.pycotap],
  async run(ctx) {
    const [dsc, orig] = ctx.filesOf(DOWNLOADS.qemuSource);
    const [meson] = ctx.filesOf(DOWNLOADS.meson);
    const [pycotap] = ctx.filesOf(DOWNLOADS.pycotap);
    const py = path.join(ctx.layout.workDir, 'py');
    await fs.rm(py, { recursive: true, force: true });
    await ctx.run('Unpacking meson', { argv: ['dpkg', '-x', meson!, py] });
    await ctx.run('Unpacking python3-pycotap', { argv: ['dpkg', '-x', pycotap!, py] });
    const dir = await ctx.freshDir('qemu');
    ctx.log(`Unpacking ${path.basename(orig!)}`);
    await ctx.run("Unpacking QEMU's source", { argv: ['tar', '-xf', orig!, '-C', dir] });
    const src = await onlyFolderIn(dir, "QEMU's source tarball");
    const mesonBuild = path.join(src, 'pc-bios/meson.build');
    const lines = (await fs.readFile(mesonBuild, 'utf8')).split('\n');
    if (lines[1]?.trim() !== EDK2_LINE)
      throw new QemuSetupError(
        `${mesonBuild}: line 2 was expected to be \`${EDK2_LINE}\` (to be turned off: Debian's +ds tarball has no ` +
          `edk2 firmware), but it is \`${lines[1] ?? ''}\`. This QEMU source is not the one setup knows.`,
      );
    lines[1] = lines[1].replace(EDK2_LINE, 'if false');
    await fs.writeFile(mesonBuild, lines.join('\n'));
    const nsm = path.join(src, VIRTIO_NSM_EDIT.file);
    await fs.writeFile(nsm, editVirtioNsm(await fs.readFile(nsm, 'utf8'), nsm));
    const build = path.join(src, 'build');
    await fs.mkdir(build);
    const env = {
      ...ctx.host.env,
      PYTHONPATH: path.join(py, 'usr/lib/python3/dist-packages'),
      PATH: [path.join(py, 'usr/bin'), ctx.host.env.PATH].filter(Boolean).join(path.delimiter),
    };
    ctx.log('Configuring QEMU (about a minute)');
    await ctx.run("QEMU's configure", { argv: ['../configure', ...QEMU_CONFIGURE_FLAGS], cwd: build, env });
    const devices = path.join(build, 'x86_64-softmmu-config-devices.h');
    const header = await fs.readFile(devices, 'utf8').catch(() => '');
    if (!/^#define CONFIG_NITRO_ENCLAVE 1\b/m.test(header))
      throw new QemuSetupError(
        `QEMU was configured without the nitro-enclave machine (${devices} does not define CONFIG_NITRO_ENCLAVE): ` +
          'it needs libcbor and gnutls. Install libcbor-dev and libgnutls28-dev and run nitro-dev qemu setup again.',
      );
    ctx.log(`Building QEMU with ninja -j${ctx.jobs} (about 6 minutes on 2 cores)`);
    await ctx.run(
      'Building QEMU',
      { argv: ['ninja', `-j${ctx.jobs}`, 'qemu-system-x86_64'], cwd: build, env },
      (line) => {
        const m = /^\[(\d+)\/(\d+)\]/.exec(line);
        if (m && Number(m[2]) > 0) ctx.progress(Number(m[1]) / Number(m[2]));
      },
    );
    const built = await requireFile(path.join(build, 'qemu-system-x86_64'), 'The QEMU ninja built');
    const help = await ctx.try({ argv: [built, '-L', ctx.layout.firmwareDir, '-M', 'help'] });
    if (help.status !== 0 || !help.tail.some((l) => /^nitro-enclave\s/.test(l)))
      throw new QemuSetupError(
        `The QEMU built (${built}) does not list the nitro-enclave machine in \`-M help\`` +
          (help.status !== 0 ? ` (exit status ${help.status}: ${help.tail.slice(-5).join(' / ')})` : '') +
          '.',
      );
    await installFile(built, ctx.layout.qemu, 0o755);
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rm(py, { recursive: true, force: true });
    return { files: [ctx.layout.qemu], packages: packagesOf([dsc!, meson!, pycotap!]) };
  },
};

const KERNEL_STEP: ProductStep = {
  id: 'kernel',
  title: 'the test kernel from linux-source-6.12',
  recipe:
    `v${SETUP_VERSION} kernel-min.config sha256:${createHash('sha256').update(KERNEL_CONFIG).digest('hex')}; ` +
    'make olddefconfig bzImage',
  downloads: [DOWNLOADS.linuxSource],
  async run(ctx) {
    const [file] = ctx.filesOf(DOWNLOADS.linuxSource);
    const dir = await ctx.freshDir('kernel');
    const pkg = path.join(dir, 'pkg');
    ctx.log(`Unpacking ${path.basename(file!)}`);
    await ctx.run('Unpacking linux-source', { argv: ['dpkg-deb', '-x', file!, pkg] });
    const usrSrc = path.join(pkg, 'usr/src');
    const tarball = (await fs.readdir(usrSrc)).find((n) => /^linux-source-.*\.tar\.xz$/.test(n));
    if (!tarball) throw new QemuSetupError(`${path.basename(file!)} has no linux-source-*.tar.xz in usr/src`);
    const srcDir = path.join(dir, 'src');
    await fs.mkdir(srcDir);
    await ctx.run("Unpacking the kernel's source", { argv: ['tar', '-xf', path.join(usrSrc, tarball), '-C', srcDir] });
    await fs.rm(pkg, { recursive: true, force: true });
    const src = await onlyFolderIn(srcDir, "The kernel's source tarball");
    await fs.writeFile(path.join(src, '.config'), KERNEL_CONFIG);
    await ctx.run("The kernel's make olddefconfig", { argv: ['make', '-C', src, 'olddefconfig'], env: ctx.host.env });
    ctx.log(`Building the kernel with make -j${ctx.jobs} bzImage (about 6 minutes on 2 cores)`);
    await ctx.run('Building the kernel', { argv: ['make', '-C', src, `-j${ctx.jobs}`, 'bzImage'], env: ctx.host.env });
    const bzImage = await requireFile(path.join(src, 'arch/x86/boot/bzImage'), 'The kernel make built');
    await installFile(bzImage, ctx.layout.kernel, 0o644);
    await installFile(path.join(src, '.config'), ctx.layout.kernelConfig, 0o644);
    await fs.rm(dir, { recursive: true, force: true });
    return { files: [ctx.layout.kernel, ctx.layout.kernelConfig], packages: packagesOf([file!]) };
  },
};

export const PRODUCT_STEPS: readonly ProductStep[] = [VHOST_STEP, FIRMWARE_STEP, QEMU_STEP, KERNEL_STEP];

/**
 * The titles of the steps a manifest records with another recipe than this setup's: their outputs
 * were made by an earlier setup (such as a QEMU without VIRTIO_NSM_EDIT), and the next `nitro-dev
 * qemu setup` redoes them.
 */
export function outdatedSteps(manifest: SetupManifest): string[] {
  return PRODUCT_STEPS.filter((step) => {
    const entry = manifest.steps[step.id];
    return entry !== undefined && entry.recipe !== step.recipe;
  }).map((step) => step.title);
}

const STEP_TITLES: Record<'prerequisites' | 'apt' | 'download' | 'guest', string> = {
  prerequisites: 'prerequisites',
  apt: 'package lists (trixie, sid)',
  download: 'packages',
  guest: 'guest programs',
};

/** Whether a step's outputs are current: the same recipe, and every file there with its recorded sha256. */
async function isCurrent(
  layout: QemuCacheLayout,
  step: ProductStep,
  entry: ManifestStep | undefined,
): Promise<boolean> {
  if (!entry || entry.recipe !== step.recipe || typeof entry.files !== 'object' || entry.files === null) return false;
  const files = Object.entries(entry.files);
  if (files.length === 0) return false;
  for (const [rel, sha] of files) {
    const file = path.join(layout.root, ...rel.split('/'));
    if (!file.startsWith(layout.root + path.sep)) return false;
    try {
      if ((await sha256File(file)) !== sha) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** The name of a temporary file `tempName` makes. */
const TEMP_NAME = /^\..+\.tmp-\d+-[0-9a-f]{8}$/;

/**
 * Removes the temporary files and folders a killed setup left next to the outputs (a process killed
 * between writing a temporary file and renaming it cannot remove it itself).
 */
async function removeLeftovers(layout: QemuCacheLayout): Promise<string[]> {
  const removed: string[] = [];
  const outputs = [layout.qemu, layout.firmwareDir, layout.kernel].map((f) => path.dirname(f));
  const dirs = [layout.root, ...outputs, path.join(layout.workDir, 'dl')];
  for (const dir of new Set(dirs)) {
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    for (const name of names.filter((n) => TEMP_NAME.test(n))) {
      await fs.rm(path.join(dir, name), { recursive: true, force: true });
      removed.push(path.join(dir, name));
    }
  }
  return removed;
}

/** Only one setup at a time in a cache folder: a lock file holding the pid. */
async function lockCache(layout: QemuCacheLayout): Promise<() => Promise<void>> {
  const lock = path.join(layout.root, 'setup.lock');
  await fs.mkdir(layout.root, { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(lock, `${process.pid}\n`, { flag: 'wx' });
      return () => fs.rm(lock, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number((await fs.readFile(lock, 'utf8').catch(() => '')).trim());
      let alive = false;
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (k) {
          alive = (k as NodeJS.ErrnoException).code === 'EPERM';
        }
      }
      if (alive)
        throw new QemuSetupError(
          `Another nitro-dev qemu setup (process ${pid}) is filling ${layout.root}; wait for it to end.`,
        );
      await fs.rm(lock, { force: true });
    }
  }
  throw new QemuSetupError(`Cannot take the lock ${lock}.`);
}

function defaultHost(): SetupHost {
  return {
    platform: process.platform,
    isRoot: process.getuid?.() === 0,
    env: process.env,
    debianSourcesFile: '/etc/apt/sources.list.d/debian.sources',
    sourcesListFile: '/etc/apt/sources.list',
    includeDirs: ['/usr/local/include', '/usr/include'],
  };
}

const readOptional = (file: string) => fs.readFile(file, 'utf8').catch(() => undefined);

/** The apt options that keep every apt call private to <work>/apt/<suite>. */
export function privateAptOptions(aptDir: string, suite: string, isRoot: boolean): string[] {
  const dir = path.join(aptDir, suite);
  return [
    '-o',
    `Dir::Etc::SourceList=${path.join(dir, 'sources.list')}`,
    '-o',
    'Dir::Etc::SourceParts=/dev/null',
    '-o',
    `Dir::State::Lists=${path.join(dir, 'lists')}`,
    '-o',
    `Dir::Cache=${path.join(dir, 'cache')}`,
    '-o',
    'Dir::State::status=/dev/null',
    ...(isRoot ? ['-o', 'APT::Sandbox::User=root'] : []),
    '-o',
    'Debug::NoLocking=1',
    '-o',
    'Acquire::Languages=none',
  ];
}

/** Fills (or checks) the cache folder; see the top of this file. */
export async function runQemuSetup(options: QemuSetupOptions): Promise<QemuSetupResult> {
  const started = Date.now();
  const host: SetupHost = { ...defaultHost(), ...options.host };
  const runner = options.runner ?? localToolRunner;
  const layout = qemuCacheLayout(path.resolve(options.cacheDir));
  const { cancellation } = options;
  const log = (line: string) => options.log(line);
  const jobs = Math.max(1, Math.floor(options.jobs));
  const reports: SetupStepReport[] = [];
  const aptDir = path.join(layout.workDir, 'apt');
  const dlDir = path.join(layout.workDir, 'dl');

  const runTool = async (command: ToolCommand, onLine?: (line: string) => void): Promise<ToolOutcome> => {
    throwIfCancelled(cancellation, 'nitro-dev qemu setup');
    return runner(
      { ...command, env: command.env ?? host.env },
      { ...(cancellation ? { cancellation } : {}), ...(onLine ? { onLine } : {}) },
    );
  };
  const runChecked = async (what: string, command: ToolCommand, onLine?: (line: string) => void) => {
    const outcome = await runTool(command, onLine);
    if (outcome.status !== 0) throw new SetupCommandError(command, outcome, what);
    return outcome;
  };
  const timed = async <T>(id: SetupStepId, title: string, work: () => Promise<T>): Promise<T> => {
    throwIfCancelled(cancellation, 'nitro-dev qemu setup');
    options.progress?.(id);
    const t0 = Date.now();
    const value = await work();
    reports.push({ id, title, skipped: false, durationMs: Date.now() - t0 });
    return value;
  };
  const skipped = (id: SetupStepId, title: string) => reports.push({ id, title, skipped: true, durationMs: 0 });

  const release = await lockCache(layout);
  try {
    for (const leftover of await removeLeftovers(layout)) log(`Removed ${leftover}, left by an interrupted setup`);
    const manifest = await readSetupManifest(layout.manifest);
    const steps: Partial<Record<ProductStepId, ManifestStep>> =
      manifest && manifest.setupVersion === SETUP_VERSION ? { ...manifest.steps } : {};
    const pending: ProductStep[] = [];
    for (const step of PRODUCT_STEPS) {
      if (options.force || !(await isCurrent(layout, step, steps[step.id]))) pending.push(step);
    }
    const writeManifest = () =>
      writeFileAtomically(
        layout.manifest,
        `${JSON.stringify(
          {
            setupVersion: SETUP_VERSION,
            date: new Date().toISOString(),
            steps,
            lastRun: reports,
          } satisfies SetupManifest,
          null,
          2,
        )}\n`,
      );

    if (pending.length === 0) {
      for (const id of ['prerequisites', 'apt', 'download'] as const) skipped(id, STEP_TITLES[id]);
    } else {
      await timed('prerequisites', STEP_TITLES.prerequisites, () =>
        checkSetupPrerequisites(host, runner, cancellation),
      );
      const needed = [...new Set(pending.flatMap((s) => s.downloads))];
      await fs.mkdir(dlDir, { recursive: true });
      const present = new Set(await fs.readdir(dlDir));
      const has = (d: Download) => d.files.every((re) => [...present].some((n) => re.test(n)));
      const missing = needed.filter((d) => !has(d));
      if (missing.length === 0) {
        skipped('apt', STEP_TITLES.apt);
        skipped('download', STEP_TITLES.download);
      } else {
        const suites = [...new Set(missing.map((d) => d.suite))];
        await timed('apt', STEP_TITLES.apt, async () => {
          const mirror = debianMirrorOf(
            await readOptional(host.debianSourcesFile),
            await readOptional(host.sourcesListFile),
          );
          if (mirror)
            log(
              `Debian mirror: ${mirror.uri} ` +
                `(from ${mirror.from === 'deb822' ? host.debianSourcesFile : host.sourcesListFile})`,
            );
          else
            log(
              `Debian mirror: ${FALLBACK_MIRROR} ` +
                `(neither ${host.debianSourcesFile} nor ${host.sourcesListFile} names a Debian mirror)`,
            );
          const uri = mirror?.uri ?? FALLBACK_MIRROR;
          for (const suite of suites) {
            const dir = path.join(aptDir, suite);
            await fs.mkdir(path.join(dir, 'lists/partial'), { recursive: true });
            await fs.mkdir(path.join(dir, 'cache/archives/partial'), { recursive: true });
            await writeFileAtomically(
              path.join(dir, 'sources.list'),
              `deb ${uri} ${suite} main\ndeb-src ${uri} ${suite} main\n`,
            );
            log(`apt-get update (${suite}, private lists in ${dir})`);
            await runChecked(`apt-get update of ${suite}`, {
              argv: ['apt-get', ...privateAptOptions(aptDir, suite, host.isRoot), 'update'],
            });
          }
        });
        await timed('download', STEP_TITLES.download, async () => {
          for (const suite of suites) {
            const ofSuite = missing.filter((d) => d.suite === suite);
            const apt = ['apt-get', ...privateAptOptions(aptDir, suite, host.isRoot)];
            const staging = tempName(path.join(dlDir, suite));
            await fs.mkdir(staging, { recursive: true });
            try {
              for (const d of ofSuite.filter((x) => x.source)) {
                log(`apt-get source --download-only ${d.name} (${suite})`);
                await runChecked(`Downloading the source of ${d.name}`, {
                  argv: [...apt, 'source', '--download-only', d.name],
                  cwd: staging,
                });
              }
              const debs = ofSuite.filter((x) => !x.source).map((x) => x.name);
              if (debs.length > 0) {
                log(`apt-get download ${debs.join(' ')} (${suite})`);
                await runChecked(`Downloading ${debs.join(', ')}`, {
                  argv: [...apt, 'download', ...debs],
                  cwd: staging,
                });
              }
              // Each downloaded file is renamed into dl only once all of them are there.
              for (const name of await fs.readdir(staging))
                await fs.rename(path.join(staging, name), path.join(dlDir, name));
            } finally {
              await fs.rm(staging, { recursive: true, force: true });
            }
          }
          const now = new Set(await fs.readdir(dlDir));
          for (const d of missing)
            if (!d.files.every((re) => [...now].some((n) => re.test(n))))
              throw new QemuSetupError(`apt did not download ${d.name} from ${d.suite} into ${dlDir}.`);
        });
      }
    }

    const dlFiles = pending.length > 0 ? await fs.readdir(dlDir) : [];
    const ctxFor = (step: ProductStep): StepContext => ({
      layout,
      jobs,
      host,
      filesOf: (d) =>
        d.files.map((re) => {
          // The newest version when several are there (names sort by version well enough for one package).
          const name = dlFiles
            .filter((n) => re.test(n))
            .sort()
            .pop();
          if (!name) throw new QemuSetupError(`${d.name} is not in ${dlDir}.`);
          return path.join(dlDir, name);
        }),
      run: (what, command, onLine) =>
        runChecked(what, command, (line) => {
          onLine?.(line);
        }),
      try: (command) => runTool(command),
      log,
      progress: (fraction) => options.progress?.(step.id, fraction),
      freshDir: async (name) => {
        const dir = path.join(layout.workDir, 'build', name);
        await fs.rm(dir, { recursive: true, force: true });
        await fs.mkdir(dir, { recursive: true });
        return dir;
      },
    });

    for (const step of PRODUCT_STEPS) {
      if (!pending.includes(step)) {
        log(`${step.title}: up to date`);
        skipped(step.id, step.title);
        continue;
      }
      log(
        `${step.title}: ` +
          (steps[step.id] ? (options.force ? 'redoing (--force)' : 'redoing (changed or missing)') : 'making'),
      );
      const t0 = Date.now();
      const { files, packages } = await timed(step.id, step.title, () => step.run(ctxFor(step)));
      const hashed: Record<string, string> = {};
      for (const f of files) hashed[relative(layout, f)] = await sha256File(f);
      steps[step.id] = {
        recipe: step.recipe,
        packages,
        files: hashed,
        date: new Date().toISOString(),
        durationMs: Date.now() - t0,
      };
      await writeManifest();
    }

    if (options.afterKernel) {
      const hook = options.afterKernel;
      await timed('guest', STEP_TITLES.guest, () => hook(layout, log));
    }
    await writeManifest();
    return { layout, steps: reports, durationMs: Date.now() - started };
  } finally {
    await release();
  }
}

/** The default number of parallel jobs: the machine's processors. */
export const defaultSetupJobs = (): number => Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
