// The engine's describe-eif logic (eif/inspect.ts) runs on the ports it is given: the hashing and
// the ECDSA come from the host, and PCR2 goes elsewhere only above the host's threshold.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  MemoryByteSource,
  inspectEifSource,
  type CryptoPort,
  type EifPorts,
  type HashPort,
} from '../../../../src/engine';
import { nodeCrypto, nodeEifPorts, nodeHashes } from '../../../../src/engine/node';
import { repoPath } from '../../repo';

const FIXTURES = repoPath('test', 'fixtures', 'eif');
const signed = () => new MemoryByteSource(readFileSync(`${FIXTURES}/synthetic-v4-signed.eif`), 'signed.eif');
const expected = JSON.parse(readFileSync(`${FIXTURES}/synthetic-v4-signed.expected.json`, 'utf8')) as Record<
  string,
  string
>;

/** nodeHashes, counting the SHA-384 hashes started through it. */
function countingHashes(): HashPort & { started: number } {
  const port = {
    started: 0,
    sha384() {
      port.started++;
      return nodeHashes.sha384();
    },
    crc32: () => nodeHashes.crc32(),
  };
  return port;
}

describe('(unit) inspectEifSource: describe-eif behind the ports', () => {
  it('hashes only through the hash port it is given, and gets nitro-cli’s PCRs', async () => {
    const hashes = countingHashes();
    const r = await inspectEifSource(signed(), { hashes, crypto: nodeCrypto });
    assert.ok(hashes.started >= 4, `only ${hashes.started} SHA-384 hashes went through the port`);
    for (const k of ['PCR0', 'PCR1', 'PCR2', 'PCR8'] as const) assert.equal(r.measurements[k], expected[k], k);
    assert.ok('json' in r.describe);
  });

  it('checks the signature with the crypto port: a port that refuses it makes describe-eif fail', async () => {
    const refusing: CryptoPort = { ...nodeCrypto, verifyEcdsa: () => false };
    const r = await inspectEifSource(signed(), { hashes: nodeHashes, crypto: refusing });
    assert.equal(r.signature?.cose?.valid, false);
    assert.ok('error' in r.describe && r.describe.error.code === 'signature-invalid', JSON.stringify(r.describe));
    const good = await inspectEifSource(signed(), nodeEifPorts);
    assert.equal(good.signature?.cose?.valid, true);
  });

  it('hands PCR2 to offloadPcr2 only when its ramdisks hold at least minBytes', async () => {
    const calls: number[] = [];
    const ports = (minBytes: number): EifPorts => ({
      ...nodeEifPorts,
      offloadPcr2: {
        minBytes,
        hash: async (ranges) => {
          calls.push(minBytes);
          const h = nodeHashes.sha384();
          const bytes = readFileSync(`${FIXTURES}/synthetic-v4-signed.eif`);
          for (const r of ranges) h.update(bytes.subarray(r.start, r.end));
          return h.digest();
        },
      },
    });
    const below = await inspectEifSource(signed(), ports(1024 * 1024));
    assert.deepEqual(calls, []);
    const above = await inspectEifSource(signed(), ports(1));
    assert.deepEqual(calls, [1]);
    assert.equal(above.measurements.PCR2, expected['PCR2']);
    assert.equal(below.measurements.PCR2, expected['PCR2']);
  });
});
