// A build as the extension describes it (from the quick-input flow, a `nitro-eif` task in
// tasks.json, or a command argument), turned into the engine's build options and into the
// equivalent `nitro-dev build-enclave` command line. No `vscode` here, so it is unit-tested in Node.
import * as path from 'node:path';
import {
  parseBuildTime,
  parseCommandLine,
  splitArchiveReference,
  splitImageReference,
  type EifArch,
} from '../../engine';
import type { BuildOptions, BuildSource } from '../../engine/node';
import type { BlobsFolderStatus } from '../../engine/node';
import { l10n } from '../l10n';

/** The `nitro-eif` task definition's properties (package.json `taskDefinitions`), also the command argument. */
export interface BuildRequest {
  /** An OCI layout directory, optionally `DIR:TAG`. */
  readonly ociLayout?: string;
  /** An OCI or `docker save` archive, optionally `FILE:NAME:TAG`... as the CLI takes it. */
  readonly imageArchive?: string;
  /** A Docker image exported with `docker save`. */
  readonly dockerUri?: string;
  /** A plain folder as the root file system (with `cmd`, and `env`); not a nitro-cli interface. */
  readonly rootfs?: string;
  /** With `rootfs`: the command line the enclave runs, split as `--cmd` is (quotes group words). */
  readonly cmd?: string;
  /** With `rootfs`: the environment, `KEY=VALUE` each. */
  readonly env?: readonly string[];
  readonly output: string;
  readonly blobs?: string;
  readonly arch?: EifArch;
  readonly name?: string;
  readonly version?: string;
  /** A JSON file stored as CustomMetadata. */
  readonly metadata?: string;
  /** RFC 3339 or seconds since 1970. */
  readonly buildTime?: string;
  readonly signingCertificate?: string;
  readonly privateKey?: string;
}

export class BuildRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BuildRequestError';
  }
}

/** `a and b and c`, in the user's words. */
function both(items: readonly string[]): string {
  return items.length === 0 ? '' : items.reduce((list, item) => l10n.t('{0} and {1}', list, item));
}

