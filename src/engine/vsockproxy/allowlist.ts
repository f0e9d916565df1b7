// The allowlist of vsock-proxy (`/etc/nitro_enclaves/vsock-proxy.yaml`): which TCP endpoints the
// parent's proxy may forward enclave connections to, read and matched the way the real tool does
// (aws-nitro-enclaves-cli vsock_proxy/src/proxy.rs `check_allowlist`, src/dns.rs):
//
//   allowlist:
//   - {address: kms.us-east-1.amazonaws.com, port: 443}
//   - {address: 10.0.0.7, port: 8443}
//
// - Only the first YAML document and its `allowlist` key are read; other keys, of the file and of an
//   entry, are ignored. `address` must be a string and `port` a YAML integer (`"443"` and `443.0`
//   are refused); the port is then taken as a 16-bit number (66979 reads as 1443).
// - The remote address given on the command line is resolved first (its first address of the asked
//   IP version); a name that does not resolve refuses the start whatever the file says.
// - Entries are tried in order: the port must equal the remote port; then the entry's address must
//   equal the remote address as written (an exact, case-sensitive string comparison); else one of
//   the entry's resolved addresses must equal the remote's resolved address.
// - An entry without a string address or an integer port stops the check at that entry, refused
//   ("No address field", "No port field or invalid type"), even when a later entry would match.
//
// The real tool says only "The given address and port are not allowed". This one says, for every
// entry tried, why it did not match. Every problem of a file also carries a line and a column, for
// the editor (parseAllowlist's diagnostics).
import {
  LineCounter,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  parseAllDocuments,
  type Document,
  type Node as YamlNode,
} from 'yaml';

/** Where the parent's vsock-proxy service (and the real tool by default) reads its allowlist. */
export const DEFAULT_ALLOWLIST_PATH = '/etc/nitro_enclaves/vsock-proxy.yaml';

/** The largest allowlist read (the shipped one, every region's KMS endpoint, is about 4 KiB). */
export const MAX_ALLOWLIST_BYTES = 256 * 1024;

/** The deepest bracket nesting read; a real allowlist nests three deep. */
const MAX_FLOW_DEPTH = 64;

/** IP version: 0 either (the real tool's default), 4 `-4`/`--ipv4`, 6 `-6`/`--ipv6`. */
export type IpFamily = 0 | 4 | 6;

/**
 * Resolves a host name (or IP literal) to its addresses, in the order the real tool's resolver
 * returns them (hickory's default: IPv4 addresses, IPv6 ones only when there is no IPv4 one). The
 * family is the IP version the proxy was asked for; the check filters the answer by it in any case.
 * Rejects (with a reason) when the name does not resolve.
 */
export type HostResolver = (host: string, family: IpFamily) => Promise<readonly string[]>;

/** A problem in an allowlist file (1-based line and column; 0-based offsets into the text). */
export interface AllowlistDiagnostic {
  readonly message: string;
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
  readonly offset: number;
  readonly endOffset: number;
  readonly severity: 'error' | 'warning';
}

/** One `- {address, port}` of the allowlist, as vsock-proxy reads it. */
export interface AllowlistEntry {
  /** 1-based position in the list. */
  readonly number: number;
  /** 1-based line where the entry starts. */
  readonly line: number;
  readonly address?: string;
  /** The port as written (a whole number, possibly out of range). */
  readonly port?: number;
  /** The port vsock-proxy compares: the written one as a 16-bit number. */
  readonly effectivePort?: number;
  /** Why vsock-proxy stops the check at this entry (missing or mistyped field), if it does. */
  readonly stop?: string;
  /** The real tool's words for it. */
  readonly stopReal?: 'No address field' | 'No port field or invalid type';
}

export interface ParsedAllowlist {
  /** Absent when vsock-proxy cannot read the file at all (`fatal` says why). */
  readonly entries?: readonly AllowlistEntry[];
  /** The real tool's reason for refusing the whole file ("Bad yaml format", "No allowlist field"), with ours. */
  readonly fatal?: string;
  readonly diagnostics: readonly AllowlistDiagnostic[];
}

