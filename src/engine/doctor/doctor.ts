// The doctor: checks a parent instance for what makes `nitro-cli run-enclave` fail (landscape 2-3,
// spec eif.md 7.10): nitro-cli itself, the driver, /dev/nitro_enclaves and its group, allocator.yaml,
// the reserved hugepages and the CPU pool, the vsock-proxy allowlist and the two services, and for a
// planned run the EIF-size rule and whether the pool can hold the enclave.
//
// The checks are pure over a small port that reads the system under a root prefix (tests pass a fake
// /sys, /dev, /etc tree); what needs a process (nitro-cli --version, systemctl) is probed by the
// caller and handed in, absent when it could not be asked.
import { parseAllowlist } from '../vsockproxy/allowlist';
import {
  parseAllocatorYaml,
  validateAllocator,
  type AllocatorConfig,
  type InstanceTopology,
} from '../emulator/allocator';
import {
  cpuCountFieldProblem,
  formatCpuList,
  memoryFieldProblem,
  memoryRequirement,
  problemText,
} from '../emulator/rules';

export type FindingStatus = 'ok' | 'warning' | 'failure';

/** One result of the doctor: `fix` is the command that fixes it, null when there is nothing to run. */
export interface DoctorFinding {
  readonly id: string;
  readonly status: FindingStatus;
  readonly message: string;
  readonly fix: string | null;
}

export interface SystemStat {
  /** Permission bits (mode & 0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly isDirectory: boolean;
}

/** Reads the system; paths are absolute as on the parent (`/dev/nitro_enclaves`), the port adds its root. */
export interface SystemView {
  /** The text of a file, or undefined when it is missing or cannot be read. */
  readText(path: string): Promise<string | undefined>;
  stat(path: string): Promise<SystemStat | undefined>;
  /** The names in a folder, or undefined when it is missing. */
  list(path: string): Promise<readonly string[] | undefined>;
}

/** The state systemd reports for a unit (`systemctl is-active`). */
export type ServiceState = string;

export interface DoctorInput {
  readonly system: SystemView;
  /** Who runs the doctor: uid, supplementary and primary group ids, and the login name. */
  readonly user: { readonly uid: number; readonly gids: readonly number[]; readonly name: string };
  /** `nitro-cli --version`'s first line; undefined when it was not run (another system root). */
  readonly nitroCliVersion?: string;
  /**
   * The nitro-cli whose version was asked, when it is not the package's (a path or a name looked
   * up in PATH): its answer, not /usr/bin/nitro-cli, tells whether nitro-cli is there.
   */
  readonly nitroCliPath?: string;
  /** `systemctl is-active` per unit; undefined when systemd was not asked. */
  readonly services?: Readonly<Record<string, ServiceState>>;
  /** A planned run: the EIF's size in bytes, the memory (MiB) and the CPU count it asks for. */
  readonly plan?: { readonly eifSize: number; readonly memoryMiB: number; readonly cpuCount: number };
}

export const NITRO_CLI_PATH = '/usr/bin/nitro-cli';
export const DRIVER_PATH = '/sys/module/nitro_enclaves';
export const DEVICE_PATH = '/dev/nitro_enclaves';
export const CPU_POOL_PATH = '/sys/module/nitro_enclaves/parameters/ne_cpus';
export const ALLOCATOR_PATH = '/etc/nitro_enclaves/allocator.yaml';
export const VSOCK_PROXY_CONFIG_PATH = '/etc/nitro_enclaves/vsock-proxy.yaml';
export const HUGEPAGES_PATH = '/sys/kernel/mm/hugepages';
export const ALLOCATOR_SERVICE = 'nitro-enclaves-allocator.service';
export const VSOCK_PROXY_SERVICE = 'nitro-enclaves-vsock-proxy.service';
/** The group that may use /dev/nitro_enclaves, by convention. */
export const ENCLAVE_GROUP = 'ne';
const GROUP_PATH = '/etc/group';
const CPU_ONLINE_PATH = '/sys/devices/system/cpu/online';
const MEMINFO_PATH = '/proc/meminfo';
const NR_HUGEPAGES = 'nr_hugepages';

/** Files larger than this are not configuration or sysfs files: a SystemView reads them as missing. */
export const DOCTOR_MAX_TEXT_BYTES = 1024 * 1024;

/** The units whose state the doctor reports (`systemctl is-active`). */
export const DOCTOR_SERVICES: readonly string[] = [ALLOCATOR_SERVICE, VSOCK_PROXY_SERVICE];

/** The states `systemctl is-active` reports for a unit (systemctl(1)); anything else means systemd was not asked. */
export const UNIT_STATES: ReadonlySet<string> = new Set([
  'active',
  'reloading',
  'refreshing',
  'inactive',
  'failed',
  'activating',
  'deactivating',
  'maintenance',
]);

/**
 * Everything the doctor may read through its SystemView, for a reader that must fetch it all at once
 * (the snapshot of a remote parent): the files, the stat results, and the folders it lists together
 * with the files it reads inside each listed entry (`<folder>/<entry>/<file>`). A test runs the doctor
 * on a recording view and fails when it reads anything not named here.
 */
export const DOCTOR_READS: {
  readonly texts: readonly string[];
  readonly stats: readonly string[];
  readonly lists: readonly { readonly path: string; readonly entryTexts: readonly string[] }[];
} = {
  texts: [GROUP_PATH, CPU_ONLINE_PATH, MEMINFO_PATH, ALLOCATOR_PATH, CPU_POOL_PATH, VSOCK_PROXY_CONFIG_PATH],
  stats: [NITRO_CLI_PATH, DRIVER_PATH, DEVICE_PATH],
  lists: [{ path: HUGEPAGES_PATH, entryTexts: [NR_HUGEPAGES] }],
};

const INSTALL_FIX = 'sudo dnf install -y aws-nitro-enclaves-cli aws-nitro-enclaves-cli-devel';
const RESTART_ALLOCATOR = `sudo systemctl restart ${ALLOCATOR_SERVICE}`;
const EDIT_ALLOCATOR = `sudoedit ${ALLOCATOR_PATH} && ${RESTART_ALLOCATOR}`;

const ok = (id: string, message: string): DoctorFinding => ({ id, status: 'ok', message, fix: null });
const warning = (id: string, message: string, fix: string | null = null): DoctorFinding => ({
  id,
  status: 'warning',
  message,
  fix,
});
const failure = (id: string, message: string, fix: string | null): DoctorFinding => ({
  id,
  status: 'failure',
  message,
  fix,
});

/** A Linux cpu-list (`1-3,5`, as in ne_cpus and /sys/devices/system/cpu/online); undefined when malformed. */
export function parseSysCpuList(text: string): number[] | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const ids = new Set<number>();
  for (const item of trimmed.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(item.trim());
    if (!m) return undefined;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    // A sysfs list names CPUs of this machine: a range wider than that is not one.
    if (to < from || to - from > 65_535) return undefined;
    for (let c = from; c <= to; c++) ids.add(c);
  }
  return [...ids].sort((a, b) => a - b);
}

