// "Re-sign with Development CA…": the embedded emulator's development CA (in its state folder), loaded
// only when a document is re-signed.
import { resignWithDevelopmentCa } from '../../engine/node';
import type { DevelopmentSigning } from './attestationSession';

/** Re-signs unsigned QEMU documents with the development CA of the emulator state folder `stateDir`. */
export function developmentSigningOf(stateDir: string): DevelopmentSigning {
  return { resign: (document) => resignWithDevelopmentCa(stateDir, document) };
}
