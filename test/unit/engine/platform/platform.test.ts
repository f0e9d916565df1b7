import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ByteRangeError,
  CancelledError,
  Emitter,
  MemoryByteSource,
  throwIfCancelled,
  type ByteSource,
} from '../../../../src/engine';
import { FileByteSource } from '../../../../src/engine/node';

describe('(unit) engine platform', () => {
  describe('Emitter', () => {
    it('delivers to every listener until it is disposed', () => {
      const e = new Emitter<number>();
      const seen: number[] = [];
      const a = e.event((v) => seen.push(v));
      e.event((v) => seen.push(v * 10));
      e.fire(1);
      a.dispose();
      e.fire(2);
      assert.deepEqual(seen, [1, 10, 20]);
      e.dispose();
      e.fire(3);
      assert.deepEqual(seen, [1, 10, 20]);
      assert.equal(e.listenerCount, 0);
    });

    it('runs every listener even when one throws, then reports the failure', () => {
      const e = new Emitter<void>();
      let ran = 0;
      e.event(() => {
        throw new Error('boom');
      });
      e.event(() => ran++);
      assert.throws(() => e.fire(), /boom/);
      assert.equal(ran, 1);
    });
  });

  it('throwIfCancelled throws CancelledError only once cancelled', () => {
    const token = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };
    throwIfCancelled(token, 'measuring');
    throwIfCancelled(undefined);
    token.isCancellationRequested = true;
    assert.throws(
      () => throwIfCancelled(token, 'measuring'),
      (e: unknown) => e instanceof CancelledError && e.message === 'measuring cancelled',
    );
  });

  describe('byte sources', () => {
    let dir: string;
    before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-bytes-'))));
    after(() => rmSync(dir, { recursive: true, force: true }));

    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff);

    async function exercise(source: ByteSource) {
      assert.equal(source.size, 1000);
      assert.deepEqual(await source.read(0, 4), bytes.slice(0, 4));
      assert.deepEqual(await source.read(996, 4), bytes.slice(996));
      assert.deepEqual(await source.read(1000, 0), new Uint8Array(0));
      await assert.rejects(
        source.read(998, 4),
        (e: unknown) => e instanceof ByteRangeError && /only 2 bytes remain/.test(e.message),
      );
      await assert.rejects(
        source.read(2000, 1),
        (e: unknown) => e instanceof ByteRangeError && /past the end \(1000 bytes\)/.test(e.message),
      );
      await assert.rejects(source.read(-1, 1), /invalid read/);
      await assert.rejects(source.read(0, Number.MAX_SAFE_INTEGER + 1), /invalid read/);
      await assert.rejects(source.read(0.5, 1), /invalid read/);
    }

    it('MemoryByteSource reads exact ranges and refuses reads outside its bounds', async () => {
      await exercise(new MemoryByteSource(bytes, 'mem'));
    });

    it('FileByteSource reads exact ranges and refuses reads outside its bounds', async () => {
      const file = path.join(dir, 'f.bin');
      writeFileSync(file, bytes);
      const source = await FileByteSource.open(file);
      try {
        assert.equal(source.name, file);
        await exercise(source);
      } finally {
        await source.close();
      }
      await assert.rejects(source.read(0, 1), /read after close/);
    });

    it('FileByteSource says so when the file shrinks under it', async () => {
      const file = path.join(dir, 'shrinks.bin');
      writeFileSync(file, bytes);
      const source = await FileByteSource.open(file);
      try {
        truncateSync(file, 500);
        await assert.rejects(
          source.read(400, 200),
          /file ended at 500 bytes while reading; it was 1000 bytes when opened/,
        );
      } finally {
        await source.close();
      }
    });

    it('FileByteSource refuses directories and missing files', async () => {
      await assert.rejects(FileByteSource.open(dir), /not a regular file/);
      await assert.rejects(FileByteSource.open(path.join(dir, 'missing')), /ENOENT/);
    });
  });
});