/** The groups of /etc/group: name, gid and members. */
function parseGroups(text: string | undefined): { name: string; gid: number; members: string[] }[] {
  const groups: { name: string; gid: number; members: string[] }[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [name, , gid, members] = line.split(':');
    if (!name || gid === undefined || !/^\d+$/.test(gid)) continue;
    groups.push({ name, gid: Number(gid), members: (members ?? '').split(',').filter((m) => m !== '') });
  }
  return groups;
}

/** Everything the checks share: what was read once. */
interface Facts {
  readonly allocator?: AllocatorConfig;
  /** The reserved hugepages in MiB, undefined when none could be read. */
  readonly hugepagesMiB?: number;
  readonly poolCpuIds?: readonly number[];
  readonly topology?: InstanceTopology;
}

/** Runs every check; the findings come in a fixed order, one per check. */
export async function runDoctor(input: DoctorInput): Promise<DoctorFinding[]> {
  const findings: DoctorFinding[] = [];
  findings.push(await checkNitroCli(input));
  const driver = await checkDriver(input.system);
  findings.push(driver);
  findings.push(await checkDevice(input));
  const topology = await readTopology(input.system);
  const allocator = await checkAllocator(input.system, topology);
  findings.push(allocator.finding);
  const hugepages = await checkHugepages(input.system, allocator.config);
  findings.push(hugepages.finding);
  const pool = await checkCpuPool(input.system, allocator.config, driver.status === 'ok');
  findings.push(pool.finding);
  findings.push(await checkVsockProxyConfig(input.system));
  findings.push(...checkServices(input.services));
  if (input.plan) {
    const facts: Facts = {
      ...(allocator.config ? { allocator: allocator.config } : {}),
      ...(hugepages.mib !== undefined ? { hugepagesMiB: hugepages.mib } : {}),
      ...(pool.cpuIds ? { poolCpuIds: pool.cpuIds } : {}),
      ...(topology ? { topology } : {}),
    };
    findings.push(...checkPlan(input.plan, facts));
  }
  return findings;
}

