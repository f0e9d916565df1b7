// Parsing and validation of the JSON documents of container images: the OCI image index (and
// Docker's manifest list), the image manifest (OCI and Docker v2 schema 2), the image
// configuration, and the `manifest.json` of `docker save` archives. Also the choices made on
// them: which manifest of an index fits a platform, which entry a reference (tag) names.
//
// Every document is untrusted. Its size is checked before it is read (MAX_JSON_SIZE), every field
// used is type-checked, digests must be well formed before they are used as file names, and
// counts are capped, so a hostile image fails with an ImageSourceError that names the document
// and the rule, never with a crash or an allocation sized by the input.
import { ImageSourceError, type Compression, type ImageConfig, type Platform } from './model';
import { jsonDepthExceededAt, jsonTooDeepMessage } from '../eif/metadata';

/** Largest index, manifest, config or manifest.json accepted (bytes). */
export const MAX_JSON_SIZE = 4 * 1024 * 1024;
/** Most layers an image may have. */
export const MAX_LAYERS = 1000;
/** Most entries an index may list. */
export const MAX_INDEX_ENTRIES = 10000;
/** Deepest chain of indexes pointing to indexes that is followed (the top index is depth 0). */
export const MAX_INDEX_DEPTH = 4;

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

const LAYER_TYPES: ReadonlyMap<string, Compression> = new Map<string, Compression>([
  ['application/vnd.oci.image.layer.v1.tar', 'none'],
  ['application/vnd.oci.image.layer.v1.tar+gzip', 'gzip'],
  ['application/vnd.oci.image.layer.v1.tar+zstd', 'zstd'],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar', 'none'],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'gzip'],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar+zstd', 'zstd'],
  ['application/vnd.docker.image.rootfs.diff.tar', 'none'],
  ['application/vnd.docker.image.rootfs.diff.tar.gzip', 'gzip'],
  ['application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', 'gzip'],
]);

export const isIndexMediaType = (t: string | undefined): boolean =>
  t === MEDIA_TYPES.ociIndex || t === MEDIA_TYPES.dockerList;
export const isManifestMediaType = (t: string | undefined): boolean =>
  t === MEDIA_TYPES.ociManifest || t === MEDIA_TYPES.dockerManifest;
export const isConfigMediaType = (t: string | undefined): boolean =>
  t === MEDIA_TYPES.ociConfig || t === MEDIA_TYPES.dockerConfig;

