// run-enclave's rules, in the order nitro-cli 1.5 and the Nitro Enclaves driver apply them (spec
// eif.md 7.10), with nitro-cli's error codes: argument parsing (E03), CID (E03), CPUs (E20, E21,
// E22), the enclave name, the EIF-size rule (E26), memory from the pool (E27), then what the driver
// refuses when the enclave starts (CPU already used: E32; not whole cores, under 64 MiB: E29).
import { BackendError, type RunEnclaveRequest } from '../platform/backend';
import { THREADS_PER_CORE, coreOf, siblingsOf, type EnclavePool, type InstanceTopology } from './allocator';

/** CIDs 0-2 are reserved, 3 is the parent; 0 in a request means "pick one". */
export const PARENT_CID = 3;
export const MIN_ENCLAVE_CID = 4;
/** u32::MAX (VMADDR_CID_ANY) is refused. */
export const MAX_ENCLAVE_CID = 0xffff_fffe;
/** Where automatic CIDs start (nitro-cli's output shows 16 for the first enclave). */
export const FIRST_AUTO_CID = 16;
/** nitro-cli's ENCLAVE_MEMORY_EIF_SIZE_RATIO. */
export const EIF_SIZE_RATIO = 4;
/** The driver's NE_MIN_ENCLAVE_MEM_SIZE. */
export const MIN_ENCLAVE_MEMORY_MIB = 64;
/** Enclave memory is handed out in huge pages; the emulated pool uses 2 MiB pages. */
export const HUGE_PAGE_MIB = 2;

const fail = (code: number, message: string): never => {
  throw new BackendError(code, message);
};

/** `--memory`: digits and an optional unit letter (M/m MiB, G/g GiB, T/t TiB); anything else is E03. */
export function parseMemoryArgument(text: string): number {
  const m = /^(\d+)([MmGgTt]?)$/.exec(text);
  if (!m)
    return fail(
      3,
      `Invalid argument provided. The memory value '${text}' is not a number of MiB with an optional unit (M, G or T)`,
    );
  const scale = { '': 1, m: 1, g: 1024, t: 1024 * 1024 }[(m[2] ?? '').toLowerCase()] ?? 1;
  const value = Number(m[1]) * scale;
  if (!Number.isSafeInteger(value)) fail(3, `Invalid argument provided. The memory value '${text}' is too large`);
  return value;
}

/** An unsigned integer argument (CPU count, CPU id, CID); E03 otherwise. */
export function parseUnsignedArgument(name: string, text: string): number {
  if (!/^\d+$/.test(text))
    fail(3, `Invalid argument provided. The value '${text}' of ${name} is not an unsigned integer`);
  const value = Number(text);
  if (!Number.isSafeInteger(value)) fail(3, `Invalid argument provided. The value '${text}' of ${name} is too large`);
  return value;
}

/** `--enclave-cid`: 0 (automatic) or 4 ... 4294967294. */
export function checkCid(cid: number): void {
  if (!Number.isSafeInteger(cid) || cid < 0)
    fail(3, `Invalid argument provided. The enclave CID ${cid} is not an unsigned integer`);
  if (cid === 0) return;
  if (cid < MIN_ENCLAVE_CID) {
    fail(
      3,
      `Invalid argument provided. The enclave CID ${cid} is reserved ` +
        `(${cid === PARENT_CID ? 'it is the parent instance' : '0-2 are well-known CIDs'}); ` +
        `use 4 to ${MAX_ENCLAVE_CID}, or 0 for any`,
    );
  }
  if (cid > MAX_ENCLAVE_CID)
    fail(
      3,
      `Invalid argument provided. The enclave CID ${cid} is out of range; use 4 to ${MAX_ENCLAVE_CID}, or 0 for any`,
    );
}

/** The minimum memory (MiB) for an EIF of `fileSize` bytes, as nitro-cli computes it for E26. */
export function minimumMemoryMiB(fileSize: number): number {
  return Math.ceil(Math.ceil(fileSize / 1024) / 1024) * EIF_SIZE_RATIO;
}

