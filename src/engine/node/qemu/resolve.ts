// The machine the QEMU backend boots enclaves in: the tools (settings, environment, the setup
// cache, PATH; tools.ts), the parent VM's kernel and relay from the cache, and KVM or TCG (probed
// by booting a tiny guest, the answer cached). Resolved at each run-enclave, so a setup done
// meanwhile counts.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { QemuUnavailableError } from './backend';
import { qemuCacheLayout } from './layout';
import type { QemuMachineSpec } from './machine';
import { checkNitroMachine, findQemuTools, probeKvm, type QemuToolSettings } from './tools';

/** Where the user pointed the tools (VS Code settings, CLI flags); empty: the environment, then the cache. */
export type QemuSettings = QemuToolSettings;

/** The machine spec, or QemuUnavailableError naming everything that is missing. */
export async function resolveQemuMachine(
  options: QemuSettings & { readonly env: Readonly<Record<string, string | undefined>> },
): Promise<QemuMachineSpec> {
  const { env, ...settings } = options;
  const tools = await findQemuTools({ env, settings });
  const layout = qemuCacheLayout(tools.cacheDir);
  const missing: string[] = [];
  if (!tools.qemu.found) missing.push(tools.qemu.missing);
  if (!tools.vhostDeviceVsock.found) missing.push(tools.vhostDeviceVsock.missing);
  for (const [file, what] of [
    [layout.kernel, "the parent VM's kernel"],
    [layout.relayInitrd, "the parent VM's relay initramfs"],
  ] as const)
    if (!existsSync(file)) missing.push(`${what} ${file} does not exist`);
  if (tools.qemu.found) {
    const check = await checkNitroMachine(tools.qemu.path, tools.firmwareDir);
    if (!check.nitroEnclave) missing.push(check.problem ?? `${tools.qemu.path} has no nitro-enclave machine`);
  }
  if (missing.length > 0 || !tools.qemu.found || !tools.vhostDeviceVsock.found) throw new QemuUnavailableError(missing);
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
