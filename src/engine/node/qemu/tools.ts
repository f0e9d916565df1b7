// Finding the QEMU backend's tools and checking what they can do:
//
//   findQemuTools     qemu-system-x86_64 and vhost-device-vsock: an explicit setting wins, then the
//                     environment (QEMU_ENV), then the cache folder `nitro-dev qemu setup` fills, then
//                     PATH; the firmware folder is the cache's for the cache's QEMU (a system QEMU has
//                     its own). What is missing comes with one sentence saying where it was looked for.
//   checkNitroMachine whether that QEMU has the nitro-enclave machine (`-M help`), and its version
//   probeKvm          KVM or TCG, decided by starting a tiny guest under each, not by /dev/kvm existing
//                     (a nested or paravirtual /dev/kvm may open and still fail every ordinary guest)
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { localToolRunner, type ToolRunner } from './commandRunner';
import { QEMU_ENV, qemuCacheDir, qemuCacheLayout } from './layout';
import { findInPath, writeFileAtomically } from './files';

export type ToolSource = 'setting' | 'environment' | 'cache' | 'PATH';

export type ToolLookup =
  | { readonly found: true; readonly path: string; readonly source: ToolSource }
  | { readonly found: false; readonly missing: string };

export interface QemuTools {
  readonly cacheDir: string;
  readonly qemu: ToolLookup;
  readonly vhostDeviceVsock: ToolLookup;
  /** The `-L` folder for the cache's QEMU; undefined for another QEMU (it finds its own firmware). */
  readonly firmwareDir: string | undefined;
}

export interface QemuToolSettings {
  readonly qemuPath?: string;
  readonly vhostDeviceVsockPath?: string;
  readonly cacheDir?: string;
}

const SETUP_HINT = 'Run `nitro-dev qemu setup` to put it in the cache.';

async function executable(file: string): Promise<'ok' | 'missing' | 'not-executable' | 'not-a-file'> {
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) return 'not-a-file';
    await fs.access(file, fs.constants.X_OK);
    return 'ok';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'not-executable';
  }
}

const WHY: Record<'missing' | 'not-executable' | 'not-a-file', string> = {
  missing: 'does not exist',
  'not-executable': 'is not executable',
  'not-a-file': 'is not a file',
};

async function lookUp(
  what: string,
  program: string,
  setting: { name: string; value: string | undefined },
  envName: string,
  env: Readonly<Record<string, string | undefined>>,
  cached: string,
): Promise<ToolLookup> {
  if (setting.value) {
    const state = await executable(setting.value);
    if (state === 'ok') return { found: true, path: setting.value, source: 'setting' };
    return { found: false, missing: `${what}: ${setting.value} (the ${setting.name} setting) ${WHY[state]}.` };
  }
  const fromEnv = env[envName];
  if (fromEnv) {
    const state = await executable(fromEnv);
    if (state === 'ok') return { found: true, path: fromEnv, source: 'environment' };
    return { found: false, missing: `${what}: ${fromEnv} (${envName}) ${WHY[state]}.` };
  }
  if ((await executable(cached)) === 'ok') return { found: true, path: cached, source: 'cache' };
  const inPath = await findInPath(program, env.PATH);
  if (inPath) return { found: true, path: inPath, source: 'PATH' };
  return {
    found: false,
    missing:
      `${what} was not found: no ${setting.name} setting, ${envName} is not set, ${cached} does not exist, ` +
      `and there is no ${program} in PATH. ${SETUP_HINT}`,
  };
}

