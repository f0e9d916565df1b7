import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { UsageError, commandHelp, flag, optionValue, parseArgs, type CommandSpec } from '../../../src/cli/args';
import { EXIT_USAGE, mainHelp, runCli } from '../../../src/cli/cli';
import type { Command } from '../../../src/cli/types';
import { PKG, ROOT } from '../repo';

const root = ROOT;
const pkg = PKG;

function capture() {
  const out = { stdout: '', stderr: '' };
  const io = {
    stdout: (t: string) => void (out.stdout += t),
    stderr: (t: string) => void (out.stderr += t),
    env: {},
    cwd: root,
  };
  return { out, io };
}

const DESCRIBE: CommandSpec = {
  name: 'describe-eif',
  summary: 'Returns information about the enclave image',
  options: [
    { name: 'eif-path', value: 'EIF_PATH', required: true, help: 'Path to the enclave image file' },
    { name: 'root', value: 'PEM', multiple: true, help: 'A trusted root' },
    { name: 'json', help: 'Print JSON' },
    { name: 'verbose', short: 'v', help: 'Say more' },
  ],
};

describe('(unit) nitro-dev argument parsing', () => {
  it('takes --name value and --name=value, in any order', () => {
    const a = parseArgs(DESCRIBE, ['--json', '--eif-path', 'a.eif']);
    assert.equal(optionValue(a, 'eif-path'), 'a.eif');
    assert.equal(flag(a, 'json'), true);
    assert.equal(flag(a, 'verbose'), false);
    const b = parseArgs(DESCRIBE, ['--eif-path=with=equals.eif', '-v']);
    assert.equal(optionValue(b, 'eif-path'), 'with=equals.eif');
    assert.equal(flag(b, 'verbose'), true);
  });

  it('collects repeatable options in order', () => {
    const a = parseArgs(DESCRIBE, ['--root', 'a.pem', '--eif-path', 'x', '--root', 'b.pem']);
    assert.deepEqual(a.options.get('root'), ['a.pem', 'b.pem']);
  });

  it('takes several values after an option that has them, up to the next option (--cpu-ids 1 3 5)', () => {
    const RUN: CommandSpec = {
      name: 'run-enclave',
      summary: 'Starts an enclave',
      options: [
        { name: 'cpu-ids', value: 'CPU_IDS', multiple: true, values: true, help: 'CPU ids' },
        { name: 'memory', value: 'MEMORY', help: 'MiB' },
      ],
      positionals: ['EXTRA'],
    };
    const a = parseArgs(RUN, ['--cpu-ids', '1', '3', '5', '--memory', '64']);
    assert.deepEqual(a.options.get('cpu-ids'), ['1', '3', '5']);
    assert.equal(optionValue(a, 'memory'), '64');
    assert.deepEqual(parseArgs(RUN, ['--cpu-ids', '1', '--cpu-ids', '3', '7']).options.get('cpu-ids'), ['1', '3', '7']);
    const b = parseArgs(RUN, ['--cpu-ids', '2', '--', 'extra']);
    assert.deepEqual(b.options.get('cpu-ids'), ['2']);
    assert.deepEqual(b.positionals, ['extra']);
    // An option without `values` still takes one value: the next word is a positional.
    assert.deepEqual(parseArgs(RUN, ['--memory', '64', 'extra']).positionals, ['extra']);
  });

  it('accepts a value that starts with a single dash', () => {
    assert.equal(optionValue(parseArgs(DESCRIBE, ['--eif-path', '-']), 'eif-path'), '-');
    assert.equal(optionValue(parseArgs(DESCRIBE, ['--eif-path', '-x.eif']), 'eif-path'), '-x.eif');
  });

  const usage = (argv: string[], message: RegExp) =>
    assert.throws(
      () => parseArgs(DESCRIBE, argv),
      (e: unknown) => e instanceof UsageError && message.test(e.message),
    );

  it('rejects what nitro-cli rejects, with clap-style messages', () => {
    usage([], /required argument was not provided: --eif-path <EIF_PATH>/);
    usage(['--eif-path'], /a value is required for '--eif-path <EIF_PATH>'/);
    usage(['--eif-path', '--json'], /a value is required for '--eif-path <EIF_PATH>'/);
    usage(['--eif-path', 'a', '--eif-path', 'b'], /cannot be used multiple times/);
    usage(['--eif-path', 'a', '--json', '--json'], /cannot be used multiple times/);
    usage(['--eif-path', 'a', '--bogus'], /unexpected argument '--bogus' found/);
    usage(['--eif-path', 'a', '-q'], /unexpected argument '-q' found/);
    usage(['--eif-path', 'a', 'stray'], /unexpected argument 'stray' found/);
    usage(['--eif-path', 'a', '--json=yes'], /unexpected value 'yes' for '--json'/);
  });

  it('treats everything after -- as positional', () => {
    const spec: CommandSpec = { ...DESCRIBE, positionals: ['FILE'], options: [] };
    assert.deepEqual(parseArgs(spec, ['--', '--not-an-option']).positionals, ['--not-an-option']);
  });

  it('prints command help with every option', () => {
    const help = commandHelp('nitro-dev', DESCRIBE);
    assert.match(help, /^Returns information about the enclave image\n\nUsage: nitro-dev describe-eif \[OPTIONS\]\n/);
    assert.match(help, /--eif-path <EIF_PATH>\s+Path to the enclave image file \(required\)/);
    assert.match(help, /-v, --verbose\s+Say more/);
  });
});

