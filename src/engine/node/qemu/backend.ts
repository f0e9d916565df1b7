// The QEMU backend: parents on this machine whose enclaves boot the image itself in QEMU's
// `nitro-enclave` machine (the image's kernel, init and application run; see machine.ts). Parents,
// pools, rules, records, describe/terminate/console and the vsock folder are the emulator's
// (emulator/backend.ts), in a state folder of their own: `<emulator state>/qemu`.
//
// What differs from the emulator: run-enclave needs the tools (qemu-system-x86_64 with the
// nitro-enclave machine, vhost-device-vsock, the parent VM's kernel and relay: `nitro-dev qemu
// setup`), takes x86_64 images only (QEMU refuses EIF flags other than 0), and starts no attached
// application (the image's own runs). The NSM is QEMU's, inside the guest: its attestation
// documents are unsigned, and nothing here signs them (see `nitro-dev attestation resign` for the
// explicit, labelled development signature).
import * as path from 'node:path';
import { BackendError, type RunEnclaveRequest } from '../../platform/backend';
import {
  LocalEnclaveBackend,
  type CheckedImage,
  type EmulatorBackendOptions,
  type RecordExtra,
} from '../emulator/backend';
import { DEFAULT_PARENT, emulatorStateDir } from '../emulator/state';
import type { QemuMachineSpec } from './machine';

/** The QEMU backend's state folder: `qemu` in the emulator's. */
export function qemuStateDir(env: Readonly<Record<string, string | undefined>>): string {
  return path.join(emulatorStateDir(env), 'qemu');
}

/** Why QEMU cannot run enclaves here (what is missing, and how to get it). */
export class QemuUnavailableError extends BackendError {
  constructor(readonly missing: readonly string[]) {
    super(
      5,
      `Process spawn failure. The QEMU backend cannot start enclaves: ${missing.join('; ')}. ` +
        'Run `nitro-dev qemu setup` (see `nitro-dev qemu status`).',
    );
    this.name = 'QemuUnavailableError';
  }
}

export interface QemuBackendOptions extends EmulatorBackendOptions {
  /**
   * The machine to boot enclaves in: the tools found and KVM or TCG. Throws QemuUnavailableError
   * with what is missing.
   */
  readonly resolveMachine: () => Promise<QemuMachineSpec>;
}

export class QemuBackend extends LocalEnclaveBackend {
  static readonly LABEL = 'QEMU';
  readonly kind = 'qemu' as const;
  readonly label = QemuBackend.LABEL;
  protected readonly parentNoun = 'QEMU parent instance';
  protected readonly defaultParent = { ...DEFAULT_PARENT, name: 'QEMU parent' };

  constructor(private readonly qemuOptions: QemuBackendOptions) {
    super(qemuOptions);
  }

  protected override async prepareRun(request: RunEnclaveRequest, image: CheckedImage): Promise<RecordExtra> {
    if (request.app)
      throw new BackendError(
        3,
        "Invalid argument provided. The QEMU backend runs the image's own application; --app is the emulator's",
      );
    const header = image.inspection.layout.header;
    if (header.flags !== 0)
      throw new BackendError(
        3,
        `Invalid argument provided. ${image.eifPath} is an ${header.arch} image (EIF flags ${header.flags}); ` +
          "QEMU's nitro-enclave machine boots x86_64 images only",
      );
    return { machine: await this.qemuOptions.resolveMachine() };
  }

  override async nsm(parentId: string, enclaveId: string, _request: Uint8Array): Promise<Uint8Array> {
    await this.parent(parentId);
    throw new BackendError(
      3,
      `Invalid argument provided. Enclave ${enclaveId} runs in QEMU: its NSM is QEMU's device inside the enclave, ` +
        'so only the enclave itself can ask it (for example for an attestation document, which QEMU does not sign)',
    );
  }
}
