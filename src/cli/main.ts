// Entry point of the nitro-dev command (bundled to dist/cli.js).
import * as os from 'node:os';
import { Emitter } from '../engine';
import { EXIT_FAILURE, PROGRAM, runCli } from './cli';
import { COMMANDS } from './commands';

// The first Ctrl-C (SIGINT), SIGTERM or SIGHUP cancels the running command, which removes its
// temporary files and partial output and exits with 128 + the signal's number, the shells'
// convention (130, 143, 129); a second signal exits at once. Commands that do not take the
// cancellation (short ones, with nothing to clean up; see Command.cancellable) exit at once on the
// first signal.
const cancellable = COMMANDS.some((c) => c.name === process.argv[2] && c.cancellable === true);
const interrupted = new Emitter<unknown>();
const cancellation = { isCancellationRequested: false, onCancellationRequested: interrupted.event };
let stoppedBy: number | undefined;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  const status = 128 + os.constants.signals[signal];
  process.on(signal, () => {
    if (cancellation.isCancellationRequested || !cancellable) process.exit(status);
    stoppedBy = status;
    cancellation.isCancellationRequested = true;
    interrupted.fire(undefined);
  });
}

const io = {
  stdout: (text: string) => void process.stdout.write(text),
  stderr: (text: string) => void process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
  stderrIsTty: process.stderr.isTTY === true,
  cancellation,
  // Reads until the end, or stops once more than `limit` bytes have come (returning limit + 1).
  stdin: async (limit: number) => {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of process.stdin) {
      const part = (chunk as Buffer).subarray(0, limit + 1 - total);
      chunks.push(part);
      total += part.length;
      if (total > limit) break;
    }
    return new Uint8Array(Buffer.concat(chunks));
  },
};

runCli(process.argv.slice(2), io).then(
  (code) => {
    // A command stopped by a signal reports 130 (Ctrl-C); the status names the signal it was.
    process.exitCode = code === 130 && stoppedBy !== undefined ? stoppedBy : code;
  },
  (e: unknown) => {
    process.stderr.write(`${PROGRAM}: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = EXIT_FAILURE;
  },
);
