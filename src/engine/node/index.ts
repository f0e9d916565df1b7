// Node adapters of the engine: the parts that need node:fs, node:crypto and friends.
export { FileByteSource } from './fileByteSource';