/**
 * Both memory rules run-enclave applies, for an image of `fileSize` bytes: the EIF-size rule (E26,
 * 4 × the file size rounded up to MiB) and the driver's 64 MiB minimum (E29). `minimumMiB` is the
 * smallest request both accept; `text` states it with both rules, as the CLI and the Run Enclave
 * form say it.
 */
export interface MemoryRequirement {
  readonly minimumMiB: number;
  readonly imageMinimumMiB: number;
  /** `at least 64 MiB: the larger of 4 × the image's size (8 MiB) and the driver's 64 MiB minimum` */
  readonly text: string;
}

export function memoryRequirement(fileSize: number): MemoryRequirement {
  const imageMinimumMiB = minimumMemoryMiB(fileSize);
  const minimumMiB = Math.max(imageMinimumMiB, MIN_ENCLAVE_MEMORY_MIB);
  return {
    minimumMiB,
    imageMinimumMiB,
    text:
      `at least ${minimumMiB} MiB: the larger of ${EIF_SIZE_RATIO} × the image's size (${imageMinimumMiB} MiB) ` +
      `and the driver's ${MIN_ENCLAVE_MEMORY_MIB} MiB minimum`,
  };
}

/**
 * Why `memoryMiB` cannot be given to an enclave of an image of `fileSize` bytes from a pool of
 * `poolMiB` of which `usedMiB` are taken, or undefined: the memory checks of planRunEnclave, as
 * one field of a form sees them (the same codes: E26, E29, E27), each saying what would work.
 */
export function memoryFieldProblem(
  memoryMiB: number,
  fileSize: number,
  poolMiB: number,
  usedMiB: number,
): { code: number; message: string } | undefined {
  const rule = memoryRequirement(fileSize);
  const atLeast = `${rule.text.charAt(0).toUpperCase()}${rule.text.slice(1)}.`;
  if (!Number.isSafeInteger(memoryMiB) || memoryMiB < 0)
    return { code: 3, message: `The memory ${memoryMiB} is not a number of MiB.` };
  if (memoryMiB * 1024 * 1024 < EIF_SIZE_RATIO * fileSize || memoryMiB === 0) return { code: 26, message: atLeast };
  const granted = Math.ceil(memoryMiB / HUGE_PAGE_MIB) * HUGE_PAGE_MIB;
  if (granted < MIN_ENCLAVE_MEMORY_MIB) return { code: 29, message: atLeast };
  const free = Math.max(0, poolMiB - usedMiB);
  if (granted > free) {
    return {
      code: 27,
      message:
        `The enclave pool has ${free} MiB free of ${poolMiB} MiB: ask for less, terminate an enclave, ` +
        `or raise memory_mib in the allocator configuration.`,
    };
  }
  return undefined;
}

/** A problem of one field of a run request: nitro-cli's error code and a sentence saying what would work. */
export interface FieldProblem {
  readonly code: number;
  readonly message: string;
}

/** `[E26] message`: a problem as a form shows it (the code padded as nitro-cli prints it). */
export function problemText(problem: FieldProblem): string {
  return `[E${String(problem.code).padStart(2, '0')}] ${problem.message}`;
}

/** The pool's CPUs that no running enclave holds, ascending as the pool lists them. */
export function freeCpuIds(poolCpuIds: readonly number[], usedCpuIds: readonly number[]): number[] {
  const used = new Set(usedCpuIds);
  return poolCpuIds.filter((c) => !used.has(c));
}

/**
 * Why `cpuCount` CPUs cannot be taken from a pool of `poolCpuIds` of which `usedCpuIds` run
 * enclaves, on an instance of `topology`, or undefined: planRunEnclave's CPU checks as one field
 * of a form sees them (E22 more than the pool, E32 more than is free, E29 not whole cores, or free
 * CPUs that do not pair into whole cores), picking CPUs as planRunEnclave does.
 */
