// Shared by the benchmarks. Each benchmark is a script that calls `bench()` once; scripts/bench.mjs
// runs each in its own Node process (so memory figures are its own) and collects the JSON it prints.

export interface Figures {
  /** What was measured, with units in the key names (e.g. `throughputMiBps`, `peakRssMiB`). */
  readonly [key: string]: number | string | boolean | Figures;
}

/** The line prefix scripts/bench.mjs looks for. */
export const RESULT_MARKER = 'BENCH-RESULT ';

export function bench(name: string, run: () => Promise<Figures>): void {
  run().then(
    (figures) => {
      process.stdout.write(`${RESULT_MARKER}${JSON.stringify({ name, node: process.version, figures })}\n`);
    },
    (e: unknown) => {
      console.error(`${name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      process.exitCode = 1;
    },
  );
}

/** Samples resident memory every few milliseconds while `fn` runs; returns its result and the peak. */
export async function withPeakRss<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; peakRssBytes: number; baseRssBytes: number }> {
  (globalThis as { gc?: () => void }).gc?.();
  const baseRssBytes = process.memoryUsage.rss();
  let peakRssBytes = baseRssBytes;
  const timer = setInterval(() => {
    peakRssBytes = Math.max(peakRssBytes, process.memoryUsage.rss());
  }, 5);
  try {
    const result = await fn();
    peakRssBytes = Math.max(peakRssBytes, process.memoryUsage.rss());
    return { result, peakRssBytes, baseRssBytes };
  } finally {
    clearInterval(timer);
  }
}

export const MiB = 1024 * 1024;
export const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** The line prefix of bench/host/activationProbe.ts's report in the extension host's console. */
export const ACTIVATION_MARKER = 'NITRO-ACTIVATION ';
