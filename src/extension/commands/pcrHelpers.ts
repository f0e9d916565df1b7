import { readFile } from 'node:fs/promises';
import { firstCertificateDer, pcrOfBytes, pcrOfSource, toHex, type CancellationLike } from '../../engine';
import { FileByteSource, nodeHashes } from '../../engine/node';

export { formatJson } from '../../engine';

/** nitro-cli pcr: of a file's bytes, or (certificate) of the DER of a PEM file's first certificate. */
export async function nodeHashesPcr(
  path: string,
  kind: 'file' | 'certificate',
  token?: CancellationLike,
): Promise<string> {
  if (kind === 'certificate') return toHex(pcrOfBytes(nodeHashes, firstCertificateDer(await readFile(path, 'utf8'))));
  const source = await FileByteSource.open(path);
  try {
    return toHex(await pcrOfSource(source, nodeHashes, token ? { token } : {}));
  } finally {
    await source.close();
  }
}
