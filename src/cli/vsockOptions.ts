// Which parent's vsock folder a vsock command works in: `--parent` (the id or name of a parent whose
// backend carries vsock on this machine: the emulator's, QEMU's); else NITRO_VSOCK_DIR, which an
// attached application inherits from its enclave; else the first such parent.
import { BackendError, hasEmulatedVsock } from '../engine';
import { createBackendRegistry } from '../engine/node';
import { optionValue, type ParsedArgs } from './args';
import type { CliIo } from './types';

export const VSOCK_PARENT_OPTION = {
  name: 'parent',
  value: 'ID',
  help:
    'The emulated or QEMU parent instance (its id or name); ' +
    "default: the enclave's own (NITRO_VSOCK_DIR), else the first",
} as const;

/** The vsock folder (and parent id, when known) of the parent a vsock command works on. */
export async function vsockFolderFor(
  io: CliIo,
  args: ParsedArgs,
): Promise<{ readonly dir: string; readonly parentId: string | undefined }> {
  const asked = optionValue(args, 'parent');
  const inherited = io.env.NITRO_VSOCK_DIR;
  if (asked === undefined && inherited) return { dir: inherited, parentId: undefined };
  const registry = createBackendRegistry({ env: io.env, watch: false });
  try {
    const candidates = [];
    for (const backend of registry.capable(hasEmulatedVsock))
      for (const parent of await backend.listParents()) candidates.push({ backend, parent });
    const found =
      asked === undefined
        ? candidates[0]
        : (candidates.find((c) => c.parent.id === asked) ?? candidates.find((c) => c.parent.name === asked));
    if (!found)
      throw new BackendError(
        3,
        asked === undefined
          ? 'Invalid argument provided. There is no emulated parent instance'
          : `Invalid argument provided. There is no emulated or QEMU parent instance '${asked}' ` +
              `(known: ${candidates.map((c) => c.parent.id).join(', ')})`,
      );
    return { dir: found.backend.vsockFolder(found.parent.id), parentId: found.parent.id };
  } finally {
    registry.dispose();
  }
}
