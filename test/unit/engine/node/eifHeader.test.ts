import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EifFormatError } from '../../../../src/engine';
import { inspectEif, readEifHeader } from '../../../../src/engine/node';
import { repoPath } from '../../repo';

describe('(unit) readEifHeader: the architecture and version of an image from its header alone', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'eif-header-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the version and architecture of an image', async () => {
    const h = await readEifHeader(repoPath('test/fixtures/eif/synthetic-v4-signed.eif'));
    assert.equal(h.version, 4);
    assert.equal(h.arch, 'x86_64');
  });

  it('reads only the header: an image cut after it still gives it, where measuring fails', async () => {
    const whole = readFileSync(repoPath('test/fixtures/eif/synthetic-v4-signed.eif'));
    const cut = path.join(dir, 'cut.eif');
    writeFileSync(cut, whole.subarray(0, 548 + 20));
    const h = await readEifHeader(cut);
    assert.deepEqual([h.arch, h.version], ['x86_64', 4]);
    await assert.rejects(inspectEif(cut));
  });

  it('says why a file is not an image: too short, or not the EIF magic', async () => {
    const short = path.join(dir, 'short.eif');
    writeFileSync(short, Buffer.alloc(100));
    await assert.rejects(
      readEifHeader(short),
      (e) => e instanceof EifFormatError && /shorter than the 548-byte/.test(e.message),
    );
    const junk = path.join(dir, 'junk.eif');
    writeFileSync(junk, Buffer.alloc(600, 7));
    await assert.rejects(
      readEifHeader(junk),
      (e) => e instanceof EifFormatError && /not an enclave image file/.test(e.message),
    );
  });
});