export function cpuCountFieldProblem(
  cpuCount: number,
  topology: InstanceTopology,
  poolCpuIds: readonly number[],
  usedCpuIds: readonly number[],
): FieldProblem | undefined {
  if (!Number.isSafeInteger(cpuCount) || cpuCount < 1)
    return { code: 29, message: 'An enclave needs at least one whole core.' };
  if (cpuCount > poolCpuIds.length)
    return {
      code: 22,
      message: `The enclave pool has ${poolCpuIds.length} CPUs (${formatCpuList(poolCpuIds) || 'none'}).`,
    };
  const free = freeCpuIds(poolCpuIds, usedCpuIds);
  if (cpuCount > free.length)
    return {
      code: 32,
      message: `Only ${free.length} of the pool's ${poolCpuIds.length} CPUs are free (the others run enclaves).`,
    };
  if (cpuCount % THREADS_PER_CORE !== 0)
    return {
      code: 29,
      message:
        `Enclaves get whole cores: ask for a multiple of ${THREADS_PER_CORE} CPUs ` +
        '(both hyper-threads of each core).',
    };
  const picked = pickCpus(topology, poolCpuIds, new Map(usedCpuIds.map((c) => [c, ''])), cpuCount);
  if (halfCore(topology, picked) !== undefined) {
    return {
      code: 29,
      message:
        `The free CPUs (${formatCpuList(free)}) do not make ${cpuCount / THREADS_PER_CORE} whole ` +
        `core${cpuCount === THREADS_PER_CORE ? '' : 's'}: ask for fewer CPUs or terminate an enclave.`,
    };
  }
  return undefined;
}

/** A CPU of `cpuIds` given without its hyper-thread sibling, or undefined when they are whole cores. */
function halfCore(topology: InstanceTopology, cpuIds: readonly number[]): number | undefined {
  const chosen = new Set(cpuIds);
  return cpuIds.find((c) => siblingsOf(topology, c).some((s) => !chosen.has(s)));
}

/**
 * Why `cid` cannot be a new enclave's CID (0: the next free one) when running enclaves have `takenCids`, or undefined
 * (E03).
 */
export function cidFieldProblem(cid: number, takenCids: readonly number[]): FieldProblem | undefined {
  try {
    checkCid(cid);
  } catch (e) {
    if (e instanceof BackendError) return { code: e.code, message: e.message };
    throw e;
  }
  if (cid !== 0 && takenCids.includes(cid)) return { code: 3, message: `CID ${cid} is used by a running enclave.` };
  return undefined;
}

/** The enclave name nitro-cli derives from the image path: the file name without a trailing `.eif`. */
export function defaultEnclaveName(eifPath: string): string {
  const base = eifPath.slice(eifPath.lastIndexOf('/') + 1);
  const name = base.slice(base.lastIndexOf('\\') + 1);
  return name.endsWith('.eif') ? name.slice(0, -4) : name;
}

/** `name`, or `name_1`, `name_2`, ... : the first not used by a running enclave. */
export function uniqueEnclaveName(name: string, taken: ReadonlySet<string>): string {
  if (!taken.has(name)) return name;
  for (let i = 1; ; i++) if (!taken.has(`${name}_${i}`)) return `${name}_${i}`;
}

/** `<parent instance id>-enc<16 lower-case hex>` from 8 random bytes. */
export function enclaveIdFor(parentId: string, random8: Uint8Array): string {
  if (random8.length < 8) throw new RangeError('enclaveIdFor needs 8 random bytes');
  let hex = '';
  for (let i = 0; i < 8; i++) hex += (random8[i] as number).toString(16).padStart(2, '0');
  return `${parentId}-enc${hex}`;
}

export const ENCLAVE_ID_PATTERN = /^i-[0-9a-f]{17}-enc[0-9a-f]{16}$/;
export const PARENT_ID_PATTERN = /^i-[0-9a-f]{17}$/;

