// Loaded by the VS Code extension host (extensionTestsPath). The host awaits run(): resolving
// makes it exit 0, rejecting exits 1. The closing line `N passed, N failed` is what CI reads.
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

export function run(): Promise<void> {
  // Generous per test: the workbench, enclave hosts and builds share a busy 2-core machine. Tests
  // wait for states (util.ts `eventually`, whose deadline is shorter, so a failure names its state).
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 180_000, reporter: 'spec' });
  // `NITRO_DEV_TEST_GREP=pattern npm test -- vscode` runs the tests whose full title matches (while
  // working on them; CI runs them all).
  if (process.env.NITRO_DEV_TEST_GREP) mocha.grep(process.env.NITRO_DEV_TEST_GREP);
  for (const file of fs.readdirSync(__dirname).sort()) {
    if (file.endsWith('.test.js')) mocha.addFile(path.join(__dirname, file));
  }
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const passed = runner.stats?.passes ?? 0;
      console.log(`${passed} passed, ${failures} failed`);
      if (failures > 0) reject(new Error(`${failures} extension-host tests failed`));
      else if (passed === 0) reject(new Error('no extension-host test ran'));
      else resolve();
    });
  });
}
