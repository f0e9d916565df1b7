// build-enclave: an OCI image (layout directory, OCI or docker-save archive, or a Docker image
// through `docker save`), or a plain folder with a command (`--rootfs DIR --cmd ...`, not a nitro-cli
// interface), to an .eif, with nitro-cli's Measurements JSON on stdout.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import {
  formatJson,
  parseCommandLine,
  splitArchiveReference,
  splitImageReference,
  parseBuildTime,
  parseCustomMetadata,
} from '../engine';
import { buildEnclave, buildProgressText, readPem, type BuildProgress, type BuildSource } from '../engine/node';
import { UsageError, optionValue, type ParsedArgs } from './args';
import { reportFailure, type FailureStyle } from './errors';
import type { CliIo, Command } from './types';

function progressPrinter(io: CliIo): ((p: BuildProgress) => void) | undefined {
  if (!io.stderrIsTty) return undefined;
  let last = '';
  return (p) => {
    const line = buildProgressText(p);
    if (line === last) return;
    last = line;
    io.stderr(`\r\x1b[K${line}`);
  };
}

/** Whatever is not an I/O, EIF, signing or hashing failure is a build failure: E48. */
const BUILD_FAILURES: FailureStyle = {
  during: 'signing',
  fallback: 48,
  cancelled: 'Build cancelled; nothing was written.',
};

export const buildEnclaveCommand: Command = {
  name: 'build-enclave',
  cancellable: true,
  summary: 'Builds an enclave image from an OCI image or a folder (--rootfs, not in nitro-cli), without Docker',
  options: [
    { name: 'oci-layout', value: 'DIR[:TAG]', help: 'An OCI image layout directory, optionally with the tag to use' },
    {
      name: 'image-archive',
      value: 'TAR',
      help: 'An OCI archive or a `docker save` archive (name:tag may follow after a colon)',
    },
    {
      name: 'docker-uri',
      value: 'URI',
      help: 'A Docker image, exported with `docker save` (needs the docker CLI and daemon)',
    },
    {
      name: 'rootfs',
      value: 'DIR',
      help:
        'A plain folder as the root file system, with --cmd (not a nitro-cli option): owner 0:0, fixed times, ' +
        "the folder's own modes; symlinks are stored, never followed",
    },
    {
      name: 'cmd',
      value: 'COMMAND',
      help: 'With --rootfs: the command line the enclave runs, e.g. "/app/hello --port 5000" (quotes group words)',
    },
    {
      name: 'env',
      value: 'KEY=VALUE',
      multiple: true,
      help: 'With --rootfs: an environment variable of the enclave; repeat for more',
    },
    { name: 'output-file', value: 'output-file', required: true, help: 'Where to write the enclave image (.eif)' },
    {
      name: 'blobs',
      value: 'DIR',
      help: 'Kernel, cmdline, init and nsm.ko; default $NITRO_CLI_BLOBS, else /usr/share/nitro_enclaves/blobs/',
    },
    {
      name: 'arch',
      value: 'x86_64|aarch64',
      help: "Architecture to build; default the image's (the host's for multi-platform images)",
    },
    {
      name: 'name',
      value: 'name',
      help: 'Image name in the metadata (default: the image reference up to its first colon)',
    },
    { name: 'version', value: 'version', help: 'Image version in the metadata (default: the image ID)' },
    { name: 'metadata', value: 'metadata', help: 'A JSON file (at most 4096 bytes) stored as CustomMetadata' },
    { name: 'build-time', value: 'RFC3339', help: 'Build time in the metadata; default $SOURCE_DATE_EPOCH, else now' },
    {
      name: 'signing-certificate',
      value: 'signing-certificate',
      help: 'PEM certificate to sign the image with (needs --private-key)',
    },
    {
      name: 'private-key',
      value: 'private-key',
      help: 'PEM EC private key matching the certificate (needs --signing-certificate)',
    },
  ],
  async run(args, io) {
    const arch = checkBuildOptions(this, args);
    const resolve = (p: string) => path.resolve(io.cwd, p);
    const output = resolve(optionValue(args, 'output-file') as string);
    const source = imageSpecOf(this, args, resolve);

    try {
      const buildTimeText = optionValue(args, 'build-time');
      const { customMetadata, signing } = await readBuildInputs(args, resolve);
      const onProgress = progressPrinter(io);
      io.stderr('Start building the Enclave Image...\n');
      const blobs = optionValue(args, 'blobs');
      const name = optionValue(args, 'name');
      const version = optionValue(args, 'version');
      const result = await buildEnclave({
        source,
        output,
        ...(arch ? { arch: arch } : {}),
        ...(blobs !== undefined ? { blobs: resolve(blobs) } : {}),
        env: io.env,
        ...(name !== undefined ? { name } : {}),
        ...(version !== undefined ? { version } : {}),
        ...(customMetadata !== undefined ? { customMetadata } : {}),
        ...(buildTimeText !== undefined ? { buildTime: parseBuildTime(buildTimeText) } : {}),
        ...(signing ? { signing } : {}),
        ...(io.cancellation ? { cancellation: io.cancellation } : {}),
        ...(onProgress ? { onProgress } : {}),
        log: (line) => {
          if (onProgress) io.stderr('\r\x1b[K');
          io.stderr(`${line}\n`);
        },
      });
      if (onProgress) io.stderr('\r\x1b[K');
      io.stderr('Enclave Image successfully created.\n');
      io.stdout(formatJson({ Measurements: result.measurements }));
      return 0;
    } catch (e) {
      return reportFailure(io, e, BUILD_FAILURES);
    }
  },
};

