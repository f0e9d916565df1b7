// What the palette's when clauses know of the parents (ids.ts STATE_KEYS), from what the status bar
// last read: no module here imports vscode, so the rule is unit-tested.
import type { DescribeEnclaveJson } from '../../engine';

export interface PaletteState {
  /** No parent instance is reachable: Run Enclave, Edit Allocator and Switch Parent cannot work. */
  readonly noParent: boolean;
  /** No enclave runs on a reachable parent: the enclave commands have nothing to act on. */
  readonly noEnclave: boolean;
  /**
   * No enclave runs on a parent whose backend answers its NSM from the parent side (the parentNsm
   * capability): Get Attestation Document has nothing to ask.
   */
  readonly noAttestable: boolean;
}

/** What the status bar read of one reachable parent. */
export interface ParentReading {
  /** Its enclaves; undefined when the parent could not be asked. */
  readonly enclaves: readonly DescribeEnclaveJson[] | undefined;
  /** Its backend answers an enclave's NSM from the parent side (Get Attestation Document works). */
  readonly parentNsm: boolean;
}

const runsNone = (p: ParentReading): boolean =>
  p.enclaves !== undefined && !p.enclaves.some((e) => e.State === 'RUNNING');

/**
 * The palette state from the reachable parents' readings. Only what is known to be missing counts:
 * a parent that did not answer may run enclaves.
 */
export function paletteStateOf(parents: readonly ParentReading[]): PaletteState {
  return {
    noParent: parents.length === 0,
    noEnclave: parents.every(runsNone),
    noAttestable: parents.every((p) => !p.parentNsm || runsNone(p)),
  };
}

/** The state to set when the parents could not be read at all: nothing is known to be missing. */
export const UNKNOWN_PALETTE_STATE: PaletteState = { noParent: false, noEnclave: false, noAttestable: false };

export const samePaletteState = (a: PaletteState | undefined, b: PaletteState): boolean =>
  a !== undefined && a.noParent === b.noParent && a.noEnclave === b.noEnclave && a.noAttestable === b.noAttestable;