/** Finds QEMU and vhost-device-vsock (see the top of this file). */
export async function findQemuTools(options: {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly settings?: QemuToolSettings;
}): Promise<QemuTools> {
  const { env, settings = {} } = options;
  const cacheDir = settings.cacheDir ? path.resolve(settings.cacheDir) : qemuCacheDir(env);
  const layout = qemuCacheLayout(cacheDir);
  const qemu = await lookUp(
    'QEMU (qemu-system-x86_64)',
    'qemu-system-x86_64',
    { name: 'qemuPath', value: settings.qemuPath },
    QEMU_ENV.qemu,
    env,
    layout.qemu,
  );
  const vhostDeviceVsock = await lookUp(
    'vhost-device-vsock',
    'vhost-device-vsock',
    { name: 'vhostDeviceVsockPath', value: settings.vhostDeviceVsockPath },
    QEMU_ENV.vhostDeviceVsock,
    env,
    layout.vhostDeviceVsock,
  );
  let firmwareDir: string | undefined;
  if (qemu.found && qemu.source === 'cache') {
    const st = await fs.stat(layout.firmwareDir).catch(() => undefined);
    firmwareDir = st?.isDirectory() ? layout.firmwareDir : undefined;
  }
  return { cacheDir, qemu, vhostDeviceVsock, firmwareDir };
}

const firmwareArgs = (firmwareDir: string | undefined) => (firmwareDir ? ['-L', firmwareDir] : []);

export interface NitroMachineCheck {
  /** Whether `-M help` lists the nitro-enclave machine. */
  readonly nitroEnclave: boolean;
  /** `QEMU emulator version ...`'s version, when `--version` said it. */
  readonly version: string | undefined;
  /** Why not, when it does not (one sentence). */
  readonly problem?: string;
}

/** Whether `qemuPath` has the nitro-enclave machine (`-M help`), and its version (`--version`). */
export async function checkNitroMachine(
  qemuPath: string,
  firmwareDir?: string,
  runner: ToolRunner = localToolRunner,
): Promise<NitroMachineCheck> {
  let version: string | undefined;
  try {
    const v = await runner({ argv: [qemuPath, '--version'] });
    version = v.tail.map((l) => /QEMU emulator version (\S+)/.exec(l)?.[1]).find((x) => x !== undefined);
    const help = await runner({ argv: [qemuPath, ...firmwareArgs(firmwareDir), '-M', 'help'] });
    if (help.status !== 0)
      return {
        nitroEnclave: false,
        version,
        problem: `\`${qemuPath} -M help\` failed (exit status ${help.status}): ${help.tail.slice(-3).join(' / ')}`,
      };
    if (help.tail.some((l) => /^nitro-enclave\s/.test(l))) return { nitroEnclave: true, version };
    return {
      nitroEnclave: false,
      version,
      problem:
        `${qemuPath}${version ? ` (QEMU ${version})` : ''} has no nitro-enclave machine: it needs QEMU >= 9.2 built ` +
        "with libcbor and gnutls (Debian's own QEMU is built without). Run `nitro-dev qemu setup` to build one.",
    };
  } catch (e) {
    return { nitroEnclave: false, version, problem: `${qemuPath} cannot be run: ${(e as Error).message}` };
  }
}

// ---------------------------------------------------------------------------------------------
// KVM or TCG

/**
 * The 16 bytes at the reset vector (0xFFFFFFF0, real mode) of the probe's firmware: writes 'K' to
 * the first serial port and halts.
 */
export const PROBE_RESET_CODE: readonly number[] = [
  0xba,
  0xf8,
  0x03, // mov dx, 0x3f8
  0xb0,
  0x4b, //       mov al, 'K'
  0xee, //             out dx, al
  0xf4, //             hlt
  0xeb,
  0xfe, //       jmp $ (should anything wake it)
  0xf4,
  0xf4,
  0xf4,
  0xf4,
  0xf4,
  0xf4,
  0xf4, // hlt padding
];

/** The probe's 64 KiB `-bios` image: zeros, and PROBE_RESET_CODE in its last 16 bytes. */
export function probeBiosImage(): Uint8Array {
  const image = new Uint8Array(64 * 1024);
  image.set(PROBE_RESET_CODE, image.length - 16);
  return image;
}

