import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readKeptConsole } from '../../../../src/engine/node';

describe('(unit) engine/node: the console log an ended emulated enclave kept', () => {
  const parent = 'i-0123456789abcdef0';
  const enclave = `${parent}-enc0123456789abcdef`;
  let state: string;
  beforeEach(() => {
    state = mkdtempSync(path.join(os.tmpdir(), 'kept-console-'));
    mkdirSync(path.join(state, 'enclaves'));
  });
  afterEach(() => rmSync(state, { recursive: true, force: true }));

  it('reads the whole log of an enclave of the parent', () => {
    const file = path.join(state, 'enclaves', `${enclave}.console.log`);
    writeFileSync(file, 'hello\nworld\n');
    const kept = readKeptConsole(state, parent, enclave);
    assert.ok(kept);
    assert.equal(kept.path, file);
    assert.equal(Buffer.from(kept.bytes).toString(), 'hello\nworld\n');
    assert.equal(kept.skipped, 0);
  });

  it('reads only the end of a long log, from a line start', () => {
    writeFileSync(path.join(state, 'enclaves', `${enclave}.console.log`), 'a'.repeat(100) + '\nline two\nline three\n');
    const kept = readKeptConsole(state, parent, enclave, 25);
    assert.ok(kept);
    assert.equal(Buffer.from(kept.bytes).toString(), 'line two\nline three\n');
    assert.equal(kept.skipped, 101, 'the a line and its line break');
  });

  it('has nothing for a missing log, another parent’s enclave or an id that is no enclave id', () => {
    assert.equal(readKeptConsole(state, parent, enclave), undefined);
    writeFileSync(path.join(state, 'enclaves', `${enclave}.console.log`), 'x');
    assert.equal(readKeptConsole(state, 'i-fffffffffffffffff', enclave), undefined);
    assert.equal(readKeptConsole(state, parent, '../enclaves/x'), undefined);
    assert.equal(readKeptConsole(state, parent, `${enclave}/..`), undefined);
  });
});
