// nsm, attest and dev-root: talking to an emulated enclave's NSM from the parent side, and the
// development root its attestation documents chain to. Not nitro-cli commands.
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fromHex } from '../engine';
import {
  decodeNsmResponse as decodeResponse,
  encodeNsmRequest as encodeRequest,
  nsmRequestFromJson as requestFromJson,
  nsmResponseToJson as responseToJson,
  NsmProtocolError,
} from '../engine';
import { BackendError } from '../engine';
import { hasDevelopmentRoots } from '../engine';
import { PublicKeyFileError, readPublicKeyFile, writeAtomically } from '../engine/node';
import { formatJson } from '../engine';
import { UsageError, optionValue } from './args';
import {
  ENCLAVE_OPTIONS,
  PARENT_OPTION,
  backendFor,
  enclaveIdOf,
  exactlyOneEnclave,
  parentId,
} from './enclaveCommands';
import { reportFailure } from './errors';
import type { Command } from './types';

function hexOption(command: Command, name: string, value: string | undefined): Uint8Array | null {
  if (value === undefined) return null;
  try {
    return fromHex(value.replace(/^0x/, ''));
  } catch {
    throw new UsageError(`--${name} takes hex, not "${value}"`, command);
  }
}

/**
 * REQUEST as JSON ('"DescribeNSM"', '{"DescribePCR":{"index":0}}'), or the bare name of a request
 * without fields (DescribeNSM).
 */
function requestJson(text: string): unknown {
  const bare = text.trim();
  return /^[A-Z][A-Za-z]*$/.test(bare) ? bare : JSON.parse(text);
}

export const nsmCommand: Command = {
  name: 'nsm',
  summary: "Sends one request to an emulated enclave's NSM and prints the response as JSON",
  options: [...ENCLAVE_OPTIONS, PARENT_OPTION],
  positionals: ['REQUEST'],
  requiredPositionals: 1,
  async run(args, io) {
    exactlyOneEnclave(this, args);
    const text = args.positionals[0] as string;
    let request;
    try {
      request = requestFromJson(requestJson(text));
    } catch (e) {
      throw new UsageError(
        `REQUEST must be an NSM request as JSON or the name of one without fields, e.g. DescribeNSM, GetRandom, ` +
          `'{"DescribePCR":{"index":0}}' or '{"ExtendPCR":{"index":16,"data":"00ff"}}': ` +
          `${e instanceof Error ? e.message : String(e)}`,
        this,
      );
    }
    try {
      const backend = backendFor(io);
      const parent = await parentId(io, args);
      const response = decodeResponse(
        await backend.nsm(parent, await enclaveIdOf(args, backend, parent), encodeRequest(request)),
      );
      io.stdout(formatJson(responseToJson(response)));
      return response.type === 'Error' ? 1 : 0;
    } catch (e) {
      if (e instanceof NsmProtocolError)
        return reportFailure(
          io,
          new BackendError(0, `the NSM answered with bytes that are not an NSM response: ${e.message}`),
        );
      return reportFailure(io, e);
    }
  },
};

/**
 * --public-key FILE as the DER SubjectPublicKeyInfo it holds. A file that holds no public key is a
 * usage error naming what it holds; other bytes still reach public_key through `nitro-dev nsm`.
 */
async function publicKeyOption(command: Command, cwd: string, file: string | undefined): Promise<Uint8Array | null> {
  if (file === undefined) return null;
  try {
    return await readPublicKeyFile(path.resolve(cwd, file), file);
  } catch (e) {
    if (!(e instanceof PublicKeyFileError)) throw e;
    const other = e.notAKey
      ? `; to put other bytes in public_key, use nitro-dev nsm '{"Attestation":{"public_key":"<hex>"}}'`
      : '';
    throw new UsageError(`--public-key: ${e.message}${other}`, command);
  }
}

export const attestCommand: Command = {
  name: 'attest',
  summary: 'Gets an attestation document from an emulated enclave (signed by the development CA)',
  options: [
    ...ENCLAVE_OPTIONS,
    { name: 'nonce', value: 'HEX', help: 'Nonce to put in the document (at most 1024 bytes)' },
    { name: 'user-data', value: 'HEX', help: 'User data to put in the document (at most 1024 bytes)' },
    {
      name: 'public-key',
      value: 'FILE',
      help: 'A public key, PEM or DER (SPKI or PKCS#1 RSA): its DER SubjectPublicKeyInfo goes into public_key',
    },
    { name: 'output', value: 'FILE', required: true, help: 'Where to write the document (raw COSE_Sign1 CBOR)' },
    PARENT_OPTION,
  ],
  async run(args, io) {
    exactlyOneEnclave(this, args);
    const nonce = hexOption(this, 'nonce', optionValue(args, 'nonce'));
    const userData = hexOption(this, 'user-data', optionValue(args, 'user-data'));
    const output = path.resolve(io.cwd, optionValue(args, 'output') as string);
    try {
      const publicKey = await publicKeyOption(this, io.cwd, optionValue(args, 'public-key'));
      const backend = backendFor(io);
      const parent = await parentId(io, args);
      const bytes = await backend.nsm(
        parent,
        await enclaveIdOf(args, backend, parent),
        encodeRequest({ type: 'Attestation', userData, nonce, publicKey }),
      );
      const response = decodeResponse(bytes);
      if (response.type !== 'Attestation') {
        throw new BackendError(
          0,
          `the NSM refused the attestation request: ${JSON.stringify(responseToJson(response))}`,
        );
      }
      await writeAtomically(output, (write) => write(response.document, 0));
      io.stderr(
        `Wrote a development attestation document (${response.document.length} bytes) to ${output}. ` +
          `Verify it with: nitro-dev verify-attestation --document ${output} ` +
          `--development-root <nitro-dev dev-root --export FILE>\n`,
      );
      return 0;
    } catch (e) {
      return reportFailure(io, e);
    }
  },
};

export const devRootCommand: Command = {
  name: 'dev-root',
  summary: "Writes the development root certificate that emulated enclaves' attestation documents chain to",
  options: [
    {
      name: 'export',
      value: 'FILE',
      required: true,
      help: 'Where to write the root certificate (PEM); - for standard output',
    },
  ],
  async run(args, io) {
    const target = optionValue(args, 'export') as string;
    try {
      const source = backendFor(io).capable(hasDevelopmentRoots)[0];
      if (!source) throw new BackendError(0, 'Unspecified error. No backend has a development root');
      const pem = (await source.developmentRoots()).map((r) => r.pem).join('');
      if (target === '-') io.stdout(pem);
      else await writeFile(path.resolve(io.cwd, target), pem, { mode: 0o644 });
      return 0;
    } catch (e) {
      return reportFailure(io, e);
    }
  },
};

export const NSM_COMMANDS: readonly Command[] = [nsmCommand, attestCommand, devRootCommand];
