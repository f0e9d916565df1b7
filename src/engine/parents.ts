// Parent instances: the EC2 instances (real or emulated) that enclaves are carved out of.
// This is the first cut of the model the trees and the CLI show; backends that can run enclaves
// (the embedded emulator, nitro-cli, QEMU) fill it in as they arrive.

export type BackendKind = 'emulator' | 'nitro-cli' | 'qemu';

/**
 * `not-started`: the backend exists but is not running, so it holds no enclaves and offers no
 * resources. `running`: it answers requests. `unreachable`: it should answer but does not.
 */
export type ParentState = 'not-started' | 'running' | 'unreachable';

export interface ParentSummary {
  /** Stable key within this machine's configuration (not the EC2 instance id). */
  readonly key: string;
  readonly label: string;
  readonly backend: BackendKind;
  readonly state: ParentState;
  /** The EC2-style instance id (`i-` + 17 hex digits) once the parent is running. */
  readonly instanceId?: string;
  /** One sentence for a tooltip or `--help`: what this parent is and why it is in its state. */
  readonly detail: string;
}

/** The parent instance embedded in the extension and the CLI: always configured, never remote. */
export function embeddedEmulatorParent(): ParentSummary {
  return {
    key: 'emulator',
    label: 'Embedded emulator',
    backend: 'emulator',
    state: 'not-started',
    detail:
      'An emulated Nitro parent instance that runs on this machine. It is not started: ' +
      'running enclaves on it is not available in this version, so it holds no enclaves.',
  };
}

/** Every parent instance known to this machine's configuration. */
export function listParents(): ParentSummary[] {
  return [embeddedEmulatorParent()];
}
