import { createHash, type Hash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { crc32 as portableCrc32 } from '../util/crc32';
import type { Crc32Accumulator, HashPort, IncrementalHash } from '../util/hashPort';

class NodeHash implements IncrementalHash {
  constructor(private readonly hash: Hash) {}
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  digest(): Uint8Array {
    return new Uint8Array(this.hash.digest());
  }
  copy(): IncrementalHash {
    return new NodeHash(this.hash.copy());
  }
}

// zlib.crc32 arrived in Node 20.15; older hosts fall back to the engine's portable table version.
const zlibCrc32 = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** SHA-384 from node:crypto (OpenSSL), CRC-32 from node:zlib. */
export const nodeHashes: HashPort = {
  sha384: () => new NodeHash(createHash('sha384')),
  crc32: (): Crc32Accumulator => {
    let value = 0;
    return {
      update(data: Uint8Array) {
        value = zlibCrc32 ? zlibCrc32(data, value) : portableCrc32(data, value);
      },
      get value() {
        return value >>> 0;
      },
    };
  },
};