/** The compression of a layer media type; 'unsupported-media-type' for anything that is not a tar layer. */
export function layerCompression(mediaType: string, what: string): Compression {
  const c = LAYER_TYPES.get(mediaType);
  if (c === undefined) {
    throw new ImageSourceError(
      'unsupported-media-type',
      `${what}: the layer media type ${show(mediaType)} is not a tar layer this builder can read ` +
        '(OCI layer tar, +gzip, +zstd, or Docker rootfs.diff.tar.gzip)',
    );
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

/** A value quoted for a message, cut to a readable length. */
export function show(v: unknown, max = 120): string {
  let s: string;
  try {
    s =
      typeof v === 'string'
        ? JSON.stringify(v.length > max ? `${v.slice(0, max)}…` : v)
        : (JSON.stringify(v) ?? String(v));
  } catch {
    s = String(v);
  }
  return s.length > max + 10 ? `${s.slice(0, max)}…` : s;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: Record<string, unknown>, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
const get = (o: Record<string, unknown>, k: string): unknown => (has(o, k) ? o[k] : undefined);

function bad(what: string, message: string): ImageSourceError {
  return new ImageSourceError('bad-json', `${what}: ${message}`);
}

function objectAt(v: unknown, what: string, field: string): Record<string, unknown> {
  if (!isObject(v)) throw bad(what, `${field} must be a JSON object, not ${typeName(v)}`);
  return v;
}

function typeName(v: unknown): string {
  if (v === undefined) return 'absent';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${show(v, 40)}`;
}

function stringAt(o: Record<string, unknown>, key: string, what: string, field = key): string {
  const v = get(o, key);
  if (typeof v !== 'string')
    throw bad(what, `${field} must be a string, not ${v === undefined ? 'absent' : typeName(v)}`);
  return v;
}

function optionalString(o: Record<string, unknown>, key: string, what: string, field = key): string | undefined {
  const v = get(o, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw bad(what, `${field} must be a string, not ${typeName(v)}`);
  return v;
}

function stringArray(v: unknown, what: string, field: string, max = 100000): string[] {
  if (!Array.isArray(v)) throw bad(what, `${field} must be an array of strings, not ${typeName(v)}`);
  if (v.length > max) throw bad(what, `${field} has ${v.length} entries; at most ${max} are accepted`);
  v.forEach((s, i) => {
    if (typeof s !== 'string') throw bad(what, `${field}[${i}] must be a string, not ${typeName(s)}`);
  });
  return [...(v as string[])];
}

/** A map of string to string (annotations, labels); null or absent is empty. Safe against "__proto__" keys. */
function stringMap(v: unknown, what: string, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw bad(what, `${field} must be an object of strings, not ${typeName(v)}`);
  const entries = Object.entries(v);
  for (const [k, s] of entries) {
    if (typeof s !== 'string') throw bad(what, `${field}[${show(k, 60)}] must be a string, not ${typeName(s)}`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Digests.

export type DigestAlgorithm = 'sha256' | 'sha512';

export interface ParsedDigest {
  readonly algorithm: DigestAlgorithm;
  /** Lower-case hex: 64 digits for sha256, 128 for sha512. */
  readonly hex: string;
}

const DIGEST = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;

/** Whether `d` is `sha256:<64 lower-case hex>` or `sha512:<128 lower-case hex>`. */
export function isDigest(d: unknown): d is string {
  return typeof d === 'string' && DIGEST.test(d);
}

/** Checks a digest string; throws 'bad-digest' naming `what` when it is not one we can verify. */
export function parseDigest(d: unknown, what: string): ParsedDigest {
  if (!isDigest(d)) {
    const detail =
      typeof d !== 'string'
        ? `is ${typeName(d)}, not a string`
        : /^[a-z0-9]+([+._-][a-z0-9]+)*:/.test(d) && !/^sha(256|512):/.test(d)
          ? 'uses an algorithm this builder cannot check (sha256 and sha512 are supported)'
          : 'is not "sha256:" followed by 64 lower-case hex digits';
    throw new ImageSourceError('bad-digest', `${what}: the digest ${show(d, 90)} ${detail}`);
  }
  const colon = d.indexOf(':');
  return { algorithm: d.slice(0, colon) as DigestAlgorithm, hex: d.slice(colon + 1) };
}

/** `sha256:0123456789ab…` (the algorithm and 12 hex digits), for messages. */
export function shortDigest(d: string): string {
  const colon = d.indexOf(':');
  return colon < 0 || d.length <= colon + 13 ? d : `${d.slice(0, colon + 13)}…`;
}

// ---------------------------------------------------------------------------------------------
// JSON documents.

/** Refuses a JSON document before reading it when its size is above MAX_JSON_SIZE. */
export function checkJsonSize(size: number, what: string, max = MAX_JSON_SIZE): void {
  if (!Number.isSafeInteger(size) || size < 0) throw bad(what, `the size ${show(size, 40)} is not a byte count`);
  if (size > max)
    throw bad(
      what,
      `${size} bytes is larger than the ${max} bytes accepted for an image JSON document; it is not read`,
    );
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes and parses a JSON document (UTF-8, at most MAX_JSON_SIZE bytes); 'bad-json' when it does not parse. */
export function parseJsonBytes(bytes: Uint8Array, what: string, max = MAX_JSON_SIZE): unknown {
  checkJsonSize(bytes.length, what, max);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw bad(what, 'is not valid UTF-8 text');
  }
  // Refused before parsing: deeply nested values would overflow the stack of whatever walks them later.
  const deep = jsonDepthExceededAt(text);
  if (deep >= 0) throw bad(what, jsonTooDeepMessage('', deep).trimStart());
  try {
    return JSON.parse(text);
  } catch (e) {
    throw bad(what, `is not valid JSON (${e instanceof Error ? e.message.slice(0, 200) : String(e)})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Descriptors, indexes, manifests.

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations: Readonly<Record<string, string>>;
  readonly platform?: Platform;
  readonly urls?: readonly string[];
}

export interface ImageIndex {
  readonly schemaVersion: 2;
  /** The document's own mediaType field, when present. */
  readonly mediaType?: string;
  readonly manifests: readonly Descriptor[];
  readonly annotations: Readonly<Record<string, string>>;
}

export interface ImageManifest {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly annotations: Readonly<Record<string, string>>;
}

const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

export function parsePlatform(v: unknown, what: string, field = 'platform'): Platform {
  const o = objectAt(v, what, field);
  const architecture = stringAt(o, 'architecture', what, `${field}.architecture`);
  const os = stringAt(o, 'os', what, `${field}.os`);
  const variant = optionalString(o, 'variant', what, `${field}.variant`);
  return variant === undefined || variant === '' ? { architecture, os } : { architecture, os, variant };
}

export function parseDescriptor(v: unknown, what: string, field: string): Descriptor {
  const o = objectAt(v, what, field);
  const mediaType = stringAt(o, 'mediaType', what, `${field}.mediaType`);
  if (!MEDIA_TYPE.test(mediaType)) throw bad(what, `${field}.mediaType ${show(mediaType)} is not a media type`);
  const digest = get(o, 'digest');
  parseDigest(digest, `${what}: ${field}.digest`);
  const size = get(o, 'size');
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw bad(what, `${field}.size must be a non-negative integer below 2^53, not ${typeName(size)}`);
  }
  const annotations = stringMap(get(o, 'annotations'), what, `${field}.annotations`);
  const platform =
    get(o, 'platform') === undefined || get(o, 'platform') === null
      ? undefined
      : parsePlatform(get(o, 'platform'), what, `${field}.platform`);
  const urlsValue = get(o, 'urls');
  const urls =
    urlsValue === undefined || urlsValue === null ? undefined : stringArray(urlsValue, what, `${field}.urls`, 100);
  return {
    mediaType,
    digest: digest as string,
    size,
    annotations,
    ...(platform ? { platform } : {}),
    ...(urls ? { urls } : {}),
  };
}

function schemaVersion2(o: Record<string, unknown>, what: string): void {
  const v = get(o, 'schemaVersion');
  if (v !== 2)
    throw bad(
      what,
      `schemaVersion must be 2, not ${v === undefined ? 'absent' : typeName(v)}` +
        `${v === 1 ? ' (Docker image manifest v2 schema 1 is not supported)' : ''}`,
    );
}

/** An OCI image index (index.json of a layout, or an index blob) or a Docker manifest list. */
export function parseIndex(json: unknown, what: string): ImageIndex {
  const o = objectAt(json, what, 'the document');
  schemaVersion2(o, what);
  const mediaType = optionalString(o, 'mediaType', what);
  if (mediaType !== undefined && !isIndexMediaType(mediaType)) {
    throw bad(
      what,
      `mediaType ${show(mediaType)} is not an image index (${MEDIA_TYPES.ociIndex} or ${MEDIA_TYPES.dockerList})`,
    );
  }
  const list = get(o, 'manifests');
  if (!Array.isArray(list))
    throw bad(what, `manifests must be an array, not ${list === undefined ? 'absent' : typeName(list)}`);
  if (list.length > MAX_INDEX_ENTRIES)
    throw bad(what, `lists ${list.length} manifests; at most ${MAX_INDEX_ENTRIES} are accepted`);
  const manifests = list.map((d, i) => parseDescriptor(d, what, `manifests[${i}]`));
  const annotations = stringMap(get(o, 'annotations'), what, 'annotations');
  return { schemaVersion: 2, ...(mediaType ? { mediaType } : {}), manifests, annotations };
}

/** An OCI image manifest or a Docker v2 schema 2 manifest. */
export function parseManifest(json: unknown, what: string): ImageManifest {
  const o = objectAt(json, what, 'the document');
  schemaVersion2(o, what);
  const mediaType = optionalString(o, 'mediaType', what);
  if (mediaType !== undefined && !isManifestMediaType(mediaType)) {
    if (isIndexMediaType(mediaType))
      throw bad(what, `is an image index (${mediaType}), where an image manifest was expected`);
    throw bad(
      what,
      `mediaType ${show(mediaType)} is not an image manifest ` +
        `(${MEDIA_TYPES.ociManifest} or ${MEDIA_TYPES.dockerManifest})`,
    );
  }
  if (mediaType === undefined && has(o, 'manifests') && !has(o, 'config'))
    throw bad(what, 'is an image index, where an image manifest was expected');
  const config = parseDescriptor(get(o, 'config'), what, 'config');
  if (!isConfigMediaType(config.mediaType)) {
    throw new ImageSourceError(
      'unsupported-media-type',
      `${what}: the config media type ${show(config.mediaType)} is not a container image configuration ` +
        `(${MEDIA_TYPES.ociConfig} or ${MEDIA_TYPES.dockerConfig}); this artifact is not a runnable image`,
    );
  }
  const list = get(o, 'layers');
  if (!Array.isArray(list))
    throw bad(what, `layers must be an array, not ${list === undefined ? 'absent' : typeName(list)}`);
  if (list.length > MAX_LAYERS) throw bad(what, `lists ${list.length} layers; at most ${MAX_LAYERS} are accepted`);
  const layers = list.map((d, i) => parseDescriptor(d, what, `layers[${i}]`));
  layers.forEach((l, i) => layerCompression(l.mediaType, `${what}: layers[${i}]`));
  const annotations = stringMap(get(o, 'annotations'), what, 'annotations');
  return { schemaVersion: 2, ...(mediaType ? { mediaType } : {}), config, layers, annotations };
}

/** What a descriptor's target is, from its media type (or, for an index, from the document). */
export type DocumentKind = 'index' | 'manifest';

/** Whether a parsed JSON document (of unknown media type) is an index or a manifest. */
export function documentKind(json: unknown, what: string): DocumentKind {
  const o = objectAt(json, what, 'the document');
  const mediaType = get(o, 'mediaType');
  if (typeof mediaType === 'string' && isIndexMediaType(mediaType)) return 'index';
  if (typeof mediaType === 'string' && isManifestMediaType(mediaType)) return 'manifest';
  if (has(o, 'manifests') && !has(o, 'config')) return 'index';
  if (has(o, 'config')) return 'manifest';
  throw bad(what, 'is neither an image index nor an image manifest');
}

// ---------------------------------------------------------------------------------------------
// The image configuration.

function nullableStrings(c: Record<string, unknown>, key: string, what: string): string[] | null {
  const v = get(c, key);
  if (v === undefined || v === null) return null;
  return stringArray(v, what, `config.${key}`);
}

/** Maps an OCI image config / Docker container image JSON to ImageConfig. */
export function parseImageConfig(json: unknown, what: string): ImageConfig {
  const o = objectAt(json, what, 'the document');
  const architecture = stringAt(o, 'architecture', what);
  const os = stringAt(o, 'os', what);
  const variantValue = optionalString(o, 'variant', what);
  const configValue = get(o, 'config');
  const c = configValue === undefined || configValue === null ? {} : objectAt(configValue, what, 'config');
  const envValue = get(c, 'Env');
  const env = envValue === undefined || envValue === null ? [] : stringArray(envValue, what, 'config.Env');
  const workingDir = optionalString(c, 'WorkingDir', what, 'config.WorkingDir');
  const user = optionalString(c, 'User', what, 'config.User');
  const labels = stringMap(get(c, 'Labels'), what, 'config.Labels');
  const created = optionalString(o, 'created', what);
  const rootfsValue = get(o, 'rootfs');
  let diffIds: string[] = [];
  if (rootfsValue !== undefined && rootfsValue !== null) {
    const rootfs = objectAt(rootfsValue, what, 'rootfs');
    const type = optionalString(rootfs, 'type', what, 'rootfs.type');
    if (type !== undefined && type !== 'layers') throw bad(what, `rootfs.type must be "layers", not ${show(type)}`);
    const ids = get(rootfs, 'diff_ids');
    if (ids !== undefined && ids !== null) {
      diffIds = stringArray(ids, what, 'rootfs.diff_ids', MAX_LAYERS);
      diffIds.forEach((d, i) => parseDigest(d, `${what}: rootfs.diff_ids[${i}]`));
    }
  }
  return {
    architecture,
    os,
    ...(variantValue ? { variant: variantValue } : {}),
    cmd: nullableStrings(c, 'Cmd', what),
    entrypoint: nullableStrings(c, 'Entrypoint', what),
    env,
    ...(workingDir ? { workingDir } : {}),
    ...(user ? { user } : {}),
    labels,
    ...(created !== undefined ? { created } : {}),
    diffIds,
    raw: json,
  };
}

// ---------------------------------------------------------------------------------------------
// `docker save` manifest.json.

export interface DockerSaveEntry {
  /** Archive member name of the config JSON. */
  readonly config: string;
  readonly repoTags: readonly string[];
  /** Archive member names of the layers, base first. */
  readonly layers: readonly string[];
  /** `LayerSources`: descriptors by diff_id (foreign layers), when present. */
  readonly layerSources: Readonly<Record<string, Descriptor>>;
}

/** The `manifest.json` of a `docker save` archive: an array of {Config, RepoTags, Layers}. */
export function parseDockerManifest(json: unknown, what: string): DockerSaveEntry[] {
  if (!Array.isArray(json)) throw bad(what, `must be an array of images, not ${typeName(json)}`);
  if (json.length === 0) throw bad(what, 'lists no images');
  if (json.length > MAX_INDEX_ENTRIES)
    throw bad(what, `lists ${json.length} images; at most ${MAX_INDEX_ENTRIES} are accepted`);
  return json.map((item, i) => {
    const field = `[${i}]`;
    const o = objectAt(item, what, field);
    const config = stringAt(o, 'Config', what, `${field}.Config`);
    const tagsValue = get(o, 'RepoTags');
    const repoTags =
      tagsValue === undefined || tagsValue === null ? [] : stringArray(tagsValue, what, `${field}.RepoTags`);
    const layersValue = get(o, 'Layers');
    const layers = layersValue === null ? [] : stringArray(layersValue, what, `${field}.Layers`, MAX_LAYERS);
    const sources = get(o, 'LayerSources');
    const layerSources: Record<string, Descriptor> = {};
    if (sources !== undefined && sources !== null) {
      const s = objectAt(sources, what, `${field}.LayerSources`);
      const pairs = Object.entries(s);
      if (pairs.length > MAX_LAYERS)
        throw bad(what, `${field}.LayerSources has ${pairs.length} entries; at most ${MAX_LAYERS} are accepted`);
      const entries = pairs.map(([k, d]) => {
        parseDigest(k, `${what}: ${field}.LayerSources key`);
        return [k, parseDescriptor(d, what, `${field}.LayerSources[${show(k, 80)}]`)] as const;
      });
      Object.assign(layerSources, Object.fromEntries(entries));
    }
    return { config, repoTags, layers, layerSources };
  });
}

// ---------------------------------------------------------------------------------------------
// References.

export const REF_NAME = 'org.opencontainers.image.ref.name';
export const CONTAINERD_NAME = 'io.containerd.image.name';

/**
 * A Docker-style reference in its canonical form: `busybox` → `docker.io/library/busybox:latest`,
 * `me/app:1` → `docker.io/me/app:1`, `registry:5000/app` → `registry:5000/app:latest`; digest
 * references keep their digest. Returns undefined for strings that are not references.
 */
export function normalizeReference(ref: string): string | undefined {
  if (ref.length === 0 || ref.length > 512 || /[\s\0]/.test(ref)) return undefined;
  let name = ref;
  let suffix = '';
  const at = name.indexOf('@');
  if (at >= 0) {
    suffix = name.slice(at);
    name = name.slice(0, at);
  }
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > slash) {
    suffix = name.slice(colon) + suffix;
    name = name.slice(0, colon);
  } else if (at < 0) {
    suffix = ':latest';
  }
  if (name.length === 0) return undefined;
  const first = name.split('/')[0] as string;
  const hasDomain = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasDomain) name = `docker.io/${name}`;
  if (/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//.test(name)) {
    name = `docker.io/${name.slice(name.indexOf('/') + 1)}`;
    if (!name.slice('docker.io/'.length).includes('/')) name = `docker.io/library/${name.slice('docker.io/'.length)}`;
  }
  return name + suffix;
}

