// The doctor on a remote parent in one round trip: a POSIX sh script prints everything the doctor
// reads (DOCTOR_READS: files, stat results, folder listings) and what it asks processes (id,
// `nitro-cli --version`, `systemctl is-active`), and parseSnapshot turns that output back into the
// doctor's SystemView and inputs.
//
// The output is framed so that no file content can break it: every byte of a file, name or command
// output travels as `od -A n -t x1` hex lines between a header line and an `end <status>` line, and
// every path or name in a header is hex too. Files are read up to DOCTOR_MAX_TEXT_BYTES + 1 bytes, so a
// huge file costs a bounded amount and reads as missing, as it does on this machine (systemViewAt).
import {
  DOCTOR_MAX_TEXT_BYTES,
  DOCTOR_READS,
  DOCTOR_SERVICES,
  UNIT_STATES,
  type DoctorInput,
  type SystemStat,
  type SystemView,
} from './doctor';
import { fromHex } from '../util/bytes';

export const SNAPSHOT_HEADER = 'nitro-doctor-snapshot 1';

/** The most output a snapshot may have (the files at their limit, in hex, and some room). */
export const MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024;
/** The most names a listed folder may hold in a snapshot. */
export const MAX_LIST_ENTRIES = 4096;
const MAX_LINE_BYTES = 1024;

/** A string as one sh word: single-quoted, with each `'` closed, escaped and reopened. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The script. Its arguments: `$1` a root prefix the paths are read under (empty for `/`; tests pass a
 * fake tree) and `$2` the nitro-cli to ask for its version (default `nitro-cli`). It reads nothing from
 * its standard input, so it can itself be given on the standard input of `sh -s`.
 */
export function snapshotScript(): string {
  const texts = DOCTOR_READS.texts.map((p) => `text ${shQuote(p)}`);
  const stats = DOCTOR_READS.stats.map((p) => `st ${shQuote(p)}`);
  const lists = DOCTOR_READS.lists.map((l) => `lst ${[l.path, ...l.entryTexts].map(shQuote).join(' ')}`);
  const services = DOCTOR_SERVICES.map((u) => `svc ${shQuote(u)}`);
  return `{
LC_ALL=C; export LC_ALL
root=\${1-}
nc=\${2:-nitro-cli}
# A header key: the hex of a path or name, '-' for the empty string.
key() { k=$(printf '%s' "$1" | od -A n -v -t x1 | tr -d ' \\n'); printf '%s' "\${k:--}"; }
text() {
  tp=$root$1
  if [ -f "$tp" ] && [ -r "$tp" ]; then
    printf 'blob text %s\\n' "$(key "$1")"
    if od -A n -v -t x1 -N ${DOCTOR_MAX_TEXT_BYTES + 1} "$tp"; then printf '\\nend 0\\n'; else printf '\\nend 1\\n'; fi
  else
    printf 'missing text %s\\n' "$(key "$1")"
  fi
}
st() {
  sp=$root$1
  if [ -e "$sp" ] && sl=$(ls -ldLn "$sp" 2>/dev/null); then
    sk=$(key "$1")
    printf '%s\\n' "$sl" | { read -r m n u g rest; printf 'stat %s %s %s %s\\n' "$sk" "$m" "$u" "$g"; }
  else
    printf 'missing stat %s\\n' "$(key "$1")"
  fi
}
lst() {
  ld=$1; shift
  lp=$root$ld
  if [ -d "$lp" ] && [ -r "$lp" ]; then
    printf 'list %s\\n' "$(key "$ld")"
    for le in "$lp"/* "$lp"/.*; do
      ln=\${le##*/}
      case $ln in .|..) continue;; esac
      if [ -e "$le" ] || [ -h "$le" ]; then printf 'entry %s\\n' "$(key "$ln")"; fi
    done
    printf 'end 0\\n'
    for le in "$lp"/* "$lp"/.*; do
      ln=\${le##*/}
      case $ln in .|..) continue;; esac
      if [ -e "$le" ] || [ -h "$le" ]; then for lf in "$@"; do text "$ld/$ln/$lf"; done; fi
    done
  else
    printf 'missing list %s\\n' "$(key "$ld")"
  fi
}
svc() {
  printf 'blob service %s\\n' "$(key "$1")"
  if command -v systemctl >/dev/null 2>&1; then
    systemctl is-active "$1" 2>/dev/null | od -A n -v -t x1 -N 256
  fi
  printf '\\nend 0\\n'
}
printf '%s\\n' ${shQuote(SNAPSHOT_HEADER)}
${[...texts, ...stats, ...lists].join('\n')}
printf 'uid %s\\n' "$(id -u)"
printf 'gids %s\\n' "$(id -G)"
printf 'blob name -\\n'
id -un | tr -d '\\n' | od -A n -v -t x1 -N ${MAX_LINE_BYTES}
printf '\\nend 0\\n'
printf 'blob version -\\n'
# nitro-cli's exit status comes out on descriptor 3, its first line through od on the output (4).
exec 4>&1
rc=$( { { "$nc" --version 2>/dev/null; echo "$?" >&3; } | sed -n 1p | od -A n -v -t x1 -N ${MAX_LINE_BYTES} >&4; } \\
  3>&1 )
printf '\\nend %s\\n' "\${rc:-1}"
${services.join('\n')}
printf 'done\\n'
exit 0
} </dev/null
`;
}

