// The spool file content store (src/engine/node/spoolStore.ts): round trips of many small and a
// few large puts, data of the wrong length, reading back, and clean-up.
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { SPOOL_BUFFER_SIZE, SpoolError, SpoolStore } from '../../../../src/engine/node/spoolStore';
import type { ContentRef } from '../../../../src/engine/oci/flatten';
import { Prng, chunked, patternBytes, rejection, tempDir } from '../ramdisk/helpers';

async function* of(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p;
}

describe('(unit) engine node: spool content store', () => {
  let tmp: { dir: string; cleanup: () => void };
  beforeEach(() => (tmp = tempDir('spool')));
  afterEach(() => tmp.cleanup());

  it('returns each put’s place and reads every byte back (many small, a few large, odd chunking)', async function () {
    this.timeout(120_000);
    const rng = new Prng(77);
    const store = await SpoolStore.create(tmp.dir);
    const puts: { ref: ContentRef; data: Uint8Array }[] = [];
    const sizes = [0, 1, 2, 3, SPOOL_BUFFER_SIZE - 1, 1, SPOOL_BUFFER_SIZE, 5 * SPOOL_BUFFER_SIZE + 3];
    for (let i = 0; i < 2000; i++) sizes.push(rng.int(0, 3000));
    for (const [i, size] of sizes.entries()) {
      const data = patternBytes(i + 1, size);
      const ref = await store.put(chunked(data, rng, rng.pick([7, 100, 4096, 2 * SPOOL_BUFFER_SIZE])), size);
      puts.push({ ref, data });
    }
    let expectOffset = 0;
    for (const { ref, data } of puts) {
      assert.equal(ref.offset, expectOffset);
      assert.equal(ref.size, data.length);
      expectOffset += data.length;
    }
    assert.equal(store.size, expectOffset);
    const source = await store.source();
    assert.equal(source.size, expectOffset);
    for (const { ref, data } of puts) {
      const back = await source.read(ref.offset, ref.size);
      assert.ok(Buffer.from(back).equals(Buffer.from(data)), `put at ${ref.offset} (${ref.size} bytes)`);
    }
    const into = new Uint8Array(10);
    const last = puts.at(-3) as { ref: ContentRef; data: Uint8Array };
    await source.readInto?.(into, last.ref.offset);
    assert.deepEqual([...into], [...last.data.subarray(0, 10)]);
    await assert.rejects(source.read(expectOffset - 1, 2), RangeError);
    await store.close();
  });

  it('puts issued without waiting run one after the other', async () => {
    const store = await SpoolStore.create(tmp.dir);
    const datas = Array.from({ length: 50 }, (_, i) => patternBytes(i + 100, 1000 + i));
    const refs = await Promise.all(datas.map((d) => store.put(of(d.subarray(0, 500), d.subarray(500)), d.length)));
    const source = await store.source();
    for (const [i, ref] of refs.entries())
      assert.ok(Buffer.from(await source.read(ref.offset, ref.size)).equals(Buffer.from(datas[i] as Uint8Array)));
    await store.close();
  });

  it('refuses short or long data with a clear error and forgets its bytes', async () => {
    const store = await SpoolStore.create(tmp.dir);
    const a = await store.put(of(new Uint8Array([1, 2, 3])), 3);
    let e = await rejection(store.put(of(new Uint8Array([9, 9])), 5));
    assert.ok(e instanceof SpoolError && /ended after 2 of the 5 bytes/.test(e.message), String(e));
    e = await rejection(store.put(of(new Uint8Array(4), new Uint8Array(4)), 6));
    assert.ok(e instanceof SpoolError && /more than the 6 bytes/.test(e.message), String(e));
    // A large short put that had already reached the disk.
    e = await rejection(store.put(of(patternBytes(3, 2 * SPOOL_BUFFER_SIZE)), 3 * SPOOL_BUFFER_SIZE));
    assert.ok(e instanceof SpoolError, String(e));
    // A source that throws.
    const failing = (async function* () {
      yield new Uint8Array(10);
      throw new Error('network down');
    })();
    e = await rejection(store.put(failing, 20));
    assert.match(String(e), /network down/);
    const b = await store.put(of(new Uint8Array([4, 5])), 2);
    assert.deepEqual(b, { offset: 3, size: 2 }, 'failed puts leave no gap');
    const source = await store.source();
    assert.equal(source.size, 5);
    assert.deepEqual([...(await source.read(a.offset, 5))], [1, 2, 3, 4, 5]);
    await store.close();
  });

  it('close() deletes the file, is idempotent, and later use fails clearly', async () => {
    const store = await SpoolStore.create(tmp.dir);
    await store.put(of(new Uint8Array(100)), 100);
    const source = await store.source();
    assert.ok(existsSync(store.path));
    await store.close();
    await store.close();
    assert.ok(!existsSync(store.path));
    assert.deepEqual(readdirSync(tmp.dir), []);
    assert.ok((await rejection(store.put(of(), 0))) instanceof SpoolError);
    assert.ok((await rejection(source.read(0, 1))) instanceof SpoolError);
  });

  it('two stores in one directory use different files', async () => {
    const a = await SpoolStore.create(tmp.dir);
    const b = await SpoolStore.create(tmp.dir);
    assert.notEqual(a.path, b.path);
    await a.close();
    await b.close();
  });
});
