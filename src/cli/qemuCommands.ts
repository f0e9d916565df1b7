// nitro-dev qemu: the QEMU backend's tools.
//
//   nitro-dev qemu setup [--cache DIR] [--jobs N] [--force]
//       builds QEMU with the nitro-enclave machine, fetches vhost-device-vsock, firmware and builds
//       the test kernel into the cache folder, from Debian's packages (Linux, Debian); idempotent
//   nitro-dev qemu status [--cache DIR] [--json]
//       each tool found (and where) or what is missing, the nitro-enclave machine check, KVM or TCG
//
// Exit status: 0 done (setup) or every tool usable (status); 1 setup failed, or status found a tool
// missing or unusable; 2 a wrong command line; 130 setup cancelled (Ctrl-C). nitro-cli has no such
// command: failures read `nitro-dev: error: ...`.
import * as path from 'node:path';
import { QemuBackend, buildGuestPrograms, qemuStateDir } from '../engine/node';
import {
  acceleratorText,
  checkNitroMachine,
  defaultSetupJobs,
  findQemuTools,
  probeKvm,
  qemuCacheDir,
  outdatedSteps,
  readSetupManifest,
  runQemuSetup,
  qemuCacheLayout,
  type AcceleratorProbe,
  type NitroMachineCheck,
  type QemuSetupOptions,
  type SetupStepId,
  type ToolLookup,
} from '../engine/node';
import { UsageError, flag, optionValue, type CommandSpec, type ParsedArgs } from './args';
import { reportFailure, type FailureStyle } from './errors';
import type { CliIo, Command } from './types';

const PLAIN: FailureStyle = { report: 'plain', cancelled: 'Setup cancelled; the steps already done are kept.' };

const CACHE_OPTION = {
  name: 'cache',
  value: 'DIR',
  help:
    'The cache folder (default: NITRO_DEV_QEMU_CACHE, else $XDG_CACHE_HOME/nitro-dev/qemu ' +
    'or ~/.cache/nitro-dev/qemu)',
} as const;

