// Resolving an image in a store: an OCI layout (index.json, indexes, manifest, config) or a
// classic `docker save` archive (manifest.json), down to one manifest and its layers.
import { createHash } from 'node:crypto';
import { throwIfCancelled } from '../../platform/lifecycle';
import {
  checkConfigPlatform,
  entryNames,
  isIndexMediaType,
  isManifestMediaType,
  layerCompression,
  parseDockerManifest,
  parseImageConfig,
  parseIndex,
  parseJsonBytes,
  parseManifest,
  resolveIndex,
  selectByReference,
  selectDockerEntry,
  shortDigest,
  show,
  type Descriptor,
  type DockerSaveEntry,
  type ImageIndex,
  type PlatformWanted,
} from '../../oci/image';
import {
  ImageSourceError,
  OCI_ARCH,
  type ImageConfig,
  type LayerBlob,
  type Platform,
  type ResolvedImage,
} from '../../oci/model';
import { confinePath } from '../../oci/tar';
import { magicCompression } from './decompress';
import { layerBlob, type LayerExpectation } from './layers';
import { blobPath, hashMember, readJsonBlob, readSmall, type ArchiveStore, type Store } from './store';
import type { OpenImageOptions } from './types';

// ---------------------------------------------------------------------------------------------
// Resolving an image in a store.

/** What resolving finds: the image without what opening it adds (its kind, description and close). */
export type Resolved = Omit<ResolvedImage, 'kind' | 'description' | 'close'>;

function wanted(arch: OpenImageOptions['arch']): PlatformWanted {
  return { architecture: OCI_ARCH[arch ?? 'x86_64'], os: 'linux' };
}

function configPlatform(c: ImageConfig): Platform {
  return c.variant
    ? { architecture: c.architecture, os: c.os, variant: c.variant }
    : { architecture: c.architecture, os: c.os };
}

function checkDiffIdCount(config: ImageConfig, layers: number, what: string): void {
  if (config.diffIds.length !== layers) {
    throw new ImageSourceError(
      'bad-json',
      `${what}: the config lists ${config.diffIds.length} diff_ids for ${layers} layers`,
    );
  }
}

/** Reads the layout's index.json, follows the reference and indexes down to one manifest. */
export async function resolveOci(
  store: Store,
  reference: string | undefined,
  options: OpenImageOptions,
): Promise<Resolved> {
  await checkLayoutVersion(store);
  const indexBytes = await readSmall(store, 'index.json', `${store.label}: index.json`);
  if (!indexBytes)
    throw new ImageSourceError('unknown-format', `${store.label} is not an OCI image layout: it has no index.json`);
  const top = parseIndex(parseJsonBytes(indexBytes, `${store.label}: index.json`), `${store.label}: index.json`);
  throwIfCancelled(options.cancellation, 'opening the image');
  const entry = selectByReference(top, reference, `${store.label}`);
  const repoTags = [...new Set(top.manifests.filter((d) => d.digest === entry.digest).flatMap(entryNames))];
  const want = wanted(options.arch ?? options.defaultArch);
  const { manifestDescriptor, platformNote } = await manifestFor(store, entry, want, options);

  const manifestWhat = `manifest ${shortDigest(manifestDescriptor.digest)}`;
  const manifest = parseManifest(
    (await readJsonBlob(store, manifestDescriptor, manifestWhat)).json,
    `${store.label}: ${manifestWhat}`,
  );
  throwIfCancelled(options.cancellation, 'opening the image');
  const configWhat = `config ${shortDigest(manifest.config.digest)}`;
  const config = parseImageConfig(
    (await readJsonBlob(store, manifest.config, configWhat)).json,
    `${store.label}: ${configWhat}`,
  );
  if (options.arch !== undefined || platformNote !== undefined)
    checkConfigPlatform(config, want, `${store.label}: ${configWhat}`);
  checkDiffIdCount(config, manifest.layers.length, `${store.label}: ${manifestWhat}`);

  const layers: LayerBlob[] = [];
  for (const [i, d] of manifest.layers.entries()) {
    throwIfCancelled(options.cancellation, 'opening the image');
    layers.push(await ociLayer(store, i, d, config, manifestWhat));
  }
  const names = entryNames(entry);
  const ref = reference ?? (names.length > 0 ? names[0] : undefined);
  return {
    manifestDigest: manifestDescriptor.digest,
    configDigest: manifest.config.digest,
    platform: manifestDescriptor.platform ?? configPlatform(config),
    ...(platformNote ? { platformNote } : {}),
    config,
    layers,
    repoTags,
    ...(ref !== undefined ? { reference: ref } : {}),
  };
}

