import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { README_SCREENSHOTS, SCREENSHOTS_DIR, updateScreenshots } from '../../../scripts/screenshots.mjs';
import { repoPath } from '../repo';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('(unit) scripts: the README shows the UI tier screenshots committed in docs/screenshots', () => {
  const names = README_SCREENSHOTS;

  it('shows each of them, and each is a committed PNG', () => {
    const readme = readFileSync(repoPath('README.md'), 'utf8');
    const shown = [...readme.matchAll(/!\[[^\]]+\]\(([^)]+)\)/g)].map((m) => m[1] as string);
    assert.deepEqual(
      shown.filter((s) => s.startsWith(`${SCREENSHOTS_DIR}/`)).map((s) => path.basename(s)),
      names,
      'the README shows README_SCREENSHOTS, in their order',
    );
    for (const name of names) {
      const file = repoPath(SCREENSHOTS_DIR, name);
      assert.ok(existsSync(file), `${file} is committed`);
      assert.ok(readFileSync(file).subarray(0, 8).equals(PNG_SIGNATURE), `${name} is a PNG`);
    }
  });

  it('copies only the screenshots whose bytes changed, and refuses when one was not taken', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'shots-'));
    try {
      const from = path.join(dir, 'from');
      const to = path.join(dir, 'to');
      assert.throws(() => updateScreenshots(from, to), /run npm run test:ui first/);
      mkdirSync(from);
      for (const n of names) writeFileSync(path.join(from, n), `${n} v1`);
      assert.deepEqual(updateScreenshots(from, to), names);
      assert.deepEqual(updateScreenshots(from, to), []);
      writeFileSync(path.join(from, names[0] as string), 'v2');
      assert.deepEqual(updateScreenshots(from, to), [names[0]]);
      assert.equal(readFileSync(path.join(to, names[0] as string), 'utf8'), 'v2');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
