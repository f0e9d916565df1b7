// What a build writes into the metadata section (spec section 5) and the small rules around it:
// the build time in chrono's RFC 3339 form, the kernel's OS and version from its config blob, the
// default image name and version, and DockerInfo shaped like `docker image inspect` from the
// image's OCI configuration.
import { jsonDepthExceededAt, jsonTooDeepMessage, type BuildMetadata, type EifMetadata } from '../eif/metadata';
import type { ResolvedImage } from '../oci/model';
import { VERSION } from '../version';

/** A point in time with nanoseconds, in UTC. */
export interface BuildTime {
  /** Whole seconds since 1970-01-01T00:00:00Z. */
  readonly seconds: number;
  /** 0..999 999 999 */
  readonly nanos: number;
}

export class BuildInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BuildInputError';
  }
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$/;

/**
 * Parses `--build-time`: RFC 3339 with any offset (converted to UTC, up to nanoseconds), or whole
 * seconds since the epoch (the `SOURCE_DATE_EPOCH` form).
 */
export function parseBuildTime(text: string, what = '--build-time'): BuildTime {
  const t = text.trim();
  if (/^\d{1,12}$/.test(t)) return { seconds: Number(t), nanos: 0 };
  const m = RFC3339.exec(t);
  if (!m)
    throw new BuildInputError(
      `${what} ${JSON.stringify(text)} is neither RFC 3339 (e.g. 2024-07-09T17:16:38Z) nor whole seconds since 1970`,
    );
  const [, y, mo, d, h, mi, s, frac, zone] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string | undefined,
    string,
  ];
  const fields = [Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s)] as const;
  const ms = Date.UTC(fields[0], fields[1] - 1, fields[2], fields[3], fields[4], fields[5]);
  const check = new Date(ms);
  if (
    fields[1] < 1 ||
    fields[1] > 12 ||
    check.getUTCDate() !== fields[2] ||
    check.getUTCMonth() !== fields[1] - 1 ||
    fields[3] > 23 ||
    fields[4] > 59 ||
    fields[5] > 59
  ) {
    throw new BuildInputError(`${what} ${JSON.stringify(text)} is not a valid date and time`);
  }
  let offset = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const [oh, om] = zone.slice(1).split(':').map(Number) as [number, number];
    if (oh > 23 || om > 59) throw new BuildInputError(`${what} ${JSON.stringify(text)} has an invalid UTC offset`);
    offset = sign * (oh * 3600 + om * 60);
  }
  const seconds = ms / 1000 - offset;
  if (seconds < 0) throw new BuildInputError(`${what} ${JSON.stringify(text)} is before 1970`);
  const nanos = frac ? Number(frac.padEnd(9, '0')) : 0;
  return { seconds, nanos };
}

/** The build time of now (millisecond precision). */
export function buildTimeOf(date: Date): BuildTime {
  const ms = date.getTime();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

/**
 * chrono's `to_rfc3339()` of a UTC time: `+00:00` and as many sub-second digits as needed in
 * groups of three (none, millis, micros or nanos), e.g. `2024-07-09T17:16:38.424202433+00:00`.
 */
export function formatBuildTime(t: BuildTime): string {
  const base = new Date(t.seconds * 1000).toISOString().slice(0, 19);
  let frac = '';
  if (t.nanos !== 0) {
    const digits = String(t.nanos).padStart(9, '0');
    frac = `.${t.nanos % 1_000_000 === 0 ? digits.slice(0, 3) : t.nanos % 1000 === 0 ? digits.slice(0, 6) : digits}`;
  }
  return `${base}${frac}+00:00`;
}

/**
 * OperatingSystem and KernelVersion from the kernel config blob (`bzImage.config` / `Image.config`):
 * line 3 split on space, `/` and `-`, words 2 and 4 (`# Linux/x86_64 4.14.256-209... Kernel
 * Configuration` gives `Linux`, `4.14.256`); `Unknown` where a word is missing.
 */
export function kernelConfigInfo(configText: string | undefined): { OperatingSystem: string; KernelVersion: string } {
  const line = configText?.split('\n')[2] ?? '';
  const words = line.split(/[ /-]/);
  return { OperatingSystem: words[1] || 'Unknown', KernelVersion: words[3] || 'Unknown' };
}

/** nitro-cli's default ImageName: the image reference up to its first `:` (spec P18). */
export function defaultImageName(reference: string): string {
  const i = reference.indexOf(':');
  return i === -1 ? reference : reference.slice(0, i);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A deep copy with every object's keys in sorted order (serde_json without preserve_order). */
export function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = value[key];
    if (v !== undefined) out[key] = sortKeysDeep(v);
  }
  return out;
}

