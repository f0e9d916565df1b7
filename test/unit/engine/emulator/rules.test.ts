import * as assert from 'node:assert/strict';
import { BackendError } from '../../../../src/engine/platform/backend';
import {
  ENCLAVE_ID_PATTERN,
  PARENT_ID_PATTERN,
  checkCid,
  cidFieldProblem,
  cpuCountFieldProblem,
  freeCpuIds,
  problemText,
  runRequestProblem,
  defaultEnclaveName,
  enclaveIdFor,
  formatCpuList,
  memoryFieldProblem,
  memoryRequirement,
  minimumMemoryMiB,
  parentIdFor,
  parseMemoryArgument,
  planRunEnclave,
  type HeldResources,
  type RunPlanInput,
} from '../../../../src/engine/emulator/rules';

const parentId = 'i-0123456789abcdef0';
const base: RunPlanInput = {
  parentId,
  topology: { vcpus: 8, memoryMiB: 16384 },
  pool: { cpuIds: [1, 2, 5, 6], memoryMiB: 1024 },
  request: { eifPath: '/images/hello.eif', memoryMiB: 128, cpuCount: 2 },
  eifFileSize: 2712,
  running: [],
  random8: new Uint8Array([0x18, 0xc2, 0xe5, 0xa4, 0xf1, 0xb2, 0xd3, 0xe0]),
};
type Over = Omit<Partial<RunPlanInput>, 'request'> & {
  request?: { [K in keyof RunPlanInput['request']]?: RunPlanInput['request'][K] | undefined };
};
const plan = (over: Over) =>
  planRunEnclave({
    ...base,
    ...over,
    request: { ...base.request, ...(over.request ?? {}) },
  });

function code(f: () => unknown): { code: number; message: string } {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof BackendError, String(e));
    return { code: e.code, message: e.message };
  }
  assert.fail('expected a BackendError');
}

const held = (over: Partial<HeldResources>): HeldResources => ({
  enclaveId: `${parentId}-enc0000000000000001`,
  name: 'x',
  cid: 16,
  cpuIds: [1, 5],
  memoryMiB: 128,
  ...over,
});

