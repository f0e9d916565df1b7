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

/**
 * Finds the blobs for `arch`. `flag` is `--blobs`; `env` is the environment to read
 * NITRO_CLI_BLOBS from (passed in, never read from the process here).
 */
export async function locateBlobs(arch: EifArch, flag: string | undefined, env: Readonly<Record<string, string | undefined>>): Promise<BlobFiles> {
  const fromEnv = env['NITRO_CLI_BLOBS'] || undefined;
  const origin: BlobFiles['origin'] = flag !== undefined ? 'flag' : fromEnv !== undefined ? 'env' : 'default';
  const base = path.resolve(flag ?? fromEnv ?? DEFAULT_BLOBS_DIR);
  const perArch = path.join(base, arch);
  const dir = (await isDir(perArch)) ? perArch : base;

  const places = () =>
    [
      `  --blobs: ${flag !== undefined ? `used: ${dir}` : 'not given'}`,
      `  NITRO_CLI_BLOBS: ${fromEnv === undefined ? 'not set' : origin === 'env' ? `used: ${dir}` : `${fromEnv}, not used since --blobs was given`}`,
      `  ${DEFAULT_BLOBS_DIR}: ${origin === 'default' ? `used: ${dir}` : 'not used, since a directory was given'}`,
    ].join('\n');
  if (!(await isDir(base))) {
    throw new BlobsError(`the blobs directory ${base} does not exist. The blobs are looked for in:\n${places()}`);
  }
  const names = { kernel: kernelName(arch), cmdline: 'cmdline', init: 'init', nsmKo: 'nsm.ko' } as const;
  const files: Record<string, string> = {};
  for (const [key, name] of Object.entries(names)) {
    const p = path.join(dir, name);
    if (!(await isFile(p))) {
      throw new BlobsError(`the ${arch} blob "${name}" is missing from ${dir}. The blobs are looked for in:\n${places()}`);
    }
    files[key] = p;
  }
  const config = path.join(dir, `${names.kernel}.config`);
  return {
    dir,
    origin,
    kernel: files['kernel'] as string,
    ...((await isFile(config)) ? { kernelConfig: config } : {}),
    cmdline: files['cmdline'] as string,
    init: files['init'] as string,
    nsmKo: files['nsmKo'] as string,
  };
}
