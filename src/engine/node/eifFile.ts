// Reading, measuring and describing .eif files on disk: the engine's inspection (eif/inspect.ts)
// with Node's hashes and crypto, and PCR2 hashed on a second thread when the ramdisks are large.
import {
  inspectEifSource,
  type EifInspection,
  type EifPorts,
  type InspectOptions as EngineInspectOptions,
} from '../eif/inspect';
import type { DescribeEifJson } from '../eif/describe';
import { readHeader, type EifHeader } from '../eif/layout';
import { FileByteSource } from './fileByteSource';
import { nodeCrypto } from './nodeCrypto';
import { nodeHashes } from './nodeHashes';
import { OFFLOAD_THRESHOLD, hashRangesInWorker } from './pcr2Worker';

export type { EifInspection, SignatureInspection } from '../eif/inspect';

export interface InspectOptions extends EngineInspectOptions {
  /** Hash PCR2 on a second thread when its ramdisks are large (default true). */
  readonly parallel?: boolean;
}

/** The engine's ports bound to Node, for byte sources that are not a file (no second thread). */
export const nodeEifPorts: EifPorts = { hashes: nodeHashes, crypto: nodeCrypto };

/** The engine's inspection of a file, hashing PCR2 on a second thread when that pays off. */
export async function inspectEif(path: string, options: InspectOptions = {}): Promise<EifInspection> {
  const source = await FileByteSource.open(path);
  const { parallel, ...rest } = options;
  const ports: EifPorts =
    parallel === false
      ? nodeEifPorts
      : {
          ...nodeEifPorts,
          offloadPcr2: {
            minBytes: OFFLOAD_THRESHOLD,
            hash: (ranges) => hashRangesInWorker(path, ranges, options.token),
          },
        };
  try {
    return await inspectEifSource(source, ports, rest);
  } finally {
    await source.close();
  }
}

/** The header of an .eif file (read: its first 548 bytes only), its magic and version checked. */
export async function readEifHeader(path: string): Promise<EifHeader> {
  const source = await FileByteSource.open(path);
  try {
    return await readHeader(source);
  } finally {
    await source.close();
  }
}

/** `nitro-cli describe-eif`: the JSON, or an EifFormatError where nitro-cli fails. */
export async function describeEif(path: string, options: InspectOptions = {}): Promise<DescribeEifJson> {
  const result = await inspectEif(path, options);
  if ('error' in result.describe) throw result.describe.error;
  return result.describe.json;
}
