// The nitro-cli backend's options from the extension's settings: which real parent instances the
// Parent Instances view shows (this machine, SSH hosts) and how ssh runs. Pure (no vscode), so unit
// tests read it; registerParents reads the settings and applies the result. Settings are whatever a
// user (or, outside restricted configurations, a workspace) wrote: a bad value is dropped or
// replaced by its default with a warning for the log, never a crash, and nothing that ssh could
// read as an option (a leading `-`) ever reaches its command line.
import { DEFAULT_SSH_OPTIONS, type NitroCliOptions, type NitroCliTarget, type SshOptions } from '../../engine/node';
import { SETTINGS } from '../ids';

/** The raw values of the settings (ids.ts SETTINGS), as `WorkspaceConfiguration.get` returns them. */
export interface NitroCliSettingValues {
  /** nitroEnclaves.nitroCli.path */
  readonly nitroCliPath?: unknown;
  /** nitroEnclaves.parents.sshHosts */
  readonly sshHosts?: unknown;
  /** nitroEnclaves.parents.localParent */
  readonly localParent?: unknown;
  /** nitroEnclaves.ssh.path */
  readonly sshPath?: unknown;
  /** nitroEnclaves.ssh.configFile */
  readonly sshConfigFile?: unknown;
  /** nitroEnclaves.ssh.connectTimeoutSeconds */
  readonly connectTimeoutSeconds?: unknown;
}

/** What else the options depend on. */
export interface NitroCliEnvironment {
  /** Whether the Nitro Enclaves device (NITRO_ENCLAVES_DEVICE) exists on this machine. */
  readonly deviceExists: boolean;
  /** The home folder a leading `~/` of the ssh configuration file stands for. */
  readonly homeDir?: string;
}

export interface NitroCliSettingsResult {
  readonly options: NitroCliOptions;
  /** One line per value that was dropped or replaced, for the log. */
  readonly warnings: readonly string[];
}

export type LocalParentMode = 'auto' | 'always' | 'never';

export const DEFAULT_NITRO_CLI_PATH = 'nitro-cli';
export const MAX_CONNECT_TIMEOUT_SECONDS = 300;
const MAX_NAME_LENGTH = 100;
const MAX_HOST_LENGTH = 255;
const MAX_PATH_LENGTH = 4096;

/**
 * `[user@]host`: what ssh is given as its destination, a Host of the user's ssh configuration or a
 * host name / address (IPv6 without brackets, `%zone`). Neither part starts with `-` (an option to
 * ssh), and nothing that a shell or ssh's own parsing treats specially (spaces, quotes, `/`, `;`).
 * package.json's schema says the same (HOST_PATTERN there).
 */
const HOST_PATTERN = /^(?:[A-Za-z0-9_][A-Za-z0-9_.-]*@)?[A-Za-z0-9_.:%][A-Za-z0-9_.:%-]*$/;

/**
 * The nitro-cli path on an SSH host: ssh hands the remote command to the remote user's shell as one
 * string, so it is limited to characters no shell treats specially (package.json: REMOTE_PATH_PATTERN).
 */
const REMOTE_PATH_PATTERN = /^[A-Za-z0-9_./+][A-Za-z0-9_./+-]*$/;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** How a value is quoted in a warning: short, one line. */
function shown(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Why a local executable setting cannot be used, or undefined. */
function executableProblem(value: string): string | undefined {
  if (value.length > MAX_PATH_LENGTH) return `is longer than ${MAX_PATH_LENGTH} characters`;
  if (CONTROL.test(value)) return 'contains a control character';
  if (value.startsWith('-')) return 'starts with "-", which the program would read as an option';
  return undefined;
}

/** A setting naming a program on this machine: the trimmed value, or the default with a warning. */
function executable(setting: string, value: unknown, fallback: string, warnings: string[]): string {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string') {
    warnings.push(`${setting}: ${shown(value)} is not a string; using "${fallback}"`);
    return fallback;
  }
  const text = value.trim();
  if (text === '') return fallback;
  const problem = executableProblem(text);
  if (problem) {
    warnings.push(`${setting}: ${shown(value)} ${problem}; using "${fallback}"`);
    return fallback;
  }
  return text;
}

