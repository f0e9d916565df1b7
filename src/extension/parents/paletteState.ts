// What the palette's when clauses know of the parents (ids.ts STATE_KEYS), from what the status bar
// last read: no module here imports vscode, so the rule is unit-tested.
import type { DescribeEnclaveJson } from '../../engine';

export interface PaletteState {
  /** No parent instance is reachable: Run Enclave, Edit Allocator and Switch Parent cannot work. */
  readonly noParent: boolean;
  /** No enclave runs on a reachable parent: the enclave commands have nothing to act on. */
  readonly noEnclave: boolean;
}

/**
 * The palette state from the reachable parents' enclave lists (`undefined`: the parent could not be
 * asked). Only what is known to be missing counts: a parent that did not answer may run enclaves.
 */
export function paletteStateOf(
  enclavesByParent: readonly (readonly DescribeEnclaveJson[] | undefined)[],
): PaletteState {
  return {
    noParent: enclavesByParent.length === 0,
    noEnclave: enclavesByParent.every((list) => list !== undefined && !list.some((e) => e.State === 'RUNNING')),
  };
}

/** The state to set when the parents could not be read at all: nothing is known to be missing. */
export const UNKNOWN_PALETTE_STATE: PaletteState = { noParent: false, noEnclave: false };
