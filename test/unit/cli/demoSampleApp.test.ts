import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { splitCommandLine } from '../../../src/cli/enclaveCommands';
import { repoPath } from '../repo';

/** The `nitro-dev` commands of the first bash block of a README, continuation lines joined, comments dropped. */
function documentedCommands(readme: string): string[][] {
  const block = /```bash\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'the README has a bash block');
  return block
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line.startsWith('nitro-dev '))
    .map((line) => splitCommandLine(line).slice(1));
}

describe('(unit) the demo sample application, run as demo/sample-app/README.md says', function () {
  this.timeout(120_000);
  let state: string;
  before(() => (state = mkdtempSync(path.join(os.tmpdir(), 'nitro-demo-app-'))));
  after(() => {
    spawnSync(process.execPath, [repoPath('dist/cli.js'), 'terminate-enclave', '--all'], {
      env: { ...process.env, NITRO_DEV_STATE_DIR: state },
    });
    rmSync(state, { recursive: true, force: true });
  });

  it("shows the application's output, and no command fails (no E58 for an enclave that ended)", () => {
    const commands = documentedCommands(readFileSync(repoPath('demo/sample-app/README.md'), 'utf8'));
    assert.ok(
      commands.some((c) => c[0] === 'run-enclave' && c.includes('--app')),
      'the README runs the app',
    );
    let output = '';
    for (const args of commands) {
      const r = spawnSync(process.execPath, [repoPath('dist/cli.js'), ...args], {
        cwd: repoPath('demo'),
        encoding: 'utf8',
        env: { ...process.env, NITRO_DEV_STATE_DIR: state },
      });
      output += r.stdout + r.stderr;
      assert.equal(r.status, 0, `nitro-dev ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    }
    assert.match(output, /enclave i-[0-9a-f]{17}-enc[0-9a-f]{16}: NSM replied [0-9a-f]+/);
    assert.doesNotMatch(output, /\[ E\d\d \]/);
    // What the README says about the log: kept in the state folder's enclaves/<enclave id>.console.log.
    const logs = readdirSync(path.join(state, 'enclaves')).filter((f) => f.endsWith('.console.log'));
    assert.equal(logs.length, 1, logs.join(', '));
    assert.match(readFileSync(path.join(state, 'enclaves', logs[0] as string), 'utf8'), /NSM replied/);
  });
});