class Located {
  readonly diagnostics: AllowlistDiagnostic[] = [];
  constructor(private readonly lines: LineCounter) {}

  add(offset: number, endOffset: number, message: string, severity: 'error' | 'warning' = 'error'): void {
    const end = Math.max(offset, endOffset);
    const a = this.lines.linePos(offset);
    const b = this.lines.linePos(end);
    this.diagnostics.push({
      message,
      line: Math.max(1, a.line),
      column: Math.max(1, a.col),
      endLine: Math.max(1, b.line),
      endColumn: Math.max(1, b.col),
      offset,
      endOffset: end,
      severity,
    });
  }

  at(node: YamlNode | null | undefined, fallback: number, message: string, severity?: 'error' | 'warning'): void {
    const range = node?.range;
    if (range) this.add(range[0], range[1], message, severity);
    else this.add(fallback, fallback, message, severity);
  }

  lineOf(offset: number): number {
    return Math.max(1, this.lines.linePos(offset).line);
  }
}

/**
 * The deepest `[`/`{` nesting outside comments: a cheap bound before the parser recurses (brackets
 * in quoted strings count too, which only errs on the safe side).
 */
function flowDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let comment = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (comment) {
      if (c === '\n') comment = false;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1] ?? ''))) comment = true;
    else if (c === '[' || c === '{') max = Math.max(max, ++depth);
    else if ((c === ']' || c === '}') && depth > 0) depth--;
  }
  return max;
}

/** Follows an alias to the node it names (one step: aliases of aliases do not occur in YAML). */
function deref(doc: Document, node: unknown): YamlNode | null {
  if (isAlias(node)) return (node.resolve(doc) as YamlNode | undefined) ?? null;
  return (node as YamlNode | null) ?? null;
}

