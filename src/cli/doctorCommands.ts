// doctor: checks this parent instance (or a tree standing for one, --system-root), or one reached
// over SSH (--host), for what makes run-enclave fail, and with --eif-path/--memory/--cpu-count
// whether a planned run fits (the EIF's size is read here: it is the image the user would copy). One
// line per finding and the command that fixes it, or {"findings":[...]} with --json; exit 1 when any
// finding is a failure.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { BackendError, parseMemoryArgument, parseUnsignedArgument, type DoctorFinding } from '../engine';
import { runLocalDoctor, runRemoteDoctor } from '../engine/node';
import { UsageError, flag, optionValue, type ParsedArgs } from './args';
import { reportFailure } from './errors';
import { HOST_OPTIONS, hostOption, requireOption, sshOptionsOf } from './hostOptions';
import type { CliIo, Command } from './types';

const MARKS: Record<DoctorFinding['status'], string> = { ok: '[ ok ]', warning: '[warn]', failure: '[FAIL]' };

/** The text report: a status mark and the message, then the fix indented under it. */
export function doctorText(findings: readonly DoctorFinding[]): string {
  return findings
    .map((f) => `${MARKS[f.status]} ${f.id}: ${f.message}\n${f.fix ? `       fix: ${f.fix}\n` : ''}`)
    .join('');
}

/** `--memory` and `--cpu-count` as run-enclave reads them; a bad value is a usage error. */
function planValue<T>(command: Command, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof BackendError)
      throw new UsageError(e.message.replace(/^Invalid argument provided\. /, ''), command);
    throw e;
  }
}

async function readPlan(command: Command, args: ParsedArgs, io: CliIo) {
  const eif = optionValue(args, 'eif-path');
  const memory = optionValue(args, 'memory');
  const cpus = optionValue(args, 'cpu-count');
  const given = [eif, memory, cpus].filter((v) => v !== undefined).length;
  if (given === 0) return { plan: undefined, findings: [] };
  if (given !== 3) throw new UsageError('--eif-path, --memory and --cpu-count go together: give all three', command);
  const memoryMiB = planValue(command, () => parseMemoryArgument(memory as string));
  const cpuCount = planValue(command, () => parseUnsignedArgument('--cpu-count', cpus as string));
  const file = path.resolve(io.cwd, eif as string);
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) throw new Error('it is not a file');
    return { plan: { eifSize: st.size, memoryMiB, cpuCount }, findings: [] };
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (e as Error).message;
    const finding: DoctorFinding = {
      id: 'eif-file',
      status: 'failure',
      message: `The image ${file} cannot be read: ${why}.`,
      fix: null,
    };
    return { plan: undefined, findings: [finding] };
  }
}

export const doctorCommand: Command = {
  name: 'doctor',
  // Ctrl-C stops ssh (--host) and reports the cancellation.
  cancellable: true,
  summary: 'Checks a parent instance (this one, or --host over SSH) for what makes run-enclave fail, and the fixes',
  options: [
    {
      name: 'system-root',
      value: 'DIR',
      help: 'Read /sys, /dev, /etc under DIR instead of / (nitro-cli and systemd are asked only for /)',
    },
    { name: 'eif-path', value: 'eif-path', help: 'A planned run: the image (with --memory and --cpu-count)' },
    { name: 'memory', value: 'memory', help: 'A planned run: memory in MiB (suffix M, G or T)' },
    { name: 'cpu-count', value: 'cpu-count', help: 'A planned run: the number of CPUs' },
    ...HOST_OPTIONS,
    { name: 'nitro-cli', value: 'PATH', help: 'With --host: nitro-cli on that host (default: nitro-cli in its PATH)' },
    { name: 'json', help: 'Print {"findings":[{"id","status","message","fix"}]}; fix is null when none' },
  ],
  async run(args, io) {
    const host = hostOption(this, args, ['system-root']);
    requireOption(this, args, 'nitro-cli', 'host');
    const root = optionValue(args, 'system-root');
    const nitroCli = optionValue(args, 'nitro-cli');
    const plan = await readPlan(this, args, io);
    try {
      const planned = plan.plan ? { plan: plan.plan } : {};
      const findings = [
        ...(host !== undefined
          ? await runRemoteDoctor({
              host,
              ssh: sshOptionsOf(io, args),
              env: io.env,
              ...(nitroCli !== undefined ? { nitroCliPath: nitroCli } : {}),
              ...(io.cancellation ? { token: io.cancellation } : {}),
              ...planned,
            })
          : await runLocalDoctor({
              ...(root !== undefined ? { systemRoot: path.resolve(io.cwd, root) } : {}),
              ...planned,
            })),
        ...plan.findings,
      ];
      if (flag(args, 'json')) {
        const listed = findings.map(({ id, status, message, fix }) => ({ id, status, message, fix }));
        io.stdout(`${JSON.stringify({ findings: listed })}\n`);
      } else io.stdout(doctorText(findings));
      return findings.some((f) => f.status === 'failure') ? 1 : 0;
    } catch (e) {
      return reportFailure(io, e);
    }
  },
};