/** Whether two references name the same image (exact, or equal once normalised). */
export function sameReference(a: string, b: string): boolean {
  if (a === b) return true;
  const na = normalizeReference(a);
  return na !== undefined && na === normalizeReference(b);
}

/** The names an index entry carries: its ref.name and containerd image name annotations. */
export function entryNames(d: Descriptor): string[] {
  const out: string[] = [];
  const ref = d.annotations[REF_NAME];
  const full = d.annotations[CONTAINERD_NAME];
  if (ref !== undefined && ref !== '') out.push(ref);
  if (full !== undefined && full !== '' && full !== ref) out.push(full);
  return out;
}

/** The tags an image source holds, for an error text: "it has a, b, …" (at most 30, each shortened). */
function tagListing(names: readonly string[]): string {
  const tags = [...new Set(names)];
  return tags.length === 0
    ? 'it has no tagged images'
    : `it has ${tags
        .map((t) => show(t, 80))
        .slice(0, 30)
        .join(', ')}${tags.length > 30 ? `, … (${tags.length} in all)` : ''}`;
}

/**
 * The entry of a layout's index.json that `reference` names (by `org.opencontainers.image.ref.name`,
 * or the full name in `io.containerd.image.name`). Without a reference, the only image of the
 * index. Throws 'no-such-tag' listing the tags otherwise.
 */
