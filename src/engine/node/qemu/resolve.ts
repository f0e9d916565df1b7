// The machine the QEMU backend boots enclaves in: the tools (settings, environment, the setup
// cache) and KVM or TCG, resolved at each run-enclave so a setup done meanwhile counts.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { QemuMachineSpec } from './machine';
import { QEMU_ENV, qemuCacheDir, qemuCacheLayout } from './layout';
import { QemuUnavailableError } from './backend';

/** Where the user pointed the tools (VS Code settings, CLI flags); empty: the environment, then the cache. */
export interface QemuSettings {
  readonly qemuPath?: string;
  readonly vhostDeviceVsockPath?: string;
  readonly cacheDir?: string;
}

export async function resolveQemuMachine(
  options: QemuSettings & { readonly env: Readonly<Record<string, string | undefined>> },
): Promise<QemuMachineSpec> {
  const env = options.env;
  const layout = qemuCacheLayout(options.cacheDir ?? qemuCacheDir(env));
  const qemu = path.resolve(options.qemuPath || env[QEMU_ENV.qemu] || layout.qemu);
  const vhostDeviceVsock = path.resolve(
    options.vhostDeviceVsockPath || env[QEMU_ENV.vhostDeviceVsock] || layout.vhostDeviceVsock,
  );
  const missing: string[] = [];
  const need = (file: string, what: string) => {
    if (!existsSync(file)) missing.push(`${what} is missing (${file})`);
  };
  need(qemu, 'qemu-system-x86_64');
  need(vhostDeviceVsock, 'vhost-device-vsock');
  need(layout.kernel, "the parent VM's kernel");
  need(layout.relayInitrd, "the parent VM's relay");
  if (missing.length > 0) throw new QemuUnavailableError(missing);
  return {
    kind: 'qemu',
    qemu,
    vhostDeviceVsock,
    ...(existsSync(layout.firmwareDir) ? { firmwareDir: layout.firmwareDir } : {}),
    relayKernel: layout.kernel,
    relayInitrd: layout.relayInitrd,
    accel: env.NITRO_DEV_QEMU_ACCEL === 'kvm' ? 'kvm' : 'tcg',
  };
}