describe('(unit) nitro-dev top level', () => {
  const echo: Command = {
    ...DESCRIBE,
    async run(args, io) {
      io.stdout(`${optionValue(args, 'eif-path')}\n`);
      return 0;
    },
  };

  it('prints the version for --version and -V', async () => {
    for (const arg of ['--version', '-V']) {
      const { out, io } = capture();
      assert.equal(await runCli([arg], io), 0);
      assert.equal(out.stdout, `nitro-dev ${pkg.version}\n`);
    }
  });

  it('prints help for --help, -h and help', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const { out, io } = capture();
      assert.equal(await runCli(argv, io), 0);
      assert.match(out.stdout, /^nitro-dev \d+\.\d+\.\d+: /);
      assert.match(out.stdout, /Usage: nitro-dev \[OPTIONS\] <COMMAND>/);
      assert.equal(out.stderr, '');
    }
  });

  it('exits 2 with usage text on an unknown subcommand, a stray option or nothing at all', async () => {
    for (const [argv, message] of [
      [['frobnicate'], /error: unrecognized subcommand 'frobnicate'/],
      [['--frobnicate'], /error: unexpected argument '--frobnicate' found/],
      [['help', 'frobnicate'], /error: unrecognized subcommand 'frobnicate'/],
      [[], /Usage: nitro-dev/],
    ] as const) {
      const { out, io } = capture();
      assert.equal(await runCli(argv, io), EXIT_USAGE, argv.join(' '));
      assert.match(out.stderr, message);
      assert.match(out.stderr, /Usage: nitro-dev \[OPTIONS\] <COMMAND>/);
      assert.equal(out.stdout, '');
    }
  });

  it('dispatches to a subcommand, lists it, and turns its usage errors into exit 2 with its help', async () => {
    assert.match(mainHelp([echo]), /^ {2}describe-eif +Returns information about the enclave image$/m);
    let c = capture();
    assert.equal(await runCli(['describe-eif', '--eif-path', 'x.eif'], c.io, [echo]), 0);
    assert.equal(c.out.stdout, 'x.eif\n');
    c = capture();
    assert.equal(await runCli(['describe-eif'], c.io, [echo]), EXIT_USAGE);
    assert.match(
      c.out.stderr,
      /^error: the following required argument was not provided: --eif-path <EIF_PATH>\n\nReturns information/,
    );
    c = capture();
    assert.equal(await runCli(['describe-eif', '--help'], c.io, [echo]), 0);
    assert.match(c.out.stdout, /Usage: nitro-dev describe-eif \[OPTIONS\]/);
    c = capture();
    assert.equal(await runCli(['help', 'describe-eif'], c.io, [echo]), 0);
    assert.match(c.out.stdout, /--eif-path <EIF_PATH>/);
  });
});

describe('(unit) dist/cli.js as a program', function () {
  // Each test starts `node dist/cli.js`: seconds on a busy machine, not milliseconds.
  this.timeout(120_000);
  const cli = path.join(root, 'dist/cli.js');
  const run = (...args: string[]) => spawnSync(cli, args, { encoding: 'utf8' });

  it('is executable with a node shebang', () => {
    assert.ok(readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env node\n'));
    accessSync(cli, constants.X_OK);
  });

  it('answers --version and --help with exit 0, and an unknown subcommand with exit 2', () => {
    const version = run('--version');
    assert.equal(version.status, 0);
    assert.equal(version.stdout, `nitro-dev ${pkg.version}\n`);
    const help = run('--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Commands:/);
    const unknown = run('frobnicate');
    assert.equal(unknown.status, 2);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /error: unrecognized subcommand 'frobnicate'[\s\S]*Usage: nitro-dev/);
  });
});