/**
 * Refuses other than one image source, a certificate without its key (or a key without it), and an unknown
 * --arch; returns the architecture asked for.
 */
function checkBuildOptions(command: Command, args: ParsedArgs): 'x86_64' | 'aarch64' | undefined {
  const layout = optionValue(args, 'oci-layout');
  const archive = optionValue(args, 'image-archive');
  const docker = optionValue(args, 'docker-uri');
  const rootfs = optionValue(args, 'rootfs');
  const given = [
    layout && '--oci-layout',
    archive && '--image-archive',
    docker && '--docker-uri',
    rootfs && '--rootfs',
  ].filter(Boolean);
  if (given.length === 0)
    throw new UsageError(
      'one of the following arguments is required: ' +
        '--oci-layout <DIR[:TAG]>, --image-archive <TAR>, --docker-uri <URI>, --rootfs <DIR>',
      command,
    );
  if (given.length > 1) throw new UsageError(`the argument '${given[0]}' cannot be used with '${given[1]}'`, command);
  const cmd = optionValue(args, 'cmd');
  const env = args.options.get('env');
  if (rootfs !== undefined && cmd === undefined)
    throw new UsageError("'--rootfs' requires '--cmd <COMMAND>': the program the enclave runs", command);
  if (rootfs === undefined && (cmd !== undefined || env !== undefined))
    throw new UsageError(
      `'${cmd !== undefined ? '--cmd' : '--env'}' goes with '--rootfs' only ` +
        '(an image brings its own command and environment)',
      command,
    );
  const cert = optionValue(args, 'signing-certificate');
  const key = optionValue(args, 'private-key');
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError(
      cert === undefined
        ? "'--private-key' requires '--signing-certificate'"
        : "'--signing-certificate' requires '--private-key'",
      command,
    );
  }
  const arch = optionValue(args, 'arch');
  if (arch !== undefined && arch !== 'x86_64' && arch !== 'aarch64') {
    throw new UsageError(
      `invalid value '${arch}' for '--arch <x86_64|aarch64>' [possible values: x86_64, aarch64]`,
      command,
    );
  }
  return arch;
}

/** `--cmd` split into words with the engine's command-line rules (quotes group, nothing else is special). */
function commandWords(command: Command, text: string): string[] {
  const parsed = parseCommandLine(text);
  if (!parsed.ok) throw new UsageError(`invalid value for '--cmd <COMMAND>': ${parsed.reason}`, command);
  if (parsed.words.length === 0 || parsed.words[0] === '')
    throw new UsageError("invalid value for '--cmd <COMMAND>': the command (the first word) is empty", command);
  return [...parsed.words];
}

/** `--env` values: KEY=VALUE each, the key not empty, on one line. */
function envLines(command: Command, args: ParsedArgs): string[] {
  const values = args.options.get('env');
  const list = Array.isArray(values) ? (values as readonly string[]) : [];
  return list.map((e) => {
    if (!/^[^=]+=/.test(e) || /[\n\0]/.test(e))
      throw new UsageError(`invalid value '${e}' for '--env <KEY=VALUE>': it must be KEY=VALUE on one line`, command);
    return e;
  });
}

/** The image to build from: `--oci-layout`'s, `--image-archive`'s, `--docker-uri`'s or `--rootfs`'s. */
function imageSpecOf(command: Command, args: ParsedArgs, resolve: (p: string) => string): BuildSource {
  const rootfs = optionValue(args, 'rootfs');
  if (rootfs !== undefined)
    return {
      kind: 'rootfs',
      path: resolve(rootfs),
      cmd: commandWords(command, optionValue(args, 'cmd') as string),
      env: envLines(command, args),
    };
  const layout = optionValue(args, 'oci-layout');
  const archive = optionValue(args, 'image-archive');
  if (layout !== undefined) {
    const { path: dir, reference } = splitImageReference(layout);
    return { kind: 'oci-layout', path: resolve(dir), ...(reference ? { reference } : {}) };
  }
  if (archive !== undefined) {
    const { path: file, reference } = splitArchiveReference(archive);
    return { kind: 'archive', path: resolve(file), ...(reference ? { reference } : {}) };
  }
  return { kind: 'docker', uri: optionValue(args, 'docker-uri') as string };
}

/** The files the options name, read: `--metadata`'s custom metadata, and the signing certificate and key. */
async function readBuildInputs(
  args: ParsedArgs,
  resolve: (p: string) => string,
): Promise<{
  customMetadata: unknown;
  signing: { certificatePem: string; privateKeyPem: string } | undefined;
}> {
  const metadataFile = optionValue(args, 'metadata');
  const customMetadata =
    metadataFile !== undefined ? parseCustomMetadata(await readFile(resolve(metadataFile)), metadataFile) : undefined;
  const cert = optionValue(args, 'signing-certificate');
  const key = optionValue(args, 'private-key');
  const signing =
    cert !== undefined && key !== undefined
      ? { certificatePem: await readPem(resolve(cert)), privateKeyPem: await readPem(resolve(key)) }
      : undefined;
  return { customMetadata, signing };
}