/** How long one probe guest may take to print its byte (QEMU starting on a loaded machine included). */
export const PROBE_LIMIT_MS = 30_000;

export interface AcceleratorProbe {
  readonly accelerator: 'kvm' | 'tcg';
  /** Why not KVM (for TCG). */
  readonly reason?: string;
  /** The answer came from the probe cache (the same QEMU binary, unchanged). */
  readonly cached: boolean;
}

/** The probe could not tell: not even TCG ran the probe guest. */
export class ProbeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProbeError';
  }
}

/** "KVM" or "TCG (reason)". */
export const acceleratorText = (p: AcceleratorProbe): string =>
  p.accelerator === 'kvm' ? 'KVM' : `TCG (${p.reason ?? 'KVM not usable'})`;

interface GuestRun {
  readonly printed: boolean;
  readonly how: string;
}

/** Starts the probe guest under `accel`; resolves once it printed 'K' (then kills it), ended, or the limit passed. */
/** The probe guest: the firmware (prints 'K'), or the test kernel (prints its banner). */
type ProbeGuest = { readonly bios: string } | { readonly kernel: string };

/** What the guest prints once it runs. */
const printedBy = (guest: ProbeGuest) => ('bios' in guest ? 'K' : 'Linux version');

function runProbeGuest(
  qemuPath: string,
  firmwareDir: string | undefined,
  guest: ProbeGuest,
  accel: 'kvm' | 'tcg',
  limitMs: number,
): Promise<GuestRun> {
  return new Promise((resolve) => {
    const args = [
      ...firmwareArgs(firmwareDir),
      '-M',
      'microvm',
      '-accel',
      accel,
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-serial',
      'stdio',
      '-m',
      'bios' in guest ? '16M' : '64M',
      ...('bios' in guest
        ? ['-bios', guest.bios]
        : ['-kernel', guest.kernel, '-append', 'console=ttyS0 earlyprintk=ttyS0 panic=-1', '-no-reboot']),
    ];
    let child;
    try {
      child = spawn(qemuPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    } catch (e) {
      return resolve({ printed: false, how: `cannot start ${qemuPath}: ${(e as Error).message}` });
    }
    let done = false;
    let stderr = '';
    const kill = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const finish = (run: GuestRun) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      kill();
      resolve(run);
    };
    const timer = setTimeout(
      () => finish({ printed: false, how: `it printed no ${printedBy(guest)} in ${limitMs / 1000} s` }),
      limitMs,
    );
    const wanted = printedBy(guest);
    let seen = '';
    child.stdout.on('data', (b: Buffer) => {
      seen = (seen + b.toString('latin1')).slice(-4096);
      if (seen.includes(wanted)) finish({ printed: true, how: `printed ${wanted}` });
    });
    child.stderr.on('data', (b: Buffer) => {
      if (stderr.length < 4096) stderr += b.toString('utf8');
    });
    child.on('error', (e) => finish({ printed: false, how: `cannot run ${qemuPath}: ${e.message}` }));
    child.on('close', (status, signal) => {
      const said = stderr.trim().split('\n').filter(Boolean).slice(-2).join(' / ');
      finish({
        printed: false,
        how:
          `QEMU ended (${signal ? `signal ${signal}` : `exit status ${status}`}) ` +
          `before the probe guest printed${said ? `: ${said}` : ''}`,
      });
    });
  });
}

interface ProbeCacheEntry {
  readonly qemu: string;
  /** The guest the answer came from: `firmware`, or `kernel <path> <mtime>`. */
  readonly guest: string;
  readonly mtimeMs: number;
  readonly size: number;
  readonly accelerator: 'kvm' | 'tcg';
  readonly reason?: string;
}

/** The file the answers are kept in, in the cache folder. */
export const probeCacheFile = (cacheDir: string) => path.join(cacheDir, 'accelerator.json');

