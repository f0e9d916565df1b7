// Argument parsing for nitro-dev, in nitro-cli's style: `--long-name value` or `--long-name=value`,
// options in any order, `--` ends the options. Usage errors are thrown as UsageError (exit code 2).

export interface OptionSpec {
  /** Long name without the dashes, e.g. `eif-path`. */
  readonly name: string;
  /** Single-letter alias without the dash. */
  readonly short?: string;
  /** Placeholder shown in help for an option that takes a value, e.g. `PATH`; absent for flags. */
  readonly value?: string;
  readonly required?: boolean;
  /** May be given more than once (values are collected in order). */
  readonly multiple?: boolean;
  /**
   * Takes one or more values: the arguments after it up to the next option (clap's `num_args(1..)`,
   * e.g. `--cpu-ids 1 3 5`).
   */
  readonly values?: boolean;
  readonly help: string;
}

export interface CommandSpec {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  readonly options: readonly OptionSpec[];
  /** Named positional arguments, in order (all optional unless listed in requiredPositionals). */
  readonly positionals?: readonly string[];
  readonly requiredPositionals?: number;
}

export interface ParsedArgs {
  /** Option values by long name: string[] for options with values, true for flags. */
  readonly options: ReadonlyMap<string, readonly string[] | true>;
  readonly positionals: readonly string[];
}

export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose usage to print with the error, if any. */
    readonly command?: CommandSpec,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const byName = new Map(spec.options.map((o) => [o.name, o]));
  const byShort = new Map(spec.options.filter((o) => o.short).map((o) => [o.short as string, o]));
  const options = new Map<string, string[] | true>();
  const positionals: string[] = [];
  const take = (opt: OptionSpec, value: string | undefined, shown: string): void =>
    takeOption(spec, options, opt, value, shown);

  let onlyPositionals = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (onlyPositionals || arg === '-' || !arg.startsWith('-')) {
      positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      onlyPositionals = true;
      continue;
    }
    const { opt, inline, shown } = optionOf(spec, byName, byShort, arg);
    const needsValue = opt.value !== undefined && inline === undefined;
    if (needsValue) {
      const next = argv[i + 1];
      // A following option is not taken as a value: `--eif-path --debug-mode` is a missing value.
      if (next === undefined || (next.startsWith('--') && next.length > 2)) take(opt, undefined, shown);
      else take(opt, next, shown);
      i++;
      // More values up to the next option (or `--`).
      while (opt.values && i + 1 < argv.length && !(argv[i + 1] as string).startsWith('-')) take(opt, argv[++i], shown);
    } else {
      take(opt, inline, shown);
    }
  }

  checkRequired(spec, options, positionals);
  return { options, positionals };
}

/** Records one occurrence of `opt` (shown as `shown`) with its value, if it takes one. */
function takeOption(
  spec: CommandSpec,
  options: Map<string, string[] | true>,
  opt: OptionSpec,
  value: string | undefined,
  shown: string,
): void {
  if (opt.value === undefined) {
    if (value !== undefined) throw new UsageError(`unexpected value '${value}' for '${shown}'`, spec);
    if (options.has(opt.name)) throw new UsageError(`the argument '${shown}' cannot be used multiple times`, spec);
    options.set(opt.name, true);
    return;
  }
  if (value === undefined)
    throw new UsageError(`a value is required for '${shown} <${opt.value}>' but none was supplied`, spec);
  const prior = options.get(opt.name);
  if (Array.isArray(prior)) {
    if (!opt.multiple)
      throw new UsageError(`the argument '${shown} <${opt.value}>' cannot be used multiple times`, spec);
    prior.push(value);
  } else {
    options.set(opt.name, [value]);
  }
}

/** The option an argument (`--name`, `--name=value` or `-x`) names, its inline value and how it was written. */
function optionOf(
  spec: CommandSpec,
  byName: ReadonlyMap<string, OptionSpec>,
  byShort: ReadonlyMap<string, OptionSpec>,
  arg: string,
): { opt: OptionSpec; inline: string | undefined; shown: string } {
  let opt: OptionSpec | undefined;
  let inline: string | undefined;
  let shown: string;
  if (arg.startsWith('--')) {
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    inline = eq === -1 ? undefined : arg.slice(eq + 1);
    opt = byName.get(name);
    shown = `--${name}`;
  } else {
    shown = arg.slice(0, 2);
    opt = arg.length === 2 ? byShort.get(arg.slice(1)) : undefined;
  }
  if (!opt) throw new UsageError(`unexpected argument '${arg}' found`, spec);
  return { opt, inline, shown };
}

/** Refuses a missing required option, too many positionals or too few. */
function checkRequired(spec: CommandSpec, options: ReadonlyMap<string, string[] | true>, positionals: string[]): void {
  for (const opt of spec.options) {
    if (opt.required && !options.has(opt.name)) {
      throw new UsageError(
        `the following required argument was not provided: --${opt.name} <${opt.value ?? ''}>`,
        spec,
      );
    }
  }
  const allowed = spec.positionals?.length ?? 0;
  if (positionals.length > allowed) {
    throw new UsageError(`unexpected argument '${positionals[allowed]}' found`, spec);
  }
  const required = spec.requiredPositionals ?? 0;
  if (positionals.length < required) {
    throw new UsageError(
      `the following required argument was not provided: <${spec.positionals?.[positionals.length] ?? ''}>`,
      spec,
    );
  }
}

/** The single value of an option that takes one, or undefined when absent. */
export function optionValue(args: ParsedArgs, name: string): string | undefined {
  const v = args.options.get(name);
  return v === undefined || v === true ? undefined : v[v.length - 1];
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.options.get(name) === true;
}

/** Help text of one command, in the layout of nitro-cli's (clap) help. */
export function commandHelp(program: string, spec: CommandSpec): string {
  const positionals = (spec.positionals ?? []).map((p, i) =>
    i < (spec.requiredPositionals ?? 0) ? `<${p}>` : `[${p}]`,
  );
  const lines = [spec.summary, '', `Usage: ${[program, spec.name, '[OPTIONS]', ...positionals].join(' ')}`];
  if (spec.options.length > 0) {
    lines.push('', 'Options:');
    const cells = spec.options.map((o) => {
      const names = (o.short ? `-${o.short}, ` : '    ') + `--${o.name}` + (o.value ? ` <${o.value}>` : '');
      return [names, o.help + (o.required ? ' (required)' : '')] as const;
    });
    const width = Math.max(...cells.map(([n]) => n.length));
    for (const [names, help] of cells) lines.push(`  ${names.padEnd(width)}  ${help}`);
  }
  return lines.join('\n') + '\n';
}
