// Layer blobs: streamed from a store, decompressed, and checked against their size, digest and
// the config's diff_id as they pass.
import { throwIfCancelled } from '../../platform/lifecycle';
import { parseDigest } from '../../oci/image';
import { ImageSourceError, type Compression, type LayerBlob, type LayerOpenOptions } from '../../oci/model';
import { CompressionError, gunzip, unzstd } from './decompress';
import { RawReader, hashOf, type Store } from './store';

export interface LayerExpectation {
  readonly index: number;
  /** The compressed (stored) digest to check, when known. */
  readonly digest?: string;
  readonly size: number;
  readonly diffId?: string;
  readonly compression: Compression;
}

/** Streams one layer member as an uncompressed tar, checking size, digest and diff_id. */
async function* streamLayer(
  store: Store,
  name: string,
  expected: LayerExpectation,
  options: LayerOpenOptions,
): AsyncGenerator<Uint8Array> {
  const what = `layer ${expected.index}`;
  throwIfCancelled(options.cancellation, `reading ${what}`);
  const member = await store.open(name);
  if (!member)
    throw new ImageSourceError(
      'missing-blob',
      `${store.label}: ${what} (${expected.digest ?? name}) is not in the source (no ${name})`,
    );
  try {
    if (member.size !== expected.size) {
      throw new ImageSourceError(
        'size-mismatch',
        `${store.label}: ${what} (${expected.digest ?? name}) is ${member.size} bytes; ` +
          `the manifest says ${expected.size}`,
      );
    }
    const algorithm = expected.digest ? parseDigest(expected.digest, what).algorithm : 'sha256';
    const raw = new RawReader(member, algorithm, options, `reading ${what}`);
    const diffAlgorithm = expected.diffId ? parseDigest(expected.diffId, `${what} diff_id`).algorithm : 'sha256';
    const uncompressed = hashOf(diffAlgorithm);
    const compressedDigest = (): string => `${algorithm}:${raw.hash.digest('hex')}`;
    if (expected.compression !== 'none' && member.size === 0) {
      throw new ImageSourceError(
        'bad-compression',
        `${store.label}: ${what} (${expected.digest ?? name}) is empty, ` +
          `which is not valid ${expected.compression} data`,
      );
    }
    const decoded =
      expected.compression === 'gzip'
        ? gunzip(raw.chunks())
        : expected.compression === 'zstd'
          ? unzstd(raw.chunks())
          : raw.chunks();
    try {
      for await (const chunk of decoded) {
        throwIfCancelled(options.cancellation, `reading ${what}`);
        uncompressed.update(chunk);
        yield chunk;
      }
      await raw.drain();
    } catch (e) {
      if (!(e instanceof CompressionError)) throw e;
      // A blob that does not decompress: if its bytes are not the ones the manifest names, say that.
      await raw.drain();
      const actual = compressedDigest();
      if (expected.digest && actual !== expected.digest) {
        throw new ImageSourceError(
          'digest-mismatch',
          `${store.label}: ${what} does not match its digest (and does not decompress): expected ${expected.digest}, ` +
            `got ${actual}`,
        );
      }
      throw new ImageSourceError(
        'bad-compression',
        `${store.label}: ${what} (${expected.digest ?? name}) is not valid ${expected.compression} data: ${e.message}`,
      );
    }
    const actual = compressedDigest();
    if (expected.digest && actual !== expected.digest) {
      throw new ImageSourceError(
        'digest-mismatch',
        `${store.label}: ${what} does not match its digest: expected ${expected.digest}, got ${actual}`,
      );
    }
    const actualDiff = `${diffAlgorithm}:${uncompressed.digest('hex')}`;
    if (expected.diffId && actualDiff !== expected.diffId) {
      throw new ImageSourceError(
        'digest-mismatch',
        `${store.label}: ${what} uncompressed does not match the config's diff_id: expected ${expected.diffId}, ` +
          `got ${actualDiff}`,
      );
    }
  } finally {
    await member.close();
  }
}

export function layerBlob(
  store: Store,
  name: string,
  expected: LayerExpectation,
  mediaType: string,
  storedDigest: string,
): LayerBlob {
  return {
    index: expected.index,
    digest: storedDigest,
    size: expected.size,
    mediaType,
    compression: expected.compression,
    ...(expected.diffId ? { diffId: expected.diffId } : {}),
    open: (options: LayerOpenOptions = {}) => ({
      [Symbol.asyncIterator]: () => streamLayer(store, name, expected, options),
    }),
  };
}