export function selectByReference(index: ImageIndex, reference: string | undefined, what: string): Descriptor {
  const usable = index.manifests.filter((d) => isIndexMediaType(d.mediaType) || isManifestMediaType(d.mediaType));
  const listing = tagListing(usable.flatMap(entryNames));
  if (reference === undefined || reference === '') {
    const digests = new Set(usable.map((d) => d.digest));
    if (digests.size === 1) return usable[0] as Descriptor;
    if (digests.size === 0) throw new ImageSourceError('no-such-tag', `${what} lists no image manifests`);
    throw new ImageSourceError('no-such-tag', `${what} holds ${digests.size} images and no tag was given; ${listing}`);
  }
  const exact = usable.filter((d) => entryNames(d).includes(reference));
  const found = exact.length > 0 ? exact : usable.filter((d) => entryNames(d).some((n) => sameReference(n, reference)));
  const digests = new Set(found.map((d) => d.digest));
  if (digests.size === 1) return found[0] as Descriptor;
  if (digests.size === 0)
    throw new ImageSourceError('no-such-tag', `${what} has no image tagged ${show(reference, 80)}; ${listing}`);
  throw new ImageSourceError(
    'no-such-tag',
    `${what} has ${digests.size} different images tagged ${show(reference, 80)}`,
  );
}

