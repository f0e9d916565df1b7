// What an unreachable parent's node says in its description: the reason, short. Pure (no vscode),
// so unit tests read it.
import { l10n } from '../l10n';

/** The reason's first line, shortened: what a node's description has room for. */
export function shortReason(reason: string): string {
  const first =
    reason
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l !== '') ?? l10n.t('no reason given');
  // `ssh: connect to host 10.0.0.12 port 22: Connection refused` -> `Connection refused`
  const ssh = /^ssh: .*: ([^:]+)$/.exec(first);
  // The nitro-cli backend's `cannot reach ec2-user@parent-1: Connection refused`: the node's label
  // names the host already.
  const backend = /^cannot reach \S+: (.+)$/.exec(first);
  let text = ssh?.[1] ?? backend?.[1] ?? first;
  // ssh's own words after it: `connect to host 127.0.0.1 port 2222: Connection refused` -> the
  // cause (the tooltip keeps the address and port).
  const connect = /^connect to host \S+ port \d+: (.+)$/.exec(text);
  if (connect?.[1]) text = connect[1];
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
