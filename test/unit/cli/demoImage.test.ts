import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoPath } from '../repo';

describe('(unit) the demo workspace sample image', function () {
  this.timeout(120_000);

  it('is what scripts/demo/make-sample-eif.sh builds today, byte for byte (a reproducible build)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-demo-'));
    try {
      const out = path.join(dir, 'sample-app.eif');
      // The script's arguments, with the output redirected.
      const script = readFileSync(repoPath('scripts/demo/make-sample-eif.sh'), 'utf8');
      const args = script
        .slice(script.indexOf('build-enclave'))
        .replace(/\\\n/g, ' ')
        .split(/\s+/)
        .filter((a) => a !== '')
        .map((a) => (a === 'demo/images/sample-app.eif' ? out : a));
      const r = spawnSync(process.execPath, [repoPath('dist/cli.js'), ...args], { cwd: repoPath(), encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(
        readFileSync(out).equals(readFileSync(repoPath('demo/images/sample-app.eif'))),
        'rebuilt bytes equal the committed image',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