describe('(unit) emulator run-enclave rules', () => {
  it('plans an enclave: whole core, CID 16, granted memory, id format', () => {
    const p = plan({});
    assert.deepEqual(p, {
      enclaveId: `${parentId}-enc18c2e5a4f1b2d3e0`,
      name: 'hello',
      cid: 16,
      cpuIds: [1, 5],
      memoryMiB: 128,
      debugMode: false,
    });
    assert.match(p.enclaveId, ENCLAVE_ID_PATTERN);
  });

  it('parses --memory as nitro-cli does (E03 otherwise)', () => {
    assert.equal(parseMemoryArgument('512'), 512);
    assert.equal(parseMemoryArgument('512M'), 512);
    assert.equal(parseMemoryArgument('2g'), 2048);
    assert.equal(parseMemoryArgument('1T'), 1048576);
    for (const bad of ['256_mb', '1.5G', '', '-5', '5MB'])
      assert.equal(code(() => parseMemoryArgument(bad)).code, 3, bad);
  });

  it('CIDs: 0 is automatic, 4..2^32-2 explicit, others E03, a CID in use E03', () => {
    for (const bad of [1, 2, 3, 4294967295, 4294967296]) assert.equal(code(() => checkCid(bad)).code, 3, String(bad));
    checkCid(0);
    checkCid(4);
    checkCid(4294967294);
    assert.equal(plan({ request: { enclaveCid: 4294967294 } }).cid, 4294967294);
    assert.equal(code(() => plan({ request: { enclaveCid: 3 } })).code, 3);
    assert.equal(code(() => plan({ request: { enclaveCid: 20 }, running: [held({ cid: 20 })] })).code, 3);
    assert.equal(plan({ running: [held({ cid: 16, cpuIds: [] }), held({ cid: 17, cpuIds: [] })] }).cid, 18);
  });

  it('CPU rules: E20 duplicates, E21 outside the pool, E22 more than the pool, E01/E02 count vs ids', () => {
    assert.equal(code(() => plan({ request: { cpuCount: undefined, cpuIds: [1, 1] } })).code, 20);
    assert.equal(code(() => plan({ request: { cpuCount: undefined, cpuIds: [1, 3] } })).code, 21);
    assert.equal(code(() => plan({ request: { cpuCount: 6 } })).code, 22);
    assert.equal(code(() => plan({ request: { cpuIds: [1, 5] } })).code, 2);
    assert.equal(code(() => plan({ request: { cpuCount: undefined } })).code, 1);
    assert.deepEqual(plan({ request: { cpuCount: undefined, cpuIds: [6, 2] } }).cpuIds, [2, 6]);
  });

  it('whole cores: odd counts and half cores fail as the driver does (E29); used CPUs E32', () => {
    assert.match(code(() => plan({ request: { cpuCount: 1 } })).message, /Full CPU cores have not been set/);
    assert.equal(code(() => plan({ request: { cpuCount: undefined, cpuIds: [1] } })).code, 29);
    assert.equal(code(() => plan({ request: { cpuCount: 0 } })).code, 29);
    assert.equal(code(() => plan({ request: { cpuCount: undefined, cpuIds: [1, 5] }, running: [held({})] })).code, 32);
    assert.equal(code(() => plan({ request: { cpuCount: 4 }, running: [held({})] })).code, 32);
    assert.deepEqual(plan({ running: [held({})] }).cpuIds, [2, 6]);
  });

  it('E26 with the spec message: memory >= 4 x EIF size, minimum rounded up to MiB', () => {
    const e = code(() => plan({ request: { memoryMiB: 64 }, eifFileSize: 32 * 1024 * 1024 }));
    assert.equal(e.code, 26);
    assert.equal(
      e.message,
      'Insufficient memory requested. User provided `memory` is 64 MB, but based on the EIF file size, ' +
        'the minimum memory should be 128 MB. The enclave needs at least 128 MiB: ' +
        "the larger of 4 × the image's size (128 MiB) and the driver's 64 MiB minimum",
    );
    assert.equal(code(() => plan({ request: { memoryMiB: 0 } })).code, 26);
    assert.equal(minimumMemoryMiB(2712), 4);
    assert.equal(minimumMemoryMiB(32 * 1024 * 1024 + 1), 132);
    assert.equal(plan({ request: { memoryMiB: 128 }, eifFileSize: 32 * 1024 * 1024 }).memoryMiB, 128);
  });

  it(
    'E26 names the minimum the emulator accepts, not only 4 x the image: ' +
      'following it succeeds (a 2 MiB image needs 64, not 8)',
    () => {
      const twoMiB = 2 * 1024 * 1024;
      const e = code(() => plan({ request: { memoryMiB: 4 }, eifFileSize: twoMiB }));
      assert.equal(e.code, 26);
      assert.equal(
        e.message,
        'Insufficient memory requested. User provided `memory` is 4 MB, but based on the ' +
          'EIF file size, the minimum memory should be 8 MB. The enclave needs at least 64 MiB: ' +
          "the larger of 4 × the image's size (8 MiB) and the driver's 64 MiB minimum",
      );
      // What it names is accepted, and anything less is refused by one rule or the other.
      const minimum = Number(/The enclave needs at least (\d+) MiB/.exec(e.message)?.[1]);
      assert.equal(minimum, 64);
      assert.equal(plan({ request: { memoryMiB: minimum }, eifFileSize: twoMiB }).memoryMiB, 64);
      assert.equal(code(() => plan({ request: { memoryMiB: 10 }, eifFileSize: twoMiB })).code, 29);
      assert.equal(code(() => plan({ request: { memoryMiB: 62 }, eifFileSize: twoMiB })).code, 29);
      for (const size of [1, 2712, twoMiB, 15 * 1024 * 1024 + 1, 16 * 1024 * 1024, 100 * 1024 * 1024 + 7]) {
        const rule = memoryRequirement(size);
        assert.equal(
          plan({
            request: { memoryMiB: rule.minimumMiB },
            eifFileSize: size,
            pool: { cpuIds: [1, 5], memoryMiB: 4096 },
          }).memoryMiB,
          rule.minimumMiB,
          String(size),
        );
      }
    },
  );

  it('the memory rule text and the per-field check the Run Enclave form shows come from the same rules', () => {
    const twoMiB = 2 * 1024 * 1024;
    assert.deepEqual(memoryRequirement(twoMiB), {
      minimumMiB: 64,
      imageMinimumMiB: 8,
      text: "at least 64 MiB: the larger of 4 × the image's size (8 MiB) and the driver's 64 MiB minimum",
    });
    assert.deepEqual(memoryRequirement(32 * 1024 * 1024 + 1), {
      minimumMiB: 132,
      imageMinimumMiB: 132,
      text: "at least 132 MiB: the larger of 4 × the image's size (132 MiB) and the driver's 64 MiB minimum",
    });
    const atLeast = "At least 64 MiB: the larger of 4 × the image's size (8 MiB) and the driver's 64 MiB minimum.";
    assert.deepEqual(memoryFieldProblem(4, twoMiB, 1024, 0), { code: 26, message: atLeast });
    assert.deepEqual(memoryFieldProblem(10, twoMiB, 1024, 0), { code: 29, message: atLeast });
    assert.equal(memoryFieldProblem(64, twoMiB, 1024, 0), undefined);
    assert.equal(memoryFieldProblem(63, twoMiB, 1024, 0), undefined); // 63 MiB is granted as 64 (2 MiB pages)
    assert.equal(memoryFieldProblem(1024, twoMiB, 1024, 512)?.code, 27);
    assert.match(memoryFieldProblem(1024, twoMiB, 1024, 512)?.message ?? '', /512 MiB free of 1024 MiB/);
  });

  it('E27 when the pool has not enough memory left; memory comes in 2 MiB pages; 64 MiB minimum', () => {
    assert.equal(code(() => plan({ request: { memoryMiB: 2048 } })).code, 27);
    assert.equal(code(() => plan({ request: { memoryMiB: 1000 }, running: [held({ cpuIds: [] })] })).code, 27);
    assert.equal(plan({ request: { memoryMiB: 895 }, running: [held({ cpuIds: [] })] }).memoryMiB, 896);
    assert.equal(code(() => plan({ request: { memoryMiB: 32 } })).code, 29);
  });

  it('E26 comes before the CPU allocation and E27; E59 after E26', () => {
    assert.equal(code(() => plan({ request: { memoryMiB: 0, cpuCount: 1 } })).code, 26);
    assert.equal(code(() => plan({ request: { memoryMiB: 4096 }, signatureProblem: 'expired' })).code, 59);
    assert.equal(code(() => plan({ request: { memoryMiB: 0 }, signatureProblem: 'expired' })).code, 26);
  });

  it('names: from the file, unique with _1, _2', () => {
    assert.equal(defaultEnclaveName('/a/b/hello.eif'), 'hello');
    assert.equal(defaultEnclaveName('img'), 'img');
    assert.equal(
      plan({ running: [held({ name: 'hello', cpuIds: [] }), held({ name: 'hello_1', cpuIds: [] })] }).name,
      'hello_2',
    );
    assert.equal(plan({ request: { enclaveName: 'web' } }).name, 'web');
  });

  it('ids and lists', () => {
    assert.match(parentIdFor(new Uint8Array(9).fill(0xab)), PARENT_ID_PATTERN);
    assert.equal(enclaveIdFor(parentId, new Uint8Array(8)), `${parentId}-enc0000000000000000`);
    assert.equal(formatCpuList([7, 1, 2, 3, 5]), '1-3,5,7');
  });

  it('per-field checks of the Run Enclave form: CPUs (E22, E32, E29), CID (E03), each with what would work', () => {
    assert.deepEqual(freeCpuIds([1, 2, 5, 6], [2, 5]), [1, 6]);
    assert.equal(cpuCountFieldProblem(2, base.topology, [1, 2, 5, 6], []), undefined);
    assert.equal(cpuCountFieldProblem(0, base.topology, [1, 2], [])?.code, 29);
    assert.deepEqual(cpuCountFieldProblem(6, base.topology, [1, 2, 5, 6], []), {
      code: 22,
      message: 'The enclave pool has 4 CPUs (1-2,5-6).',
    });
    assert.deepEqual(cpuCountFieldProblem(4, base.topology, [1, 2, 5, 6], [5, 6]), {
      code: 32,
      message: "Only 2 of the pool's 4 CPUs are free (the others run enclaves).",
    });
    assert.equal(cpuCountFieldProblem(3, base.topology, [1, 2, 5, 6], [])?.code, 29);
    assert.equal(cidFieldProblem(0, [16]), undefined);
    assert.equal(cidFieldProblem(17, [16]), undefined);
    assert.deepEqual(cidFieldProblem(16, [16]), { code: 3, message: 'CID 16 is used by a running enclave.' });
    const reserved = cidFieldProblem(3, []);
    assert.equal(reserved?.code, 3);
    assert.match(reserved?.message ?? '', /parent instance/);
    assert.deepEqual(cpuCountFieldProblem(2, base.topology, [1, 2, 5, 6], [1, 2]), {
      code: 29,
      message: 'The free CPUs (5-6) do not make 1 whole core: ask for fewer CPUs or terminate an enclave.',
    });
    assert.equal(problemText({ code: 3, message: 'x' }), '[E03] x');
    assert.equal(problemText({ code: 26, message: 'y' }), '[E26] y');
  });

  it('the per-field CPU check agrees with planRunEnclave on the code, for every count and use of the pool', () => {
    const pool = [1, 2, 5, 6];
    for (const used of [[], [1, 2], [1, 2, 5, 6]]) {
      const running: HeldResources[] = used.length
        ? [{ enclaveId: `${parentId}-enc0000000000000001`, name: 'x', cid: 16, cpuIds: used, memoryMiB: 64 }]
        : [];
      for (let count = 1; count <= 6; count++) {
        const field = cpuCountFieldProblem(count, base.topology, pool, used)?.code;
        const whole = runRequestProblem({ ...base, request: { ...base.request, cpuCount: count }, running })?.code;
        assert.equal(field, whole, `count ${count}, used ${used.join(',')}`);
      }
    }
  });

  it('runRequestProblem: the whole check as a dry run, undefined when the plan succeeds', () => {
    assert.equal(runRequestProblem(base), undefined);
    assert.equal(runRequestProblem({ ...base, request: { ...base.request, memoryMiB: 0 } })?.code, 26);
    assert.equal(runRequestProblem({ ...base, request: { ...base.request, memoryMiB: 1 } })?.code, 29);
    assert.equal(runRequestProblem({ ...base, request: { ...base.request, memoryMiB: 4096 } })?.code, 27);
  });
});
