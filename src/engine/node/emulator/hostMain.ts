// Entry point of dist/enclave-host.js: the background process of one emulated enclave, started as
// `<node> enclave-host.js __enclave-host <record.json>` (the same arguments `nitro-dev` takes for
// its hidden host subcommand). A bundle of its own starts faster than the whole CLI, which is what
// run-enclave waits for.
import * as path from 'node:path';
import { ENCLAVE_HOST_SUBCOMMAND } from './backend';
import { runEnclaveHost } from './host';

const args = process.argv.slice(2);
const record = args[0] === ENCLAVE_HOST_SUBCOMMAND ? args[1] : args[0];
if (record === undefined) {
  process.stderr.write(`usage: enclave-host.js ${ENCLAVE_HOST_SUBCOMMAND} <enclave record .json>\n`);
  process.exit(2);
}
runEnclaveHost(path.resolve(record), { env: process.env }).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`enclave host: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
