// Where the nitro-cli backend finds its parents: nitro-cli on this machine, or on hosts reached over
// SSH with the user's own ssh configuration and agent. One backend per target; each has one parent.

/** A parent instance driven through nitro-cli. */
export type NitroCliTarget =
  | {
      readonly kind: 'local';
      /** The nitro-cli executable on this machine (a name looked up in PATH, or a path). */
      readonly nitroCliPath: string;
      /** What the Parent Instances view calls it (default: `This instance`). */
      readonly name?: string;
    }
  | {
      readonly kind: 'ssh';
      /** What ssh is given: a Host of the user's ssh configuration, or `[user@]host`. */
      readonly host: string;
      /** The nitro-cli executable on that host (default `nitro-cli`, looked up in its PATH). */
      readonly nitroCliPath: string;
      /** What the Parent Instances view calls it (default: the host). */
      readonly name?: string;
    };

/** How ssh and scp are run. The extension host never prompts: BatchMode, no password, no host-key question. */
export interface SshOptions {
  /** The ssh executable (default `ssh`); scp is looked up beside it. */
  readonly sshPath: string;
  /** An ssh configuration file given with `-F` instead of the user's `~/.ssh/config`. */
  readonly configFile?: string;
  /** ssh's ConnectTimeout, in seconds. */
  readonly connectTimeoutSeconds: number;
}

export interface NitroCliOptions {
  readonly targets: readonly NitroCliTarget[];
  readonly ssh: SshOptions;
}

export const DEFAULT_SSH_OPTIONS: SshOptions = { sshPath: 'ssh', connectTimeoutSeconds: 10 };

/** The device the Nitro Enclaves driver creates on a parent instance. */
export const NITRO_ENCLAVES_DEVICE = '/dev/nitro_enclaves';