/** The entry of a `docker save` manifest.json that `reference` names (RepoTags), or the only one. */
export function selectDockerEntry(
  entries: readonly DockerSaveEntry[],
  reference: string | undefined,
  what: string,
): DockerSaveEntry {
  const listing = tagListing(entries.flatMap((e) => e.repoTags));
  if (reference === undefined || reference === '') {
    if (entries.length === 1) return entries[0] as DockerSaveEntry;
    throw new ImageSourceError(
      'no-such-tag',
      `${what} holds ${entries.length} images and no tag was given; ${listing}`,
    );
  }
  const exact = entries.filter((e) => e.repoTags.includes(reference));
  const found = exact.length > 0 ? exact : entries.filter((e) => e.repoTags.some((t) => sameReference(t, reference)));
  if (found.length === 1) return found[0] as DockerSaveEntry;
  if (found.length === 0) {
    // `docker save <image>@sha256:...` and saves by ID write no RepoTags: the only image then fits.
    if (entries.length === 1 && (entries[0] as DockerSaveEntry).repoTags.length === 0)
      return entries[0] as DockerSaveEntry;
    throw new ImageSourceError('no-such-tag', `${what} has no image tagged ${show(reference, 80)}; ${listing}`);
  }
  throw new ImageSourceError('no-such-tag', `${what} has ${found.length} images tagged ${show(reference, 80)}`);
}

