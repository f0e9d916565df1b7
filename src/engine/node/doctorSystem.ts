// The doctor's Node side: the system read under a root prefix (`--system-root`, default /), and,
// only when the root is / itself, the probes that need processes: `nitro-cli --version` and
// `systemctl is-active` for the allocator and vsock-proxy services.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DOCTOR_MAX_TEXT_BYTES,
  DOCTOR_SERVICES,
  UNIT_STATES,
  runDoctor,
  type DoctorFinding,
  type DoctorInput,
  type SystemStat,
  type SystemView,
} from '../doctor/doctor';

/** Files larger than this are not configuration or sysfs files: they are read as missing. */
const MAX_TEXT_BYTES = DOCTOR_MAX_TEXT_BYTES;

/** Reads `/x/y` as `<root>/x/y`. */
export function systemViewAt(root: string): SystemView {
  const at = (p: string) => path.join(root, p);
  return {
    async readText(p) {
      try {
        const handle = await fs.open(at(p), 'r');
        try {
          const st = await handle.stat();
          if (!st.isFile() || st.size > MAX_TEXT_BYTES) return undefined;
          return await handle.readFile('utf8');
        } finally {
          await handle.close();
        }
      } catch {
        return undefined;
      }
    },
    async stat(p): Promise<SystemStat | undefined> {
      try {
        const st = await fs.stat(at(p));
        return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, isDirectory: st.isDirectory() };
      } catch {
        return undefined;
      }
    },
    async list(p) {
      try {
        return await fs.readdir(at(p));
      } catch {
        return undefined;
      }
    },
  };
}

/** Runs a program without a shell; its stdout, or undefined when it cannot be run or fails. */
function output(file: string, args: readonly string[]): Promise<{ code: number; stdout: string } | undefined> {
  return new Promise((resolve) => {
    execFile(file, [...args], { timeout: 20_000, maxBuffer: 64 * 1024 }, (error, stdout) => {
      if (error && typeof (error as NodeJS.ErrnoException).code === 'string') resolve(undefined);
      else resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout: String(stdout) });
    });
  });
}

export interface LocalDoctorOptions {
  /** The root the system is read under (default `/`); processes are probed only when it is `/`. */
  readonly systemRoot?: string;
  readonly plan?: DoctorInput['plan'];
  /** The nitro-cli whose version is asked (default `nitro-cli`, looked up in PATH). */
  readonly nitroCliPath?: string;
}

/** The doctor on this machine (or a tree standing for one). */
export async function runLocalDoctor(options: LocalDoctorOptions = {}): Promise<DoctorFinding[]> {
  const root = path.resolve(options.systemRoot ?? '/');
  const live = root === path.parse(root).root;
  const info = os.userInfo();
  const gids = new Set<number>(typeof process.getgroups === 'function' ? process.getgroups() : []);
  if (typeof process.getgid === 'function') gids.add(process.getgid());
  let nitroCliVersion: string | undefined;
  let services: Record<string, string> | undefined;
  if (live) {
    const version = await output(options.nitroCliPath ?? 'nitro-cli', ['--version']);
    nitroCliVersion = version && version.code === 0 ? (version.stdout.split('\n')[0] ?? '').trim() : '';
    const states: Record<string, string> = {};
    for (const unit of DOCTOR_SERVICES) {
      // `is-active` exits non-zero for inactive units but still prints the state.
      const r = await output('systemctl', ['is-active', unit]);
      const state = r?.stdout.trim() ?? '';
      // Anything else ("offline", "unknown", a message) means systemd itself could not be asked.
      if (UNIT_STATES.has(state)) states[unit] = state;
    }
    if (Object.keys(states).length > 0) services = states;
  }
  return runDoctor({
    system: systemViewAt(root),
    user: { uid: info.uid, gids: [...gids], name: info.username },
    ...(nitroCliVersion !== undefined ? { nitroCliVersion } : {}),
    ...(live && options.nitroCliPath !== undefined ? { nitroCliPath: options.nitroCliPath } : {}),
    ...(services ? { services } : {}),
    ...(options.plan ? { plan: options.plan } : {}),
  });
}
