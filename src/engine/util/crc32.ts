// CRC-32 (IEEE 802.3 / zlib / PNG: reflected polynomial 0xEDB88320, init and final XOR 0xFFFFFFFF).
// A checksum, not cryptography: the engine core needs one that runs without Node. Node callers use
// zlib.crc32 through the HashPort instead (src/engine/node/nodeHashes.ts), which is much faster.

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Continues a CRC-32 over `data`; start with 0. */
export function crc32(data: Uint8Array, previous = 0): number {
  let c = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = (TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
