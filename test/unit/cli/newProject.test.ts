// nitro-dev new, then the project's own README: build.sh (build-enclave --rootfs, no Docker), run-enclave on
// the emulator, attest, dev-root, verify-attestation against the image's PCRs; each command as the README
// writes it, run by sh with a `nitro-dev` on PATH that is this checkout's CLI.
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HELLO_LINE, helloProgram } from '../../../src/engine/imagebuild/scaffold';
import { normalizeRequest } from '../../../src/extension/imagebuild/buildRequest';
import { repoPath } from '../repo';

const cli = repoPath('dist/cli.js');

describe('nitro-dev new, then build, run, attest and verify as the new README says', function () {
  this.timeout(180_000);
  let t: string;
  let env: NodeJS.ProcessEnv;
  const nitroDev = (args: string[], cwd = t) =>
    spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', env });

  before(() => {
    t = mkdtempSync(path.join(os.tmpdir(), 'nitro-new-'));
    const bin = path.join(t, 'bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'nitro-dev'), `#!/bin/sh\nexec "${process.execPath}" "${cli}" "$@"\n`);
    chmodSync(path.join(bin, 'nitro-dev'), 0o755);
    env = { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}`, NITRO_DEV_STATE_DIR: path.join(t, 'state') };
    delete env['NITRO_CLI_BLOBS'];
  });
  after(() => {
    nitroDev(['terminate-enclave', '--all']);
    rmSync(t, { recursive: true, force: true });
  });

  it('scaffolds a project whose README commands all pass, ending on a valid attestation with the image PCRs', () => {
    const made = nitroDev(['new', 'hello-enclave']);
    assert.equal(made.status, 0, made.stderr);
    const project = path.join(t, 'hello-enclave');
    assert.equal(made.stdout.trim(), project);
    for (const f of ['README.md', '.vscode/tasks.json', 'build.sh', 'rootfs/app/hello', 'build/.gitignore'])
      assert.ok(existsSync(path.join(project, f)), f);
    assert.equal(statSync(path.join(project, 'rootfs/app/hello')).mode & 0o777, 0o755);

    const readme = readFileSync(path.join(project, 'README.md'), 'utf8');
    const block = /```sh\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, 'the README has a sh block');
    const lines = block
      .replace(/\\\n/g, ' ')
      .split('\n')
      .map((l) => l.replace(/\s+#.*$/, '').trim())
      .filter(Boolean);
    assert.deepEqual(
      lines.map((l) => (l.split(' ')[0] === './build.sh' ? 'build' : l.split(' ')[1])),
      ['build', 'run-enclave', 'attest', 'dev-root', 'verify-attestation', 'terminate-enclave'],
    );
    let buildOutput = '';
    for (const line of lines) {
      const r = spawnSync('sh', ['-c', line], { cwd: project, encoding: 'utf8', env });
      assert.equal(r.status, 0, `${line}\n${r.stdout}${r.stderr}`);
      if (line === './build.sh') buildOutput = r.stdout;
      if (line.includes('verify-attestation')) {
        assert.match(r.stdout, /VALID/);
        assert.match(r.stdout, /development attestation/);
        // The same check as JSON: the PCRs of the image matched.
        const json = spawnSync('sh', ['-c', `${line} --json`], { cwd: project, encoding: 'utf8', env });
        const report = JSON.parse(json.stdout) as { valid: boolean; checks: { code: string; status: string }[] };
        assert.equal(report.valid, true);
        assert.deepEqual(
          report.checks.filter((c) => c.code === 'pcrs.expected').map((c) => c.status),
          ['pass'],
        );
      }
    }
    const measured = JSON.parse(buildOutput) as { Measurements: Record<string, string> };
    assert.match(measured.Measurements['PCR2'] ?? '', /^[0-9a-f]{96}$/);

    // The task of tasks.json is a valid nitro-eif build of the same image.
    const tasks = JSON.parse(readFileSync(path.join(project, '.vscode/tasks.json'), 'utf8'));
    const request = normalizeRequest(tasks.tasks[0], project, {});
    assert.equal(request.rootfs, path.join(project, 'rootfs'));
    assert.equal(request.output, path.join(project, 'build', 'hello-enclave.eif'));
    // The task builds the same PCRs as build.sh.
    const again = nitroDev([
      'build-enclave',
      '--rootfs',
      request.rootfs,
      '--cmd',
      request.cmd as string,
      ...(request.env ?? []).flatMap((e) => ['--env', e]),
      '--blobs',
      request.blobs as string,
      '--arch',
      request.arch as string,
      '--output-file',
      path.join(t, 'again.eif'),
    ]);
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout).Measurements, measured.Measurements);
  });

  it('ships a static program that writes its line and keeps running (an enclave stops with it)', async () => {
    const arch = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : undefined;
    assert.ok(arch, `this test runs the program on x86_64 or aarch64, not ${process.arch}`);
    const program = path.join(t, `hello-${arch}`);
    writeFileSync(program, helloProgram(arch));
    chmodSync(program, 0o755);
    const child = spawn(program, [], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => reject(new Error(`the program ended (${code ?? signal}) after: ${out}`)));
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString('utf8');
        if (out === HELLO_LINE) resolve();
      });
    });
    assert.equal(child.exitCode, null, 'still running after its line');
    const ended = new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    child.kill('SIGTERM');
    assert.equal(await ended, 'SIGTERM');
  });

  it('refuses a folder that is not empty, a bad name and an unknown template, writing nothing', () => {
    const full = path.join(t, 'full');
    mkdirSync(full);
    writeFileSync(path.join(full, 'keep.txt'), 'x');
    const r = nitroDev(['new', 'full']);
    assert.equal(r.status, 19, r.stderr);
    assert.match(r.stderr, /\[ E19 \].*is not empty/);
    const bad = nitroDev(['new', 'x', '--name', '../evil']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /invalid project name/);
    const template = nitroDev(['new', 'y', '--template', 'rust']);
    assert.equal(template.status, 2);
    assert.match(template.stderr, /possible values: hello/);
    assert.equal(existsSync(path.join(t, 'x')), false);
    assert.equal(existsSync(path.join(t, 'y')), false);
  });
});
