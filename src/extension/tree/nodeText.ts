// The words of tree rows and tooltips that need no vscode API (unit-tested).
import type { DescribeEnclaveJson } from '../../engine';
import { l10n } from '../l10n';

/** An enclave's state (nitro-cli's `State`) in words. */
function stateWords(state: string): string {
  switch (state) {
    case 'RUNNING':
      return l10n.t('running');
    case 'TERMINATING':
      return l10n.t('terminating');
    case 'EMPTY':
      return l10n.t('empty');
    default:
      return state.toLowerCase() || l10n.t('unknown');
  }
}

/** `running · CID 16 · 2 CPUs · 512 MiB · debug mode`: the state in words first, then the rest. */
export function enclaveText(e: DescribeEnclaveJson): string {
  const parts = [
    stateWords(e.State),
    l10n.t('CID {0}', e.EnclaveCID),
    e.NumberOfCPUs === 1 ? l10n.t('1 CPU') : l10n.t('{0} CPUs', e.NumberOfCPUs),
    l10n.t('{0} MiB', e.MemoryMiB),
  ];
  if (e.Flags === 'DEBUG_MODE') parts.push(l10n.t('debug mode'));
  return parts.join(' · ');
}

/** Characters per line of a long hex value in a tooltip: a hover shows code blocks without wrapping. */
export const HEX_LINE = 48;

/** A long hex value as lines of at most HEX_LINE characters (a 96-digit PCR: two lines of 48). */
export function hexLines(hex: string, width = HEX_LINE): string {
  const lines: string[] = [];
  for (let i = 0; i < hex.length; i += width) lines.push(hex.slice(i, i + width));
  return lines.join('\n');
}

/** `x86_64 · EIF v4`: an image's architecture and format version, read from its header. */
export function imageHeaderText(header: { readonly arch: string; readonly version: number }): string {
  return l10n.t('{0} · EIF v{1}', header.arch, header.version);
}
