// Where the QEMU backend's tools live. `nitro-dev qemu setup` fills a cache folder outside any
// project, and the backend and `nitro-dev qemu status` read it:
//
//   <cache>/bin/qemu-system-x86_64        QEMU built with libcbor (the nitro-enclave machine type)
//   <cache>/bin/vhost-device-vsock        the vhost-user vsock backend, from Debian's package
//   <cache>/share/qemu/                   firmware: bios-microvm.bin, linuxboot_dma.bin, ... (-L)
//   <cache>/kernel/bzImage                a small kernel with virtio-mmio cmdline devices, vsock, NSM
//   <cache>/kernel/bzImage.config         its configuration
//   <cache>/guest/init                    the enclave bootstrap init (static), written in this project
//   <cache>/guest/relay                   the vsock relay program of the parent VM (static)
//   <cache>/guest/relay.cpio              the parent VM's initramfs (relay as /init)
//   <cache>/blobs/                        a blobs folder for `build-enclave --blobs` (kernel, init, cmdline, nsm.ko)
//   <cache>/manifest.json                 what setup made, from which packages, when
//   <cache>/work/                         downloads and build trees (may be deleted after setup)
//
// Each tool can also be named one by one (settings, environment), which wins over the cache.
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * The cache folder: `NITRO_DEV_QEMU_CACHE`, else `$XDG_CACHE_HOME/nitro-dev/qemu`, else
 * `~/.cache/nitro-dev/qemu`. The environment is passed in.
 */
export function qemuCacheDir(env: Readonly<Record<string, string | undefined>>, home: string = os.homedir()): string {
  if (env.NITRO_DEV_QEMU_CACHE) return path.resolve(env.NITRO_DEV_QEMU_CACHE);
  const base =
    env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(home, '.cache');
  return path.join(base, 'nitro-dev', 'qemu');
}

/** The files of a cache folder (see the table above). */
export interface QemuCacheLayout {
  readonly root: string;
  readonly qemu: string;
  readonly vhostDeviceVsock: string;
  readonly firmwareDir: string;
  readonly kernel: string;
  readonly kernelConfig: string;
  readonly init: string;
  readonly relay: string;
  readonly relayInitrd: string;
  readonly blobsDir: string;
  readonly manifest: string;
  readonly workDir: string;
}

export function qemuCacheLayout(root: string): QemuCacheLayout {
  return {
    root,
    qemu: path.join(root, 'bin', 'qemu-system-x86_64'),
    vhostDeviceVsock: path.join(root, 'bin', 'vhost-device-vsock'),
    firmwareDir: path.join(root, 'share', 'qemu'),
    kernel: path.join(root, 'kernel', 'bzImage'),
    kernelConfig: path.join(root, 'kernel', 'bzImage.config'),
    init: path.join(root, 'guest', 'init'),
    relay: path.join(root, 'guest', 'relay'),
    relayInitrd: path.join(root, 'guest', 'relay.cpio'),
    blobsDir: path.join(root, 'blobs'),
    manifest: path.join(root, 'manifest.json'),
    workDir: path.join(root, 'work'),
  };
}

/** Environment variables that name one tool each (they win over the cache). */
export const QEMU_ENV = {
  qemu: 'NITRO_DEV_QEMU',
  vhostDeviceVsock: 'NITRO_DEV_VHOST_DEVICE_VSOCK',
  cache: 'NITRO_DEV_QEMU_CACHE',
} as const;
