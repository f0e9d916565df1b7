// The extension-host test tier: @vscode/test-electron's runTests, as on any VS Code project.
//   - default: vscodeExecutablePath is the project's code-shim (code-server + Chromium), which
//     needs no desktop VS Code and no download;
//   - VSCODE_TEST_EXECUTABLE=/path/to/code: a desktop VS Code you have;
//   - VSCODE_TEST_VERSION=stable|1.100.0|...: a desktop VS Code that test-electron downloads.
import { runTests } from '@vscode/test-electron';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from './codeServer.mjs';

const workspace = mkdtempSync(path.join(os.tmpdir(), 'nitro-test-workspace-'));
// The embedded emulator keeps its parents and enclaves here for this run only.
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'nitro-test-state-'));
process.env.NITRO_DEV_STATE_DIR = stateDir;

/** Enclave host processes of this run's emulator that are still alive (their records hold the pid). */
function enclaveHostsLeft() {
  const left = [];
  let files;
  try {
    files = readdirSync(path.join(stateDir, 'enclaves')).filter((f) => f.endsWith('.json'));
  } catch {
    return left;
  }
  for (const f of files) {
    try {
      const record = JSON.parse(readFileSync(path.join(stateDir, 'enclaves', f), 'utf8'));
      const pid = record.hostPid;
      if (!Number.isSafeInteger(pid) || pid <= 1) continue;
      try {
        process.kill(pid, 0);
        left.push({ enclaveId: record.enclaveId, pid });
      } catch {
        // The process is gone: nothing left to report.
      }
    } catch {
      // A record being written or removed right now: not a host left behind.
    }
  }
  return left;
}
// The whole run's deadline (runInCodeServer.mjs): each test has its own timeout, so this only stops a
// run that hangs. Generous, for a busy 2-core machine.
process.env.VSCODE_TEST_TIMEOUT_MS ??= String(30 * 60_000);
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
  console.error(`extension-host tests failed to run: ${e instanceof Error ? e.message : String(e)}`);
  code = 1;
} finally {
  const left = enclaveHostsLeft();
  for (const { enclaveId, pid } of left) {
    console.error(`enclave host process ${pid} (${enclaveId}) was left running after the tests; stopping it`);
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // It exited meanwhile.
      }
    }
  }
  if (left.length > 0) code = 1;
  rmSync(workspace, { recursive: true, force: true });
  rmSync(stateDir, { recursive: true, force: true });
}
process.exit(code);
