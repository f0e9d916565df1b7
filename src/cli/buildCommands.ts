// build-enclave: an OCI image (layout directory, OCI or docker-save archive, or a Docker image
// through `docker save`) to an .eif, with nitro-cli's Measurements JSON on stdout.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { formatJson, splitArchiveReference, splitImageReference, parseBuildTime, parseCustomMetadata } from '../engine';
import { buildEnclave, buildProgressText, readPem, type BuildProgress, type ImageSpec } from '../engine/node';
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
  summary: 'Builds an enclave image from an OCI image, without Docker',
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
    const source = imageSpecOf(args, resolve);

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
  const given = [layout && '--oci-layout', archive && '--image-archive', docker && '--docker-uri'].filter(Boolean);
  if (given.length === 0)
    throw new UsageError(
      'one of the following arguments is required: ' +
        '--oci-layout <DIR[:TAG]>, --image-archive <TAR>, --docker-uri <URI>',
      command,
    );
  if (given.length > 1) throw new UsageError(`the argument '${given[0]}' cannot be used with '${given[1]}'`, command);
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

/** The image to build from: `--oci-layout`'s, `--image-archive`'s or `--docker-uri`'s. */
function imageSpecOf(args: ParsedArgs, resolve: (p: string) => string): ImageSpec {
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
