import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CancelledError, Emitter } from '../../../../../src/engine/platform/lifecycle';
import {
  KEPT_LINES,
  LineTail,
  MAX_LINE,
  ToolStartError,
  commandLine,
  localToolRunner,
} from '../../../../../src/engine/node/qemu/commandRunner';

describe('(unit) QEMU setup: the command runner', function () {
  this.timeout(60_000);

  it('keeps the last 200 lines of stdout and stderr, cuts long lines, and returns the exit status', async () => {
    const seen: string[] = [];
    const r = await localToolRunner(
      { argv: ['sh', '-c', 'for i in $(seq 1 300); do echo out$i; done; echo err >&2; exit 3'] },
      { onLine: (l) => seen.push(l) },
    );
    assert.equal(r.status, 3);
    assert.equal(r.tail.length, KEPT_LINES);
    assert.equal(r.tail.at(-1), 'err');
    assert.equal(r.tail[0], 'out102');
    assert.equal(seen.length, 301);
    const tail = new LineTail(2);
    tail.push('a'.repeat(MAX_LINE + 10) + '\nb\r\nc');
    tail.end();
    assert.deepEqual(
      tail.kept.map((l) => l.length),
      [1, 1],
    );
    const long = new LineTail(5);
    long.push(`${'x'.repeat(MAX_LINE + 10)}\n`);
    assert.equal(long.kept[0], `${'x'.repeat(MAX_LINE)}...`);
  });

  it('runs in the given folder with the given environment; a missing program is a ToolStartError', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'runner-test-'));
    try {
      const r = await localToolRunner({
        argv: ['sh', '-c', 'pwd; echo $WHO'],
        cwd: dir,
        env: { PATH: process.env.PATH, WHO: 'me' },
      });
      assert.deepEqual(r.tail, [await fs.realpath(dir), 'me']);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
    await assert.rejects(localToolRunner({ argv: ['/nonexistent/program'] }), (e: unknown) => {
      assert.ok(e instanceof ToolStartError);
      assert.equal(e.message, '/nonexistent/program was not found');
      return true;
    });
  });

  it('cancelling kills the whole process group (what the program started too)', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'runner-test-'));
    try {
      const emitter = new Emitter<unknown>();
      let cancelled = false;
      const token = {
        get isCancellationRequested() {
          return cancelled;
        },
        onCancellationRequested: emitter.event,
      };
      const pidFile = path.join(dir, 'child.pid');
      const run = localToolRunner(
        { argv: ['sh', '-c', `sleep 1000 & echo $! > '${pidFile}'; echo started; wait`] },
        {
          cancellation: token,
          onLine: (l) => {
            if (l === 'started') {
              cancelled = true;
              emitter.fire(undefined);
            }
          },
        },
      );
      await assert.rejects(run, CancelledError);
      const pid = Number((await fs.readFile(pidFile, 'utf8')).trim());
      for (;;) {
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('shows a command line as a shell would read it', () => {
    assert.equal(commandLine(['ninja', '-j2', 'a b', "it's"]), `ninja -j2 'a b' 'it'\\''s'`);
  });
});
