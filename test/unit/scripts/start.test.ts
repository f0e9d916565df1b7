import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoPath } from '../repo';

/** True while any process of the group `pgid` is alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('(unit) scripts: npm start when code-server cannot be installed', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-start-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('prints why before it exits 1, and leaves no process behind', async function () {
    this.timeout(180000);
    // The install location lies below a file: the install fails at once, without the network.
    const blocker = path.join(dir, 'not-a-folder');
    writeFileSync(blocker, '');
    const csHome = path.join(blocker, 'code-server');
    const child = spawn(process.execPath, [repoPath('scripts/start.mjs')], {
      cwd: repoPath(),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        CS_HOME: csHome,
        NITRO_VSCODE_CACHE: path.join(dir, 'cache'),
        NITRO_START_PROFILE: path.join(dir, 'profile'),
      },
    });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    const pgid = child.pid as number;
    // The rebuild watcher was told to stop; wait until it has (the state, not a fixed time).
    for (let i = 0; i < 600 && groupAlive(pgid); i++) await new Promise((r) => setTimeout(r, 100));
    const survivors = groupAlive(pgid);
    if (survivors) process.kill(-pgid, 'SIGKILL');

    assert.equal(code, 1, stderr);
    assert.match(
      stderr,
      new RegExp(
        `npm start: installing code-server [\\d.]+ into ${csHome.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} failed \\(exit 1\\)`,
      ),
      stderr,
    );
    assert.equal(survivors, false, 'a process of npm start outlived it');
  });

  it('refuses a bad --port before it builds anything', async function () {
    this.timeout(60000);
    const child = spawn(process.execPath, [repoPath('scripts/start.mjs'), '--port', 'eighty'], {
      cwd: repoPath(),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CS_HOME: path.join(dir, 'cs'), NITRO_VSCODE_CACHE: path.join(dir, 'cache') },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    assert.equal(code, 1, out);
    assert.match(out, /npm start: --port takes a port number, not "eighty"/);
    assert.doesNotMatch(out, /build/);
  });
});