/** `i-` + 17 lower-case hex from 9 random bytes (the first nibble dropped). */
export function parentIdFor(random9: Uint8Array): string {
  let hex = '';
  for (let i = 0; i < 9; i++) hex += (random9[i] ?? 0).toString(16).padStart(2, '0');
  return `i-${hex.slice(1)}`;
}

/** What a running enclave holds, as the rules see it. */
export interface HeldResources {
  readonly enclaveId: string;
  readonly name: string;
  readonly cid: number;
  readonly cpuIds: readonly number[];
  readonly memoryMiB: number;
}

export interface RunPlanInput {
  readonly parentId: string;
  readonly topology: InstanceTopology;
  readonly pool: EnclavePool;
  readonly request: RunEnclaveRequest;
  /** Size in bytes of the EIF file. */
  readonly eifFileSize: number;
  /** Why the EIF's signature does not check out (E59), if it is signed and does not. */
  readonly signatureProblem?: string;
  /** Enclaves already running on this parent (any process). */
  readonly running: readonly HeldResources[];
  /** 8 random bytes for the enclave id. */
  readonly random8: Uint8Array;
}

export interface RunPlan {
  readonly enclaveId: string;
  readonly name: string;
  readonly cid: number;
  /** Ascending. */
  readonly cpuIds: readonly number[];
  /** Granted memory: the request rounded up to whole huge pages (nitro-cli's MemoryMiB). */
  readonly memoryMiB: number;
  readonly debugMode: boolean;
}

/**
 * Checks a run-enclave request against the parent's pool and running enclaves; throws BackendError with nitro-cli's
 * code.
 */
export function planRunEnclave(input: RunPlanInput): RunPlan {
  const { request, pool, running, topology } = input;

  // 2. CID: its range, and not one a running enclave has.
  const askedCid = request.enclaveCid ?? 0;
  const usedCids = new Set(running.map((e) => e.cid));
  checkRequestedCid(askedCid, usedCids);

  // 3. CPUs: exactly one of count and ids; duplicates (E20), outside the pool (E21), too many (E22).
  const cpuIds = checkCpuRequest(request, pool);

  // 4. Name: given or from the file name, made unique among running enclaves.
  const name = uniqueEnclaveName(
    request.enclaveName ?? defaultEnclaveName(request.eifPath),
    new Set(running.map((e) => e.name)),
  );

  // 5. EIF size: memory >= 4 x file size.
  const asked = request.memoryMiB;
  checkEifSizeRule(asked, input.eifFileSize);

  // 6. Signature.
  if (input.signatureProblem !== undefined) fail(59, `EIF signature check failed. ${input.signatureProblem}`);

  // 7. Memory from the pool, in huge pages.
  const granted = grantMemory(asked, pool, running);

  // 8. vCPUs, as the driver adds them.
  const vcpus = addVcpus(topology, pool, running, cpuIds, request.cpuCount as number);
  checkDriverLimits(topology, vcpus, granted);

  return {
    enclaveId: enclaveIdFor(input.parentId, input.random8),
    name,
    cid: assignCid(askedCid, usedCids),
    cpuIds: [...vcpus].sort((a, b) => a - b),
    memoryMiB: granted,
    debugMode: request.debugMode === true,
  };
}

/** The requested CID: its range (E03), and not one a running enclave has (E03). */
function checkRequestedCid(askedCid: number, usedCids: ReadonlySet<number>): void {
  checkCid(askedCid);
  if (askedCid !== 0 && usedCids.has(askedCid)) {
    fail(3, `Invalid argument provided. The enclave CID ${askedCid} is already used by a running enclave`);
  }
}

/** Exactly one of cpu-count and cpu-ids, each checked against the pool; the ids when they are given. */
function checkCpuRequest(request: RunEnclaveRequest, pool: EnclavePool): readonly number[] | undefined {
  const hasCount = request.cpuCount !== undefined;
  const hasIds = request.cpuIds !== undefined;
  if (hasCount && hasIds) fail(2, 'Conflicting arguments provided. Give exactly one of cpu-count and cpu-ids');
  if (!hasCount && !hasIds) fail(1, 'Missing mandatory argument. One of cpu-count and cpu-ids is required');
  if (request.cpuIds !== undefined) {
    checkCpuIds(request.cpuIds, pool);
    return request.cpuIds;
  }
  checkCpuCount(request.cpuCount as number, pool);
  return undefined;
}

