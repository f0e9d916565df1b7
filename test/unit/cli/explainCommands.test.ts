import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { explainError } from '../../../src/engine';
import { repoPath } from '../repo';

const cli = repoPath('dist/cli.js');

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('(unit) nitro-dev explain', function () {
  this.timeout(120_000); // each test starts dist/cli.js

  it('prints the code, title, meaning and fix on stdout and exits 0 (E26, e26, 26, --error-code E26)', () => {
    const e26 = explainError('E26');
    assert.ok(e26);
    const outputs = [
      run('explain', 'E26'),
      run('explain', 'e26'),
      run('explain', '26'),
      run('explain', '--error-code', 'E26'),
    ];
    for (const r of outputs) {
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, /^\[ E26 \] Insufficient memory requested\n/);
      assert.ok(r.stdout.includes(e26.meaning), r.stdout);
      assert.ok(r.stdout.includes(`Fix: ${e26.fix}`), r.stdout);
      assert.ok(r.stdout.includes('cli-errors.html#E26'), r.stdout);
    }
    assert.equal(outputs[1]?.stdout, outputs[0]?.stdout);
    assert.equal(outputs[3]?.stdout, outputs[0]?.stdout);
  });

  it('pads a one-digit code (explain 7 is E07)', () => {
    const r = run('explain', '--error-code=7');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\[ E07 \] /);
  });

  it('exits 2 with the usage on an unknown or malformed code, a missing one, or both forms at once', () => {
    for (const args of [['E61'], ['E99'], ['banana'], ['--error-code', 'E1000'], []]) {
      const r = run('explain', ...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^error: /);
      assert.match(r.stderr, /Usage: nitro-dev explain/);
    }
    assert.match(run('explain', 'E61').stderr, /'E61' is not a nitro-cli error code: the codes are E00 to E60/);
    assert.match(run('explain', '--error-code', 'E26', 'E27').stderr, /cannot be used with/);
    assert.equal(run('explain', '--error-code', 'E26', 'E27').status, 2);
  });

  it('is listed in --help', () => {
    const r = run('--help');
    assert.match(r.stdout, /\n {2}explain +Explains a nitro-cli error code/);
  });
});
