// The extension-host test tier: @vscode/test-electron's runTests, as on any VS Code project.
//   - default: vscodeExecutablePath is the project's code-shim (code-server + Chromium), which
//     needs no desktop VS Code and no download;
//   - VSCODE_TEST_EXECUTABLE=/path/to/code: a desktop VS Code you have;
//   - VSCODE_TEST_VERSION=stable|1.100.0|...: a desktop VS Code that test-electron downloads.
import { runTests } from '@vscode/test-electron';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from './codeServer.mjs';

const workspace = mkdtempSync(path.join(os.tmpdir(), 'nitro-test-workspace-'));
const options = {
  extensionDevelopmentPath: ROOT,
  extensionTestsPath: path.join(ROOT, 'dist/test/vscode/index'),
  launchArgs: [workspace, '--disable-extensions'],
};
if (process.env.VSCODE_TEST_VERSION) options.version = process.env.VSCODE_TEST_VERSION;
else options.vscodeExecutablePath = process.env.VSCODE_TEST_EXECUTABLE || path.join(ROOT, 'scripts/vscode/code-shim');

let code;
try {
  code = await runTests(options);
} catch (e) {
  console.error(`extension-host tests failed to run: ${e instanceof Error ? e.message : e}`);
  code = 1;
} finally {
  rmSync(workspace, { recursive: true, force: true });
}
process.exit(code);
