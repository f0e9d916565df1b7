// The QEMU backend's guest programs, written in this project (guest/*.c, carried in the bundle as
// text) and built by `nitro-dev qemu setup` with the machine's C compiler, static:
//
//   init    the enclave bootstrap init of the cache's blobs folder (guest/init.c)
//   relay   PID 1 of the parent VM that carries CID 3's vsock to the host (guest/relay.c)
//
// and from them the parent VM's initramfs (relay.cpio: `dev/`, `init`) and a blobs folder for
// `nitro-dev build-enclave --blobs`: the cache's kernel and its config, this init, an empty nsm.ko
// (the kernel has the NSM driver built in; init loads nsm.ko only when it is not empty) and a
// kernel command line like AWS's (see QEMU_BLOBS_CMDLINE).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import * as path from 'node:path';
import { CpioWriter } from '../../ramdisk/cpio';
import initSource from './guest/init.c';
import relaySource from './guest/relay.c';
import type { QemuCacheLayout } from './layout';

/**
 * The blobs folder's kernel command line: AWS's, but `reboot=t` (a triple fault, which QEMU's
 * -no-reboot turns into its exit) and `panic=1` (a failed boot ends at once).
 */
export const QEMU_BLOBS_CMDLINE = 'reboot=t panic=1 pci=off nomodules console=ttyS0 random.trust_cpu=on root=/dev/ram0';

/** The C sources, by program name. */
export const GUEST_SOURCES = { init: initSource, relay: relaySource } as const;

/** Compiles one C source to a static program at `output` (written whole or not at all). */
export async function compileStatic(
  source: string,
  output: string,
  options: { readonly cc?: string; readonly log?: (line: string) => void } = {},
): Promise<void> {
  const cc = options.cc ?? 'gcc';
  mkdirSync(path.dirname(output), { recursive: true });
  const temp = `${output}.${process.pid}.tmp`;
  const sourceFile = `${temp}.c`;
  writeFileSync(sourceFile, source);
  try {
    const args = ['-static', '-Os', '-s', '-Wall', '-o', temp, sourceFile];
    options.log?.(`${cc} ${args.join(' ')}`);
    const { code, output: printed } = await runQuiet(cc, args);
    if (code !== 0)
      throw new Error(`${cc} could not build ${path.basename(output)} (exit ${code}): ${printed.trim().slice(-2000)}`);
    renameSync(temp, output);
  } finally {
    rmSync(sourceFile, { force: true });
    rmSync(temp, { force: true });
  }
}

/** Writes a newc initramfs holding `dev/` and `program` as `init` (written whole or not at all). */
export async function writeInitramfs(program: string, output: string): Promise<void> {
  const temp = `${output}.${process.pid}.tmp`;
  const out = await open(temp, 'w', 0o644);
  try {
    const writer = new CpioWriter(async (chunk) => {
      await out.write(chunk);
    });
    await writer.addDirectory('dev', { mode: 0o755 });
    const bytes = new Uint8Array(readFileSync(program)); // a static program of about 1 MB
    await writer.addFile('init', { mode: 0o755, size: bytes.length }, bytes);
    await writer.finish();
    await out.close();
    renameSync(temp, output);
  } catch (e) {
    await out.close().catch(() => undefined);
    rmSync(temp, { force: true });
    throw e;
  }
}

/**
 * Builds init, relay, relay.cpio and the blobs folder from the cache's kernel (which must be there).
 * `log` gets each step.
 */
export async function buildGuestPrograms(
  layout: QemuCacheLayout,
  log: (line: string) => void = () => undefined,
  options: { readonly cc?: string; readonly force?: boolean } = {},
): Promise<void> {
  const stampFile = path.join(path.dirname(layout.init), 'stamp.json');
  const stamp = JSON.stringify({
    init: sha256(GUEST_SOURCES.init),
    relay: sha256(GUEST_SOURCES.relay),
    cmdline: QEMU_BLOBS_CMDLINE,
    kernel: sha256(readFileSync(layout.kernel)),
    kernelConfig: sha256(readFileSync(layout.kernelConfig)),
  });
  const outputs = [layout.init, layout.relay, layout.relayInitrd, path.join(layout.blobsDir, 'bzImage')];
  if (!options.force && outputs.every((f) => existsSync(f)) && readText(stampFile) === stamp) {
    log('guest programs and blobs folder: up to date');
    return;
  }
  rmSync(stampFile, { force: true });
  await compileStatic(GUEST_SOURCES.init, layout.init, { ...options, log });
  await compileStatic(GUEST_SOURCES.relay, layout.relay, { ...options, log });
  log(`writing ${layout.relayInitrd}`);
  await writeInitramfs(layout.relay, layout.relayInitrd);
  log(`writing the blobs folder ${layout.blobsDir}`);
  const temp = `${layout.blobsDir}.${process.pid}.tmp`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true });
  copyFileSync(layout.kernel, path.join(temp, 'bzImage'));
  copyFileSync(layout.kernelConfig, path.join(temp, 'bzImage.config'));
  copyFileSync(layout.init, path.join(temp, 'init'));
  writeFileSync(path.join(temp, 'nsm.ko'), new Uint8Array(0));
  writeFileSync(path.join(temp, 'cmdline'), `${QEMU_BLOBS_CMDLINE}\n`);
  rmSync(layout.blobsDir, { recursive: true, force: true });
  renameSync(temp, layout.blobsDir);
  writeFileSync(stampFile, stamp);
}

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function runQuiet(command: string, args: readonly string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (b: Buffer) => {
      output = (output + b.toString('utf8')).slice(-16384);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (e) => resolve({ code: 127, output: e.message }));
    child.once('close', (code) => resolve({ code: code ?? 1, output }));
  });
}