/** Why `host` cannot be given to ssh, or undefined. */
export function sshHostProblem(host: string): string | undefined {
  if (host === '') return 'is empty';
  if (host.length > MAX_HOST_LENGTH) return `is longer than ${MAX_HOST_LENGTH} characters`;
  if (host.startsWith('-') || host.includes('@-')) return 'starts with "-", which ssh would read as an option: refused';
  if (!HOST_PATTERN.test(host))
    return 'is not [user@]host (letters, digits and . _ - : % only, with one optional user@ in front)';
  return undefined;
}

function nameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name.length > MAX_NAME_LENGTH) return `is longer than ${MAX_NAME_LENGTH} characters`;
  if (CONTROL.test(name)) return 'contains a control character';
  return undefined;
}

/** One item of nitroEnclaves.parents.sshHosts as a target, or a warning. */
function sshTarget(setting: string, item: unknown, at: number, warnings: string[]): NitroCliTarget | string {
  const where = `${setting}[${at}]`;
  if (typeof item === 'string') {
    const host = item.trim();
    const problem = sshHostProblem(host);
    return problem
      ? `${where}: the host ${shown(item)} ${problem}; left out`
      : { kind: 'ssh', host, nitroCliPath: DEFAULT_NITRO_CLI_PATH };
  }
  if (!item || typeof item !== 'object' || Array.isArray(item))
    return `${where}: ${shown(item)} is neither a host string nor an object { "host": ... }; left out`;
  const o = item as Record<string, unknown>;
  const unknownKeys = Object.keys(o).filter((k) => !['host', 'nitroCliPath', 'name'].includes(k));
  if (typeof o['host'] !== 'string') return `${where}: "host" is missing or not a string; left out`;
  const host = o['host'].trim();
  const hostProblem = sshHostProblem(host);
  if (hostProblem) return `${where}: the host ${shown(o['host'])} ${hostProblem}; left out`;
  let nitroCliPath = DEFAULT_NITRO_CLI_PATH;
  if (o['nitroCliPath'] !== undefined) {
    const p = typeof o['nitroCliPath'] === 'string' ? o['nitroCliPath'].trim() : undefined;
    if (p === undefined || p.length > MAX_PATH_LENGTH || !REMOTE_PATH_PATTERN.test(p))
      return (
        `${where}: "nitroCliPath" ${shown(o['nitroCliPath'])} is not a plain path ` +
        `(letters, digits and . _ / + - only, not starting with "-"); left out`
      );
    nitroCliPath = p;
  }
  let name: string | undefined;
  if (o['name'] !== undefined) {
    const n = typeof o['name'] === 'string' ? o['name'].trim() : undefined;
    const problem = n === undefined ? 'is not a string' : nameProblem(n);
    if (problem) return `${where}: "name" ${shown(o['name'])} ${problem}; left out`;
    name = n;
  }
  // Not fatal: a misspelt optional key should not hide the parent; the log says it was ignored.
  for (const k of unknownKeys) warnings.push(`${where}: "${k}" is not host, nitroCliPath or name; ignored`);
  return { kind: 'ssh', host, nitroCliPath, ...(name !== undefined ? { name } : {}) };
}

function localParentMode(value: unknown, warnings: string[], setting: string): LocalParentMode {
  if (value === undefined || value === null) return 'auto';
  if (value === 'auto' || value === 'always' || value === 'never') return value;
  warnings.push(`${setting}: ${shown(value)} is not one of auto, always, never; using auto`);
  return 'auto';
}

function connectTimeout(value: unknown, warnings: string[], setting: string): number {
  const fallback = DEFAULT_SSH_OPTIONS.connectTimeoutSeconds;
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1) {
    warnings.push(`${setting}: ${shown(value)} is not a number of seconds, at least 1; using ${fallback}`);
    return fallback;
  }
  if (value > MAX_CONNECT_TIMEOUT_SECONDS) {
    warnings.push(
      `${setting}: ${value} is more than ${MAX_CONNECT_TIMEOUT_SECONDS}; using ${MAX_CONNECT_TIMEOUT_SECONDS}`,
    );
    return MAX_CONNECT_TIMEOUT_SECONDS;
  }
  return Math.ceil(value);
}