/** Throws unless the store has an oci-layout file of version 1.x.y. */
async function checkLayoutVersion(store: Store): Promise<void> {
  const layoutBytes = await readSmall(store, 'oci-layout', `${store.label}: oci-layout`, 64 * 1024);
  if (!layoutBytes)
    throw new ImageSourceError(
      'unknown-format',
      `${store.label} is not an OCI image layout: it has no oci-layout file`,
    );
  const layoutJson = parseJsonBytes(layoutBytes, `${store.label}: oci-layout`);
  const version =
    layoutJson && typeof layoutJson === 'object' && !Array.isArray(layoutJson)
      ? (layoutJson as Record<string, unknown>)['imageLayoutVersion']
      : undefined;
  if (typeof version !== 'string' || !/^1\.\d+\.\d+$/.test(version)) {
    throw new ImageSourceError(
      'unknown-format',
      `${store.label}: oci-layout has imageLayoutVersion ${show(version)}; version 1.x.y is supported`,
    );
  }
}

/** The manifest an index.json entry names: itself, or the one its image index picks for the platform. */
async function manifestFor(
  store: Store,
  entry: Descriptor,
  want: PlatformWanted,
  options: OpenImageOptions,
): Promise<{ manifestDescriptor: Descriptor; platformNote: string | undefined }> {
  if (isIndexMediaType(entry.mediaType)) {
    const what = `image index ${shortDigest(entry.digest)}`;
    const loadIndex = async (d: Descriptor): Promise<ImageIndex> => {
      throwIfCancelled(options.cancellation, 'opening the image');
      const label = `image index ${shortDigest(d.digest)}`;
      return parseIndex((await readJsonBlob(store, d, label)).json, `${store.label}: ${label}`);
    };
    const index = await loadIndex(entry);
    const choice = await resolveIndex(index, want, loadIndex, `${store.label}: ${what}`, { digest: entry.digest });
    return { manifestDescriptor: choice.descriptor, platformNote: choice.platformNote };
  }
  if (!isManifestMediaType(entry.mediaType)) {
    throw new ImageSourceError(
      'unsupported-media-type',
      `${store.label}: the entry ${show(entryNames(entry)[0] ?? entry.digest)} ` +
        `has media type ${show(entry.mediaType)}, not an image manifest or index`,
    );
  }
  return { manifestDescriptor: entry, platformNote: undefined };
}

/** Layer `i` of a manifest: its blob must be in the store with the size the manifest gives. */
async function ociLayer(
  store: Store,
  i: number,
  d: Descriptor,
  config: ImageConfig,
  manifestWhat: string,
): Promise<LayerBlob> {
  const name = blobPath(d.digest, `${manifestWhat}: layers[${i}]`);
  const member = await store.open(name);
  if (!member) {
    const foreign =
      d.urls && d.urls.length > 0
        ? ' (a non-distributable layer to be fetched from its URLs, which is not supported)'
        : '';
    throw new ImageSourceError(
      'missing-blob',
      `${store.label}: layer ${i} (${d.digest}) is not in the source${foreign}`,
    );
  }
  const size = member.size;
  await member.close();
  if (size !== d.size)
    throw new ImageSourceError(
      'size-mismatch',
      `${store.label}: layer ${i} (${d.digest}) is ${size} bytes; the manifest says ${d.size}`,
    );
  const expected: LayerExpectation = {
    index: i,
    digest: d.digest,
    size: d.size,
    diffId: config.diffIds[i],
    compression: layerCompression(d.mediaType, `${manifestWhat}: layers[${i}]`),
  };
  return layerBlob(store, name, expected, d.mediaType, d.digest);
}

const HEX_JSON = /^([0-9a-f]{64})\.json$/;
const BLOB_NAME = /^blobs\/sha256\/([0-9a-f]{64})$/;

