// nitro-cli run-enclave's `--config` JSON (eif_path, memory_mib, cpu_count or cpu_ids, enclave_cid,
// debug_mode, attach_console, enclave_name) as a run request, with nitro-cli's refusals: E17 for a
// field of the wrong type, E02 for both cpu_count and cpu_ids, E01 for neither. Read by `nitro-dev
// run-enclave --config` and by the extension's `nitro-enclave` task type, whose definition is this
// object with two more keys of its own (`parent`, `app`). Other keys are ignored, as nitro-cli does.
import { BackendError, type RunEnclaveRequest } from '../platform/backend';

/** The keys of run-enclave's `--config` object. */
export interface RunConfigJson {
  readonly eif_path?: unknown;
  readonly memory_mib?: unknown;
  readonly cpu_count?: unknown;
  readonly cpu_ids?: unknown;
  readonly enclave_cid?: unknown;
  readonly debug_mode?: unknown;
  readonly attach_console?: unknown;
  readonly enclave_name?: unknown;
}

export interface RunConfig {
  readonly request: RunEnclaveRequest;
  /** `attach_console`: stream the console once it runs (implies debug mode). */
  readonly attachConsole: boolean;
}

/**
 * The request a `--config` object stands for; throws a BackendError naming `where` (the file, or
 * the task) and the key that is wrong. `eif_path` goes through `resolvePath` (relative to the
 * working directory for the CLI, to the workspace folder for a task).
 */
export function runConfigRequest(value: unknown, where: string, resolvePath: (p: string) => string): RunConfig {
  const bad = (what: string): never => {
    throw new BackendError(17, `Serialization error. In ${where}: ${what}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('expected a JSON object');
  const config = value as RunConfigJson;
  const uint = (v: unknown, key: string): number | undefined =>
    v === undefined || v === null
      ? undefined
      : typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
        ? v
        : bad(`${key} must be an unsigned integer`);
  if (typeof config.eif_path !== 'string') bad('missing field `eif_path` (a string)');
  if ((config.eif_path as string).trim() === '') bad('`eif_path` is empty');
  const memory = uint(config.memory_mib, 'memory_mib');
  if (memory === undefined) bad('missing field `memory_mib` (a number of MiB)');
  const cpuCount = uint(config.cpu_count, 'cpu_count');
  let cpuIds: number[] | undefined;
  if (config.cpu_ids !== undefined && config.cpu_ids !== null) {
    if (!Array.isArray(config.cpu_ids)) bad('cpu_ids must be an array of CPU ids');
    cpuIds = (config.cpu_ids as unknown[]).map((v) => uint(v, 'cpu_ids') as number);
  }
  if (cpuCount !== undefined && cpuIds !== undefined)
    throw new BackendError(2, `Conflicting arguments provided. ${where} gives both cpu_count and cpu_ids`);
  if (cpuCount === undefined && cpuIds === undefined)
    throw new BackendError(1, `Missing mandatory argument. ${where} gives neither cpu_count nor cpu_ids`);
  const cid = uint(config.enclave_cid, 'enclave_cid');
  for (const key of ['debug_mode', 'attach_console'] as const) {
    const v = config[key];
    if (v !== undefined && v !== null && typeof v !== 'boolean') bad(`${key} must be true or false`);
  }
  if (config.enclave_name !== undefined && config.enclave_name !== null && typeof config.enclave_name !== 'string')
    bad('enclave_name must be a string');
  const attachConsole = config.attach_console === true;
  return {
    request: {
      eifPath: resolvePath(config.eif_path as string),
      memoryMiB: memory as number,
      ...(cpuCount !== undefined ? { cpuCount } : {}),
      ...(cpuIds !== undefined ? { cpuIds } : {}),
      ...(cid !== undefined ? { enclaveCid: cid } : {}),
      debugMode: config.debug_mode === true || attachConsole,
      ...(typeof config.enclave_name === 'string' ? { enclaveName: config.enclave_name } : {}),
    },
    attachConsole,
  };
}
