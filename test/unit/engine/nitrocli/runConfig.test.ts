// run-enclave's --config JSON read by the engine, for `nitro-dev run-enclave --config` and the
// extension's nitro-enclave task type: nitro-cli's keys, its refusals and their codes.
import * as assert from 'node:assert/strict';
import { BackendError, runConfigRequest } from '../../../../src/engine';

const resolve = (p: string) => (p.startsWith('/') ? p : `/work/${p}`);
const read = (value: unknown) => runConfigRequest(value, 'cfg.json', resolve);

function refused(value: unknown, code: number, message: RegExp): void {
  assert.throws(
    () => read(value),
    (e: unknown) => e instanceof BackendError && e.code === code && message.test(e.message),
  );
}

describe('(unit) engine: run-enclave --config JSON (runConfigRequest)', () => {
  it("reads nitro-cli's keys into a run request, resolving eif_path", () => {
    assert.deepEqual(
      read({
        eif_path: 'app.eif',
        memory_mib: 512,
        cpu_count: 2,
        enclave_cid: 20,
        debug_mode: true,
        enclave_name: 'app',
        type: 'nitro-enclave',
        parent: 'emulated-parent-1',
      }),
      {
        request: {
          eifPath: '/work/app.eif',
          memoryMiB: 512,
          cpuCount: 2,
          enclaveCid: 20,
          debugMode: true,
          enclaveName: 'app',
        },
        attachConsole: false,
      },
    );
    assert.deepEqual(read({ eif_path: '/x.eif', memory_mib: 64, cpu_ids: [1, 3], attach_console: true }), {
      request: { eifPath: '/x.eif', memoryMiB: 64, cpuIds: [1, 3], debugMode: true },
      attachConsole: true,
    });
  });

  it('refuses a wrong shape with E17, both or neither CPU keys with E02 and E01', () => {
    refused([], 17, /In cfg\.json: expected a JSON object/);
    refused({ memory_mib: 64, cpu_count: 2 }, 17, /missing field `eif_path`/);
    refused({ eif_path: ' ', memory_mib: 64, cpu_count: 2 }, 17, /`eif_path` is empty/);
    refused({ eif_path: 'a.eif', cpu_count: 2 }, 17, /missing field `memory_mib`/);
    refused({ eif_path: 'a.eif', memory_mib: '512', cpu_count: 2 }, 17, /memory_mib must be an unsigned integer/);
    refused({ eif_path: 'a.eif', memory_mib: -1, cpu_count: 2 }, 17, /memory_mib must be an unsigned integer/);
    refused({ eif_path: 'a.eif', memory_mib: 64, cpu_ids: '1,3' }, 17, /cpu_ids must be an array/);
    refused(
      { eif_path: 'a.eif', memory_mib: 64, cpu_count: 2, debug_mode: 'yes' },
      17,
      /debug_mode must be true or false/,
    );
    refused({ eif_path: 'a.eif', memory_mib: 64, cpu_count: 2, enclave_name: 7 }, 17, /enclave_name must be a string/);
    refused({ eif_path: 'a.eif', memory_mib: 64, cpu_count: 2, cpu_ids: [1] }, 2, /both cpu_count and cpu_ids/);
    refused({ eif_path: 'a.eif', memory_mib: 64 }, 1, /neither cpu_count nor cpu_ids/);
  });
});