/** cpu-ids: unsigned integers (E03), none twice (E20), all in the pool (E21). */
function checkCpuIds(ids: readonly number[], pool: EnclavePool): void {
  const poolSet = new Set(pool.cpuIds);
  const seen = new Set<number>();
  for (const id of ids) {
    if (!Number.isSafeInteger(id) || id < 0)
      fail(3, `Invalid argument provided. The CPU id ${id} is not an unsigned integer`);
    if (seen.has(id)) fail(20, `Invalid CPU configuration. CPU ${id} is given more than once`);
    seen.add(id);
  }
  for (const id of ids) {
    if (!poolSet.has(id))
      fail(
        21,
        `CPU not in the enclave CPU pool. CPU ${id} is not in the pool (${formatCpuList(pool.cpuIds) || 'empty'}); ` +
          `edit the parent's allocator.yaml to change the pool`,
      );
  }
}

/** cpu-count: an unsigned integer (E03), no more than the pool has (E22). */
function checkCpuCount(count: number, pool: EnclavePool): void {
  if (!Number.isSafeInteger(count) || count < 0)
    fail(3, `Invalid argument provided. The CPU count ${count} is not an unsigned integer`);
  if (count > pool.cpuIds.length) {
    fail(
      22,
      `Insufficient CPUs in the enclave CPU pool. ${count} CPUs requested, but the pool has ${pool.cpuIds.length} ` +
        `(${formatCpuList(pool.cpuIds) || 'empty'})`,
    );
  }
}

/** The memory is a number of MiB (E03) and at least 4 times the EIF file's size (E26). */
function checkEifSizeRule(asked: number, eifFileSize: number): void {
  if (!Number.isSafeInteger(asked) || asked < 0)
    fail(3, `Invalid argument provided. The memory ${asked} is not a number of MiB`);
  const minimum = minimumMemoryMiB(eifFileSize);
  if (asked * 1024 * 1024 < EIF_SIZE_RATIO * eifFileSize || asked === 0) {
    // nitro-cli's text, then what the emulator accepts: its minimum alone would then meet E29.
    fail(
      26,
      `Insufficient memory requested. User provided \`memory\` is ${asked} MB, but based on the EIF file size, ` +
        `the minimum memory should be ${minimum} MB. The enclave needs ${memoryRequirement(eifFileSize).text}`,
    );
  }
}

/** The request rounded up to whole huge pages, if the pool has that much free (E27). */
function grantMemory(asked: number, pool: EnclavePool, running: readonly HeldResources[]): number {
  const granted = Math.ceil(asked / HUGE_PAGE_MIB) * HUGE_PAGE_MIB;
  const usedMemory = running.reduce((n, e) => n + e.memoryMiB, 0);
  const freeMemory = Math.max(0, pool.memoryMiB - usedMemory);
  if (granted > freeMemory) {
    fail(
      27,
      `Insufficient memory available. ${asked} MiB requested, but the enclave pool has ${freeMemory} MiB free ` +
        `of ${pool.memoryMiB} MiB; raise memory_mib in the parent's allocator.yaml or terminate an enclave`,
    );
  }
  return granted;
}

/** The enclave's vCPUs as the driver adds them: the given ids, none used already (E32), or picked for the count. */
function addVcpus(
  topology: InstanceTopology,
  pool: EnclavePool,
  running: readonly HeldResources[],
  cpuIds: readonly number[] | undefined,
  cpuCount: number,
): number[] {
  const usedCpus = new Map<number, string>();
  for (const e of running) for (const c of e.cpuIds) usedCpus.set(c, e.enclaveId);
  if (cpuIds === undefined) return pickCpus(topology, pool.cpuIds, usedCpus, cpuCount);
  const ids = [...cpuIds];
  for (const c of ids) {
    const holder = usedCpus.get(c);
    if (holder !== undefined) fail(32, `Add vCPU ioctl failure. CPU ${c} is already used by enclave ${holder}`);
  }
  return ids;
}

