// What the nitro-cli backend needs to know about a parent, gathered by one POSIX sh script (one
// ssh round trip): nitro-cli's version, the EC2 instance id, the CPUs and memory of the instance,
// the enclave pool the Nitro Enclaves driver holds (ne_cpus and the reserved huge pages), and
// `nitro-cli describe-enclaves`. The script prints each part in a section headed by a marker line
// the caller chooses at random, so no file content can forge a section.
import { shellQuote } from './shell';

export interface ParentFactsScriptOptions {
  /** The nitro-cli executable (a name looked up in PATH, or a path). */
  readonly nitroCli: string;
  /** The marker starting each section: random, letters, digits, `@` and dashes only. */
  readonly marker: string;
  /** A prefix of every system path read (`/sys/...`, `/proc/...`, `/etc/...`); default none (the root). */
  readonly systemRoot?: string;
}

const MARKER = /^[A-Za-z0-9@-]{16,64}$/;

/** The script, one `sh -c` argument. */
export function parentFactsScript(options: ParentFactsScriptOptions): string {
  if (!MARKER.test(options.marker)) throw new Error('the section marker must be 16-64 letters, digits, @ or dashes');
  const root = (options.systemRoot ?? '').replace(/\/+$/, '');
  return [
    `M=${shellQuote(options.marker)}`,
    `N=${shellQuote(options.nitroCli)}`,
    `R=${shellQuote(root)}`,
    `s() { printf '\\n%s %s\\n' "$M" "$1"; }`,
    `s version`,
    `v=$("$N" --version 2>&1); c=$?`,
    `printf '%s\\n' "$v" | head -c 4096`,
    `s version-status`,
    `echo "$c"`,
    `s asset-tag`,
    `head -c 256 "$R/sys/devices/virtual/dmi/id/board_asset_tag" 2>/dev/null`,
    `s cpus-online`,
    `head -c 4096 "$R/sys/devices/system/cpu/online" 2>/dev/null`,
    `s nprocs`,
    `getconf _NPROCESSORS_ONLN 2>/dev/null`,
    `s meminfo`,
    `grep '^MemTotal:' "$R/proc/meminfo" 2>/dev/null`,
    `s driver`,
    `if [ -d "$R/sys/module/nitro_enclaves" ]; then echo loaded; fi`,
    `s ne-cpus`,
    `head -c 4096 "$R/sys/module/nitro_enclaves/parameters/ne_cpus" 2>/dev/null`,
    `s hugepages`,
    `for f in "$R"/sys/kernel/mm/hugepages/hugepages-*kB/nr_hugepages; do`,
    `  if [ -r "$f" ]; then d=\${f%/nr_hugepages}; printf '%s %s\\n' "\${d##*/}" "$(head -c 64 "$f")"; fi`,
    `done`,
    `s describe-stderr`,
    `d=; e=`,
    `if [ "$c" -eq 0 ]; then { d=$("$N" describe-enclaves 2>&3 3>&-); e=$?; } 3>&1; fi`,
    `s describe`,
    `printf '%s\\n' "$d"`,
    `s describe-status`,
    `echo "$e"`,
    `s end`,
  ].join('\n');
}

/** What the script found. */
export interface ParentFacts {
  /** `nitro-cli --version`'s output and exit status (127: not found). */
  readonly version: { readonly status: number; readonly output: string };
  /** The EC2 instance id from the board asset tag, when it is one. */
  readonly instanceId?: string;
  /** Online CPUs of the instance. */
  readonly vcpus: number;
  readonly memoryMiB: number;
  /** Whether /sys/module/nitro_enclaves exists. */
  readonly driverLoaded: boolean;
  /** The CPU pool the driver holds (empty without the driver or a pool). */
  readonly poolCpuIds: readonly number[];
  /** The huge-page memory reserved, in MiB. */
  readonly hugepagesMiB: number;
  /** describe-enclaves' stdout, stderr and exit status; absent when nitro-cli could not run. */
  readonly describe?: { readonly status: number; readonly stdout: string; readonly stderr: string };
}