function configFile(value: unknown, env: NitroCliEnvironment, warnings: string[], setting: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    warnings.push(`${setting}: ${shown(value)} is not a string; ssh reads its usual configuration`);
    return undefined;
  }
  let file = value.trim();
  if (file === '') return undefined;
  const problem = executableProblem(file);
  if (problem) {
    warnings.push(`${setting}: ${shown(value)} ${problem}; ssh reads its usual configuration`);
    return undefined;
  }
  if (env.homeDir && (file === '~' || file.startsWith('~/'))) file = env.homeDir.replace(/\/+$/, '') + file.slice(1);
  return file;
}

/**
 * The nitro-cli backend's options from the settings: the local parent (per `localParent` and
 * whether the device exists), then each valid SSH host once (the first of equal hosts, compared
 * without case), and the ssh options.
 */
export function nitroCliOptionsFrom(values: NitroCliSettingValues, env: NitroCliEnvironment): NitroCliSettingsResult {
  const warnings: string[] = [];
  const S = {
    nitroCliPath: SETTINGS.nitroCliPath,
    sshHosts: SETTINGS.parentsSshHosts,
    localParent: SETTINGS.parentsLocalParent,
    sshPath: SETTINGS.sshPath,
    sshConfigFile: SETTINGS.sshConfigFile,
    connectTimeoutSeconds: SETTINGS.sshConnectTimeoutSeconds,
  };
  const targets: NitroCliTarget[] = [];
  const mode = localParentMode(values.localParent, warnings, S.localParent);
  const nitroCliPath = executable(S.nitroCliPath, values.nitroCliPath, DEFAULT_NITRO_CLI_PATH, warnings);
  if (mode === 'always' || (mode === 'auto' && env.deviceExists)) targets.push({ kind: 'local', nitroCliPath });

  const hosts = values.sshHosts ?? [];
  if (!Array.isArray(hosts)) {
    warnings.push(`${S.sshHosts}: ${shown(hosts)} is not a list of hosts; no SSH parents`);
  } else {
    const seen = new Map<string, number>();
    hosts.forEach((item, at) => {
      const target = sshTarget(S.sshHosts, item, at, warnings);
      if (typeof target === 'string') {
        warnings.push(target);
        return;
      }
      if (target.kind !== 'ssh') return;
      const key = target.host.toLowerCase();
      const first = seen.get(key);
      if (first !== undefined) {
        warnings.push(`${S.sshHosts}[${at}]: the host ${target.host} is listed already (item ${first}); left out`);
        return;
      }
      seen.set(key, at);
      targets.push(target);
    });
  }

  const ssh: SshOptions = {
    sshPath: executable(S.sshPath, values.sshPath, DEFAULT_SSH_OPTIONS.sshPath, warnings),
    connectTimeoutSeconds: connectTimeout(values.connectTimeoutSeconds, warnings, S.connectTimeoutSeconds),
  };
  const file = configFile(values.sshConfigFile, env, warnings, S.sshConfigFile);
  return { options: { targets, ssh: file !== undefined ? { ...ssh, configFile: file } : ssh }, warnings };
}

/** `this machine (nitro-cli)` / `ec2-user@build-host (nitro-cli at /opt/bin/nitro-cli)`: a target in the log. */
export function targetText(target: NitroCliTarget): string {
  const where = target.kind === 'local' ? 'this machine' : `${target.host} over SSH`;
  const name = target.name ? `"${target.name}": ` : '';
  return `${name}${where} (${target.nitroCliPath})`;
}

/** The command a user types to check that a target answers (what the backend does, in a terminal). */
export function checkCommand(target: NitroCliTarget, ssh: SshOptions): string {
  const nitroCli = quoteForShell(target.nitroCliPath);
  if (target.kind === 'local') return `${nitroCli} describe-enclaves`;
  const parts = [
    quoteForShell(ssh.sshPath),
    '-o',
    'BatchMode=yes',
    '-o',
    `ConnectTimeout=${ssh.connectTimeoutSeconds}`,
  ];
  if (ssh.configFile) parts.push('-F', quoteForShell(ssh.configFile));
  parts.push(target.host, nitroCli, 'describe-enclaves');
  return parts.join(' ');
}

/** POSIX shell quoting, only where needed. */
function quoteForShell(word: string): string {
  return /^[A-Za-z0-9_./+:@%=-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Are two options the same (so nothing needs to be recreated)? */
export function sameOptions(a: NitroCliOptions, b: NitroCliOptions): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
