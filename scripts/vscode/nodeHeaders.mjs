// Where node-gyp finds the C headers of the running Node, so that code-server's native modules
// (argon2, kerberos, node-pty, ...) compile without node-gyp downloading the headers, whatever the
// user's npm configuration says. Pure apart from its default arguments: the tests pass a fake
// execPath, version and file system.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** A file's text, or undefined when it cannot be read. */
function readOrUndefined(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** { major, abi } from the text of node_version.h, or undefined when it says neither. */
export function headerVersion(text) {
  const major = /^#define NODE_MAJOR_VERSION (\d+)\s*$/m.exec(text)?.[1];
  const abi = /^#define NODE_MODULE_VERSION (\d+)\s*$/m.exec(text)?.[1];
  if (major === undefined || abi === undefined) return undefined;
  return { major: Number(major), abi: Number(abi) };
}

/**
 * The `nodedir` for node-gyp: the first of `<prefix>/include/node` (prefix = the folder above the
 * one holding the Node executable) and `/usr/include/node` that has node.h and a node_version.h of
 * the running Node's major version and module ABI.
 *
 * Returns { nodedir } or { error }, `error` being one sentence that says what is missing and how
 * to get it.
 */
export function findNodeHeaders({
  execPath = process.execPath,
  version = process.version,
  abi = process.versions.modules,
  readFile = readOrUndefined,
} = {}) {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  const wantAbi = Number(abi);
  const prefix = path.dirname(path.dirname(execPath));
  const candidates = [...new Set([prefix, '/usr'])];
  const mismatches = [];
  for (const dir of candidates) {
    const include = path.join(dir, 'include/node');
    if (readFile(path.join(include, 'node.h')) === undefined) continue;
    const text = readFile(path.join(include, 'node_version.h'));
    const found = text === undefined ? undefined : headerVersion(text);
    if (found && found.major === major && found.abi === wantAbi) return { nodedir: dir };
    mismatches.push(
      found ? `${include} has Node ${found.major}'s, ABI ${found.abi}` : `${include} has no readable node_version.h`,
    );
  }
  const places = candidates.map((d) => path.join(d, 'include/node'));
  const where = places.length === 1 ? `${places[0]} does not have them` : `neither ${places.join(' nor ')} has them`;
  const seen = mismatches.length > 0 ? ` (${mismatches.join('; ')})` : '';
  return {
    error:
      `code-server's native modules compile against the C headers of the running Node ${version} (ABI ${wantAbi}), ` +
      `and ${where}${seen}: install the headers of this very Node ` +
      "(Debian's nodejs: `apt-get install libnode-dev` of the same version; NodeSource's nodejs package and the " +
      `nodejs.org archives already carry them in <prefix>/include/node) or run a Node that has them.`,
  };
}