export class ParentFactsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParentFactsError';
  }
}

/** The most CPUs a cpu list may name (Linux's NR_CPUS upper bound). */
const MAX_CPUS = 8192;

/** Parses a Linux cpu list (`1-3,5`); throws on anything else. */
export function parseCpuList(text: string): number[] {
  const t = text.trim();
  if (t === '') return [];
  const out = new Set<number>();
  for (const part of t.split(',')) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part.trim());
    if (!m) throw new ParentFactsError(`not a CPU list: ${JSON.stringify(t.slice(0, 80))}`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from || to >= MAX_CPUS) throw new ParentFactsError(`not a CPU list: ${JSON.stringify(t.slice(0, 80))}`);
    for (let c = from; c <= to; c++) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}

function sections(output: string, marker: string): Map<string, string> {
  const out = new Map<string, string>();
  let name: string | undefined;
  let lines: string[] = [];
  const prefix = `${marker} `;
  for (const line of output.split('\n')) {
    if (line.startsWith(prefix)) {
      if (name !== undefined) out.set(name, lines.join('\n').replace(/^\n/, '').replace(/\n+$/, ''));
      name = line.slice(prefix.length).trim();
      lines = [];
    } else if (name !== undefined) lines.push(line);
  }
  if (name !== undefined) out.set(name, lines.join('\n').replace(/\n+$/, ''));
  return out;
}

function status(text: string | undefined): number | undefined {
  const t = (text ?? '').trim();
  return /^\d{1,3}$/.test(t) ? Number(t) : undefined;
}

/** Parses the script's stdout. Throws ParentFactsError when it is cut short or garbled. */
export function parseParentFacts(output: string, marker: string): ParentFacts {
  const s = sections(output, marker);
  if (!s.has('end')) throw new ParentFactsError('the parent facts script did not run to its end');
  const versionStatus = status(s.get('version-status'));
  if (versionStatus === undefined) throw new ParentFactsError('the parent facts script gave no nitro-cli status');

  const tag = (s.get('asset-tag') ?? '').replace(/\s+/g, '');
  const instanceId = /^i-[0-9a-f]{8,17}$/.test(tag) ? tag : undefined;

  let vcpus: number;
  const online = s.get('cpus-online') ?? '';
  if (online.trim() !== '') vcpus = parseCpuList(online).length;
  else vcpus = Number((s.get('nprocs') ?? '').trim());
  if (!Number.isSafeInteger(vcpus) || vcpus < 0) vcpus = 0;

  const mem = /^MemTotal:\s+(\d{1,15})\s*kB/m.exec(s.get('meminfo') ?? '');
  const memoryMiB = mem ? Math.floor(Number(mem[1]) / 1024) : 0;

  const driverLoaded = (s.get('driver') ?? '').trim() === 'loaded';
  const poolCpuIds = driverLoaded ? parseCpuList(s.get('ne-cpus') ?? '') : [];

  let hugepagesKiB = 0;
  for (const line of (s.get('hugepages') ?? '').split('\n')) {
    const m = /^hugepages-(\d{1,10})kB (\d{1,12})$/.exec(line.trim());
    if (m) hugepagesKiB += Number(m[1]) * Number(m[2]);
  }
  const hugepagesMiB = driverLoaded ? Math.floor(hugepagesKiB / 1024) : 0;

  const version = { status: versionStatus, output: s.get('version') ?? '' };
  const describeStatus = status(s.get('describe-status'));
  const describe =
    describeStatus === undefined
      ? undefined
      : { status: describeStatus, stdout: s.get('describe') ?? '', stderr: s.get('describe-stderr') ?? '' };
  return {
    version,
    ...(instanceId !== undefined ? { instanceId } : {}),
    vcpus,
    memoryMiB,
    driverLoaded,
    poolCpuIds,
    hugepagesMiB,
    ...(describe !== undefined ? { describe } : {}),
  };
}