/** A YAML 1.2 core-schema integer as written (`443`, `+443`, `0x1bb`, `0o673`), or undefined. */
function yamlInteger(node: YamlNode): number | undefined {
  if (!isScalar(node) || node.type !== 'PLAIN' || typeof node.source !== 'string') return undefined;
  const s = node.source;
  let n: number;
  if (/^[-+]?[0-9]+$/.test(s)) n = Number(s);
  else if (/^0x[0-9a-fA-F]+$/.test(s)) n = Number.parseInt(s.slice(2), 16);
  else if (/^0o[0-7]+$/.test(s)) n = Number.parseInt(s.slice(2), 8);
  else return undefined;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** What a scalar looks like, for messages: `'443'` (a string), `443.0` (a number), `a list`. */
function described(node: YamlNode | null): string {
  if (node === null) return 'nothing';
  if (isSeq(node)) return 'a list';
  if (isMap(node)) return 'a mapping';
  if (isScalar(node)) {
    if (node.value === null) return 'nothing (null)';
    if (typeof node.value === 'string') return `the string ${JSON.stringify(node.value)}`;
    return `${node.source ?? JSON.stringify(node.value)} (${typeof node.value})`;
  }
  return 'something else';
}

const IPV6ISH = /^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*$/;

/**
 * Parses an allowlist text as vsock-proxy reads it, with every problem located. Never throws: text
 * over MAX_ALLOWLIST_BYTES characters, nesting past 64 levels and alias bombs are reported, not read.
 */
export function parseAllowlist(text: string): ParsedAllowlist {
  const lines = new LineCounter();
  const out = new Located(lines);
  const refuse = (fatal: string) => ({ fatal, diagnostics: out.diagnostics });
  if (text.length > MAX_ALLOWLIST_BYTES) {
    out.add(0, 0, `the file is larger than ${MAX_ALLOWLIST_BYTES} characters, too large for an allowlist; not read`);
    return refuse(`Bad yaml format (the file is larger than ${MAX_ALLOWLIST_BYTES} characters)`);
  }
  if (flowDepth(text) > MAX_FLOW_DEPTH) {
    out.add(0, 0, `brackets nest more than ${MAX_FLOW_DEPTH} deep; not read`);
    return refuse(`Bad yaml format (brackets nest more than ${MAX_FLOW_DEPTH} deep)`);
  }
  let docs: Document.Parsed[];
  try {
    // An empty stream is an empty array; duplicate keys are reported below, as the real tool keeps the last.
    docs = [...parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false })];
  } catch (e) {
    // The parser recurses: a nesting too deep for the stack ends here rather than in the caller.
    out.add(0, 0, `the YAML could not be read: ${e instanceof RangeError ? 'it nests too deep' : String(e)}`);
    return refuse('Bad yaml format');
  }
  for (const d of docs) for (const e of d.errors) out.add(e.pos[0], e.pos[1], firstLine(e.message));
  if (out.diagnostics.length > 0) return refuse(`Bad yaml format (${out.diagnostics[0]?.message ?? 'YAML error'})`);

  const doc = docs[0];
  if (doc === undefined) {
    out.add(0, 0, 'the file is empty: vsock-proxy needs an `allowlist:` list of {address, port} entries');
    return refuse('Bad yaml format (the file is empty; vsock-proxy reads no document)');
  }
  for (const extra of docs.slice(1)) {
    const at = extra.range[0];
    out.add(
      at,
      Math.max(at, extra.range[1]),
      'vsock-proxy reads only the first YAML document; this one is ignored',
      'warning',
    );
  }

  const root = deref(doc, doc.contents);
  const allowPair = isMap(root)
    ? [...root.items].reverse().find((p) => isScalar(p.key) && p.key.value === 'allowlist')
    : undefined;
  if (isMap(root)) checkDuplicateKeys(root.items, out);
  const list = allowPair ? deref(doc, allowPair.value) : null;
  if (!isSeq(list)) {
    if (allowPair)
      out.at(
        list ?? (allowPair.key as YamlNode),
        0,
        `allowlist must be a list of {address, port} entries, not ${described(list)}`,
      );
    else out.at(root, 0, 'no `allowlist:` key: vsock-proxy refuses a file without one');
    return refuse('No allowlist field');
  }
  if (list.items.length === 0)
    out.at(list, 0, 'the allowlist is empty: vsock-proxy will refuse every remote address', 'warning');

  const entries: AllowlistEntry[] = [];
  const seen = new Map<string, number>();
  list.items.forEach((raw, i) => {
    const entry = readEntry(doc, deref(doc, raw), raw as YamlNode, i + 1, out);
    entries.push(entry);
    if (entry.address !== undefined && entry.effectivePort !== undefined) {
      const key = `${entry.address}\0${entry.effectivePort}`;
      const first = seen.get(key);
      const node = raw as YamlNode;
      if (first !== undefined)
        out.at(node, 0, `duplicate of entry ${first} (${entry.address}, port ${entry.effectivePort})`, 'warning');
      else seen.set(key, entry.number);
    }
  });
  return { entries, diagnostics: [...out.diagnostics].sort((a, b) => a.offset - b.offset) };
}

const firstLine = (message: string) => message.split('\n')[0] ?? message;

function checkDuplicateKeys(items: readonly { key: unknown }[], out: Located): void {
  const keys = new Map<unknown, YamlNode>();
  for (const { key } of items) {
    if (!isScalar(key)) continue;
    const prior = keys.get(key.value);
    if (prior) out.at(key, 0, `duplicate key '${String(key.value)}': only the last one counts`);
    keys.set(key.value, key);
  }
}

