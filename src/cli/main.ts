// Entry point of the nitro-dev command (bundled to dist/cli.js).
import { Emitter } from '../engine';
import { EXIT_FAILURE, PROGRAM, runCli } from './cli';

// The first Ctrl-C cancels the running command, which cleans up and exits; a second one kills.
const interrupted = new Emitter<unknown>();
const cancellation = { isCancellationRequested: false, onCancellationRequested: interrupted.event };
process.on('SIGINT', () => {
  if (cancellation.isCancellationRequested) process.exit(130);
  cancellation.isCancellationRequested = true;
  interrupted.fire(undefined);
});

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
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`${PROGRAM}: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = EXIT_FAILURE;
  },
);
