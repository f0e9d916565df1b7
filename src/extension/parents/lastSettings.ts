// Run Enclave's last settings, remembered per image (workspaceState, keyed by the image's path):
// what the steps were answered with, offered again as "Run with last settings" and as each step's
// value. The application's command line is part of them (it used to be remembered on its own, under
// appMemoryKey: that line is still read when an image has no settings of its own yet).
import type { RunEnclaveRequest } from '../../engine';
import { applicationRequest } from './attachApplication';
import { l10n } from '../l10n';

export interface LastRunSettings {
  readonly memoryMiB: number;
  readonly cpuCount: number;
  readonly debugMode: boolean;
  readonly enclaveName: string;
  /** 0: the next free CID. */
  readonly enclaveCid: number;
  /** The application's command line; '' for none. */
  readonly app: string;
}

/** The workspaceState key of an image's last settings. */
export function lastSettingsKey(eifPath: string): string {
  return `nitroEnclaves.runEnclave.last:${eifPath}`;
}

/** Settings read back from workspaceState, or undefined when what is stored is not settings. */
export function asLastSettings(value: unknown): LastRunSettings | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const whole = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (!whole(v['memoryMiB']) || !whole(v['cpuCount']) || !whole(v['enclaveCid'])) return undefined;
  if (typeof v['debugMode'] !== 'boolean' || typeof v['enclaveName'] !== 'string' || typeof v['app'] !== 'string')
    return undefined;
  return {
    memoryMiB: v['memoryMiB'],
    cpuCount: v['cpuCount'],
    debugMode: v['debugMode'],
    enclaveName: v['enclaveName'],
    enclaveCid: v['enclaveCid'],
    app: v['app'],
  };
}

/** The settings in one line, as "Run with last settings" shows them; the application only where one can run. */
export function describeSettings(s: LastRunSettings, withApp: boolean): string {
  return [
    s.debugMode ? l10n.t('debug mode') : l10n.t('production'),
    l10n.t('{0} MiB', s.memoryMiB),
    s.cpuCount === 1 ? l10n.t('1 CPU') : l10n.t('{0} CPUs', s.cpuCount),
    l10n.t('name {0}', s.enclaveName),
    s.enclaveCid ? l10n.t('CID {0}', s.enclaveCid) : l10n.t('next free CID'),
    ...(withApp ? [s.app ? l10n.t('application: {0}', s.app) : l10n.t('no application')] : []),
  ].join(' · ');
}

/** The request the settings make for an image; the application only when `cwd` is given (it can run). */
export function requestOf(s: LastRunSettings, eifPath: string, cwd: string | undefined): RunEnclaveRequest {
  const app = cwd !== undefined ? applicationRequest(s.app, cwd) : undefined;
  return {
    eifPath,
    memoryMiB: s.memoryMiB,
    cpuCount: s.cpuCount,
    debugMode: s.debugMode,
    enclaveName: s.enclaveName,
    ...(s.enclaveCid ? { enclaveCid: s.enclaveCid } : {}),
    ...(app ? { app } : {}),
  };
}