interface Action {
  readonly spec: CommandSpec;
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

const cacheOf = (args: ParsedArgs, io: CliIo): string => {
  const given = optionValue(args, 'cache');
  return given !== undefined ? path.resolve(io.cwd, given) : qemuCacheDir(io.env);
};

const STEP_NAMES: Record<SetupStepId, string> = {
  prerequisites: 'Checking prerequisites',
  apt: 'Reading package lists',
  download: 'Downloading packages',
  'vhost-device-vsock': 'Installing vhost-device-vsock',
  firmware: 'Installing the firmware',
  qemu: 'Building QEMU',
  kernel: 'Building the kernel',
  guest: 'Guest programs',
};

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

/**
 * What the caller adds to setup: `afterKernel`, the guest programs' step (wired where the backend's
 * guest module is); tests also pass their own runner and machine facts.
 */
export type SetupExtras = Pick<QemuSetupOptions, 'afterKernel' | 'runner' | 'host'>;

/** `qemu setup`, with the extra steps the caller wires (none here). */
export function setupAction(extras: SetupExtras = {}): Action {
  return {
    spec: {
      name: 'qemu setup',
      summary: 'Builds QEMU with the nitro-enclave machine, vhost-device-vsock and a test kernel into a cache folder',
      options: [
        CACHE_OPTION,
        { name: 'jobs', value: 'N', help: 'Parallel build jobs (default: the number of processors)' },
        { name: 'force', help: 'Redo every step, even those already done' },
      ],
    },
    async run(args, io) {
      const jobsText = optionValue(args, 'jobs');
      if (jobsText !== undefined && (!/^\d{1,3}$/.test(jobsText) || Number(jobsText) < 1))
        throw new UsageError(`--jobs takes a number of jobs from 1 to 999, not '${jobsText}'`, this.spec);
      const jobs = jobsText !== undefined ? Number(jobsText) : defaultSetupJobs();
      const cacheDir = cacheOf(args, io);
      // Progress: on a terminal one line rewritten in place; otherwise a line per step and per tenth.
      let lastShown = '';
      const progress = (step: SetupStepId, fraction?: number) => {
        const pct = fraction !== undefined ? ` ${Math.floor(fraction * 100)}%` : '';
        const text = `${STEP_NAMES[step]}${pct}`;
        if (io.stderrIsTty) io.stderr(`\r\x1b[K${text}`);
        else {
          const coarse = `${STEP_NAMES[step]}${fraction !== undefined ? ` ${Math.floor(fraction * 10) * 10}%` : ''}`;
          if (coarse !== lastShown) io.stderr(`${coarse}\n`);
          lastShown = coarse;
        }
      };
      const log = (line: string) => io.stderr(`${io.stderrIsTty ? '\r\x1b[K' : ''}${line}\n`);
      try {
        log(`nitro-dev qemu setup: cache folder ${cacheDir}, ${jobs} job(s)`);
        const result = await runQemuSetup({
          cacheDir,
          jobs,
          force: flag(args, 'force'),
          log,
          progress,
          ...(io.cancellation ? { cancellation: io.cancellation } : {}),
          ...(extras.afterKernel ? { afterKernel: extras.afterKernel } : {}),
          ...(extras.runner ? { runner: extras.runner } : {}),
          host: { env: io.env, ...extras.host },
        });
        if (io.stderrIsTty) io.stderr('\r\x1b[K');
        const done = result.steps.filter((s) => !s.skipped);
        const lines = [
          `QEMU tools ready in ${result.layout.root} (${seconds(result.durationMs)}; ` +
            `${done.length === 0 ? 'everything was up to date' : `${done.length} step(s) done`})`,
          ...result.steps.map((s) => `  ${s.title.padEnd(44)} ${s.skipped ? 'up to date' : seconds(s.durationMs)}`),
          `  qemu-system-x86_64   ${result.layout.qemu}`,
          `  vhost-device-vsock   ${result.layout.vhostDeviceVsock}`,
          `  firmware (-L)        ${result.layout.firmwareDir}`,
          `  kernel               ${result.layout.kernel}`,
          `  blobs (--blobs)      ${result.layout.blobsDir}`,
          ...(await qemuParentLines(io)),
          'Run `nitro-dev qemu status` to check them and whether KVM works here.',
        ];
        io.stdout(`${lines.join('\n')}\n`);
        return 0;
      } catch (e) {
        return reportFailure(io, e, PLAIN);
      }
    },
  };
}

/**
 * Makes sure the QEMU backend has its parent in this user's state folder (its first listing creates
 * the default one), so the backend shows up by itself from now on (its `auto` registration), and
 * says how to use it.
 */
async function qemuParentLines(io: CliIo): Promise<string[]> {
  const backend = new QemuBackend({
    stateDir: qemuStateDir(io.env),
    env: io.env,
    watch: false,
    resolveMachine: () => Promise.reject(new Error('not used by a listing')),
  });
  try {
    const [parent] = await backend.listParents();
    if (!parent) return [];
    return [
      `QEMU parent instance: ${parent.id} ("${parent.name}"). Build with --blobs above, then`,
      `  nitro-dev run-enclave --parent '${parent.name}' --eif-path IMAGE.eif --memory 512 --cpu-count 2 --debug-mode`,
    ];
  } finally {
    backend.dispose();
  }
}

/** The JSON of `qemu status --json`. */
export interface QemuStatusJson {
  readonly cacheDir: string;
  readonly qemu: ToolJson;
  readonly vhostDeviceVsock: ToolJson;
  readonly firmwareDir: string | null;
  readonly kernel: string | null;
  readonly nitroEnclave: {
    readonly available: boolean;
    readonly qemuVersion: string | null;
    readonly problem: string | null;
  } | null;
  readonly accelerator:
    | { readonly name: 'kvm' | 'tcg'; readonly reason: string | null }
    | { readonly name: null; readonly reason: string }
    | null;
  readonly setup: { readonly date: string } | null;
  /** The cache's outputs an earlier setup made with another recipe: `nitro-dev qemu setup` redoes them. */
  readonly outdated: readonly string[];
  readonly usable: boolean;
}

type ToolJson =
  | { readonly path: string; readonly source: string; readonly missing: null }
  | { readonly path: null; readonly source: null; readonly missing: string };

const toolJson = (t: ToolLookup): ToolJson =>
  t.found ? { path: t.path, source: t.source, missing: null } : { path: null, source: null, missing: t.missing };

/** Everything `qemu status` reports, gathered. */
export async function qemuStatus(io: CliIo, cacheDir: string): Promise<QemuStatusJson> {
  const tools = await findQemuTools({ env: io.env, settings: { cacheDir } });
  const layout = qemuCacheLayout(tools.cacheDir);
  let machine: NitroMachineCheck | undefined;
  let accel: AcceleratorProbe | { failed: string } | undefined;
  if (tools.qemu.found) {
    machine = await checkNitroMachine(tools.qemu.path, tools.firmwareDir);
    try {
      accel = await probeKvm(tools.qemu.path, {
        ...(tools.firmwareDir ? { firmwareDir: tools.firmwareDir } : {}),
        cacheDir: tools.cacheDir,
        kernel: layout.kernel,
      });
    } catch (e) {
      accel = { failed: (e as Error).message };
    }
  }
  const manifest = await readSetupManifest(layout.manifest);
  const kernel = manifest?.steps.kernel ? layout.kernel : null;
  return {
    cacheDir: tools.cacheDir,
    qemu: toolJson(tools.qemu),
    vhostDeviceVsock: toolJson(tools.vhostDeviceVsock),
    firmwareDir: tools.firmwareDir ?? null,
    kernel,
    nitroEnclave: machine
      ? { available: machine.nitroEnclave, qemuVersion: machine.version ?? null, problem: machine.problem ?? null }
      : null,
    accelerator:
      accel === undefined
        ? null
        : 'failed' in accel
          ? { name: null, reason: accel.failed }
          : { name: accel.accelerator, reason: accel.reason ?? null },
    setup: manifest && typeof manifest.date === 'string' ? { date: manifest.date } : null,
    outdated: manifest ? outdatedSteps(manifest) : [],
    usable:
      tools.vhostDeviceVsock.found && machine?.nitroEnclave === true && accel !== undefined && !('failed' in accel),
  };
}

function statusText(s: QemuStatusJson): string {
  const tool = (name: string, t: ToolJson) =>
    t.path !== null ? `[ ok ] ${name}: ${t.path} (${t.source})` : `[FAIL] ${name}: ${t.missing}`;
  const lines = [`Cache folder: ${s.cacheDir}${s.setup ? ` (set up ${s.setup.date})` : ' (not set up)'}`];
  lines.push(tool('qemu-system-x86_64', s.qemu));
  lines.push(tool('vhost-device-vsock', s.vhostDeviceVsock));
  if (s.qemu.path !== null) lines.push(`       firmware (-L): ${s.firmwareDir ?? "none (the QEMU's own)"}`);
  if (s.nitroEnclave)
    lines.push(
      s.nitroEnclave.available
        ? `[ ok ] nitro-enclave machine: available (QEMU ${s.nitroEnclave.qemuVersion ?? 'of unknown version'})`
        : `[FAIL] nitro-enclave machine: ${s.nitroEnclave.problem}`,
    );
  if (s.accelerator)
    lines.push(
      s.accelerator.name === null
        ? `[FAIL] accelerator: ${s.accelerator.reason}`
        : `[ ok ] accelerator: ${acceleratorText({
            accelerator: s.accelerator.name,
            cached: false,
            ...(s.accelerator.reason ? { reason: s.accelerator.reason } : {}),
          })}`,
    );
  lines.push(
    s.kernel ? `[ ok ] test kernel: ${s.kernel}` : '[warn] test kernel: not built (nitro-dev qemu setup builds it)',
  );
  for (const title of s.outdated)
    lines.push(`[warn] ${title}: made by an earlier setup; \`nitro-dev qemu setup\` makes it again`);
  return `${lines.join('\n')}\n`;
}

const STATUS: Action = {
  spec: {
    name: 'qemu status',
    summary: 'Shows the QEMU backend tools found (or what is missing), the nitro-enclave machine check and KVM or TCG',
    options: [CACHE_OPTION, { name: 'json', help: 'Print the status as JSON' }],
  },
  async run(args, io) {
    try {
      const status = await qemuStatus(io, cacheOf(args, io));
      io.stdout(flag(args, 'json') ? `${JSON.stringify(status, null, 2)}\n` : statusText(status));
      return status.usable ? 0 : 1;
    } catch (e) {
      return reportFailure(io, e, PLAIN);
    }
  },
};

/** The `qemu` command, with the setup extras the caller wires. */
export function makeQemuCommand(extras: SetupExtras = {}): Command {
  const actions: Readonly<Record<string, Action>> = { setup: setupAction(extras), status: STATUS };
  const options = (() => {
    const byName = new Map<string, { option: CommandSpec['options'][number]; actions: string[] }>();
    for (const [name, a] of Object.entries(actions))
      for (const o of a.spec.options) {
        const known = byName.get(o.name);
        if (known) known.actions.push(name);
        else byName.set(o.name, { option: o, actions: [name] });
      }
    return [...byName.values()].map(({ option, actions: names }) => ({
      ...option,
      help: `${option.help} [${names.join(', ')}]`,
    }));
  })();
  return {
    name: 'qemu',
    cancellable: true,
    summary:
      'The QEMU backend: `qemu setup [--cache DIR] [--jobs N] [--force]` builds its tools ' +
      '(Debian, about 15 minutes), ' +
      '`qemu status [--json]` shows what is found and KVM or TCG (exit 0 all usable, 1 not)',
    options,
    positionals: ['ACTION'],
    requiredPositionals: 1,
    async run(args, io) {
      const name = args.positionals[0] as string;
      const action = actions[name];
      if (!action)
        throw new UsageError(`unknown qemu action '${name}'; the actions are ${Object.keys(actions).join(', ')}`, this);
      const own = new Set(action.spec.options.map((o) => o.name));
      for (const given of args.options.keys())
        if (!own.has(given))
          throw new UsageError(`unexpected argument '--${given}' for '${action.spec.name}'`, action.spec);
      return action.run(args, io);
    },
  };
}

/** `nitro-dev qemu`: its setup ends with the guest programs (init, the relay) and the blobs folder. */
export const qemuCommand: Command = makeQemuCommand({ afterKernel: buildGuestPrograms });
