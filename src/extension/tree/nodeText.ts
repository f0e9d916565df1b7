// The words of tree rows and tooltips that need no vscode API (unit-tested).
import type { DescribeEnclaveJson } from '../../engine';

/** `running · CID 16 · 2 CPUs · 512 MiB · debug mode`: the state in words first, then the rest. */
export function enclaveText(e: DescribeEnclaveJson): string {
  const parts = [
    (e.State as string).toLowerCase() || 'unknown',
    `CID ${e.EnclaveCID}`,
    `${e.NumberOfCPUs} CPU${e.NumberOfCPUs === 1 ? '' : 's'}`,
    `${e.MemoryMiB} MiB`,
  ];
  if (e.Flags === 'DEBUG_MODE') parts.push('debug mode');
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
  return `${header.arch} · EIF v${header.version}`;
}
