// A stand-in for the programs `nitro-dev qemu setup` runs (apt, dpkg, tar, configure, ninja, make,
// QEMU), for the setup tests of the engine and of the CLI.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CancelledError } from '../../../../../src/engine/platform/lifecycle';
import type { ToolCommand, ToolOutcome, ToolRunner } from '../../../../../src/engine/node/qemu/commandRunner';
import { VIRTIO_NSM_EDIT } from '../../../../../src/engine/node/qemu/setup';

/** The commands setup looks for in PATH. */
export const PREREQUISITES = [
  'apt-get',
  'dpkg',
  'dpkg-deb',
  'tar',
  'xz',
  'gcc',
  'make',
  'ninja',
  'python3',
  'flex',
  'bison',
  'bc',
  'pkg-config',
];

const ok = (tail: string[] = []): ToolOutcome => ({ status: 0, signal: null, tail });

export async function write(file: string, text: string, mode = 0o644) {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, text, { mode });
}

export interface FakeOptions {
  /** The pkg-config modules missing. */
  readonly missingModules?: readonly string[];
  /** A program name (basename) that fails with exit status 1, printing `count` lines. */
  readonly failing?: string;
  /** The configure run does not enable the nitro-enclave machine. */
  readonly noNitro?: boolean;
  /** Line 2 of pc-bios/meson.build in the fake tarball. */
  readonly mesonLine2?: string;
  /** hw/virtio/virtio-nsm.c in the fake tarball (default: a handler with the block setup edits). */
  readonly nsmSource?: string;
  /** Called when this program starts (basename): for cancelling in the middle of it. */
  readonly onStart?: (name: string) => Promise<void> | void;
}

/**
 * A runner standing for apt, dpkg, tar, configure, ninja, make and QEMU: each call is recorded, and
 * does what the real program would leave on disk, in small.
 */
export function fakeRunner(options: FakeOptions = {}) {
  const calls: ToolCommand[] = [];
  /** What the fake ninja found in the source it built. */
  const built: { nsmSource?: string } = {};
  const runner: ToolRunner = async (cmd, runOptions) => {
    calls.push(cmd);
    const [program, ...args] = cmd.argv as [string, ...string[]];
    const name = path.basename(program);
    await options.onStart?.(name);
    if (runOptions?.cancellation?.isCancellationRequested) throw new CancelledError(name);
    if (options.failing === name) {
      const tail = Array.from({ length: 250 }, (_, i) => `${name} line ${i + 1}`).slice(-200);
      return { status: 1, signal: null, tail };
    }
    const cwd = cmd.cwd ?? '/nonexistent';
    switch (name) {
      case 'python3':
        return ok();
      case 'pkg-config':
        return options.missingModules?.includes(args[1]!) ? { status: 1, signal: null, tail: [] } : ok();
      case 'apt-get': {
        const verb = args.find((a) => a === 'update' || a === 'download' || a === 'source');
        if (verb === 'download')
          for (const pkg of args.slice(args.indexOf('download') + 1))
            await write(path.join(cwd, `${pkg}_1%3a2.0-1_${pkg === 'vhost-device-vsock' ? 'amd64' : 'all'}.deb`), pkg);
        if (verb === 'source')
          for (const f of [
            'qemu_10.0.13+ds-0+deb13u1.dsc',
            'qemu_10.0.13+ds.orig.tar.xz',
            'qemu_10.0.13+ds-0+deb13u1.debian.tar.xz',
          ])
            await write(path.join(cwd, f), f);
        return ok();
      }
      case 'dpkg':
      case 'dpkg-deb': {
        const [, debFile, dest] = args as [string, string, string];
        const pkg = path.basename(debFile).split('_')[0];
        const files: Record<string, Record<string, string>> = {
          'vhost-device-vsock': { 'usr/bin/vhost-device-vsock': '#!/bin/sh\necho vsock\n' },
          'qemu-system-data': {
            'usr/share/qemu/linuxboot_dma.bin': 'linuxboot',
            'usr/share/qemu/pvh.bin': 'pvh',
            'usr/share/qemu/keymaps/en-us': 'keys',
          },
          seabios: {
            'usr/share/seabios/bios-microvm.bin': 'microvm bios',
            'usr/share/seabios/bios.bin': 'bios',
            'usr/share/seabios/README': 'x',
          },
          meson: { 'usr/lib/python3/dist-packages/mesonbuild/__init__.py': '' },
          'python3-pycotap': { 'usr/lib/python3/dist-packages/pycotap/__init__.py': '' },
          'linux-source-6.12': { 'usr/src/linux-source-6.12.tar.xz': 'kernel tarball' },
        };
        for (const [rel, text] of Object.entries(files[pkg!] ?? {})) await write(path.join(dest, rel), text);
        return ok();
      }
      case 'tar': {
        const [, file, , dest] = args as [string, string, string, string];
        if (path.basename(file).startsWith('qemu')) {
          await write(
            path.join(dest, 'qemu-10.0.13/pc-bios/meson.build'),
            `roms = []\n${options.mesonLine2 ?? 'if unpack_edk2_blobs'}\n  fds = []\nendif\n`,
          );
          await write(
            path.join(dest, 'qemu-10.0.13', VIRTIO_NSM_EDIT.file),
            options.nsmSource ?? `static void handle_input(void)\n{\n${VIRTIO_NSM_EDIT.original}\n}\n`,
          );
        } else await write(path.join(dest, 'linux-source-6.12/Makefile'), 'all:\n');
        return ok();
      }
      case 'configure':
        await write(
          path.join(cwd, 'x86_64-softmmu-config-devices.h'),
          `#define CONFIG_MICROVM 1\n${options.noNitro ? '' : '#define CONFIG_NITRO_ENCLAVE 1\n'}`,
        );
        return ok();
      case 'ninja':
        built.nsmSource = await fs.readFile(path.join(cwd, '..', VIRTIO_NSM_EDIT.file), 'utf8');
        runOptions?.onLine?.('[1/4] Compiling C object');
        runOptions?.onLine?.('[4/4] Linking target qemu-system-x86_64');
        await write(path.join(cwd, 'qemu-system-x86_64'), '#!/bin/sh\necho fake qemu\n', 0o755);
        return ok();
      case 'make': {
        const src = args[args.indexOf('-C') + 1]!;
        if (args.includes('olddefconfig')) await fs.appendFile(path.join(src, '.config'), '# olddefconfig ran\n');
        if (args.includes('bzImage')) await write(path.join(src, 'arch/x86/boot/bzImage'), 'fake bzImage');
        return ok();
      }
      case 'qemu-system-x86_64':
        return ok([
          'Supported machines are:',
          'microvm              microvm (i386)',
          'nitro-enclave        AWS Nitro Enclave',
        ]);
      default:
        throw new Error(`the fake runner does not know ${program}`);
    }
  };
  return { runner, calls, built };
}
