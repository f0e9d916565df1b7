// The shapes shared by the image sources (an OCI layout, an OCI or `docker save` archive, a Docker
// image exported through `docker save`), the layer flattener and the enclave image builder.
import type { CancellationLike } from '../platform/lifecycle';

/** How a layer blob is compressed, from its media type (or, in `docker save` archives, its magic bytes). */
export type Compression = 'none' | 'gzip' | 'zstd';

/** An OCI platform (image-spec `platform` object / config `architecture`, `os`, `variant`). */
export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
}

/** The parts of the image configuration (OCI image config / `docker inspect`) a build uses. */
export interface ImageConfig {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  /** `config.Cmd`: null when absent or null. */
  readonly cmd: readonly string[] | null;
  /** `config.Entrypoint`: null when absent or null. */
  readonly entrypoint: readonly string[] | null;
  /** `config.Env` ([] when absent). */
  readonly env: readonly string[];
  readonly workingDir?: string;
  readonly user?: string;
  readonly labels: Readonly<Record<string, string>>;
  /** `created` (RFC 3339), when present. */
  readonly created?: string;
  /** `rootfs.diff_ids`, one per layer ([] when absent). */
  readonly diffIds: readonly string[];
  /** The whole configuration blob as parsed JSON (for the metadata's DockerInfo). */
  readonly raw: unknown;
}

export interface LayerOpenOptions {
  readonly cancellation?: CancellationLike;
  /** Called as compressed bytes of the blob are read (for progress). */
  readonly onRead?: (bytes: number) => void;
}

/** One layer of the chosen manifest, in application order (index 0 is the base layer). */
export interface LayerBlob {
  readonly index: number;
  /** `sha256:<64 hex>` of the blob as stored (compressed). */
  readonly digest: string;
  /** Size of the blob as stored, from the manifest. */
  readonly size: number;
  readonly mediaType: string;
  readonly compression: Compression;
  /** The config's diff_id for this layer (digest of the uncompressed tar), when there is one. */
  readonly diffId?: string;
  /**
   * Streams the layer as an uncompressed tar. The blob's size and digest (and the diff_id, when
   * known) are checked as it is read: a mismatch makes the iterator throw ImageSourceError
   * ('digest-mismatch' / 'size-mismatch') at the latest when the stream ends, so a caller that
   * consumes the whole stream never uses a layer that does not match the manifest.
   */
  open(options?: LayerOpenOptions): AsyncIterable<Uint8Array>;
}

export type ImageSourceKind = 'oci-layout' | 'oci-archive' | 'docker-archive' | 'docker';

/** An image resolved down to one manifest: its config and its layers. */
export interface ResolvedImage {
  readonly kind: ImageSourceKind;
  /** What was opened, for messages: e.g. `OCI layout ./img, tag "v1"`. */
  readonly description: string;
  /** The reference (tag or name) that selected the image, when one was given or found. */
  readonly reference?: string;
  /** `sha256:...` of the manifest that was used. */
  readonly manifestDigest: string;
  /** `sha256:...` of the config blob: the image ID (docker's `Id`). */
  readonly configDigest: string;
  /** The platform of the chosen manifest. */
  readonly platform: Platform;
  /** Says which manifest of an index was chosen and why (undefined for single-manifest images). */
  readonly platformNote?: string;
  readonly config: ImageConfig;
  readonly layers: readonly LayerBlob[];
  /** Tags naming this image in the source (`RepoTags` of docker save, ref names of an OCI index). */
  readonly repoTags: readonly string[];
  /** Releases what the source holds open (and removes a `docker save` export). */
  close(): Promise<void>;
}

export type ImageSourceErrorCode =
  /** The path does not exist or cannot be read. */
  | 'not-found'
  /** Neither an OCI layout, an OCI archive nor a `docker save` archive. */
  | 'unknown-format'
  /** JSON that does not parse or does not follow the OCI / docker schema. */
  | 'bad-json'
  /** A blob whose bytes do not hash to its digest. */
  | 'digest-mismatch'
  /** A blob whose length differs from the manifest's size. */
  | 'size-mismatch'
  /** A blob the manifest names that is not in the source. */
  | 'missing-blob'
  /** A digest string that is not `sha256:<64 lower-case hex>` (or another algorithm we cannot check). */
  | 'bad-digest'
  /** The requested tag is not in the source, or several images match and none was asked for. */
  | 'no-such-tag'
  /** No manifest of an index matches the requested platform. */
  | 'no-matching-platform'
  /** A media type or compression the builder cannot read. */
  | 'unsupported-media-type'
  /** A compressed layer that does not decompress. */
  | 'bad-compression'
  /** `docker` is missing, or `docker save` failed. */
  | 'docker-failed';

/** An image source that cannot be used; the message names the file and the rule broken. */
export class ImageSourceError extends Error {
  constructor(
    readonly code: ImageSourceErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ImageSourceError';
  }
}

/** The EIF architecture names and their OCI platform names. */
export const OCI_ARCH = { x86_64: 'amd64', aarch64: 'arm64' } as const;
