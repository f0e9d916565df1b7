// The machine the QEMU backend boots enclaves in: the tools (settings, environment, the setup
// cache, PATH; tools.ts), the parent VM's kernel and relay from the cache, and KVM or TCG (probed
// by booting a tiny guest, the answer cached). Resolved at each run-enclave, so a setup done
// meanwhile counts.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { QemuUnavailableError } from './backend';
import { qemuCacheLayout, type QemuCacheLayout } from './layout';
import type { QemuMachineSpec } from './machine';
import {
  checkNitroMachine,
  findQemuTools,
  probeKvm,
  type NitroMachineCheck,
  type QemuToolSettings,
  type QemuTools,
} from './tools';

/** Where the user pointed the tools (VS Code settings, CLI flags); empty: the environment, then the cache. */
export type QemuSettings = QemuToolSettings;

/** One thing the QEMU backend lacks: a short name for a list, and the sentence that says where it was looked for. */
export interface QemuMissing {
  readonly what: string;
  readonly why: string;
}

/** What is found, or what is missing (empty: enclaves can start, KVM or TCG aside). */
export interface QemuReadiness {
  readonly tools: QemuTools;
  readonly layout: QemuCacheLayout;
  readonly missing: readonly QemuMissing[];
}

/** Whether a QEMU has the nitro-enclave machine (checkNitroMachine, or a cached answer of it). */
export type NitroMachineChecker = (qemuPath: string, firmwareDir: string | undefined) => Promise<NitroMachineCheck>;

/**
 * What the QEMU backend lacks to start enclaves: the tools (tools.ts), the parent VM's kernel and
 * relay in the cache, and the nitro-enclave machine of the QEMU found. It starts no guest (the KVM
 * probe is run-enclave's); `checkMachine` runs `qemu -M help` (the caller may cache its answers).
 */
export async function qemuMissing(
  options: QemuSettings & { readonly env: Readonly<Record<string, string | undefined>> },
  checkMachine: NitroMachineChecker = checkNitroMachine,
): Promise<QemuReadiness> {
  const { env, ...settings } = options;
  const tools = await findQemuTools({ env, settings });
  const layout = qemuCacheLayout(tools.cacheDir);
  const missing: QemuMissing[] = [];
  if (!tools.qemu.found) missing.push({ what: 'qemu-system-x86_64', why: tools.qemu.missing });
  if (!tools.vhostDeviceVsock.found) missing.push({ what: 'vhost-device-vsock', why: tools.vhostDeviceVsock.missing });
  for (const [file, what] of [
    [layout.kernel, "the parent VM's kernel"],
    [layout.relayInitrd, "the parent VM's relay initramfs"],
  ] as const)
    if (!existsSync(file)) missing.push({ what, why: `${what} ${file} does not exist` });
  if (tools.qemu.found) {
    const check = await checkMachine(tools.qemu.path, tools.firmwareDir);
    if (!check.nitroEnclave)
      missing.push({
        what: 'the nitro-enclave machine',
        why: check.problem ?? `${tools.qemu.path} has no nitro-enclave machine`,
      });
  }
  return { tools, layout, missing };
}

/** The machine spec, or QemuUnavailableError naming everything that is missing. */
export async function resolveQemuMachine(
  options: QemuSettings & { readonly env: Readonly<Record<string, string | undefined>> },
): Promise<QemuMachineSpec> {
  const { tools, layout, missing } = await qemuMissing(options);
  if (missing.length > 0 || !tools.qemu.found || !tools.vhostDeviceVsock.found)
    throw new QemuUnavailableError(missing.map((m) => m.why));
  const probe = await probeKvm(tools.qemu.path, {
    cacheDir: tools.cacheDir,
    ...(tools.firmwareDir ? { firmwareDir: tools.firmwareDir } : {}),
    kernel: layout.kernel,
  });
  return {
    kind: 'qemu',
    qemu: path.resolve(tools.qemu.path),
    vhostDeviceVsock: path.resolve(tools.vhostDeviceVsock.path),
    ...(tools.firmwareDir ? { firmwareDir: path.resolve(tools.firmwareDir) } : {}),
    relayKernel: layout.kernel,
    relayInitrd: layout.relayInitrd,
    accel: probe.accelerator,
  };
}
