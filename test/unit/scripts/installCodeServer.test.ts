import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findNodeHeaders } from '../../../scripts/vscode/nodeHeaders.mjs';
import { repoPath } from '../repo';

/** Writes an executable shell script. */
function script(file: string, body: string): void {
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
}

describe('(unit) scripts: install-code-server.sh on a fresh home folder', () => {
  let dir: string;
  let bin: string;
  let home: string;
  let npmLog: string;
  let prefix: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-install-cs-'));
    bin = path.join(dir, 'bin');
    home = path.join(dir, 'home');
    npmLog = path.join(dir, 'npm.log');
    prefix = path.join(dir, 'cs');
    mkdirSync(bin);
    mkdirSync(home);
    // The user's npm configuration names headers that do not exist: the install must not use them.
    writeFileSync(path.join(home, '.npmrc'), 'nodedir=/nonexistent/node-headers\n');
    // The build tools are "installed" (so the script never calls apt-get here); npm is a fake that
    // records what it was asked with which settings, and installs a code-server that answers --version.
    for (const tool of ['make', 'g++', 'python3', 'dpkg']) script(path.join(bin, tool), 'exit 0');
    script(
      path.join(bin, 'npm'),
      [
        'echo "$* | nodedir=${npm_config_nodedir-} | from_source=${npm_config_build_from_source-}" >> "$FAKE_NPM_LOG"',
        'if [ "$1" = install ]; then',
        '  mkdir -p node_modules/.bin',
        '  printf "#!/bin/sh\\necho 4.100.3\\n" > node_modules/.bin/code-server',
        '  chmod +x node_modules/.bin/code-server',
        'fi',
        '[ "$1" != pack ]',
      ].join('\n'),
    );
    // ripgrep's archive is already seeded (the seeding itself needs the registry).
    const rgCache = path.join(dir, 'tmp/vscode-ripgrep-cache-1.15.11');
    mkdirSync(rgCache, { recursive: true });
    writeFileSync(path.join(rgCache, 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz'), '');
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const install = () =>
    spawnSync('bash', [repoPath('scripts/vscode/install-code-server.sh'), prefix], {
      encoding: 'utf8',
      env: {
        PATH: `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin`,
        HOME: home,
        TMPDIR: path.join(dir, 'tmp'),
        FAKE_NPM_LOG: npmLog,
      },
    });

  it('points node-gyp at the running Node’s headers, not at ~/.npmrc nor a download', function () {
    this.timeout(60000);
    const expected = findNodeHeaders().nodedir;
    assert.ok(expected, 'this machine has the running Node’s headers');
    const r = install();
    assert.equal(r.status, 0, r.stderr);
    const calls = readFileSync(npmLog, 'utf8').trim().split('\n');
    assert.ok(calls.length >= 2, calls.join('\n'));
    for (const call of calls) assert.match(call, new RegExp(` \\| nodedir=${expected} \\| `), call);
    assert.ok(existsSync(path.join(prefix, '.ok')));
  });

  it('compiles the modules that would try GitHub for a prebuilt binary from source instead', function () {
    this.timeout(60000);
    const r = install();
    assert.equal(r.status, 0, r.stderr);
    const calls = readFileSync(npmLog, 'utf8');
    assert.match(calls, /^install --ignore-scripts code-server@4\.100\.3 \|/m);
    assert.match(calls, /^rebuild argon2 \| .* \| from_source=argon2$/m);
    assert.match(calls, /^rebuild code-server \| .* \| from_source=kerberos$/m);
  });

  it('shows its progress in numbered steps and the time it took', function () {
    this.timeout(60000);
    const r = install();
    assert.equal(r.status, 0, r.stderr);
    const steps = r.stderr.split('\n').filter((l) => /^\[\d\/3\]/.test(l));
    assert.deepEqual(
      steps.map((l) => l.slice(0, 5)),
      ['[1/3]', '[2/3]', '[3/3]'],
      r.stderr,
    );
    assert.match(steps[0] ?? '', /downloading code-server 4\.100\.3 from the npm registry/);
    assert.match(steps[1] ?? '', /compiling native modules/);
    assert.match(r.stderr, /^code-server 4\.100\.3 installed in \d+ s\.$/m);
  });

  it('does nothing once installed', function () {
    this.timeout(60000);
    assert.equal(install().status, 0);
    rmSync(npmLog);
    const again = install();
    assert.equal(again.status, 0, again.stderr);
    assert.equal(existsSync(npmLog), false);
  });
});