// ---------------------------------------------------------------------------------------------
// Platforms.

export interface PlatformWanted {
  /** 'amd64', 'arm64' or any other architecture an index may list. */
  readonly architecture: string;
  /** Default 'linux'. */
  readonly os?: string;
  /** Wanted variant; by default arm64 accepts 'v8' or none, amd64 any. */
  readonly variant?: string;
}

/** `linux/arm64/v8`. */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** Whether an index entry is an attestation (buildx provenance / SBOM), not an image. */
export function isAttestation(d: Descriptor): boolean {
  if (d.annotations['vnd.docker.reference.type'] === 'attestation-manifest') return true;
  return d.platform !== undefined && d.platform.os === 'unknown' && d.platform.architecture === 'unknown';
}

/** How well a platform fits: undefined when it does not, lower is better. */
export function platformRank(p: Platform, want: PlatformWanted): number | undefined {
  if (p.os !== (want.os ?? 'linux') || p.architecture !== want.architecture) return undefined;
  if (want.variant !== undefined) {
    if (p.variant === want.variant) return 0;
    return p.variant === undefined ? 1 : undefined;
  }
  if (p.variant === undefined) return 0;
  if (want.architecture === 'arm64') return p.variant === 'v8' ? 0 : undefined;
  if (want.architecture === 'amd64') return p.variant === 'v1' ? 1 : 2;
  return undefined;
}

