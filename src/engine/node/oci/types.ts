// What openImage is asked to open, and how.
import type { CancellationLike } from '../../platform/lifecycle';

export type ImageSpec =
  | { readonly kind: 'oci-layout'; readonly path: string; readonly reference?: string }
  | { readonly kind: 'archive'; readonly path: string; readonly reference?: string }
  | { readonly kind: 'docker'; readonly uri: string };

export interface OpenImageOptions {
  /**
   * The enclave's architecture: selects the manifest of an index (default x86_64) and is checked against the config.
   */
  readonly arch?: 'x86_64' | 'aarch64';
  /**
   * Without `arch`: the architecture an index's manifest is chosen for (default x86_64); single images of any
   * architecture are taken as they are.
   */
  readonly defaultArch?: 'x86_64' | 'aarch64';
  /** Where `docker save` writes its export (removed by close()). */
  readonly tempDir: string;
  readonly cancellation?: CancellationLike;
  /** The docker command (default `docker` on PATH). */
  readonly dockerCommand?: string;
  readonly log?: (line: string) => void;
}
