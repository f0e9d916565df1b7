// The engine's public surface. The extension and the CLI import the engine only through this file
// (and Node adapters through src/engine/node/index.ts).
export { VERSION } from './version';
export type { DisposableLike, EventLike, CancellationLike } from './platform/lifecycle';
export { Emitter, CancelledError, throwIfCancelled } from './platform/lifecycle';
export type { ByteSource } from './platform/byteSource';
export { ByteRangeError, MemoryByteSource, checkRange } from './platform/byteSource';
export type { BackendKind, ParentState, ParentSummary } from './parents';
export { embeddedEmulatorParent, listParents } from './parents';
