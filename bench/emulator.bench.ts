// The embedded emulator: how long run-enclave takes until the enclave answers as RUNNING, how long
// describe-enclaves takes with 50 enclaves running (one host process each), and how many
// attestation documents an enclave's NSM signs per second. Aims on the 2-core reference machine:
// run < 150 ms, describe(50) < 50 ms, ≥ 200 attestations/s.
//   BENCH_RUNS (default 10 run/terminate cycles), BENCH_ENCLAVES (default 50), BENCH_ATTEST_SECONDS (default 3)
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeRequest, decodeResponse } from '../src/engine/nsm/protocol';
import { EmulatorBackend } from '../src/engine/node/emulator/backend';
import { addParent, loadParents } from '../src/engine/node/emulator/state';
import { bench, round } from './harness';

const runs = Number(process.env.BENCH_RUNS ?? 10);
const enclaves = Number(process.env.BENCH_ENCLAVES ?? 50);
const attestSeconds = Number(process.env.BENCH_ATTEST_SECONDS ?? 3);

const eif = path.join(__dirname, '..', '..', 'test', 'fixtures', 'eif', 'synthetic-v4-signed.eif');
const hostScript = path.join(__dirname, '..', 'enclave-host.js');

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

bench('emulator', async () => {
  const state = mkdtempSync(path.join(os.tmpdir(), 'nitro-bench-emu-'));
  const backend = new EmulatorBackend({ stateDir: state, hostScript, watch: false });
  try {
    const [first] = await loadParents(state);
    if (!first) throw new Error('no default parent');
    // run → RUNNING, then terminate, one at a time.
    const runMs: number[] = [];
    const terminateMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      const r = await backend.runEnclave(first.id, { eifPath: eif, memoryMiB: 64, cpuCount: 2 });
      runMs.push(ms(t0));
      const t1 = process.hrtime.bigint();
      await backend.terminateEnclave(first.id, r.EnclaveID);
      terminateMs.push(ms(t1));
    }

    // Attestation documents per second from one enclave's NSM (sequential requests).
    const r = await backend.runEnclave(first.id, { eifPath: eif, memoryMiB: 64, cpuCount: 2 });
    const request = encodeRequest({ type: 'Attestation', userData: null, nonce: new Uint8Array(32), publicKey: null });
    let documents = 0;
    const deadline = Date.now() + attestSeconds * 1000;
    const ta = process.hrtime.bigint();
    while (Date.now() < deadline) {
      const response = decodeResponse(await backend.nsm(first.id, r.EnclaveID, request));
      if (response.type !== 'Attestation') throw new Error(`the NSM answered ${response.type}`);
      documents++;
    }
    const attestPerSecond = documents / (ms(ta) / 1000);
    await backend.terminateEnclave(first.id, r.EnclaveID);

    // describe-enclaves with many enclaves running on a large parent.
    const big = await addParent(state, {
      name: 'bench',
      vcpus: 2 * (enclaves + 2) * 2,
      memoryMiB: 1 << 20,
      pool: { memoryMiB: enclaves * 64 + 64, cpuCount: enclaves * 2 },
    });
    const tStart = process.hrtime.bigint();
    for (let i = 0; i < enclaves; i++) await backend.runEnclave(big.id, { eifPath: eif, memoryMiB: 64, cpuCount: 2 });
    const startAllSeconds = ms(tStart) / 1000;
    const describeMs: number[] = [];
    let listed = 0;
    for (let i = 0; i < 5; i++) {
      const t0 = process.hrtime.bigint();
      listed = (await backend.describeEnclaves(big.id)).length;
      describeMs.push(ms(t0));
    }
    if (listed !== enclaves) throw new Error(`describe listed ${listed} enclaves, not ${enclaves}`);
    for (const e of await backend.describeEnclaves(big.id)) await backend.terminateEnclave(big.id, e.EnclaveID);

    return {
      runToRunningMs: round(median(runMs), 1),
      runTargetMs: 150,
      runOk: median(runMs) < 150,
      terminateMs: round(median(terminateMs), 1),
      enclaves,
      startAllSeconds: round(startAllSeconds, 1),
      describeMs: round(median(describeMs), 1),
      describeTargetMs: 50,
      describeOk: median(describeMs) < 50,
      attestationsPerSecond: round(attestPerSecond, 0),
      attestationsTarget: 200,
      attestationsOk: attestPerSecond >= 200,
      allRunMs: runMs.map((x) => round(x, 0)).join(' '),
    };
  } finally {
    try {
      for (const p of await backend.listParents())
        for (const e of await backend.describeEnclaves(p.id))
          await backend.terminateEnclave(p.id, e.EnclaveID).catch(() => undefined);
    } finally {
      backend.dispose();
      rmSync(state, { recursive: true, force: true });
    }
  }
});