export interface ManifestChoice {
  readonly descriptor: Descriptor;
  /** E.g. `picked linux/arm64/v8 (sha256:0123456789ab…) from 3 manifests`. */
  readonly platformNote: string;
}

/**
 * The entry of an image index that fits `want`: an image manifest whose platform matches (os
 * linux, the architecture, an acceptable variant), skipping attestation manifests. An index
 * whose only image entry has no platform yields that entry (its config is checked later). A
 * nested index entry is returned when nothing at this level matches and it could (platform
 * absent or matching); the caller resolves it with resolveIndex. Throws 'no-matching-platform'
 * listing the platforms the index has.
 */
export function selectManifest(index: ImageIndex, want: PlatformWanted, what = 'the image index'): ManifestChoice {
  const images = index.manifests.filter(
    (d) => !isAttestation(d) && (isManifestMediaType(d.mediaType) || isIndexMediaType(d.mediaType)),
  );
  const count = `${index.manifests.length} manifest${index.manifests.length === 1 ? '' : 's'}`;
  let best: { d: Descriptor; rank: number } | undefined;
  for (const d of images) {
    if (!isManifestMediaType(d.mediaType) || d.platform === undefined) continue;
    const rank = platformRank(d.platform, want);
    if (rank !== undefined && (best === undefined || rank < best.rank)) best = { d, rank };
  }
  if (best) {
    const picked = `${formatPlatform(best.d.platform as Platform)} (${shortDigest(best.d.digest)})`;
    return { descriptor: best.d, platformNote: `picked ${picked} from ${count}` };
  }
  const plainManifests = images.filter((d) => isManifestMediaType(d.mediaType));
  if (plainManifests.length === 1 && images.length === 1 && plainManifests[0]?.platform === undefined) {
    const d = plainManifests[0] as Descriptor;
    return {
      descriptor: d,
      platformNote: `picked the only manifest (${shortDigest(d.digest)}, no platform given) from ${count}`,
    };
  }
  const nested = images.find(
    (d) => isIndexMediaType(d.mediaType) && (d.platform === undefined || platformRank(d.platform, want) !== undefined),
  );
  if (nested)
    return {
      descriptor: nested,
      platformNote: `followed the nested index ${shortDigest(nested.digest)} from ${count}`,
    };
  throw noMatch(index, want, what);
}

