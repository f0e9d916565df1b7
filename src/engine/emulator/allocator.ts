// The enclave resource pool of a parent instance, configured the way a real parent is: an
// `allocator.yaml` (`/etc/nitro_enclaves/allocator.yaml`, read by the nitro-enclaves-allocator
// service) with `memory_mib: N` and exactly one of `cpu_count: N` or `cpu_pool: "2,3,6-9"`.
//
// The rules checked here are the allocator's and the driver's: unknown keys and missing values are
// rejected, CPUs are handed out as whole physical cores only, CPU 0's core stays with the parent,
// and the parent keeps enough memory for itself. Every problem carries a line and a column so an
// editor can underline it.
import { LineCounter, isMap, isScalar, parseDocument, type Node as YamlNode, type Pair } from 'yaml';

/**
 * The CPU layout of an (emulated) EC2 instance. EC2 instances with Linux number their vCPUs so that
 * the two hyper-threads of physical core `c` are vCPUs `c` and `c + vcpus/2` (`lscpu -e`, or
 * `/sys/devices/system/cpu/cpuN/topology/thread_siblings_list`), with 2 threads per core. The
 * emulator models exactly that: an instance with 8 vCPUs has cores {0,4}, {1,5}, {2,6}, {3,7}.
 */
export interface InstanceTopology {
  /** vCPUs of the whole instance (even: 2 threads per core). */
  readonly vcpus: number;
  /** Memory of the whole instance. */
  readonly memoryMiB: number;
}

export const THREADS_PER_CORE = 2;

/** Memory the parent keeps for itself, at the least, whatever the pool asks for. */
export const PARENT_MIN_MEMORY_MIB = 1024;

/** The physical core a vCPU belongs to (EC2 Linux numbering, see InstanceTopology). */
export function coreOf(topology: InstanceTopology, cpu: number): number {
  return cpu % (topology.vcpus / THREADS_PER_CORE);
}

/** Both hyper-threads of the core `cpu` belongs to, ascending (`cpu` itself included). */
export function siblingsOf(topology: InstanceTopology, cpu: number): readonly number[] {
  const half = topology.vcpus / THREADS_PER_CORE;
  const core = cpu % half;
  return [core, core + half];
}

/** A problem in an allocator file, located for editor diagnostics (1-based line and column). */
export interface AllocatorDiagnostic {
  readonly message: string;
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
  /** 0-based character offsets into the text. */
  readonly offset: number;
  readonly endOffset: number;
  readonly severity: 'error' | 'warning';
  /** The nitro-cli error code closest to the problem (E23 malformed CPU id, E24 bad interval, ...). */
  readonly code: number;
}

/** What the file says, before it is checked against an instance. */
export interface AllocatorConfig {
  readonly memoryMiB: number;
  readonly cpuCount?: number;
  /** CPU ids listed by `cpu_pool`, in file order (duplicates removed). */
  readonly cpuPool?: readonly number[];
}

/** The resources set aside for enclaves. */
export interface EnclavePool {
  /** Ascending. */
  readonly cpuIds: readonly number[];
  readonly memoryMiB: number;
}

export interface AllocatorResult {
  /** Present when the file could be read (even if rules are broken). */
  readonly config?: AllocatorConfig;
  /** Present when there is no error. */
  readonly pool?: EnclavePool;
  readonly diagnostics: readonly AllocatorDiagnostic[];
}

const KEYS = ['memory_mib', 'cpu_count', 'cpu_pool'] as const;

class Located {
  readonly diagnostics: AllocatorDiagnostic[] = [];
  constructor(private readonly lines: LineCounter) {}

  add(offset: number, endOffset: number, message: string, code = 3, severity: 'error' | 'warning' = 'error'): void {
    const start = this.lines.linePos(offset);
    const end = this.lines.linePos(Math.max(offset, endOffset));
    this.diagnostics.push({
      message,
      line: Math.max(1, start.line),
      column: start.col,
      endLine: Math.max(1, end.line),
      endColumn: end.col,
      offset,
      endOffset: Math.max(offset, endOffset),
      severity,
      code,
    });
  }

  at(node: YamlNode | null | undefined, fallback: number, message: string, code = 3): void {
    const range = node?.range;
    if (range) this.add(range[0], range[1], message, code);
    else this.add(fallback, fallback, message, code);
  }
}

