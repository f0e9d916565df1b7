// The vsock ports in use on an emulated parent: its live listeners, each with who listens (the
// parent, CID 3, or the enclave whose CID it is), for the Parent Instances tree.
import { PARENT_CID } from '../../emulator/rules';
import type { VsockPortInUse } from '../../platform/capabilities';
import { liveRecords } from '../emulator/state';
import { liveEndpoints, vsockDirOf } from './endpoints';

export type { VsockPortInUse };

/**
 * The live listeners in an emulated parent's vsock folder, by CID then port. A file left by a
 * listener that died is not one; a listener on a CID that is neither the parent's nor a running
 * enclave's of this parent belongs to nobody here and is left out.
 */
export async function vsockPortsInUse(stateDir: string, parentId: string): Promise<VsockPortInUse[]> {
  const dir = vsockDirOf(stateDir, parentId, false);
  const enclaves = new Map(
    liveRecords(stateDir)
      .filter((r) => r.parentId === parentId)
      .map((r) => [r.cid, r.enclaveId] as const),
  );
  const out: VsockPortInUse[] = [];
  for (const { cid, port } of await liveEndpoints(dir)) {
    const owner = cid === PARENT_CID ? 'parent' : enclaves.get(cid);
    if (owner !== undefined) out.push({ cid, port, owner });
  }
  return out;
}