function readEntry(doc: Document, node: YamlNode | null, raw: YamlNode, number: number, out: Located): AllowlistEntry {
  const start = raw?.range?.[0] ?? 0;
  const line = out.lineOf(start);
  const base = { number, line };
  if (!isMap(node)) {
    out.at(raw, start, `entry ${number} must be a mapping {address: HOST, port: PORT}, not ${described(node)}`);
    return { ...base, stop: `it is ${described(node)}, not {address, port} (vsock-proxy: "No address field")` };
  }
  checkDuplicateKeys(node.items, out);
  let addressNode: YamlNode | null | undefined;
  let portNode: YamlNode | null | undefined;
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    if (key === 'address') addressNode = deref(doc, pair.value);
    else if (key === 'port') portNode = deref(doc, pair.value);
    else {
      const shown = isScalar(pair.key) ? `'${String(key)}'` : '';
      const hint =
        typeof key === 'string' && ['address', 'port'].includes(key.toLowerCase())
          ? ` (keys are case-sensitive: '${key.toLowerCase()}')`
          : typeof key === 'string' && /^(host|hostname|addr|ip)$/i.test(key)
            ? " (did you mean 'address'?)"
            : '';
      out.at(
        pair.key as YamlNode,
        start,
        `unknown key ${shown}: vsock-proxy reads only address and port, and ignores it${hint}`,
        'warning',
      );
    }
  }

  let address: string | undefined;
  let stop: string | undefined;
  if (addressNode === undefined) {
    out.at(raw, start, `entry ${number} has no address`);
    stop = 'it has no address (vsock-proxy: "No address field")';
  } else if (!isScalar(addressNode) || typeof addressNode.value !== 'string') {
    const hint = isSeq(addressNode) ? " (an IPv6 address is written without brackets, quoted: '::1')" : '';
    out.at(addressNode, start, `address must be a host name or IP address, not ${described(addressNode)}${hint}`);
    stop = `its address is ${described(addressNode)}, not a string (vsock-proxy: "No address field")`;
  } else {
    address = addressNode.value;
    if (address.trim() === '') out.at(addressNode, start, 'address is empty: it matches no remote address', 'warning');
    else if (address !== address.trim())
      out.at(addressNode, start, 'address has spaces around it: vsock-proxy compares it as written', 'warning');
    else if (/^\[.*\]$/.test(address))
      out.at(addressNode, start, `write an IPv6 address without brackets: '${address.slice(1, -1)}'`, 'warning');
    else if (address.includes(':') && !IPV6ISH.test(address))
      out.at(addressNode, start, 'address contains a colon: the port goes in its own `port:` key', 'warning');
  }

  let port: number | undefined;
  let effectivePort: number | undefined;
  if (portNode === undefined) {
    out.at(raw, start, `entry ${number} has no port`);
    stop ??= 'it has no port (vsock-proxy: "No port field or invalid type")';
  } else {
    port = portNode === null ? undefined : yamlInteger(portNode);
    if (port === undefined) {
      const quoted = isScalar(portNode) && typeof portNode.value === 'string' && /^\d+$/.test(portNode.value);
      out.at(
        portNode,
        start,
        `port must be a whole number, not ${described(portNode)}${quoted ? ' (write it without quotes)' : ''}`,
      );
      stop ??= `its port is ${described(portNode)}, not a whole number (vsock-proxy: "No port field or invalid type")`;
    } else {
      // The real tool reads the port as an i64 and casts it to u16.
      effectivePort = ((port % 65536) + 65536) % 65536;
      if (port < 0 || port > 65535)
        out.at(portNode, start, `port ${port} is not 0 to 65535 (vsock-proxy would read it as ${effectivePort})`);
      else if (port === 0) out.at(portNode, start, 'port 0: no TCP connection can be made to it', 'warning');
    }
  }
  return {
    ...base,
    ...(address !== undefined ? { address } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(effectivePort !== undefined ? { effectivePort } : {}),
    ...(stop !== undefined
      ? { stop, stopReal: stop.endsWith('"No address field")') ? 'No address field' : 'No port field or invalid type' }
      : {}),
  };
}

// --- IP addresses ---------------------------------------------------------------------------

/** The IP version of a literal address, or undefined when it is not one. */
export function ipVersionOf(text: string): 4 | 6 | undefined {
  const key = ipKey(text);
  return key === undefined ? undefined : key.startsWith('4:') ? 4 : 6;
}

