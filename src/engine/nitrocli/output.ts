// Reading what nitro-cli prints: the JSON of run-enclave, describe-enclaves and terminate-enclave
// on stdout (spec eif.md 7.5-7.7), and the `[ Exx ] ...` report plus exit status of a failure
// (7.9). Output is checked field by field: a value of the wrong type or an unexpected shape is a
// clear NitroCliOutputError naming the field, never a half-filled object.
import type { DescribeEnclaveJson, EnclaveState, RunEnclaveJson, TerminateEnclaveJson } from '../platform/backend';
import { BackendError } from '../platform/backend';
import type { MeasurementsJson } from '../eif/describe';

/** The most stdout a nitro-cli command's JSON may have (describe-enclaves of many enclaves with metadata). */
export const MAX_JSON_OUTPUT = 4 * 1024 * 1024;

/** nitro-cli printed something that is not the JSON its documentation describes. */
export class NitroCliOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NitroCliOutputError';
  }
}

type Json = unknown;

function parseJson(what: string, text: string): Json {
  if (text.length > MAX_JSON_OUTPUT)
    throw new NitroCliOutputError(`${what}: the output is ${text.length} characters, more than ${MAX_JSON_OUTPUT}`);
  const trimmed = text.trim();
  if (trimmed === '') throw new NitroCliOutputError(`${what}: nitro-cli printed nothing on stdout`);
  try {
    return JSON.parse(trimmed) as Json;
  } catch (e) {
    const first = trimmed.split('\n', 1)[0]!.slice(0, 120);
    throw new NitroCliOutputError(`${what}: the output is not JSON (${(e as Error).message}): ${first}`);
  }
}

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Fields {
  constructor(
    private readonly what: string,
    private readonly o: Record<string, Json>,
  ) {}

  private fail(key: string, expected: string): never {
    const v = this.o[key];
    const got = v === undefined ? 'nothing' : JSON.stringify(v).slice(0, 60);
    throw new NitroCliOutputError(`${this.what}: ${key} should be ${expected}, not ${got}`);
  }

  string(key: string): string {
    const v = this.o[key];
    if (typeof v !== 'string') this.fail(key, 'a string');
    return v;
  }

  optionalString(key: string): string | undefined {
    return this.o[key] === undefined ? undefined : this.string(key);
  }

  /** A non-negative safe integer. */
  count(key: string): number {
    const v = this.o[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(key, 'a non-negative integer');
    return v;
  }

  cpuIds(key: string): number[] {
    const v = this.o[key];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0))
      this.fail(key, 'an array of CPU numbers');
    return v as number[];
  }

  boolean(key: string): boolean {
    const v = this.o[key];
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }

  oneOf<T extends string>(key: string, values: readonly T[]): T {
    const v = this.o[key];
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) this.fail(key, values.join(' or '));
    return v as T;
  }

  object(key: string): Record<string, Json> {
    const v = this.o[key];
    if (!isObject(v)) this.fail(key, 'an object');
    return v;
  }
}

function runFields(f: Fields): RunEnclaveJson {
  const json: RunEnclaveJson = {
    EnclaveName: f.string('EnclaveName'),
    EnclaveID: f.string('EnclaveID'),
    ProcessID: f.count('ProcessID'),
    EnclaveCID: f.count('EnclaveCID'),
    NumberOfCPUs: f.count('NumberOfCPUs'),
    CPUIDs: f.cpuIds('CPUIDs'),
    MemoryMiB: f.count('MemoryMiB'),
  };
  if (json.EnclaveID === '') throw new NitroCliOutputError('EnclaveID is empty');
  return json;
}

/** run-enclave's stdout (spec 7.5). */
export function parseRunEnclaveOutput(stdout: string): RunEnclaveJson {
  const v = parseJson('run-enclave', stdout);
  if (!isObject(v)) throw new NitroCliOutputError('run-enclave: the output should be one JSON object');
  return runFields(new Fields('run-enclave', v));
}

const HEX_PCR = /^[0-9a-f]{96}$/i;

function measurements(what: string, o: Record<string, Json>): MeasurementsJson {
  const f = new Fields(`${what} Measurements`, o);
  const pcr = (key: string): string => {
    const v = f.string(key);
    if (!HEX_PCR.test(v)) throw new NitroCliOutputError(`${what} Measurements: ${key} is not 96 hex digits`);
    return v;
  };
  const pcr8 = o.PCR8 === undefined ? undefined : pcr('PCR8');
  return {
    HashAlgorithm: f.string('HashAlgorithm'),
    PCR0: pcr('PCR0'),
    PCR1: pcr('PCR1'),
    PCR2: pcr('PCR2'),
    ...(pcr8 !== undefined ? { PCR8: pcr8 } : {}),
  };
}

