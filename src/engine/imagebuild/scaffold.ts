// `nitro-dev new` and New Enclave Project...: the files of a small enclave application that builds
// with `build-enclave --rootfs` (no Docker), runs on the emulator and attests, on a machine with
// Node only.
//
// What a project needs, and where it comes from when there is nothing but Node:
//   * a program the image holds and can run without an interpreter or libraries: `rootfs/app/hello`,
//     a static Linux executable of a few hundred bytes made here (below), which writes one line to
//     the console and then waits (an enclave whose program ends is shut down). Replace it by your
//     own static binary (or add an interpreter to rootfs/) when you write the real application;
//   * the blobs (kernel, cmdline, init, nsm.ko) that AWS's nitro-cli package installs in
//     /usr/share/nitro_enclaves/blobs/: a machine without it gets `.nitro/emulator-blobs/`,
//     placeholders that do not boot and say so, enough for the emulator (which boots no kernel).
//     With the real blobs PCR0 and PCR1 change; PCR2 (the application) stays the same.
import { utf8 } from '../util/bytes';
import type { EifArch } from '../eif/defs';

export interface ScaffoldFile {
  /** Relative to the project folder, `/`-separated. */
  readonly path: string;
  readonly data: Uint8Array;
  /** Permission bits. */
  readonly mode: number;
}

export const SCAFFOLD_TEMPLATES = ['hello'] as const;
export type ScaffoldTemplate = (typeof SCAFFOLD_TEMPLATES)[number];

/** The line the program writes. */
export const HELLO_LINE = 'Hello from an enclave: this program was made by nitro-dev new.\n';

/** Why a project name cannot be used, or undefined. Names become file names and the image's name. */
export function projectNameProblem(name: string): string | undefined {
  if (name === '') return 'Give the project a name.';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name))
    return 'Use letters, digits, ".", "_" and "-" only, starting with a letter or digit.';
  if (name.length > 64) return 'Use at most 64 characters.';
  return undefined;
}

