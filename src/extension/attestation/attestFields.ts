// The fields of Get Attestation Document's request, checked and read: hex and text fields, a user
// data file and a public key file (read as `nitro-dev attest --public-key` reads it). Free of
// vscode, so it is unit-tested in Node; the input steps are in attestRequest.ts.
import { open } from 'node:fs/promises';
import * as path from 'node:path';
import { NSM_MAX_ATTESTATION_FIELD_BYTES as MAX_FIELD, fromHex } from '../../engine';
import { readPublicKeyFile } from '../../engine/node';
import { l10n } from '../l10n';

/** A file given as a path or as a file URI (anything with `fsPath`). */
export type FileArg = string | { readonly fsPath: string };

/** The fields of an NSM Attestation request. */
export interface AttestRequest {
  readonly nonce?: Uint8Array;
  readonly userData?: Uint8Array;
  /** DER SubjectPublicKeyInfo. */
  readonly publicKey?: Uint8Array;
}

/** The request as the command's argument: each field as text, hex or a file. */
export interface AttestRequestOptions {
  /** Hex; empty for none. */
  readonly nonce?: string;
  /** Text (UTF-8). */
  readonly userData?: string;
  readonly userDataHex?: string;
  readonly userDataFile?: FileArg;
  /** A PEM or DER public key file. */
  readonly publicKeyFile?: FileArg;
}

/** The request's fields that a person types: each has its own messages (no noun goes into a sentence). */
export type AttestField = 'nonce' | 'user data';

/** Why `text` is no hex field of at most MAX_FIELD bytes (empty is none), or undefined. */
export function checkHexField(text: string, what: AttestField): string | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  const nonce = what === 'nonce';
  if (!/^([0-9a-fA-F]{2})+$/.test(t))
    return nonce
      ? l10n.t('Write the nonce as hex: an even number of 0-9, a-f.')
      : l10n.t('Write the user data as hex: an even number of 0-9, a-f.');
  if (t.length / 2 > MAX_FIELD)
    return nonce
      ? l10n.t('The nonce is {0} bytes; the NSM takes at most {1}.', t.length / 2, MAX_FIELD)
      : l10n.t('The user data is {0} bytes; the NSM takes at most {1}.', t.length / 2, MAX_FIELD);
  return undefined;
}

/** Why `text` is too long for the NSM's user_data in UTF-8, or undefined. */
export function checkTextField(text: string): string | undefined {
  const n = Buffer.byteLength(text, 'utf8');
  return n > MAX_FIELD
    ? l10n.t('The user data is {0} bytes in UTF-8; the NSM takes at most {1}.', n, MAX_FIELD)
    : undefined;
}

/** The bytes of a hex field (undefined when empty); throws with the reason when it is not one. */
export function hexField(text: string, what: AttestField): Uint8Array | undefined {
  const problem = checkHexField(text, what);
  if (problem) throw new Error(problem);
  return text.trim() === '' ? undefined : fromHex(text.trim());
}

const fsPathOf = (file: FileArg): string => (typeof file === 'string' ? file : file.fsPath);

/** A user data file: at most MAX_FIELD bytes (a larger one is refused before it is read whole). */
export async function readUserDataFile(file: string): Promise<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size > MAX_FIELD)
      throw new Error(
        l10n.t("{0} is {1} bytes; the NSM's user data holds at most {2}.", path.basename(file), size, MAX_FIELD),
      );
    const buffer = Buffer.alloc(MAX_FIELD + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_FIELD)
      throw new Error(
        l10n.t("{0} is over {1} bytes; the NSM's user data holds at most that.", path.basename(file), MAX_FIELD),
      );
    return new Uint8Array(buffer.subarray(0, length));
  } finally {
    await handle.close();
  }
}

/** The request the command's argument describes; throws with a clear reason for a bad field. */
export async function requestFromOptions(options: AttestRequestOptions): Promise<AttestRequest> {
  const nonce = hexField(options.nonce ?? '', 'nonce');
  const given = [options.userData, options.userDataHex, options.userDataFile].filter((v) => v !== undefined);
  if (given.length > 1) throw new Error(l10n.t('Give the user data one way: as text, as hex or as a file.'));
  let userData: Uint8Array | undefined;
  if (options.userDataFile !== undefined) userData = await readUserDataFile(fsPathOf(options.userDataFile));
  else if (options.userDataHex !== undefined) userData = hexField(options.userDataHex, 'user data');
  else if (options.userData) {
    const problem = checkTextField(options.userData);
    if (problem) throw new Error(problem);
    userData = new TextEncoder().encode(options.userData);
  }
  const keyFile = options.publicKeyFile !== undefined ? fsPathOf(options.publicKeyFile) : undefined;
  const publicKey = keyFile ? await readPublicKeyFile(keyFile, path.basename(keyFile)) : undefined;
  return {
    ...(nonce ? { nonce } : {}),
    ...(userData && userData.length > 0 ? { userData } : {}),
    ...(publicKey ? { publicKey } : {}),
  };
}