/** What `sh -s` is given on its standard input to run the script with these arguments. */
export function snapshotStdin(args: { readonly root?: string; readonly nitroCliPath?: string }): string {
  return `set -- ${shQuote(args.root ?? '')} ${shQuote(args.nitroCliPath ?? 'nitro-cli')}\n${snapshotScript()}`;
}

/** The snapshot's output is not what the script prints. */
export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

/** What the doctor needs, read from a snapshot. */
export interface Snapshot {
  readonly system: SystemView;
  readonly user: DoctorInput['user'];
  readonly nitroCliVersion: string;
  readonly services?: Readonly<Record<string, string>>;
}

const HEX_LINE = /^(?: [0-9a-f]{2})* *$/;

/** Bytes as text the way a file is read as UTF-8 here: malformed bytes replaced, a BOM kept. */
const utf8Text = (bytes: Uint8Array): string => new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);

/** `ls -l`'s mode string (`crw-rw----`, maybe a trailing `.`/`+`/`@`) as type and permission bits. */
function parseModeString(s: string): { mode: number; isDirectory: boolean } | undefined {
  if (!/^[-dcbplsD?][-r][-w][-xsS][-r][-w][-xsS][-r][-w][-xtT][.+@]?$/.test(s)) return undefined;
  let mode = 0;
  const bit = (i: number, chars: string, value: number) => {
    if (chars.includes(s[i] as string)) mode |= value;
  };
  bit(1, 'r', 0o400);
  bit(2, 'w', 0o200);
  bit(3, 'xs', 0o100);
  bit(3, 'sS', 0o4000);
  bit(4, 'r', 0o40);
  bit(5, 'w', 0o20);
  bit(6, 'xs', 0o10);
  bit(6, 'sS', 0o2000);
  bit(7, 'r', 0o4);
  bit(8, 'w', 0o2);
  bit(9, 'xt', 0o1);
  bit(9, 'tT', 0o1000);
  return { mode, isDirectory: s[0] === 'd' };
}

/** The records of a snapshot, read line by line; each fails with the line it is on. */
class SnapshotReader {
  readonly texts = new Map<string, string | undefined>();
  readonly stats = new Map<string, SystemStat | undefined>();
  readonly lists = new Map<string, readonly string[] | undefined>();
  readonly serviceOutput = new Map<string, string>();
  uid: number | undefined;
  gids: number[] | undefined;
  name: string | undefined;
  version: string | undefined;
  done = false;
  private i: number;

  constructor(private readonly lines: readonly string[]) {
    this.i = lines.findIndex((l) => l.replace(/\r$/, '') === SNAPSHOT_HEADER);
    if (this.i < 0)
      throw new SnapshotError(`the output has no '${SNAPSHOT_HEADER}' line: it is not the doctor's snapshot`);
  }

