import { Worker } from 'node:worker_threads';
import type { ByteRange } from '../eif/measure';
import { CancelledError, type CancellationLike } from '../platform/lifecycle';

// The worker is self-contained source text (no bundle file to locate at run time): it opens the
// file itself, hashes the given ranges with SHA-384 and posts the digest.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const crypto = require('node:crypto');
const { path, ranges, chunkSize } = workerData;
let fd;
try {
  fd = fs.openSync(path, 'r');
  const hash = crypto.createHash('sha384');
  const buf = Buffer.allocUnsafe(chunkSize);
  for (const r of ranges) {
    for (let pos = r.start; pos < r.end; ) {
      const got = fs.readSync(fd, buf, 0, Math.min(chunkSize, r.end - pos), pos);
      if (got === 0) throw new Error(path + ': file ended at ' + pos + ' bytes while hashing');
      hash.update(buf.subarray(0, got));
      pos += got;
    }
  }
  parentPort.postMessage({ digest: hash.digest() });
} catch (e) {
  parentPort.postMessage({ error: String((e && e.message) || e) });
} finally {
  if (fd !== undefined) fs.closeSync(fd);
}
`;

/** Below this many bytes a second thread costs more than it saves. */
export const OFFLOAD_THRESHOLD = 16 * 1024 * 1024;

/** SHA-384 of the given ranges of a file, computed on a worker thread (the other core). */
export function hashRangesInWorker(
  path: string,
  ranges: readonly ByteRange[],
  token?: CancellationLike,
  chunkSize = 1024 * 1024,
): Promise<Uint8Array> {
  // A token cancelled already will not fire again: no worker is started for it.
  if (token?.isCancellationRequested) return Promise.reject(new CancelledError('measuring the enclave image'));
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, ranges, chunkSize } });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      sub?.dispose();
      fn();
    };
    const sub = token?.onCancellationRequested(() => {
      void worker.terminate();
      settle(() => reject(new CancelledError('measuring the enclave image')));
    });
    worker.once('message', (m: { digest?: Uint8Array; error?: string }) => {
      settle(() =>
        m.digest ? resolve(new Uint8Array(m.digest)) : reject(new Error(m.error ?? 'hashing worker failed')),
      );
      void worker.terminate();
    });
    worker.once('error', (e) => settle(() => reject(e)));
    worker.once('exit', (code) => settle(() => reject(new Error(`hashing worker exited with code ${code}`))));
  });
}