/** Where the characters of a scalar's value start in the text (for positions inside `"1,3-5"`). */
function valueStart(node: YamlNode): number {
  const range = node.range as [number, number, number];
  const type = isScalar(node) ? node.type : undefined;
  return type === 'QUOTE_DOUBLE' || type === 'QUOTE_SINGLE' ? range[0] + 1 : range[0];
}

function positiveInteger(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/** Parses a Linux cpu-list (`2,3,6-9`) with the position of each problem. */
function parseCpuList(text: string, start: number, out: Located): number[] | undefined {
  const ids: number[] = [];
  let ok = true;
  let pos = 0;
  for (const part of text.split(',')) {
    const lead = part.length - part.trimStart().length;
    const item = part.trim();
    const from = start + pos + lead;
    const to = from + item.length;
    pos += part.length + 1;
    const m = /^(\d+)(?:-(\d+))?$/.exec(item);
    if (!m) {
      ok = false;
      if (/^[^-]*-[^-]*$/.test(item) && item.length > 1)
        out.add(from, to, `invalid CPU interval '${item}': expected FIRST-LAST with two CPU ids`, 24);
      else out.add(from, to, item === '' ? 'empty entry in the CPU list' : `malformed CPU id '${item}'`, 23);
      continue;
    }
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first) {
      ok = false;
      out.add(from, to, `invalid CPU interval '${item}': ${last} is lower than ${first}`, 24);
      continue;
    }
    if (last - first > 4096) {
      ok = false;
      out.add(from, to, `invalid CPU interval '${item}': too many CPUs`, 24);
      continue;
    }
    for (let c = first; c <= last; c++) {
      if (ids.includes(c)) {
        ok = false;
        out.add(from, to, `CPU ${c} is listed more than once`, 20);
      } else {
        ids.push(c);
      }
    }
  }
  return ok ? ids : undefined;
}

/** The values of an allocator.yaml's keys, as far as they are read. */
interface AllocatorValues {
  memoryMiB?: number;
  cpuCount?: number;
  cpuPool?: number[];
}

/**
 * Parses an allocator.yaml text: the keys, their values and the cpu-list syntax. Problems that do
 * not depend on the instance are reported here; `validateAllocator` adds the instance's rules.
 */
export function parseAllocatorYaml(text: string): {
  readonly config?: AllocatorConfig;
  readonly diagnostics: readonly AllocatorDiagnostic[];
} {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const out = new Located(lines);
  for (const e of doc.errors) out.add(e.pos[0], e.pos[1], e.message.split('\n')[0] ?? e.message, 3);
  if (out.diagnostics.length > 0) return { diagnostics: out.diagnostics };

  const root = doc.contents;
  if (!isMap(root)) {
    out.at(root, 0, 'expected the keys memory_mib and cpu_count or cpu_pool (a YAML mapping)');
    return { diagnostics: out.diagnostics };
  }

  const values: AllocatorValues = {};
  const seen = new Map<string, YamlNode>();
  let valid = true;
  for (const pair of root.items) if (!readAllocatorPair(pair, values, seen, out)) valid = false;
  if (!checkAllocatorKeys(seen, text.length, out)) valid = false;

  const { memoryMiB, cpuCount, cpuPool } = values;
  if (!valid || memoryMiB === undefined) return { diagnostics: out.diagnostics };
  const config: AllocatorConfig = {
    memoryMiB,
    ...(cpuCount !== undefined ? { cpuCount } : {}),
    ...(cpuPool !== undefined ? { cpuPool } : {}),
  };
  return { config, diagnostics: out.diagnostics };
}

/** Reads one `key: value` of the file into `values` (noting the key in `seen`); false when it has a problem. */
function readAllocatorPair(
  pair: Pair<unknown, unknown>,
  values: AllocatorValues,
  seen: Map<string, YamlNode>,
  out: Located,
): boolean {
  const keyNode = pair.key as YamlNode | null;
  const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
  if (key === undefined || !(KEYS as readonly string[]).includes(key)) {
    out.at(
      keyNode,
      0,
      `unknown key${key === undefined ? '' : ` '${key}'`}: the allocator only reads ${KEYS.join(', ')}`,
    );
    return false;
  }
  seen.set(key, keyNode as YamlNode);
  const valueNode = pair.value as YamlNode | null;
  const keyEnd = keyNode?.range?.[1] ?? 0;
  if (!isScalar(valueNode) || valueNode.value === null || valueNode.value === '') {
    if (valueNode && !isScalar(valueNode)) out.at(valueNode, keyEnd, `${key} must be a single value`);
    else out.add(keyNode?.range?.[0] ?? 0, keyEnd, `${key} has no value`);
    return false;
  }
  const value = valueNode.value;
  if (key === 'memory_mib' || key === 'cpu_count') {
    const n = positiveInteger(value);
    if (n === undefined) {
      // The parser records the source text of every scalar it reads.
      const written = valueNode.source ?? '';
      out.at(valueNode, keyEnd, `${key} must be a positive whole number, not '${written}'`);
      return false;
    }
    if (key === 'memory_mib') values.memoryMiB = n;
    else values.cpuCount = n;
    return true;
  }
  const listText =
    typeof value === 'number' ? String(valueNode.source ?? value) : typeof value === 'string' ? value : undefined;
  if (listText === undefined) {
    out.at(valueNode, keyEnd, 'cpu_pool must be a CPU list such as "1,3" or "2-5"', 23);
    return false;
  }
  const ids = parseCpuList(listText, valueStart(valueNode), out);
  if (ids === undefined) return false;
  values.cpuPool = ids;
  return true;
}