/** What the driver refuses when the enclave starts (E29): no vCPUs, not whole cores, under its minimum memory. */
function checkDriverLimits(topology: InstanceTopology, cpuIds: readonly number[], granted: number): void {
  if (cpuIds.length === 0)
    fail(29, 'Ioctl failure. The enclave has no vCPUs (the driver needs at least one full core)');
  const half = halfCore(topology, cpuIds);
  if (half !== undefined) {
    fail(
      29,
      `Ioctl failure. Full CPU cores have not been set: CPU ${half} is given without its hyper-thread sibling ` +
        `${siblingsOf(topology, half)
          .filter((s) => s !== half)
          .join(', ')} (enclaves get whole cores, ${THREADS_PER_CORE} vCPUs each)`,
    );
  }
  if (granted < MIN_ENCLAVE_MEMORY_MIB) {
    fail(
      29,
      `Ioctl failure. The enclave's memory (${granted} MiB) is less than the minimum of ${MIN_ENCLAVE_MEMORY_MIB} MiB`,
    );
  }
}

/** The CID: the requested one, or the first free from 16 up. */
function assignCid(askedCid: number, usedCids: ReadonlySet<number>): number {
  if (askedCid !== 0) return askedCid;
  let cid = FIRST_AUTO_CID;
  while (usedCids.has(cid)) cid++;
  return cid;
}

/**
 * The whole check of a request as a dry run (every rule, in nitro-cli's order) against a parent's
 * topology, pool and running enclaves: the first problem, or undefined. The backend checks again
 * when it runs the enclave.
 */
export function runRequestProblem(input: Omit<RunPlanInput, 'random8'>): FieldProblem | undefined {
  try {
    planRunEnclave({ ...input, random8: new Uint8Array(8) });
    return undefined;
  } catch (e) {
    if (e instanceof BackendError) return { code: e.code, message: e.message };
    throw e;
  }
}

/**
 * Free pool CPUs for a count, as the driver picks them: whole free cores first (both siblings),
 * lowest core first; then single CPUs (which the full-core check refuses). Fewer free CPUs than
 * asked: E32, the driver's "no CPUs available in the pool".
 */
function pickCpus(
  topology: InstanceTopology,
  pool: readonly number[],
  used: ReadonlyMap<number, string>,
  count: number,
): number[] {
  const free = freeCpuIds(pool, [...used.keys()]);
  if (free.length < count) {
    fail(
      32,
      `Add vCPU ioctl failure. ${count} CPUs requested, ` +
        `but only ${free.length} of the pool's ${pool.length} are free (the others run enclaves)`,
    );
  }
  const freeSet = new Set(free);
  const cores = new Map<number, number[]>();
  for (const c of free) {
    const core = coreOf(topology, c);
    cores.set(core, [...(cores.get(core) ?? []), c]);
  }
  const whole = [...cores.entries()]
    .filter(([, cs]) => siblingsOf(topology, cs[0] as number).every((s) => freeSet.has(s)))
    .sort((a, b) => a[0] - b[0]);
  const picked: number[] = [];
  for (const [, cs] of whole) {
    for (const c of cs.sort((a, b) => a - b)) if (picked.length < count) picked.push(c);
  }
  for (const c of free) if (picked.length < count && !picked.includes(c)) picked.push(c);
  return picked;
}

/** `1-3,5` style list of ascending CPU ids. */
export function formatCpuList(ids: readonly number[]): string {
  const sorted = [...ids].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j++;
    parts.push(j > i ? `${sorted[i]}-${sorted[j]}` : `${sorted[i]}`);
    i = j + 1;
  }
  return parts.join(',');
}