  /** Reads every record up to `done`. */
  read(): this {
    for (this.i++; this.i < this.lines.length && !this.done; this.i++) {
      const line = (this.lines[this.i] as string).replace(/\r$/, '');
      const w = line.split(' ');
      switch (w[0]) {
        case 'blob':
          this.blob(w);
          break;
        case 'missing':
          this.missing(w);
          break;
        case 'stat':
          this.stat(w);
          break;
        case 'list':
          this.list(w);
          break;
        case 'uid':
          if (this.uid !== undefined || w.length !== 2 || !/^\d{1,10}$/.test(w[1] as string))
            this.bad('expected one uid');
          this.uid = Number(w[1]);
          break;
        case 'gids': {
          const ids = w.slice(1).filter((x) => x !== '');
          if (this.gids !== undefined || ids.length > 65_536 || !ids.every((x) => /^\d{1,10}$/.test(x)))
            this.bad('expected the group ids');
          this.gids = ids.map(Number);
          break;
        }
        case 'done':
          this.done = true;
          break;
        default:
          this.bad(`unexpected '${line.slice(0, 40)}'`);
      }
    }
    return this;
  }

  private bad(why: string): never {
    throw new SnapshotError(`line ${this.i + 1} of the snapshot: ${why}`);
  }

  private key(k: string | undefined): string {
    if (k === '-') return '';
    if (k === undefined || !/^(?:[0-9a-f]{2})+$/.test(k)) return this.bad(`'${k ?? ''}' is not a hex key`);
    return utf8Text(fromHex(k));
  }

  private once<T>(map: Map<string, T>, k: string, what: string, v: T): void {
    if (map.has(k)) this.bad(`${what} ${k} is given twice`);
    map.set(k, v);
  }

  /** The hex lines after a `blob` header up to its `end <status>`: the bytes and the status. */
  private blobBytes(limit: number): { bytes: Uint8Array; status: number } {
    const parts: string[] = [];
    let size = 0;
    for (this.i++; this.i < this.lines.length; this.i++) {
      const line = this.lines[this.i] as string;
      const end = /^end (\d{1,3})$/.exec(line);
      if (end) return { bytes: fromHex(parts.join('').replace(/ /g, '')), status: Number(end[1]) };
      if (!HEX_LINE.test(line)) this.bad('expected hex bytes or an end line');
      size += Math.floor(line.replace(/ /g, '').length / 2);
      if (size > limit) this.bad(`more than ${limit} bytes`);
      parts.push(line);
    }
    return this.bad('the snapshot ends inside a value');
  }

  private blob(w: readonly string[]): void {
    const kind = w[1];
    const k = this.key(w[2]);
    if (w.length !== 3) this.bad('a blob line has a kind and a key');
    if (kind === 'text') {
      const { bytes, status } = this.blobBytes(DOCTOR_MAX_TEXT_BYTES + 1);
      const text = status === 0 && bytes.length <= DOCTOR_MAX_TEXT_BYTES ? utf8Text(bytes) : undefined;
      this.once(this.texts, k, 'the file', text);
    } else if (kind === 'service') {
      this.once(this.serviceOutput, k, 'the service', utf8Text(this.blobBytes(256).bytes));
    } else if (kind === 'name') {
      if (this.name !== undefined) this.bad('the user name is given twice');
      this.name = utf8Text(this.blobBytes(MAX_LINE_BYTES).bytes).trim();
    } else if (kind === 'version') {
      if (this.version !== undefined) this.bad('the version is given twice');
      const { bytes, status } = this.blobBytes(MAX_LINE_BYTES);
      this.version = status === 0 ? (utf8Text(bytes).split('\n')[0] ?? '').trim() : '';
    } else this.bad(`unknown value '${kind ?? ''}'`);
  }

  private missing(w: readonly string[]): void {
    if (w.length !== 3) this.bad('a missing line has a kind and a key');
    const k = this.key(w[2]);
    if (w[1] === 'text') this.once(this.texts, k, 'the file', undefined);
    else if (w[1] === 'stat') this.once(this.stats, k, 'the stat of', undefined);
    else if (w[1] === 'list') this.once(this.lists, k, 'the folder', undefined);
    else this.bad(`unknown kind '${w[1] ?? ''}'`);
  }

