// Loaded by the VS Code extension host (extensionTestsPath). The host awaits run(): resolving
// makes it exit 0, rejecting exits 1. The closing line `N passed, N failed` is what CI reads.
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 30_000, reporter: 'spec' });
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
