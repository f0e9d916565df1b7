import * as assert from 'node:assert/strict';
import {
  allocatorYamlText,
  coreOf,
  parseAllocatorYaml,
  siblingsOf,
  validateAllocator,
  type AllocatorDiagnostic,
} from '../../../../src/engine/emulator/allocator';

const m5 = { vcpus: 8, memoryMiB: 16384 };

function only(diagnostics: readonly AllocatorDiagnostic[]): AllocatorDiagnostic {
  assert.equal(diagnostics.length, 1, JSON.stringify(diagnostics));
  return diagnostics[0] as AllocatorDiagnostic;
}

describe('(unit) emulator allocator.yaml', () => {
  it('models EC2 Linux topology: siblings i and i + vcpus/2', () => {
    assert.deepEqual(siblingsOf(m5, 1), [1, 5]);
    assert.deepEqual(siblingsOf(m5, 6), [2, 6]);
    assert.equal(coreOf(m5, 4), 0);
  });

  it('reads the shipped format and reserves whole cores after core 0 for cpu_count', () => {
    const r = validateAllocator('---\nmemory_mib: 512\ncpu_count: 2\n', m5);
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(r.pool, { cpuIds: [1, 5], memoryMiB: 512 });
    assert.deepEqual(validateAllocator('memory_mib: 2048\ncpu_count: 4\n', m5).pool?.cpuIds, [1, 2, 5, 6]);
  });

  it('reads cpu_pool lists with intervals, quoted or not', () => {
    assert.deepEqual(validateAllocator('memory_mib: 512\ncpu_pool: "1,5"\n', m5).pool?.cpuIds, [1, 5]);
    assert.deepEqual(validateAllocator('memory_mib: 512\ncpu_pool: 1-3,5-7\n', m5).pool?.cpuIds, [1, 2, 3, 5, 6, 7]);
    assert.deepEqual(validateAllocator("memory_mib: 512\ncpu_pool: '2,6'\n", m5).pool?.cpuIds, [2, 6]);
  });

  it('rejects unknown keys with their position', () => {
    const d = only(parseAllocatorYaml('memory_mib: 512\ncpu_count: 2\nhugepages: 4\n').diagnostics);
    assert.match(d.message, /unknown key 'hugepages'/);
    assert.deepEqual([d.line, d.column, d.endColumn], [3, 1, 10]);
  });

  it('rejects both or neither of cpu_count and cpu_pool, and a missing memory_mib', () => {
    const both = only(parseAllocatorYaml('memory_mib: 512\ncpu_count: 2\ncpu_pool: "1,5"\n').diagnostics);
    assert.match(both.message, /cannot both be set/);
    assert.equal(both.line, 3);
    assert.match(
      only(parseAllocatorYaml('memory_mib: 512\n').diagnostics).message,
      /one of cpu_count and cpu_pool is required/,
    );
    assert.match(only(parseAllocatorYaml('cpu_count: 2\n').diagnostics).message, /memory_mib is missing/);
  });

  it('rejects missing and non-numeric values at the value', () => {
    const d = only(parseAllocatorYaml('memory_mib: lots\ncpu_count: 2\n').diagnostics);
    assert.match(d.message, /memory_mib must be a positive whole number/);
    assert.deepEqual([d.line, d.column], [1, 13]);
    assert.match(
      only(parseAllocatorYaml('memory_mib:\ncpu_count: 2\n').diagnostics).message,
      /memory_mib has no value/,
    );
    assert.match(
      only(parseAllocatorYaml('memory_mib: 512\ncpu_count: -2\n').diagnostics).message,
      /cpu_count must be a positive/,
    );
  });

  it('points inside a cpu_pool string at the bad entry', () => {
    const d = only(parseAllocatorYaml('memory_mib: 512\ncpu_pool: "1,x,5"\n').diagnostics);
    assert.match(d.message, /malformed CPU id 'x'/);
    assert.equal(d.code, 23);
    assert.deepEqual([d.line, d.column, d.endColumn], [2, 14, 15]);
    const i = only(parseAllocatorYaml('memory_mib: 512\ncpu_pool: 1,7-5\n').diagnostics);
    assert.match(i.message, /invalid CPU interval '7-5'/);
    assert.equal(i.code, 24);
    assert.deepEqual([i.line, i.column], [2, 13]);
  });

  it('whole cores only: a CPU without its sibling is refused where it is written', () => {
    const d = only(validateAllocator('memory_mib: 512\ncpu_pool: "1,2,5"\n', m5).diagnostics);
    assert.match(d.message, /CPU 2 needs its hyper-thread sibling 6/);
    assert.deepEqual([d.line, d.column], [2, 14]);
    assert.match(
      only(validateAllocator('memory_mib: 512\ncpu_count: 3\n', m5).diagnostics).message,
      /not a whole number of cores/,
    );
  });

  it("CPU 0's core stays with the parent; CPUs must exist; cpu_count must fit", () => {
    const d = validateAllocator('memory_mib: 512\ncpu_pool: "0,4"\n', m5).diagnostics;
    assert.equal(d.length, 2);
    assert.match(d[0]?.message ?? '', /CPU 0's core/);
    assert.match(
      only(
        validateAllocator('memory_mib: 512\ncpu_pool: "9,13"\n', { vcpus: 8, memoryMiB: 16384 }).diagnostics.slice(
          0,
          1,
        ),
      ).message,
      /CPU 9 does not exist/,
    );
    assert.match(
      only(validateAllocator('memory_mib: 512\ncpu_count: 8\n', m5).diagnostics).message,
      /more than the 6 vCPUs/,
    );
  });

  it('leaves the parent enough memory', () => {
    const d = only(validateAllocator('memory_mib: 16000\ncpu_count: 2\n', m5).diagnostics);
    assert.match(d.message, /leaves the parent instance 384 MiB/);
    assert.deepEqual([d.line, d.column], [1, 13]);
  });

  it('reports YAML syntax errors with positions', () => {
    const d = parseAllocatorYaml('memory_mib: 512\n  cpu_count: [2\n').diagnostics;
    assert.ok(d.length >= 1);
    assert.ok((d[0]?.line ?? 0) >= 1);
  });

  it('writes files it can read back', () => {
    assert.deepEqual(validateAllocator(allocatorYamlText({ memoryMiB: 2048, cpuCount: 2 }), m5).pool, {
      cpuIds: [1, 5],
      memoryMiB: 2048,
    });
    assert.deepEqual(validateAllocator(allocatorYamlText({ memoryMiB: 1024, cpuPool: [2, 6] }), m5).pool, {
      cpuIds: [2, 6],
      memoryMiB: 1024,
    });
  });
});