const STATES: readonly EnclaveState[] = ['RUNNING', 'TERMINATING', 'EMPTY'];

/** describe-enclaves' stdout (spec 7.6): an array, possibly empty. */
export function parseDescribeEnclavesOutput(stdout: string): DescribeEnclaveJson[] {
  const v = parseJson('describe-enclaves', stdout);
  if (!Array.isArray(v)) throw new NitroCliOutputError('describe-enclaves: the output should be a JSON array');
  return v.map((item: Json, i): DescribeEnclaveJson => {
    const what = `describe-enclaves [${i}]`;
    if (!isObject(item)) throw new NitroCliOutputError(`${what}: should be an object`);
    const f = new Fields(what, item);
    // EnclaveName is absent only for enclaves started by old nitro-cli versions.
    const run = runFields(new Fields(what, { EnclaveName: '', ...item }));
    const imageName = f.optionalString('ImageName');
    const imageVersion = f.optionalString('ImageVersion');
    const metadata = item.Metadata === undefined ? undefined : f.object('Metadata');
    return {
      ...run,
      State: f.oneOf('State', STATES),
      Flags: f.oneOf('Flags', ['DEBUG_MODE', 'NONE'] as const),
      Measurements: measurements(what, f.object('Measurements')),
      ...(imageName !== undefined ? { ImageName: imageName } : {}),
      ...(imageVersion !== undefined ? { ImageVersion: imageVersion } : {}),
      ...(metadata !== undefined ? { Metadata: metadata } : {}),
    };
  });
}

/** terminate-enclave's stdout for one enclave (spec 7.7). */
export function parseTerminateEnclaveOutput(stdout: string): TerminateEnclaveJson {
  const v = parseJson('terminate-enclave', stdout);
  if (!isObject(v)) throw new NitroCliOutputError('terminate-enclave: the output should be one JSON object');
  const f = new Fields('terminate-enclave', v);
  const name = f.optionalString('EnclaveName');
  return {
    ...(name !== undefined ? { EnclaveName: name } : {}),
    EnclaveID: f.string('EnclaveID'),
    Terminated: f.boolean('Terminated'),
  };
}

/** How a command ended: its exit status (null when a signal ended it) and what it wrote on stderr. */
export interface CommandEnd {
  readonly status: number | null;
  readonly signal?: string | null;
  readonly stderr: string;
}

const REPORT = /^\[ E(\d{2}) \] (.*)$/m;

/** The first non-empty lines of a text, joined, at most `max` characters. */
export function firstLines(text: string, count = 3, max = 400): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .slice(0, count)
    .join(' ');
  return lines.length > max ? `${lines.slice(0, max - 1)}…` : lines;
}

/**
 * The error a failed nitro-cli command stands for. A `[ Exx ] ...` report becomes BackendError(xx)
 * with its message (up to the blank line before the documentation link); clap's argument errors
 * (exit status 2, no report) and anything else become a plain Error saying what happened.
 */
export function nitroCliFailure(command: string, end: CommandEnd): Error {
  const report = REPORT.exec(end.stderr);
  if (report) {
    const code = Number(report[1]);
    // The report's text runs until the blank line before "For more details, ...".
    const rest = end.stderr.slice(report.index + report[0].length).split(/\r?\n\s*\r?\n/, 1)[0] ?? '';
    const message = [report[2]!.trim(), ...rest.split(/\r?\n/).map((l) => l.trim())].filter((l) => l !== '');
    const text = message.join(' ');
    return new BackendError(code, text.length > 2000 ? `${text.slice(0, 1999)}…` : text);
  }
  const said = firstLines(end.stderr);
  if (end.status === null)
    return new Error(`nitro-cli ${command} was ended by ${end.signal ?? 'a signal'}${said ? `: ${said}` : ''}`);
  if (end.status === 127) return new Error(`nitro-cli was not found${said ? `: ${said}` : ''}`);
  if (end.status === 126) return new Error(`nitro-cli cannot be run${said ? `: ${said}` : ''}`);
  if (end.status === 2 && /^error:/m.test(end.stderr))
    return new Error(
      `nitro-cli ${command} refused its arguments: ${firstLines(end.stderr.slice(end.stderr.search(/^error:/m)), 1)}`,
    );
  return new Error(
    `nitro-cli ${command} failed with exit status ${end.status}${said ? `: ${said}` : ' and no message'}`,
  );
}