/**
 * KVM or TCG for `qemuPath`: a tiny guest is started under TCG (it must print: that proves the
 * probe) and under KVM; KVM is used iff it prints there too. The guest is the test kernel when
 * `kernel` names one (it prints its banner on the serial port): some hosts (a paravirtual /dev/kvm)
 * run simple firmware under KVM but not a kernel. Without a kernel it is a 64 KiB firmware printing
 * 'K'. The answer is kept in the cache folder per QEMU binary (path, mtime and size) and guest, so
 * later calls are instant; a firmware answer is asked again once a kernel is there.
 */
export async function probeKvm(
  qemuPath: string,
  options: {
    readonly firmwareDir?: string;
    readonly cacheDir: string;
    /** The test kernel (the probe guest when present). */
    readonly kernel?: string;
    readonly limitMs?: number;
    readonly fresh?: boolean;
  },
): Promise<AcceleratorProbe> {
  const st = await fs.stat(qemuPath);
  const cacheFile = probeCacheFile(options.cacheDir);
  let entries: ProbeCacheEntry[] = [];
  try {
    const parsed = JSON.parse(await fs.readFile(cacheFile, 'utf8')) as { probes?: ProbeCacheEntry[] };
    if (Array.isArray(parsed.probes)) entries = parsed.probes.filter((p) => p && typeof p.qemu === 'string');
  } catch {
    // No answers kept yet.
  }
  const kernelStat = options.kernel ? await fs.stat(options.kernel).catch(() => undefined) : undefined;
  const kernel = kernelStat?.isFile() ? options.kernel : undefined;
  const guestKey = kernel ? `kernel ${kernel} ${kernelStat?.mtimeMs}` : 'firmware';
  const known = entries.find(
    (p) => p.qemu === qemuPath && p.mtimeMs === st.mtimeMs && p.size === st.size && p.guest === guestKey,
  );
  if (known && !options.fresh && (known.accelerator === 'kvm' || known.accelerator === 'tcg'))
    return { accelerator: known.accelerator, ...(known.reason ? { reason: known.reason } : {}), cached: true };

  const limit = options.limitMs ?? PROBE_LIMIT_MS;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nitro-dev-kvm-probe-'));
  let answer: ProbeCacheEntry;
  try {
    let guest: ProbeGuest;
    if (kernel) guest = { kernel };
    else {
      guest = { bios: path.join(dir, 'probe-bios.bin') };
      await fs.writeFile(guest.bios, probeBiosImage());
    }
    const what = kernel ? 'the test kernel' : 'a tiny firmware guest';
    const tcg = await runProbeGuest(qemuPath, options.firmwareDir, guest, 'tcg', limit);
    if (!tcg.printed)
      throw new ProbeError(`The accelerator probe failed under TCG, so it cannot tell KVM from TCG: ${tcg.how}.`);
    const kvmDevice = await fs
      .access('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK)
      .then(() => undefined)
      .catch((e: NodeJS.ErrnoException) =>
        e.code === 'ENOENT' ? 'there is no /dev/kvm' : `/dev/kvm cannot be opened (${e.code})`,
      );
    const kvm = await runProbeGuest(qemuPath, options.firmwareDir, guest, 'kvm', limit);
    const base = { qemu: qemuPath, mtimeMs: st.mtimeMs, size: st.size, guest: guestKey };
    answer = kvm.printed
      ? { ...base, accelerator: 'kvm' }
      : {
          ...base,
          accelerator: 'tcg',
          reason: kvmDevice ?? `/dev/kvm exists but ${what} does not run under KVM: ${kvm.how}`,
        };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
  const kept = [...entries.filter((p) => p.qemu !== qemuPath || p.guest !== guestKey), answer].slice(-16);
  await writeFileAtomically(cacheFile, `${JSON.stringify({ probes: kept }, null, 2)}\n`).catch(() => undefined);
  return { accelerator: answer.accelerator, ...(answer.reason ? { reason: answer.reason } : {}), cached: false };
}
