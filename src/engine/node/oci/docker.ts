// `docker save`: the reference nitro-cli would use, and the export to a temporary archive.
import { spawn } from 'node:child_process';
import { CancelledError, throwIfCancelled } from '../../platform/lifecycle';
import { show } from '../../oci/image';
import { ImageSourceError } from '../../oci/model';
import { errnoCode } from './store';
import type { OpenImageOptions } from './types';

/** Most stderr bytes of `docker save` kept for the message. */
const STDERR_KEEP = 16 * 1024;

/** `busybox` → `busybox:latest` (as nitro-cli does); references with a tag or digest are kept. */
export function dockerReference(uri: string): string {
  if (uri.includes('@')) return uri;
  const lastSlash = uri.lastIndexOf('/');
  return uri.slice(lastSlash + 1).includes(':') ? uri : `${uri}:latest`;
}

export async function runDockerSave(
  command: string,
  reference: string,
  output: string,
  options: OpenImageOptions,
): Promise<void> {
  throwIfCancelled(options.cancellation, 'docker save');
  options.log?.(`running ${command} save -o ${output} ${reference}`);
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    let settled = false;
    const child = spawn(command, ['save', '-o', output, reference], { stdio: ['ignore', 'ignore', 'pipe'] });
    const cancel = options.cancellation?.onCancellationRequested(() => child.kill('SIGTERM'));
    const done = (e?: Error) => {
      if (settled) return;
      settled = true;
      cancel?.dispose();
      if (e) reject(e);
      else resolve();
    };
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      stderr += s;
      if (stderr.length > STDERR_KEEP) stderr = stderr.slice(-STDERR_KEEP);
    });
    child.on('error', (e) => {
      if (errnoCode(e) === 'ENOENT') {
        done(
          new ImageSourceError(
            'docker-failed',
            `docker is not installed (no ${show(command)} command was found); ` +
              `export the image yourself and use --oci-layout <dir> or --image-archive <file.tar>`,
          ),
        );
      } else {
        done(new ImageSourceError('docker-failed', `${command} could not be started: ${e.message}`));
      }
    });
    child.on('close', (code, signal) => {
      if (options.cancellation?.isCancellationRequested) return done(new CancelledError('docker save'));
      if (code === 0) return done();
      const text = stderr.trim();
      const shown = text.length > 2000 ? `…${text.slice(-2000)}` : text;
      done(
        new ImageSourceError(
          'docker-failed',
          `${command} save ${reference} failed ` +
            `(${signal ? `killed by ${signal}` : `exit code ${code}`})${shown ? `: ${shown}` : ''}`,
        ),
      );
    });
  });
}