async function checkNitroCli(input: DoctorInput): Promise<DoctorFinding> {
  const asked = input.nitroCliPath;
  if (asked !== undefined && asked !== NITRO_CLI_PATH && input.nitroCliVersion !== undefined) {
    if (input.nitroCliVersion !== '')
      return ok('nitro-cli', `nitro-cli is installed (${asked}): ${input.nitroCliVersion}.`);
    // A bare name that does not answer: whether the package's nitro-cli is there says more.
    if (asked.includes('/'))
      return failure('nitro-cli', `\`${asked} --version\` failed: it is missing or is not nitro-cli.`, INSTALL_FIX);
  }
  const st = await input.system.stat(NITRO_CLI_PATH);
  if (!st || st.isDirectory)
    return failure('nitro-cli', `nitro-cli is not installed (${NITRO_CLI_PATH} is missing).`, INSTALL_FIX);
  if ((st.mode & 0o111) === 0)
    return failure('nitro-cli', `${NITRO_CLI_PATH} is not executable.`, `sudo chmod 755 ${NITRO_CLI_PATH}`);
  if (input.nitroCliVersion === undefined)
    return ok('nitro-cli', `nitro-cli is installed (${NITRO_CLI_PATH}); its version was not asked for on this root.`);
  if (input.nitroCliVersion === '')
    return failure('nitro-cli', 'nitro-cli is installed but `nitro-cli --version` failed.', INSTALL_FIX);
  return ok('nitro-cli', `nitro-cli is installed: ${input.nitroCliVersion}.`);
}

async function checkDriver(system: SystemView): Promise<DoctorFinding> {
  const st = await system.stat(DRIVER_PATH);
  if (st?.isDirectory) return ok('driver', 'The nitro_enclaves driver is loaded.');
  return failure(
    'driver',
    `The nitro_enclaves driver is not loaded (${DRIVER_PATH} is missing): run-enclave fails with E19. ` +
      'The instance must be launched with enclave support enabled.',
    'sudo modprobe nitro_enclaves',
  );
}

async function checkDevice(input: DoctorInput): Promise<DoctorFinding> {
  const st = await input.system.stat(DEVICE_PATH);
  if (!st)
    return failure(
      'device',
      `${DEVICE_PATH} is missing: run-enclave fails with E19 (the driver is not loaded or enclave support is off).`,
      'sudo modprobe nitro_enclaves',
    );
  const groups = parseGroups(await input.system.readText(GROUP_PATH));
  const ne = groups.find((g) => g.name === ENCLAVE_GROUP);
  const deviceGroup = groups.find((g) => g.gid === st.gid)?.name ?? String(st.gid);
  const { uid, gids, name } = input.user;
  if ((st.mode & 0o006) === 0o006) return ok('device', `${DEVICE_PATH} is readable and writable by every user.`);
  if (!ne)
    return failure(
      'device',
      `There is no '${ENCLAVE_GROUP}' group: only root can use ${DEVICE_PATH}.`,
      `sudo groupadd -r ${ENCLAVE_GROUP} && sudo usermod -aG ${ENCLAVE_GROUP} $USER && ` +
        `sudo chgrp ${ENCLAVE_GROUP} ${DEVICE_PATH} && sudo chmod 660 ${DEVICE_PATH}`,
    );
  if (st.gid !== ne.gid || (st.mode & 0o060) !== 0o060)
    return failure(
      'device',
      `${DEVICE_PATH} belongs to group '${deviceGroup}' with mode ${(st.mode & 0o777).toString(8)}, ` +
        `not group '${ENCLAVE_GROUP}' with mode 660: members of '${ENCLAVE_GROUP}' cannot use it.`,
      `sudo chgrp ${ENCLAVE_GROUP} ${DEVICE_PATH} && sudo chmod 660 ${DEVICE_PATH}`,
    );
  // The device's group is the parent's business whoever asks; root itself can always open it.
  if (uid === 0)
    return ok('device', `${DEVICE_PATH} belongs to group '${ENCLAVE_GROUP}' (mode 660); the doctor runs as root.`);
  if (gids.includes(ne.gid)) return ok('device', `${DEVICE_PATH} is usable: ${name} is in group '${ENCLAVE_GROUP}'.`);
  if (ne.members.includes(name))
    return warning(
      'device',
      `${name} was added to group '${ENCLAVE_GROUP}', but this session started before: ` +
        `log out and back in (or start a shell with the group).`,
      `newgrp ${ENCLAVE_GROUP}`,
    );
  return failure(
    'device',
    `${name} is not in group '${ENCLAVE_GROUP}': ${DEVICE_PATH} cannot be opened (E19). Log in again afterwards.`,
    `sudo usermod -aG ${ENCLAVE_GROUP} $USER`,
  );
}

