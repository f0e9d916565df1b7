// Opens container images from disk without Docker: an OCI image layout directory, an OCI archive
// (a tar of a layout), a `docker save` archive (classic `manifest.json`, or the OCI layout that
// newer Docker versions write alongside it), or a Docker image exported with `docker save`.
//
// Archives are never extracted: the tar is indexed once (member name -> data offset and size,
// with layer data skipped rather than read) and members are then read in place (store.ts). Every
// blob read is checked against its digest and size; layers are streamed in bounded chunks,
// decompressed (decompress.ts) and checked against the config's diff_ids as they pass (layers.ts).
// resolve.ts follows indexes and manifests to one image; docker.ts runs `docker save`.
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { throwIfCancelled } from '../../platform/lifecycle';
import { formatPlatform, shortDigest, show } from '../../oci/image';
import { ImageSourceError, type ImageSourceKind, type ResolvedImage } from '../../oci/model';
import { dockerReference, runDockerSave } from './docker';
import { resolveDockerSave, resolveOci, type Resolved } from './resolve';
import { ArchiveStore, DirStore, errnoCode, type Store } from './store';
import type { ImageSpec, OpenImageOptions } from './types';

export type { ImageSpec, OpenImageOptions } from './types';
export { dockerReference } from './docker';
export { MAX_ZSTD_WINDOW } from './decompress';

// ---------------------------------------------------------------------------------------------
// Opening.

function image(
  kind: ImageSourceKind,
  description: string,
  store: Store,
  r: Resolved,
  onClose?: () => Promise<void>,
): ResolvedImage {
  let closed = false;
  return {
    kind,
    description,
    ...r,
    close: async () => {
      if (closed) return;
      closed = true;
      try {
        await store.close();
      } finally {
        await onClose?.();
      }
    },
  };
}

async function checkExists(p: string, flag: string): Promise<Stats> {
  try {
    return await stat(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR')
      throw new ImageSourceError('not-found', `${p} does not exist (${flag})`);
    throw new ImageSourceError('not-found', `${p} cannot be read: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function openLayout(
  dir: string,
  reference: string | undefined,
  options: OpenImageOptions,
): Promise<ResolvedImage> {
  const info = await checkExists(dir, '--oci-layout');
  if (!info.isDirectory())
    throw new ImageSourceError(
      'unknown-format',
      `${dir} is a file, not an OCI layout directory; open archives with --image-archive`,
    );
  const label = `OCI layout ${dir}`;
  const store = await DirStore.create(dir, label);
  const r = await resolveOci(store, reference, options);
  const description = `${label}${r.reference !== undefined ? `, tag ${show(r.reference)}` : ''}`;
  return image('oci-layout', description, store, r);
}

async function openArchive(
  file: string,
  reference: string | undefined,
  options: OpenImageOptions,
  asDocker?: { readonly uri: string; readonly cleanup: () => Promise<void> },
): Promise<ResolvedImage> {
  const info = await checkExists(file, asDocker ? 'docker save output' : '--image-archive');
  if (info.isDirectory())
    throw new ImageSourceError(
      'unknown-format',
      `${file} is a directory, not an image archive; open OCI layouts with --oci-layout`,
    );
  const label = asDocker ? `docker save of ${asDocker.uri}` : `archive ${file}`;
  const store = await ArchiveStore.create(file, label, options.cancellation);
  try {
    const hasOci = store.has('oci-layout') && store.has('index.json');
    const hasDocker = store.has('manifest.json');
    options.log?.(
      `${label}: ${hasOci ? 'OCI layout' : ''}${hasOci && hasDocker ? ' + ' : ''}` +
        `${hasDocker ? 'docker save manifest.json' : ''}${!hasOci && !hasDocker ? 'no image metadata' : ''}`,
    );
    let r: Resolved;
    if (hasOci) {
      try {
        r = await resolveOci(store, reference, options);
      } catch (e) {
        // Newer docker save archives carry both; a tag may be in RepoTags only.
        if (!(hasDocker && e instanceof ImageSourceError && e.code === 'no-such-tag')) throw e;
        try {
          r = await resolveDockerSave(store, reference, options);
        } catch {
          throw e;
        }
      }
    } else if (hasDocker) {
      r = await resolveDockerSave(store, reference, options);
    } else {
      throw new ImageSourceError(
        'unknown-format',
        `${label} is neither an OCI archive (oci-layout + index.json) nor a docker save archive (manifest.json)`,
      );
    }
    const kind: ImageSourceKind = asDocker ? 'docker' : hasDocker ? 'docker-archive' : 'oci-archive';
    const what = asDocker
      ? `Docker image ${show(asDocker.uri)} (docker save)`
      : `${hasDocker ? 'docker save archive' : 'OCI archive'} ${file}` +
        `${r.reference !== undefined ? `, image ${show(r.reference)}` : ''}`;
    return image(kind, what, store, r, asDocker?.cleanup);
  } catch (e) {
    await store.close();
    throw e;
  }
}

async function openDocker(uri: string, options: OpenImageOptions): Promise<ResolvedImage> {
  if (uri.length === 0 || uri.length > 1024 || uri.startsWith('-') || /[\s\0]/.test(uri)) {
    throw new ImageSourceError('docker-failed', `${show(uri)} is not an image reference`);
  }
  const reference = dockerReference(uri);
  const command = options.dockerCommand ?? 'docker';
  const output = path.join(options.tempDir, `docker-save-${randomBytes(8).toString('hex')}.tar`);
  const cleanup = () => rm(output, { force: true });
  try {
    await runDockerSave(command, reference, output, options);
    return await openArchive(output, reference, options, { uri: reference, cleanup });
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Opens an image source and resolves it to one manifest (see ImageSpec). */
export async function openImage(spec: ImageSpec, options: OpenImageOptions): Promise<ResolvedImage> {
  throwIfCancelled(options.cancellation, 'opening the image');
  switch (spec.kind) {
    case 'oci-layout':
      return openLayout(spec.path, spec.reference, options);
    case 'archive':
      return openArchive(spec.path, spec.reference, options);
    case 'docker':
      return openDocker(spec.uri, options);
  }
}

/** One line for logs: what was opened, the platform, layers, image ID. */
export function describeImage(resolved: ResolvedImage): string {
  const bytes = resolved.layers.reduce((n, l) => n + l.size, 0);
  const layers = `${resolved.layers.length} layer${resolved.layers.length === 1 ? '' : 's'} (${bytes} bytes)`;
  const note = resolved.platformNote ? `; ${resolved.platformNote}` : '';
  return (
    `${resolved.description}: ${formatPlatform(resolved.platform)}, ${layers}, ` +
    `image ${shortDigest(resolved.configDigest)}, manifest ${shortDigest(resolved.manifestDigest)}${note}`
  );
}