function le(bytes: number, value: number | bigint): number[] {
  const out: number[] = [];
  let v = BigInt(value);
  for (let i = 0; i < bytes; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

const words = (...w: number[]) => w.flatMap((x) => le(4, x));

/**
 * The machine code of `hello`: write(1, HELLO_LINE, len), then wait for ever (pause on x86_64,
 * ppoll with no descriptors on aarch64). The message follows the code.
 */
function helloCode(arch: EifArch, length: number): number[] {
  if (arch === 'x86_64') {
    return [
      ...[0xb8, ...le(4, 1)], // mov eax, 1 (write)
      ...[0xbf, ...le(4, 1)], // mov edi, 1 (standard output)
      ...[0x48, 0x8d, 0x35, ...le(4, 16)], // lea rsi, [rip + 16] (the message, after the code)
      ...[0xba, ...le(4, length)], // mov edx, length
      ...[0x0f, 0x05], // syscall
      ...[0xb8, ...le(4, 34)], // wait: mov eax, 34 (pause)
      ...[0x0f, 0x05], // syscall
      ...[0xeb, 0xf7], // jmp wait
    ];
  }
  if (length > 0xffff) throw new RangeError('message too long');
  return words(
    0xd2800020, // mov x0, #1 (standard output)
    0x10000161, // adr x1, message (44 bytes on: after the 12 instructions)
    0xd2800002 | (length << 5), // mov x2, #length
    0xd2800808, // mov x8, #64 (write)
    0xd4000001, // svc #0
    0xd2800000, // wait: mov x0, #0 (no descriptors)
    0xd2800001, // mov x1, #0
    0xd2800002, // mov x2, #0 (no timeout: wait for ever)
    0xd2800003, // mov x3, #0 (no signal mask)
    0xd2800928, // mov x8, #73 (ppoll)
    0xd4000001, // svc #0
    0x17fffffa, // b wait
  );
}

/** A static ELF64 executable of one loadable segment: header, program header, code, message. */
export function helloProgram(arch: EifArch, message = HELLO_LINE): Uint8Array {
  const text = Array.from(utf8(message));
  const base = 0x400000;
  const headers = 64 + 56;
  const code = helloCode(arch, text.length);
  const size = headers + code.length + text.length;
  const elf = [
    ...[0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], // ELF, 64-bit, little-endian, version 1
    ...le(2, 2), // ET_EXEC
    ...le(2, arch === 'x86_64' ? 62 : 183), // EM_X86_64 / EM_AARCH64
    ...le(4, 1),
    ...le(8, base + headers), // entry
    ...le(8, 64), // program headers
    ...le(8, 0), // no section headers
    ...le(4, 0),
    ...le(2, 64),
    ...le(2, 56),
    ...le(2, 1),
    ...le(2, 64),
    ...le(2, 0),
    ...le(2, 0),
    // PT_LOAD, R+X, the whole file at `base`.
    ...le(4, 1),
    ...le(4, 5),
    ...le(8, 0),
    ...le(8, base),
    ...le(8, base),
    ...le(8, size),
    ...le(8, size),
    ...le(8, 0x1000),
    ...code,
    ...text,
  ];
  return Uint8Array.from(elf);
}

/** The kernel command lines of nitro-cli 1.5's blobs (what a real build measures with). */
const CMDLINES: Record<EifArch, string> = {
  x86_64:
    'reboot=k panic=30 pci=off nomodules console=ttyS0 ' +
    'i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd random.trust_cpu=on\n',
  aarch64: 'reboot=k panic=30 pci=off nomodules console=ttyS0 random.trust_cpu=on root=/dev/ram0\n',
};

const placeholder = (what: string) =>
  utf8(
    `nitro-dev emulator placeholder: not a ${what}. This file does not boot; it stands in for the blob of ` +
      "AWS's aws-nitro-enclaves-cli package so that the image can be built and run on the nitro-dev emulator.\n",
  );

export interface ScaffoldOptions {
  readonly name: string;
  readonly arch: EifArch;
  readonly template?: ScaffoldTemplate;
}

const file = (p: string, text: string, mode = 0o644): ScaffoldFile => ({ path: p, data: utf8(text), mode });

/** The build's settings, shared by the task, the script and the README. */
export function scaffoldBuild(name: string, arch: EifArch) {
  return {
    rootfs: 'rootfs',
    cmd: '/app/hello',
    env: [`APP_NAME=${name}`],
    output: `build/${name}.eif`,
    blobs: '.nitro/emulator-blobs',
    arch,
    name,
    version: '0.1.0',
  } as const;
}

/** The files of a new project (see the file comment). */
export function scaffoldFiles(options: ScaffoldOptions): ScaffoldFile[] {
  const problem = projectNameProblem(options.name);
  if (problem) throw new RangeError(`the project name ${JSON.stringify(options.name)}: ${problem}`);
  const { name, arch } = options;
  const b = scaffoldBuild(name, arch);
  const kernel = arch === 'x86_64' ? 'bzImage' : 'Image';
  const commandLine =
    `nitro-dev build-enclave --rootfs ${b.rootfs} --cmd ${b.cmd} ${b.env.map((e) => `--env ${e}`).join(' ')} ` +
    `--arch ${arch} --blobs "\${NITRO_CLI_BLOBS:-${b.blobs}}" --name ${name} --version ${b.version} ` +
    `--output-file ${b.output}`;
  const task = {
    version: '2.0.0',
    tasks: [
      {
        type: 'nitro-eif',
        label: `Build ${name}.eif`,
        rootfs: b.rootfs,
        cmd: b.cmd,
        env: b.env,
        arch,
        blobs: b.blobs,
        name,
        version: b.version,
        output: b.output,
        group: { kind: 'build', isDefault: true },
        problemMatcher: [],
      },
    ],
  };
  const readme = `# ${name}

An AWS Nitro Enclaves application, made by \`nitro-dev new\` (or *Nitro Enclaves: New Enclave
Project...* in VS Code). It builds into an enclave image with no Docker, runs on the nitro-dev
emulator and gets an attestation document there.

## What is here

- \`rootfs/\`: the enclave's root file system, as a plain folder. \`rootfs/app/hello\` is a static
  Linux program for ${arch} of a few hundred bytes (no libraries, no interpreter): it writes
  "${HELLO_LINE.trim()}" to the console and then waits, because an enclave whose program ends is
  shut down. Put your own static binary (or an interpreter and your script) here.
- \`.vscode/tasks.json\`: a \`nitro-eif\` build task (*Terminal > Run Build Task...*).
- \`build.sh\`: the same build on the command line.
- \`.nitro/emulator-blobs/\`: placeholders for the kernel, \`cmdline\`, \`init\` and \`nsm.ko\` that
  AWS's \`aws-nitro-enclaves-cli\` package installs in \`/usr/share/nitro_enclaves/blobs/\`. **They
  do not boot**: they are enough for the emulator, which runs no kernel. For an image that boots on
  a Nitro parent instance, build with the real blobs: \`NITRO_CLI_BLOBS=/usr/share/nitro_enclaves/blobs ./build.sh\`,
  or set \`"blobs"\` in the task. PCR0 and PCR1 then change; PCR2, which measures the application
  (\`rootfs/\`, the command and the environment), stays the same.

## Build, run, attest

\`\`\`sh
./build.sh                                   # prints the image's PCRs
nitro-dev run-enclave --eif-path build/${name}.eif --memory 64 --cpu-count 2 --enclave-name ${name}
nitro-dev attest --enclave-name ${name} --output build/attestation.cbor
nitro-dev dev-root --export build/dev-root.pem
nitro-dev verify-attestation --document build/attestation.cbor --development-root build/dev-root.pem \\
  --eif-path build/${name}.eif
nitro-dev terminate-enclave --enclave-name ${name}
\`\`\`

In VS Code: *Run Build Task...*, then in **Enclave Images** right-click \`build/${name}.eif\` →
*Run Enclave...*, then on the enclave in **Parent Instances** → *Get Attestation Document...*: the
panel shows a valid development attestation whose PCRs match the image.

The emulator runs no kernel and not this program: it models the parent instance, the enclave's
resources, its NSM and its attestation. \`--app "<command>"\` (the *Attach application* step in VS
Code) runs a program of this machine as the enclave's application, with the enclave's NSM in its
environment.

\`build-enclave --rootfs\` is nitro-dev's, not nitro-cli's: nitro-cli builds from Docker images only.
The folder is stored with owner 0:0, one fixed time and its own permission bits, so the same folder
gives the same PCRs on any machine.
`;
  const blobsReadme = `# Emulator placeholder blobs

These files stand in for the blobs of AWS's \`aws-nitro-enclaves-cli\` package (kernel, \`cmdline\`,
\`init\`, \`nsm.ko\`), which are not redistributed here. **None of them boots.** The nitro-dev emulator
runs no kernel, so an image built with them runs and attests there. \`cmdline\` is the kernel command
line nitro-cli 1.5 ships for ${arch}. Build with \`/usr/share/nitro_enclaves/blobs/\` for hardware.
`;
  return [
    file('README.md', readme),
    // build/ exists (the images are written there) and git keeps nothing of it but this file.
    file('build/.gitignore', '*\n!.gitignore\n'),
    file('.vscode/tasks.json', `${JSON.stringify(task, null, 2)}\n`),
    file(
      'build.sh',
      `#!/bin/sh\n# Builds build/${name}.eif from rootfs/ (see README.md).\n` +
        `set -e\ncd "$(dirname "$0")"\n${commandLine}\n`,
      0o755,
    ),
    { path: 'rootfs/app/hello', data: helloProgram(arch), mode: 0o755 },
    file('.nitro/emulator-blobs/README.md', blobsReadme),
    { path: `.nitro/emulator-blobs/${kernel}`, data: placeholder('Linux kernel'), mode: 0o644 },
    file('.nitro/emulator-blobs/cmdline', CMDLINES[arch]),
    { path: '.nitro/emulator-blobs/init', data: placeholder('init program'), mode: 0o755 },
    { path: '.nitro/emulator-blobs/nsm.ko', data: placeholder('kernel module'), mode: 0o644 },
  ];
}
