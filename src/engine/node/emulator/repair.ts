// `nitro-dev repair-state`: what to do with a state folder whose files cannot be used. Nothing is
// deleted: a damaged file is moved aside as `<name>.damaged-<time>`, and what it held is rebuilt
// from what the folder and the running enclave hosts still know.
//
//   parents.json   the entries that still pass the checks are kept; parents whose allocator folder
//                  or running enclaves remain come back with the default size (8 vCPUs, 16 GiB).
//   enclaves/<id>.json  rewritten from the running host's own copy (it answers over its socket);
//                  moved aside when no host answers.
import { readdirSync, renameSync } from 'node:fs';
import * as path from 'node:path';
import { ENCLAVE_ID_PATTERN, PARENT_ID_PATTERN } from '../../emulator/rules';
import { requestHost, resultOf } from './protocol';
import {
  DEFAULT_PARENT,
  StateFileError,
  enclavesDir,
  ensureStateDirs,
  parentEntryProblem,
  parentsPathOf,
  readParents,
  readRecord,
  readStateFile,
  recordProblem,
  socketPathFor,
  withStateLock,
  writeParents,
  writeRecord,
  type EnclaveRecord,
  type ParentRecord,
} from './state';

export interface RepairReport {
  readonly stateDir: string;
  /** Damaged files and where they are kept now. */
  readonly movedAside: readonly { readonly file: string; readonly keptAs: string; readonly problem: string }[];
  /** Parent ids written to a rebuilt parents.json (kept from the damaged file or found in the folder). */
  readonly parents: readonly string[];
  /** Parents that were not in the readable part of parents.json and came back with the default size. */
  readonly recoveredParents: readonly string[];
  /** Enclave records rewritten from their running host. */
  readonly recoveredEnclaves: readonly string[];
}

const damagedName = (file: string, stamp: string) => `${file}.damaged-${stamp}`;

/** Moves a damaged file aside (kept as `<name>.damaged-<time>`) and notes why. */
type MoveAside = (file: string, problem: string) => void;

/** Moves damaged state files aside and rebuilds parents.json and enclave records; holds the state lock. */
export async function repairState(
  state: string,
  options: { readonly now?: () => Date; readonly hostTimeoutMs?: number } = {},
): Promise<RepairReport> {
  ensureStateDirs(state);
  const stamp = (options.now?.() ?? new Date()).toISOString().replace(/[:.]/g, '-');
  return withStateLock(state, async () => {
    const movedAside: { file: string; keptAs: string; problem: string }[] = [];
    const moveAside: MoveAside = (file, problem) => {
      let keptAs = damagedName(file, stamp);
      for (let i = 1; readStateFile(keptAs) !== undefined; i++) keptAs = damagedName(file, `${stamp}-${i}`);
      renameSync(file, keptAs);
      movedAside.push({ file, keptAs, problem });
    };

    // Enclave records first: their parents must survive a rebuilt parents.json.
    const { recoveredEnclaves, liveParents } = await repairEnclaveRecords(
      state,
      options.hostTimeoutMs ?? 5000,
      moveAside,
    );
    const { parents, recoveredParents, rebuild } = repairParents(state, liveParents, moveAside);
    return {
      stateDir: state,
      movedAside,
      parents: rebuild || recoveredParents.length > 0 ? parents.map((p) => p.id) : [],
      recoveredParents,
      recoveredEnclaves,
    };
  });
}

/**
 * Moves damaged enclave records aside, rewriting each from its running host when one answers; the
 * ids rewritten, and the parents of the enclaves with a record.
 */
async function repairEnclaveRecords(
  state: string,
  hostTimeoutMs: number,
  moveAside: MoveAside,
): Promise<{ recoveredEnclaves: string[]; liveParents: Set<string> }> {
  const recoveredEnclaves: string[] = [];
  const liveParents = new Set<string>();
  const dir = enclavesDir(state);
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    /* no enclaves */
  }
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    const file = path.join(dir, name);
    const id = name.slice(0, -'.json'.length);
    try {
      const record = readRecord(file);
      if (record) liveParents.add(record.parentId);
      continue;
    } catch (e) {
      if (!(e instanceof StateFileError)) throw e;
      const fromHost = ENCLAVE_ID_PATTERN.test(id) ? await recordFromHost(state, id, hostTimeoutMs) : undefined;
      moveAside(file, e.problem);
      if (fromHost) {
        writeRecord(state, fromHost);
        recoveredEnclaves.push(id);
        liveParents.add(fromHost.parentId);
      }
    }
  }
  return { recoveredEnclaves, liveParents };
}

/**
 * parents.json: keeps what passes the checks, adds the parents the folder still shows, and writes it
 * when anything changed; whether it was rebuilt (moved aside as damaged).
 */
function repairParents(
  state: string,
  liveParents: ReadonlySet<string>,
  moveAside: MoveAside,
): { parents: ParentRecord[]; recoveredParents: string[]; rebuild: boolean } {
  const parentsFile = parentsPathOf(state);
  let parents: ParentRecord[];
  const recoveredParents: string[] = [];
  let rebuild = false;
  try {
    parents = readParents(state) ?? [];
  } catch (e) {
    if (!(e instanceof StateFileError)) throw e;
    parents = salvageParents(readStateFile(parentsFile));
    moveAside(parentsFile, e.problem);
    rebuild = true;
  }
  const known = new Set(parents.map((p) => p.id));
  const found = new Set(liveParents);
  try {
    for (const entry of readdirSync(path.join(state, 'parents'))) if (PARENT_ID_PATTERN.test(entry)) found.add(entry);
  } catch {
    /* no allocator folders */
  }
  // A sound parents.json lists what the user chose; only a damaged one is completed from the folder,
  // except for parents of running enclaves, which must stay reachable.
  for (const id of [...found].sort()) {
    if (known.has(id) || (!rebuild && !liveParents.has(id))) continue;
    parents.push({
      id,
      name: `Recovered parent ${id}`,
      vcpus: DEFAULT_PARENT.vcpus,
      memoryMiB: DEFAULT_PARENT.memoryMiB,
    });
    known.add(id);
    recoveredParents.push(id);
  }
  if ((rebuild || recoveredParents.length > 0) && parents.length > 0) writeParents(state, parents);
  return { parents, recoveredParents, rebuild };
}

/** The entries of a damaged parents.json that still pass the checks (first of each id). */
function salvageParents(text: string | undefined): ParentRecord[] {
  let value: unknown;
  try {
    value = JSON.parse(text ?? '');
  } catch {
    return [];
  }
  const list =
    typeof value === 'object' && value !== null && Array.isArray((value as { parents?: unknown }).parents)
      ? (value as { parents: unknown[] }).parents
      : [];
  const out: ParentRecord[] = [];
  for (const entry of list) {
    if (parentEntryProblem(entry, 'entry') !== undefined) continue;
    const p = entry as ParentRecord;
    if (out.some((q) => q.id === p.id)) continue;
    out.push({ id: p.id, name: p.name, vcpus: p.vcpus, memoryMiB: p.memoryMiB });
  }
  return out;
}

/** The running host's own copy of its record, when it answers and the copy passes the checks. */
async function recordFromHost(state: string, enclaveId: string, timeoutMs: number): Promise<EnclaveRecord | undefined> {
  try {
    const record = resultOf<unknown>(
      await requestHost(socketPathFor(state, enclaveId, '.sock', false), { op: 'record' }, { timeoutMs }),
    );
    return recordProblem(state, record, enclaveId) === undefined ? (record as EnclaveRecord) : undefined;
  } catch {
    return undefined; // no host answers (HostUnreachableError), or it refused
  }
}
