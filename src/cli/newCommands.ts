// nitro-dev new: scaffolds a small enclave application (engine/imagebuild/scaffold.ts) that builds
// with `build-enclave --rootfs` (no Docker), runs on the emulator and attests. Not a nitro-cli command.
import * as path from 'node:path';
import { SCAFFOLD_TEMPLATES, projectNameProblem, scaffoldFiles, type EifArch, type ScaffoldTemplate } from '../engine';
import { ScaffoldError, writeScaffold } from '../engine/node';
import { UsageError, optionValue } from './args';
import { CommandError, reportFailure } from './errors';
import type { Command } from './types';

const hostArch = (): EifArch | undefined =>
  process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : undefined;

export const newCommand: Command = {
  name: 'new',
  summary: 'Creates a small enclave application that builds (--rootfs, no Docker), runs and attests',
  positionals: ['DIR'],
  options: [
    { name: 'name', value: 'NAME', help: "The project's and the image's name (default: DIR's name, else enclave-app)" },
    {
      name: 'template',
      value: 'TEMPLATE',
      help: `What to start from: ${SCAFFOLD_TEMPLATES.join(', ')} (default hello)`,
    },
    {
      name: 'arch',
      value: 'x86_64|aarch64',
      help: "The architecture of the program and the image (default: this machine's)",
    },
  ],
  async run(args, io) {
    const dirArg = args.positionals[0];
    const name =
      optionValue(args, 'name') ?? (dirArg !== undefined ? path.basename(path.resolve(io.cwd, dirArg)) : 'enclave-app');
    const problem = projectNameProblem(name);
    if (problem) throw new UsageError(`invalid project name '${name}': ${problem}`, this);
    const template = optionValue(args, 'template') ?? 'hello';
    if (!(SCAFFOLD_TEMPLATES as readonly string[]).includes(template))
      throw new UsageError(
        `invalid value '${template}' for '--template <TEMPLATE>' [possible values: ${SCAFFOLD_TEMPLATES.join(', ')}]`,
        this,
      );
    const archText = optionValue(args, 'arch');
    if (archText !== undefined && archText !== 'x86_64' && archText !== 'aarch64')
      throw new UsageError(
        `invalid value '${archText}' for '--arch <x86_64|aarch64>' [possible values: x86_64, aarch64]`,
        this,
      );
    const dir = path.resolve(io.cwd, dirArg ?? name);
    try {
      const arch: EifArch | undefined = archText ?? hostArch();
      if (!arch)
        throw new CommandError(0, `this machine is ${process.arch}: choose the enclave's architecture with --arch`);
      const files = scaffoldFiles({ name, arch, template: template as ScaffoldTemplate });
      const written = await writeScaffold(dir, files);
      io.stderr(`Created ${name} in ${dir} (${written.length} files):\n`);
      for (const f of files) io.stderr(`  ${f.path}\n`);
      const rel = path.relative(io.cwd, dir) || '.';
      io.stderr(
        `\nNext:\n  cd ${rel}\n  ./build.sh\n` +
          `  nitro-dev run-enclave --eif-path build/${name}.eif --memory 64 --cpu-count 2 --enclave-name ${name}\n` +
          `  nitro-dev attest --enclave-name ${name} --output build/attestation.cbor\n` +
          `(README.md says more; in VS Code: Run Build Task.)\n`,
      );
      io.stdout(`${dir}\n`);
      return 0;
    } catch (e) {
      if (e instanceof ScaffoldError) return reportFailure(io, new CommandError(19, e.message));
      return reportFailure(io, e);
    }
  },
};
