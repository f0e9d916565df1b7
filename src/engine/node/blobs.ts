// The blobs a build takes from AWS's nitro-cli package: the kernel (`bzImage` on x86_64, `Image` on
// aarch64) and its config, the kernel command line, `init` and `nsm.ko`. They come from one
// directory: `--blobs DIR`, else $NITRO_CLI_BLOBS, else /usr/share/nitro_enclaves/blobs/. A
// directory may hold one architecture's files directly or one sub-folder per architecture
// (`x86_64/`, `aarch64/`, as nitro-cli's repository ships them).
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { EifArch } from '../eif/defs';

export const DEFAULT_BLOBS_DIR = '/usr/share/nitro_enclaves/blobs/';

export interface BlobFiles {
  /** The directory the files were taken from. */
  readonly dir: string;
  /** Where that directory came from. */
  readonly origin: 'flag' | 'env' | 'default';
  readonly kernel: string;
  /** The kernel config (metadata only); undefined when absent. */
  readonly kernelConfig?: string;
  readonly cmdline: string;
  readonly init: string;
  readonly nsmKo: string;
}

export class BlobsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlobsError';
  }
}

export const kernelName = (arch: EifArch): string => (arch === 'aarch64' ? 'Image' : 'bzImage');

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** The files a build takes from the blobs folder for `arch`; the kernel config is optional (metadata only). */
export function blobNames(arch: EifArch): { readonly required: readonly string[]; readonly optional: string } {
  const kernel = kernelName(arch);
  return { required: [kernel, 'cmdline', 'init', 'nsm.ko'], optional: `${kernel}.config` };
}

/**
 * What a blobs folder holds: whether it exists, and per architecture the folder used and the required files missing
 * there.
 */
export interface BlobsFolderStatus {
  readonly dir: string;
  readonly exists: boolean;
  readonly arches: Readonly<Record<EifArch, { readonly dir: string; readonly missing: readonly string[] }>>;
}

/** The folder `locateBlobs` would take the files for `arch` from: its `arch` sub-folder when there is one. */
async function archDir(base: string, arch: EifArch): Promise<string> {
  const perArch = path.join(base, arch);
  return (await isDir(perArch)) ? perArch : base;
}

/** Looks into a blobs folder (e.g. the default one, before offering it) without failing. */
export async function blobsFolderStatus(dir: string): Promise<BlobsFolderStatus> {
  const base = path.resolve(dir);
  const exists = await isDir(base);
  const arches = {} as Record<EifArch, { dir: string; missing: string[] }>;
  for (const arch of ['x86_64', 'aarch64'] as const) {
    const at = await archDir(base, arch);
    const missing: string[] = [];
    for (const name of blobNames(arch).required)
      if (!exists || !(await isFile(path.join(at, name)))) missing.push(name);
    arches[arch] = { dir: at, missing };
  }
  return { dir: base, exists, arches };
}

/**
 * Finds the blobs for `arch`. `flag` is `--blobs`; `env` is the environment to read
 * NITRO_CLI_BLOBS from (passed in, never read from the process here). When files are missing,
 * the error lists every file looked for, with its full path and whether it is there.
 */
export async function locateBlobs(
  arch: EifArch,
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): Promise<BlobFiles> {
  const fromEnv = env['NITRO_CLI_BLOBS'] || undefined;
  const origin: BlobFiles['origin'] = flag !== undefined ? 'flag' : fromEnv !== undefined ? 'env' : 'default';
  const base = path.resolve(flag ?? fromEnv ?? DEFAULT_BLOBS_DIR);
  const perArch = path.join(base, arch);
  const dir = await archDir(base, arch);
  const names = blobNames(arch);

  const from =
    origin === 'flag'
      ? `from --blobs${fromEnv !== undefined ? `; NITRO_CLI_BLOBS=${fromEnv} is not used since --blobs was given` : ''}`
      : origin === 'env'
        ? 'from NITRO_CLI_BLOBS, as --blobs was not given'
        : `the default, as neither --blobs nor NITRO_CLI_BLOBS is set`;
  const wanted = `${names.required.join(', ')} (and optionally ${names.optional})`;
  const howToFix =
    'Give the folder with --blobs DIR or NITRO_CLI_BLOBS, ' +
    `or install the aws-nitro-enclaves-cli package, which puts the files in ${DEFAULT_BLOBS_DIR}.`;
  if (!(await isDir(base))) {
    throw new BlobsError(
      `the blobs folder ${base} (${from}) does not exist. ` +
        `An ${arch} build reads ${wanted} from ${perArch}${path.sep} or, without that sub-folder, ` +
        `from ${base}${path.sep}. ${howToFix}`,
    );
  }
  const files: Record<string, string> = {};
  const lines: string[] = [];
  let missing = 0;
  for (const name of names.required) {
    const p = path.join(dir, name);
    const found = await isFile(p);
    if (found) files[name] = p;
    else missing++;
    lines.push(`  ${p}: ${found ? 'found' : 'missing'}`);
  }
  const config = path.join(dir, names.optional);
  const hasConfig = await isFile(config);
  if (missing > 0) {
    lines.push(`  ${config}: ${hasConfig ? 'found' : 'missing'} (optional: read for the metadata only)`);
    const where =
      dir === perArch
        ? `its ${arch} sub-folder ${perArch}`
        : `${base} itself (it has no ${arch}${path.sep} sub-folder)`;
    throw new BlobsError(
      `${missing} of the ${names.required.length} ${arch} blobs are missing. The blobs folder is ${base} (${from}); ` +
        `the files were looked for in ${where}:\n${lines.join('\n')}\n${howToFix}`,
    );
  }
  return {
    dir,
    origin,
    kernel: files[names.required[0] as string] as string,
    ...(hasConfig ? { kernelConfig: config } : {}),
    cmdline: files['cmdline'] as string,
    init: files['init'] as string,
    nsmKo: files['nsm.ko'] as string,
  };
}