/** memory_mib and exactly one of cpu_count and cpu_pool are there; false when not. */
function checkAllocatorKeys(seen: ReadonlyMap<string, YamlNode>, end: number, out: Located): boolean {
  let valid = true;
  if (!seen.has('memory_mib')) {
    valid = false;
    out.add(0, Math.min(end, 1), 'memory_mib is missing: the memory (MiB) set aside for enclaves');
  }
  if (seen.has('cpu_count') && seen.has('cpu_pool')) {
    valid = false;
    out.at(seen.get('cpu_pool'), 0, 'cpu_count and cpu_pool cannot both be set: give exactly one of them', 2);
  } else if (!seen.has('cpu_count') && !seen.has('cpu_pool')) {
    valid = false;
    out.add(0, Math.min(end, 1), 'one of cpu_count and cpu_pool is required', 1);
  }
  return valid;
}

/**
 * Parses allocator.yaml and checks it against an instance: whole cores only (both hyper-threads of
 * each core), never CPU 0's core, CPUs that exist, enough memory left for the parent. On success
 * `pool` is what the allocator service would reserve (`cpu_count` picks the lowest free cores after
 * core 0, as the service picks whole cores on one NUMA node excluding CPU 0's core).
 */
export function validateAllocator(text: string, topology: InstanceTopology): AllocatorResult {
  const parsed = parseAllocatorYaml(text);
  if (!parsed.config) return parsed;
  const config = parsed.config;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const out = new Located(lines);
  const nodeOf = (key: string): YamlNode | undefined => valueNodeOf(doc.contents, key);

  checkParentMemory(config.memoryMiB, topology, nodeOf, out);
  let cpuIds: number[] = [];
  if (config.cpuCount !== undefined) {
    cpuIds = cpuCountPool(config.cpuCount, topology, nodeOf('cpu_count'), out);
  } else if (config.cpuPool !== undefined) {
    cpuIds = cpuPoolIds(config.cpuPool, topology, nodeOf('cpu_pool'), out);
  }
  const diagnostics = [...parsed.diagnostics, ...out.diagnostics];
  if (diagnostics.some((d) => d.severity === 'error')) return { config, diagnostics };
  return { config, pool: { cpuIds: [...cpuIds].sort((a, b) => a - b), memoryMiB: config.memoryMiB }, diagnostics };
}

/** The value node of a top-level key of the file, if it has one. */
function valueNodeOf(root: YamlNode | null, key: string): YamlNode | undefined {
  if (!isMap(root)) return undefined;
  for (const pair of root.items)
    if (isScalar(pair.key) && pair.key.value === key) return (pair.value as YamlNode | null) ?? undefined;
  return undefined;
}

/** memory_mib leaves the parent at least PARENT_MIN_MEMORY_MIB (E27). */
function checkParentMemory(
  memoryMiB: number,
  topology: InstanceTopology,
  nodeOf: (key: string) => YamlNode | undefined,
  out: Located,
): void {
  if (topology.memoryMiB - memoryMiB < PARENT_MIN_MEMORY_MIB) {
    out.at(
      nodeOf('memory_mib'),
      0,
      `memory_mib ${memoryMiB} leaves the parent instance ` +
        `${Math.max(0, topology.memoryMiB - memoryMiB)} MiB of its ${topology.memoryMiB} MiB; ` +
        `it needs at least ${PARENT_MIN_MEMORY_MIB} MiB ` +
        `(memory_mib at most ${Math.max(0, topology.memoryMiB - PARENT_MIN_MEMORY_MIB)})`,
      27,
    );
  }
}

