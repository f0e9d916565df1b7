// run-enclave --attach-console of an enclave whose application exits at once: the enclave may end
// before the console is reached. Either way the command shows the application's output and succeeds
// (the console's history while it runs, else the console log the emulator kept).
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoPath } from '../repo';

describe('(unit) run-enclave --attach-console with an application that exits at once', function () {
  this.timeout(240_000);
  let state: string;
  before(() => (state = mkdtempSync(path.join(os.tmpdir(), 'nitro-attach-'))));
  after(() => {
    spawnSync(process.execPath, [repoPath('dist/cli.js'), 'terminate-enclave', '--all'], {
      env: { ...process.env, NITRO_DEV_STATE_DIR: state },
    });
    rmSync(state, { recursive: true, force: true });
  });

  it("shows the application's output and exits 0, whether or not the enclave ended first", () => {
    // /bin/echo exits within milliseconds: most runs end before the console connects.
    for (let i = 0; i < 4; i++) {
      const r = spawnSync(
        process.execPath,
        [
          repoPath('dist/cli.js'),
          'run-enclave',
          '--eif-path',
          repoPath('test/fixtures/eif/synthetic-v4-signed.eif'),
          '--memory',
          '128',
          '--cpu-count',
          '2',
          '--debug-mode',
          '--attach-console',
          '--app',
          `echo attached-output-${i}`,
        ],
        { encoding: 'utf8', env: { ...process.env, NITRO_DEV_STATE_DIR: state } },
      );
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`^attached-output-${i}$`, 'm'), r.stdout + r.stderr);
      assert.doesNotMatch(r.stderr, /\[ E\d\d \]/);
    }
  });
});
