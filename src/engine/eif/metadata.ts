// The metadata section (type 5, EIF v4+): compact JSON with five top-level keys, all required
// (DockerInfo and CustomMetadata may be null), and five required string fields in BuildMetadata.
import { fromUtf8, utf8 } from '../util/bytes';

export interface BuildMetadata {
  readonly BuildTime: string;
  readonly BuildTool: string;
  readonly BuildToolVersion: string;
  readonly OperatingSystem: string;
  readonly KernelVersion: string;
}

export interface EifMetadata {
  readonly ImageName: string;
  readonly ImageVersion: string;
  readonly BuildMetadata: BuildMetadata;
  readonly DockerInfo: unknown;
  readonly CustomMetadata: unknown;
}

const BUILD_KEYS = ['BuildTime', 'BuildTool', 'BuildToolVersion', 'OperatingSystem', 'KernelVersion'] as const;

export class MetadataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetadataError';
  }
}

/**
 * The deepest nesting of arrays and objects accepted in metadata JSON. Real metadata (nitro-cli's
 * BuildMetadata, a `docker inspect` DockerInfo, a 4 KiB --metadata file) is a handful of levels
 * deep; serde_json, which nitro-cli parses it with, stops at 128 as well. Deeper documents are
 * refused before they are parsed, so nothing downstream (pretty-printing, key sorting) can run
 * out of stack on them.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * Scans JSON text for its nesting depth without parsing or recursing: brackets inside strings do
 * not count. Returns the offset of the first `[` or `{` that opens level `limit + 1`, or -1 when
 * the text stays within `limit` levels. (Unbalanced text is left for JSON.parse to refuse.)
 */
export function jsonDepthExceededAt(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* backslash: skip the escaped character */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > limit) return i;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return -1;
}

/**
 * The sentence for JSON nested deeper than MAX_JSON_DEPTH, e.g. "...nests arrays and objects more than 128 levels deep
 * (at character 128)...".
 */
export function jsonTooDeepMessage(what: string, at: number, limit = MAX_JSON_DEPTH): string {
  return (
    `${what} nests arrays and objects more than ${limit} levels deep ` +
    `(level ${limit + 1} opens at character ${at}); at most ${limit} levels are accepted`
  );
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a metadata section with nitro-cli's rules. Throws MetadataError naming the broken rule. */
export function parseMetadata(bytes: Uint8Array): EifMetadata {
  let text: string;
  let value: unknown;
  try {
    text = fromUtf8(bytes);
  } catch (e) {
    throw new MetadataError(
      `the metadata section is not valid UTF-8 JSON: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  const deep = jsonDepthExceededAt(text);
  if (deep >= 0) throw new MetadataError(jsonTooDeepMessage('the metadata section', deep));
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new MetadataError(
      `the metadata section is not valid UTF-8 JSON: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  if (!isObject(value)) throw new MetadataError('the metadata section is not a JSON object');
  for (const key of ['ImageName', 'ImageVersion', 'BuildMetadata', 'DockerInfo', 'CustomMetadata']) {
    if (!Object.hasOwn(value, key))
      throw new MetadataError(`the metadata has no "${key}" (all five top-level keys are required)`);
  }
  if (typeof value['ImageName'] !== 'string') throw new MetadataError('metadata "ImageName" is not a string');
  if (typeof value['ImageVersion'] !== 'string') throw new MetadataError('metadata "ImageVersion" is not a string');
  const build = value['BuildMetadata'];
  if (!isObject(build)) throw new MetadataError('metadata "BuildMetadata" is not an object');
  for (const key of BUILD_KEYS) {
    if (typeof build[key] !== 'string')
      throw new MetadataError(`metadata "BuildMetadata.${key}" is missing or not a string`);
  }
  return {
    ImageName: value['ImageName'],
    ImageVersion: value['ImageVersion'],
    BuildMetadata: Object.fromEntries(BUILD_KEYS.map((k) => [k, build[k]])) as unknown as BuildMetadata,
    DockerInfo: value['DockerInfo'],
    CustomMetadata: value['CustomMetadata'],
  };
}

/** The section bytes: compact JSON with the keys in the order nitro-cli writes them. */
export function encodeMetadata(m: EifMetadata): Uint8Array {
  const ordered = {
    ImageName: m.ImageName,
    ImageVersion: m.ImageVersion,
    BuildMetadata: Object.fromEntries(BUILD_KEYS.map((k) => [k, m.BuildMetadata[k]])),
    DockerInfo: m.DockerInfo ?? null,
    CustomMetadata: m.CustomMetadata ?? null,
  };
  return utf8(JSON.stringify(ordered));
}

/**
 * describe-eif's `Metadata` object: the five BuildMetadata fields, then DockerInfo, then the members
 * of CustomMetadata (null adds nothing; anything but an object or null is an error, as in nitro-cli).
 */
export function describeMetadata(m: EifMetadata): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ...Object.fromEntries(BUILD_KEYS.map((k) => [k, m.BuildMetadata[k]])),
    DockerInfo: m.DockerInfo,
  };
  if (m.CustomMetadata === null || m.CustomMetadata === undefined) return out;
  if (!isObject(m.CustomMetadata)) {
    throw new MetadataError(
      'metadata "CustomMetadata" is not a JSON object, so it cannot be listed (nitro-cli fails the same way)',
    );
  }
  for (const [k, v] of Object.entries(m.CustomMetadata)) if (!Object.hasOwn(out, k)) out[k] = v;
  return out;
}