/**
 * DockerInfo as `docker image inspect` models it, from what the image itself says: its config,
 * ID, tags and layer diff IDs. Fields only a Docker daemon knows (sizes, graph driver, parent)
 * are left out, as absent optional fields are.
 */
export function dockerInfo(image: ResolvedImage): unknown {
  const raw = isObject(image.config.raw) ? image.config.raw : {};
  const rootfs = isObject(raw['rootfs']) ? raw['rootfs'] : undefined;
  return sortKeysDeep({
    Architecture: image.config.architecture,
    Author: typeof raw['author'] === 'string' ? raw['author'] : undefined,
    Config: isObject(raw['config']) ? raw['config'] : undefined,
    Created: image.config.created,
    Id: image.configDigest,
    Os: image.config.os,
    RepoTags: [...image.repoTags],
    RootFS: rootfs
      ? { Layers: image.config.diffIds, Type: typeof rootfs['type'] === 'string' ? rootfs['type'] : 'layers' }
      : undefined,
    Variant: image.config.variant,
  });
}

export interface MetadataInputs {
  readonly image: ResolvedImage;
  /**
   * The image's full name (`repo/name:tag`), when the source gives one: the default ImageName is its part before the
   * first `:`.
   */
  readonly reference?: string;
  readonly name?: string;
  readonly version?: string;
  /** The ImageName when there is neither a name nor a reference (e.g. an OCI layout's folder name). */
  readonly fallbackName: string;
  readonly buildTime: BuildTime;
  readonly kernelConfig?: string;
  readonly customMetadata?: unknown;
}

/** The metadata section of a build (spec section 5). */
export function buildMetadata(inputs: MetadataInputs): EifMetadata {
  const reference = inputs.reference;
  const build: BuildMetadata = {
    BuildTime: formatBuildTime(inputs.buildTime),
    BuildTool: 'nitro-dev',
    BuildToolVersion: VERSION,
    ...kernelConfigInfo(inputs.kernelConfig),
  };
  return {
    ImageName: inputs.name ?? (reference !== undefined ? defaultImageName(reference) : inputs.fallbackName),
    ImageVersion: inputs.version ?? inputs.image.configDigest.replace(/^sha256:/, ''),
    BuildMetadata: build,
    DockerInfo: dockerInfo(inputs.image),
    CustomMetadata: inputs.customMetadata ?? null,
  };
}

/** `--metadata FILE` content: a JSON document of at most 4096 bytes (nitro-cli's limit). */
export const MAX_CUSTOM_METADATA = 4096;

export function parseCustomMetadata(bytes: Uint8Array, file: string): unknown {
  if (bytes.length > MAX_CUSTOM_METADATA) {
    throw new BuildInputError(
      `the metadata file ${file} holds ${bytes.length} bytes; at most ${MAX_CUSTOM_METADATA} are allowed`,
    );
  }
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    const deep = jsonDepthExceededAt(text);
    if (deep >= 0) throw new BuildInputError(jsonTooDeepMessage(`the metadata file ${file}`, deep));
    return JSON.parse(text);
  } catch (e) {
    if (e instanceof BuildInputError) throw e;
    throw new BuildInputError(
      `the metadata file ${file} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/**
 * Splits `DIR[:TAG]` (or `FILE[:NAME:TAG]`) at the last `:`, unless what follows holds a path
 * separator or nothing, or the colon is a drive letter's (`C:\\images`): then it is all path.
 */
export function splitImageReference(text: string): { path: string; reference?: string } {
  const i = text.lastIndexOf(':');
  const tag = text.slice(i + 1);
  if (i <= 1 || tag === '' || tag.includes('/') || tag.includes('\\')) return { path: text };
  return { path: text.slice(0, i), reference: tag };
}

/**
 * The full image name a source gives, if any: the `docker` URI, the first RepoTag of a `docker save`
 * archive, or an OCI ref name that is a whole name (`repo/app:1`) rather than a bare tag (`v1`).
 */
export function imageReferenceOf(image: ResolvedImage, dockerUri?: string): string | undefined {
  if (dockerUri !== undefined) return dockerUri;
  const ref = image.reference;
  if (ref !== undefined && (ref.includes('/') || ref.includes(':'))) return ref;
  return image.repoTags.find((t) => t.includes('/') || t.includes(':'));
}

/**
 * Splits `ARCHIVE.tar[:NAME:TAG]`: everything after the first `.tar:` is the reference (a name with
 * a registry port or a tag keeps its colons); other file names split like a layout's `DIR[:TAG]`.
 */
export function splitArchiveReference(text: string): { path: string; reference?: string } {
  const m = /^(.*?\.tar):(.+)$/i.exec(text);
  if (m) return { path: m[1] as string, reference: m[2] };
  return splitImageReference(text);
}