/** cpu_count's pool: whole cores (E22) the instance can give, the lowest after core 0; none on a problem. */
function cpuCountPool(
  cpuCount: number,
  topology: InstanceTopology,
  node: YamlNode | undefined,
  out: Located,
): number[] {
  const half = topology.vcpus / THREADS_PER_CORE;
  const maxCpus = topology.vcpus - THREADS_PER_CORE;
  const cpuIds: number[] = [];
  if (cpuCount % THREADS_PER_CORE !== 0) {
    out.at(
      node,
      0,
      `cpu_count ${cpuCount} is not a whole number of cores: enclaves get both hyper-threads of each core ` +
        `(${THREADS_PER_CORE} vCPUs per core)`,
      22,
    );
  } else if (cpuCount > maxCpus) {
    out.at(
      node,
      0,
      `cpu_count ${cpuCount} is more than the ${maxCpus} vCPUs this ${topology.vcpus}-vCPU instance ` +
        `can give (CPU 0's core stays with the parent)`,
      22,
    );
  } else {
    for (let core = 1; cpuIds.length < cpuCount; core++) cpuIds.push(core, core + half);
  }
  return cpuIds;
}

/** cpu_pool's CPUs that exist, each checked: it exists, is not on CPU 0's core, has its sibling (E21). */
function cpuPoolIds(
  cpuPool: readonly number[],
  topology: InstanceTopology,
  node: YamlNode | undefined,
  out: Located,
): number[] {
  const locate = (cpu: number, message: string, code: number) => locateCpu(node, cpu, message, code, out);
  const pool = new Set(cpuPool);
  for (const cpu of cpuPool) {
    if (cpu >= topology.vcpus) {
      locate(cpu, `CPU ${cpu} does not exist: this instance has vCPUs 0-${topology.vcpus - 1}`, 21);
    } else if (coreOf(topology, cpu) === 0) {
      locate(
        cpu,
        `CPU ${cpu} is on CPU 0's core (CPUs ${siblingsOf(topology, 0).join(' and ')}), ` +
          `which stays with the parent instance`,
        21,
      );
    } else {
      const missing = siblingsOf(topology, cpu).filter((s) => !pool.has(s));
      if (missing.length > 0) {
        locate(
          cpu,
          `CPU ${cpu} needs its hyper-thread sibling ${missing.join(', ')} in the pool too: ` +
            `enclaves get whole cores only`,
          21,
        );
      }
    }
  }
  return [...pool].filter((c) => c < topology.vcpus);
}

/** Reports a problem at the cpu_pool entry naming `cpu` (for a precise underline), else at the whole value. */
function locateCpu(node: YamlNode | undefined, cpu: number, message: string, code: number, out: Located): void {
  const start = node ? valueStart(node) : 0;
  const raw =
    node && isScalar(node) ? (typeof node.value === 'string' ? node.value : String(node.source ?? node.value)) : '';
  let pos = 0;
  for (const part of raw.split(',')) {
    const item = part.trim();
    const m = /^(\d+)(?:-(\d+))?$/.exec(item);
    if (m) {
      const first = Number(m[1]);
      const last = m[2] === undefined ? first : Number(m[2]);
      if (cpu >= first && cpu <= last) {
        const from = start + pos + (part.length - part.trimStart().length);
        out.add(from, from + item.length, message, code);
        return;
      }
    }
    pos += part.length + 1;
  }
  out.at(node, 0, message, code);
}

/** The text of an allocator.yaml for a pool (what the emulator writes for a new parent). */
export function allocatorYamlText(config: AllocatorConfig): string {
  const lines = [
    '---',
    '# Enclave resources of this (emulated) parent instance, in the format of',
    '# /etc/nitro_enclaves/allocator.yaml on a real one.',
    '#',
    '# memory_mib: memory (MiB) set aside for enclaves.',
    `memory_mib: ${config.memoryMiB}`,
    '#',
    '# Exactly one of cpu_count (how many vCPUs, whole cores: an even number) or',
    '# cpu_pool (which vCPUs, e.g. "2,3,6-9"; never CPU 0 or its sibling).',
  ];
  if (config.cpuPool !== undefined) lines.push(`cpu_pool: "${config.cpuPool.join(',')}"`);
  else lines.push(`cpu_count: ${config.cpuCount ?? 2}`);
  return lines.join('\n') + '\n';
}
