// Which emulated parent's vsock folder a vsock command works in: `--parent` (an emulated parent's id
// or name); else NITRO_VSOCK_DIR, which an attached application inherits from its enclave; else the
// first emulated parent.
import { BackendError } from '../engine';
import { EmulatorBackend, emulatorStateDir, vsockDirOf } from '../engine/node';
import { optionValue, type ParsedArgs } from './args';
import type { CliIo } from './types';

export const VSOCK_PARENT_OPTION = {
  name: 'parent',
  value: 'ID',
  help: "The emulated parent instance (its id or name); default: the enclave's own (NITRO_VSOCK_DIR), else the first",
} as const;

/** The vsock folder (and parent id, when known) of the emulated parent a vsock command works on. */
export async function vsockFolderFor(
  io: CliIo,
  args: ParsedArgs,
): Promise<{ readonly dir: string; readonly parentId: string | undefined }> {
  const asked = optionValue(args, 'parent');
  const inherited = io.env.NITRO_VSOCK_DIR;
  if (asked === undefined && inherited) return { dir: inherited, parentId: undefined };
  const stateDir = emulatorStateDir(io.env);
  const emulator = new EmulatorBackend({ stateDir, env: io.env });
  const parents = await emulator.listParents();
  const parent =
    asked === undefined ? parents[0] : (parents.find((p) => p.id === asked) ?? parents.find((p) => p.name === asked));
  if (!parent)
    throw new BackendError(
      3,
      asked === undefined
        ? 'Invalid argument provided. There is no emulated parent instance'
        : `Invalid argument provided. There is no emulated parent instance '${asked}' ` +
            `(known: ${parents.map((p) => p.id).join(', ')})`,
    );
  return { dir: vsockDirOf(stateDir, parent.id), parentId: parent.id };
}