/** The instance's vCPUs (/sys/devices/system/cpu/online) and memory (/proc/meminfo MemTotal), if readable. */
async function readTopology(system: SystemView): Promise<InstanceTopology | undefined> {
  const online = parseSysCpuList((await system.readText(CPU_ONLINE_PATH)) ?? '');
  const mem = /^MemTotal:\s+(\d+)\s*kB/m.exec((await system.readText(MEMINFO_PATH)) ?? '');
  if (!online || online.length === 0 || online.length % 2 !== 0 || !mem) return undefined;
  return { vcpus: online.length, memoryMiB: Math.floor(Number(mem[1]) / 1024) };
}

async function checkAllocator(
  system: SystemView,
  topology: InstanceTopology | undefined,
): Promise<{ finding: DoctorFinding; config?: AllocatorConfig }> {
  const text = await system.readText(ALLOCATOR_PATH);
  if (text === undefined)
    return {
      finding: failure(
        'allocator',
        `${ALLOCATOR_PATH} is missing: the allocator reserves no memory or CPUs for enclaves.`,
        INSTALL_FIX,
      ),
    };
  const result = topology ? validateAllocator(text, topology) : parseAllocatorYaml(text);
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    const list = errors.map((d) => `line ${d.line}: ${d.message}`).join('; ');
    return {
      finding: failure('allocator', `${ALLOCATOR_PATH} is not valid: ${list}.`, EDIT_ALLOCATOR),
      ...(result.config ? { config: result.config } : {}),
    };
  }
  const config = result.config as AllocatorConfig;
  const cpus = config.cpuPool ? `cpu_pool ${formatCpuList(config.cpuPool)}` : `cpu_count ${config.cpuCount ?? 0}`;
  const note = topology ? '' : ' (the instance rules were not checked: its CPUs or memory could not be read)';
  return {
    finding: ok('allocator', `${ALLOCATOR_PATH} asks for memory_mib ${config.memoryMiB} and ${cpus}${note}.`),
    config,
  };
}

async function checkHugepages(
  system: SystemView,
  config: AllocatorConfig | undefined,
): Promise<{ finding: DoctorFinding; mib?: number }> {
  const sizes = (await system.list(HUGEPAGES_PATH)) ?? [];
  let kib = 0;
  for (const entry of sizes) {
    const m = /^hugepages-(\d+)kB$/.exec(entry);
    if (!m) continue;
    const count = Number(((await system.readText(`${HUGEPAGES_PATH}/${entry}/${NR_HUGEPAGES}`)) ?? '').trim());
    if (Number.isSafeInteger(count) && count > 0) kib += count * Number(m[1]);
  }
  const mib = Math.floor(kib / 1024);
  if (!config) return { finding: ok('hugepages', `${mib} MiB of hugepages are reserved.`), mib };
  if (mib < config.memoryMiB)
    return {
      finding: failure(
        'hugepages',
        `Only ${mib} MiB of hugepages are reserved, less than allocator.yaml's memory_mib ${config.memoryMiB}: ` +
          'enclaves fail with E27 (or E35); the allocator service did not reserve the memory.',
        RESTART_ALLOCATOR,
      ),
      mib,
    };
  return { finding: ok('hugepages', `${mib} MiB of hugepages are reserved (memory_mib ${config.memoryMiB}).`), mib };
}