/** Replaces `${workspaceFolder}` (and `${workspaceFolderBasename}`, `${env:NAME}`) as VS Code would. */
export function substitute(
  value: string,
  folder: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string {
  return value.replace(
    /\$\{(workspaceFolder|workspaceFolderBasename|env:([A-Za-z_][A-Za-z0-9_]*))\}/g,
    (whole, name: string, envName?: string) => {
      if (envName !== undefined) return env[envName] ?? '';
      if (folder === undefined)
        throw new BuildRequestError(l10n.t('{0} is used, but there is no workspace folder', whole));
      return name === 'workspaceFolder' ? folder : path.basename(folder);
    },
  );
}

/** Checks a request and resolves its paths against `folder` (the task's or the first workspace folder). */
export function normalizeRequest(
  request: BuildRequest,
  folder: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): BuildRequest {
  const sources = (['ociLayout', 'imageArchive', 'dockerUri', 'rootfs'] as const).filter(
    (k) => typeof request[k] === 'string' && request[k] !== '',
  );
  if (sources.length !== 1) {
    throw new BuildRequestError(
      sources.length === 0
        ? l10n.t('say where the image comes from: one of "ociLayout", "imageArchive", "dockerUri" or "rootfs"')
        : l10n.t('give only one of {0}', both(sources.map((s) => `"${s}"`))),
    );
  }
  if (request.rootfs) {
    rootfsCommand(request.cmd);
    rootfsEnv(request.env);
  } else if (request.cmd !== undefined || request.env !== undefined) {
    throw new BuildRequestError(l10n.t('"cmd" and "env" go with "rootfs" only (an image has its own)'));
  }
  if (typeof request.output !== 'string' || request.output === '')
    throw new BuildRequestError(l10n.t('"output" (the .eif to write) is required'));
  if ((request.signingCertificate === undefined) !== (request.privateKey === undefined)) {
    throw new BuildRequestError(l10n.t('"signingCertificate" and "privateKey" go together: give both or neither'));
  }
  if (request.arch !== undefined && request.arch !== 'x86_64' && request.arch !== 'aarch64') {
    throw new BuildRequestError(
      l10n.t('"arch" is {0}; use "x86_64" or "aarch64"', JSON.stringify(request.arch) ?? String(request.arch)),
    );
  }
  if (request.buildTime !== undefined) parseBuildTime(request.buildTime, '"buildTime"');
  const abs = (p: string) => {
    const s = substitute(p, folder, env);
    if (path.isAbsolute(s)) return s;
    if (folder === undefined)
      throw new BuildRequestError(l10n.t('the relative path {0} needs a workspace folder', JSON.stringify(p)));
    return path.join(folder, s);
  };
  const withRef = (value: string, split: typeof splitImageReference) => {
    const { path: p, reference } = split(substitute(value, folder, env));
    return reference ? `${abs(p)}:${reference}` : abs(p);
  };
  const out: Record<string, unknown> = { output: abs(request.output) };
  if (request.ociLayout) out['ociLayout'] = withRef(request.ociLayout, splitImageReference);
  if (request.imageArchive) out['imageArchive'] = withRef(request.imageArchive, splitArchiveReference);
  if (request.dockerUri) out['dockerUri'] = substitute(request.dockerUri, folder, env);
  if (request.rootfs) {
    out['rootfs'] = abs(request.rootfs);
    out['cmd'] = request.cmd;
    if (request.env !== undefined) out['env'] = [...request.env];
  }
  for (const k of ['blobs', 'metadata', 'signingCertificate', 'privateKey'] as const)
    if (request[k]) out[k] = abs(request[k]);
  for (const k of ['arch', 'name', 'version', 'buildTime'] as const) if (request[k] !== undefined) out[k] = request[k];
  return out as unknown as BuildRequest;
}

/** The words of a rootfs build's `cmd`, split with the engine's command-line rules. */
export function rootfsCommand(cmd: unknown): string[] {
  if (typeof cmd !== 'string' || cmd.trim() === '')
    throw new BuildRequestError(l10n.t('"rootfs" needs "cmd": the command line the enclave runs, e.g. "/app/hello"'));
  const parsed = parseCommandLine(cmd);
  if (!parsed.ok) throw new BuildRequestError(l10n.t('"cmd": {0}', parsed.reason));
  if (parsed.words[0] === '') throw new BuildRequestError(l10n.t('"cmd": the command (the first word) is empty'));
  return [...parsed.words];
}

/** A rootfs build's `env`: `KEY=VALUE` strings, the key not empty. */
export function rootfsEnv(env: unknown): string[] {
  if (env === undefined) return [];
  if (!Array.isArray(env)) throw new BuildRequestError(l10n.t('"env" is a list of "KEY=VALUE" strings'));
  return env.map((e: unknown, i) => {
    if (typeof e !== 'string' || !/^[^=\n\0]+=/.test(e) || /[\n\0]/.test(e))
      throw new BuildRequestError(
        l10n.t('"env" item {0} ({1}) is not KEY=VALUE on one line', i + 1, JSON.stringify(e) ?? String(e)),
      );
    return e;
  });
}

/** The image source of a normalized request. */
export function imageSpecOf(request: BuildRequest): BuildSource {
  if (request.rootfs)
    return { kind: 'rootfs', path: request.rootfs, cmd: rootfsCommand(request.cmd), env: rootfsEnv(request.env) };
  if (request.ociLayout) {
    const { path: p, reference } = splitImageReference(request.ociLayout);
    return { kind: 'oci-layout', path: p, ...(reference ? { reference } : {}) };
  }
  if (request.imageArchive) {
    const { path: p, reference } = splitArchiveReference(request.imageArchive);
    return { kind: 'archive', path: p, ...(reference ? { reference } : {}) };
  }
  return { kind: 'docker', uri: request.dockerUri as string };
}

/** The engine options of a normalized request (signing PEMs and custom metadata are read by the caller). */
export function buildOptionsOf(
  request: BuildRequest,
  extra: Pick<BuildOptions, 'env' | 'signing' | 'customMetadata' | 'cancellation' | 'onProgress' | 'log'>,
): BuildOptions {
  return {
    source: imageSpecOf(request),
    output: request.output,
    ...(request.arch ? { arch: request.arch } : {}),
    ...(request.blobs ? { blobs: request.blobs } : {}),
    ...(request.name !== undefined ? { name: request.name } : {}),
    ...(request.version !== undefined ? { version: request.version } : {}),
    ...(request.buildTime !== undefined ? { buildTime: parseBuildTime(request.buildTime, '"buildTime"') } : {}),
    ...extra,
  };
}

/** Quotes a word for a POSIX shell when it needs it. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The `nitro-dev build-enclave ...` command line that does the same build. */
export function commandLineOf(request: BuildRequest): string {
  const args: [string, string | undefined][] = [
    ['--oci-layout', request.ociLayout],
    ['--image-archive', request.imageArchive],
    ['--docker-uri', request.dockerUri],
    ['--rootfs', request.rootfs],
    ['--cmd', request.cmd],
    ...(request.env ?? []).map((e): [string, string] => ['--env', e]),
    ['--output-file', request.output],
    ['--blobs', request.blobs],
    ['--arch', request.arch],
    ['--name', request.name],
    ['--version', request.version],
    ['--metadata', request.metadata],
    ['--build-time', request.buildTime],
    ['--signing-certificate', request.signingCertificate],
    ['--private-key', request.privateKey],
  ];
  return [
    'nitro-dev',
    'build-enclave',
    ...args.filter(([, v]) => v !== undefined && v !== '').flatMap(([k, v]) => [k, shellWord(v as string)]),
  ].join(' ');
}

/** The blobs step of the build flow: what it offers, and the line shown above the choices. */
export interface BlobsPrompt {
  readonly items: readonly {
    readonly label: string;
    readonly description: string;
    readonly value: 'default' | 'pick';
  }[];
  readonly placeHolder: string;
}

/**
 * What the build flow offers when no blobs folder is set (`status` is that of the default folder,
 * /usr/share/nitro_enclaves/blobs/): to use that folder only when it exists and holds the blobs
 * of at least one architecture; otherwise it says what is wrong with it and offers to browse.
 */
export function blobsPrompt(status: BlobsFolderStatus): BlobsPrompt {
  const pick = {
    label: l10n.t('$(folder-opened) Choose the blobs folder…'),
    description: l10n.t('kernel, cmdline, init, nsm.ko (remembered in settings)'),
    value: 'pick' as const,
  };
  const shown = status.dir.endsWith('/') ? status.dir : `${status.dir}/`;
  const complete = (['x86_64', 'aarch64'] as const).filter((arch) => status.arches[arch].missing.length === 0);
  if (complete.length > 0) {
    return {
      items: [
        {
          label: l10n.t('$(package) Use {0}', shown),
          description: l10n.t("the aws-nitro-enclaves-cli package's blobs ({0})", both(complete)),
          value: 'default',
        },
        pick,
      ],
      placeHolder: l10n.t('Where are the kernel, cmdline, init and nsm.ko?'),
    };
  }
  if (!status.exists) {
    return {
      items: [pick],
      placeHolder: l10n.t(
        '{0} does not exist on this machine (the aws-nitro-enclaves-cli package installs it): choose the folder with the blobs', // eslint-disable-line max-len
        shown,
      ),
    };
  }
  const lacks = (['x86_64', 'aarch64'] as const)
    .map((arch) => l10n.t('{0} lacks {1}', arch, status.arches[arch].missing.join(', ')))
    .join('; ');
  return {
    items: [pick],
    placeHolder: l10n.t('{0} does not hold the blobs ({1}): choose the folder with them', shown, lacks),
  };
}