/** Reads a classic `docker save` archive through its manifest.json. */
export async function resolveDockerSave(
  store: ArchiveStore,
  reference: string | undefined,
  options: OpenImageOptions,
): Promise<Resolved> {
  const what = `${store.label}: manifest.json`;
  const bytes = await readSmall(store, 'manifest.json', what);
  if (!bytes) throw new ImageSourceError('unknown-format', `${store.label} has no manifest.json`);
  const entries = parseDockerManifest(parseJsonBytes(bytes, what), what);
  const entry: DockerSaveEntry = selectDockerEntry(entries, reference, store.label);

  const { configName, configBytes, configDigest } = await readDockerConfig(store, entry, what);
  const config = parseImageConfig(
    parseJsonBytes(configBytes, `${store.label}: ${configName}`),
    `${store.label}: ${configName}`,
  );
  const want = wanted(options.arch ?? options.defaultArch);
  if (options.arch !== undefined) checkConfigPlatform(config, want, `${store.label}: ${configName}`);
  checkDiffIdCount(config, entry.layers.length, what);

  const layers: LayerBlob[] = [];
  for (const [i, layerName] of entry.layers.entries()) {
    throwIfCancelled(options.cancellation, 'opening the image');
    layers.push(await dockerLayer(store, i, layerName, config.diffIds[i] as string, what, options));
  }
  const ref = reference ?? entry.repoTags[0];
  return {
    manifestDigest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    configDigest,
    platform: configPlatform(config),
    config,
    layers,
    repoTags: entry.repoTags,
    ...(ref !== undefined ? { reference: ref } : {}),
  };
}

/** The config member an archive entry names, its bytes and digest (checked against a digest in its name). */
async function readDockerConfig(
  store: ArchiveStore,
  entry: DockerSaveEntry,
  what: string,
): Promise<{ configName: string; configBytes: Uint8Array; configDigest: string }> {
  let configName: string;
  try {
    configName = confinePath(entry.config);
  } catch (e) {
    throw new ImageSourceError(
      'bad-json',
      `${what}: Config ${show(entry.config)} is not a safe member name (${e instanceof Error ? e.message : String(e)})`,
    );
  }
  const configBytes = await readSmall(store, configName, `${store.label}: ${configName}`);
  if (!configBytes)
    throw new ImageSourceError(
      'missing-blob',
      `${store.label}: the config ${show(configName)} named by manifest.json is not in the archive`,
    );
  const configDigest = `sha256:${createHash('sha256').update(configBytes).digest('hex')}`;
  const named = HEX_JSON.exec(configName) ?? BLOB_NAME.exec(configName);
  if (named && `sha256:${named[1]}` !== configDigest) {
    throw new ImageSourceError(
      'digest-mismatch',
      `${store.label}: the config ${show(configName)} does not match the digest in its name: got ${configDigest}`,
    );
  }
  return { configName, configBytes, configDigest };
}

/** Layer `i` of an archive entry: its member, compression (from its first bytes) and stored digest. */
async function dockerLayer(
  store: ArchiveStore,
  i: number,
  layerName: string,
  diffId: string,
  what: string,
  options: OpenImageOptions,
): Promise<LayerBlob> {
  let name: string;
  try {
    name = confinePath(layerName);
  } catch (e) {
    throw new ImageSourceError(
      'bad-json',
      `${what}: Layers[${i}] ${show(layerName)} is not a safe member name ` +
        `(${e instanceof Error ? e.message : String(e)})`,
    );
  }
  const member = await store.open(name);
  if (!member)
    throw new ImageSourceError(
      'missing-blob',
      `${store.label}: layer ${i} (${show(name)}) named by manifest.json is not in the archive`,
    );
  const head = await member.source.read(member.offset, Math.min(4, member.size));
  const compression = magicCompression(head);
  const fromName = BLOB_NAME.exec(name);
  const storedDigest = fromName
    ? `sha256:${fromName[1]}`
    : compression === 'none'
      ? diffId
      : await hashMember(member, options.cancellation, `hashing layer ${i}`);
  await member.close();
  const mediaType =
    compression === 'gzip'
      ? 'application/vnd.docker.image.rootfs.diff.tar.gzip'
      : compression === 'zstd'
        ? 'application/vnd.oci.image.layer.v1.tar+zstd'
        : 'application/vnd.oci.image.layer.v1.tar';
  const expected: LayerExpectation = {
    index: i,
    ...(fromName || compression !== 'none' ? { digest: storedDigest } : {}),
    size: member.size,
    diffId,
    compression,
  };
  return layerBlob(store, name, expected, mediaType, storedDigest);
}