/**
 * A comparison key of an IP literal (as Rust's IpAddr equality: `::1` equals `0:0::1`; an IPv4 and
 * an IPv4-mapped IPv6 address differ), or undefined when the text is not one.
 */
export function ipKey(text: string): string | undefined {
  const v4 = ipv4Bytes(text);
  if (v4) return `4:${v4.join('.')}`;
  const v6 = ipv6Groups(text);
  return v6 ? `6:${v6.map((g) => g.toString(16)).join(':')}` : undefined;
}

function ipv4Bytes(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = parts.map((p) => (/^(0|[1-9]\d{0,2})$/.test(p) ? Number(p) : NaN));
  return bytes.every((b) => b <= 255) ? bytes : undefined;
}

function ipv6Groups(text: string): number[] | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (s: string, last: boolean): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] as string;
      if (last && i === parts.length - 1 && p.includes('.')) {
        const b = ipv4Bytes(p);
        if (!b) return undefined;
        out.push(((b[0] as number) << 8) | (b[1] as number), ((b[2] as number) << 8) | (b[3] as number));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(Number.parseInt(p, 16));
      else return undefined;
    }
    return out;
  };
  if (halves.length === 1) {
    const g = groupsOf(text, true);
    return g && g.length === 8 ? g : undefined;
  }
  const head = groupsOf(halves[0] as string, false);
  const tail = groupsOf(halves[1] as string, true);
  if (!head || !tail || head.length + tail.length > 7) return undefined;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

// --- Matching -------------------------------------------------------------------------------

/** Why one entry did not let the remote endpoint through. */
export interface TriedEntry {
  readonly entry: AllowlistEntry;
  readonly why: string;
}

export type AllowlistVerdict =
  | {
      readonly allowed: true;
      readonly entry: AllowlistEntry;
      /** How it matched: the host name as written, or one of its resolved addresses. */
      readonly by: 'host name' | 'address';
      /** The remote address the proxy connects to (the first resolved address of the asked version). */
      readonly remoteIp: string;
      /** The entries tried before it, and why they did not match. */
      readonly tried: readonly TriedEntry[];
    }
  | {
      readonly allowed: false;
      /** What the real tool would print as the reason ("The given address and port are not allowed", ...). */
      readonly realReason: string;
      /** Our reason, in one sentence. */
      readonly reason: string;
      readonly remoteIp?: string;
      /** Each entry tried, in order, with why it did not match. */
      readonly tried: readonly TriedEntry[];
    };

export interface AllowlistCheck {
  readonly allowlist: ParsedAllowlist;
  readonly remoteAddr: string;
  readonly remotePort: number;
  readonly family: IpFamily;
  readonly resolve: HostResolver;
}

const versionName = (family: IpFamily) => (family === 4 ? 'IPv4' : 'IPv6');
const reasonOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * The addresses of a host of the asked IP version, as the real tool's `dns::resolve` gives them, or
 * the reason it fails. A resolver answer that is no IP address is dropped.
 */
export async function resolveFor(
  resolve: HostResolver,
  host: string,
  family: IpFamily,
): Promise<
  | { readonly addresses: readonly string[]; readonly all: readonly string[] }
  | { readonly error: string; readonly real: string }
> {
  let all: readonly string[];
  try {
    all = (await resolve(host, family)).filter((a) => ipKey(a) !== undefined);
  } catch (e) {
    return { error: `it does not resolve (${reasonOf(e)})`, real: 'DNS lookup failed!' };
  }
  if (all.length === 0) return { error: 'it resolves to no address', real: 'DNS lookup returned no IP addresses!' };
  const addresses = family === 0 ? all : all.filter((a) => ipVersionOf(a) === family);
  if (addresses.length === 0)
    return {
      error: `it resolves to ${all.join(', ')}, no ${versionName(family)} address (-${family} asks for one)`,
      real: 'No accepted IP was found.',
    };
  return { addresses, all };
}

/**
 * Checks a remote endpoint against an allowlist in the real tool's order (see the top of the file),
 * resolving through `resolve`. The verdict names every entry tried and why it did not match.
 */