async function checkCpuPool(
  system: SystemView,
  config: AllocatorConfig | undefined,
  driverLoaded: boolean,
): Promise<{ finding: DoctorFinding; cpuIds?: readonly number[] }> {
  const text = await system.readText(CPU_POOL_PATH);
  if (text === undefined)
    return {
      finding: failure(
        'cpu-pool',
        `${CPU_POOL_PATH} is missing: ` +
          `${driverLoaded ? 'the driver has no CPU pool' : 'the driver is not loaded'} (E19).`,
        'sudo modprobe nitro_enclaves',
      ),
    };
  const ids = parseSysCpuList(text);
  if (!ids)
    return { finding: failure('cpu-pool', `${CPU_POOL_PATH} is not a CPU list: '${text.trim()}'.`, RESTART_ALLOCATOR) };
  if (ids.length === 0)
    return {
      finding: failure(
        'cpu-pool',
        'The enclave CPU pool is empty: the allocator service has not run.',
        RESTART_ALLOCATOR,
      ),
      cpuIds: ids,
    };
  const shown = formatCpuList(ids);
  if (config?.cpuPool) {
    const wanted = [...config.cpuPool].sort((a, b) => a - b);
    if (formatCpuList(wanted) !== shown)
      return {
        finding: failure(
          'cpu-pool',
          `The enclave CPU pool is ${shown}, but allocator.yaml asks for ${formatCpuList(wanted)}.`,
          RESTART_ALLOCATOR,
        ),
        cpuIds: ids,
      };
  } else if (config?.cpuCount !== undefined && config.cpuCount !== ids.length) {
    return {
      finding: failure(
        'cpu-pool',
        `The enclave CPU pool has ${ids.length} CPUs (${shown}), ` +
          `but allocator.yaml asks for cpu_count ${config.cpuCount}.`,
        RESTART_ALLOCATOR,
      ),
      cpuIds: ids,
    };
  }
  return { finding: ok('cpu-pool', `The enclave CPU pool is ${shown} (${ids.length} CPUs).`), cpuIds: ids };
}

async function checkVsockProxyConfig(system: SystemView): Promise<DoctorFinding> {
  const id = 'vsock-proxy-allowlist';
  const text = await system.readText(VSOCK_PROXY_CONFIG_PATH);
  if (text === undefined)
    return warning(id, `${VSOCK_PROXY_CONFIG_PATH} is missing: vsock-proxy refuses to start without it.`, INSTALL_FIX);
  const edit = `sudoedit ${VSOCK_PROXY_CONFIG_PATH} && sudo systemctl restart ${VSOCK_PROXY_SERVICE}`;
  // Read as vsock-proxy reads it (engine/vsockproxy/allowlist.ts), the file's first problem named.
  const parsed = parseAllowlist(text);
  const first = parsed.diagnostics.find((d) => d.severity === 'error');
  const at = first ? ` (line ${first.line}: ${first.message})` : '';
  if (!parsed.entries) {
    const noList = /^No allowlist field/.test(parsed.fatal ?? '');
    return failure(
      id,
      noList
        ? `${VSOCK_PROXY_CONFIG_PATH} has no 'allowlist:' list of {address, port} entries.`
        : `${VSOCK_PROXY_CONFIG_PATH} is not YAML: ${first?.message ?? parsed.fatal ?? ''}.`,
      edit,
    );
  }
  const entries = parsed.entries;
  const bad = entries
    .filter((e) => e.stop !== undefined || !e.address || e.port === undefined || e.port < 1 || e.port > 65_535)
    .map((e) => e.number);
  if (bad.length > 0)
    return failure(
      id,
      `${VSOCK_PROXY_CONFIG_PATH}: allowlist entr${bad.length === 1 ? 'y' : 'ies'} ${bad.join(', ')} ` +
        `must each have an address (host name or IP) and a port (1-65535)${at}.`,
      edit,
    );
  if (entries.length === 0)
    return warning(id, `${VSOCK_PROXY_CONFIG_PATH}'s allowlist is empty: vsock-proxy forwards to nothing.`, edit);
  return ok(id, `${VSOCK_PROXY_CONFIG_PATH} allows ${entries.length} endpoint${entries.length === 1 ? '' : 's'}.`);
}

