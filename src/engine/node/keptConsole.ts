// The console log an emulated enclave leaves behind (<state>/enclaves/<enclave id>.console.log,
// written by its host and kept after it ends), read back for a console opened after the end. Only
// the end of a long log is read: at most `maxBytes`, from a line start when one is near.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import * as path from 'node:path';
import { ENCLAVE_ID_PATTERN } from '../emulator/rules';
import { enclavesDir } from './emulator/state';

/** What a console opened after the end shows at most (the rest is named, not shown). */
export const MAX_KEPT_CONSOLE_BYTES = 1024 * 1024;

export interface KeptConsole {
  /** The log's path. */
  readonly path: string;
  /** Its last bytes (all of it when `skipped` is 0). */
  readonly bytes: Uint8Array;
  /** How many bytes at its start are not in `bytes`. */
  readonly skipped: number;
}

/**
 * The kept console log of an enclave of `parentId` in the emulator state folder `stateDir`;
 * undefined when there is none (or the id is not one of that parent's enclaves: no path is built
 * from anything else).
 */
export function readKeptConsole(
  stateDir: string,
  parentId: string,
  enclaveId: string,
  maxBytes = MAX_KEPT_CONSOLE_BYTES,
): KeptConsole | undefined {
  if (!ENCLAVE_ID_PATTERN.test(enclaveId) || !enclaveId.startsWith(`${parentId}-enc`)) return undefined;
  const file = path.join(enclavesDir(stateDir), `${enclaveId}.console.log`);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return undefined;
    const size = st.size;
    const start = Math.max(0, size - maxBytes);
    const buffer = Buffer.alloc(size - start);
    let read = 0;
    while (read < buffer.length) {
      const n = readSync(fd, buffer, read, buffer.length - read, start + read);
      if (n === 0) break;
      read += n;
    }
    let bytes = buffer.subarray(0, read);
    let skipped = start;
    if (start > 0) {
      // Begin at a line when one starts in the first 4 KiB of what was read.
      const nl = bytes.subarray(0, 4096).indexOf(0x0a);
      if (nl >= 0) {
        bytes = bytes.subarray(nl + 1);
        skipped += nl + 1;
      }
    }
    return { path: file, bytes: new Uint8Array(bytes), skipped };
  } finally {
    closeSync(fd);
  }
}
