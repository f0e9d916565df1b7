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
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
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