function checkServices(services: Readonly<Record<string, ServiceState>> | undefined): DoctorFinding[] {
  const units: [string, string, FindingStatus, string][] = [
    ['allocator-service', ALLOCATOR_SERVICE, 'failure', RESTART_ALLOCATOR],
    ['vsock-proxy-service', VSOCK_PROXY_SERVICE, 'warning', `sudo systemctl enable --now ${VSOCK_PROXY_SERVICE}`],
  ];
  return units.map(([id, unit, bad, fix]) => {
    const state = services?.[unit];
    if (state === undefined)
      return warning(id, `${unit} was not checked: systemd is not reachable, or the system root is not /.`);
    if (state === 'active') return ok(id, `${unit} is active.`);
    const message = `${unit} is ${state}${state === 'failed' ? `: see journalctl -eu ${unit}` : ''}.`;
    return bad === 'failure' ? failure(id, message, fix) : warning(id, message, fix);
  });
}

/** A planned run: the EIF-size rule and the memory of the pool (rules.ts), then its CPUs. */
function checkPlan(plan: NonNullable<DoctorInput['plan']>, facts: Facts): DoctorFinding[] {
  const findings: DoctorFinding[] = [];
  const poolMiB = facts.hugepagesMiB ?? 0;
  const memory = memoryFieldProblem(plan.memoryMiB, plan.eifSize, poolMiB, 0);
  if (!memory) findings.push(ok('run-memory', `${plan.memoryMiB} MiB fits the image and the ${poolMiB} MiB pool.`));
  else if (memory.code === 27)
    findings.push(
      failure(
        'run-memory',
        problemText({
          code: 27,
          message:
            `${plan.memoryMiB} MiB is more than the ${poolMiB} MiB of reserved hugepages: ` +
            `set memory_mib to at least ${plan.memoryMiB} in allocator.yaml.`,
        }),
        EDIT_ALLOCATOR,
      ),
    );
  else
    findings.push(failure('run-memory', problemText(memory), `--memory ${memoryRequirement(plan.eifSize).minimumMiB}`));

  const pool = facts.poolCpuIds ?? [];
  // Without the instance's CPUs the whole-core check uses the EC2 numbering of the smallest instance holding the pool.
  const highest = pool.length > 0 ? Math.max(...pool) : 0;
  const topology = facts.topology ?? { vcpus: 2 * (highest + 1), memoryMiB: 0 };
  const cpus = cpuCountFieldProblem(plan.cpuCount, topology, pool, []);
  if (!cpus) findings.push(ok('run-cpus', `${plan.cpuCount} CPUs fit the pool (${formatCpuList(pool)}).`));
  else
    findings.push(
      failure(
        'run-cpus',
        cpus.code === 22
          ? `${problemText(cpus)} Raise cpu_count (or cpu_pool) to ${plan.cpuCount} in allocator.yaml.`
          : problemText(cpus),
        cpus.code === 22 ? EDIT_ALLOCATOR : null,
      ),
    );
  return findings;
}

const STATUS_WORDS: Record<FindingStatus, string> = { ok: 'OK', warning: 'Warning', failure: 'Failure' };

/**
 * Markdown text that shows as itself: the characters Markdown would read as markup inside a list item
 * are escaped (an underscore only where it could start or end emphasis: `nitro_enclaves` stays as is).
 */
function markdownText(text: string): string {
  return text.replace(/[\\`*[\]<>]|(?<!\w)_|_(?!\w)/g, (c) => `\\${c}`);
}

/**
 * The doctor's report as Markdown: a heading naming what was checked, a summary line, then one item
 * per finding with its status, its message and the command that fixes it in a code span.
 */
export function doctorMarkdown(findings: readonly DoctorFinding[], checked: string): string {
  const count = (s: FindingStatus) => findings.filter((f) => f.status === s).length;
  const lines = [
    `# Nitro Enclaves doctor: ${markdownText(checked)}`,
    '',
    `${count('failure')} failure(s), ${count('warning')} warning(s), ${count('ok')} OK.`,
    '',
  ];
  for (const f of findings) {
    lines.push(`- **${STATUS_WORDS[f.status]}** (\`${f.id}\`): ${markdownText(f.message)}`);
    // A code span longer than any backtick run inside it shows the command as written.
    if (f.fix) {
      const fence = '`'.repeat(Math.max(1, ...(f.fix.match(/`+/g) ?? []).map((r) => r.length + 1)));
      lines.push(`  - Fix: ${fence} ${f.fix} ${fence}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