  private stat(w: readonly string[]): void {
    if (w.length !== 5) this.bad('a stat line has a key, a mode, a uid and a gid');
    const k = this.key(w[1]);
    const mode = parseModeString(w[2] as string) ?? this.bad(`'${w[2] ?? ''}' is not a file mode`);
    if (!/^\d{1,10}$/.test(w[3] as string) || !/^\d{1,10}$/.test(w[4] as string))
      this.bad('the uid and gid are numbers');
    this.once(this.stats, k, 'the stat of', {
      mode: mode.mode,
      uid: Number(w[3]),
      gid: Number(w[4]),
      isDirectory: mode.isDirectory,
    });
  }

  private list(w: readonly string[]): void {
    if (w.length !== 2) this.bad('a list line has a key');
    const k = this.key(w[1]);
    const names: string[] = [];
    for (this.i++; ; this.i++) {
      if (this.i >= this.lines.length) this.bad('the snapshot ends inside a folder listing');
      const entry = (this.lines[this.i] as string).split(' ');
      if (entry[0] === 'end' && entry.length === 2) break;
      if (entry[0] !== 'entry' || entry.length !== 2) this.bad('expected an entry or an end line');
      if (names.length >= MAX_LIST_ENTRIES) this.bad(`more than ${MAX_LIST_ENTRIES} names in ${k}`);
      names.push(this.key(entry[1]));
    }
    this.once(this.lists, k, 'the folder', names);
  }
}

/** Throws unless the snapshot holds everything the doctor reads (DOCTOR_READS) and its services. */
function checkComplete(r: SnapshotReader): void {
  if (!r.done) throw new SnapshotError('the snapshot ended early: it was cut off or the script failed');
  if (r.uid === undefined || r.gids === undefined || r.name === undefined || r.version === undefined)
    throw new SnapshotError('the snapshot lacks the user or the nitro-cli version');
  for (const p of DOCTOR_READS.texts) if (!r.texts.has(p)) throw new SnapshotError(`the snapshot lacks the file ${p}`);
  for (const p of DOCTOR_READS.stats)
    if (!r.stats.has(p)) throw new SnapshotError(`the snapshot lacks the stat of ${p}`);
  for (const l of DOCTOR_READS.lists) {
    if (!r.lists.has(l.path)) throw new SnapshotError(`the snapshot lacks the folder ${l.path}`);
    for (const entry of r.lists.get(l.path) ?? [])
      for (const f of l.entryTexts)
        if (!r.texts.has(`${l.path}/${entry}/${f}`))
          throw new SnapshotError(`the snapshot lacks the file ${l.path}/${entry}/${f}`);
  }
  for (const unit of DOCTOR_SERVICES)
    if (!r.serviceOutput.has(unit)) throw new SnapshotError(`the snapshot lacks the state of ${unit}`);
}

/**
 * Reads a snapshot's output. Lines before the header (what a login script may print) are skipped;
 * anything else that is not the script's framing is an error naming the line.
 */
export function parseSnapshot(output: string): Snapshot {
  if (output.length > MAX_SNAPSHOT_BYTES)
    throw new SnapshotError(`the snapshot is larger than ${MAX_SNAPSHOT_BYTES} bytes`);
  const lines = output.split('\n');
  // The last line's newline ends it: it starts no empty line.
  if (lines[lines.length - 1] === '') lines.pop();
  const r = new SnapshotReader(lines).read();
  checkComplete(r);
  const services: Record<string, string> = {};
  for (const unit of DOCTOR_SERVICES) {
    const state = (r.serviceOutput.get(unit) as string).trim();
    if (UNIT_STATES.has(state)) services[unit] = state;
  }
  const held = <T>(map: Map<string, T>, p: string, what: string): T => {
    if (!map.has(p))
      throw new SnapshotError(`the snapshot does not hold ${what} ${p}: the doctor read more than DOCTOR_READS`);
    return map.get(p) as T;
  };
  const system: SystemView = {
    readText: (p) => new Promise((resolve) => resolve(held(r.texts, p, 'the file'))),
    stat: (p) => new Promise((resolve) => resolve(held(r.stats, p, 'the stat of'))),
    list: (p) => new Promise((resolve) => resolve(held(r.lists, p, 'the folder'))),
  };
  return {
    system,
    user: { uid: r.uid as number, gids: r.gids as number[], name: r.name as string },
    nitroCliVersion: r.version as string,
    ...(Object.keys(services).length > 0 ? { services } : {}),
  };
}