function wantedText(want: PlatformWanted): string {
  return `${want.os ?? 'linux'}/${want.architecture}${want.variant ? `/${want.variant}` : ''}`;
}

function noMatch(
  index: ImageIndex,
  want: PlatformWanted,
  what: string,
  extra: readonly string[] = [],
): ImageSourceError {
  const present = [
    ...index.manifests.map((d) =>
      isAttestation(d)
        ? 'attestation'
        : isIndexMediaType(d.mediaType)
          ? `index ${shortDigest(d.digest)}`
          : d.platform
            ? formatPlatform(d.platform)
            : 'no platform',
    ),
    ...extra,
  ];
  const list = present.length === 0 ? 'it lists no manifests' : `it has ${[...new Set(present)].join(', ')}`;
  return new ImageSourceError('no-matching-platform', `${what} has no image for ${wantedText(want)}; ${list}`);
}

/**
 * Follows indexes down to an image manifest for `want`: at each level selectManifest, and for a
 * nested index `loadIndex` (which reads and checks the blob). Gives up past MAX_INDEX_DEPTH levels
 * or when an index is met twice (a loop).
 */
export async function resolveIndex(
  index: ImageIndex,
  want: PlatformWanted,
  loadIndex: (d: Descriptor) => Promise<ImageIndex>,
  what = 'the image index',
  options: {
    readonly maxDepth?: number;
    /** The digest of `index` itself, when it is a blob. */ readonly digest?: string;
  } = {},
): Promise<ManifestChoice> {
  const maxDepth = options.maxDepth ?? MAX_INDEX_DEPTH;
  const notes: string[] = [];
  const seen = new Set<string>(options.digest ? [options.digest] : []);
  let current = index;
  let currentWhat = what;
  for (let depth = 0; ; depth++) {
    const choice = selectManifest(current, want, currentWhat);
    notes.push(choice.platformNote);
    if (isManifestMediaType(choice.descriptor.mediaType)) {
      return { descriptor: choice.descriptor, platformNote: notes.join('; ') };
    }
    const d = choice.descriptor;
    if (seen.has(d.digest))
      throw bad(what, `the nested index ${shortDigest(d.digest)} appears twice on the way down (an index loop)`);
    if (depth + 1 > maxDepth) throw bad(what, `indexes are nested more than ${maxDepth} levels deep`);
    seen.add(d.digest);
    current = await loadIndex(d);
    currentWhat = `the nested index ${shortDigest(d.digest)}`;
  }
}

/**
 * Checks that a config's platform fits `want` (for manifests chosen without a platform).
 * Throws 'no-matching-platform'.
 */
export function checkConfigPlatform(config: ImageConfig, want: PlatformWanted, what: string): void {
  const p: Platform = config.variant
    ? { architecture: config.architecture, os: config.os, variant: config.variant }
    : { architecture: config.architecture, os: config.os };
  if (platformRank(p, want) === undefined) {
    throw new ImageSourceError(
      'no-matching-platform',
      `${what} is an image for ${formatPlatform(p)}, not ${wantedText(want)}`,
    );
  }
}
