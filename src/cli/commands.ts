import { buildEnclaveCommand } from './buildCommands';
import { decodeAttestationCommand, resignAttestationCommand, verifyAttestationCommand } from './attestationCommands';
import { describeEifCommand, pcrCommand, signEifCommand } from './eifCommands';
import { doctorCommand } from './doctorCommands';
import { ENCLAVE_COMMANDS } from './enclaveCommands';
import { explainCommand } from './explainCommands';
import { kmsCommand } from './kmsCommands';
import { NSM_COMMANDS } from './nsmCommands';
import { newCommand } from './newCommands';
import { qemuCommand } from './qemuCommands';
import { vsockProxyCommand } from './vsockProxyCommands';
import { vsockCommand } from './vsockCommands';
import type { Command } from './types';

/**
 * Every nitro-dev subcommand, in the order `--help` lists them. Subcommands keep nitro-cli's names,
 * flags and JSON output where nitro-cli has the same command.
 */
export const COMMANDS: readonly Command[] = [
  buildEnclaveCommand,
  newCommand,
  describeEifCommand,
  pcrCommand,
  signEifCommand,
  verifyAttestationCommand,
  decodeAttestationCommand,
  resignAttestationCommand,
  ...ENCLAVE_COMMANDS,
  ...NSM_COMMANDS,
  vsockCommand,
  vsockProxyCommand,
  kmsCommand,
  qemuCommand,
  explainCommand,
  doctorCommand,
];