export async function checkAllowlist(check: AllowlistCheck): Promise<AllowlistVerdict> {
  const { allowlist, remoteAddr, remotePort, family } = check;
  const tried: TriedEntry[] = [];
  if (allowlist.entries === undefined) {
    const fatal = allowlist.fatal ?? 'Bad yaml format';
    return { allowed: false, realReason: fatal, reason: `the allowlist cannot be read: ${fatal}`, tried };
  }
  const remote = await resolveFor(check.resolve, remoteAddr, family);
  if ('error' in remote) {
    return {
      allowed: false,
      realReason: remote.real,
      reason: `the remote address ${remoteAddr}: ${remote.error}; vsock-proxy resolves it before it reads the entries`,
      tried,
    };
  }
  const remoteIp = remote.addresses[0] as string;
  const remoteKey = ipKey(remoteIp);
  for (const entry of allowlist.entries) {
    if (entry.stop !== undefined || entry.address === undefined || entry.effectivePort === undefined) {
      tried.push({ entry, why: `${entry.stop ?? 'it cannot be read'}; vsock-proxy stops checking here` });
      return {
        allowed: false,
        realReason: entry.stopReal ?? 'No address field',
        reason: `entry ${entry.number} (line ${entry.line}) cannot be read, and vsock-proxy stops at it`,
        remoteIp,
        tried,
      };
    }
    const written = entry.port !== entry.effectivePort ? ` (written ${entry.port})` : '';
    if (entry.effectivePort !== remotePort) {
      tried.push({ entry, why: `port ${entry.effectivePort}${written} is not ${remotePort}` });
      continue;
    }
    if (entry.address === remoteAddr) return { allowed: true, entry, by: 'host name', remoteIp, tried };
    const sameIgnoringCase = entry.address.toLowerCase() === remoteAddr.toLowerCase();
    const names = sameIgnoringCase
      ? `host name ${entry.address} differs from ${remoteAddr} in letter case (compared exactly)`
      : `host name ${entry.address} is not ${remoteAddr}`;
    const resolved = await resolveFor(check.resolve, entry.address, family);
    if ('error' in resolved) {
      tried.push({ entry, why: `${names}, and ${entry.address}: ${resolved.error}` });
      continue;
    }
    if (resolved.addresses.some((a) => ipKey(a) === remoteKey))
      return { allowed: true, entry, by: 'address', remoteIp, tried };
    const via =
      remoteIp === remoteAddr ? '' : ` (${remoteAddr}'s first ${family === 0 ? '' : `${versionName(family)} `}address)`;
    tried.push({ entry, why: `${names}, and it resolves to ${resolved.addresses.join(', ')}, not ${remoteIp}${via}` });
  }
  return {
    allowed: false,
    realReason: 'The given address and port are not allowed',
    reason:
      allowlist.entries.length === 0
        ? 'the allowlist has no entries'
        : `no entry of the allowlist allows ${remoteAddr} port ${remotePort}`,
    remoteIp,
    tried,
  };
}

/** A verdict in lines, for a terminal: the reason, then each entry tried. */
export function formatVerdict(verdict: AllowlistVerdict, remoteAddr: string, remotePort: number): string {
  const entryLine = (t: TriedEntry) => {
    const e = t.entry;
    const what = e.address !== undefined ? `${e.address} port ${e.port ?? '?'}` : 'an unreadable entry';
    return `  entry ${e.number} (line ${e.line}, ${what}): ${t.why}`;
  };
  if (verdict.allowed) {
    const e = verdict.entry;
    const what = `${e.address} port ${e.port}`;
    const by = `by its ${verdict.by}`;
    return `${remoteAddr} port ${remotePort} is allowed by entry ${e.number} (line ${e.line}, ${what}), ${by}\n`;
  }
  return [
    `${remoteAddr} port ${remotePort} is not allowed: ${verdict.reason}.`,
    ...verdict.tried.map(entryLine),
    `(the real vsock-proxy says only: ${verdict.realReason})`,
    '',
  ].join('\n');
}
